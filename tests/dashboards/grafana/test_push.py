"""CONTRACT test of ``synthwatch dashboards push`` against a local HTTP server that answers like
Grafana's API for the endpoints used (tests/dashboards/conftest.py) and records the requests.
No Grafana can be installed on these machines; this checks what grafana-client sends."""

from __future__ import annotations

import pytest
from grafana_fakes import fake_grafana

from synthwatch.stream.cli.main import main

WEBHOOK = "https://chat.example/hooks/synthwatch"


@pytest.fixture
def grafana():
    with fake_grafana() as fake:
        yield fake


def _push(grafana, *extra: str, env_token: bool = True, monkeypatch=None) -> int:
    if env_token:
        monkeypatch.setenv("SYNTHWATCH_GRAFANA_TOKEN", grafana.token)
    return main(["dashboards", "push", "--url", grafana.url, "--timeout", "5", *extra])


def test_push_uploads_everything_in_order(grafana, monkeypatch, capsys):
    assert _push(grafana, "--webhook-url", WEBHOOK, monkeypatch=monkeypatch) == 0
    assert grafana.paths() == [
        ("GET", "/api/folders/synthwatch"),
        ("POST", "/api/folders"),
        ("POST", "/api/dashboards/db"),
        ("POST", "/api/dashboards/db"),
        ("PUT", "/api/v1/provisioning/folder/synthwatch/rule-groups/synthwatch"),
        ("GET", "/api/v1/provisioning/contact-points"),
        ("POST", "/api/v1/provisioning/contact-points"),
        ("PUT", "/api/v1/provisioning/policies"),
    ]
    reqs = grafana.requests
    assert all(r.headers["authorization"] == f"Bearer {grafana.token}" for r in reqs)
    assert reqs[1].body == {"title": "synthwatch", "uid": "synthwatch"}
    dashboards = [r.body for r in reqs[2:4]]
    assert {d["dashboard"]["uid"] for d in dashboards} == {"synthwatch-run", "synthwatch-fleet"}
    for d in dashboards:
        assert d["overwrite"] is True and d["folderUid"] == "synthwatch"
        assert d["dashboard"]["id"] is None  # matched by uid, so a re-push overwrites
        assert "from(bucket:" in str(d["dashboard"]["panels"])  # flux is the default flavour
    group = reqs[4].body
    assert group["folderUid"] == "synthwatch" and group["interval"] == 60
    assert len(group["rules"]) == 6
    assert all(r["folderUID"] == "synthwatch" for r in group["rules"])
    assert reqs[6].body["settings"]["url"] == WEBHOOK
    assert reqs[7].body["receiver"] == "synthwatch"
    out, err = capsys.readouterr()
    assert "folder 'synthwatch': created" in out and "pushed to" in out
    assert grafana.token not in out + err


def test_a_second_push_overwrites(grafana, monkeypatch, capsys):
    assert _push(grafana, "--webhook-url", WEBHOOK, monkeypatch=monkeypatch) == 0
    grafana.requests.clear()
    assert _push(grafana, "--flavour", "influxql", monkeypatch=monkeypatch, env_token=True) == 0
    assert ("POST", "/api/folders") not in grafana.paths()
    assert "SELECT" in str(grafana.requests[1].body["dashboard"]["panels"])
    assert "(version 2)" in capsys.readouterr().out
    monkeypatch.setenv("SYNTHWATCH_ALERT_WEBHOOK_URL", WEBHOOK)
    grafana.requests.clear()
    assert _push(grafana, monkeypatch=monkeypatch) == 0
    assert ("PUT", "/api/v1/provisioning/contact-points/synthwatch-webhook") in grafana.paths()


def test_without_a_webhook_the_contact_point_and_policy_are_left_alone(
    grafana, monkeypatch, capsys
):
    monkeypatch.delenv("SYNTHWATCH_ALERT_WEBHOOK_URL", raising=False)
    assert _push(grafana, monkeypatch=monkeypatch) == 0
    assert not [p for m, p in grafana.paths() if "contact-points" in p or "policies" in p]
    assert "contact point and notification policy skipped" in capsys.readouterr().out


def test_token_from_a_file_and_credentials_in_the_url(grafana, tmp_path, monkeypatch):
    monkeypatch.delenv("SYNTHWATCH_GRAFANA_TOKEN", raising=False)
    token_file = tmp_path / "token"
    token_file.write_text(grafana.token + "\n")
    assert main(["dashboards", "push", "--url", grafana.url, "--token-file", str(token_file)]) == 0
    assert grafana.requests[0].headers["authorization"] == f"Bearer {grafana.token}"


@pytest.mark.parametrize(
    "fail, status, words",
    [
        ({("POST", "/api/dashboards/db"): (403, "Access denied to save dashboard")}, 403, "denied"),
        (
            {("PUT", "/api/v1/provisioning/folder/"): (400, "invalid alert rule: bad query")},
            400,
            "invalid alert rule",
        ),
    ],
)
def test_a_4xx_ends_in_one_clear_line(grafana, monkeypatch, capsys, fail, status, words):
    grafana.fail = fail
    assert _push(grafana, monkeypatch=monkeypatch) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1
    assert f"HTTP {status}" in err and words in err and grafana.url in err
    assert grafana.token not in out + err


def test_a_wrong_token_is_refused_without_showing_it(grafana, monkeypatch, capsys):
    monkeypatch.setenv("SYNTHWATCH_GRAFANA_TOKEN", "glsa_wrong_secret_value")
    assert main(["dashboards", "push", "--url", grafana.url]) == 2
    err = capsys.readouterr().err
    assert "HTTP 401" in err and "Invalid API key" in err
    assert "glsa_wrong_secret_value" not in err


def test_usage_errors(grafana, monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("SYNTHWATCH_GRAFANA_TOKEN", raising=False)
    assert main(["dashboards", "push", "--url", grafana.url]) == 2
    assert "no credentials" in capsys.readouterr().err
    assert main(["dashboards", "push", "--url", "ftp://x", "--token", "t"]) == 2
    assert "expected http(s)://host" in capsys.readouterr().err
    assert main(["dashboards", "push", "--url", grafana.url, "--timeout", "-1"]) == 2
    assert "--timeout: expected seconds" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.write_text("")
    assert main(["dashboards", "push", "--url", grafana.url, "--token-file", str(empty)]) == 2
    assert "is empty" in capsys.readouterr().err
    url = grafana.url.replace("http://", "http://admin:s3cret-pw@")
    host = grafana.url.rsplit(":", 1)[0] + ":1"
    assert main(["dashboards", "push", "--url", url.replace(grafana.url[7:], host[7:])]) == 2
    err = capsys.readouterr().err
    assert "cannot reach Grafana" in err and "s3cret-pw" not in err
    assert grafana.requests == []
