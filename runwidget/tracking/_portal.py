"""Where a run's page lives in the portal."""

from __future__ import annotations

import os
from urllib.parse import quote

DEFAULT_PORTAL_URL = "http://127.0.0.1:8777/runwidget"


def portal_base() -> str:
    return os.environ.get("RUNWIDGET_PORTAL_URL", DEFAULT_PORTAL_URL).rstrip("/")


def run_url(run_id: str) -> str:
    return f"{portal_base()}/runs/{quote(run_id, safe='')}"
