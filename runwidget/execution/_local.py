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
from pathlib import Path

from runwidget import _settings
from runwidget.errors import RunwidgetError

# Settings (read in runwidget._settings); a run's processes pass the first two on.
ENV_EXEC_DIR = _settings.EXEC_DIR.name
ENV_CANCEL_GRACE = _settings.CANCEL_GRACE.name
ENV_MAX_LOCAL_RUNS = _settings.MAX_LOCAL_RUNS.name
ENV_KEEP_WORKDIR = _settings.KEEP_WORKDIR.name
# The script's environment variables given in ScriptRunConfig, as JSON, for the supervisor
# (kept out of its own environment, where e.g. a PYTHONHOME meant for the script would hurt).
ENV_SCRIPT_ENV = "RUNWIDGET_SCRIPT_ENV"

DEFAULT_CANCEL_GRACE = float(_settings.CANCEL_GRACE.default)


def exec_dir() -> Path:
    return _settings.exec_dir()


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
    return _settings.max_local_runs()


def cancel_grace() -> float:
    """Seconds between SIGTERM and SIGKILL when a run is canceled.

    Raises:
        InvalidValueError: ``$RUNWIDGET_CANCEL_GRACE`` is not a number of seconds >= 0.
    """
    return _settings.cancel_grace()


def keep_workdir() -> bool:
    """Whether to keep a run's working copy (``$RUNWIDGET_KEEP_WORKDIR``).

    Raises:
        InvalidValueError: the variable is not a yes or no.
    """
    return _settings.keep_workdir()
