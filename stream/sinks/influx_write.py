"""The two write paths of the InfluxDB sink: v1 ``/write`` (InfluxDB 1.x) and v2 (influxdb-client).

Both take a batch of line-protocol lines and either return (the server has them), raise
:class:`BatchRejected` (HTTP 400: the server will never take these lines; the sink dead-letters
them) or raise :class:`WriteFailed` (unreachable, timed out, 429/5xx after the retries, 401, 404:
the lines stay spooled and are tried again later).

Retries within one request use influxdb-client's ``WritesRetry`` (a urllib3 ``Retry``): 429 and
5xx answers, connection errors and timeouts are retried ``max_retries`` times with exponential
backoff, and a ``Retry-After`` header is honoured. Two traps of it are handled here: it retries a
POST only with ``allowed_methods=["POST"]``, and its overall deadline starts when it is built, so
one is built per request.

Credentials travel only in the ``Authorization`` header (v1: HTTP Basic with user and password;
v2: ``Token ...``), never in a URL, so they are not in urllib3's errors or our messages.
"""

from __future__ import annotations

import base64
import logging
from urllib.parse import urlencode

import urllib3
from influxdb_client import InfluxDBClient
from influxdb_client.client.write.retry import WritesRetry
from influxdb_client.rest import ApiException
from influxdb_client.service.write_service import WriteService
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import ResponseError

from synthwatch.contract.config import InfluxConfig
from synthwatch.contract.errors import FAILURE, SynthwatchError

__all__ = ["BatchRejected", "WriteFailed", "V1Writer", "V2Writer", "make_writer"]

log = logging.getLogger(__name__)


class WriteFailed(SynthwatchError):
    """The batch did not reach the server (or the server could not take it now): keep it."""

    exit_code = FAILURE


class BatchRejected(SynthwatchError):
    """The server refused the batch as malformed (HTTP 400): retrying cannot help."""

    exit_code = FAILURE


def _retry(cfg: InfluxConfig) -> WritesRetry:
    return WritesRetry(
        total=cfg.max_retries,
        retry_interval=cfg.retry_interval_s,
        max_retry_delay=cfg.max_retry_delay_s,
        max_retry_time=cfg.max_retries * (cfg.max_retry_delay_s + cfg.timeout_s) + cfg.timeout_s,
        exponential_base=cfg.exponential_base,
        allowed_methods=["POST"],
        raise_on_status=True,
    )


def _short(body: bytes | str | None, limit: int = 300) -> str:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


def _failed(where: str, err: Urllib3Error, retries: int) -> WriteFailed:
    """A urllib3 error (retries exhausted, refused, timed out) as a WriteFailed, no URL in it."""
    reason = getattr(err, "reason", None) or err
    if isinstance(reason, ResponseError):  # "too many 503 error responses"
        return WriteFailed(f"{where}: {reason} (after {retries} retries)")
    return WriteFailed(f"{where}: unreachable ({type(reason).__name__})")


def _classify(status: int, body: bytes | str | None, where: str) -> None:
    if 200 <= status < 300:
        return
    text = _short(body)
    if status == 400:
        raise BatchRejected(f"{where}: HTTP 400 (malformed points): {text}")
    hint = {
        401: "check the user/password or token",
        403: "check the token's or user's write permission",
        404: "does the database/bucket exist?",
        413: "lower influxdb.batch_size",
    }.get(status, "will retry")
    raise WriteFailed(f"{where}: HTTP {status} ({hint}): {text}")


class V1Writer:
    """``POST /write?db=&rp=&precision=u`` of InfluxDB 1.x (Basic auth when a user is set).

    1.6's precision trap: ``precision=us`` is answered 204 but read as nanoseconds; ``u`` is
    microseconds.
    """

    def __init__(self, cfg: InfluxConfig, password: str | None):
        self.cfg = cfg
        self._headers = {"Content-Type": "text/plain; charset=utf-8"}
        if cfg.username:
            # RFC 7617 with UTF-8 (urllib3's make_headers encodes latin-1; InfluxDB reads UTF-8)
            pair = f"{cfg.username}:{password or ''}".encode()
            self._headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        params = {"db": cfg.database, "precision": "u"}
        if cfg.retention_policy:
            params["rp"] = cfg.retention_policy
        base = cfg.url.rstrip("/")
        self._write_url = f"{base}/write?{urlencode(params)}"
        self._query_url = f"{base}/query"
        self._http = urllib3.PoolManager(
            num_pools=2, maxsize=2, timeout=urllib3.Timeout(total=cfg.timeout_s)
        )
        self._prepared = not cfg.create_database

    def __repr__(self) -> str:
        return f"V1Writer(url={self.cfg.url!r}, database={self.cfg.database!r})"

    def _post(self, url: str, body: bytes, headers: dict[str, str]) -> urllib3.BaseHTTPResponse:
        try:
            return self._http.request(
                "POST", url, body=body, headers=headers, retries=_retry(self.cfg)
            )
        except Urllib3Error as err:
            raise _failed(self.cfg.url, err, self.cfg.max_retries) from None

    def prepare(self) -> None:
        """``CREATE DATABASE`` once (idempotent in InfluxQL), if ``create_database``."""
        if self._prepared:
            return
        name = self.cfg.database  # validated: letters, digits, '_', '.', '-'
        headers = {**self._headers, "Content-Type": "application/x-www-form-urlencoded"}
        body = urlencode({"q": f'CREATE DATABASE "{name}"'}).encode()
        resp = self._post(self._query_url, body, headers)
        if resp.status in (401, 403):  # a user without admin rights: the database may exist
            log.warning(
                "influxdb %s: cannot CREATE DATABASE %s (HTTP %d: %s); writing anyway",
                self.cfg.url,
                name,
                resp.status,
                _short(resp.data),
            )
        else:
            _classify(resp.status, resp.data, f"{self.cfg.url} CREATE DATABASE {name}")
        self._prepared = True

    def write(self, lines: list[str]) -> None:
        self.prepare()
        resp = self._post(self._write_url, "\n".join(lines).encode(), self._headers)
        _classify(resp.status, resp.data, f"{self.cfg.url} /write db={self.cfg.database}")

    def close(self) -> None:
        self._http.clear()


class V2Writer:
    """``POST /api/v2/write?org=&bucket=&precision=us`` through influxdb-client (token auth).

    Uses the client's ``WriteService`` (not ``write_api``) so each request gets its own
    ``WritesRetry``: the synchronous ``write_api`` passes no retry per request, and a client-wide
    ``WritesRetry`` stops retrying for good once its deadline (counted from construction) is past.
    """

    def __init__(self, cfg: InfluxConfig, token: str):
        self.cfg = cfg
        self._client = InfluxDBClient(
            url=cfg.url, token=token, org=cfg.org, timeout=int(cfg.timeout_s * 1000)
        )
        self._service = WriteService(self._client.api_client)

    def __repr__(self) -> str:
        return f"V2Writer(url={self.cfg.url!r}, org={self.cfg.org!r}, bucket={self.cfg.bucket!r})"

    def prepare(self) -> None:
        """Nothing to prepare: the bucket is created by whoever runs InfluxDB 2."""

    def write(self, lines: list[str]) -> None:
        where = f"{self.cfg.url} /api/v2/write bucket={self.cfg.bucket}"
        try:
            self._service.post_write(
                org=self.cfg.org,
                bucket=self.cfg.bucket,
                body="\n".join(lines).encode(),
                precision="us",
                content_type="text/plain; charset=utf-8",
                urlopen_kw={"retries": _retry(self.cfg)},
            )
        except ApiException as err:
            _classify(err.status or 0, err.body, where)
            raise WriteFailed(f"{where}: HTTP {err.status} {err.reason}") from None
        except Urllib3Error as err:
            raise _failed(where, err, self.cfg.max_retries) from None

    def close(self) -> None:
        self._client.close()


def make_writer(cfg: InfluxConfig, secret: str | None) -> V1Writer | V2Writer:
    """The writer of ``cfg.api``; ``secret`` is the v1 password or the v2 token."""
    if cfg.api == "v1":
        return V1Writer(cfg, secret)
    return V2Writer(cfg, secret or "")
