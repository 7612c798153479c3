"""The demo's live terminal view (rich): run clock, latest estimates, alerts, progress."""

from __future__ import annotations

import time
from datetime import datetime

from rich.console import Group
from rich.panel import Panel
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from synthwatch.contract.messages import Alert, Estimate, Message, Reading, RunStart

#: (quantity name, label, format) shown in the live view and by `synthwatch show`
FEATURE_COLUMNS = (
    ("lambda_spr_nm", "λ_SPR nm", "{:.1f}"),
    ("fwhm_nm", "FWHM nm", "{:.1f}"),
    ("a_spr_au", "A_SPR", "{:.3f}"),
    ("a_400_au", "A_400", "{:.3f}"),
    ("au0_mM", "Au(0) mM", "{:.3f}"),
    ("d_haiss_nm", "d Haiss nm", "{:.1f}"),
)

#: columns of the size-distribution estimates (measurement ``psd``)
PSD_COLUMNS = (
    ("d_mean_nm", "d mean nm", "{:.1f}"),
    ("gsd", "gsd", "{:.3f}"),
    ("number_per_ml", "N per mL", "{:.3g}"),
    ("rel_rms_residual", "rel. residual", "{:.3f}"),
)


#: columns of the impedance circuit fits (measurement ``impedance_fit``)
IMPEDANCE_COLUMNS = (
    ("r_s_ohm", "R_s Ω", "{:.0f}"),
    ("r_ct_ohm", "R_ct Ω", "{:.0f}"),
    ("cpe_q_s_alpha", "Q S·s^α", "{:.3g}"),
    ("cpe_alpha", "α", "{:.3f}"),
    ("conductivity_s_per_m", "κ S/m", "{:.4g}"),
    ("circuit_index", "circuit", "{:.0f}"),
    ("kk_max_residual", "KK max res.", "{:.3f}"),
)

#: columns of the size calibration's predictions and of its label scores (``calibration``)
CALIBRATION_COLUMNS = (
    ("d_mean_nm_pred", "d predicted nm", "{:.1f}"),
    ("n_labels", "labels learned", "{:.0f}"),
)
LABEL_COLUMNS = (
    ("pv_abs_error", "|error| nm", "{:.1f}"),
    ("pv_mae", "PV MAE nm", "{:.1f}"),
    ("naive_mae", "naive MAE nm", "{:.1f}"),
    ("n_labels", "labels", "{:.0f}"),
)

#: Flags that inform rather than disqualify a frame.
INFO_FLAGS = frozenset(
    {
        "haiss_not_applicable",
        "haiss_out_of_range",
        "missing_interpolated",
        "missing_points_dropped",
    }
)


def is_clean(est: Estimate) -> bool:
    """No flag beyond the informational ones."""
    return not set(est.flags) - INFO_FLAGS


def fmt_elapsed(seconds: float) -> str:
    """``3725`` → ``01:02:05``."""
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def fmt_quantity(est: Estimate | None, name: str, fmt: str) -> str:
    if est is None:
        return "–"
    try:
        q = est.get(name)
    except KeyError:
        return "–"
    if q.value is None:
        return "–"
    text = fmt.format(q.value)
    if q.uncertainty is not None:
        text += " ± " + fmt.format(q.uncertainty)
    return text


class LiveView:
    """Keeps the latest state of the demo run and renders it for ``rich.live.Live``."""

    def __init__(self, duration_s: float, speed: float):
        self.duration_s = duration_s
        self.speed = speed
        self.run: RunStart | None = None
        self.t_start: datetime | None = None
        self.t_now: datetime | None = None
        self.readings = 0
        self.flagged = 0
        self.alerts_total = 0
        self.firing: dict[str, Alert] = {}
        self.latest: Estimate | None = None
        self.latest_clean: Estimate | None = None
        self.latest_psd: Estimate | None = None
        self.shape_flags: tuple[str, ...] = ()
        self.latest_fit: Estimate | None = None
        self.latest_fit_clean: Estimate | None = None
        self.latest_prediction: Estimate | None = None
        self.latest_score: Estimate | None = None
        self._wall0 = time.monotonic()
        self._progress = Progress(
            TextColumn("simulated"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeRemainingColumn(),
        )
        self._task = self._progress.add_task("run", total=duration_s)

    def on_input(self, msg: Message) -> None:
        if isinstance(msg, RunStart):
            self.run, self.t_start = msg, msg.t
        if isinstance(msg, Reading):
            self.readings += 1
        self.t_now = msg.t
        if self.t_start is not None:
            done = (msg.t - self.t_start).total_seconds()
            self._progress.update(self._task, completed=min(done, self.duration_s))

    def on_output(self, msg: Message) -> None:
        if isinstance(msg, Estimate) and msg.model == "psd_lognormal":
            self.latest_psd = msg
        elif isinstance(msg, Estimate) and msg.model == "uvvis_shape":
            self.shape_flags = tuple(
                f for f in msg.flags if f in ("rods_detected", "aggregation_suspected")
            )
        elif isinstance(msg, Estimate) and msg.measurement == "impedance_fit":
            self.latest_fit = msg
            if is_clean(msg):
                self.latest_fit_clean = msg
            else:
                self.flagged += 1
        elif isinstance(msg, Estimate) and msg.measurement == "calibration":
            if any(q.name == "pv_mae" for q in msg.quantities):
                self.latest_score = msg
            elif not msg.flags:
                self.latest_prediction = msg
        elif isinstance(msg, Estimate) and msg.measurement == "uvvis_features":
            self.latest = msg
            if is_clean(msg):
                self.latest_clean = msg
            else:
                self.flagged += 1
        elif isinstance(msg, Alert):
            self.alerts_total += 1
            if msg.state == "firing":
                self.firing[msg.rule] = msg
            else:
                self.firing.pop(msg.rule, None)

    @property
    def elapsed_s(self) -> float:
        if self.t_start is None or self.t_now is None:
            return 0.0
        return (self.t_now - self.t_start).total_seconds()

    def __rich__(self) -> Group:
        head = Table.grid(padding=(0, 2))
        head.add_column(style="bold")
        head.add_column()
        run = self.run
        head.add_row("run", f"{run.run_id}  ({run.system}, reactor {run.reactor})" if run else "–")
        wall = time.monotonic() - self._wall0
        head.add_row(
            "run clock",
            f"{fmt_elapsed(self.elapsed_s)} of {fmt_elapsed(self.duration_s)} simulated"
            f"   ({fmt_elapsed(wall)} wall)",
        )
        head.add_row("readings", f"{self.readings}  ({self.flagged} with quality flags)")
        firing = ", ".join(sorted(self.firing)) or "none firing"
        head.add_row("alerts", f"{self.alerts_total} state changes; {firing}")

        parts: list = [head]
        if self.latest_fit is not None:
            parts += self._impedance_parts()
        else:
            est = Table(title="latest estimate (last clean frame)", expand=False)
            for _, label, _ in FEATURE_COLUMNS:
                est.add_column(label, justify="right")
            est.add_row(*(fmt_quantity(self.latest_clean, n, f) for n, _, f in FEATURE_COLUMNS))
            parts.append(est)
        if self.latest_psd is not None:
            psd = Table(title="size distribution (lognormal fit)", expand=False)
            for _, label, _ in PSD_COLUMNS:
                psd.add_column(label, justify="right")
            psd.add_row(*(fmt_quantity(self.latest_psd, n, f) for n, _, f in PSD_COLUMNS))
            parts.append(psd)
            if self.latest_psd.flags:
                parts.append(f"[yellow]size fit flagged: {', '.join(self.latest_psd.flags)}[/]")
        if self.shape_flags:
            parts.append(f"[red]shape: {', '.join(self.shape_flags)}[/]")
        if self.latest is not None and not is_clean(self.latest):
            parts.append(f"[yellow]last frame flagged: {', '.join(self.latest.flags)}[/]")
        if self.speed == 0 or self.speed > 1:
            parts.append(self._progress)
        return Group(Panel(Group(*parts), title="synthwatch demo", expand=False))

    def _impedance_parts(self) -> list:
        """Tables of the impedance channel: circuit fit, calibrated size, label scores."""
        fit = Table(title="equivalent circuit (last valid sweep)", expand=False)
        for _, label, _ in IMPEDANCE_COLUMNS:
            fit.add_column(label, justify="right")
        fit.add_row(*(fmt_quantity(self.latest_fit_clean, n, f) for n, _, f in IMPEDANCE_COLUMNS))
        cal = Table(title="size calibrated on delayed labels", expand=False)
        for _, label, _ in CALIBRATION_COLUMNS + LABEL_COLUMNS[:3]:
            cal.add_column(label, justify="right")
        cal.add_row(
            *(fmt_quantity(self.latest_prediction, n, f) for n, _, f in CALIBRATION_COLUMNS),
            *(fmt_quantity(self.latest_score, n, f) for n, _, f in LABEL_COLUMNS[:3]),
        )
        parts: list = [fit, cal]
        if self.latest_fit is not None and not is_clean(self.latest_fit):
            parts.append(f"[yellow]last sweep flagged: {', '.join(self.latest_fit.flags)}[/]")
        return parts
