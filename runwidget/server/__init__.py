"""runwidget without a kernel: the Jupyter server extension (REST API, portal pages) and
the standalone portal (``runwidget portal``)."""

from __future__ import annotations

from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "runwidget.server"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    from runwidget.server.extension import load

    load(serverapp)
