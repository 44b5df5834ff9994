"""What both web servers share: the service's settings, the route table, the security
policy of their answers."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from tornado import web

from runwidget._settings import connect_timeout
from runwidget.errors import InvalidValueError, StoreError, StoreUnavailableError
from runwidget.server.alerts import ALERT_ROUTES
from runwidget.server.changes import ChangeFeed
from runwidget.server.handlers import API_ROUTES, LogMixin
from runwidget.server.models import MODEL_API_ROUTES, MODEL_PAGE_ROUTES
from runwidget.server.pages import PAGE_ROUTES, STATIC_DIR
from runwidget.server.service import RunService
from runwidget.store import RunStore, open_store, redact_uri

logger = logging.getLogger("runwidget")

# Store reads are blocking; a few threads keep the server answering while one is slow.
WORKERS = 4

# The Content-Security-Policy of the portal's pages, on both servers: the page runs only
# the portal's own script and draws images from this server or inlined ones; no plugin, no
# <base>, no form to another site, no framing by another site.
PAGE_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'self'",
])  # fmt: skip
# Of every other answer (JSON, logs, files, static files, errors): nothing in it runs.
API_POLICY = "default-src 'none'; frame-ancestors 'self'"


def url_join(*parts: str) -> str:
    """``url_join("/", "runwidget", "api")`` -> ``/runwidget/api``."""
    path = "/".join(p.strip("/") for p in parts if p.strip("/"))
    return "/" + path


class LazyService:
    """The ``RunService`` of a store that is opened on the first request that needs it.

    The store is opened in a thread of its own, never in the server's event loop: a store
    that does not answer holds up neither the server's start nor its other requests. A
    request waits for it at most ``timeout`` seconds; one that failed is tried again by the
    next request.

    Args:
        opener: opens the store and returns its service (blocking).
        name: the store's URI without its password, for messages.
        timeout: the longest a request waits for the store to open.
    """

    def __init__(self, opener: Callable[[], RunService], *, name: str, timeout: float) -> None:
        self._opener = opener
        self.name = name
        self.timeout = timeout
        self._service: RunService | None = None
        self._attempt: Future[RunService] | None = None
        self._failure: str | None = None
        self._lock = threading.Lock()

    @classmethod
    def of(cls, service: RunService) -> LazyService:
        """A service that is ready already."""
        lazy = cls(lambda: service, name=redact_uri(service.store.uri), timeout=0)
        lazy._service = service
        return lazy

    @property
    def ready(self) -> RunService | None:
        """The service, when the store is open."""
        return self._service

    def _start(self) -> Future[RunService]:
        with self._lock:
            attempt = self._attempt
            if attempt is None or (attempt.done() and attempt.exception() is not None):
                attempt = self._attempt = Future()
                threading.Thread(
                    target=self._open, args=(attempt,), name="runwidget-open-store", daemon=True
                ).start()
            return attempt

    def _open(self, attempt: Future[RunService]) -> None:
        try:
            service = self._opener()
        except BaseException as e:  # noqa: BLE001 (handed to the waiting requests)
            # Once per kind of failure, not at every request that tries again.
            log = logger.warning if str(e) != self._failure else logger.debug
            self._failure = str(e)
            log("runwidget: cannot open the run store %s: %s", self.name, e)
            attempt.set_exception(e)
        else:
            if self._failure is not None:
                logger.info("runwidget: run store %s is open", self.name)
            self._service = service
            attempt.set_result(service)

    async def get(self) -> RunService:
        """The service, once the store is open.

        Raises:
            StoreUnavailableError: the store did not open within ``timeout`` seconds.
            StoreError: it cannot be opened (the message names the store, without password).
        """
        if self._service is not None:
            return self._service
        waiter = asyncio.wrap_future(self._start())
        # A failure that comes after this request gave up is read by the next one.
        waiter.add_done_callback(lambda f: f.cancelled() or f.exception())
        done, _ = await asyncio.wait([waiter], timeout=self.timeout)
        if not done:
            raise StoreUnavailableError(
                f"run store {self.name} did not answer within {self.timeout:g} s "
                "(RUNWIDGET_CONNECT_TIMEOUT)"
            )
        try:
            return waiter.result()
        except StoreError:
            raise
        except Exception as e:
            raise StoreError(f"run store {self.name} cannot be opened ({type(e).__name__})") from e


def _scrubbed(text: str, uri: str) -> str:
    """``text`` without ``uri``'s password, wherever it shows."""
    text = text.replace(uri, redact_uri(uri))
    authority = uri.split("://", 1)[-1].partition("/")[0]
    password = authority.rpartition("@")[0].partition(":")[2] if "@" in authority else ""
    # A password of a letter or two would be found in every word: the URI is enough then.
    return text.replace(password, "***") if len(password) >= 4 else text


def _store_timeout() -> float:
    try:
        return connect_timeout()
    except InvalidValueError as e:
        logger.warning("runwidget: %s; waiting 10 s for the run store", e)
        return 10.0


def portal_settings(
    store: RunStore | str, *, base_url: str, portal_url: Callable[[str], str]
) -> dict[str, Any]:
    """Tornado settings the runwidget handlers read.

    Args:
        store: the run store served, or its URI: then it is opened on the first request.
        base_url: the web server's base URL (``/`` or ``/user/x/``).
        portal_url: ``run_id -> URL`` of a run's portal page, for links in answers.
    """
    portal_base = url_join(base_url, "runwidget")
    api_url = url_join(portal_base, "api")
    executor = ThreadPoolExecutor(WORKERS, thread_name_prefix="runwidget-api")
    if isinstance(store, str):
        uri = store

        def opener() -> RunService:
            try:
                opened = open_store(uri)
            except StoreError as e:
                text = _scrubbed(str(e), uri)
                if text == str(e):
                    raise
                raise type(e)(text) from e
            except Exception as e:
                message = _scrubbed(f"{type(e).__name__}: {e}", uri)
                raise StoreError(f"run store {redact_uri(uri)} cannot be opened: {message}") from e
            return RunService(opened, api_url=api_url, portal_url=portal_url)

        service = LazyService(opener, name=redact_uri(uri), timeout=_store_timeout())
    else:
        service = LazyService.of(RunService(store, api_url=api_url, portal_url=portal_url))
    feed = ChangeFeed(lambda: None if service.ready is None else service.ready.store)
    return {
        "runwidget_service": service,
        "runwidget_changes": feed,
        "runwidget_executor": executor,
        "runwidget_portal_base": portal_base,
    }


class StaticHandler(LogMixin, web.StaticFileHandler):
    """The portal's script, styles and icon."""


def routes(
    base_url: str, *, api_base: type, page_base: type, static_base: type = StaticHandler
) -> list[tuple[Any, ...]]:
    """The URL table: each handler mixin joined with the base class that authenticates."""
    portal = url_join(base_url, "runwidget")
    table: list[tuple[Any, ...]] = []
    for pattern, mixin in ALERT_ROUTES:
        table.append((f"{portal}/api/{pattern}", type(mixin.__name__, (mixin, api_base), {})))
    for pattern, mixin in API_ROUTES + MODEL_API_ROUTES:
        cls = type(mixin.__name__, (mixin, api_base), {})
        table.append((f"{portal}/api/{pattern}", cls))
    for pattern, mixin in PAGE_ROUTES + MODEL_PAGE_ROUTES:
        cls = type(mixin.__name__, (mixin, page_base), {})
        table.append((f"{portal}{pattern}", cls))
    table.append((rf"{portal}/static/(.*)", static_base, {"path": str(STATIC_DIR)}))
    return table
