"""The ``synthwatch`` command line: one module per command."""
