"""Where a run's page lives in the portal.

A run's page is on the Jupyter server the code runs in when that server has runwidget's
extension (it announces itself to its kernels, and to the scripts they submit, through
``RUNWIDGET_JUPYTER_URL``); else on the standalone portal (``runwidget portal``) at
``RUNWIDGET_PORTAL_URL``, by default ``http://127.0.0.1:8777/runwidget``.
"""

from __future__ import annotations

import os
from urllib.parse import quote

from runwidget import _settings

DEFAULT_PORTAL_URL = str(_settings.PORTAL_URL.default)
# Set by the Jupyter server extension for the kernels it starts.
JUPYTER_URL_VAR = "RUNWIDGET_JUPYTER_URL"
JUPYTER_STORE_VAR = "RUNWIDGET_JUPYTER_STORE"
PORTAL_URL_VAR = _settings.PORTAL_URL.name


def portal_base(store_uri: str | None = None) -> str:
    """The portal's URL, without a trailing slash.

    Args:
        store_uri: the store the run lives in, when known: the Jupyter server's portal is
            chosen only if it serves that store.
    """
    jupyter = os.environ.get(JUPYTER_URL_VAR)
    if jupyter and (store_uri is None or store_uri == os.environ.get(JUPYTER_STORE_VAR)):
        return jupyter.rstrip("/")
    return _settings.portal_url()


def run_path(base: str, run_id: str) -> str:
    """The run page under a portal base URL or path."""
    return f"{base.rstrip('/')}/runs/{quote(run_id, safe='')}"


def run_url(run_id: str, store_uri: str | None = None) -> str:
    return run_path(portal_base(store_uri), run_id)


def set_jupyter_server(url: str, store_uri: str) -> None:
    """Announce the Jupyter server's portal to the kernels this process starts."""
    os.environ[JUPYTER_URL_VAR] = url
    os.environ[JUPYTER_STORE_VAR] = store_uri
