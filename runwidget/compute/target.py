"""``ComputeTarget``: where a submitted run executes, recorded in the run store by name.

A target is a small interface — ``submit``, ``status``, ``cancel``, ``describe`` — with one
module per kind (``local``, ``ray``). A kind registers itself with ``register_kind``; adding
one (Slurm, say) is a new module and nothing else. Targets live in the store
(``rw_compute_targets``), so a teammate sharing a PostgreSQL store sees the same ones;
``local`` is always there and never stored.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from runwidget.errors import InvalidValueError, RunwidgetError
from runwidget.tracking._validate import check_name

if TYPE_CHECKING:
    from runwidget.execution.config import ScriptRunConfig
    from runwidget.tracking.experiment import Experiment
    from runwidget.tracking.run import Run
    from runwidget.tracking.workspace import Workspace

LOCAL = "local"

# Target classes by kind, filled by ``register_kind``.
_KINDS: dict[str, type[ComputeTarget]] = {}


class ComputeTargetError(RunwidgetError):
    """A compute target cannot be attached, found or reached."""


class ComputeTarget(abc.ABC):
    """A place runs execute. ``ComputeTarget(workspace=ws, name="ray")`` gets an attached one.

    Subclasses set ``kind`` and implement the four methods below, reading what ``attach``
    recorded from ``self.config``.
    """

    kind: ClassVar[str]

    def __new__(
        cls,
        workspace: Workspace | None = None,
        name: str | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> ComputeTarget:
        if cls is ComputeTarget:
            if workspace is None or name is None:
                raise InvalidValueError("ComputeTarget(workspace=ws, name=...) needs both")
            return get_target(workspace, name)
        return super().__new__(cls)

    def __init__(
        self,
        workspace: Workspace | None = None,
        name: str | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        if getattr(self, "workspace", None) is not None:
            return  # ComputeTarget(workspace=, name=) returned a target built from its record
        if workspace is None:
            from runwidget.tracking.workspace import Workspace

            workspace = Workspace()
        self.workspace = workspace
        self.name = name or self.kind
        self.config: dict[str, Any] = dict(config or {})

    # -- the interface ----------------------------------------------------------------------
    @abc.abstractmethod
    def submit(self, config: ScriptRunConfig, experiment: Experiment, tags: Any) -> Run:
        """Create the run (Queued) and hand it to the engine; return at once."""

    @abc.abstractmethod
    def status(self, run: Run) -> str | None:
        """The run's status as the engine sees it (a runwidget status), or None if unknown."""

    @abc.abstractmethod
    def cancel(self, run: Run) -> str:
        """Stop the run, from any process; returns the run's status after the request."""

    @abc.abstractmethod
    def describe(self) -> dict[str, Any]:
        """What to show of the target: kind, address, whether it is reachable now."""

    # -- records ----------------------------------------------------------------------------
    @classmethod
    def attach(cls, workspace: Workspace, name: str, attach_configuration: Any) -> ComputeTarget:
        """Record a target in the workspace's store under ``name`` and return it.

        Raises:
            InvalidValueError: a bad name, or a configuration of no known kind.
            ComputeTargetError: the target cannot be reached (checked before recording).
        """
        name = check_name(name, "compute target name")
        if name == LOCAL:
            raise InvalidValueError(f"{LOCAL!r} is always attached; choose another name")
        kind = getattr(attach_configuration, "kind", None)
        if not isinstance(kind, str) or kind not in _KINDS:
            raise InvalidValueError(
                "attach_configuration must come from a target kind's attach_configuration() "
                f"(such as RayCompute.attach_configuration(address=...)), got "
                f"{type(attach_configuration).__name__}"
            )
        config = dict(attach_configuration.as_config())
        target = _KINDS[kind](workspace, name, config)
        target.check_reachable()
        workspace.store.put_target(name, kind, config)
        return target

    def detach(self) -> None:
        """Remove this target from the store. Its past runs keep its name."""
        if self.name == LOCAL:
            raise InvalidValueError(f"{LOCAL!r} cannot be detached")
        self.workspace.store.delete_target(self.name)

    def check_reachable(self) -> None:
        """Raise ``ComputeTargetError`` when the target cannot be reached (default: never)."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def register_kind(target_class: type[ComputeTarget]) -> type[ComputeTarget]:
    """Class decorator: make a target kind known to ``attach`` and ``get_target``."""
    _KINDS[target_class.kind] = target_class
    return target_class


def _load_kinds() -> None:
    # Importing a kind's module registers it; Ray itself is imported only when used.
    from runwidget.compute import local, ray  # noqa: F401


def list_targets(workspace: Workspace) -> dict[str, ComputeTarget]:
    """Every target of the workspace, ``local`` first: name -> target."""
    _load_kinds()
    from runwidget.compute.local import LocalCompute

    targets: dict[str, ComputeTarget] = {LOCAL: LocalCompute(workspace)}
    for record in workspace.store.list_targets():
        target_class = _KINDS.get(record.kind)
        if target_class is not None:
            targets[record.name] = target_class(workspace, record.name, record.config)
    return targets


def get_target(workspace: Workspace, name: str) -> ComputeTarget:
    """The target ``name`` of the workspace.

    Raises:
        ComputeTargetError: no target has this name (the message lists those attached).
    """
    if not isinstance(name, str):
        raise InvalidValueError(
            f"compute_target must be a target's name or a ComputeTarget, got "
            f"{type(name).__name__}: {name!r:.80}"
        )
    targets = list_targets(workspace)
    if name not in targets:
        raise ComputeTargetError(
            f"no compute target named {name!r}; attached: {', '.join(map(repr, targets))}. "
            "Attach one with ComputeTarget.attach(workspace, name, "
            "RayCompute.attach_configuration(address=...))"
        )
    return targets[name]


def resolve_target(workspace: Workspace, value: Any) -> ComputeTarget:
    """What ``ScriptRunConfig(compute_target=...)`` names: None or a name or a target."""
    if value is None:
        value = LOCAL
    if isinstance(value, ComputeTarget):
        return value
    return get_target(workspace, value)


def cancel_supervised(run: Run) -> None:
    """``run.cancel()`` of a run that a supervisor runs, from any process: through its
    target, or through the store when that target has been detached since."""
    workspace = run.experiment.workspace
    try:
        target = resolve_target(workspace, run.record.target)
    except ComputeTargetError:
        from runwidget.compute.local import LocalCompute

        target = LocalCompute(workspace)
    target.cancel(run)
