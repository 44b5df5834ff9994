"""What both web servers share: the service's settings and the route table."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tornado import web

from runwidget.server.handlers import API_ROUTES
from runwidget.server.pages import PAGE_ROUTES, STATIC_DIR
from runwidget.server.service import RunService
from runwidget.store import RunStore

logger = logging.getLogger("runwidget")

# Store reads are blocking; a few threads keep the server answering while one is slow.
WORKERS = 4


def url_join(*parts: str) -> str:
    """``url_join("/", "runwidget", "api")`` -> ``/runwidget/api``."""
    path = "/".join(p.strip("/") for p in parts if p.strip("/"))
    return "/" + path


def portal_settings(store: RunStore, *, base_url: str, portal_url: Any) -> dict[str, Any]:
    """Tornado settings the runwidget handlers read.

    Args:
        store: the run store served.
        base_url: the web server's base URL (``/`` or ``/user/x/``).
        portal_url: ``run_id -> URL`` of a run's portal page, for links in answers.
    """
    portal_base = url_join(base_url, "runwidget")
    service = RunService(store, api_url=url_join(portal_base, "api"), portal_url=portal_url)
    executor = ThreadPoolExecutor(WORKERS, thread_name_prefix="runwidget-api")
    # Read every run into the index now, so that the first visitor does not wait for it.
    executor.submit(_warm, service)
    return {
        "runwidget_service": service,
        "runwidget_executor": executor,
        "runwidget_portal_base": portal_base,
    }


def _warm(service: RunService) -> None:
    try:
        service.index.warm()
    except Exception as e:  # the store may be down now; requests will try again
        logger.warning("runwidget: could not read the run store yet: %s", e)


def routes(
    base_url: str, *, api_base: type, page_base: type, static_base: type = web.StaticFileHandler
) -> list[tuple[Any, ...]]:
    """The URL table: each handler mixin joined with the base class that authenticates."""
    portal = url_join(base_url, "runwidget")
    table: list[tuple[Any, ...]] = []
    for pattern, mixin in API_ROUTES:
        cls = type(mixin.__name__, (mixin, api_base), {})
        table.append((f"{portal}/api/{pattern}", cls))
    for pattern, mixin in PAGE_ROUTES:
        cls = type(mixin.__name__, (mixin, page_base), {})
        table.append((f"{portal}{pattern}", cls))
    table.append((rf"{portal}/static/(.*)", static_base, {"path": str(STATIC_DIR)}))
    return table
