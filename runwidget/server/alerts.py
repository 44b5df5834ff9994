"""``GET alerts``: the store's alerts since a cursor, for the JupyterLab sidebar's notifications.

``GET alerts`` (no cursor) gives the latest ``limit`` alerts (20) and the cursor to ask from;
``GET alerts?since=N`` the alerts recorded after ``N``, oldest first. Each is the run's
alert (``title``, ``text``, ``level``, ``kind``, ``time``) with the run's id, experiment,
name and portal link.

Answering also runs the store's ``AlertWatch`` (at most every 15 s): the web server is what
notices runs that stopped responding (see ``runwidget.tracking.alerts``), as often as a
JupyterLab sidebar or a portal page asks, and raises their alerts (the webhook included).
"""

from __future__ import annotations

import time
from typing import Any

from runwidget.server.handlers import ApiMixin
from runwidget.server.service import RunService
from runwidget.store import AlertRecord
from runwidget.tracking._portal import run_url
from runwidget.tracking.alerts import AlertWatch

DEFAULT_LIMIT = 20
MAX_LIMIT = 500
# The web application's setting that holds its store's watch.
WATCH_SETTING = "runwidget_alert_watch"


def alerts_answer(
    service: RunService, watch: AlertWatch | None, since: int | None, limit: int | None
) -> dict[str, Any]:
    """The answer of ``GET alerts``; looks at the store's runs first with ``watch``.

    Raises:
        InvalidValueError: a negative cursor or a limit out of range.
    """
    from runwidget.errors import InvalidValueError

    if since is not None and since < 0:
        raise InvalidValueError(f"since must be at least 0, got {since}")
    limit = DEFAULT_LIMIT if limit is None else limit
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidValueError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    if watch is not None:
        watch.check()
    store = service.store
    if since is None:
        found = store.list_alerts()  # alerts are few: a run raises a handful
        records = found[-limit:]
        cursor = found[-1].seq if found else 0
    else:
        records = store.list_alerts(since=since, limit=limit)
        cursor = records[-1].seq if records else since
    return {
        "alerts": [_alert_json(service, a) for a in records],
        "cursor": cursor,
        "time": time.time(),
    }


def _alert_json(service: RunService, alert: AlertRecord) -> dict[str, Any]:
    row: dict[str, Any] = {"seq": alert.seq, "run_id": alert.run_id, **alert.as_dict()}
    try:
        record = service.store.get_run(alert.run_id)
        row["experiment"] = record.experiment
        row["name"] = record.display_name
    except Exception:  # a run removed since: the alert still shows
        pass
    portal = service.portal_url
    row["url"] = portal(alert.run_id) if portal is not None else run_url(alert.run_id)
    return row


class AlertsHandler(ApiMixin):
    """``GET alerts?since=&limit=``."""

    async def get(self) -> None:
        service = self.service
        watch = self.settings.get(WATCH_SETTING)
        if watch is None or watch.store is not service.store:
            watch = self.settings[WATCH_SETTING] = AlertWatch(service.store)
        answer = await self.blocking(
            alerts_answer, service, watch, self.int_argument("since"), self.int_argument("limit")
        )
        self.finish_json(answer)


ALERT_ROUTES: list[tuple[str, type]] = [(r"alerts", AlertsHandler)]
