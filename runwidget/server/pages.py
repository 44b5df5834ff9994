"""The portal's pages: one HTML shell per page that loads the portal script.

The shell holds no user-written string: the script fetches everything from the API and
draws user strings as text. What the shell passes to the script (the page kind, a run id
or experiment name taken from the URL) is JSON inside a ``<script type=application/json>``
with ``<``, ``>`` and ``&`` escaped, so a crafted URL cannot close the element.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runwidget.server.handlers import RUN_ID, ServiceMixin, json_text

STATIC_DIR = Path(__file__).resolve().parent.parent / "static" / "portal"

_SHELL = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>runwidget</title>
<link rel="icon" href="{static}/favicon.svg">
<link rel="stylesheet" href="{static}/portal.css?v={stamp}">
<script id="runwidget-config" type="application/json">{config}</script>
</head>
<body>
<div id="runwidget-portal"><noscript>The runwidget portal needs JavaScript.</noscript></div>
<script src="{static}/portal.js?v={stamp}"></script>
</body>
</html>
"""


def script_json(data: Any) -> str:
    """JSON that is safe inside a ``<script>`` element."""
    text = json_text(data)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _stamp() -> str:
    script = STATIC_DIR / "portal.js"
    return str(int(script.stat().st_mtime)) if script.exists() else "0"


def render_shell(*, base: str, page: str, params: dict[str, Any], mode: str) -> str:
    """The HTML of one portal page.

    Args:
        base: the absolute path of the portal (``/runwidget`` under the server's base URL).
        page: which page the script draws.
        params: the page's parameters from the URL.
        mode: ``"jupyter"`` or ``"standalone"``.
    """
    config = {"base": base, "api": f"{base}/api", "page": page, "params": params, "mode": mode}
    return _SHELL.format(static=f"{base}/static", stamp=_stamp(), config=script_json(config))


class PageMixin(ServiceMixin):
    """``GET`` of a portal page. The base class authenticates (and redirects to login)."""

    page: str = "home"
    portal_mode: str = "jupyter"

    def portal_base(self) -> str:
        base: str = self.settings["runwidget_portal_base"]
        return base

    def render_page(self, **params: Any) -> None:
        _ = self.xsrf_token  # sets the _xsrf cookie that the script sends back on POST
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(
            render_shell(base=self.portal_base(), page=self.page, params=params,
                         mode=self.portal_mode)
        )  # fmt: skip


class HomePage(PageMixin):
    page = "home"

    def get(self) -> None:
        self.render_page()


class ActivePage(PageMixin):
    page = "active"

    def get(self) -> None:
        self.render_page()


class ExperimentPage(PageMixin):
    page = "experiment"

    def get(self, name: str) -> None:
        self.render_page(experiment=name)


class RunPage(PageMixin):
    page = "run"

    def get(self, run_id: str) -> None:
        self.render_page(run=run_id)


class ComputePage(PageMixin):
    page = "compute"

    def get(self) -> None:
        self.render_page()


class RunsPage(PageMixin):
    """Every run, or those of one compute target (``runs?target=NAME``)."""

    page = "runs"

    def get(self) -> None:
        self.render_page(target=self.get_argument("target", None))


class ComparePage(PageMixin):
    page = "compare"

    def get(self) -> None:
        runs = [r for item in self.get_arguments("runs") for r in item.split(",") if r]
        self.render_page(runs=runs, experiment=self.get_argument("experiment", None))


PAGE_ROUTES: list[tuple[str, type]] = [
    (r"/?", HomePage),
    (r"/active", ActivePage),
    (r"/experiments/(?P<name>[^/]+)", ExperimentPage),
    (r"/runs/?", RunsPage),
    (rf"/runs/{RUN_ID}", RunPage),
    (r"/compute", ComputePage),
    (r"/compare", ComparePage),
]
