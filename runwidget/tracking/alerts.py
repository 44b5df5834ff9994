"""Alerts: recorded with their run, and POSTed to ``$RUNWIDGET_ALERT_WEBHOOK`` when set.

Who raises which kind:

* ``user``: ``run.alert(title, text, level)``, in the process that logs the run.
* ``nan``: ``run.log`` in that process, the first time a metric's value is NaN or infinite
  (once per metric and run, whatever the number of processes logging it).
* ``failed``: whoever ends the run Failed: ``run.fail()`` / ``with run:`` in the logging
  process, the supervisor of a submitted script, the reaper on the run's host (a dead
  supervisor or kernel), the watcher of a cluster's job; and, for a run failed by anything
  else, the ``AlertWatch`` below.
* ``not_responding``: ``AlertWatch``. A run reads NotResponding when nothing beats it any
  more, so no process of the run can say so. The watch runs in the Jupyter server extension
  and in ``runwidget portal``, at most every ``WATCH_INTERVAL`` seconds, whenever the
  alerts since a cursor are asked for (the JupyterLab sidebar extension asks every 10 s
  while JupyterLab is open; see ``runwidget/server/alerts.py``), and next to every local
  supervisor's reaper sweep (every 30 s while a local run runs). One alert per stall: the
  alert's key holds the last heartbeat, so a run that beats again and stalls again is
  alerted again.

Sending never blocks training: ``send`` queues the alert, and a daemon thread writes it to
the store (retrying while the store is unreachable) and then POSTs it (each attempt limited
to ``WEBHOOK_TIMEOUT`` seconds, ``WEBHOOK_ATTEMPTS`` attempts with backoff). An alert whose
key the run had already is neither stored again nor sent. At exit the thread is given
``EXIT_TIMEOUT`` seconds to finish.
"""

from __future__ import annotations

import atexit
import json
import logging
import math
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from dataclasses import dataclass
from typing import Any

from runwidget import _settings
from runwidget import status as st
from runwidget.errors import InvalidValueError, RunNotFoundError, StoreError
from runwidget.store import AlertKind, AlertLevel, AlertRecord, RunRecord, RunStore
from runwidget.tracking._validate import check_text

logger = logging.getLogger("runwidget")

WEBHOOK_TIMEOUT = 5.0
WEBHOOK_ATTEMPTS = 3
# How long the thread keeps retrying an alert's write while the store is unreachable.
STORE_RETRY_FOR = 300.0
# How long an alert waits for its run to appear in the store (its writer creates it within
# about a second); then it is dropped, with a log line.
RUN_WAIT_FOR = 30.0
EXIT_TIMEOUT = 10.0
WATCH_INTERVAL = 15.0
# A run that ended Failed this long before a watch first looks is not alerted by it.
WATCH_LOOKBACK = 300.0
MAX_TITLE_CHARS = 200
MAX_TEXT_CHARS = 4000


def check_level(level: Any) -> str:
    """``level`` if it is one of info, warn, error.

    Raises:
        InvalidValueError: any other level.
    """
    if not isinstance(level, str) or level not in AlertLevel.ALL:
        raise InvalidValueError(
            f"alert level must be one of {', '.join(map(repr, AlertLevel.ALL))}, got {level!r:.80}"
        )
    return level


def check_alert(title: Any, text: Any, level: Any) -> tuple[str, str, str]:
    """The title, text and level of ``run.alert``, checked.

    Raises:
        InvalidValueError: a title that is not a non-empty string, a text that is not a
            string, or a bad level.
    """
    if not isinstance(title, str) or not title.strip():
        raise InvalidValueError(f"alert title must be a non-empty string, got {title!r:.80}")
    if not isinstance(text, str):
        raise InvalidValueError(
            f"alert text must be a string, got {type(text).__name__}: {text!r:.80}"
        )
    level = check_level(level)
    check_text(title, "alert title")
    check_text(text, "alert text")
    return _cut(title.strip(), MAX_TITLE_CHARS), _cut(text, MAX_TEXT_CHARS), level


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass
class _Pending:
    store: RunStore
    run_id: str
    fields: dict[str, Any]  # add_alert's keyword arguments
    url: str | None  # the webhook when it was raised


class _Worker:
    """A daemon thread that handles queued items one at a time, started on the first."""

    def __init__(self, name: str, handle: Any) -> None:
        self._name = name
        self._handle = handle
        self._queue: deque[Any] = deque()
        self._wake = threading.Condition(threading.Lock())
        self._busy = 0
        self._thread: threading.Thread | None = None

    def put(self, item: Any) -> None:
        with self._wake:
            self._queue.append(item)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
                self._thread.start()
            self._wake.notify_all()

    def flush(self, deadline: float | None) -> bool:
        with self._wake:
            while self._queue or self._busy:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._wake.wait(left)
        return True

    def _loop(self) -> None:
        while True:
            with self._wake:
                while not self._queue:
                    self._wake.wait()
                item = self._queue.popleft()
                self._busy += 1
            try:
                self._handle(item)
            except Exception:  # the thread must live on for the next alert
                logger.exception("runwidget: an alert was not delivered")
            finally:
                with self._wake:
                    self._busy -= 1
                    self._wake.notify_all()


class AlertSender:
    """Writes queued alerts to their store (a thread per store, so that a store that is down
    holds up only its own alerts) and POSTs them to the webhook (a thread of its own, so
    that a slow webhook never holds up the store's copy).

    One per process (``default_sender()``); its threads start with the first alert.
    """

    def __init__(self) -> None:
        self._stores: dict[str, _Worker] = {}  # by store URI
        self._lock = threading.Lock()
        self._posts = _Worker("runwidget-alert-webhook", self._post)

    def _worker(self, store: RunStore) -> _Worker:
        with self._lock:
            worker = self._stores.get(store.uri)
            if worker is None:
                name = f"runwidget-alerts-{len(self._stores) + 1}"
                worker = self._stores[store.uri] = _Worker(name, self._store)
            return worker

    def send(
        self,
        store: RunStore,
        run_id: str,
        *,
        kind: str,
        level: str,
        title: str,
        text: str = "",
        once_key: str | None = None,
        at: float | None = None,
    ) -> None:
        """Queue an alert; returns at once."""
        fields = {"kind": kind, "level": level, "title": title, "text": text,
                  "time": time.time() if at is None else at, "once_key": once_key}  # fmt: skip
        self._worker(store).put(_Pending(store, run_id, fields, _settings_webhook()))

    def flush(
        self,
        timeout: float | None = None,
        *,
        webhook: bool = True,
        store: RunStore | None = None,
    ) -> bool:
        """Wait until every queued alert (of ``store`` only, when given) is stored (and,
        with ``webhook``, sent); False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            if store is None:
                workers = list(self._stores.values())
            else:
                workers = [w for w in (self._stores.get(store.uri),) if w is not None]
        if not all(w.flush(deadline) for w in workers):
            return False
        return self._posts.flush(deadline) if webhook else True

    def _store(self, item: _Pending) -> None:
        deadline = time.monotonic() + STORE_RETRY_FOR
        run_deadline = time.monotonic() + RUN_WAIT_FOR
        delay = 0.2
        while True:
            try:
                record = item.store.add_alert(item.run_id, **item.fields)
                break
            except RunNotFoundError:
                # The run's creation may still wait in this process's writer: look again
                # soon (it is written within about a second), not after a long backoff.
                if time.monotonic() + 0.2 > min(deadline, run_deadline):
                    raise
                time.sleep(0.2)
                continue
            except StoreError as e:
                if time.monotonic() + delay > deadline:
                    raise
                logger.info("runwidget: alert not stored yet (%s); retrying", e)
            time.sleep(delay)
            delay = min(delay * 2, 10.0)
        if record is not None and item.url:
            self._posts.put((item.url, item.store, record))

    def _post(self, item: tuple[str, RunStore, AlertRecord]) -> None:
        url, store, record = item
        post_webhook(url, webhook_payload(store, record))


def _settings_webhook() -> str | None:
    try:
        return _settings.alert_webhook()
    except InvalidValueError as e:  # a bad setting must not stop the alert being stored
        logger.warning("runwidget: %s", e)
        return None


def webhook_payload(store: RunStore, alert: AlertRecord) -> dict[str, Any]:
    """The JSON POSTed for an alert: the alert, and which run it is about."""
    from runwidget.tracking import _portal

    payload: dict[str, Any] = {"run_id": alert.run_id, **alert.as_dict()}
    try:
        record = store.get_run(alert.run_id)
    except StoreError:
        record = None
    if record is not None:
        payload.update(
            experiment=record.experiment,
            display_name=record.display_name,
            status=record.current_status(),
        )
    payload["url"] = _portal.run_url(alert.run_id, store.uri)
    return payload


def post_webhook(url: str, payload: dict[str, Any]) -> bool:
    """POST ``payload`` as JSON to ``url``, retrying a failure; whether it was taken (2xx)."""
    body = json.dumps(payload, default=str, allow_nan=False).encode("utf-8")
    delay = 1.0
    for attempt in range(1, WEBHOOK_ATTEMPTS + 1):
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "runwidget"},
        )
        try:
            with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT) as answer:
                if 200 <= answer.status < 300:
                    return True
                reason = f"HTTP {answer.status}"
        except urllib.error.HTTPError as e:
            reason = f"HTTP {e.code}"
            if 400 <= e.code < 500 and e.code not in (408, 429):
                logger.warning("runwidget: alert webhook refused the alert (%s)", reason)
                return False
        except (OSError, ValueError) as e:  # refused, timed out, a bad URL
            reason = str(e)
        if attempt < WEBHOOK_ATTEMPTS:
            time.sleep(delay)
            delay *= 2
    logger.warning("runwidget: alert webhook not reached after %d attempts (%s)",
                   WEBHOOK_ATTEMPTS, reason)  # fmt: skip
    return False


_default_sender: AlertSender | None = None
_default_lock = threading.Lock()


def default_sender() -> AlertSender:
    """This process's sender."""
    global _default_sender
    with _default_lock:
        if _default_sender is None:
            _default_sender = AlertSender()
            atexit.register(_default_sender.flush, EXIT_TIMEOUT)
        return _default_sender


def flush(
    timeout: float | None = None, *, webhook: bool = True, store: RunStore | None = None
) -> bool:
    """Wait for this process's queued alerts (of ``store`` only, when given) to be stored
    (and sent); False on timeout."""
    sender = _default_sender
    return True if sender is None else sender.flush(timeout, webhook=webhook, store=store)


# -- the automatic kinds -------------------------------------------------------------------
def run_failed(store: RunStore, run_id: str, error: Any = None, name: str | None = None) -> None:
    """Queue the ``failed`` alert of a run that just ended Failed (once per run)."""
    message = ""
    if isinstance(error, dict):
        message = str(error.get("message") or "")
    elif error is not None:
        message = str(error)
    default_sender().send(
        store, run_id, kind=AlertKind.FAILED, level=AlertLevel.ERROR,
        title=f"Run {name or run_id} failed", text=_cut(message, MAX_TEXT_CHARS),
        once_key="failed",
    )  # fmt: skip


def metric_not_finite(store: RunStore, run_id: str, name: str, value: float) -> None:
    """Queue the ``nan`` alert of a metric whose value is NaN or infinite (once per metric)."""
    shown = "NaN" if value != value else ("infinite" if value > 0 else "-infinite")
    default_sender().send(
        store, run_id, kind=AlertKind.NAN, level=AlertLevel.WARN,
        title=f"Metric {name} is {shown}",
        text=f"run.log({name!r}, ...) was given {value!r}; later values are not alerted.",
        once_key=f"nan:{name}"[:255],
    )  # fmt: skip


def not_responding(store: RunStore, record: RunRecord, now: float) -> None:
    """Queue the ``not_responding`` alert of a run that stopped beating (once per stall)."""
    since = record.heartbeat or record.started or record.created
    default_sender().send(
        store, record.id, kind=AlertKind.NOT_RESPONDING, level=AlertLevel.WARN,
        title=f"Run {record.display_name} is not responding",
        text=f"No heartbeat for {now - since:.0f} s (the run's process may have died or hung).",
        once_key=f"not_responding:{since!r}",
    )  # fmt: skip


class AlertWatch:
    """Notices what no process of a run can report: a run that reads NotResponding, and a
    run ended Failed by something that raised no alert. Used by the web servers and the
    supervisors (see the module docstring). A check called while another is under way
    returns at once."""

    def __init__(self, store: RunStore, interval: float = WATCH_INTERVAL) -> None:
        self.store = store
        self.interval = interval
        self._cursor: int | None = None
        self._last = -math.inf
        self._lock = threading.Lock()

    def check(self, *, force: bool = False) -> None:
        """Look at the store's live and newly failed runs, at most every ``interval`` s."""
        if not self._lock.acquire(blocking=False):
            return  # another thread is looking now
        try:
            now_mono = time.monotonic()
            if not force and now_mono - self._last < self.interval:
                return
            self._last = now_mono
            self._check(time.time())
        except StoreError as e:
            logger.debug("runwidget: alert watch could not read the store: %s", e)
        finally:
            self._lock.release()

    def _check(self, now: float) -> None:
        for record in self.store.list_runs(status=st.ALIVE):
            if record.current_status(now) == st.NOT_RESPONDING:
                not_responding(self.store, record, now)
        first = self._cursor is None
        changed = self.store.list_runs(status=[st.FAILED], since=self._cursor or 0)
        for record in changed:
            if first and (record.ended or 0) < now - WATCH_LOOKBACK:
                continue
            run_failed(self.store, record.id, record.error, record.display_name)
        if changed:
            self._cursor = max(r.seq for r in changed)
        elif first:
            self._cursor = 0
