"""The standalone portal (``runwidget portal``): the same API and pages without Jupyter.

It binds to 127.0.0.1 unless told otherwise and asks for a token: a request is let in with
``?token=...`` in the URL (once: a signed cookie then keeps the browser logged in), with an
``Authorization: token ...`` header, or after typing the token into the login page. POSTs
need the ``_xsrf`` cookie echoed in ``X-XSRFToken``, except with the token header.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import secrets
import signal
from typing import Any
from urllib.parse import urlparse

from tornado import web
from tornado.httpserver import HTTPServer
from tornado.httputil import url_concat
from tornado.netutil import bind_sockets

from runwidget.server.app import portal_settings, routes, url_join
from runwidget.server.pages import STATIC_DIR
from runwidget.store import RunStore, open_store
from runwidget.tracking import _portal

logger = logging.getLogger("runwidget.portal")

DEFAULT_PORT = 8777
# The login cookie lives this many days.
COOKIE_DAYS = 7

_LOGIN = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>runwidget portal: log in</title>
<link rel="icon" href="{base}/static/favicon.svg">
<link rel="stylesheet" href="{base}/static/portal.css">
</head><body><div class="rw-page rw-portal-root"><form class="rw-login" method="post">
<h1>runwidget portal</h1>
<p>This portal asks for its token. <code>runwidget portal</code> printed it when it
started, in a link that logs you in.</p>
<label for="token">Token</label>
<input type="password" id="token" name="token" autocomplete="current-password" autofocus>
<input type="hidden" name="_xsrf" value="{xsrf}">
<input type="hidden" name="next" value="{next}">
<p class="rw-error" role="alert">{error}</p>
<button type="submit">Log in</button>
</form></div></body></html>
"""


class _StandaloneBase(web.RequestHandler):
    """Authenticates with the portal's token or its signed login cookie."""

    portal_mode = "standalone"

    @property
    def _token(self) -> str:
        return self.settings["runwidget_token"]

    @property
    def _cookie_name(self) -> str:
        return self.settings["runwidget_cookie"]

    def _header_token(self) -> str | None:
        header = self.request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        return value.strip() if scheme.lower() == "token" and value.strip() else None

    def _matches(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(token.encode(), self._token.encode())

    def get_current_user(self) -> str | None:
        if self._matches(self._header_token()):
            return "token"
        url_token = self.get_query_argument("token", None)
        if self._matches(url_token):
            self.set_signed_cookie(
                self._cookie_name, "1", expires_days=COOKIE_DAYS, httponly=True, samesite="Lax"
            )
            return "token"
        if self.get_signed_cookie(self._cookie_name, max_age_days=COOKIE_DAYS) == b"1":
            return "cookie"
        return None

    def check_xsrf_cookie(self) -> None:
        # A token header cannot be sent by another site's form: no cross-site risk.
        if self._matches(self._header_token()):
            return
        super().check_xsrf_cookie()

    def set_default_headers(self) -> None:
        self.set_header("X-Frame-Options", "SAMEORIGIN")
        self.set_header("Referrer-Policy", "same-origin")


class StandaloneApiBase(_StandaloneBase):
    """API handlers: JSON errors, 403 without the token."""

    def prepare(self) -> None:
        if self.current_user is None:
            raise web.HTTPError(403, "this portal needs its token")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        message = self._reason
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, web.HTTPError) and exc.log_message:
            message = exc.log_message
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps({"message": message, "reason": self._reason}))


class StandalonePageBase(_StandaloneBase):
    """Pages: a visitor without the token goes to the login page."""

    def prepare(self) -> None:
        if self.current_user is None:
            self.redirect(url_concat(self.get_login_url(), {"next": self.request.uri}))
        elif self.get_query_argument("token", None):
            # Logged in now (the cookie is set): drop the token from the address bar.
            self.redirect(self.request.path)


class LoginHandler(_StandaloneBase):
    def _safe_next(self) -> str:
        target = self.get_argument("next", "") or self.settings["runwidget_portal_base"] + "/"
        parsed = urlparse(target)
        # Only a path on this server: never an open redirect.
        if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
            return self.settings["runwidget_portal_base"] + "/"
        return target

    def _form(self, error: str = "") -> None:
        from html import escape

        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(
            _LOGIN.format(
                base=escape(self.settings["runwidget_portal_base"], quote=True),
                xsrf=escape(self.xsrf_token.decode(), quote=True),
                next=escape(self._safe_next(), quote=True),
                error=escape(error),
            )
        )

    def get(self) -> None:
        if self.current_user is not None:
            self.redirect(self._safe_next())
            return
        self._form()

    def post(self) -> None:
        if not self._matches(self.get_body_argument("token", "").strip()):
            self.set_status(403)
            self._form("That is not this portal's token.")
            return
        self.set_signed_cookie(
            self._cookie_name, "1", expires_days=COOKIE_DAYS, httponly=True, samesite="Lax"
        )
        self.redirect(self._safe_next())


class LogoutHandler(_StandaloneBase):
    def post(self) -> None:
        self.clear_cookie(self._cookie_name)
        self.redirect(self.get_login_url())


def make_app(
    store: RunStore, *, token: str, base_url: str = "/", cookie_suffix: str = ""
) -> web.Application:
    """The portal's tornado application."""
    portal = url_join(base_url, "runwidget")

    def run_page(run_id: str) -> str:
        return _portal.run_path(portal, run_id)

    table = routes(base_url, api_base=StandaloneApiBase, page_base=StandalonePageBase)
    table += [
        (f"{portal}/login", LoginHandler),
        (f"{portal}/logout", LogoutHandler),
        (url_join(base_url), web.RedirectHandler, {"url": f"{portal}/"}),
    ]
    settings = {
        **portal_settings(store, base_url=base_url, portal_url=run_page),
        "runwidget_token": token,
        "runwidget_cookie": f"runwidget-portal{cookie_suffix}",
        "cookie_secret": secrets.token_bytes(32),
        "xsrf_cookies": True,
        "login_url": f"{portal}/login",
        "static_path": str(STATIC_DIR),
        "static_url_prefix": f"{portal}/static/",
    }
    return web.Application(table, **settings)


async def serve(
    store_uri: str | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    token: str | None = None,
    ready: Any = None,
) -> None:
    """Run the portal until SIGINT or SIGTERM.

    Args:
        store_uri: the run store (default: ``$RUNWIDGET_STORE``, else the embedded default).
        host: the address to bind; 127.0.0.1 keeps the portal on this machine.
        port: the port (0 picks a free one).
        token: the token to ask for (default: a new random one).
        ready: called with the portal's login URL once it listens.
    """
    store = open_store(store_uri)
    token = token or secrets.token_hex(24)
    sockets = bind_sockets(port, address=host)
    bound = sockets[0].getsockname()[1]
    app = make_app(store, token=token, cookie_suffix=f"-{bound}")
    server = HTTPServer(app)
    server.add_sockets(sockets)
    shown_host = f"[{host}]" if ":" in host else host
    url = f"http://{shown_host}:{bound}/runwidget/?token={token}"
    if ready is not None:
        ready(url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        # Not in the main thread, or on Windows: stopped by the caller instead.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    logger.info("runwidget portal of %s at http://%s:%d/runwidget/", store, shown_host, bound)
    try:
        await stop.wait()
    finally:
        server.stop()
        app.settings["runwidget_executor"].shutdown(wait=False)
