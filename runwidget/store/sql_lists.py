"""Run lists read by the database: filters, search, keyset pages, counts, metric summaries
and the change probes. A part of ``SqlStore`` (a mixin), so that every list a surface shows
costs indexed reads whatever the size of the store.
"""

from __future__ import annotations

import base64
import json
import math
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from sqlalchemy import (
    BigInteger,
    Connection,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    exists,
    false,
    func,
    literal_column,
    or_,
    select,
    text,
    tuple_,
)
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.expression import Executable

from runwidget import _settings
from runwidget import status as st
from runwidget.errors import InvalidValueError
from runwidget.store import schema as s
from runwidget.store.derived import normalise_search
from runwidget.store.records import RunFilter, RunPage, RunRecord, RunTotal, RunVersion
from runwidget.store.sql_compiled import CompiledStatements, any_of, list_value

# What a list may be ordered by: its columns, newest first among equals, each order with an
# index on those columns and ``key`` (the tie-breaker), which a page seeks in.
SORTABLE = {
    "created": (s.runs.c.created,),
    "name": (s.runs.c.display_name, s.runs.c.created),
    "status": (s.runs.c.status, s.runs.c.created),
    "target": (s.runs.c.target, s.runs.c.created),
}
MAX_LIST = 10_000
# A page carries the summaries of at most this many metrics in its own statement
# (PostgreSQL, ``find_runs(summaries=...)``); more are read by ``metric_summaries``.
JOINED_SUMMARIES = 20
# Runs whose keys a store remembers (about 150 bytes each), from its writes and its pages.
KNOWN_KEYS = 50_000
# A search matching this many runs or more (fewer in a small store) is common: a page of it
# is read by walking the runs in order, not from the search index (SQLite; see
# ``_search_condition``).
COMMON_MATCHES = 2000
# A list's total is counted exactly up to this many runs (a count that reads at most this
# many index entries); above, PostgreSQL's planner estimates it, and the list shows
# "about N". An exact count of 1M runs takes 50 ms of the server alone, 0.7-1.4 s under 20
# clients; this one, 1 ms.
EXACT_TOTAL = 10_000
_WILD = frozenset("%_\\")  # LIKE's wildcards and our escape character
WAITING_OR_ENDED = frozenset(st.ALL) - st.ALIVE
T = TypeVar("T")


# The columns of ``select_runs()``: a record's fields in their order (the row unpacks into
# them, about twice as fast as reading it by name, which a page of 500 runs notices), then
# the key. The search text is left out: no record holds it, and it is a page's widest column.
_r = s.runs.c
_SELECT_RUNS = select(
    _r.id, s.experiments.c.name.label("experiment_name"), _r.parent_id, _r.number,
    _r.display_name, _r.run_type, _r.status, _r.created, _r.started, _r.ended, _r.heartbeat,
    _r.properties, _r.tags, _r.error_message, _r.error_traceback, _r.target, _r.arguments,
    _r.seq, _r.key,
).join(s.experiments, s.experiments.c.id == _r.experiment_id)  # fmt: skip
_AT = {c.key: i for i, c in enumerate(_SELECT_RUNS.selected_columns)}  # a column's place
_EMPTY = {"{}": dict, "[]": list}


def _json(text: str) -> Any:
    empty = _EMPTY.get(text)
    return empty() if empty is not None else json.loads(text)


def _record(row: Any, properties: Any, tags: Any, arguments: Any) -> RunRecord:
    message = row[13]
    error = None if message is None else {"message": message, "traceback": row[14]}
    return RunRecord(
        row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[9], row[10],
        properties, tags, error, row[15], arguments, row[17],
    )  # fmt: skip


def run_record(row: Any) -> RunRecord:
    """A row of ``select_runs()`` as a record: id to heartbeat as they are, then the JSON
    columns, the error's two and the rest."""
    return _record(row, _json(row[11]), _json(row[12]), _json(row[16]))


def run_records(rows: Sequence[Any]) -> list[RunRecord]:
    """Rows of ``select_runs()`` as records, their JSON columns decoded by one ``json.loads``
    of them all: a page of 100 runs decodes 300 values, whose calls one by one cost more
    than the decoding (1.33 -> 0.88 ms)."""
    texts = [text for row in rows for text in (row[11], row[12], row[16])]
    try:
        values = json.loads("[" + ",".join(texts) + "]")
    except ValueError:
        values = None
    if not isinstance(values, list) or len(values) != len(texts):
        # A value that is not one JSON text each (never written so): one by one, so that
        # the row at fault is the one that fails.
        return [run_record(row) for row in rows]
    it = iter(values)
    return [_record(row, next(it), next(it), next(it)) for row in rows]


def select_runs() -> Any:
    """Runs with their experiment's name (built once: a query grows by copies)."""
    return _SELECT_RUNS


def shown_status(statuses: Collection[str], stale: ColumnElement[Any]) -> ColumnElement[bool]:
    """The SQL test "the run's shown status is one of ``statuses``": an alive run reads
    NotResponding when its heartbeat is older than ``stale`` (as ``effective_status``)."""
    r = s.runs.c
    beating = or_(r.heartbeat.is_(None), r.heartbeat >= stale)
    tests: list[ColumnElement[bool]] = []
    plain = [x for x in statuses if x in WAITING_OR_ENDED]
    if plain:
        tests.append(r.status.in_(plain))
    alive = [x for x in statuses if x in st.ALIVE]
    if alive:
        tests.append(and_(r.status.in_(alive), beating))
    if st.NOT_RESPONDING in statuses:
        tests.append(and_(r.status.in_(sorted(st.ALIVE)), r.heartbeat < stale))
    return or_(*tests) if tests else false()


class Filter(NamedTuple):
    """A ``RunFilter`` as SQL: its shape (which conditions, a key of compiled statements)
    and the values of their parameters."""

    shape: tuple[Hashable, ...]
    values: dict[str, Any]


def filter_conditions(shape: tuple[Hashable, ...]) -> list[ColumnElement[bool]]:
    """The conditions of a filter's shape (``SqlRunLists._filter``), each value a named
    parameter."""
    r, t = s.runs.c, s.run_tags.c
    found: list[ColumnElement[bool]] = []
    for part in shape:
        match part:
            case "experiment":
                exp = s.experiments.c
                found.append(
                    r.experiment_id
                    == select(exp.id)
                    .where(exp.name == bindparam("experiment", None))
                    .scalar_subquery()
                )
            case "top level":
                found.append(r.parent_id.is_(None))
            case "parent":
                found.append(r.parent_id == bindparam("parent", None))
            case ("statuses", tuple() as statuses):
                stale = bindparam("stale", None, type_=r.created.type)
                found.append(shown_status(statuses, stale))
            case "target":
                found.append(r.target == bindparam("target", None))
            case ("search", "fts"):
                found.append(
                    r.key.in_(
                        select(literal_column("rowid"))
                        .select_from(text("rw_runs_fts"))
                        .where(
                            literal_column("rw_runs_fts.search").like(
                                bindparam("search", None, type_=String)
                            )
                        )
                    )
                )
            case ("search", _):
                found.append(r.search.like(bindparam("search", None), escape="\\"))
            case ("tag", i, valued):
                test = and_(t.run_key == r.key, t.name == bindparam(f"tag_{i}", None))
                if valued:
                    test = and_(test, t.value == bindparam(f"tag_{i}_value", None))
                found.append(exists().where(test))
            case "created after":
                found.append(r.created >= bindparam("created_after", None))
            case "created before":
                found.append(r.created < bindparam("created_before", None))
            case _:
                raise ValueError(f"not a part of a filter's shape: {part!r}")
    return found


def plan_kept(shape: tuple[Hashable, ...]) -> bool:
    """Whether PostgreSQL may plan a list of this filter's shape once for all its calls, its
    page size written into its text (runwidget/store/sql_compiled.py): only when no value
    of the filter could change the best plan. An experiment's id is read by the statement
    itself, unknown to any plan; a status that has ended, no value at all. How many runs
    hold a searched text, a tag, a parent or a target, or are alive and still beating, or
    were created in a time range, does change it: those lists are planned at each call (a
    page of Running runs planned once for all was 83 ms instead of 0.06)."""

    def known(part: Hashable) -> bool:
        if isinstance(part, tuple) and part[0] == "statuses":
            return set(part[1]) <= WAITING_OR_ENDED
        return part in ("experiment", "top level")

    return all(known(part) for part in shape)


def page_query(
    shape: tuple[Hashable, ...],
    order: str,
    descending: bool,
    keyset: bool,
    skips: bool,
    rows: int | None,
    summaries: int = 0,
) -> Select[Any]:
    """A page of runs of a filter's shape in ``order``, after the run of a page token
    (``keyset``: parameters ``after_0``... and ``after_key``) or ``skips`` rows
    (``offset``): ``rows`` rows, or parameter ``limit``'s when None; each with the
    ``summary_columns`` of ``summaries`` metrics after its ``select_runs()`` columns."""
    columns, key = SORTABLE[order], s.runs.c.key
    conditions = filter_conditions(shape)
    if keyset:
        # As one row comparison, which both databases seek in the (columns, key) index;
        # spelt as "column < value OR (column = value AND key < last)" it is a filter
        # on every row before the page (page 100 of 1M runs on PostgreSQL: 133 ms).
        here = tuple_(*columns, key)
        there = tuple_(
            *(bindparam(f"after_{i}", None, type_=c.type) for i, c in enumerate(columns)),
            bindparam("after_key", None, type_=key.type),
        )
        conditions.append(here < there if descending else here > there)
    ordering = [c.desc() if descending else c for c in (*columns, key)]
    limit = bindparam("limit", None, type_=Integer) if rows is None else rows
    if skips:
        # The rows skipped are walked in the (columns, key) index alone, and only the
        # page's rows are read and joined to their experiment (page 100 of 1M runs on
        # PostgreSQL: 9.6 ms -> 1.9 ms).
        keys = (
            select(key)
            .where(*conditions)
            .order_by(*ordering)
            .offset(bindparam("offset", None, type_=Integer))
            .limit(limit)
        )
        query = select_runs().where(key.in_(keys.scalar_subquery()))
    else:
        query = select_runs().where(*conditions).limit(limit)
    if summaries:
        query = query.outerjoin(s.run_summaries, s.run_summaries.c.run_key == key).add_columns(
            *summary_columns(summaries)
        )
    page: Select[Any] = query.order_by(*ordering)
    return page


def summary_columns(count: int) -> list[ColumnElement[Any]]:
    """Per metric named by parameter ``metric_0``... ``metric_{count-1}``: its place in
    its run's ``rw_run_summaries`` row (its logging order; NULL when the run has none of
    it), count, last, low and high, picked from the row's arrays by the database: a page
    reads five numbers per metric shown, not every metric of its runs (PostgreSQL)."""
    c = s.run_summaries.c
    columns: list[ColumnElement[Any]] = []
    for i in range(count):
        place = func.array_position(c.names, bindparam(f"metric_{i}", None, type_=String))
        columns += [place, c.counts[place], c.lasts[place], c.lows[place], c.highs[place]]
    return columns


def picked_summaries(rows: Sequence[Any], names: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per run of a page read with ``summary_columns(len(names))``, its summaries of
    ``names`` in logging order, as ``metric_summaries`` gives them."""
    first = len(_AT)
    found: dict[str, dict[str, Any]] = {}
    for row in rows:
        have = []
        for i, name in enumerate(names):
            at = first + 5 * i
            if row[at] is not None:
                have.append((row[at], name, at))
        have.sort()
        found[row[0]] = {name: summary(*row[at + 1 : at + 5]) for _, name, at in have}
    return found


def summary(
    count: int, last: float | None, low: float | None, high: float | None
) -> dict[str, Any]:
    """A metric's summary as the store gives it; NULL (NaN, or only NaN) as NaN."""
    nan = math.nan
    return {
        "last": nan if last is None else last,
        "min": nan if low is None else low,
        "max": nan if high is None else high,
        "count": int(count),
    }


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def encode_after(values: Sequence[Any], key: int) -> str:
    raw = json.dumps([*values, key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_after(token: str, width: int) -> tuple[list[Any], int]:
    """The ``width`` sort values and the key a page token holds.

    Raises:
        InvalidValueError: a token that no page of this order gave.
    """
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        *values, key = json.loads(raw)
        if len(values) != width or not isinstance(key, int):
            raise ValueError(token)
        if any(isinstance(v, (dict, list)) for v in values):
            raise ValueError(token)
    except (ValueError, TypeError) as e:
        raise InvalidValueError(f"not a page token: {token!r}") from e
    return values, key


class SqlRunLists:
    """``RunStore``'s list, summary and change-probe methods for SQLite and PostgreSQL."""

    _sqlite: bool
    _search_table: bool  # SQLite: the FTS5 table rw_runs_fts indexes rw_runs.search
    _display: str
    _gate: DataVersionGate
    _probed: dict[str, Any]  # the last answers of the probes, with the data version then
    _run_keys: dict[str, int]  # runs' keys by id, of runs this store wrote or listed

    if TYPE_CHECKING:

        def _reading(self) -> AbstractContextManager[Connection]: ...
        def _q(self, key: str, sql: str) -> str: ...
        def _rows(
            self, shape: Hashable, build: Callable[[], Executable], values: Mapping[str, Any]
        ) -> Sequence[Any]: ...

        _statements: CompiledStatements

    def _learn_keys(self, rows: Sequence[Any]) -> None:
        """Remember the keys of the runs of a page (rows of ``select_runs()``), by which
        their metric summaries are read next; at most ``KNOWN_KEYS``, then it starts anew.
        A run's key never changes: runs are neither moved nor deleted."""
        known = self._run_keys
        if len(known) > KNOWN_KEYS:
            known.clear()
        at = _AT["key"]
        for row in rows:
            known[row[0]] = row[at]

    def _search_kind(self, needle: str, page: int | None) -> str:
        """How runs whose search text holds ``needle`` are found: ``"fts"`` or ``"like"``.

        On SQLite through the FTS5 trigram table, which answers a LIKE without ESCAPE only: a
        needle with a LIKE wildcard in it, or of fewer than 3 characters (no trigram), scans
        the runs instead. So does a list read a ``page`` of runs at a time, when the needle
        is common: walking the runs in order fills the page soon (about runs / matches x page
        rows read), where reading every match from the index and sorting them takes longer
        the more there are. The two cost alike at sqrt(runs x page) matches.
        """
        indexed = self._sqlite and self._search_table and len(needle) >= 3
        if (
            indexed
            and not _WILD & set(needle)
            and (page is None or not self._common(f"%{needle}%", page))
        ):
            return "fts"
        return "like"

    def _common(self, pattern: str, page: int) -> bool:
        """Whether so many runs match ``pattern`` that a page is read faster by walking the
        runs than from the search table (two reads: the largest key, and the matches
        counted up to the break-even)."""
        probe = text(
            "SELECT count(*) FROM (SELECT 1 FROM rw_runs_fts WHERE search LIKE :pattern "
            "LIMIT :most)"
        )
        with self._reading() as conn:
            runs = int(conn.execute(select(func.max(s.runs.c.key))).scalar() or 0)
            most = min(COMMON_MATCHES, max(1, math.isqrt(runs * page)))
            found = conn.execute(probe, {"pattern": pattern, "most": most}).scalar()
        return int(found or 0) >= most

    # -- filters ---------------------------------------------------------------------------
    def _filter(self, where: RunFilter, page: int | None = None) -> Filter:
        """The filter's shape and the values of its parameters (``filter_conditions``)."""
        shape: list[Hashable] = []
        values: dict[str, Any] = {}
        if where.experiment is not None:
            shape.append("experiment")
            values["experiment"] = where.experiment
        if where.parent is not None:
            shape.append("top level" if where.parent == "" else "parent")
            if where.parent:
                values["parent"] = where.parent
        if where.statuses is not None:
            shape.append(("statuses", tuple(sorted(where.statuses))))
            values["stale"] = time.time() - _settings.heartbeat_timeout()
        if where.target is not None:
            shape.append("target")
            values["target"] = where.target
        needle = normalise_search(where.search) if where.search else ""
        if needle:
            kind = self._search_kind(needle, page)
            shape.append(("search", kind))
            values["search"] = f"%{needle}%" if kind == "fts" else _like_pattern(needle)
        for i, (name, value) in enumerate(where.tags):
            shape.append(("tag", i, value is not None))
            values[f"tag_{i}"] = str(name)
            if value is not None:
                values[f"tag_{i}_value"] = json.dumps(value, default=str)
        if where.created_after is not None:
            shape.append("created after")
            values["created_after"] = where.created_after
        if where.created_before is not None:
            shape.append("created before")
            values["created_before"] = where.created_before
        return Filter(tuple(shape), values)

    # -- lists -----------------------------------------------------------------------------
    def find_runs(
        self,
        where: RunFilter = RunFilter(),  # noqa: B008 - frozen, never changed
        *,
        order: str = "created",
        descending: bool = True,
        after: str | None = None,
        offset: int = 0,
        limit: int = 100,
        summaries: Collection[str] = (),
    ) -> RunPage:
        if order not in SORTABLE:
            raise InvalidValueError(f"runs are ordered by one of {sorted(SORTABLE)}, not {order!r}")
        if not 1 <= limit <= MAX_LIST:
            raise InvalidValueError(f"limit must be between 1 and {MAX_LIST}, got {limit}")
        if offset < 0:
            raise InvalidValueError(f"offset must be at least 0, got {offset}")
        columns = SORTABLE[order]
        found = self._filter(where, page=limit + 1)
        rows_in_text = limit + 1 if plan_kept(found.shape) else None
        values = {**found.values, "limit": limit + 1, "offset": offset}
        if after is not None:
            after_values, values["after_key"] = decode_after(after, len(columns))
            values.update((f"after_{i}", v) for i, v in enumerate(after_values))
        if isinstance(summaries, str) or not all(isinstance(n, str) for n in summaries):
            raise InvalidValueError(f"summaries must be a list of metric names, not {summaries!r}")
        keyset, skips = after is not None, bool(offset)
        names = list(dict.fromkeys(summaries))
        # PostgreSQL reads the summaries with the page, one statement for both; SQLite,
        # read in this process, in a second statement.
        joined = len(names) if not self._sqlite and len(names) <= JOINED_SUMMARIES else 0
        values.update((f"metric_{i}", name) for i, name in enumerate(names[:joined]))
        shape = ("runs", order, descending, keyset, skips, found.shape, rows_in_text, joined)
        rows = self._rows(
            shape,
            lambda: page_query(found.shape, order, descending, keyset, skips, rows_in_text, joined),
            values,
        )
        more = len(rows) > limit
        rows = rows[:limit]
        self._learn_keys(rows)
        token = None
        if more:
            last = rows[-1]
            token = encode_after([last[_AT[c.key]] for c in columns], last[_AT["key"]])
        records = run_records(rows)
        if joined:
            found_summaries = picked_summaries(rows, names)
        elif names:
            found_summaries = self.metric_summaries([r.id for r in records], names)
        else:
            found_summaries = {}
        return RunPage(records, token, found_summaries)

    def count_runs(self, where: RunFilter = RunFilter()) -> int:  # noqa: B008
        found = self._filter(where)
        rows = self._rows(
            ("count", found.shape),
            lambda: select(func.count()).select_from(s.runs).where(*filter_conditions(found.shape)),
            found.values,
        )
        return int(rows[0][0])

    def total_runs(self, where: RunFilter = RunFilter()) -> RunTotal:  # noqa: B008
        """Exact up to ``EXACT_TOTAL`` runs; above, PostgreSQL's planner estimate (at least
        ``EXACT_TOTAL`` + 1). SQLite keeps no statistics to estimate from: exact there."""
        if self._sqlite:
            return RunTotal(self.count_runs(where))
        found = self._filter(where)

        def matching() -> Select[Any]:
            return (
                select(literal_column("1"))
                .select_from(s.runs)
                .where(*filter_conditions(found.shape))
            )

        kept = plan_kept(found.shape)
        most: Any = EXACT_TOTAL + 1 if kept else bindparam("most", None)
        capped = self._rows(
            ("total", found.shape),
            lambda: select(func.count()).select_from(matching().limit(most).subquery()),
            found.values if kept else {**found.values, "most": EXACT_TOTAL + 1},
        )
        exact = int(capped[0][0])
        if exact <= EXACT_TOTAL:
            return RunTotal(exact)
        sql, added = self._statements.get(("matching", found.shape), matching)
        with self._reading() as conn:
            plan = conn.exec_driver_sql(
                "EXPLAIN (FORMAT JSON) " + sql, {**added, **found.values}
            ).scalar_one()
        if isinstance(plan, str):
            plan = json.loads(plan)
        return RunTotal(max(exact, round(plan[0]["Plan"]["Plan Rows"])), estimated=True)

    def changed_runs(
        self,
        where: RunFilter = RunFilter(),  # noqa: B008
        *,
        since: int = 0,
        limit: int = 1000,
    ) -> list[RunRecord]:
        found = self._filter(where, page=limit)
        rows_in_text = limit if plan_kept(found.shape) else None
        rows = self._rows(
            ("changed", found.shape, rows_in_text),
            lambda: (
                select_runs()
                .where(s.runs.c.seq > bindparam("since", None), *filter_conditions(found.shape))
                .order_by(s.runs.c.seq)
                .limit(bindparam("limit", None) if rows_in_text is None else limit)
            ),
            {**found.values, "since": since, "limit": limit},
        )
        return run_records(rows)

    def target_summaries(self) -> dict[str, dict[str, Any]]:
        """Per compute target its runs' count, as create_run keeps it, and its active runs
        by stored status, read from the index by status: no read of every run (1M runs
        on PostgreSQL, 50,000 of them active: 0.4 s -> 17 ms)."""
        r, t = s.runs.c, s.target_runs.c
        active = (
            select(r.target, r.status, func.count())
            .where(r.status.in_(st.ACTIVE))
            .group_by(r.target, r.status)
        )
        found: dict[str, dict[str, Any]] = {}
        with self._reading() as conn:
            for name, n in conn.execute(select(t.target, t.runs)):
                found[name] = {"runs": int(n), "active": {}}
            for name, status, n in conn.execute(active):
                found.setdefault(name, {"runs": 0, "active": {}})["active"][status] = int(n)
        return found

    def experiment_summaries(self) -> dict[str, dict[str, Any]]:
        """Per experiment: its top-level runs and when its newest run was created, as
        create_run keeps them, and its active runs, read from the index by status (a
        team's store has few runs still going): no read of every run (1M runs on
        PostgreSQL, 50,000 of them active: 1.0 s -> 18 ms)."""
        e, r = s.experiments.c, s.runs.c
        active = (
            select(r.experiment_id, func.count().label("n"))
            .where(r.status.in_(st.ACTIVE))
            .group_by(r.experiment_id)
            .subquery()
        )
        query = select(e.name, e.created, e.runs, e.last_created, active.c.n).outerjoin(
            active, active.c.experiment_id == e.id
        )
        with self._reading() as conn:
            rows = conn.execute(query).all()
        return {
            name: {"created": made, "runs": int(n), "active": int(alive or 0), "last_created": last}
            for name, made, n, last, alive in rows
        }

    def child_counts(self, run_ids: Collection[str]) -> dict[str, int]:
        ids = list(dict.fromkeys(run_ids))
        if not ids:
            return {}
        r = s.runs.c
        rows = self._rows(
            "child counts",
            lambda: (
                select(r.parent_id, func.count())
                .where(any_of(r.parent_id, "ids", self._sqlite))
                .group_by(r.parent_id)
            ),
            {"ids": list_value(ids, self._sqlite)},
        )
        return {parent: int(n) for parent, n in rows}

    # -- summaries -------------------------------------------------------------------------
    def metric_summaries(
        self, run_ids: Collection[str], names: Collection[str] | None = None
    ) -> dict[str, dict[str, dict[str, Any]]]:
        """Per run: ``{metric: {"last", "min", "max", "count"}}`` of its numeric metrics
        (``names`` only, when given), in logging order. NaN and infinities as logged
        (``min``/``max`` leave NaN out). One read of the summaries' primary key, (run,
        name): a table of 100 runs and 3 of their metrics reads 300 rows, not every
        metric of every run. Ordered by integers (the run's key, then the metric's first
        point), not by the run's id: comparing ids by the database's collation was most of
        the read (500 runs' summaries on PostgreSQL: 26 -> 11 ms)."""
        ids = list(dict.fromkeys(run_ids))
        found: dict[str, dict[str, dict[str, Any]]] = {run_id: {} for run_id in ids}
        wanted = None if names is None else list(dict.fromkeys(names))
        if not ids or wanted == []:
            return found
        m, r = s.metric_summaries.c, s.runs.c
        # Runs of a page just read are found by their keys, without a lookup of each id
        # (100 runs' summaries at 1M runs on PostgreSQL, server: 1.4-1.8 -> 0.9-1.2 ms).
        known = self._run_keys
        keys = [known.get(run_id) for run_id in ids]
        by_key = None not in keys

        def build() -> Select[Any]:
            if by_key:
                query = select(m.run_key, m.name, m.count, m.last, m.low, m.high).where(
                    any_of(m.run_key, "keys", self._sqlite, BigInteger)
                )
            else:
                query = (
                    select(r.id, m.name, m.count, m.last, m.low, m.high)
                    .join(s.runs, r.key == m.run_key)
                    .where(any_of(r.id, "ids", self._sqlite))
                )
            query = query.order_by(m.run_key, m.first_seq)
            if wanted is not None:
                query = query.where(any_of(m.name, "names", self._sqlite))
            return query

        values = (
            {"keys": list_value(keys, self._sqlite)}
            if by_key
            else {"ids": list_value(ids, self._sqlite)}
        )
        if wanted is not None:
            values["names"] = list_value(wanted, self._sqlite)
        rows = self._rows(("metric summaries", by_key, wanted is None), build, values)
        if by_key:
            id_of = dict(zip(keys, ids, strict=True))
            rows = [(id_of[row[0]], *row[1:]) for row in rows]
        for run_id, name, count, last, low, high in rows:
            found[run_id][name] = summary(count, last, low, high)
        return found

    # -- change probes ---------------------------------------------------------------------
    def _unchanged(self, key: str) -> Any:
        """The last answer of probe ``key`` when nothing was committed since (SQLite)."""
        version = self._gate.version()
        last = self._probed.get(key)
        if version is not None and last is not None and last[0] == version:
            return last[1]
        return None

    def _remember(self, key: str, version: int | None, answer: T) -> T:
        if version is not None:
            if len(self._probed) > 1000:
                self._probed.clear()
            self._probed[key] = (version, answer)
        return answer

    def change_cursor(self) -> int:
        cached: int | None = self._unchanged("cursor")
        if cached is not None:
            return cached
        version = self._gate.version()
        c = s.counters.c
        rows = self._rows(
            "change cursor", lambda: select(c.value).where(c.name == bindparam("name", None)),
            {"name": "runs"},
        )  # fmt: skip
        return self._remember("cursor", version, int(rows[0][0]))

    def run_versions(self, run_ids: Collection[str]) -> dict[str, RunVersion]:
        ids = list(dict.fromkeys(run_ids))
        if not ids:
            return {}
        probe = "versions:" + "\n".join(ids)
        cached: dict[str, RunVersion] | None = self._unchanged(probe)
        if cached is not None:
            return cached
        version = self._gate.version()
        r = s.runs.c
        c = s.runs.alias("c")
        rows = self._rows(
            "run versions",
            lambda: (
                select(
                    r.id,
                    r.seq,
                    r.data_version,
                    func.coalesce(func.max(c.c.seq), 0),
                    func.coalesce(func.sum(c.c.data_version), 0),
                )
                .select_from(s.runs.outerjoin(c, c.c.parent_id == r.id))
                .where(any_of(r.id, "ids", self._sqlite))
                .group_by(r.id, r.seq, r.data_version)
            ),
            {"ids": list_value(ids, self._sqlite)},
        )
        answer = {row[0]: RunVersion(*(int(v) for v in row[1:])) for row in rows}
        return self._remember(probe, version, answer)


class DataVersionGate:
    """SQLite's free answer to "did any connection commit since I last asked?":
    ``PRAGMA data_version`` on one connection of its own that never writes (it changes when
    another connection commits). PostgreSQL has no such thing; there the gate is always
    open and the probes read the database (by primary key).
    """

    def __init__(self, path: str | None) -> None:
        self._path = path
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def version(self) -> int | None:
        """The file's data version now; None where there is none to read."""
        if self._path is None:
            return None
        with self._lock:
            if self._conn is None:  # first use, or used again after close (as the engine)
                self._conn = sqlite3.connect(self._path, check_same_thread=False)
            return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
