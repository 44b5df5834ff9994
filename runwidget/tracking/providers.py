"""What the packages above ``tracking`` provide to its runs, experiments and workspaces.

``tracking`` is the layer users start from (``Workspace``, ``Experiment``, ``Run``). A few of
the reference SDK's methods on them need code that lives higher up: the reaper's liveness
checks (``execution``), compute targets (``compute``), an AutoML run's fitted model
(``automl``). Each of those packages fills its slots here when it is imported, and
``import runwidget`` imports them all, so ``tracking`` imports none of them (the layer order
is checked by ``tests/test_layers.py``). ``execution`` reaches compute targets, one layer
up, the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runwidget.errors import RunwidgetError

if TYPE_CHECKING:
    from runwidget.store import RunRecord, RunStore
    from runwidget.tracking.run import Run
    from runwidget.tracking.workspace import Workspace


def _not_loaded(name: str) -> Callable[..., Any]:
    def missing(*_args: Any, **_kwargs: Any) -> Any:
        raise RunwidgetError(f"{name} is provided by a runwidget package that was not imported")

    return missing


@dataclass
class Providers:
    """The slots; each names the package that fills it."""

    # execution.reaper: who beats a new run, and ending runs whose process is gone.
    owner_properties: Callable[[str], dict[str, object]] = _not_loaded("owner_properties")
    reap: Callable[[RunStore, RunRecord], bool] = _not_loaded("reap")
    reap_host: Callable[[RunStore], int] = _not_loaded("reap_host")
    sweep_interval: float = 60.0
    # compute: the workspace's targets (``execution`` submits to them too), and cancelling a
    # run that a supervisor runs.
    list_targets: Callable[[Workspace], dict[str, Any]] = _not_loaded("list_targets")
    resolve_target: Callable[[Workspace, Any], Any] = _not_loaded("resolve_target")
    cancel_supervised: Callable[[Run], None] = _not_loaded("cancel_supervised")
    # automl: an AutoML run's best (or given) iteration and its fitted model.
    get_output: Callable[[Run, int | None], tuple[Run, Any]] = _not_loaded("get_output")


PROVIDERS = Providers()
