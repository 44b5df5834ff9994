"""Settings and on-disk layout of local execution.

Everything lives under one directory per user and machine, ``$RUNWIDGET_EXEC_DIR`` or
``<temp dir>/runwidget-<uid>``::

    slots/<n>.lock                one lock per concurrent run (held by a running supervisor)
    queue/<time>-<run id>.ticket  one ticket per waiting run, oldest first
    runs/<run id>/work/           the snapshot copy the script runs in (its working directory)
    runs/<run id>/supervisor.log  the supervisor's own messages (not the script's output)
    runs/<run id>/verdict.json    what the script said of itself (run.fail(), run.cancel())

It must be local to the machine: slots and tickets are advisory file locks.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from runwidget.errors import InvalidValueError, RunwidgetError
from runwidget.store import RunType

ENV_EXEC_DIR = "RUNWIDGET_EXEC_DIR"
ENV_MAX_LOCAL_RUNS = "RUNWIDGET_MAX_LOCAL_RUNS"
ENV_CANCEL_GRACE = "RUNWIDGET_CANCEL_GRACE"
ENV_KEEP_WORKDIR = "RUNWIDGET_KEEP_WORKDIR"
# The script's environment variables given in ScriptRunConfig, as JSON, for the supervisor
# (kept out of its own environment, where e.g. a PYTHONHOME meant for the script would hurt).
ENV_SCRIPT_ENV = "RUNWIDGET_SCRIPT_ENV"

DEFAULT_CANCEL_GRACE = 10.0

# Types of the runs that a local supervisor runs: a submitted script, and an AutoML search
# (whose search loop is the script; see ``runwidget.automl``). Cancel, heartbeat and reaping
# work alike for both.
SUPERVISED_TYPES = frozenset({RunType.SCRIPT, RunType.AUTOML})


def exec_dir() -> Path:
    configured = os.environ.get(ENV_EXEC_DIR)
    if configured:
        return Path(configured).expanduser().resolve()
    uid = os.getuid() if hasattr(os, "getuid") else os.getlogin()
    return Path(tempfile.gettempdir()) / f"runwidget-{uid}"


def ensure_exec_dir() -> Path:
    """Create the exec dir (mode 0700) and check that it is this user's own folder.

    Raises:
        RunwidgetError: the path is a symlink or a folder owned by another user (in a shared
            temp dir, someone else may have made it first).
    """
    base = exec_dir()
    base.mkdir(parents=True, exist_ok=True, mode=0o700)
    info = os.lstat(base)
    if (
        stat.S_ISLNK(info.st_mode)
        or not stat.S_ISDIR(info.st_mode)
        or (hasattr(os, "getuid") and info.st_uid != os.getuid())
    ):
        raise RunwidgetError(
            f"local runs' folder {str(base)!r} is not a folder of this user's own; remove it, "
            f"or set {ENV_EXEC_DIR} to another folder"
        )
    if info.st_mode & 0o077:
        base.chmod(0o700)
    return base


def run_dir(run_id: str, base: Path | None = None) -> Path:
    return (base or exec_dir()) / "runs" / run_id


def ensure_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def max_local_runs() -> int:
    """How many local runs may run at once: ``$RUNWIDGET_MAX_LOCAL_RUNS``, else the cores.

    Raises:
        InvalidValueError: the variable is set to something else than a positive integer.
    """
    raw = os.environ.get(ENV_MAX_LOCAL_RUNS, "").strip()
    if not raw:
        return max(1, os.cpu_count() or 1)
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise InvalidValueError(
            f"{ENV_MAX_LOCAL_RUNS}={raw!r} is not a positive integer; set it to the number of "
            "local runs allowed at once (default: the number of cores)"
        )
    return value


def cancel_grace() -> float:
    """Seconds between SIGTERM and SIGKILL when a run is canceled.

    Raises:
        InvalidValueError: ``$RUNWIDGET_CANCEL_GRACE`` is not a number of seconds >= 0.
    """
    raw = os.environ.get(ENV_CANCEL_GRACE, "").strip()
    if not raw:
        return DEFAULT_CANCEL_GRACE
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise InvalidValueError(
            f"{ENV_CANCEL_GRACE}={raw!r} is not a number of seconds >= 0 "
            f"(default {DEFAULT_CANCEL_GRACE:g})"
        )
    return value


def keep_workdir() -> bool:
    return os.environ.get(ENV_KEEP_WORKDIR, "").strip().lower() in ("1", "true", "yes")
