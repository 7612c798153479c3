"""The Kafka transport's error, importable without importing kafka-python (the CLI catches it)."""


class KafkaTransportError(RuntimeError):
    """The broker refused or could not take what was sent; the message says which and why."""
