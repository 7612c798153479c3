"""The bottom layer: the message contract, the configuration schema and the errors.

It depends on nothing else of synthwatch; every other package builds on it.
"""
