"""Plain records that a store returns and accepts. No I/O here."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from runwidget.status import effective_status


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


@dataclass(frozen=True, slots=True)
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
    """One logged point. ``value`` is a float (NaN and ±inf included), a str, or, for
    ``row``/``table`` points, a dict of column name to value. ``step`` is None when the
    user gave none: readers number such points by their order."""

    seq: int
    name: str
    kind: str
    step: float | None
    value: Any
    time: float


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
