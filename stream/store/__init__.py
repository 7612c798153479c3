"""The embedded store: crash-safe SQLite archive of runs, its row codecs and queries."""
