"""Plain records that a store returns and accepts. No I/O here."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from runwidget.status import effective_status
from runwidget.store.blocks import MetricBlocks


class MetricKind:
    """How a metric point was logged; it decides how the point is drawn."""

    SCALAR = "scalar"  # run.log(name, number or string)
    LIST = "list"  # run.log_list(name, values): one point per element
    ROW = "row"  # run.log_row(name, **columns)
    TABLE = "table"  # run.log_table(name, {column: values}): one point per row

    ALL = (SCALAR, LIST, ROW, TABLE)


@dataclass(frozen=True, slots=True)
class ExperimentRecord:
    id: int
    name: str
    created: float


# Read-only by convention, not frozen: a frozen dataclass sets each field through
# object.__setattr__, and making a page of 100 runs' records took 151 us that way, 16 us
# so (a page of 500, the portal's largest: 0.75 ms of its CPU). Change one with
# dataclasses.replace, as the store's readers share them.
@dataclass(slots=True)
class RunRecord:
    """One run as stored. ``seq`` is the run's change cursor (see ``RunStore.list_runs``)."""

    id: str
    experiment: str
    parent_id: str | None
    number: int
    display_name: str
    run_type: str
    status: str
    created: float
    started: float | None = None
    ended: float | None = None
    heartbeat: float | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, Any] = field(default_factory=dict)
    error: dict[str, Any] | None = None
    target: str = "local"
    arguments: list[Any] = field(default_factory=list)
    seq: int = 0

    def current_status(self, now: float | None = None) -> str:
        """The status to show: ``NotResponding`` when an alive run stopped beating."""
        return effective_status(self.status, self.heartbeat, time.time() if now is None else now)


@dataclass(frozen=True, slots=True)
class MetricPoint:
    """One logged point. ``value`` is a float (NaN and ±inf included), an int (logged as
    one: stored as its float, for charts and blocks, and exactly in ``data``), a str, or,
    for ``row``/``table`` points, a dict of column name to value. ``step`` is None when the
    user gave none: readers number such points by their order."""

    seq: int
    name: str
    kind: str
    step: float | None
    value: Any
    time: float


@dataclass(frozen=True)
class MetricColumns:
    """The points of one metric, as columns: what ``RunStore.read_metric_columns`` returns.

    ``seq``, ``step`` and ``value`` are numpy arrays of the numeric points in ``seq`` order
    (``step`` is NaN where the user gave none; ``value`` holds NaN and infinities as logged).
    ``others`` are the points whose value is a string or a dict of columns (``row`` and
    ``table`` points), as ``MetricPoint`` records in ``seq`` order. ``blocks``, when a
    reader asked for them, summarise the metric's first numeric points; the columns then
    hold only the numeric points after them.
    """

    name: str
    kind: str
    seq: np.ndarray
    step: np.ndarray
    value: np.ndarray
    others: list[MetricPoint] = field(default_factory=list)
    blocks: MetricBlocks | None = None

    def __len__(self) -> int:
        """The points (summarised ones included)."""
        return len(self.seq) + len(self.others) + (self.blocks.points if self.blocks else 0)


def metric_columns(points: Iterable[MetricPoint]) -> list[MetricColumns]:
    """Group points by metric name (in order of first appearance) into columns."""
    numeric: dict[str, list[tuple[int, float, float]]] = {}
    others: dict[str, list[MetricPoint]] = {}
    kinds: dict[str, str] = {}
    for p in points:
        kinds.setdefault(p.name, p.kind)
        if isinstance(p.value, (str, dict)):
            others.setdefault(p.name, []).append(p)
        else:
            step = np.nan if p.step is None else p.step
            numeric.setdefault(p.name, []).append((p.seq, step, p.value))
    out = []
    for name, kind in kinds.items():
        rows = numeric.get(name, [])
        table = np.array(rows, dtype=float).reshape(len(rows), 3)
        out.append(
            MetricColumns(
                name, kind, table[:, 0].astype(np.int64), table[:, 1], table[:, 2],
                others.get(name, []),
            )
        )  # fmt: skip
    return out


@dataclass(frozen=True, slots=True)
class LogLine:
    seq: int
    stream: str
    text: str
    time: float


@dataclass(frozen=True, slots=True)
class FileInfo:
    """A stored file, without its bytes. Images logged with ``log_image`` have
    ``kind == "image"`` and ``name`` set to the metric name."""

    seq: int
    path: str
    kind: str
    size: int
    content_type: str
    time: float
    name: str | None = None
    step: float | None = None


@dataclass(frozen=True, slots=True)
class TargetRecord:
    """An attached compute target: its name, kind (``ray``...) and how to reach it."""

    name: str
    kind: str
    config: dict[str, Any]
    created: float


class AlertLevel:
    """How serious an alert is."""

    INFO = "info"
    WARN = "warn"
    ERROR = "error"

    ALL = (INFO, WARN, ERROR)


class AlertKind:
    """Who raised an alert: the user (``run.alert``) or runwidget, noticing the run."""

    USER = "user"
    FAILED = "failed"  # the run ended Failed
    NOT_RESPONDING = "not_responding"  # its heartbeat stopped
    NAN = "nan"  # a metric became NaN or infinite

    ALL = (USER, FAILED, NOT_RESPONDING, NAN)


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """One alert of a run. ``seq`` is the store-wide alert cursor (``RunStore.list_alerts``)."""

    seq: int
    run_id: str
    kind: str
    level: str
    title: str
    text: str
    time: float

    def as_dict(self) -> dict[str, Any]:
        """What ``run.get_alerts()`` returns for it."""
        return {
            "title": self.title,
            "text": self.text,
            "level": self.level,
            "kind": self.kind,
            "time": self.time,
        }


@dataclass(frozen=True, slots=True)
class ModelRecord:
    """One version of a registered model. Its files are the files of run ``run_id`` at
    ``path`` (a file, or a folder: every file under it)."""

    name: str
    version: int
    run_id: str | None
    path: str
    tags: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)
    description: str | None = None
    created: float = 0.0
    experiment: str | None = None


@dataclass(slots=True)
class NewFile:
    """A file waiting to be written."""

    path: str
    data: bytes
    kind: str = "output"
    content_type: str = "application/octet-stream"
    name: str | None = None
    step: float | None = None
    time: float = 0.0


@dataclass(slots=True)
class Batch:
    """Writes for one run that a store commits in one transaction.

    ``metrics`` rows are ``(name, kind, step, value, time)``; ``logs`` rows are
    ``(stream, text, time)``. Tuples, not objects: ``run.log`` is a hot path.
    """

    metrics: list[tuple[str, str, float | None, Any, float]] = field(default_factory=list)
    logs: list[tuple[str, str, float]] = field(default_factory=list)
    files: list[NewFile] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.metrics) + len(self.logs) + len(self.files)


class RunType:
    INTERACTIVE = "interactive"  # experiment.start_logging()
    SCRIPT = "script"  # experiment.submit(ScriptRunConfig(...))
    AUTOML = "automl"  # parent of AutoML iterations
    SWEEP = "sweep"  # parent of hyperparameter-search trials
    CHILD = "child"  # run.child_run()
    # The types a local supervisor process runs and beats: a submitted script, and an AutoML
    # search (whose search loop is the script). Cancel, heartbeat and reaping work alike.
    SUPERVISED = frozenset({SCRIPT, AUTOML})


@dataclass(frozen=True, slots=True)
class RunFilter:
    """Which runs a list shows (every field left out selects all).

    Args:
        experiment: only runs of this experiment.
        parent: ``""`` for top-level runs, else only the children of this run id.
        statuses: only runs whose *shown* status is one of these (``NotResponding``
            included: an alive run whose heartbeat is stale).
        search: a case-insensitive text that the name, id, experiment, type or a tag
            (name or value) contains.
        target: only runs of this compute target.
        tags: only runs with these tags; a value of None accepts any value.
        created_after, created_before: only runs created in this time range (seconds).
    """

    experiment: str | None = None
    parent: str | None = None
    statuses: frozenset[str] | None = None
    search: str | None = None
    target: str | None = None
    tags: tuple[tuple[str, Any], ...] = ()
    created_after: float | None = None
    created_before: float | None = None


@dataclass(frozen=True, slots=True)
class RunPage:
    """A page of a run list; ``after`` continues it (None on the last page).
    ``summaries``: per run of the page, the metric summaries ``find_runs`` was asked for,
    as ``RunStore.metric_summaries`` gives them."""

    records: list[RunRecord]
    after: str | None
    summaries: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RunTotal:
    """How many runs a list holds, for its "N runs" line: exact, or, when ``estimated``,
    the database's estimate (a list that large is shown as "about N")."""

    count: int
    estimated: bool = False


@dataclass(frozen=True, slots=True)
class RunVersion:
    """What a reader compares to learn that a run changed: its record's change cursor,
    its data version (grows with each write of its metrics, logs and files), and the
    same of its children, summed up."""

    seq: int
    data: int
    children_seq: int
    children_data: int
