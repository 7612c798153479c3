"""Golden batch end to end: build from stored runs with the CLI, then a drifted run alerts."""

from __future__ import annotations

import pytest

from synthwatch.collectors.sim.gold import GoldCitrateSimulator
from synthwatch.contract.config import load_config
from synthwatch.stream.cli.main import main
from synthwatch.stream.runtime.alerting import registry_from_config
from synthwatch.stream.runtime.pipeline import run_embedded
from synthwatch.stream.store.embedded import Store

RECIPE = "Au-citrate-15nm"


def store_run(db, seed, d_final_nm=15.0):
    sim = GoldCitrateSimulator(seed=seed, duration_s=1800, interval_s=10, d_final_nm=d_final_nm)
    msgs = list(sim.messages())
    msgs[0] = msgs[0].model_copy(update={"tags": {**msgs[0].tags, "recipe": RECIPE}})
    with Store(db) as store:
        run_embedded(msgs, [store], speed=0, model_factory=registry_from_config(load_config(None)))
    return sim.run_id


@pytest.mark.slow
def test_build_then_a_drifted_run_fires_and_a_good_one_does_not(tmp_path, capsys):
    db = tmp_path / "s.sqlite"
    good = [store_run(db, s) for s in (1, 2, 3, 4)]
    assert main(["--store", str(db), "golden", "build", RECIPE, *good]) == 0
    out = capsys.readouterr().out
    assert "psd.d_mean_nm" in out and f"{RECIPE}.json" in out
    assert main(["--store", str(db), "golden", "list"]) == 0
    assert RECIPE in capsys.readouterr().out
    clean, drifted = store_run(db, 6), store_run(db, 7, d_final_nm=18.0)
    with Store(db, readonly=True) as store:
        clean_rules = {a.rule for a in store.alerts(clean)}
        fired = [a for a in store.alerts(drifted) if a.rule == "envelope_size"]
        golden = [e for e in store.estimates(drifted) if e.measurement == "golden_batch"]
    assert "envelope_size" not in clean_rules
    assert fired and fired[0].state == "firing"
    assert "sd above the golden batch" in fired[0].message
    assert golden and any(q.name == "t2" for q in golden[-1].quantities)


def test_golden_errors_are_one_line(tmp_path, capsys):
    db = tmp_path / "s.sqlite"
    with Store(db):
        pass
    assert main(["--store", str(db), "golden", "build", RECIPE, "nope1", "nope2"]) == 2
    assert "nope1" in capsys.readouterr().err
    assert main(["--store", str(db), "golden", "build", "bad/recipe", "a", "b"]) == 2


def test_a_bad_rule_file_stops_the_start_with_its_line(tmp_path, capsys, monkeypatch):
    rules = tmp_path / "rules.toml"
    rules.write_text(
        '[[rule]]\nname = "size"\nkind = "threshold"\nquantity = "psd.d_men_nm"\nabove = 20.0\n'
    )
    monkeypatch.setenv("SYNTHWATCH_ALERTS__RULES_FILE", str(rules))
    code = main(["--store", str(tmp_path / "d.sqlite"), "demo", "--duration", "1m", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert f"{rules}:4: rule 'size': quantity: 'psd.d_men_nm' is not one" in err
    assert "did you mean 'psd.d_mean_nm'" in err
