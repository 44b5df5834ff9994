"""``ScriptRunConfig``: what to run when a script is submitted, and the submission itself."""

from __future__ import annotations

import contextlib
import io
import json
import numbers
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import make_url

from runwidget import status as st
from runwidget.errors import InvalidValueError, RunwidgetError, StoreError
from runwidget.execution import _local
from runwidget.execution._process import ProcessId, boot_id, host_name
from runwidget.execution.environment import Environment
from runwidget.execution.slots import create_ticket, remove_ticket
from runwidget.store import RunType, redact_uri
from runwidget.store.sql_runs import new_run_id
from runwidget.tracking.context import ENV_RUN_ID, ENV_STORE, ENV_VERDICT_FILE
from runwidget.tracking.providers import PROVIDERS
from runwidget.tracking.snapshot import take_snapshot

if TYPE_CHECKING:
    from runwidget.tracking.experiment import Experiment
    from runwidget.tracking.run import Run

LAUNCHER = Path(__file__).with_name("_launch.py")
LAUNCH_TIMEOUT = 30.0
# How long submit waits for the snapshot to reach the store before giving up.
SNAPSHOT_WRITE_TIMEOUT = 60.0
# Variables the supervisor sets for the script itself.
_RESERVED_ENV = frozenset({ENV_RUN_ID, ENV_STORE, ENV_VERDICT_FILE, _local.ENV_SCRIPT_ENV})


@dataclass(frozen=True)
class _Prepared:
    """A created run and the command that starts its supervisor."""

    run: Run
    command: list[str]
    env: dict[str, str]
    log_file: Path
    cwd: Path


class ScriptRunConfig:
    """A script to run locally when submitted with ``experiment.submit(config)``.

    The script runs in its own process, with the Python interpreter of the submitting
    process, in a copy of ``source_directory`` (its snapshot, also stored with the run),
    as ``python <script> <arguments...>``. Inside it, ``Run.get_context()`` is the run.

    Args:
        source_directory: the folder to copy; ``.git``, ``__pycache__``,
            ``.ipynb_checkpoints`` and the patterns of its ``.runwidgetignore`` are left out.
        script: the script's path, relative to ``source_directory``.
        arguments: command-line arguments: strings or numbers (``["--alpha", 0.1]``).
        environment_variables: extra environment variables for the script (names to
            strings or numbers).
        compute_target: where to run: ``"local"`` (default), the name of an attached target
            (``ComputeTarget.attach``), or a ``ComputeTarget``.
        environment: an ``Environment``: its variables are set for the script; on a Ray
            target its pip requirements are installed first (Ray's ``runtime_env``).

    Raises:
        InvalidValueError: ``source_directory`` is not a directory, ``script`` is not a file
            in it, an argument is not a string or a number, or an environment variable is
            not a name and a string.
    """

    def __init__(
        self,
        source_directory: str | os.PathLike[str],
        script: str | os.PathLike[str],
        arguments: Sequence[str | int | float] | None = None,
        environment_variables: Mapping[str, str | int | float] | None = None,
        compute_target: Any = None,
        environment: Environment | None = None,
    ) -> None:
        self.source_directory = _check_directory(source_directory)
        self.script = _check_script(self.source_directory, script)
        self.arguments: list[str] = _check_arguments(arguments)
        self.environment_variables: dict[str, str] = _check_environment(environment_variables)
        self.compute_target = _check_target(compute_target)
        if environment is not None and not isinstance(environment, Environment):
            raise InvalidValueError(
                f"environment must be an Environment, got {type(environment).__name__}"
            )
        self.environment = environment

    @property
    def target(self) -> str:
        """The target's name, as ``run_config.target`` in the reference SDK."""
        value = self.compute_target
        return value if isinstance(value, str) else getattr(value, "name", "local")

    @property
    def run_config(self) -> RunConfiguration:
        """The reference SDK's ``src.run_config``: its ``environment``, ``target``,
        ``arguments`` and ``script`` read and set this configuration's own."""
        return RunConfiguration(self)

    def cluster_extras(self) -> tuple[dict[str, Path], dict[str, str]]:
        """Files (name -> path) a cluster's job gets in its working directory besides the
        snapshot, and environment variables for its supervisor: none for a user's script."""
        return {}, {}

    def script_variables(self) -> dict[str, str]:
        """The script's environment variables: the environment's, then the config's own."""
        variables = {}
        if self.environment is not None:
            variables.update(_check_environment(self.environment.variables()))
        variables.update(self.environment_variables)
        return variables

    # What a configuration that runs something else than a user's script through the same
    # supervisor (an AutoML search, see ``runwidget.automl``) changes: the run's type and
    # the properties it is created with.
    run_type: str = RunType.SCRIPT
    # The run it is created under, if any (a sweep's child: see ``runwidget.hyperdrive``).
    parent_id: str | None = None

    def run_properties(self) -> dict[str, Any]:
        """Properties the run is created with, besides runwidget's own."""
        return {}

    def __repr__(self) -> str:
        return (
            f"ScriptRunConfig(source_directory={str(self.source_directory)!r}, "
            f"script={self.script!r}, arguments={self.arguments!r})"
        )

    # -- submission ------------------------------------------------------------------------
    def submit_to(self, experiment: Experiment, tags: Mapping[str, Any] | None = None) -> Run:
        """Submit to the configured compute target (called by ``experiment.submit``)."""
        # Targets sit above execution (a Ray target uses it): ``compute`` provides them.
        target = PROVIDERS.resolve_target(experiment.workspace, self.compute_target)
        run: Run = target.submit(self, experiment, tags)
        return run

    def submit_local(self, experiment: Experiment, tags: Mapping[str, Any] | None = None) -> Run:
        """Create the run (Queued), store its snapshot and start its supervisor, detached.

        Called by the local target. Everything that can be checked is checked before
        the run is created, so bad input never leaves a run behind.

        Raises:
            InvalidValueError: the configuration or the store cannot be used for local runs.
            StoreUnavailableError: the store could not be reached.
        """
        prepared = self._prepare(experiment, tags)
        run = prepared.run
        try:
            pid = _launch(prepared.log_file, prepared.cwd, prepared.command, prepared.env)
        except BaseException as error:
            remove_ticket(_local.exec_dir(), run.id)
            _abandon(run, error)
            raise
        # The supervisor records itself too; this covers one that dies before it can.
        run.store.update_run(run.id, properties=ProcessId.of(pid).as_properties("supervisor"))
        return run

    def _prepare(self, experiment: Experiment, tags: Mapping[str, Any] | None) -> _Prepared:
        """Check everything, then create the Queued run with its snapshot and queue ticket.

        Returns:
            The run and how to start its supervisor (``submit_to`` starts it detached).
        """
        from runwidget.tracking.run import Run

        if os.name != "posix":
            raise RunwidgetError(
                "local execution of submitted scripts needs a POSIX system (Linux or macOS); "
                f"this is {sys.platform!r}"
            )
        if self.environment is not None and self.environment.installs_packages():
            raise InvalidValueError(
                f"environment {self.environment.name!r} installs pip packages, which only a "
                "Ray target does; a local run uses this Python as it is "
                "(python.user_managed_dependencies = True)"
            )
        # Again at submission: the folder may have changed since the config was made.
        _check_directory(self.source_directory)
        _check_script(self.source_directory, self.script)
        store_uri = _shareable_uri(experiment.workspace.store.uri)
        # The supervisor's settings: a bad value is refused here, not in the supervisor.
        limit = _local.max_local_runs()
        _local.cancel_grace()
        _local.keep_workdir()
        snapshot = _snapshot_with_script(self)
        base = _local.ensure_exec_dir()
        run_id = new_run_id(experiment.name)
        own_dir = _local.run_dir(run_id, base)

        run = Run.create(
            experiment,
            run_id=run_id,
            run_type=self.run_type,
            parent_id=self.parent_id,
            status=st.QUEUED,
            tags=tags,
            properties={
                **self.run_properties(),
                "runwidget.script": self.script,
                "runwidget.source_directory": str(self.source_directory),
                "runwidget.host": host_name(),
                "runwidget.boot_id": boot_id(),
                "runwidget.max_local_runs": limit,
                "runwidget.run_dir": str(own_dir),
            },
            target="local",
            arguments=list(self.arguments),
        )
        try:
            _write_snapshot(run, snapshot)
            ticket = create_ticket(base, run.id, run.record.created)
            _local.ensure_dir(own_dir)
        except BaseException as error:
            remove_ticket(base, run.id)
            _abandon(run, error)
            raise
        command = [sys.executable, "-m", "runwidget.execution.supervisor", run.id,
                   "--ticket", str(ticket)]  # fmt: skip
        return _Prepared(
            run, command, self._supervisor_env(store_uri), own_dir / "supervisor.log", own_dir
        )

    def _supervisor_env(self, store_uri: str) -> dict[str, str]:
        env = dict(os.environ)
        for name in (ENV_RUN_ID, ENV_VERDICT_FILE):
            env.pop(name, None)  # a script submitting a script: the new run is its own
        env[ENV_STORE] = store_uri
        env[_local.ENV_SCRIPT_ENV] = json.dumps(self.script_variables())
        # The exec dir is made absolute here: the supervisor's working directory differs.
        env[_local.ENV_EXEC_DIR] = str(_local.exec_dir())
        if env.get("MPLBACKEND", "").startswith("module://matplotlib_inline"):
            # The notebook's inline backend means nothing in a script.
            env["MPLBACKEND"] = "Agg"
        root = str(Path(__file__).resolve().parents[2])
        if not _importable_without(root):
            # runwidget was imported from a source tree on sys.path: let the children find it.
            env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
        return env


class RunConfiguration:
    """``ScriptRunConfig.run_config``: a view of the configuration under the reference
    SDK's names; setting an attribute sets (and checks) the configuration's own."""

    def __init__(self, config: ScriptRunConfig) -> None:
        self._config = config

    @property
    def environment(self) -> Environment | None:
        return self._config.environment

    @environment.setter
    def environment(self, value: Environment | None) -> None:
        if value is not None and not isinstance(value, Environment):
            raise InvalidValueError(
                f"run_config.environment must be an Environment, got {type(value).__name__}"
            )
        self._config.environment = value

    @property
    def target(self) -> str:
        return self._config.target

    @target.setter
    def target(self, value: Any) -> None:
        self._config.compute_target = _check_target(value)

    @property
    def arguments(self) -> list[str]:
        return self._config.arguments

    @arguments.setter
    def arguments(self, value: Sequence[str | int | float] | None) -> None:
        self._config.arguments = _check_arguments(value)

    @property
    def script(self) -> str:
        return self._config.script

    @script.setter
    def script(self, value: str | os.PathLike[str]) -> None:
        self._config.script = _check_script(self._config.source_directory, value)

    @property
    def environment_variables(self) -> dict[str, str]:
        return self._config.environment_variables

    def __repr__(self) -> str:
        return (
            f"RunConfiguration(script={self.script!r}, target={self.target!r}, "
            f"arguments={self.arguments!r})"
        )


# -- runs on a cluster ---------------------------------------------------------------------
def prepare_cluster_run(
    config: ScriptRunConfig, experiment: Experiment, tags: Mapping[str, Any] | None, target: Any
) -> tuple[Run, Path, dict[str, str]]:
    """Check ``config``, create its Queued run on ``target`` with the snapshot stored, and
    unpack the snapshot into a fresh folder for the engine to ship.

    Returns:
        The run, the unpacked folder (remove its parent when done) and the script's
        environment variables for the job.
    """
    from runwidget.tracking.run import Run

    _check_directory(config.source_directory)
    _check_script(config.source_directory, config.script)
    variables = config.script_variables()
    snapshot = _snapshot_with_script(config)
    workdir = temp_workdir()
    with zipfile.ZipFile(io.BytesIO(snapshot)) as archive:
        archive.extractall(workdir)
    extra_files, extra_env = config.cluster_extras()
    for name, path in extra_files.items():
        shutil.copyfile(path, workdir / name)
    properties: dict[str, Any] = {
        **config.run_properties(),
        "runwidget.script": config.script,
        "runwidget.source_directory": str(config.source_directory),
        "runwidget.target_kind": target.kind,
        "runwidget.target_address": target.config.get("address"),
    }
    if config.environment is not None:
        properties["runwidget.environment"] = config.environment.name
    run = Run.create(
        experiment,
        run_id=new_run_id(experiment.name),
        run_type=config.run_type,
        parent_id=config.parent_id,
        status=st.QUEUED,
        tags=tags,
        properties=properties,
        target=target.name,
        arguments=list(config.arguments),
    )
    try:
        _write_snapshot(run, snapshot)
    except BaseException as error:
        _abandon(run, error)
        raise
    # runwidget's own settings apply to the job's supervisor as to a local one.
    env = {
        name: value
        for name, value in os.environ.items()
        if name.startswith("RUNWIDGET_")
        and name not in _RESERVED_ENV
        and name not in (ENV_STORE, _local.ENV_EXEC_DIR)
    }
    env[_local.ENV_SCRIPT_ENV] = json.dumps(variables)
    env.update(extra_env)
    root = str(Path(__file__).resolve().parents[2])
    if not _importable_without(root):
        env["PYTHONPATH"] = root  # a source tree on this host: the job finds it there
    return run, workdir, env


def _snapshot_with_script(config: ScriptRunConfig) -> bytes:
    """The zipped snapshot of the config's folder, which must hold its script."""
    snapshot = take_snapshot(config.source_directory)
    with zipfile.ZipFile(io.BytesIO(snapshot)) as archive:
        if config.script not in archive.namelist():
            raise InvalidValueError(
                f"script {config.script!r} is left out of the snapshot of "
                f"{str(config.source_directory)!r} by its .runwidgetignore; remove the "
                "pattern that matches it"
            )
    return snapshot


def _write_snapshot(run: Run, snapshot: bytes) -> None:
    run.store_snapshot(snapshot)
    if not run.flush(SNAPSHOT_WRITE_TIMEOUT):
        raise StoreError(
            f"the snapshot of run {run.id!r} could not be written to the run store "
            f"{redact_uri(run.store.uri)} within {SNAPSHOT_WRITE_TIMEOUT:.0f} s"
        )


def launch_watcher(run: Run, store_uri: str) -> int:
    """Start, detached, the process that follows ``run``'s job through its engine."""
    base = _local.ensure_exec_dir()
    own_dir = _local.ensure_dir(_local.run_dir(run.id, base))
    env = dict(os.environ)
    env[ENV_STORE] = store_uri
    env.pop(ENV_RUN_ID, None)
    root = str(Path(__file__).resolve().parents[2])
    if not _importable_without(root):
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    command = [sys.executable, "-m", "runwidget.compute.watch", run.id]
    pid = _launch(own_dir / "watcher.log", own_dir, command, env)
    run.store.update_run(run.id, properties=ProcessId.of(pid).as_properties("watcher"))
    return pid


# -- launching ----------------------------------------------------------------------------
def _launch(log_file: Path, cwd: Path, command: list[str], env: dict[str, str]) -> int:
    """Start ``command`` detached (see ``_launch.py``); return its pid."""
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-S", str(LAUNCHER), str(log_file), str(cwd), *command],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=LAUNCH_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise RunwidgetError(f"could not start the run's supervisor: {e}") from e
    output = done.stdout.decode(errors="replace").strip()
    if done.returncode != 0 or not output.isdigit():
        detail = (done.stderr.decode(errors="replace").strip() or output)[-2000:]
        raise RunwidgetError(
            f"could not start the run's supervisor (exit code {done.returncode}): {detail}"
        )
    return int(output)


def _abandon(run: Run, error: BaseException) -> None:
    """Mark a run Failed whose supervisor could not be started (best effort)."""
    with contextlib.suppress(RunwidgetError):
        run.store.update_run(
            run.id,
            status=st.FAILED,
            ended=time.time(),
            error={"message": f"the run could not be started: {error}", "traceback": None},
            only_if_status=[st.QUEUED],
        )


def _importable_without(root: str) -> bool:
    """Whether ``root`` (the folder holding the runwidget package) is on the default path."""
    import site

    defaults = set(site.getsitepackages()) | {site.getusersitepackages()}
    if root in defaults:
        return True
    # An editable install puts the folder on sys.path through a .pth file in site-packages.
    for folder in defaults:
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            if name.endswith(".pth") and "runwidget" in name:
                return True
    return False


def _shareable_uri(uri: str) -> str:
    """The store URI as another process, in another folder, must see it.

    Raises:
        InvalidValueError: an in-memory store, which no other process can reach.
    """
    url = make_url(uri)
    if url.get_backend_name() != "sqlite":
        return url.render_as_string(hide_password=False)
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file::memory:"):
        raise InvalidValueError(
            f"run store {uri!r} lives in this process's memory, so a submitted script cannot "
            "write to it; use a file store (sqlite:///path/runs.db) or PostgreSQL"
        )
    return url.set(database=str(Path(database).resolve())).render_as_string(hide_password=False)


# -- checks -------------------------------------------------------------------------------
def _check_target(value: Any) -> Any:
    if value is None or _is_target(value):
        return value
    if isinstance(value, str) and value.strip():
        return value
    raise InvalidValueError(
        f"compute_target must be a target's name (such as 'local') or a ComputeTarget, got "
        f"{type(value).__name__}: {value!r:.80}"
    )


def _is_target(value: Any) -> bool:
    """Whether ``value`` is a ``ComputeTarget`` (defined by ``runwidget.compute``, above this
    package): it has a kind and submits."""
    kind = getattr(value, "kind", None)
    return isinstance(kind, str) and callable(getattr(value, "submit", None))


def temp_workdir() -> Path:
    """A fresh folder for a job's working_dir (its parent is removed after submission)."""
    return Path(tempfile.mkdtemp(prefix="runwidget-job-")) / "work"


def _check_directory(value: Any) -> Path:
    if not isinstance(value, (str, os.PathLike)):
        raise InvalidValueError(
            f"source_directory must be a path (str or Path), got {type(value).__name__}: "
            f"{value!r:.80}"
        )
    path = Path(value).expanduser()
    if not path.exists():
        raise InvalidValueError(
            f"source_directory {str(value)!r} does not exist (looked in {str(path.resolve())!r})"
        )
    if not path.is_dir():
        raise InvalidValueError(
            f"source_directory {str(value)!r} is not a directory; pass the folder that holds "
            "the script"
        )
    return path.resolve()


def _check_script(directory: Path, value: Any) -> str:
    if not isinstance(value, (str, os.PathLike)) or not str(value).strip():
        raise InvalidValueError(
            f"script must be a file name relative to source_directory, such as 'train.py'; "
            f"got {type(value).__name__}: {value!r:.80}"
        )
    path = Path(value)
    full = (directory / path).resolve()
    try:
        relative = full.relative_to(directory)
    except ValueError:
        raise InvalidValueError(
            f"script {str(value)!r} is outside source_directory {str(directory)!r}; give its "
            "path relative to that folder"
        ) from None
    if not full.exists():
        raise InvalidValueError(
            f"script {str(value)!r} not found in source_directory {str(directory)!r}"
        )
    if not full.is_file():
        raise InvalidValueError(
            f"script {str(value)!r} in {str(directory)!r} is not a file; name a Python script"
        )
    return relative.as_posix()


def _check_arguments(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        hint = f" (split it: {str(value).split()!r})" if isinstance(value, str) else ""
        raise InvalidValueError(
            f"arguments must be a list of strings and numbers, got {type(value).__name__}: "
            f"{value!r:.80}{hint}"
        )
    out = []
    for index, item in enumerate(value):
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, os.PathLike):
            out.append(os.fspath(item))
        elif isinstance(item, numbers.Real) and not isinstance(item, bool):
            out.append(str(item))
        else:
            raise InvalidValueError(
                f"arguments[{index}] must be a string or a number, got "
                f"{type(item).__name__}: {item!r:.80}"
            )
    return out


def _check_environment(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidValueError(
            f"environment_variables must be a dict of name to value, got "
            f"{type(value).__name__}: {value!r:.80}"
        )
    out = {}
    for name, item in value.items():
        if not isinstance(name, str) or not name or "=" in name or "\0" in name:
            raise InvalidValueError(
                f"environment variable name {name!r} must be a non-empty string without '=' or NUL"
            )
        if name in _RESERVED_ENV:
            raise InvalidValueError(
                f"environment variable {name!r} is set by runwidget for the script; choose "
                "another name"
            )
        if isinstance(item, str):
            text = item
        elif isinstance(item, numbers.Real) and not isinstance(item, bool):
            text = str(item)
        else:
            raise InvalidValueError(
                f"environment variable {name!r} must be a string or a number, got "
                f"{type(item).__name__}: {item!r:.80}"
            )
        if "\0" in text:
            raise InvalidValueError(f"environment variable {name!r} must not contain NUL")
        out[name] = text
    return out
