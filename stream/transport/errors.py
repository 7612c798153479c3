"""The Kafka transport's error, importable without importing kafka-python (the CLI catches it)."""

from synthwatch.contract.errors import FAILURE, SynthwatchError


class KafkaTransportError(SynthwatchError, RuntimeError):
    """The broker refused or could not take what was sent; the message says which and why."""

    exit_code = FAILURE
