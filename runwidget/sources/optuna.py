"""``OptunaSource``: an Optuna study, read straight from its own storage, shown as a sweep.

``RunDetails(study)`` uses it: no runwidget store is involved. The study is the parent run
(type ``sweep``); each trial is a child run and an iteration:

* status: RUNNING → Running, WAITING → Queued, COMPLETE → Completed, PRUNED → Canceled,
  FAIL → Failed; started and ended are the trial's own times;
* properties: ``iteration`` (the trial number) and the trial's parameters (a parameter named
  like a reserved property gets a ``param `` prefix); in a multi-objective study,
  ``pareto_front`` (True for the completed trials on the Pareto front, False for the others);
* tags: the trial's user attributes that are plain values;
* metrics: each objective value, logged once when the trial completes (named by
  ``study.set_metric_names``, else ``value`` / ``values_0``, ``values_1``...), and the
  reported intermediate values as a series ``intermediate_value`` (x = step).

The study's own record carries ``primary_metric`` (the first objective) and ``goal`` (its
direction), and a chart of the intermediate values of the first ``max_curves`` trials that
report some (one line per trial).

Reading is incremental: a finished trial never changes, so each poll reads the trials from
the first unfinished one on; through Optuna's RDB storage (which caches finished trials) the
database is asked only for unfinished and new trials. A study has no end of its own: it reads
as Running while a trial runs or waits, and until ``idle_timeout`` seconds after the last
trial ended (so that a widget keeps polling between trials); then Completed, which lets a
widget stop polling. A study without trials reads as NotStarted.
"""

from __future__ import annotations

import bisect
import math
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from runwidget import status as st
from runwidget._imports import import_optional
from runwidget.errors import InvalidValueError, RunNotFoundError, StoreUnavailableError
from runwidget.sources.base import RunSource
from runwidget.store import FileInfo, LogLine, MetricKind, MetricPoint, RunRecord, RunType

if TYPE_CHECKING:
    import optuna

INTERMEDIATE = "intermediate_value"
CURVES = "intermediate values"
# Seconds during which what one read of the storage found is reused by the next calls, so
# that one poll (the study, its trials, their metrics) reads the storage once.
SYNC_REUSE = 0.25
# Properties of a child that the sweep view reads as something else than a hyperparameter.
RESERVED = frozenset({"iteration", "pipeline", "preprocessor", "algorithm", "primary_metric",
                      "goal", "pareto_front"})  # fmt: skip

_STATUS = {
    "RUNNING": st.RUNNING,
    "WAITING": st.QUEUED,
    "COMPLETE": st.COMPLETED,
    "PRUNED": st.CANCELED,
    "FAIL": st.FAILED,
}


def is_study(obj: Any) -> bool:
    """Whether ``obj`` is an ``optuna.Study`` (without importing optuna)."""
    import sys

    module = sys.modules.get("optuna")
    return module is not None and isinstance(obj, module.Study)


def metric_names(study: optuna.Study) -> list[str]:
    """The names of the study's objectives: its metric names, else Optuna's own column
    names (``value``, or ``values_0``, ``values_1``...)."""
    count = len(study.directions)
    try:
        names = study.metric_names
    except Exception:  # an older Optuna without metric names
        names = None
    if names and len(names) == count:
        return [str(n) for n in names]
    return ["value"] if count == 1 else [f"values_{i}" for i in range(count)]


def parameter_properties(params: dict[str, Any]) -> dict[str, Any]:
    """A trial's parameters as run properties: plain values, reserved names prefixed."""
    out: dict[str, Any] = {}
    for name, value in params.items():
        key = f"param {name}" if name in RESERVED else str(name)
        if hasattr(value, "item") and not isinstance(value, (str, bytes)):
            value = value.item()  # a numpy scalar
        plain = value is None or isinstance(value, (str, int, float, bool))
        out[key] = value if plain else str(value)
    return out


def _plain_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    return {str(k): v for k, v in attrs.items() if isinstance(v, (str, int, float, bool))}


def _ts(when: Any) -> float | None:
    return None if when is None else when.timestamp()


@dataclass
class _Trial:
    number: int
    trial: Any  # the FrozenTrial last read (a _Missing for a number never read)
    record: RunRecord
    points: list[MetricPoint] = field(default_factory=list)  # seq = index + 1
    steps: set[float] = field(default_factory=set)
    valued: bool = False  # its objective values were emitted
    pareto: bool | None = None

    @property
    def finished(self) -> bool:
        return bool(self.trial.state.is_finished())


class OptunaSource(RunSource):
    """An Optuna study as a sweep run (see the module docstring).

    Args:
        study: the study; any storage (in memory, RDB, journal). To follow a study that
            another process optimises, load it: ``optuna.load_study(study_name=...,
            storage=...)``.
        idle_timeout: seconds after the last trial ended during which the study still
            reads as Running.
        max_curves: the most trials drawn in the study's intermediate-values chart.

    Raises:
        InvalidValueError: ``study`` is not an ``optuna.Study``, or an argument is out of range.
        MissingDependencyError: optuna is not installed.
    """

    _study: optuna.Study

    def __init__(
        self, study: optuna.Study, *, idle_timeout: float = 60.0, max_curves: int = 50
    ) -> None:
        optuna = import_optional("optuna", extra="optuna", feature="Showing an Optuna study")
        if not isinstance(study, optuna.Study):
            raise InvalidValueError(
                f"OptunaSource takes an optuna.Study, got {type(study).__name__}: {study!r:.80}"
            )
        if not (isinstance(idle_timeout, (int, float)) and idle_timeout >= 0):
            raise InvalidValueError(f"idle_timeout must be seconds >= 0, got {idle_timeout!r}")
        if not isinstance(max_curves, int) or isinstance(max_curves, bool) or max_curves < 0:
            raise InvalidValueError(f"max_curves must be an integer >= 0, got {max_curves!r}")
        self._optuna = optuna
        self._study = study
        self.idle_timeout = float(idle_timeout)
        self.max_curves = max_curves
        self._name = study.study_name
        self._id = f"optuna-{self._name}"
        self._created = time.time()
        self._lock = threading.RLock()
        self._directions = [d.name.lower() for d in study.directions]
        self._names: list[str] | None = None
        self._trials: list[_Trial] = []
        self._first_unfinished = 0
        self._seq = 0
        self._changes: list[tuple[int, int]] = []  # (seq, trial number), seq ascending
        self._curves: list[MetricPoint] = []
        self._curve_trials: set[int] = set()
        self._front_dirty = False
        self._front_size = 0
        self._last_ended: float | None = None
        self._record: RunRecord | None = None
        self._synced_at = -math.inf

    # -- RunSource ---------------------------------------------------------------------------
    @property
    def run_id(self) -> str:
        return self._id

    @property
    def study(self) -> optuna.Study:
        return self._study

    def record(self) -> RunRecord:
        with self._lock:
            self._sync_if_stale()
            self._record = self._make_record(time.time())
            return self._record

    def children(self, since: int = 0) -> list[RunRecord]:
        with self._lock:
            self._sync_if_stale()
            start = bisect.bisect_right(self._changes, (since, math.inf))
            numbers = {number for _, number in self._changes[start:]}
            records = [self._trials[n].record for n in numbers]
            return sorted(records, key=lambda r: r.seq)

    def metrics(self, since: int = 0, limit: int | None = None) -> list[MetricPoint]:
        with self._lock:
            self._sync_if_stale()
            return _after(self._curves, since, limit)

    def child_metrics(self, run_id: str, since: int = 0) -> list[MetricPoint]:
        with self._lock:
            return _after(self._entry(run_id).points, since, None)

    def logs(self, since: int = 0, limit: int | None = None) -> list[LogLine]:
        return []

    def images(self, since: int = 0) -> list[FileInfo]:
        return []

    def image_bytes(self, image: FileInfo) -> bytes:
        raise FileNotFoundError(f"an Optuna study has no image {image.path!r}")

    def child(self, run_id: str) -> RunSource:
        with self._lock:
            self._entry(run_id)
        return _TrialSource(self, run_id)

    def __repr__(self) -> str:
        return f"OptunaSource({self._name!r})"

    def trial_record(self, run_id: str) -> RunRecord:
        """The run record of trial run ``run_id`` (read by its drill-down source)."""
        with self._lock:
            return self._entry(run_id).record

    def trial_points(self, run_id: str, since: int, limit: int | None) -> list[MetricPoint]:
        """The points of trial run ``run_id`` after seq ``since``, at most ``limit``."""
        with self._lock:
            return _after(self._entry(run_id).points, since, limit)

    # -- reading the storage -----------------------------------------------------------------
    def _entry(self, run_id: str) -> _Trial:
        prefix = f"{self._id}-trial-"
        if run_id.startswith(prefix) and run_id[len(prefix) :].isdigit():
            number = int(run_id[len(prefix) :])
            self._sync_if_stale()
            if number < len(self._trials):
                return self._trials[number]
        raise RunNotFoundError(f"study {self._name!r} has no trial run {run_id!r}")

    def _read(self) -> list[Any]:
        try:
            return self._study.get_trials(deepcopy=False)
        except KeyError as e:
            raise RunNotFoundError(f"study {self._name!r} no longer exists: {e}") from e
        except Exception as e:
            if _is_unreachable(e):
                raise StoreUnavailableError(
                    f"the storage of study {self._name!r} cannot be reached: {e}"
                ) from e
            raise

    def _sync_if_stale(self) -> None:
        if time.monotonic() - self._synced_at > SYNC_REUSE:
            self._sync()

    def _sync(self) -> None:
        trials = self._read()
        self._synced_at = time.monotonic()
        if self._names is None:
            self._names = metric_names(self._study)
        start = self._first_unfinished
        if any(t.number != i for i, t in enumerate(trials[start : start + 1], start)):
            start = 0  # numbers not dense by position (never seen): compare everything
        now = time.time()
        for trial in trials[start:]:
            self._update(trial, now)
        while (
            self._first_unfinished < len(self._trials)
            and self._trials[self._first_unfinished].finished
        ):
            self._first_unfinished += 1
        if self._front_dirty:
            self._mark_front()

    def _update(self, trial: Any, now: float) -> None:
        number = trial.number
        if number < len(self._trials):
            entry = self._trials[number]
            old = entry.trial
            if old is trial or (
                old.state == trial.state
                and old.params == trial.params
                and len(old.intermediate_values) == len(trial.intermediate_values)
                and old.user_attrs == trial.user_attrs
            ):
                return
        else:
            while len(self._trials) < number:  # a gap: should not happen, keeps positions
                self._trials.append(self._placeholder(len(self._trials)))
            entry = None
        record = self._trial_record(trial, entry)
        if entry is None:
            entry = _Trial(number, trial, record)
            self._trials.append(entry)
        else:
            entry.trial, entry.record = trial, record
        self._emit_points(entry, now)
        if trial.state.is_finished() and trial.datetime_complete is not None:
            ended = trial.datetime_complete.timestamp()
            self._last_ended = ended if self._last_ended is None else max(self._last_ended, ended)
        if len(self._directions) > 1 and trial.state.name == "COMPLETE":
            self._front_dirty = True
        self._bump(entry)

    def _placeholder(self, number: int) -> _Trial:
        # Not reachable through Optuna's numbering; keeps list positions equal to numbers.
        fake = _Missing(number)
        return _Trial(number, fake, self._trial_record(fake, None))

    def _bump(self, entry: _Trial) -> None:
        self._seq += 1
        entry.record = _with_seq(entry.record, self._seq)
        self._changes.append((self._seq, entry.number))

    def _emit_points(self, entry: _Trial, now: float) -> None:
        trial = entry.trial
        new_steps = sorted(
            (float(s), v)
            for s, v in trial.intermediate_values.items()
            if float(s) not in entry.steps
        )
        curve = entry.number in self._curve_trials or len(self._curve_trials) < self.max_curves
        for step, value in new_steps:
            entry.steps.add(step)
            entry.points.append(
                MetricPoint(
                    len(entry.points) + 1, INTERMEDIATE, MetricKind.SCALAR, step, float(value), now
                )  # fmt: skip
            )
            if curve:
                self._curve_trials.add(entry.number)
                self._curves.append(
                    MetricPoint(
                        len(self._curves) + 1,
                        CURVES,
                        MetricKind.ROW,
                        None,
                        {"step": step, f"trial {entry.number}": float(value)},
                        now,
                    )  # fmt: skip
                )
        if not entry.valued and trial.state.name == "COMPLETE" and trial.values is not None:
            entry.valued = True
            assert self._names is not None
            for name, value in zip(self._names, trial.values, strict=False):
                entry.points.append(
                    MetricPoint(
                        len(entry.points) + 1, name, MetricKind.SCALAR, None, float(value), now
                    )  # fmt: skip
                )

    def _trial_record(self, trial: Any, entry: _Trial | None) -> RunRecord:
        state = trial.state.name
        properties: dict[str, Any] = {"iteration": trial.number}
        properties.update(parameter_properties(trial.params))
        if len(self._directions) > 1 and state == "COMPLETE":
            properties["pareto_front"] = bool(entry and entry.pareto)
        error = None
        if state == "FAIL":
            reason = trial.system_attrs.get("fail_reason") if trial.system_attrs else None
            error = {"message": str(reason or f"trial {trial.number} failed"), "traceback": None}
        started = _ts(trial.datetime_start)
        return RunRecord(
            id=f"{self._id}-trial-{trial.number}",
            experiment=self._name,
            parent_id=self._id,
            number=trial.number + 1,
            display_name=f"Trial {trial.number}",
            run_type=RunType.CHILD,
            status=_STATUS.get(state, st.NOT_STARTED),
            created=started if started is not None else self._created,
            started=started,
            ended=_ts(trial.datetime_complete),
            properties=properties,
            tags=_plain_attrs(trial.user_attrs or {}),
            error=error,
            target="optuna",
        )

    def _mark_front(self) -> None:
        self._front_dirty = False
        complete = [e for e in self._trials if e.trial.state.name == "COMPLETE"]
        front = pareto_front(
            [(e.number, tuple(e.trial.values)) for e in complete if e.trial.values is not None],
            self._directions,
        )
        self._front_size = len(front)
        for entry in complete:
            on_front = entry.number in front
            if entry.pareto != on_front:
                entry.pareto = on_front
                entry.record = _with_properties(entry.record, pareto_front=on_front)
                self._bump(entry)

    def _make_record(self, now: float) -> RunRecord:
        trials = self._trials
        started = min((e.record.started for e in trials if e.record.started), default=None)
        if not trials:
            status = st.NOT_STARTED
        elif self._first_unfinished < len(trials) or (
            self._last_ended is not None and now - self._last_ended < self.idle_timeout
        ):
            status = st.RUNNING
        else:
            status = st.COMPLETED
        assert self._names is not None
        properties: dict[str, Any] = {
            "primary_metric": self._names[0],
            "goal": self._directions[0],
            "study_name": self._name,
            "storage": type(_storage_of(self._study)).__name__,
        }
        if len(self._directions) > 1:
            properties["objectives"] = ", ".join(
                f"{n} ({d})" for n, d in zip(self._names, self._directions, strict=False)
            )
            properties["pareto_front_size"] = self._front_size
        properties["trials"] = len(trials)
        try:
            tags = _plain_attrs(self._study.user_attrs)
        except Exception:
            tags = {}
        return RunRecord(
            id=self._id,
            experiment=self._name,
            parent_id=None,
            number=0,
            display_name=self._name,
            run_type=RunType.SWEEP,
            status=status,
            created=started if started is not None else self._created,
            started=started,
            ended=self._last_ended if status == st.COMPLETED else None,
            properties=properties,
            tags=tags,
            target="optuna",
            seq=self._seq,
        )


class _TrialSource(RunSource):
    """One trial of an ``OptunaSource`` (drill-down from the study)."""

    def __init__(self, parent: OptunaSource, run_id: str) -> None:
        self._parent = parent
        self._run_id = run_id

    @property
    def run_id(self) -> str:
        return self._run_id

    def record(self) -> RunRecord:
        return self._parent.trial_record(self._run_id)

    def children(self, since: int = 0) -> list[RunRecord]:
        return []

    def metrics(self, since: int = 0, limit: int | None = None) -> list[MetricPoint]:
        return self._parent.trial_points(self._run_id, since, limit)

    def logs(self, since: int = 0, limit: int | None = None) -> list[LogLine]:
        return []

    def images(self, since: int = 0) -> list[FileInfo]:
        return []

    def image_bytes(self, image: FileInfo) -> bytes:
        raise FileNotFoundError(f"an Optuna trial has no image {image.path!r}")

    def child(self, run_id: str) -> RunSource:
        raise RunNotFoundError(f"trial run {self._run_id!r} has no child run {run_id!r}")

    def __repr__(self) -> str:
        return f"_TrialSource({self._run_id!r})"


def pareto_front(points: list[tuple[int, tuple[float, ...]]], directions: list[str]) -> set[int]:
    """The keys of the points no other point dominates (better or equal in every objective,
    better in one), for objectives to ``maximize`` or ``minimize``."""
    signs = [-1.0 if d == "maximize" else 1.0 for d in directions]
    scored = sorted(
        (
            (tuple(s * v for s, v in zip(signs, values, strict=False)), key)
            for key, values in points
        ),
    )
    front: list[tuple[tuple[float, ...], int]] = []
    for values, key in scored:
        if any(math.isnan(v) for v in values):
            continue
        # Sorted lexicographically, a point can only be dominated by one before it.
        dominated = any(
            all(a <= b for a, b in zip(other, values, strict=False)) and other != values
            for other, _ in front
        )
        if not dominated:
            front.append((values, key))
    return {key for _, key in front}


class _Missing:
    """A trial number the storage did not return (keeps positions; never shown finished)."""

    def __init__(self, number: int) -> None:
        from types import SimpleNamespace

        self.number = number
        self.state = SimpleNamespace(name="WAITING", is_finished=lambda: False)
        self.params: dict[str, Any] = {}
        self.intermediate_values: dict[int, float] = {}
        self.user_attrs: dict[str, Any] = {}
        self.system_attrs: dict[str, Any] = {}
        self.values = None
        self.datetime_start = None
        self.datetime_complete = None


def _after(points: list[MetricPoint], since: int, limit: int | None) -> list[MetricPoint]:
    # Seqs are 1..n in order: the items after ``since`` start at index ``since``.
    start = max(0, min(int(since), len(points)))
    end = len(points) if limit is None else start + limit
    return points[start:end]


def _with_seq(record: RunRecord, seq: int) -> RunRecord:
    from dataclasses import replace

    return replace(record, seq=seq)


def _with_properties(record: RunRecord, **changes: Any) -> RunRecord:
    from dataclasses import replace

    return replace(record, properties={**record.properties, **changes})


def _storage_of(study: Any) -> Any:
    storage = getattr(study, "_storage", None)
    return getattr(storage, "_backend", storage)  # through Optuna's RDB cache


def _is_unreachable(error: Exception) -> bool:
    try:
        from sqlalchemy.exc import DBAPIError, OperationalError
    except ImportError:  # pragma: no cover - sqlalchemy is a dependency
        return isinstance(error, OSError)
    return isinstance(error, (OperationalError, DBAPIError, OSError))
