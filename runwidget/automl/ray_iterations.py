"""Iterations of an AutoML search as Ray tasks, several at once (the search on a Ray target).

The search loop runs as the Ray job's script; each iteration is a task on the cluster that
fits and scores one pipeline and returns its metrics and, as a second object, the pickled
model to keep (fetched only for a new best). A task whose worker dies (a crash, out of
memory) fails that iteration only; an iteration past its time limit, or stopped by a cancel,
is cancelled in Ray.
"""

from __future__ import annotations

import logging
import pickle
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

from runwidget.automl.worker import Outcome, _distinct, error_of


def _evaluate_task(frame: Any, settings: dict[str, Any], spec: dict[str, Any]) -> tuple[Any, ...]:
    """Body of one iteration's task: (outcome fields, pickled model or None)."""
    from runwidget.automl.evaluate import Data, evaluate, final_model

    try:
        data = Data.prepare(frame, settings)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            found = evaluate(spec, data, settings)
            model = final_model(spec, data, settings, found)
        kept = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
        return {"kind": "ok", "metrics": found.metrics, "warnings": _distinct(caught)}, kept
    except Exception as error:
        return {"kind": "failed", "error": error_of(error)}, None


@dataclass
class Pending:
    iteration: int
    spec: dict[str, Any]
    context: Any  # what the search keeps with it (its child run, its trial)
    result: Any  # the task's first object: the outcome
    model: Any  # its second: the pickled model
    started: float = field(default_factory=time.monotonic)


class RayIterations:
    """Runs iterations as tasks on the Ray cluster this process is a job of.

    Args:
        data_path: the pickled training data (put once into Ray's object store).
        settings: ``AutoMLConfig.settings()``.
    """

    def __init__(self, data_path: str, settings: dict[str, Any]) -> None:
        import pandas as pd
        import ray

        frame = pd.read_pickle(data_path)  # before ray.init, which may change the folder
        self._ray = ray
        if not ray.is_initialized():
            ray.init(address="auto", log_to_driver=False, logging_level=logging.WARNING)
        cores = int(settings.get("max_cores_per_iteration", 1))
        self._task = ray.remote(num_returns=2, max_retries=0, num_cpus=max(cores, 1))(
            _evaluate_task
        )
        self._data = ray.put(frame)
        self._settings = settings
        self.pending: list[Pending] = []

    def start(self, iteration: int, spec: dict[str, Any], context: Any) -> None:
        # Two refs (num_returns=2), where ray's types say one.
        refs: Any = self._task.remote(self._data, self._settings, spec)
        result, model = refs
        self.pending.append(Pending(iteration, spec, context, result, model))

    def finished(self, timeout: float) -> list[tuple[Pending, Outcome]]:
        """The iterations that ended within ``timeout`` seconds, with their outcomes."""
        if not self.pending:
            return []
        refs = [p.result for p in self.pending]
        first, _ = self._ray.wait(refs, num_returns=1, timeout=timeout)
        if not first:
            return []
        done, _ = self._ray.wait(refs, num_returns=len(refs), timeout=0)
        ended = []
        for item in [p for p in self.pending if p.result in done]:
            self.pending.remove(item)
            ended.append((item, self._outcome(item)))
        return ended

    def _outcome(self, item: Pending) -> Outcome:
        ray = self._ray
        try:
            found = ray.get(item.result)
        except ray.exceptions.TaskCancelledError:
            return Outcome("stopped", reason="canceled in Ray")
        except ray.exceptions.WorkerCrashedError as error:
            return Outcome("crashed", error=_crash(error))
        except ray.exceptions.RayError as error:
            return Outcome("crashed", error=_crash(error))
        return Outcome(
            found["kind"],
            metrics=found.get("metrics", {}),
            warnings=found.get("warnings", []),
            error=found.get("error"),
        )

    def model_of(self, item: Pending) -> bytes | None:
        model: bytes | None = self._ray.get(item.model)
        return model

    def stop(self, item: Pending) -> None:
        """Cancel an iteration's task (force: its worker process is killed)."""
        self._ray.cancel(item.result, force=True)

    def close(self) -> None:
        for item in list(self.pending):
            self.stop(item)


def _crash(error: BaseException) -> dict[str, Any]:
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return {
        "message": f"the iteration's Ray worker died ({type(error).__name__}: {first})",
        "traceback": str(error)[-4000:] or None,
    }
