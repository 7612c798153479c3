"""Run a slow model on every n-th message only (the non-parametric size distribution, say)."""

from __future__ import annotations

from typing import Any

from synthwatch.models.base import Model, Wrapper


class Every(Wrapper, Model):
    """Runs ``model`` on every ``every``-th message only (for models too slow for each one).

    Messages in between are not passed on; ``estimate`` is None after them, so a slow model
    (the non-parametric size distribution, say) publishes once a minute instead of every
    2 seconds. Counting starts with the first message, which is always passed on.

    >>> class Count(Model):
    ...     name, version = "count", "1"
    ...     def __init__(self):
    ...         self._n = 0
    ...     def update(self, message) -> None:
    ...         self._n += 1
    ...     @property
    ...     def estimate(self):
    ...         return self._n
    >>> slow = Every(Count(), every=3)
    >>> out = []
    >>> for k in range(7):
    ...     slow.update(k)
    ...     out.append(slow.estimate)
    >>> out
    [1, None, None, 2, None, None, 3]
    """

    def __init__(self, model: Model, every: int = 1):
        if every < 1:
            raise ValueError(f"every: expected an integer >= 1, got {every}")
        self.model = model
        self.every = every
        self._k = 0
        self._fresh = False

    def update(self, message: Any) -> None:
        self._fresh = self._k % self.every == 0
        self._k += 1
        if self._fresh:
            self.model.update(message)

    def clone(self) -> Model:
        return Every(self.model.clone(), self.every)

    @classmethod
    def _unit_test_params(cls) -> dict[str, Any]:
        from synthwatch.models.alerts.quality import FlaggedFrames

        return {"model": FlaggedFrames(), "every": 2}
