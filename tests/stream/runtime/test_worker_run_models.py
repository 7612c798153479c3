"""Run-level models in the worker: fed the run's estimates and its delayed Labels."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from worker_doubles import Echo, ListSink

from synthwatch.contract import messages as c
from synthwatch.models.base import Model
from synthwatch.stream.runtime.pipeline import run_embedded
from synthwatch.stream.runtime.registry import ModelRegistry, ModelSet
from synthwatch.stream.runtime.worker import Worker

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)


class Recorder(Model):
    """Run-level: remembers what it was fed, answers each Label with an estimate."""

    name, version = "recorder", "1"

    def __init__(self, fail_on_label: bool = False):
        self.fail_on_label = fail_on_label
        self.seen: list[str] = []
        self._out = None

    def update(self, msg) -> None:
        self._out = None
        if isinstance(msg, c.Label):
            if self.fail_on_label:
                raise RuntimeError("boom")
            self.seen.append(f"label@{msg.sample_t:%H:%M}")
            self._out = c.Estimate(
                run_id=msg.run_id,
                t=msg.t,
                sensor_id="calibration",
                model=self.name,
                model_version=self.version,
                measurement="calibration",
                quantities=[c.Quantity(name="n", value=float(len(self.seen)), units="1")],
            )
        else:
            self.seen.append(f"{msg.model}#{msg.seq}")

    @property
    def estimate(self):
        return self._out


class Factory:
    def __init__(self, **kw):
        self.made: list[Recorder] = []
        self.kw = kw

    def __call__(self, start, desc):
        return ModelSet(estimators=[Echo()])

    def run_models(self, start):
        self.made.append(Recorder(**self.kw))
        return [self.made[-1]]


def run_messages():
    yield c.RunStart(run_id="r1", t=T0, reactor="R1", system="SiO2-Stober")
    yield c.Descriptor(run_id="r1", t=T0, sensor_id="s1", kind="scalar", value_units="1")
    for k in range(3):
        yield c.Reading(run_id="r1", t=T0 + timedelta(minutes=k), sensor_id="s1", seq=k, values=[k])
    yield c.Label(
        run_id="r1",
        t=T0 + timedelta(minutes=3),
        sample_t=T0,
        quantity="d_mean_nm",
        value=100.0,
        units="nm",
    )
    yield c.RunStop(run_id="r1", t=T0 + timedelta(minutes=4), status="success")


def test_run_models_see_estimates_then_labels_and_their_output_is_emitted():
    factory = Factory()
    sink = ListSink()
    run_embedded(run_messages(), [sink], reorder_window_s=0.0, model_factory=factory)
    (rec,) = factory.made
    assert rec.seen == ["echo#0", "echo#1", "echo#2", "label@09:00"]
    out = [m for m in sink.messages if isinstance(m, c.Estimate) and m.model == "recorder"]
    assert len(out) == 1 and out[0].get("n").value == 4
    assert any(isinstance(m, c.Label) for m in sink.messages), "labels are still archived"


def test_a_failing_run_model_dead_letters_its_input_and_the_run_goes_on():
    factory = Factory(fail_on_label=True)
    sink = ListSink()
    run_embedded(run_messages(), [sink], reorder_window_s=0.0, model_factory=factory)
    assert any("model recorder 1 failed on label 'd_mean_nm'" in r for _, r in sink.deadletters)
    health = [m for m in sink.messages if isinstance(m, c.Estimate) and m.model == "worker"]
    assert health[-1].get("model_errors_count").value == 1


def test_default_registry_wires_impedance_and_calibration():
    reg = ModelRegistry(alerts=False)
    start = c.RunStart(run_id="r1", t=T0, reactor="R1", system="SiO2-Stober")
    desc = c.Descriptor(
        run_id="r1",
        t=T0,
        sensor_id="eis1",
        kind="impedance",
        axis=[1.0, 10.0, 100.0, 1000.0],
        axis_units="Hz",
        value_units="ohm",
        cell_constant_per_cm=0.5,
    )
    models = reg(start, desc)
    assert [m.name for m in models.estimators] == ["impedance_fit"]
    assert [m.name for m in reg.run_models(start)] == ["kinetics", "size_calibration"]
    gold = c.RunStart(run_id="r2", t=T0, reactor="R1", system="Au-citrate")
    assert [m.name for m in reg.run_models(gold)] == [
        "kinetics",
        "size_calibration",
        "uvvis_size_calibration",
    ]
    only_cal = ModelRegistry(kinetics=False, alerts=False).run_models(gold)
    assert [m.name for m in only_cal] == ["size_calibration", "uvvis_size_calibration"]
    other = c.RunStart(run_id="r3", t=T0, reactor="R1", system="ZnO-sol-gel")
    assert reg.run_models(other) == []
    assert ModelRegistry(calibration=False, alerts=False, kinetics=False).run_models(start) == []
    # the alert engine comes last, so it sees every other model's output
    assert [m.name for m in ModelRegistry().run_models(gold)][-1] == "alert_engine"


def test_worker_without_run_models_in_its_factory():
    worker = Worker(transport=None, sinks=[], model_factory=lambda s, d: ModelSet())
    assert worker.run_model_factory(None) == []


def test_run_model_output_feeds_the_run_models_after_it():
    """A run-level model's estimate goes on to later run-level models, not back to itself."""
    from synthwatch.models.base import Model

    class Source(Model):
        name, version = "source", "1"

        def __init__(self):
            self.seen: list[str] = []
            self._out = None

        def update(self, message) -> None:
            self.seen.append(getattr(message, "model", "label"))
            self._out = (
                message.model_copy(update={"model": "derived"})
                if getattr(message, "model", "") == "uvvis_features"
                else None
            )

        @property
        def estimate(self):
            return self._out

    first, second = Source(), Source()
    worker = Worker(transport=None, sinks=[], model_factory=lambda s, d: ModelSet(), publish=False)
    worker.run_model_factory = lambda start: [first, second]
    worker.handle_message(c.RunStart(run_id="r1", t=T0, reactor="R1", system="Au-citrate"))
    state = worker.runs["r1"]
    est = c.Estimate(
        run_id="r1",
        t=T0,
        sensor_id="uv1",
        model="uvvis_features",
        model_version="1",
        measurement="uvvis_features",
        quantities=[c.Quantity(name="a_400_au", value=0.1, units="AU")],
    )
    worker._feed_run_models(state, est)
    assert first.seen == ["uvvis_features"]
    assert second.seen == ["derived", "uvvis_features"]
