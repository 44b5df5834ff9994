"""Alerts in the SQL store (``rw_alerts``): the part of ``SqlStore`` that records and lists them.

A mixin: ``SqlStore`` inherits it and gives it its connections (``_reading``, ``_writing``),
its run keys (``_run_key``), its backend (``_sqlite``) and its ``IN`` (``_one_of``).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update

from runwidget.errors import InvalidValueError
from runwidget.store import schema as s
from runwidget.store.records import AlertKind, AlertLevel, AlertRecord

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from sqlalchemy import ColumnElement, Connection

# Any constant: serialises alert writers on PostgreSQL, so that seqs follow commit order.
_PG_ALERT_LOCK = 0x52574150
# Run ids per query when listing the alerts of many runs.
_IDS_PER_QUERY = 500
_LEVEL_RANK = {AlertLevel.INFO: 0, AlertLevel.WARN: 1, AlertLevel.ERROR: 2}


class SqlAlerts:
    """``RunStore``'s alert methods for SQLite and PostgreSQL."""

    _sqlite: bool

    if TYPE_CHECKING:

        def _reading(self) -> AbstractContextManager[Connection]: ...
        def _writing(self) -> AbstractContextManager[Connection]: ...
        def _run_key(self, conn: Connection, run_id: str) -> int: ...
        def _next_seq(self, conn: Connection) -> int: ...
        def get_run(self, run_id: str) -> Any: ...
        def _one_of(self, column: ColumnElement[Any], values: list[str]) -> ColumnElement[bool]: ...

    def add_alert(
        self,
        run_id: str,
        *,
        kind: str,
        level: str,
        title: str,
        text: str = "",
        time: float,
        once_key: str | None = None,
    ) -> AlertRecord | None:
        if kind not in AlertKind.ALL:
            raise InvalidValueError(f"alert kind {kind!r} is not one of {list(AlertKind.ALL)}")
        if level not in AlertLevel.ALL:
            raise InvalidValueError(f"alert level {level!r} is not one of {list(AlertLevel.ALL)}")
        table = s.alerts
        with self._writing() as conn:
            if not self._sqlite:  # SQLite's BEGIN IMMEDIATE serialises writers already
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_ALERT_LOCK})")
            key = self._run_key(conn, run_id)
            if once_key is not None:
                taken = conn.execute(
                    select(table.c.seq).where(table.c.run_key == key, table.c.once_key == once_key)
                ).first()
                if taken is not None:
                    return None
            inserted = conn.execute(
                table.insert().values(
                    run_key=key, kind=kind, level=level, title=title, text=text, time=time,
                    once_key=once_key,
                )
            ).inserted_primary_key  # fmt: skip
            assert inserted is not None
            seq = inserted[0]
            # The run's change cursor moves: lists and change probes re-read it (its mark).
            conn.execute(update(s.runs).where(s.runs.c.key == key).values(seq=self._next_seq(conn)))
        return AlertRecord(int(seq), run_id, kind, level, title, text, time)

    def _alert_query(self) -> Any:
        a = s.alerts.c
        return select(
            a.seq, s.runs.c.id, a.kind, a.level, a.title, a.text, a.time
        ).join(s.runs, s.runs.c.key == a.run_key)  # fmt: skip

    def list_alerts(
        self,
        *,
        run_ids: Collection[str] | None = None,
        since: int = 0,
        limit: int | None = None,
    ) -> list[AlertRecord]:
        a = s.alerts.c
        base = self._alert_query().where(a.seq > since).order_by(a.seq)
        if run_ids is None:
            queries = [base]
        else:
            ids = list(dict.fromkeys(run_ids))
            queries = [
                base.where(self._one_of(s.runs.c.id, ids[i : i + _IDS_PER_QUERY]))
                for i in range(0, len(ids), _IDS_PER_QUERY)
            ]
        if limit is not None:
            queries = [q.limit(int(limit)) for q in queries]
        rows: list[Any] = []
        with self._reading() as conn:
            for query in queries:
                rows += conn.execute(query).all()
        found = sorted((AlertRecord(int(r[0]), *r[1:]) for r in rows), key=lambda r: r.seq)
        return found[:limit] if limit is not None else found

    def alert_marks(self, run_ids: Collection[str]) -> dict[str, dict[str, Any]]:
        # Counted in the database: a list of a thousand runs reads one row per run with alerts.
        a = s.alerts.c
        ids = list(dict.fromkeys(run_ids))
        marks: dict[str, dict[str, Any]] = {}
        with self._reading() as conn:
            for i in range(0, len(ids), _IDS_PER_QUERY):
                chunk = ids[i : i + _IDS_PER_QUERY]
                grouped = conn.execute(
                    select(s.runs.c.id, func.count(), func.max(a.seq))
                    .join(s.runs, s.runs.c.key == a.run_key)
                    .where(self._one_of(s.runs.c.id, chunk))
                    .group_by(s.runs.c.id)
                ).all()
                if not grouped:
                    continue
                levels = conn.execute(
                    select(s.runs.c.id, a.level)
                    .distinct()
                    .join(s.runs, s.runs.c.key == a.run_key)
                    .where(self._one_of(s.runs.c.id, chunk))
                ).all()
                latest = dict(
                    conn.execute(
                        select(a.seq, a.title).where(a.seq.in_([row[2] for row in grouped]))
                    ).all()
                )
                for run_id, count, top in grouped:
                    marks[run_id] = {"count": int(count), "level": AlertLevel.INFO,
                                     "title": latest.get(top, "")}  # fmt: skip
                for run_id, level in levels:
                    mark = marks[run_id]
                    if _LEVEL_RANK.get(level, 0) > _LEVEL_RANK.get(mark["level"], 0):
                        mark["level"] = level
        return marks
