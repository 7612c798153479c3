"""The runtime: the worker that runs the models per run, checkpoints, the embedded pipeline."""
