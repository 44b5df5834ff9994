"""Where a run's page lives in the portal, and whether anything serves it.

A run's page is on the Jupyter server the code runs in when that server has runwidget's
extension and serves the run's store (it announces itself to its kernels, and to the
scripts they submit, through ``RUNWIDGET_JUPYTER_URL``); else on a standalone portal
(``runwidget portal``) of this machine that serves the store (each one announces itself
with a small file in ``<RUNWIDGET_EXEC_DIR>/portals/`` while it runs); else at
``RUNWIDGET_PORTAL_URL``, by default ``http://127.0.0.1:8777/runwidget``.

When none of these serves the store (no such Jupyter server, no such portal running, no
``RUNWIDGET_PORTAL_URL`` set), ``portal_hint`` says how to start one: the widget shows it
as the link's tooltip, ``wait_for_completion`` prints it under the link.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path
from urllib.parse import quote

from runwidget import _settings
from runwidget.errors import InvalidValueError

logger = logging.getLogger("runwidget")

DEFAULT_PORTAL_URL = str(_settings.PORTAL_URL.default)
# Set by the Jupyter server extension for the kernels it starts.
JUPYTER_URL_VAR = "RUNWIDGET_JUPYTER_URL"
JUPYTER_STORE_VAR = "RUNWIDGET_JUPYTER_STORE"
PORTAL_URL_VAR = _settings.PORTAL_URL.name


def _jupyter_serves(store_uri: str | None) -> str | None:
    jupyter = os.environ.get(JUPYTER_URL_VAR)
    if jupyter and (store_uri is None or store_uri == os.environ.get(JUPYTER_STORE_VAR)):
        return jupyter.rstrip("/")
    return None


def portal_base(store_uri: str | None = None) -> str:
    """The portal's URL, without a trailing slash.

    Args:
        store_uri: the store the run lives in, when known: the Jupyter server's portal (or
            a running standalone portal) is chosen only if it serves that store.
    """
    jupyter = _jupyter_serves(store_uri)
    if jupyter:
        return jupyter
    if not os.environ.get(PORTAL_URL_VAR) and store_uri is not None:
        running = running_portal(store_uri)
        if running:
            return running
    return _settings.portal_url()


def portal_hint(store_uri: str) -> str | None:
    """How to start a portal for ``store_uri``, when nothing is known to serve it; None
    when a Jupyter server, a running standalone portal or ``RUNWIDGET_PORTAL_URL`` does."""
    if _jupyter_serves(store_uri) or os.environ.get(PORTAL_URL_VAR) or running_portal(store_uri):
        return None
    from runwidget.store import redact_uri, resolve_store_uri

    try:  # the store `runwidget portal` opens without --store
        default = store_uri == resolve_store_uri()
    except Exception:  # noqa: BLE001 - only decides how the command reads
        default = False
    command = "runwidget portal"
    if not default:
        command += f" --store '{redact_uri(store_uri)}'"
    return (
        f"No portal serves this run's store yet: start one with `{command}` (it prints its "
        "address and token), or open JupyterLab with runwidget installed."
    )


def run_path(base: str, run_id: str) -> str:
    """The run page under a portal base URL or path."""
    return f"{base.rstrip('/')}/runs/{quote(run_id, safe='')}"


def run_url(run_id: str, store_uri: str | None = None) -> str:
    return run_path(portal_base(store_uri), run_id)


def models_url(name: str | None = None, store_uri: str | None = None) -> str:
    """The portal's Models page (of one model's versions when ``name`` is given)."""
    base = f"{portal_base(store_uri)}/models"
    return base if name is None else f"{base}?name={quote(name, safe='')}"


def set_jupyter_server(url: str, store_uri: str) -> None:
    """Announce the Jupyter server's portal to the kernels this process starts."""
    os.environ[JUPYTER_URL_VAR] = url
    os.environ[JUPYTER_STORE_VAR] = store_uri


# -- standalone portals of this machine ------------------------------------------------------
def _portals_dir() -> Path:
    return _settings.exec_dir() / "portals"


def announce_portal(url: str, store_uri: str) -> Path | None:
    """Record that this process serves ``store_uri``'s portal at ``url`` (until
    ``withdraw_portal``). Returns the announcement's file, or None if it cannot be written
    (the portal still serves; links then point at ``RUNWIDGET_PORTAL_URL``)."""
    try:
        folder = _portals_dir()
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = folder / f"portal-{os.getpid()}.json"
        text = json.dumps({"pid": os.getpid(), "url": url.rstrip("/"), "store": store_uri})
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
        return path
    except (OSError, InvalidValueError) as e:
        logger.warning("runwidget: cannot announce the portal to this machine's runs: %s", e)
        return None


def withdraw_portal(path: Path | None) -> None:
    if path is not None:
        with contextlib.suppress(OSError):
            path.unlink()


def running_portal(store_uri: str) -> str | None:
    """The URL of a standalone portal of this machine that serves ``store_uri`` now."""
    try:
        files = sorted(_portals_dir().glob("portal-*.json"))
    except (OSError, InvalidValueError):
        return None
    for file in files:
        try:
            found = json.loads(file.read_text(encoding="utf-8"))
            pid, url, store = int(found["pid"]), str(found["url"]), found["store"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if store == store_uri and _alive(pid):
            return url
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    except OSError:
        return False
    return True
