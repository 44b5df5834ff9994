"""The sweep's driver: the script of a sweep run (see ``launch.py``).

It submits the children, ``max_concurrent_runs`` at a time, each a script run under the
sweep run with the sampled values appended to its arguments, on the run config's compute
target. Every half second it reads the children's statuses and their new primary metric
points, lets the early termination policy stop poor ones (canceled, with the reason as
their error message), tells Optuna each ended child's best value and keeps the sweep's
``best_child_run_id`` and ``best_metric`` up to date. SIGTERM (a cancel of the sweep) and
``max_duration_minutes`` cancel the children still running.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runwidget import status as st
from runwidget.errors import RunwidgetError
from runwidget.execution import _local
from runwidget.execution.config import ScriptRunConfig
from runwidget.execution.environment import Environment
from runwidget.hyperdrive import parameters, policy, sampling
from runwidget.hyperdrive.launch import SETTINGS_FILE
from runwidget.hyperdrive.results import best_of, is_better, numeric_values
from runwidget.tracking.run import Run

POLL_INTERVAL = 0.5
# How long the driver waits for its children to end once it has canceled them.
CANCEL_WAIT = 60.0
REASON_PROPERTY = "runwidget.early_termination"


class _ChildRunConfig(ScriptRunConfig):
    """A sweep's child: the user's script, created under the sweep run."""

    def __init__(self, child: dict[str, Any], arguments: list[str], parent_id: str,
                 properties: dict[str, Any]) -> None:  # fmt: skip
        super().__init__(
            child["source_directory"],
            child["script"],
            arguments=arguments,
            environment_variables=child["environment_variables"],
            compute_target=child["compute_target"],
            environment=_environment(child["environment"]),
        )
        self.parent_id = parent_id
        self._properties = properties
        self._grace = child.get("cancel_grace")

    def run_properties(self) -> dict[str, Any]:
        return dict(self._properties)

    def _supervisor_env(self, store_uri: str) -> dict[str, str]:
        env = super()._supervisor_env(store_uri)
        # The driver's own grace covers its children's: theirs is the submitter's.
        if self._grace is None:
            env.pop(_local.ENV_CANCEL_GRACE, None)
        else:
            env[_local.ENV_CANCEL_GRACE] = self._grace
        return env


def _environment(spec: dict[str, Any] | None) -> Environment | None:
    if spec is None:
        return None
    env = Environment(spec["name"])
    env.python.user_managed_dependencies = spec["user_managed_dependencies"]
    env.environment_variables = dict(spec["environment_variables"])
    env.pip_requirements = spec["pip_requirements"]
    return env


def _argument_text(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)


@dataclass
class _Child:
    run: Run
    trial: Any
    values: list[float] = field(default_factory=list)
    cursor: int = 0
    reason: str | None = None  # why the driver canceled it
    cancel: threading.Thread | None = None


class Driver:
    def __init__(self, sweep: Run, settings: dict[str, Any]) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self._optuna = optuna
        self.sweep = sweep
        self.store = sweep.store
        self.settings = settings
        self.metric: str = settings["primary_metric"]
        self.goal: str = settings["goal"]
        self.space = parameters.from_spec(settings["sampling"]["space"])
        self.grid = settings["sampling"]["kind"] == "grid"
        self.policy = policy.from_spec(settings["policy"])
        self.total: int = settings["max_total_runs"]
        self.concurrent: int = settings["max_concurrent_runs"]
        minutes = settings.get("max_duration_minutes")
        self.deadline = None if minutes is None else time.monotonic() + minutes * 60
        self.study = optuna.create_study(
            direction=self.goal, sampler=sampling.make_sampler(settings["sampling"])
        )
        self.active: dict[str, _Child] = {}
        self.histories: dict[str, list[float]] = {}
        self.finished: set[str] = set()
        self.launched = 0
        self.best: tuple[str, float] | None = None
        self.stop_reason: str | None = None
        self.warned_missing = False

    # -- the loop --------------------------------------------------------------------------
    def run(self) -> int:
        print(f"sweep of {self.settings['child']['script']}: {self.total} children, "
              f"{self.concurrent} at a time, {self.goal} {self.metric!r}", flush=True)  # fmt: skip
        while True:
            late = self.deadline is not None and time.monotonic() > self.deadline
            if self.stop_reason is None and late:
                self.stop_reason = "the sweep reached its max_duration_minutes"
            if self.stop_reason is not None:
                self._cancel_all(self.stop_reason)
                break
            while len(self.active) < self.concurrent and self.launched < self.total:
                self._launch()
            self._poll()
            if not self.active and self.launched >= self.total:
                break
            time.sleep(POLL_INTERVAL)
        print(f"sweep ended: {len(self.finished)} children", flush=True)
        if self.best is None and self.finished and self.stop_reason is None:
            raise RunwidgetError(
                f"no child logged the primary metric {self.metric!r} (with run.log); check "
                "primary_metric_name against what the script logs"
            )
        return 0

    def _launch(self) -> None:
        trial = self.study.ask()
        values = {}
        for name, expression in self.space.items():
            if self.grid:
                values[name] = trial.suggest_categorical(name, expression.grid())
            else:
                values[name] = expression.suggest(trial, name)
        arguments = list(self.settings["child"]["arguments"])
        for name, value in values.items():
            arguments += [parameters.argument_flag(name), _argument_text(value)]
        properties = {"iteration": self.launched,
                      **{parameters.display_name(n): v for n, v in values.items()}}  # fmt: skip
        config = _ChildRunConfig(self.settings["child"], arguments, self.sweep.id, properties)
        self.launched += 1
        try:
            run = config.submit_to(self.sweep.experiment, {})
        except RunwidgetError as e:
            self._tell(trial, state=self._optuna.trial.TrialState.FAIL)
            print(f"child {self.launched - 1} could not be submitted: {e}", flush=True)
            return
        self.active[run.id] = _Child(run, trial)
        self.histories[run.id] = []
        print(f"child {self.launched - 1} {run.id}: {' '.join(arguments)}", flush=True)

    def _poll(self) -> None:
        records = {r.id: r for r in self.store.get_children(self.sweep.id)}
        for child_id, child in list(self.active.items()):
            record = records.get(child_id)
            ended = record is not None and record.status in st.TERMINAL
            self._read_points(child)
            if ended and record is not None:
                self._end(child, record.status)
            elif child.reason is None:
                self._apply_policy(child)

    def _read_points(self, child: _Child) -> None:
        points = self.store.read_metrics(child.run.id, since=child.cursor, name=self.metric)
        if points:
            child.cursor = points[-1].seq
            child.values += numeric_values(points)
            self.histories[child.run.id] = child.values

    def _apply_policy(self, child: _Child) -> None:
        """Look at the child's latest evaluation point that another child has reached too,
        again on every poll: a child that started later may have caught up since."""
        others = [len(h) for c, h in self.histories.items() if c != child.run.id]
        k = min(len(child.values), max(others, default=0))
        while k > 0 and not self.policy.is_evaluation_point(k):
            k -= 1
        if k == 0:
            return
        reason = self.policy.evaluate(
            child.run.id, k, self.histories, self.goal, frozenset(self.finished)
        )
        if reason is not None:
            self._cancel(child, reason)
            print(f"{child.run.id} {reason}", flush=True)

    def _cancel(self, child: _Child, reason: str) -> None:
        child.reason = reason
        self.store.update_run(child.run.id, properties={REASON_PROPERTY: reason})
        child.cancel = threading.Thread(target=child.run.cancel, daemon=True)
        child.cancel.start()

    def _cancel_all(self, reason: str) -> None:
        print(f"canceling {len(self.active)} running children: {reason}", flush=True)
        for child in self.active.values():
            if child.reason is None:
                self._cancel(child, reason)
        deadline = time.monotonic() + CANCEL_WAIT
        while self.active and time.monotonic() < deadline:
            self._poll()
            time.sleep(POLL_INTERVAL / 2)

    def _tell(self, trial: Any, value: float | None = None, state: Any = None) -> None:
        """Tell Optuna how a child ended (its state is stored whatever the sampler says)."""
        try:
            self.study.tell(trial, value, state=state)
        except RuntimeError as e:
            # The grid sampler stops the study when its grid is done, which it can do only
            # inside optimize(): the trial is recorded, and this driver stops by itself.
            if "Study.stop" not in str(e):
                raise

    def _end(self, child: _Child, status: str) -> None:
        del self.active[child.run.id]
        self.finished.add(child.run.id)
        TrialState = self._optuna.trial.TrialState
        score = best_of(child.values, self.goal)
        if status == st.CANCELED and child.reason is not None:
            self.store.update_run(child.run.id, error={"message": child.reason, "traceback": None},
                                  only_if_status=[st.CANCELED])  # fmt: skip
        if score is None:
            self._tell(child.trial, state=TrialState.FAIL)
            if status == st.COMPLETED and not self.warned_missing:
                self.warned_missing = True
                note = (f"child {child.run.id} completed without logging the primary metric "
                        f"{self.metric!r}")  # fmt: skip
                print(f"warning: {note}", flush=True)
                self.sweep.add_properties({"warning": note})
        elif status == st.COMPLETED:
            self._tell(child.trial, score)
        elif status == st.CANCELED:
            self._tell(child.trial, state=TrialState.PRUNED)
        else:
            self._tell(child.trial, state=TrialState.FAIL)
        shown = "" if score is None else f", best {self.metric} {score:.6g}"
        print(f"child {child.run.id} {status}{shown}", flush=True)
        counted = score is not None and status in (st.COMPLETED, st.CANCELED)
        best = None if self.best is None else self.best[1]
        if counted and score is not None and is_better(score, best, self.goal):
            self.best = (child.run.id, score)
            self.sweep.add_properties({"best_child_run_id": child.run.id, "best_metric": score})


def main() -> int:
    settings = json.loads(Path(SETTINGS_FILE).read_text(encoding="utf-8"))
    sweep = Run.get_context()
    driver = Driver(sweep, settings)

    def on_signal(signum: int, _frame: Any) -> None:
        if driver.stop_reason is None:
            driver.stop_reason = "the sweep was canceled"

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    return driver.run()
