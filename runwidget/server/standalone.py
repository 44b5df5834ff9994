"""The standalone portal (``runwidget portal``): the same API and pages without Jupyter.

It binds to 127.0.0.1 unless told otherwise and asks for a token: a request is let in with
``?token=...`` in the URL (once: a signed cookie then keeps the browser logged in), with an
``Authorization: token ...`` header, or after typing the token into the login page. POSTs
need the ``_xsrf`` cookie echoed in ``X-XSRFToken``, except with the token header.

Every answer carries the Content-Security-Policy the Jupyter extension sends too
(``runwidget.server.app``) and ``X-Content-Type-Options: nosniff``. A request whose Host is
not one of the portal's names (127.0.0.1, localhost, [::1] and the address it binds, any
port) is refused, so that a web page cannot reach the portal through a name of its own
(DNS rebinding). No log line holds a token.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import logging
import secrets
import signal
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from tornado import web
from tornado.httpserver import HTTPServer
from tornado.httputil import url_concat
from tornado.log import access_log
from tornado.netutil import bind_sockets

from runwidget.server.app import (
    API_POLICY,
    PAGE_POLICY,
    StaticHandler,
    portal_settings,
    routes,
    url_join,
)
from runwidget.server.handlers import LogMixin, MixinBase, request_summary
from runwidget.server.pages import STATIC_DIR
from runwidget.store import RunStore, open_store, redact_uri
from runwidget.tracking import _portal

logger = logging.getLogger("runwidget.portal")

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
_ANY_ADDRESS = ("", "0.0.0.0", "::", "*")

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


class _Headers(MixinBase):
    """The security headers of every answer, errors and redirects included."""

    policy = API_POLICY

    def set_default_headers(self) -> None:
        set_header = self.set_header
        set_header("Content-Security-Policy", self.policy)
        set_header("X-Content-Type-Options", "nosniff")
        set_header("X-Frame-Options", "SAMEORIGIN")
        set_header("Referrer-Policy", "same-origin")


class _StandaloneBase(_Headers, LogMixin, web.RequestHandler):
    """Authenticates with the portal's token or its signed login cookie."""

    portal_mode = "standalone"
    policy = PAGE_POLICY

    @property
    def _token(self) -> str:
        token: str = self.settings["runwidget_token"]
        return token

    @property
    def _cookie_name(self) -> str:
        name: str = self.settings["runwidget_cookie"]
        return name

    def _header_token(self) -> str | None:
        header = self.request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        return value.strip() if scheme.lower() == "token" and value.strip() else None

    def _matches(self, token: str | None) -> bool:
        if not token:
            return False
        return hmac.compare_digest(token.encode(), self._token.encode())

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


class StandaloneApiBase(_StandaloneBase):
    """API handlers: 403 without the token (``ApiMixin`` writes errors as JSON)."""

    policy = API_POLICY

    def prepare(self) -> None:
        if self.current_user is None:
            raise web.HTTPError(403, "this portal needs its token")


class StandalonePageBase(_StandaloneBase):
    """Pages: a visitor without the token goes to the login page."""

    def prepare(self) -> None:
        if self.current_user is None:
            self.redirect(url_concat(self.get_login_url(), {"next": self.request.uri}))
        elif self.get_query_argument("token", None):
            # Logged in now (the cookie is set): drop the token from the address bar.
            self.redirect(self.request.path)


def local_path(target: str, fallback: str) -> str:
    """``target`` when it is a path on this server, else ``fallback``: never an open
    redirect. Refused: a scheme or a host; a path that does not start with one ``/``;
    backslashes, raw or percent-encoded (browsers read ``/\\host`` as ``//host``); spaces
    and control characters (browsers drop tabs and newlines, which can make ``//``)."""
    if not target or not target.isascii():
        return fallback
    decoded = unquote(target)
    if any(c <= " " or c == "\x7f" for c in target) or any(c < " " or c == "\x7f" for c in decoded):
        return fallback
    if "\\" in decoded:
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return fallback
    if target.startswith("//") or unquote(parts.path).startswith("//"):
        return fallback
    return target


class LoginHandler(_StandaloneBase):
    def _safe_next(self) -> str:
        home = self.settings["runwidget_portal_base"] + "/"
        return local_path(self.get_argument("next", ""), home)

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


class _Static(_Headers, StaticHandler):
    pass


class _Redirect(_Headers, LogMixin, web.RedirectHandler):
    pass


class _NotFound(_Headers, LogMixin, web.ErrorHandler):
    pass


class _UnknownHost(_Headers, LogMixin, web.RequestHandler):
    def prepare(self) -> None:
        raise web.HTTPError(403, "Host %r is not a name of this portal", self.request.host)


@dataclass(frozen=True)
class PortalHosts:
    """The Host names (without port) the portal answers to.

    Args:
        names: the names, lower-case, IPv6 addresses in brackets.
        any_address: also any IP address (a Host that is an address cannot be a DNS
            rebinding): for a portal that binds every interface.
    """

    names: frozenset[str]
    any_address: bool = False

    @classmethod
    def binding(cls, host: str) -> PortalHosts:
        """The names of a portal that binds ``host``: the loopback names and ``host``; for
        an address of every interface, the machine's names and any IP address."""
        names = set(LOOPBACK_NAMES)
        bound = host.strip().lower()
        if bound in _ANY_ADDRESS:
            with contextlib.suppress(OSError):
                names.update({socket.gethostname().lower(), socket.getfqdn().lower()})
            return cls(frozenset(names), any_address=True)
        names.add(f"[{bound}]" if ":" in bound and not bound.startswith("[") else bound)
        return cls(frozenset(names))

    def allows(self, name: str) -> bool:
        return name in self.names or (self.any_address and _is_ip(name))


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name[1:-1] if name.startswith("[") else name)
    except ValueError:
        return False
    return True


class _PortalApplication(web.Application):
    """Refuses a request for a Host that is not one of the portal's names, before routing."""

    def find_handler(self, request: Any, **kwargs: Any) -> Any:
        if not self.settings["runwidget_hosts"].allows(request.host_name):
            return self.get_handler_delegate(request, _UnknownHost)
        return super().find_handler(request, **kwargs)


def _log_request(handler: web.RequestHandler) -> None:
    """Tornado's access log line, without a token."""
    status = handler.get_status()
    if status < 400:
        log = access_log.info
    elif status < 500:
        log = access_log.warning
    else:
        log = access_log.error
    elapsed = 1000.0 * handler.request.request_time()
    log("%d %s %.2fms", status, request_summary(handler.request), elapsed)


def make_app(
    store: RunStore,
    *,
    token: str,
    base_url: str = "/",
    cookie_suffix: str = "",
    hosts: PortalHosts | None = None,
    cookie_secret: bytes | None = None,
) -> web.Application:
    """The portal's tornado application.

    Args:
        hosts: the Host names it answers to (default: those of a portal on 127.0.0.1).
        cookie_secret: signs its login cookies (default: a new random one); the processes
            of one portal share it, so that a login with one holds with all.
    """
    portal = url_join(base_url, "runwidget")

    def run_page(run_id: str) -> str:
        return _portal.run_path(portal, run_id)

    table = routes(
        base_url, api_base=StandaloneApiBase, page_base=StandalonePageBase, static_base=_Static
    )
    table += [
        (f"{portal}/login", LoginHandler),
        (f"{portal}/logout", LogoutHandler),
        (url_join(base_url), _Redirect, {"url": f"{portal}/"}),
    ]
    settings = {
        **portal_settings(store, base_url=base_url, portal_url=run_page),
        "runwidget_token": token,
        "runwidget_cookie": f"runwidget-portal{cookie_suffix}",
        "runwidget_hosts": hosts or PortalHosts.binding("127.0.0.1"),
        "cookie_secret": cookie_secret or secrets.token_bytes(32),
        "xsrf_cookies": True,
        "login_url": f"{portal}/login",
        "static_path": str(STATIC_DIR),
        "static_url_prefix": f"{portal}/static/",
        "static_handler_class": _Static,
        "default_handler_class": _NotFound,
        "default_handler_args": {"status_code": 404},
        "log_function": _log_request,
    }
    return _PortalApplication(table, **settings)


@dataclass
class Listening:
    """What every process of one portal shares: its bound sockets, its token and the
    secret of its login cookies."""

    sockets: list[socket.socket]
    host: str
    port: int
    token: str
    cookie_secret: bytes

    @property
    def shown_host(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host

    @property
    def login_url(self) -> str:
        return f"http://{self.shown_host}:{self.port}/runwidget/?token={self.token}"

    @property
    def link_base(self) -> str:
        """Where links to this store's runs (get_portal_url, the widget's) on this machine
        point."""
        host = "127.0.0.1" if self.host in ("", "0.0.0.0", "::") else self.shown_host
        return f"http://{host}:{self.port}/runwidget"

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()


def listen(
    host: str = "127.0.0.1", port: int = DEFAULT_PORT, token: str | None = None
) -> Listening:
    """Bind the portal's sockets (port 0 picks a free one)."""
    sockets = bind_sockets(port, address=host)
    return Listening(
        sockets, host, sockets[0].getsockname()[1], token or secrets.token_hex(24),
        secrets.token_bytes(32),
    )  # fmt: skip


async def serve(
    store_uri: str | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    token: str | None = None,
    ready: Any = None,
) -> None:
    """Run the portal in this process until SIGINT or SIGTERM.

    Args:
        store_uri: the run store (default: ``$RUNWIDGET_STORE``, else the embedded default).
        host: the address to bind; 127.0.0.1 keeps the portal on this machine.
        port: the port (0 picks a free one).
        token: the token to ask for (default: a new random one).
        ready: called with the portal's login URL once it listens.
    """
    store = open_store(store_uri)
    listening = listen(host, port, token)
    announcement = _portal.announce_portal(listening.link_base, store.uri)
    try:
        await serve_sockets(store, listening, ready=ready)
    finally:
        _portal.withdraw_portal(announcement)


async def serve_sockets(store: RunStore, listening: Listening, *, ready: Any = None) -> None:
    """Answer on ``listening``'s sockets from ``store`` until SIGINT or SIGTERM (one
    process of a portal)."""
    app = make_app(
        store, token=listening.token, cookie_suffix=f"-{listening.port}",
        hosts=PortalHosts.binding(listening.host), cookie_secret=listening.cookie_secret,
    )  # fmt: skip
    server = HTTPServer(app)
    server.add_sockets(listening.sockets)
    if ready is not None:
        ready(listening.login_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        # Not in the main thread, or on Windows: stopped by the caller instead.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    logger.info(
        "runwidget portal of %s at http://%s:%d/runwidget/",
        redact_uri(store.uri),
        listening.shown_host,
        listening.port,
    )
    try:
        await stop.wait()
    finally:
        server.stop()
        app.settings["runwidget_executor"].shutdown(wait=False)
