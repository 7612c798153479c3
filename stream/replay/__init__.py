"""Replay recorded runs (store, folders, Kafka) and compare runs."""
