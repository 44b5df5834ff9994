"""The Jupyter server extension: the REST API and the portal under ``{base_url}/runwidget/``.

Enabled on install by ``jupyter-config/jupyter_server_config.d/runwidget.json``. Every
handler authenticates and authorizes through Jupyter's own identity provider and
authorizer; POSTs need Jupyter's XSRF token as every Jupyter POST does.

The run store is opened by the first request that needs it, in a thread of its own: the
server starts at once even when the store does not answer, and meanwhile the API answers
503 with a message that names the store.

Configuration (``jupyter_server_config.py`` or the command line)::

    c.RunwidgetServer.store = "postgresql://user@host/runs"
    c.RunwidgetServer.share_store_with_kernels = True
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_server.base.handlers import APIHandler, JupyterHandler
from tornado import web
from tornado.httputil import url_concat
from tornado.ioloop import IOLoop
from traitlets import Bool, Unicode
from traitlets.config import Configurable

from runwidget.errors import StoreError
from runwidget.server.app import API_POLICY, PAGE_POLICY, portal_settings, routes, url_join
from runwidget.server.changes import ChangeFeed
from runwidget.store import ENV_VAR, redact_uri, resolve_store_uri
from runwidget.tracking import _portal

# Authorization resource name, for custom Jupyter authorizers.
AUTH_RESOURCE = "runwidget"


class RunwidgetServer(Configurable):
    """Configuration of runwidget's Jupyter server extension."""

    store = Unicode(
        None,
        allow_none=True,
        config=True,
        help="URI of the run store to serve. Default: $RUNWIDGET_STORE, else "
        "<root_dir>/.runwidget/runs.db.",
    )
    share_store_with_kernels = Bool(
        True,
        config=True,
        help="Set RUNWIDGET_STORE for kernels started by this server (when it is not set "
        "already), so that runs logged from any notebook folder show in the sidebar.",
    )


if TYPE_CHECKING:
    # A mixin of Jupyter's handlers (below): checked as one.
    _JupyterMixinBase = JupyterHandler
else:
    _JupyterMixinBase = object


class _Authorized(_JupyterMixinBase):
    """Checks Jupyter's authorizer after Jupyter's authentication; sends runwidget's
    Content-Security-Policy (the standalone portal's) unless the server's configuration
    sets one."""

    auth_resource = AUTH_RESOURCE
    policy = API_POLICY

    @property
    def content_security_policy(self) -> str:
        settings = self.settings
        if "Content-Security-Policy" in settings.get("headers", {}):
            configured: str = settings["headers"]["Content-Security-Policy"]
            return configured
        jupyter = super().content_security_policy
        report = [p.strip() for p in jupyter.split(";") if p.strip().startswith("report-uri")]
        return "; ".join([self.policy, *report])

    def _authorize(self) -> None:
        user = self.current_user
        if user is None:
            # Jupyter answers this itself unless it allows unauthenticated access; runwidget
            # never does.
            raise web.HTTPError(403, "runwidget needs an authenticated user")
        action = "read" if self.request.method in ("GET", "HEAD") else "write"
        if not self.authorizer.is_authorized(self, user, action, AUTH_RESOURCE):
            raise web.HTTPError(403, f"not allowed to {action} runwidget runs")


class JupyterApiBase(_Authorized, APIHandler):
    """Base of the API handlers in Jupyter: JSON errors, 403 without authentication."""

    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()
        self._authorize()


class JupyterPageBase(_Authorized, JupyterHandler):
    """Base of the portal pages in Jupyter: redirects to Jupyter's login page."""

    portal_mode = "jupyter"
    policy = PAGE_POLICY

    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()
        if self._finished:
            return  # redirected to the login page
        if self.current_user is None and self.request.method in ("GET", "HEAD"):
            self.redirect(url_concat(self.get_login_url(), {"next": self.request.uri}))
            return
        self._authorize()


def _store_uri(serverapp: Any, config: RunwidgetServer) -> str:
    if config.store:
        return config.store
    if os.environ.get(ENV_VAR):
        return os.environ[ENV_VAR]
    root = Path(serverapp.root_dir).expanduser().resolve()
    return f"sqlite:///{root / '.runwidget' / 'runs.db'}"


# The event the JupyterLab extension listens for (``/api/events/subscribe``).
RUNS_CHANGED = "urn:runwidget:events:runs-changed:v1"
RUNS_CHANGED_SCHEMA = {
    "$id": RUNS_CHANGED,
    "version": "1",
    "title": "Runs changed",
    "description": "Runs of the served store changed: their records, or the data of runs "
    "someone is looking at. Names runs only, never their values.",
    "type": "object",
    "required": ["cursor", "runs", "data", "more"],
    "properties": {
        "cursor": {"type": "integer", "title": "Cursor", "description": "The change cursor."},
        "runs": {
            "type": "array",
            "title": "Runs",
            "description": "Runs whose record changed: id, experiment, parent_id, status.",
        },
        "data": {
            "type": "array",
            "title": "Data",
            "description": "Ids of watched runs with new metrics, logs or files.",
        },
        "more": {
            "type": "boolean",
            "title": "More",
            "description": "More runs changed than the event names.",
        },
    },
}


def _publish_changes(serverapp: Any, feed: ChangeFeed) -> None:
    """Hand the change feed's events to jupyter_server's event bus (on its loop thread)."""
    events = getattr(serverapp, "event_logger", None)
    if events is None:  # a jupyter_server without an event bus: the SSE stream remains
        return
    events.register_event_schema(RUNS_CHANGED_SCHEMA)
    loop = IOLoop.current()

    def emit(event: dict[str, Any]) -> None:
        loop.add_callback(events.emit, schema_id=RUNS_CHANGED, data=event)

    feed.subscribe(emit)


def load(serverapp: Any) -> None:
    """Add runwidget's handlers to a Jupyter server (the store is opened later)."""
    config = RunwidgetServer(parent=serverapp)
    uri = _store_uri(serverapp, config)
    try:
        resolve_store_uri(uri)
    except StoreError as e:  # the API says so on every request
        serverapp.log.error("runwidget: %s", e)
    base_url = serverapp.base_url
    web_app = serverapp.web_app
    portal_path = url_join(base_url, "runwidget")

    def run_page(run_id: str) -> str:
        return _portal.run_path(portal_path, run_id)

    web_app.settings.update(portal_settings(uri, base_url=base_url, portal_url=run_page))
    web_app.add_handlers(
        ".*$", routes(base_url, api_base=JupyterApiBase, page_base=JupyterPageBase)
    )
    if config.share_store_with_kernels and not os.environ.get(ENV_VAR):
        os.environ[ENV_VAR] = uri

    def announce() -> None:
        # The port is bound after extensions load; kernels start after the loop does.
        _portal.set_jupyter_server(serverapp.connection_url.rstrip("/") + "/runwidget", uri)

    IOLoop.current().add_callback(announce)
    _publish_changes(serverapp, web_app.settings["runwidget_changes"])
    serverapp.log.info("runwidget: serving runs of %s at %s", redact_uri(uri), portal_path)
