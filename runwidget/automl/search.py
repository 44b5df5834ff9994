"""The search loop of an AutoML run: Optuna's TPE sampler proposes, an iteration process
fits, each iteration is recorded as a child run.

Runs as the "script" of the AutoML run, under runwidget's local supervisor (see
``launch.py``): its printed table is the run's output log, the supervisor beats the run's
heartbeat, and a cancel arrives as SIGTERM. On a cancel the search lets the iteration in
progress finish (for up to the cancel grace period, less a margin) and stops; at the
experiment time limit it stops the iteration in progress. An iteration that fails is
recorded Failed and the search goes on; if none succeeds, the run fails.
"""

from __future__ import annotations

import json
import math
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any

from runwidget import status as st
from runwidget.automl import pipelines
from runwidget.automl.config import describe_validation
from runwidget.automl.record import Recorder, duration
from runwidget.automl.worker import IterationWorker, Outcome, WorkerError
from runwidget.tracking.run import Run

SETTINGS_FILE = "automl_settings.json"
ENV_DATA = "RUNWIDGET_AUTOML_DATA"
# Seconds before the cancel grace period ends at which an unfinished iteration is stopped,
# so that the search records it and exits before the supervisor kills it.
CANCEL_MARGIN = 3.0


class Stopper:
    """Why the search should stop: a cancel (SIGTERM) or the experiment time limit.

    Args:
        timeout: the experiment time limit in seconds, or None.
        cancel_wait: how long an iteration in progress may still run after a cancel.
    """

    def __init__(self, timeout: float | None, cancel_wait: float) -> None:
        self.started = time.monotonic()
        self.deadline = None if timeout is None else self.started + timeout
        self.timeout = timeout
        self.cancel_wait = cancel_wait
        self.canceled_at: float | None = None

    def cancel(self, *_args: Any) -> None:
        if self.canceled_at is None:
            self.canceled_at = time.monotonic()

    def _time_up(self) -> str | None:
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return f"the experiment time limit ({(self.timeout or 0) / 60:g} min) was reached"
        return None

    def before_iteration(self) -> str | None:
        """A reason not to start another iteration, or None."""
        if self.canceled_at is not None:
            return "the run was canceled"
        return self._time_up()

    def during_iteration(self) -> str | None:
        """A reason to stop the iteration in progress now, or None."""
        if self.canceled_at is not None and time.monotonic() - self.canceled_at > self.cancel_wait:
            return (
                "the run was canceled and this iteration did not end within "
                f"{self.cancel_wait:.0f} s"
            )
        return self._time_up()


class Search:
    """One AutoML search.

    Args:
        parent: the AutoML run.
        settings: ``AutoMLConfig.settings()``.
        worker: the iteration process handle.
        stopper: when to stop.
        out: where the progress table is printed (the run's output log).
    """

    def __init__(
        self,
        parent: Run,
        settings: dict[str, Any],
        worker: IterationWorker,
        stopper: Stopper,
        out: IO[str] = sys.stdout,
    ) -> None:
        self.parent = parent
        self.settings = settings
        self.worker = worker
        self.stopper = stopper
        self.out = out
        self.primary = settings["primary_metric"]
        self.maximize = settings["goal"] == "maximize"
        self.recorder = Recorder(parent, self.primary)
        timeout = settings.get("iteration_timeout_minutes")
        self.iteration_timeout = None if timeout is None else float(timeout) * 60
        self.best: float | None = None
        self.best_iteration: int | None = None
        self.counts = {st.COMPLETED: 0, st.FAILED: 0, st.CANCELED: 0}
        self.first_error: str | None = None
        # Models on their way into the store: in the working folder, which the supervisor
        # removes when the run ends.
        self._models = Path(tempfile.mkdtemp(prefix=".models-", dir=os.getcwd()))

    # -- the loop --------------------------------------------------------------------------
    def run(self) -> None:
        """Run every iteration, then end: fail the parent when no iteration succeeded.

        Raises:
            WorkerError: the iteration process could not start (the parent then fails).
        """
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(
            direction=self.settings["goal"],
            sampler=optuna.samplers.TPESampler(seed=int(self.settings["random_state"])),
        )
        self._header()
        stopped: str | None = None
        try:
            for iteration in range(int(self.settings["iterations"])):
                stopped = self.stopper.before_iteration()
                if stopped is not None:
                    break
                # (Re)start the iteration process first: its start is no iteration's time.
                if self.worker.start(self.stopper.during_iteration) is not None:
                    continue  # stopped while starting: the next check says why
                trial = study.ask()
                spec = pipelines.suggest(trial, self.settings)
                value = self._iteration(iteration, spec)
                if value is None:
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
                else:
                    study.tell(trial, value)
        finally:
            self.worker.close()
            for leftover in self._models.glob("*"):
                leftover.unlink(missing_ok=True)
            self._models.rmdir()
        self._footer(stopped)

    def run_concurrent(self, iterations: Any, at_once: int) -> None:
        """Like ``run``, with ``at_once`` iterations running at a time on ``iterations``
        (``ray_iterations.RayIterations``): the sampler proposes as each one ends."""
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(
            direction=self.settings["goal"],
            sampler=optuna.samplers.TPESampler(seed=int(self.settings["random_state"])),
        )
        self._header()
        stopped: str | None = None
        total, started = int(self.settings["iterations"]), 0
        try:
            while True:
                while len(iterations.pending) < at_once and started < total:
                    stopped = self.stopper.before_iteration()
                    if stopped is not None:
                        break
                    trial = study.ask()
                    spec = pipelines.suggest(trial, self.settings)
                    child = self.recorder.start(started, spec)
                    iterations.start(started, spec, (child, trial))
                    started += 1
                if not iterations.pending:
                    break
                reason = self.stopper.during_iteration()
                for item in list(iterations.pending):
                    late = self.iteration_timeout is not None and (
                        time.monotonic() - item.started > self.iteration_timeout
                    )
                    if reason is not None or late:
                        iterations.stop(item)
                for item, outcome in iterations.finished(timeout=0.5):
                    child, trial = item.context
                    if outcome.kind == "stopped" and reason is not None:
                        outcome.reason = reason
                    elif outcome.kind == "stopped":
                        outcome = Outcome("timeout")
                    value = self._conclude(
                        child, item.iteration, item.spec, outcome, item.started,
                        keep=lambda item=item, child=child: self._keep_bytes(
                            child, item.iteration, iterations.model_of(item)
                        ),
                    )  # fmt: skip
                    if value is None:
                        study.tell(trial, state=optuna.trial.TrialState.FAIL)
                    else:
                        study.tell(trial, value)
                if stopped is None:
                    stopped = self.stopper.before_iteration()
        finally:
            iterations.close()
            self._models.rmdir()
        self._footer(stopped)

    def _keep_bytes(self, child: Run, iteration: int, data: bytes | None) -> Outcome:
        if data is None:
            return Outcome("failed", error={"message": "no model came back", "traceback": None})
        path = self._models / f"{iteration}.pkl"
        try:
            path.write_bytes(data)
            self.recorder.keep_model(child, str(path))
        finally:
            path.unlink(missing_ok=True)
        return Outcome("ok")

    def _iteration(self, iteration: int, spec: dict[str, Any]) -> float | None:
        """Run and record one iteration; its primary metric, or None if it did not succeed."""
        child = self.recorder.start(iteration, spec)
        started = time.monotonic()
        try:
            outcome = self.worker.evaluate(
                iteration, spec, self.iteration_timeout, self.stopper.during_iteration
            )
        except BaseException as error:
            self._broken(child, error)
            raise
        return self._conclude(
            child, iteration, spec, outcome, started,
            keep=lambda: self._keep_model(child, iteration),
        )  # fmt: skip

    def _broken(self, child: Run, error: BaseException) -> None:
        # The search itself broke (or the iteration process could not start).
        if isinstance(error, WorkerError):
            self.recorder.fail(child, error.error)
        else:
            self.recorder.fail(child, {"message": f"{type(error).__name__}: {error}"})

    def _conclude(
        self,
        child: Run,
        iteration: int,
        spec: dict[str, Any],
        outcome: Outcome,
        started: float,
        keep: Any,
    ) -> float | None:
        """Record how an iteration ended; its primary metric, or None if it did not succeed."""
        try:
            value = self._score(outcome)
            if value is not None and self._better(value):
                saved = keep()
                if saved.kind != "ok":
                    outcome = saved
                    value = None
            status = self._end(child, outcome, value)
        except BaseException as error:
            self._broken(child, error)
            raise
        self.counts[status] += 1
        if status == st.COMPLETED and value is not None and self._better(value):
            self.best, self.best_iteration = value, iteration
            self.recorder.new_best(child, iteration, value, spec)
        if self.best is not None:
            self.recorder.best_so_far(iteration, self.best)
        self._row(iteration, spec, time.monotonic() - started, status, value, outcome)
        return value if status == st.COMPLETED else None

    def _score(self, outcome: Outcome) -> float | None:
        if outcome.kind != "ok":
            return None
        value = outcome.metrics.get(self.primary)
        if value is None or not math.isfinite(value):
            outcome.kind = "failed"
            outcome.error = {
                "message": f"the primary metric {self.primary} could not be computed for this "
                "iteration (e.g. a class missing from a validation fold)",
                "traceback": None,
            }
            return None
        return float(value)

    def _better(self, value: float) -> bool:
        if self.best is None:
            return True
        return value > self.best if self.maximize else value < self.best

    def _keep_model(self, child: Run, iteration: int) -> Outcome:
        path = str(self._models / f"{iteration}.pkl")
        outcome = self.worker.save(
            iteration, path, self.iteration_timeout, self.stopper.during_iteration
        )
        if outcome.kind == "ok":
            try:
                self.recorder.keep_model(child, path)
            finally:
                Path(path).unlink(missing_ok=True)
        elif outcome.error is not None:
            outcome.error["message"] = f"its model could not be saved: {outcome.error['message']}"
        return outcome

    def _end(self, child: Run, outcome: Outcome, value: float | None) -> str:
        if outcome.kind == "ok":
            self.recorder.log_metrics(child, outcome.metrics)
            self.recorder.complete(child)
            return st.COMPLETED
        if outcome.kind == "stopped":
            self.recorder.cancel(child, f"stopped: {outcome.reason}")
            return st.CANCELED
        if outcome.kind == "timeout":
            minutes = (self.iteration_timeout or 0) / 60
            error = {
                "message": f"the iteration time limit ({minutes:g} min) was reached; stopped",
                "traceback": None,
            }
        else:
            self.recorder.log_metrics(child, outcome.metrics)
            error = outcome.error or {"message": "failed", "traceback": None}
        if self.first_error is None:
            self.first_error = error["message"]
        self.recorder.fail(child, error)
        return st.FAILED

    # -- printing --------------------------------------------------------------------------
    def _print(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def _header(self) -> None:
        s = self.settings
        limit = s.get("experiment_timeout_minutes")
        self._print(
            f"AutoML {s['task']}: {s['iterations']} iterations"
            + (f" or {limit:g} min" if limit else "")
            + f", primary metric {self.primary} ({s['goal']}), "
            f"{describe_validation(s['validation'])}, {s['n_rows']} rows"
        )
        self._print(f"Algorithms: {', '.join(s['algorithms'])}")
        self._print("*" * 96)
        self._print(
            f"{'ITER':>5}   {'PIPELINE':<42} {'DURATION':>9}   {'METRIC':>10}   {'BEST':>10}"
        )

    def _row(
        self,
        iteration: int,
        spec: dict[str, Any],
        seconds: float,
        status: str,
        value: float | None,
        outcome: Outcome,
    ) -> None:
        pipeline = pipelines.describe(spec)
        best = "" if self.best is None else f"{self.best:10.4f}"
        if status == st.COMPLETED and value is not None:
            result = f"{value:10.4f}   {best}"
        else:
            reason = (
                outcome.reason if status == st.CANCELED else (outcome.error or {}).get("message")
            )
            result = f"{status.upper():>10}   {best}  {_first_line(reason)[:120]}"
        self._print(f"{iteration:>5}   {pipeline:<42} {duration(seconds):>9}   {result}")
        for warning in outcome.warnings:
            self._print(f"{'':>8}warning: {warning[:160]}")

    def _footer(self, stopped: str | None) -> None:
        done = sum(self.counts.values())
        self._print("*" * 96)
        summary = (
            f"{done} iterations: {self.counts[st.COMPLETED]} completed, "
            f"{self.counts[st.FAILED]} failed, {self.counts[st.CANCELED]} canceled"
        )
        if stopped is not None:
            summary += f"; stopped early: {stopped}"
        self._print(summary)
        if self.best is not None:
            self._print(f"Best: iteration {self.best_iteration}, {self.primary} = {self.best:.4f}")
        self.recorder.note(
            iterations_completed=self.counts[st.COMPLETED],
            iterations_failed=self.counts[st.FAILED],
            iterations_canceled=self.counts[st.CANCELED],
            stopped_early=stopped,
        )

    def failure(self) -> str | None:
        """Why the search as a whole failed (no iteration succeeded), or None."""
        if self.best is not None or self.stopper.canceled_at is not None:
            return None
        done = sum(self.counts.values())
        if done == 0:
            return "no iteration ran: " + (self.stopper.before_iteration() or "nothing to do")
        message = f"none of the {done} iterations succeeded"
        if self.first_error:
            message += f"; the first error: {_first_line(self.first_error)}"
        return message


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""


def cancel_wait(grace: float) -> float:
    """How long the iteration in progress may still run after a cancel."""
    return max(grace - CANCEL_MARGIN, grace / 2)


def main(settings_file: str | os.PathLike[str] = SETTINGS_FILE) -> int:
    """Run the search of this process's AutoML run (``Run.get_context()``)."""
    from runwidget.execution._local import cancel_grace

    settings = json.loads(Path(settings_file).read_text(encoding="utf-8"))
    data_path = os.environ.get(ENV_DATA)
    if not data_path:
        raise RuntimeError(f"{ENV_DATA} must name the search's training data")
    parent = Run.get_context()
    timeout = settings.get("experiment_timeout_minutes")
    stopper = Stopper(None if timeout is None else float(timeout) * 60, cancel_wait(cancel_grace()))
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stopper.cancel)
        signal.signal(signal.SIGINT, stopper.cancel)
    at_once = int(settings.get("max_concurrent_iterations", 1))
    on_ray = bool(os.environ.get("RAY_JOB_CONFIG_JSON_ENV_VAR"))
    search = Search(parent, settings, IterationWorker(data_path, settings), stopper)
    try:
        if on_ray:
            from runwidget.automl.ray_iterations import RayIterations

            search.run_concurrent(RayIterations(data_path, settings), at_once)
        else:
            search.run()
    except WorkerError as error:
        message = f"the search could not run: {error.error['message']}"
        print(message, file=sys.stderr)
        parent.end(st.FAILED, {"message": message, "traceback": error.error.get("traceback")})
        return 0
    failure = search.failure()
    if failure is not None:
        parent.end(st.FAILED, {"message": failure, "traceback": None})
    parent.flush()
    return 0
