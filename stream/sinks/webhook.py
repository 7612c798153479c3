"""Alerts to webhooks: every Alert POSTed as JSON to each configured URL, with retries.

:class:`WebhookSink` takes the pipeline's messages and keeps only the Alerts. A background
thread delivers each one to every URL.

* The body is ``{"text": "...", "alert": {...}}``. ``text`` is one line a chat webhook (Slack,
  Mattermost, Teams' incoming webhooks) shows as is; ``alert`` is the contract's JSON.
* Retries go through urllib3's ``Retry``: 429 and 5xx answers and connection errors are tried
  again with exponential backoff, and ``Retry-After`` is honoured.
* ``flush`` waits, up to ``flush_timeout_s``, until the queue is empty. A slow webhook
  therefore never stalls the models for long.
* An alert that cannot be delivered after its retries is kept and tried again at the next
  flush. What is still undelivered at ``close`` is appended to ``undelivered_path``
  (JSON lines) and logged: never silently dropped.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from pathlib import Path

import urllib3
from urllib3.util.retry import Retry

from synthwatch.contract.messages import Alert, Message
from synthwatch.stream.sinks.base import Sink

__all__ = ["WebhookSink"]

log = logging.getLogger(__name__)


class WebhookSink(Sink):
    """POST every Alert to ``urls`` (see the module docstring)."""

    def __init__(
        self,
        urls: list[str],
        timeout_s: float = 5.0,
        retries: int = 5,
        backoff_s: float = 0.5,
        flush_timeout_s: float = 10.0,
        undelivered_path: Path | None = None,
    ):
        self.urls = list(urls)
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.flush_timeout_s = flush_timeout_s
        self.undelivered_path = undelivered_path
        self._queue: queue.Queue[tuple[str, bytes, str] | None] = queue.Queue()
        self._failed: list[tuple[str, bytes, str]] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._http: urllib3.PoolManager | None = None
        self.delivered = 0

    def setup(self) -> None:
        if self._thread is not None:
            return
        self._http = urllib3.PoolManager(headers={"Content-Type": "application/json"})
        self._thread = threading.Thread(target=self._run, name="webhooks", daemon=True)
        self._thread.start()

    def add(self, message: Message) -> None:
        if not isinstance(message, Alert) or not self.urls:
            return
        if self._thread is None:
            self.setup()
        text = (
            f"[{message.severity}] {message.rule} {message.state} "
            f"(run {message.run_id}, sensor {message.sensor_id or '-'}): {message.message}"
        )
        body = json.dumps(
            {"text": text, "alert": json.loads(message.model_dump_json(by_alias=True))}
        ).encode()
        for url in self.urls:
            self._queue.put((url, body, message.rule))

    def flush(self) -> None:
        with self._lock:
            retry, self._failed = self._failed, []
        for item in retry:
            self._queue.put(item)
        deadline = time.monotonic() + self.flush_timeout_s
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)

    def close(self) -> None:
        if self._thread is None:
            return
        self.flush()
        self._queue.put(None)
        self._thread.join(timeout=self.flush_timeout_s)
        self._thread = None
        pending = list(self._failed)
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                pending.append(item)
        self._failed = []
        if pending:
            log.error("%d alert deliveries to webhooks failed", len(pending))
            if self.undelivered_path is not None:
                self.undelivered_path.parent.mkdir(parents=True, exist_ok=True)
                with self.undelivered_path.open("a", encoding="utf-8") as f:
                    for url, body, _ in pending:
                        f.write(json.dumps({"url": url, "body": json.loads(body)}) + "\n")

    @property
    def undelivered(self) -> int:
        """Deliveries that failed after their retries and wait for the next flush."""
        with self._lock:
            return len(self._failed)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                if not self._deliver(*item):
                    with self._lock:
                        self._failed.append(item)
            finally:
                self._queue.task_done()

    def _deliver(self, url: str, body: bytes, rule: str) -> bool:
        retry = Retry(
            total=self.retries,
            backoff_factor=self.backoff_s,
            status_forcelist=(429, 500, 502, 503, 504),
            allowed_methods=frozenset({"POST"}),
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        try:
            resp = self._http.request("POST", url, body=body, timeout=self.timeout_s, retries=retry)
        except urllib3.exceptions.HTTPError as e:
            log.warning("webhook %s: alert %r not delivered: %s", _safe(url), rule, e)
            return False
        if 200 <= resp.status < 300:
            self.delivered += 1
            return True
        log.warning("webhook %s: alert %r refused with HTTP %d", _safe(url), rule, resp.status)
        return False


def _safe(url: str) -> str:
    """The URL without a query string (webhook tokens often live there)."""
    return url.split("?", 1)[0]
