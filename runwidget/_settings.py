"""Settings read from the environment, each when it is needed, with a clear error when bad.

Every ``RUNWIDGET_*`` variable a user may set is in ``SETTINGS`` below, with its type, default,
minimum and what it does; the README's "Settings" table lists the same. Each has a small
function (``connect_timeout()``, ``max_buffered()``, ...) that reads it at the moment it is
needed, never at import, so a bad value fails the call that uses it, not ``import runwidget``.
An empty variable counts as unset.

Not settings, and so not here: the variables that carry runwidget's own state from one process
to another. They are written by runwidget for a child process and read back by it there, and
stay next to the code that writes them:

* ``RUNWIDGET_STORE`` -- the user's choice of store is resolved with the store registry in
  ``runwidget/store/__init__.py`` (argument > variable > default); it is also how a
  supervisor, a Ray job and the script they run learn their run's store.
* ``RUNWIDGET_RUN_ID`` -- the run a submitted script belongs to (``tracking/context.py``).
* ``RUNWIDGET_VERDICT_FILE`` -- where the script records ``run.fail()`` / ``run.cancel()``
  for its supervisor (``tracking/context.py``).
* ``RUNWIDGET_SCRIPT_ENV`` -- the script's own variables, as JSON, passed through the
  supervisor (``execution/_local.py``).
* ``RUNWIDGET_AUTOML_DATA`` -- the training data file of an AutoML search (``automl/search.py``).
* ``RUNWIDGET_JUPYTER_URL``, ``RUNWIDGET_JUPYTER_STORE`` -- set by the Jupyter server
  extension for its kernels: the portal it serves and that portal's store
  (``tracking/_portal.py``).

``RUNWIDGET_EXEC_DIR`` and ``RUNWIDGET_CANCEL_GRACE`` are settings that runwidget also passes
on to the processes it starts, so that they agree with their parent.
"""

from __future__ import annotations

import functools
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runwidget.errors import InvalidValueError

# Variables runwidget passes between its own processes (see the module docstring).
PROTOCOL_VARIABLES = frozenset(
    {
        "RUNWIDGET_STORE",
        "RUNWIDGET_RUN_ID",
        "RUNWIDGET_VERDICT_FILE",
        "RUNWIDGET_SCRIPT_ENV",
        "RUNWIDGET_AUTOML_DATA",
        "RUNWIDGET_JUPYTER_URL",
        "RUNWIDGET_JUPYTER_STORE",
    }
)

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


@dataclass(frozen=True)
class Setting:
    """One environment variable: how it is read, its default, and what it does.

    ``kind`` is ``"seconds"`` (a float), ``"count"`` or ``"bytes"`` (an int), ``"flag"`` (a
    bool), ``"url"`` (an ``http(s)://`` URL or an absolute path), ``"http"`` (an
    ``http(s)://`` URL) or ``"text"``. A ``default``
    of ``None`` is worked out when read (``default_text`` says how).
    """

    name: str
    kind: str
    default: Any
    doc: str
    minimum: float = 0
    default_text: str = ""

    def default_shown(self) -> str:
        """The default as the README and the error messages write it."""
        if self.default_text:
            return self.default_text
        if self.kind == "bytes":
            return f"{self.default} ({_mib(self.default)})"
        if self.kind == "count":
            return f"{self.default:,}"
        if self.kind == "flag":
            return "off"
        if self.default is None:
            return "none"
        return f"{self.default:g} s" if self.kind == "seconds" else f"`{self.default}`"

    def accepted(self) -> str:
        """What the variable accepts, in words."""
        if self.kind == "seconds":
            return f"a number of seconds >= {self.minimum:g}"
        if self.kind in ("count", "bytes"):
            unit = "" if self.kind == "count" else " of bytes"
            if self.minimum == 1 and self.kind == "count":
                return "a positive integer"
            return f"a whole number{unit} >= {self.minimum:g}"
        if self.kind == "flag":
            return f"one of {', '.join(_TRUE + _FALSE)}"
        if self.kind == "url":
            return "an http:// or https:// URL, or a path starting with /"
        if self.kind == "http":
            return "an http:// or https:// URL"
        return "any text"

    def read(self) -> Any:
        """The variable's value now, or the default when it is unset or empty.

        Raises:
            InvalidValueError: the value is not what the setting accepts.
        """
        text = os.environ.get(self.name, "").strip()
        if not text:
            return self.default
        return _parse(self, text)

    def error(self, text: str) -> InvalidValueError:
        return InvalidValueError(
            f"{self.name}={text!r} is not {self.accepted()} "
            f"(default: {self.default_shown()}). {self.doc}"
        )


def _mib(n: int) -> str:
    return f"{n / 1024 / 1024:g} MiB"


@functools.lru_cache(maxsize=256)
def _parse(setting: Setting, text: str) -> Any:
    # Cached by text: the heartbeat timeout is read on every status a reader shows.
    kind = setting.kind
    if kind == "flag":
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise setting.error(text)
    if kind == "url":
        if not text.startswith(("http://", "https://", "/")):
            raise setting.error(text)
        return text
    if kind == "http":
        if not text.startswith(("http://", "https://")) or len(text.split("//", 1)[1]) == 0:
            raise setting.error(text)
        return text
    if kind == "text":
        return text
    try:
        value: float = float(text) if kind == "seconds" else int(text)
    except ValueError:
        raise setting.error(text) from None
    if not value >= setting.minimum:  # also refuses NaN
        raise setting.error(text)
    return value


CONNECT_TIMEOUT = Setting(
    "RUNWIDGET_CONNECT_TIMEOUT", "seconds", 10.0, minimum=1,
    doc="How long opening a connection to a PostgreSQL store or a Ray cluster may take.",
)  # fmt: skip
CANCEL_GRACE = Setting(
    "RUNWIDGET_CANCEL_GRACE", "seconds", 10.0,
    doc="Seconds between SIGTERM and SIGKILL when a run is canceled.",
)  # fmt: skip
MAX_LOCAL_RUNS = Setting(
    "RUNWIDGET_MAX_LOCAL_RUNS", "count", None, minimum=1, default_text="the number of cores",
    doc="How many local runs may run at once; later ones wait as Queued.",
)  # fmt: skip
EXEC_DIR = Setting(
    "RUNWIDGET_EXEC_DIR", "text", None, default_text="`<temp dir>/runwidget-<uid>`",
    doc="The folder of local runs' slots, queue and working copies (local to the machine).",
)  # fmt: skip
KEEP_WORKDIR = Setting(
    "RUNWIDGET_KEEP_WORKDIR", "flag", False,
    doc="Keep a local run's working copy of its snapshot after it ends.",
)  # fmt: skip
CLUSTER_LOST_AFTER = Setting(
    "RUNWIDGET_CLUSTER_LOST_AFTER", "seconds", 90.0, minimum=1,
    doc="Seconds a Ray cluster may stay unreachable before its runs are Failed.",
)  # fmt: skip
HEARTBEAT_INTERVAL = Setting(
    "RUNWIDGET_HEARTBEAT_INTERVAL", "seconds", 15.0,
    doc="Seconds between the heartbeats a live run writes.",
)  # fmt: skip
HEARTBEAT_TIMEOUT = Setting(
    "RUNWIDGET_HEARTBEAT_TIMEOUT", "seconds", 60.0,
    doc="Seconds without a heartbeat after which a live run reads NotResponding.",
)  # fmt: skip
FLUSH_INTERVAL = Setting(
    "RUNWIDGET_FLUSH_INTERVAL", "seconds", 0.5,
    doc="Seconds between the writer thread's writes of logged points to the store.",
)  # fmt: skip
MAX_BUFFERED = Setting(
    "RUNWIDGET_MAX_BUFFERED", "count", 2_000_000, minimum=1,
    doc="Items kept in memory while the store is unreachable; later ones are dropped.",
)  # fmt: skip
EXIT_FLUSH_TIMEOUT = Setting(
    "RUNWIDGET_EXIT_FLUSH_TIMEOUT", "seconds", 60.0,
    doc="Seconds the interpreter's exit waits for the store to take what is left.",
)  # fmt: skip
MAX_FILE_BYTES = Setting(
    "RUNWIDGET_MAX_FILE_BYTES", "bytes", 256 * 1024 * 1024,
    doc="The largest file a run may upload or log.",
)  # fmt: skip
MAX_SNAPSHOT_BYTES = Setting(
    "RUNWIDGET_MAX_SNAPSHOT_BYTES", "bytes", 300 * 1024 * 1024,
    doc="The most a submitted run's source snapshot may hold.",
)  # fmt: skip
MLFLOW_STALE_AFTER = Setting(
    "RUNWIDGET_MLFLOW_STALE_AFTER", "seconds", 600.0,
    doc="Seconds without a change after which a RUNNING MLflow run reads NotResponding.",
)  # fmt: skip
PORTAL_URL = Setting(
    "RUNWIDGET_PORTAL_URL", "url", "http://127.0.0.1:8777/runwidget",
    doc="Where run links point when no Jupyter server with runwidget, and no running "
    "`runwidget portal` of this machine, serves the run's store.",
)  # fmt: skip
SYSTEM_METRICS_INTERVAL = Setting(
    "RUNWIDGET_SYSTEM_METRICS_INTERVAL", "seconds", 10.0,
    doc="Seconds between a submitted run's samples of its CPU, memory, disk, network and GPU "
    "use (0: none).",
)  # fmt: skip
ALERT_WEBHOOK = Setting(
    "RUNWIDGET_ALERT_WEBHOOK", "http", None,
    doc="A URL that every new alert is POSTed to, as JSON.",
)  # fmt: skip
PORTAL_TOKEN = Setting(
    "RUNWIDGET_PORTAL_TOKEN", "text", None, default_text="a new random token",
    doc="The token `runwidget portal` asks for.",
)  # fmt: skip

SETTINGS: tuple[Setting, ...] = (
    CONNECT_TIMEOUT,
    CANCEL_GRACE,
    MAX_LOCAL_RUNS,
    EXEC_DIR,
    KEEP_WORKDIR,
    CLUSTER_LOST_AFTER,
    HEARTBEAT_INTERVAL,
    HEARTBEAT_TIMEOUT,
    FLUSH_INTERVAL,
    MAX_BUFFERED,
    EXIT_FLUSH_TIMEOUT,
    MAX_FILE_BYTES,
    MAX_SNAPSHOT_BYTES,
    MLFLOW_STALE_AFTER,
    PORTAL_URL,
    PORTAL_TOKEN,
    SYSTEM_METRICS_INTERVAL,
    ALERT_WEBHOOK,
)


def seconds(name: str, default: float, *, minimum: float = 0.0) -> float:
    """The number of seconds in ``$name``, or ``default`` when it is unset or empty.

    Raises:
        InvalidValueError: the variable is not a number, or is below ``minimum``.
    """
    return float(Setting(name, "seconds", default, doc="A time limit.", minimum=minimum).read())


def connect_timeout() -> float:
    """How long opening a connection to a store or a cluster may take."""
    return float(CONNECT_TIMEOUT.read())


def cancel_grace() -> float:
    """Seconds between SIGTERM and SIGKILL when a run is canceled."""
    return float(CANCEL_GRACE.read())


def max_local_runs() -> int:
    """How many local runs may run at once: the variable, else the number of cores."""
    value = MAX_LOCAL_RUNS.read()
    return max(1, os.cpu_count() or 1) if value is None else int(value)


def exec_dir() -> Path:
    """The folder of local runs, resolved."""
    configured = EXEC_DIR.read()
    if configured:
        return Path(configured).expanduser().resolve()
    uid = os.getuid() if hasattr(os, "getuid") else os.getlogin()
    return Path(tempfile.gettempdir()) / f"runwidget-{uid}"


def keep_workdir() -> bool:
    return bool(KEEP_WORKDIR.read())


def cluster_lost_after() -> float:
    return float(CLUSTER_LOST_AFTER.read())


def heartbeat_interval() -> float:
    return float(HEARTBEAT_INTERVAL.read())


def heartbeat_timeout() -> float:
    return float(HEARTBEAT_TIMEOUT.read())


def flush_interval() -> float:
    return float(FLUSH_INTERVAL.read())


def max_buffered() -> int:
    return int(MAX_BUFFERED.read())


def exit_flush_timeout() -> float:
    return float(EXIT_FLUSH_TIMEOUT.read())


def max_file_bytes() -> int:
    return int(MAX_FILE_BYTES.read())


def max_snapshot_bytes() -> int:
    return int(MAX_SNAPSHOT_BYTES.read())


def mlflow_stale_after() -> float:
    return float(MLFLOW_STALE_AFTER.read())


def portal_url() -> str:
    """The standalone portal's URL, without a trailing slash."""
    return str(PORTAL_URL.read()).rstrip("/")


def portal_token() -> str | None:
    value = PORTAL_TOKEN.read()
    return None if value is None else str(value)


def system_metrics_interval() -> float:
    """Seconds between samples of a submitted run's system metrics; 0 for none."""
    return float(SYSTEM_METRICS_INTERVAL.read())


def alert_webhook() -> str | None:
    value = ALERT_WEBHOOK.read()
    return None if value is None else str(value)


def readme_table() -> str:
    """The README's table of settings, as Markdown."""
    rows = ["| Variable | Default | What it does |", "| --- | --- | --- |"]
    rows += [f"| `{s.name}` | {s.default_shown()} | {s.doc} |" for s in SETTINGS]
    return "\n".join(rows)
