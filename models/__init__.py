"""What is estimated: pure models (no I/O, no clocks, no network)."""
