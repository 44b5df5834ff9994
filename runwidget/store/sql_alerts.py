"""Alerts in the SQL store (``rw_alerts``): the part of ``SqlStore`` that records and lists them.

A mixin: ``SqlStore`` inherits it and gives it its connections (``_reading``, ``_writing``),
its run keys (``_run_key``), its backend (``_sqlite``) and its compiled reads (``_rows``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update

from runwidget.errors import InvalidValueError
from runwidget.store import schema as s
from runwidget.store.records import AlertKind, AlertLevel, AlertRecord
from runwidget.store.sql_compiled import any_of, list_value

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from sqlalchemy import Connection
    from sqlalchemy.sql.expression import Executable

# Any constant: serialises alert writers on PostgreSQL, so that seqs follow commit order.
_PG_ALERT_LOCK = 0x52574150
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
        def _rows(
            self, shape: Hashable, build: Callable[[], Executable], values: Mapping[str, Any]
        ) -> Sequence[Any]: ...

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
        query = self._alert_query().where(a.seq > since).order_by(a.seq)
        values: dict[str, Any] = {}
        if run_ids is not None:
            query = query.where(any_of(s.runs.c.id, "ids", self._sqlite))
            values["ids"] = list_value(dict.fromkeys(run_ids), self._sqlite)
        if limit is not None:
            query = query.limit(int(limit))
        with self._reading() as conn:
            rows = conn.execute(query, values).all()
        return [AlertRecord(int(r[0]), *r[1:]) for r in rows]

    def alert_marks(self, run_ids: Collection[str]) -> dict[str, dict[str, Any]]:
        # Counted in the database: a list of a thousand runs reads one row per run with alerts.
        a, r = s.alerts.c, s.runs.c
        ids = list(dict.fromkeys(run_ids))
        if not ids:
            return {}
        values = {"ids": list_value(ids, self._sqlite)}
        grouped = self._rows(
            "alert marks",
            lambda: (
                select(r.id, func.count(), func.max(a.seq))
                .join(s.runs, r.key == a.run_key)
                .where(any_of(r.id, "ids", self._sqlite))
                .group_by(r.id)
            ),
            values,
        )
        if not grouped:
            return {}  # a list's usual answer: one read
        levels = self._rows(
            "alert levels",
            lambda: (
                select(r.id, a.level)
                .distinct()
                .join(s.runs, r.key == a.run_key)
                .where(any_of(r.id, "ids", self._sqlite))
            ),
            values,
        )
        with self._reading() as conn:
            latest = dict(
                conn.execute(
                    select(a.seq, a.title).where(a.seq.in_([row[2] for row in grouped]))
                ).all()
            )
        marks: dict[str, dict[str, Any]] = {}
        for run_id, count, top in grouped:
            marks[run_id] = {"count": int(count), "level": AlertLevel.INFO,
                             "title": latest.get(top, "")}  # fmt: skip
        for run_id, level in levels:
            mark = marks[run_id]
            if _LEVEL_RANK.get(level, 0) > _LEVEL_RANK.get(mark["level"], 0):
                mark["level"] = level
        return marks
