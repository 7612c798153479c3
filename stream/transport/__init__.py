"""Transports: how encoded messages move (in memory, Kafka topics)."""
