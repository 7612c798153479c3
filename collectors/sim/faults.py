"""Faults injected into a simulated run's messages, and a temperature probe to go with it.

Each function takes a run's message stream (RunStart, Descriptors, Readings, RunStop in time
order) and returns a new one with the fault in it. The result is seeded, so the same call gives
the same stream. The benchmarks use them to measure how quickly the alert engine notices each
fault (benchmarks/bench_alerts.py).

* :func:`with_temperature`: adds a scalar temperature probe (Descriptor and readings) at
  ``setpoint_degC`` with noise and a slow wander, plus an optional offset from ``offset_from_s``
  (a bath running 3 degC hot).
* :func:`stall`: a sensor's readings stop at ``from_s`` (a frozen driver, a pulled cable).
* :func:`lamp_decay`: the spectrometer's lamp fades with time constant ``tau_s`` from
  ``from_s``. The reference intensity I falls as exp(-t/tau), and shot noise grows as I^-1/2,
  so the absorbance noise grows by that factor.
* :func:`bubble_burst`: bubbles on the impedance cell's electrodes for ``duration_s`` from
  ``from_s``. Each sweep has a random block of frequencies whose impedance jumps by 1.5-3x
  part-way through the sweep, which no causal circuit produces (it fails Kramers-Kronig).

>>> from synthwatch.collectors.sim.gold import GoldCitrateSimulator
>>> msgs = list(GoldCitrateSimulator(seed=0, duration_s=600, interval_s=60).messages())
>>> out = list(with_temperature(stall(msgs, "uv1", from_s=300), setpoint_degC=100.0,
...                             interval_s=60))
>>> sum(type(m).__name__ == "Reading" and m.sensor_id == "uv1" for m in out)
5
>>> sum(type(m).__name__ == "Reading" and m.sensor_id == "T1" for m in out)
10
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Iterator
from datetime import timedelta

import numpy as np

from synthwatch.contract.messages import Descriptor, Reading, RunStart, RunStop

__all__ = ["with_temperature", "stall", "lamp_decay", "bubble_burst"]


def _start(messages: list) -> RunStart:
    start = next((m for m in messages if isinstance(m, RunStart)), None)
    if start is None:
        raise ValueError("messages: expected a run with a RunStart first")
    return start


def _rng(seed: int, name: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def with_temperature(
    messages: Iterable,
    setpoint_degC: float = 100.0,
    interval_s: float = 10.0,
    noise_degC: float = 0.05,
    wander_degC: float = 0.3,
    offset_degC: float = 0.0,
    offset_from_s: float = 0.0,
    sensor_id: str = "T1",
    seed: int = 0,
) -> Iterator:
    """The run with a temperature probe's Descriptor and readings merged in by time."""
    msgs = list(messages)
    start = _start(msgs)
    stop = next((m for m in msgs if isinstance(m, RunStop)), None)
    end_t = stop.t if stop is not None else max(m.t for m in msgs)
    duration = (end_t - start.t).total_seconds()
    n = int(duration // interval_s)
    rng = _rng(seed, "temperature")
    t_s = np.arange(n) * interval_s
    # a slow wander (a thermostat's few-tenths cycling) plus white noise
    period = rng.uniform(1200.0, 3600.0)
    wander = wander_degC * np.sin(2 * np.pi * t_s / period + rng.uniform(0, 2 * np.pi))
    values = setpoint_degC + wander + rng.normal(0.0, noise_degC, n)
    values[t_s >= offset_from_s] += offset_degC
    probe = [
        Descriptor(
            run_id=start.run_id,
            t=start.t,
            sensor_id=sensor_id,
            kind="scalar",
            axis=[],
            value_units="degC",
            quantity="temperature",
            expected_interval_s=interval_s,
        )
    ]
    probe += [
        Reading(
            run_id=start.run_id,
            t=start.t + timedelta(seconds=float(t)),
            sensor_id=sensor_id,
            seq=k,
            values=[float(v)],
        )
        for k, (t, v) in enumerate(zip(t_s, values))
    ]
    body = [m for m in msgs if not isinstance(m, (RunStart, RunStop))]
    merged = sorted(body + probe, key=lambda m: (m.t, not isinstance(m, Descriptor)))
    yield start
    yield from merged
    if stop is not None:
        yield stop


def stall(messages: Iterable, sensor_id: str, from_s: float) -> Iterator:
    """The run without ``sensor_id``'s readings from ``from_s`` on."""
    msgs = list(messages)
    t0 = _start(msgs).t
    for m in msgs:
        if (
            isinstance(m, Reading)
            and m.sensor_id == sensor_id
            and (m.t - t0).total_seconds() >= from_s
        ):
            continue
        yield m


def lamp_decay(
    messages: Iterable,
    sensor_id: str,
    from_s: float,
    tau_s: float = 7200.0,
    noise_au: float = 0.002,
    seed: int = 0,
) -> Iterator:
    """The run with ``sensor_id``'s absorbance noise growing as the lamp fades (see above)."""
    msgs = list(messages)
    t0 = _start(msgs).t
    rng = _rng(seed, "lamp")
    for m in msgs:
        if isinstance(m, Reading) and m.sensor_id == sensor_id:
            dt = (m.t - t0).total_seconds() - from_s
            if dt > 0:
                extra = noise_au * (math.exp(dt / (2.0 * tau_s)) - 1.0)
                y = np.asarray(m.values, dtype=float)
                y = y + rng.normal(0.0, extra, y.size)
                m = m.model_copy(update={"values": [float(v) for v in y]})
        yield m


def bubble_burst(
    messages: Iterable,
    sensor_id: str,
    from_s: float,
    duration_s: float = 900.0,
    seed: int = 0,
) -> Iterator:
    """The run with bubbles on ``sensor_id``'s electrodes during the burst (see above)."""
    msgs = list(messages)
    t0 = _start(msgs).t
    rng = _rng(seed, "bubbles")
    for m in msgs:
        if isinstance(m, Reading) and m.sensor_id == sensor_id and m.values_imag is not None:
            dt = (m.t - t0).total_seconds() - from_s
            if 0 <= dt < duration_s:
                n = len(m.values)
                lo = int(rng.integers(0, n // 2))
                hi = int(rng.integers(lo + n // 6, n))
                factor = np.ones(n)
                factor[lo:hi] = rng.uniform(1.5, 3.0)
                re = np.asarray(m.values, dtype=float) * factor
                im = np.asarray(m.values_imag, dtype=float) * factor
                m = m.model_copy(
                    update={"values": [float(v) for v in re], "values_imag": [float(v) for v in im]}
                )
        yield m
