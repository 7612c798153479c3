"""Thresholds and timings of the Grafana alert rules (no Grafana SDK here: the CLI reads the
defaults without loading it).

>>> RuleSettings(size_min_nm=12, size_max_nm=18).size_max_nm
18
>>> RuleSettings(interval="often")
Traceback (most recent call last):
ValueError: interval: expected a duration such as 30s, 1m or 1h, got 'often'
"""

from __future__ import annotations

from dataclasses import dataclass

from synthwatch.dashboards.queries.layout import DEFAULT_BUCKET


def duration_s(text: str, name: str = "interval") -> int:
    """``"5m"`` → 300; ``s``, ``m`` or ``h`` after a whole number."""
    units = {"s": 1, "m": 60, "h": 3600}
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit():
        raise ValueError(f"{name}: expected a duration such as 30s, 1m or 1h, got {text!r}")
    return int(text[:-1]) * units[text[-1]]


@dataclass(frozen=True)
class RuleSettings:
    """Thresholds and timings of the rules (defaults: a citrate gold synthesis)."""

    size_min_nm: float = 5.0
    size_max_nm: float = 60.0
    size_for: str = "5m"
    stale_window_s: int = 300
    stale_lookback_s: int = 3600
    stale_for: str = "5m"
    engine_lookback_s: int = 48 * 3600
    interval: str = "1m"
    bucket: str = DEFAULT_BUCKET

    def __post_init__(self) -> None:
        if not 0 < self.size_min_nm < self.size_max_nm:
            raise ValueError(
                f"size spec: expected 0 < size_min_nm < size_max_nm, "
                f"got {self.size_min_nm} and {self.size_max_nm}"
            )
        if not 60 <= self.stale_window_s < self.stale_lookback_s:
            raise ValueError(
                f"stale_window_s: expected 60 <= value < stale_lookback_s "
                f"({self.stale_lookback_s}), got {self.stale_window_s}"
            )
        for name in ("size_for", "stale_for", "interval"):
            duration_s(getattr(self, name), name)
        if not self.bucket or any(c in self.bucket for c in '"\n'):
            raise ValueError(f"bucket: expected a bucket or database name, got {self.bucket!r}")
