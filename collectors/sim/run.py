"""What the seeded simulators share: the run's arguments, its RunStart and its RunStop.

:class:`SimulatedRun` is the mixin of :class:`~synthwatch.collectors.sim.gold.GoldCitrateSimulator`
(UV-Vis) and :class:`~synthwatch.collectors.sim.stober.StoberSimulator` (impedance): the seed,
times and identity of the run are checked and kept the same way, and both open and close the run
with the same messages (``operator="simulator"``, tags naming the simulator and the seed).

>>> from datetime import datetime, timezone
>>> class Toy(SimulatedRun):
...     system = "Au-citrate"
...     run_id_prefix = "sim-toy"
...     def __init__(self, seed=0):
...         start = datetime(2026, 1, 1, tzinfo=timezone.utc)
...         self._check_run(seed, 60.0, 2.0, start)
...         self._set_run(seed, 60.0, 2.0, None, "R1", start)
...     def recipe(self):
...         return {"T_degC": 100.0}
>>> toy = Toy(seed=3)
>>> toy.run_id, toy.n_readings, toy.run_start().tags["simulator"], toy.run_stop().t.second
('sim-toy-s3', 30, 'Toy', 0)
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import numpy as np

from synthwatch.contract.messages import RunStart, RunStop

__all__ = ["SimulatedRun"]


class SimulatedRun:
    """The run of a seeded simulator: ``seed``, ``duration_s``, ``interval_s``, ``run_id``
    (``<run_id_prefix>-s<seed>`` unless given), ``reactor``, ``start`` (UTC) and ``n_readings``.

    A subclass sets ``system`` and ``run_id_prefix``, and gives ``recipe()``; ``_run_tags()``
    adds its own tags to the RunStart's.
    """

    system: str
    run_id_prefix: str

    @staticmethod
    def _check_run(seed: int, duration_s: float, interval_s: float, start: datetime) -> None:
        """ValueError for a seed that is not an integer >= 0, times out of order, a naive start."""
        if not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed: expected an integer >= 0, got {seed!r}")
        if not (duration_s > 0 and 0 < interval_s <= duration_s):
            raise ValueError("expected duration_s > 0 and 0 < interval_s <= duration_s")
        if start.tzinfo is None:
            raise ValueError("start: expected a timezone-aware datetime (UTC)")

    def _set_run(
        self,
        seed: int,
        duration_s: float,
        interval_s: float,
        run_id: str | None,
        reactor: str,
        start: datetime,
    ) -> None:
        self.seed = int(seed)
        self.duration_s = float(duration_s)
        self.interval_s = float(interval_s)
        self.run_id = run_id if run_id is not None else f"{self.run_id_prefix}-s{self.seed}"
        self.reactor = reactor
        self.start = start.astimezone(timezone.utc)
        self.n_readings = int(math.floor(self.duration_s / self.interval_s + 1e-9))

    def recipe(self) -> dict[str, float]:  # pragma: no cover - interface
        """The recipe parameters of the RunStart."""
        raise NotImplementedError

    def _run_tags(self) -> dict[str, str]:
        """Tags of the RunStart besides the source, the simulator and the seed."""
        return {}

    def run_start(self) -> RunStart:
        """The RunStart message of the run."""
        return RunStart(
            run_id=self.run_id,
            t=self.start,
            reactor=self.reactor,
            system=self.system,
            recipe=self.recipe(),
            operator="simulator",
            tags={
                "source": "simulator",
                "simulator": type(self).__name__,
                "seed": str(self.seed),
                **self._run_tags(),
            },
        )

    def run_stop(self) -> RunStop:
        """The RunStop message of the run, ``duration_s`` after its start."""
        return RunStop(
            run_id=self.run_id,
            t=self.start + timedelta(seconds=self.duration_s),
            status="success",
            reason="simulation finished",
        )
