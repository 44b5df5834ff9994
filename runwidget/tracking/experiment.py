"""Experiment: a named group of runs."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from runwidget.errors import InvalidValueError
from runwidget.status import ALL, NOT_RESPONDING, QUEUED, RUNNING
from runwidget.store import RunType
from runwidget.tracking._validate import check_name, check_path
from runwidget.tracking.providers import PROVIDERS
from runwidget.tracking.workspace import Workspace, default_workspace

# The reference SDK's names of run types that runwidget names otherwise (``get_runs(type=)``).
_REFERENCE_RUN_TYPES = {"azureml.scriptrun": RunType.SCRIPT, "hyperdrive": RunType.SWEEP}

if TYPE_CHECKING:
    from runwidget.store import RunRecord, RunStore
    from runwidget.tracking.run import Run

# When this process last looked for dead runs of its host, by store URI.
_last_sweep: dict[str, float] = {}
# start_logging's outputs when not given: ./outputs for an interactive run.
_DEFAULT_OUTPUTS: Any = object()
_sweep_lock = threading.Lock()


class Experiment:
    """A named group of runs in a workspace; created in the store when first named.

    Args:
        workspace: where the runs live (default: the default workspace).
        name: the experiment's name, 1 to 255 characters.

    Raises:
        InvalidValueError: the name is not a non-empty string of at most 255 characters.
        StoreUnavailableError: the store cannot be reached.
    """

    def __init__(self, workspace: Workspace | None = None, name: str | None = None) -> None:
        if isinstance(workspace, str) and name is None:
            raise InvalidValueError(
                f"Experiment takes a Workspace first; did you mean Experiment(name={workspace!r})?"
            )
        if workspace is not None and not isinstance(workspace, Workspace):
            raise InvalidValueError(
                f"workspace must be a Workspace or None, got {type(workspace).__name__}"
            )
        self.workspace = workspace or default_workspace()
        self.name = check_name(name, "experiment name")
        self.id = self.workspace.store.get_or_create_experiment(self.name).id

    def start_logging(
        self,
        display_name: str | None = None,
        snapshot_directory: str | None = None,
        *,
        tags: dict[str, Any] | None = None,
        run_type: str = RunType.INTERACTIVE,
        outputs: str | os.PathLike[str] | bool | None = _DEFAULT_OUTPUTS,
        system_metrics: bool | float = False,
    ) -> Run:
        """Start an interactive run, logged from this process. Its status is Running.

        The run records this process as its owner: if the process ends without ending the
        run (a killed kernel), the next runwidget process on this host to look at the run
        marks it Failed. This call looks too, for the store's runs of this host.

        Args:
            display_name: a name to show instead of the run id.
            snapshot_directory: a folder whose files are stored with the run (what
                ``.runwidgetignore`` or ``.amlignore`` names left out).
            tags: tags to set at once.
            outputs: a folder whose files are stored with the run when it ends, created
                if missing (default ``./outputs``, as in the reference SDK; False or None
                for none).
            system_metrics: sample this process's CPU, memory, disk, network and GPU use
                into the run's ``system/`` metrics until the run ends (see
                ``runwidget.tracking.system_metrics``): True for every
                ``$RUNWIDGET_SYSTEM_METRICS_INTERVAL`` seconds (10), or a number of seconds.

        Raises:
            InvalidValueError: ``system_metrics`` is neither a bool nor a positive number;
                ``outputs`` or ``snapshot_directory`` is not a folder.
        """
        from runwidget.tracking.run import Run

        if display_name is not None:
            check_name(display_name, "display_name")
        interval = _system_metrics_interval(system_metrics)
        if outputs is _DEFAULT_OUTPUTS:
            # runwidget's own runs (a sweep's parent) track no folder unless told.
            outputs = "./outputs" if run_type == RunType.INTERACTIVE else None
        folder = None
        if outputs is not False and outputs is not None:
            from runwidget.tracking.run import outputs_folder

            folder = outputs_folder(outputs)  # checked (and created) before the run exists
        snapshot = None
        if snapshot_directory is not None:
            from runwidget.tracking.snapshot import take_snapshot

            # Taken before the run exists too: a bad folder leaves no run behind.
            snapshot = take_snapshot(
                check_path(snapshot_directory, "snapshot_directory", optional=True)
            )
        run = Run.create(
            self, display_name=display_name, run_type=run_type, tags=tags, status=RUNNING
        )
        _sweep(self.workspace.store)
        if snapshot is not None:
            run.store_snapshot(snapshot)
        if folder is not None:
            run.track_outputs(*folder)
        if interval:
            run.start_system_metrics(interval)
        return run

    def submit(
        self, config: Any, tags: dict[str, Any] | None = None, show_output: bool = False
    ) -> Run:
        """Submit a ``ScriptRunConfig`` or an ``AutoMLConfig``; returns its run at once.

        With ``show_output``, waits for the run and streams its output (as
        ``run.wait_for_completion(show_output=True)``).
        """
        submit = getattr(config, "submit_to", None)
        if submit is None:
            raise InvalidValueError(
                f"experiment.submit takes a ScriptRunConfig or an AutoMLConfig, got "
                f"{type(config).__name__}"
            )
        run: Run = submit(self, tags=dict(tags or {}))
        if show_output:
            run.wait_for_completion(show_output=True)
        return run

    def get_runs(
        self,
        type: str | None = None,  # noqa: A002 - the reference SDK's name
        tags: str | Mapping[str, Any] | None = None,
        properties: str | Mapping[str, Any] | None = None,
        include_children: bool = False,
        *,
        status: str | None = None,
    ) -> Iterator[Run]:
        """Runs of this experiment, newest first.

        Args:
            type: only runs of this type (``interactive``, ``script``, ``automl``,
                ``sweep``, ``child``; the reference SDK's ``azureml.scriptrun`` and
                ``hyperdrive`` too).
            tags: only runs with this tag (a name: set to any value) or these tags (a dict
                of name to value).
            properties: the same, for properties.
            include_children: child runs too (else top-level runs only).
            status: only runs in this status (``Completed``, ...).
        """
        from runwidget.tracking.run import Run

        if type is not None and not isinstance(type, str):
            raise InvalidValueError(f"type must be a run type string, got {type!r:.80}")
        if type is not None:
            type = _REFERENCE_RUN_TYPES.get(type, type)
        if not isinstance(include_children, bool):
            raise InvalidValueError(
                f"include_children must be True or False, got "
                f"{include_children.__class__.__name__}: {include_children!r:.80}"
            )
        want_tags = _wanted(tags, "tags")
        want_properties = _wanted(properties, "properties")
        if status is not None and status not in (*ALL, NOT_RESPONDING):
            raise InvalidValueError(
                f"status must be one of {[*ALL, NOT_RESPONDING]}, got {status!r:.80}"
            )
        kwargs: dict[str, Any] = {} if include_children else {"parent_id": None}
        records = self.workspace.store.list_runs(experiment=self.name, **kwargs)
        records.sort(key=lambda r: r.created, reverse=True)
        for record in records:
            if type is not None and record.run_type != type:
                continue
            if not _matches(record.tags, want_tags):
                continue
            if not _matches(record.properties, want_properties):
                continue
            if record.current_status() in (NOT_RESPONDING, QUEUED):
                record = _reaped(self.workspace.store, record)
            if status is not None and record.current_status() != status:
                continue
            yield Run(self, record.id, _record=record)

    def __repr__(self) -> str:
        return f"Experiment(name={self.name!r}, workspace={self.workspace!r})"

    # Last in the class: from here on, ``list`` in the class body is this method.
    @classmethod
    def list(
        cls,
        workspace: Workspace,
        experiment_name: str | None = None,
        view_type: str = "ActiveOnly",
        tags: Any = None,
    ) -> list[Experiment]:
        """The workspace's experiments by name, as the reference SDK's ``Experiment.list``
        (only the one named ``experiment_name`` if given). None is ever archived, so
        ``view_type="ArchivedOnly"`` gives none; experiments have no tags.

        Raises:
            InvalidValueError: not a Workspace, an unknown ``view_type``, or ``tags``.
        """
        if not isinstance(workspace, Workspace):
            raise InvalidValueError(
                f"Experiment.list takes a Workspace first, got {workspace.__class__.__name__}"
            )
        if experiment_name is not None:
            check_name(experiment_name, "experiment_name")
        if view_type not in _VIEW_TYPES:
            raise InvalidValueError(
                f"view_type must be one of {list(_VIEW_TYPES)}, got {view_type!r:.80}"
            )
        if tags is not None:
            raise InvalidValueError(
                "Experiment.list: experiments have no tags here (runs do: "
                "experiment.get_runs(tags=...)); pass tags=None"
            )
        if view_type == "ArchivedOnly":
            return []
        names = sorted(e.name for e in workspace.store.list_experiments())
        return [
            cls(workspace, name)
            for name in names
            if experiment_name is None or name == experiment_name
        ]


_ANY: Any = object()
# The reference SDK's Experiment.list view types.
_VIEW_TYPES = ("ActiveOnly", "All", "ArchivedOnly")


def _wanted(value: Any, what: str) -> dict[str, Any]:
    """A tags or properties filter: a name (any value) or a dict of name to value."""
    if value is None:
        return {}
    if isinstance(value, str):
        return {check_name(value, f"{what[:-1]} name"): _ANY}
    if isinstance(value, Mapping):
        return {check_name(k, f"{what[:-1]} name"): v for k, v in value.items()}
    raise InvalidValueError(
        f"{what} must be a name or a dict of name to value, got {type(value).__name__}: "
        f"{value!r:.80}"
    )


def _matches(stored: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    return all(
        k in stored and (v is _ANY or stored[k] == v or str(stored[k]) == str(v))
        for k, v in wanted.items()
    )


def _reaped(store: RunStore, record: RunRecord) -> RunRecord:
    """The run's record, read again if the reaper just ended it (its process is gone)."""
    return store.get_run(record.id) if PROVIDERS.reap(store, record) else record


def _sweep(store: RunStore) -> None:
    """End this host's runs whose process is gone, at most every ``sweep_interval`` s."""
    now = time.monotonic()
    with _sweep_lock:
        last = _last_sweep.get(store.uri)
        if last is not None and now - last < PROVIDERS.sweep_interval:
            return
        _last_sweep[store.uri] = now
    PROVIDERS.reap_host(store)


def _system_metrics_interval(value: Any) -> float:
    """``start_logging``'s ``system_metrics`` as seconds between samples (0: none)."""
    if value is False or value is None:
        return 0.0
    if value is True:
        from runwidget import _settings

        # Asked for explicitly: sampled even where the variable turns submitted runs' off.
        return _settings.system_metrics_interval() or float(
            _settings.SYSTEM_METRICS_INTERVAL.default
        )
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return float(value)
    raise InvalidValueError(
        f"system_metrics must be True, False or a positive number of seconds, got {value!r:.80}"
    )
