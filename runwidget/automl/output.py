"""``run.get_output()`` of an AutoML run: the best iteration's child run and fitted model.

Reached through ``Run.get_output`` (a method of every ``Run`` that accepts only AutoML runs),
so that it works on the run ``experiment.submit`` returned as well as on one found later
with ``Run.get`` or ``experiment.get_runs``. While the search runs, it gives the best so far.

The model is the pickled scikit-learn pipeline stored with the iteration's run; loading it
runs pickle, so get outputs only from a run store you trust. It is kept for every iteration
that improved the best score when it ended (see ``record.py``); other iterations have only
their metrics.
"""

from __future__ import annotations

import numbers
import pickle
from typing import TYPE_CHECKING, Any

from runwidget.automl.record import MODEL_FILE
from runwidget.errors import InvalidValueError, RunwidgetError

if TYPE_CHECKING:
    from runwidget.tracking.run import Run


def get_output(run: Run, iteration: int | None = None) -> tuple[Run, Any]:
    """The child run of the best iteration (or of ``iteration``) and its fitted model.

    Raises:
        InvalidValueError: ``iteration`` is not an iteration of this run.
        RunwidgetError: no iteration has completed yet, or that iteration's model was not
            kept.
    """
    from runwidget.tracking.run import Run

    run.flush()
    record = run.refresh()
    if iteration is None:
        best = record.properties.get("best_child_run_id")
        if not isinstance(best, str):
            raise RunwidgetError(
                f"AutoML run {run.id!r} ({record.current_status()}) has no completed "
                "iteration yet, so no best model"
            )
        child = Run(run.experiment, best)
    else:
        if isinstance(iteration, bool) or not isinstance(iteration, numbers.Integral):
            raise InvalidValueError(
                f"iteration must be an integer, got {type(iteration).__name__}: {iteration!r:.40}"
            )
        children = {c.get_properties().get("iteration"): c for c in run.get_children()}
        child = children.get(int(iteration))
        if child is None:
            known = sorted(k for k in children if isinstance(k, int))
            span = f"0 to {known[-1]}" if known else "none yet"
            raise InvalidValueError(
                f"AutoML run {run.id!r} has no iteration {iteration} (iterations: {span})"
            )
    try:
        data = run.store.read_file(child.id, MODEL_FILE)
    except FileNotFoundError:
        kept = _iterations_with_models(run)
        raise RunwidgetError(
            f"the model of iteration {iteration} ({child.id!r}) was not kept: models are kept "
            f"for the iterations that improved the best score ({_join(kept)})"
        ) from None
    return child, pickle.loads(data)


def _iterations_with_models(run: Run) -> list[int]:
    kept = []
    for child in run.get_children():
        if MODEL_FILE in {f.path for f in run.store.list_files(child.id)}:
            number = child.get_properties().get("iteration")
            if isinstance(number, int):
                kept.append(number)
    return sorted(kept)


def _join(numbers_: list[int]) -> str:
    return "iterations " + ", ".join(map(str, numbers_)) if numbers_ else "none yet"
