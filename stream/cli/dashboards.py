"""``synthwatch dashboards export|push``: Grafana provisioning files, or an upload to Grafana.

``export DIR`` writes the provisioning tree (dashboards provider and JSON, the InfluxDB data
source, alert rules, contact point and policy) for one data-source flavour; the compose stack
mounts it at /etc/grafana/provisioning. ``push --url URL`` uploads the same objects through
Grafana's HTTP API with grafana-client. The token comes from ``--token-file``,
``$SYNTHWATCH_GRAFANA_TOKEN`` or ``--token`` (in that order of preference: a token on the
command line is visible to other users of the machine); it is never printed or logged.

Errors end in one line on stderr and exit status 2 (main() prints them).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import urlsplit, urlunsplit

from rich.console import Console

from synthwatch.contract.errors import FAILURE, SynthwatchError, UsageError
from synthwatch.dashboards.grafana.settings import RuleSettings
from synthwatch.dashboards.queries.layout import DEFAULT_BUCKET, DEFAULT_INFLUX_URL, Flavour
from synthwatch.stream.cli.common import stdout

if TYPE_CHECKING:
    from synthwatch.dashboards.grafana.provisioning import Bundle


NAME = "dashboards"
HELP = "Grafana dashboards and alert rules: export, push"
TOKEN_ENV = "SYNTHWATCH_GRAFANA_TOKEN"
WEBHOOK_ENV = "SYNTHWATCH_ALERT_WEBHOOK_URL"


class DashboardsError(UsageError):
    """A problem the person running the command can fix; the message says which."""


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value <= 600:
        raise argparse.ArgumentTypeError(f"expected seconds between 0 and 600, got {text!r}")
    return value


def _http_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"expected http(s)://host[:port], got {text!r}")
    return text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``export DIR`` and ``push --url URL``, with their common options."""
    what = parser.add_subparsers(dest="dashboards_command", required=True, metavar="{export,push}")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--flavour",
            choices=[f.value for f in Flavour],
            default=Flavour.FLUX.value,
            help="query language of the InfluxDB data source: flux (InfluxDB 2, default) "
            "or influxql (InfluxDB 1.x)",
        )
        p.add_argument(
            "--bucket", default=DEFAULT_BUCKET, help="bucket (Flux) or database (InfluxQL)"
        )
        p.add_argument("--size-min-nm", type=float, default=RuleSettings.size_min_nm)
        p.add_argument("--size-max-nm", type=float, default=RuleSettings.size_max_nm)

    export = what.add_parser("export", help="write Grafana provisioning files into DIR")
    export.add_argument("directory", metavar="DIR", type=Path)
    export.add_argument(
        "--influx-url",
        type=_http_url,
        default=DEFAULT_INFLUX_URL,
        help="InfluxDB URL as Grafana sees it",
    )
    common(export)

    push = what.add_parser("push", help="upload dashboards and alerting to a running Grafana")
    push.add_argument("--url", required=True, help="Grafana URL, e.g. http://localhost:3000")
    push.add_argument("--token", help=f"API token (better: --token-file or ${TOKEN_ENV})")
    push.add_argument("--token-file", type=Path, help="file holding the API token")
    push.add_argument(
        "--webhook-url", help=f"contact point webhook (default ${WEBHOOK_ENV}; else skipped)"
    )
    push.add_argument("--timeout", type=_seconds, default=10.0, help="seconds per request")
    common(push)


def _bundle(args: argparse.Namespace, webhook_url: str | None = None) -> Bundle:
    try:
        settings = RuleSettings(
            size_min_nm=args.size_min_nm, size_max_nm=args.size_max_nm, bucket=args.bucket
        )
    except ValueError as err:
        raise DashboardsError(f"synthwatch dashboards: {err}") from None
    from synthwatch.dashboards.grafana.provisioning import build_bundle  # the SDK: only when used

    return build_bundle(Flavour(args.flavour), settings, webhook_url)


def _export(args: argparse.Namespace, console: Console) -> int:
    directory: Path = args.directory
    if directory.exists() and not directory.is_dir():
        raise DashboardsError(f"synthwatch dashboards export: {directory} is not a directory")
    from synthwatch.dashboards.grafana.provisioning import write_tree

    try:
        files = write_tree(directory, _bundle(args), influx_url=args.influx_url)
    except OSError as err:
        raise DashboardsError(
            f"synthwatch dashboards export: cannot write {directory}: {err}"
        ) from None
    console.print(f"wrote {len(files)} Grafana provisioning files ({args.flavour}) to {directory}:")
    for path in files:
        console.print(f"  {path.relative_to(directory)}")
    return 0


def _token(args: argparse.Namespace, env: dict[str, str]) -> str | tuple[str, str]:
    if args.token_file is not None:
        try:
            token = args.token_file.read_text(encoding="utf-8").strip()
        except OSError as err:
            raise DashboardsError(
                f"synthwatch dashboards push: --token-file {args.token_file}: {err.strerror}"
            ) from None
        if not token:
            raise DashboardsError(
                f"synthwatch dashboards push: --token-file {args.token_file} is empty"
            )
        return token
    if env.get(TOKEN_ENV):
        return env[TOKEN_ENV]
    if args.token:
        return args.token
    parts = urlsplit(args.url)
    if parts.username and parts.password:
        return (parts.username, parts.password)
    raise DashboardsError(
        f"synthwatch dashboards push: no credentials: give --token-file FILE, set {TOKEN_ENV}, "
        "or put user:password in the URL"
    )


def _safe_url(url: str) -> str:
    """The URL without user and password, for messages."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class PushStepError(SynthwatchError):
    """A Grafana API call of ``push`` failed; ``what`` names the step."""

    exit_code = FAILURE

    def __init__(self, what: str, error: Exception):
        super().__init__(what)
        self.what = what
        self.error = error


def _grafana_message(error: Any) -> str:
    """Grafana's own explanation (its JSON ``message``), else grafana-client's text."""
    response = getattr(error, "response", None)
    if isinstance(response, dict) and response.get("message"):
        return str(response["message"])
    return " ".join(str(getattr(error, "message", error)).split())


def push_bundle(
    api: Any, bundle: Bundle, *, webhook_url: str | None, report: Callable[[str], None]
) -> None:
    """Upload ``bundle`` through a grafana-client ``GrafanaApi``; raises PushStepError."""
    from grafana_client.client import GrafanaClientError, GrafanaException

    from synthwatch.dashboards.grafana.alerting import GROUP

    def call(what: str, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except GrafanaException as err:
            raise PushStepError(what, err) from None

    try:
        api.folder.get_folder(bundle.folder_uid)
        report(f"folder {bundle.folder_title!r}: exists")
    except GrafanaClientError as err:
        if err.status_code != 404:
            raise PushStepError(f"reading folder {bundle.folder_uid!r}", err) from None
        call(
            f"creating folder {bundle.folder_title!r}",
            lambda: api.folder.create_folder(bundle.folder_title, uid=bundle.folder_uid),
        )
        report(f"folder {bundle.folder_title!r}: created")
    except GrafanaException as err:
        raise PushStepError(f"reading folder {bundle.folder_uid!r}", err) from None
    for uid, dashboard in bundle.dashboards.items():
        payload = {
            "dashboard": {**dashboard, "id": None},
            "folderUid": bundle.folder_uid,
            "overwrite": True,
            "message": "synthwatch dashboards push",
        }
        answer = call(f"saving dashboard {uid!r}", api.dashboard.update_dashboard, payload)
        version = answer.get("version", "?") if isinstance(answer, dict) else "?"
        report(f"dashboard {uid}: saved (version {version})")
    prov = api.alertingprovisioning
    call(
        f"saving alert rule group {GROUP!r}",
        prov.update_rule_group,
        bundle.folder_uid,
        GROUP,
        bundle.rule_group,
    )
    report(f"alert rule group {GROUP!r}: {len(bundle.rule_group['rules'])} rules")
    if webhook_url is None:
        report(
            f"contact point and notification policy skipped: give --webhook-url or set "
            f"{WEBHOOK_ENV}"
        )
        return
    cp = bundle.contact_point
    existing = call("listing contact points", prov.get_contactpoints) or []
    if any(isinstance(c, dict) and c.get("uid") == cp["uid"] for c in existing):
        call(f"updating contact point {cp['name']!r}", prov.update_contactpoint, cp["uid"], cp)
        report(f"contact point {cp['name']!r}: updated")
    else:
        call(f"creating contact point {cp['name']!r}", prov.create_contactpoint, cp)
        report(f"contact point {cp['name']!r}: created")
    call("setting the notification policy", prov.set_notification_policy_tree, bundle.policy)
    report("notification policy: set")


def _push(args: argparse.Namespace, console: Console, env: dict[str, str]) -> int:
    from grafana_client import GrafanaApi

    try:  # grafana-client 5 talks through niquests, older releases through requests
        from niquests.exceptions import RequestException
    except ImportError:  # pragma: no cover
        from requests.exceptions import RequestException  # type: ignore[no-redef]

    url = _safe_url(args.url)
    if urlsplit(args.url).scheme not in ("http", "https") or not urlsplit(args.url).hostname:
        raise DashboardsError(
            f"synthwatch dashboards push: --url: expected http(s)://host[:port], got {url!r}"
        )
    credential = _token(args, env)
    webhook_url = args.webhook_url or env.get(WEBHOOK_ENV) or None
    bundle = _bundle(args, webhook_url)
    api = GrafanaApi.from_url(url, credential=credential, timeout=args.timeout)
    try:
        push_bundle(api, bundle, webhook_url=webhook_url, report=console.print)
    except PushStepError as step:
        code = getattr(step.error, "status_code", 0)
        status = f"HTTP {code}" if code else "no answer"
        raise DashboardsError(
            f"synthwatch dashboards push: {step.what} failed: Grafana at {url} answered "
            f"{status}: {_grafana_message(step.error)}"
        ) from None
    except RequestException as err:
        raise DashboardsError(
            f"synthwatch dashboards push: cannot reach Grafana at {url}: "
            f"{type(err).__name__} (is it running, is --url right?)"
        ) from None
    console.print(f"pushed to {url} ({args.flavour})")
    return 0


def run(args: argparse.Namespace, env: dict[str, str] | None = None) -> int:
    """Run ``synthwatch dashboards export|push``; a DashboardsError ends in one line (exit 2)."""
    if args.dashboards_command == "export":
        return _export(args, stdout())
    return _push(args, stdout(), dict(os.environ) if env is None else env)
