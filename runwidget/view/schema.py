"""The shapes of the view JSON that every front end draws: a snapshot and a delta.

These types are the contract with the browser (``js/view-types.js`` has the same shapes as
JSDoc typedefs); the golden files in ``tests/fixtures/view/`` are examples of them that the
Python and the JS tests both read. Values are plain JSON: no NaN or infinity (see
``runwidget.view._values.json_value``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, TypedDict

if TYPE_CHECKING:  # Python 3.10's typing lacks it; annotations here are never evaluated
    from typing_extensions import NotRequired

StatusKind = Literal["running", "completed", "failed", "canceled", "waiting", "warning"]
Goal = Literal["maximize", "minimize"]


class Header(TypedDict):
    run_id: str
    display_name: str
    experiment: str
    type: str
    number: int
    parent_id: str | None
    status: str
    #: The colour family of ``status``, which front ends draw as sent.
    status_kind: StatusKind
    created: float
    started: float | None
    ended: float | None
    portal_url: str | None
    #: How to start a portal, when none serves the run's store (absent otherwise).
    portal_note: NotRequired[str]


class Property(TypedDict):
    group: str  # run, argument, metric, tag, property
    name: str
    value: Any


class SeriesSpec(TypedDict):
    id: str
    label: str
    colour: str


class Series(SeriesSpec):
    """A series with its (downsampled) points, as a snapshot has it."""

    count: int  # points logged (drawn or not)
    skipped: int  # values not drawn (NaN, infinity)
    x: list[float]
    y: list[float]


class ChartControls(TypedDict):
    """What a chart's toolbar offers (``runwidget.view.charts``)."""

    log_y: bool  # every value is > 0
    x_axes: list[str]  # "data" (the chart's x), and "relative", "wall" when points have times
    csv: bool  # the full series can be downloaded
    smoothing: NotRequired[bool]  # False: the chart offers none (points, not a curve)


class ChartSpec(TypedDict):
    id: str
    name: str
    title: str
    kind: str  # "line" (one variable) or "xy" (two)
    x_label: str
    y_label: str
    series: list[Any]  # SeriesSpec in a delta, Series in a snapshot
    #: ``"system"`` for system metrics (runwidget.tracking.system_metrics): their own section.
    section: NotRequired[str]
    controls: NotRequired[ChartControls]


class SeriesTail(TypedDict):
    """New points of one series: keep its first ``start`` points, append ``x``/``y``."""

    chart: str
    series: str
    start: int
    x: list[float]
    y: list[float]
    count: int
    skipped: int


class ChildRow(TypedDict):
    id: str
    number: int
    name: str
    type: str
    status: str
    status_kind: StatusKind
    created: float
    started: float | None
    ended: float | None
    metrics: dict[str, Any]
    # Iterations of an AutoML or sweep parent only:
    iteration: NotRequired[int]
    pipeline: NotRequired[str | None]
    params: NotRequired[dict[str, Any]]
    metric: NotRequired[float | None]  # the primary metric
    best: NotRequired[float | None]  # the best primary metric up to this iteration


class Column(TypedDict):
    key: str
    label: str


class Children(TypedDict):
    columns: list[Column]
    rows: list[ChildRow]


class IterationSeries(TypedDict):
    """One metric's iteration chart: a point per iteration and the stepped best so far."""

    x: list[float]
    y: list[float]
    best_x: list[float]
    best_y: list[float]


class IterationColours(TypedDict):
    points: str
    best: str


class BestIteration(TypedDict):
    id: str
    iteration: int
    value: float


class Iterations(TypedDict):
    kind: str  # automl or sweep
    primary_metric: str | None
    goal: Goal  # of the primary metric
    metrics: list[str]  # the primary metric first
    params: list[str]
    best: BestIteration | None
    series: dict[str, IterationSeries]  # by metric
    controls: dict[str, ChartControls]  # each metric's iteration chart's toolbar
    colours: IterationColours


class Log(TypedDict):
    lines: list[dict[str, Any]]  # {seq, stream, text, time}
    total: int
    limit: int


class ViewSnapshot(TypedDict):
    version: int
    time: float
    header: Header
    properties: list[Property]
    error: dict[str, Any] | None  # {message, traceback}
    notices: list[dict[str, Any]]  # {key, level, text}
    charts: list[ChartSpec]
    images: list[dict[str, Any]]
    children: Children
    iterations: Iterations | None
    log: Log
    terminal: bool
    #: Rich metrics (``runwidget.view.plots``), when the run has some.
    plots: NotRequired[list[dict[str, Any]]]
    #: The run's alerts, oldest first, when it has some: {title, text, level, kind, time}.
    alerts: NotRequired[list[dict[str, Any]]]


class ChartsDelta(TypedDict):
    specs: list[ChartSpec]
    data: list[SeriesTail]


class ChildrenDelta(TypedDict, total=False):
    columns: list[Column]
    upsert: list[ChildRow]


class LogDelta(TypedDict):
    append: list[dict[str, Any]]
    total: int


class ViewDelta(TypedDict):
    """What changed from version ``base`` to ``version`` (see ``runwidget.view.delta``)."""

    version: int
    base: int
    time: float
    header: NotRequired[Header]
    properties: NotRequired[list[Property]]
    error: NotRequired[dict[str, Any] | None]
    notices: NotRequired[list[dict[str, Any]]]
    charts: NotRequired[ChartsDelta]
    images: NotRequired[dict[str, list[Any]]]  # {add: [image], remove: [image id]}
    children: NotRequired[ChildrenDelta]
    iterations: NotRequired[Iterations | None]
    log: NotRequired[LogDelta]
    terminal: NotRequired[bool]
    plots: NotRequired[list[dict[str, Any]]]  # every plot, when one changed
    alerts: NotRequired[list[dict[str, Any]]]  # every alert, when one came
