"""Sinks: where messages land besides the store (InfluxDB, webhooks)."""
