"""Self-contained HTML reports: a run, runs compared."""
