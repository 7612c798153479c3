"""The bottom layer: the message contract, the configuration schema and the errors; imports nothing
else of synthwatch."""
