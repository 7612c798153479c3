"""Watched folders of exports: each new file becomes one run's messages, exactly once across
restarts."""
