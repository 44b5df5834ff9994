"""Experiments, runs and compute targets in the SQL store: the part of ``SqlStore`` that
creates, changes and reads run records. A mixin: ``SqlStore`` gives it its connections.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Collection, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, exc, func, select, update

from runwidget.errors import (
    ExperimentNotFoundError,
    InvalidValueError,
    RunNotFoundError,
    StoreError,
)
from runwidget.store import schema as s
from runwidget.store.base import _UNSET
from runwidget.store.derived import search_text, tag_rows
from runwidget.store.records import (
    ExperimentRecord,
    RunRecord,
    TargetRecord,
)
from runwidget.store.sql_lists import run_record, run_records, select_runs

logger = logging.getLogger("runwidget")

# The counter whose value is the run change cursor (``RunRecord.seq``).
RUN_COUNTER = "runs"


class SqlRuns:
    """``RunStore``'s experiment, run and compute-target methods for SQLite and PostgreSQL."""

    _display: str
    _run_keys: dict[str, int]

    if TYPE_CHECKING:

        def _reading(self) -> AbstractContextManager[Connection]: ...
        def _writing(self) -> AbstractContextManager[Connection]: ...
        def _q(self, key: str, sql: str) -> str: ...

    # -- experiments -----------------------------------------------------------------------
    def get_or_create_experiment(self, name: str) -> ExperimentRecord:
        with self._reading() as conn:
            row = conn.execute(select(s.experiments).where(s.experiments.c.name == name)).first()
        if row is not None:
            return ExperimentRecord(row.id, row.name, row.created)
        with self._writing() as conn:
            self._experiment_id(conn, name)
            row = conn.execute(select(s.experiments).where(s.experiments.c.name == name)).one()
        return ExperimentRecord(row.id, row.name, row.created)

    def list_experiments(self) -> list[ExperimentRecord]:
        with self._reading() as conn:
            rows = conn.execute(select(s.experiments).order_by(s.experiments.c.id)).all()
        return [ExperimentRecord(r.id, r.name, r.created) for r in rows]

    def _experiment_id(self, conn: Connection, name: str) -> int:
        """The experiment's id, creating it. Call inside a write transaction."""
        found: int | None = conn.execute(
            select(s.experiments.c.id).where(s.experiments.c.name == name)
        ).scalar_one_or_none()
        if found is not None:
            return found
        # Processes that create one new experiment at once: the first insert wins, the
        # others wait for it and find its row (PostgreSQL reads it with the next statement).
        conn.exec_driver_sql(
            self._q(
                "experiment:new",
                "INSERT INTO rw_experiments (name, created) VALUES (?, ?) "
                "ON CONFLICT (name) DO NOTHING",
            ),
            (name, time.time()),
        )
        created: int = conn.execute(
            select(s.experiments.c.id).where(s.experiments.c.name == name)
        ).scalar_one()
        return created

    # -- runs ------------------------------------------------------------------------------
    def _next_seq(self, conn: Connection) -> int:
        # The UPDATE row-locks the counter until commit (PostgreSQL), so run changes get
        # cursors in commit order and a reader never skips one.
        conn.execute(
            update(s.counters)
            .where(s.counters.c.name == RUN_COUNTER)
            .values(value=s.counters.c.value + 1)
        )
        seq: int = conn.execute(
            select(s.counters.c.value).where(s.counters.c.name == RUN_COUNTER)
        ).scalar_one()
        return seq

    def create_run(
        self,
        experiment: str,
        *,
        run_id: str | None = None,
        parent_id: str | None = None,
        display_name: str | None = None,
        run_type: str = "interactive",
        status: str = "NotStarted",
        started: float | None = None,
        properties: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        target: str = "local",
        arguments: list[Any] | None = None,
    ) -> RunRecord:
        now = time.time()
        run_id = run_id or new_run_id(experiment, now)
        try:
            with self._writing() as conn:
                experiment_id = self._experiment_id(conn, experiment)
                if parent_id is not None:
                    parent = conn.execute(
                        select(s.runs.c.key).where(s.runs.c.id == parent_id)
                    ).first()
                    if parent is None:
                        raise RunNotFoundError(f"parent run {parent_id!r} not found")
                seq = self._next_seq(conn)
                number = conn.execute(
                    select(func.coalesce(func.max(s.runs.c.number), 0) + 1).where(
                        s.runs.c.experiment_id == experiment_id
                    )
                ).scalar_one()
                shown_name = display_name or run_id
                tags = dict(tags or {})
                inserted = conn.execute(
                    s.runs.insert().values(
                        id=run_id,
                        experiment_id=experiment_id,
                        parent_id=parent_id,
                        number=number,
                        display_name=shown_name,
                        run_type=run_type,
                        status=status,
                        created=now,
                        started=started,
                        heartbeat=started,
                        properties=_dumps(dict(properties or {})),
                        tags=_dumps(tags),
                        target=target,
                        arguments=_dumps(list(arguments or [])),
                        seq=seq,
                        search=search_text(shown_name, run_id, experiment, run_type, tags),
                    )
                ).inserted_primary_key
                assert inserted is not None  # the result of an INSERT
                key = inserted[0]
                if tags:
                    conn.execute(s.run_tags.insert(), tag_rows(key, tags))
                # The counts the lists of experiments and targets read. As SQL text, made
                # once: composed as SQLAlchemy statements at each call, they cost more
                # than the database takes to run them.
                conn.exec_driver_sql(
                    self._q(
                        "experiment:count",
                        "UPDATE rw_experiments SET runs = runs + ?, last_created = CASE "
                        "WHEN last_created IS NULL OR last_created < ? THEN ? "
                        "ELSE last_created END WHERE id = ?",
                    ),
                    (0 if parent_id is not None else 1, now, now, experiment_id),
                )
                conn.exec_driver_sql(
                    self._q(
                        "target:count",
                        "INSERT INTO rw_target_runs (target, runs) VALUES (?, 1) "
                        "ON CONFLICT (target) DO UPDATE SET runs = rw_target_runs.runs + 1",
                    ),
                    (target,),
                )
        except StoreError as e:
            if isinstance(e.__cause__, exc.IntegrityError):
                raise InvalidValueError(f"run id {run_id!r} already exists") from e
            raise
        return self.get_run(run_id)

    def update_run(
        self,
        run_id: str,
        *,
        status: str | None = None,
        started: float | None = None,
        ended: float | None = None,
        error: Mapping[str, Any] | None = None,
        properties: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        display_name: str | None = None,
        only_if_status: Collection[str] | None = None,
        remove_tags: Collection[str] | None = None,
    ) -> bool:
        values: dict[str, Any] = {}
        if status is not None:
            values["status"] = status
        if started is not None:
            values["started"] = started
            values["heartbeat"] = started
        if ended is not None:
            values["ended"] = ended
        if error is not None:
            values["error_message"] = str(error.get("message", ""))
            values["error_traceback"] = error.get("traceback")
        if display_name is not None:
            values["display_name"] = display_name
        with self._writing() as conn:
            c = s.runs.c
            row = conn.execute(
                select(c.key, c.status, c.properties, c.tags, c.display_name, c.run_type)
                .add_columns(s.experiments.c.name.label("experiment"))
                .join(s.experiments, s.experiments.c.id == c.experiment_id)
                .where(c.id == run_id)
            ).first()
            if row is None:
                raise RunNotFoundError(f"run {run_id!r} not found in {self._display}")
            if only_if_status is not None and row.status not in only_if_status:
                return False
            if properties:
                values["properties"] = _dumps({**json.loads(row.properties), **properties})
            new_tags = json.loads(row.tags)
            if tags or remove_tags:
                removed = set(remove_tags or ())
                kept = {k: v for k, v in new_tags.items() if k not in removed}
                new_tags = {**kept, **(tags or {})}
                values["tags"] = _dumps(new_tags)
                conn.execute(s.run_tags.delete().where(s.run_tags.c.run_key == row.key))
                if new_tags:
                    conn.execute(s.run_tags.insert(), tag_rows(row.key, new_tags))
            if "tags" in values or display_name is not None:
                values["search"] = search_text(
                    display_name or row.display_name, run_id, row.experiment, row.run_type, new_tags
                )
            values["seq"] = self._next_seq(conn)
            conn.execute(update(s.runs).where(s.runs.c.id == run_id).values(**values))
        return True

    def beat(self, run_ids: Collection[str], now: float) -> None:
        if not run_ids:
            return
        with self._writing() as conn:
            conn.execute(update(s.runs).where(s.runs.c.id.in_(list(run_ids))).values(heartbeat=now))

    def get_run(self, run_id: str) -> RunRecord:
        with self._reading() as conn:
            row = conn.execute(select_runs().where(s.runs.c.id == run_id)).first()
        if row is None:
            raise RunNotFoundError(f"run {run_id!r} not found in {self._display}")
        return run_record(row)

    def list_runs(
        self,
        *,
        experiment: str | None = None,
        parent_id: str | None = _UNSET,
        status: Collection[str] | None = None,
        since: int = 0,
        limit: int | None = None,
    ) -> list[RunRecord]:
        query = select_runs().where(s.runs.c.seq > since)
        if experiment is not None:
            query = query.where(s.experiments.c.name == experiment)
        if parent_id is None:
            query = query.where(s.runs.c.parent_id.is_(None))
        elif parent_id is not _UNSET:
            query = query.where(s.runs.c.parent_id == parent_id)
        if status is not None:
            query = query.where(s.runs.c.status.in_(list(status)))
        query = query.order_by(s.runs.c.seq)
        if limit is not None:
            query = query.limit(limit)
        with self._reading() as conn:
            rows = conn.execute(query).all()
        if experiment is not None and not rows and since == 0:
            self._require_experiment(experiment)
        return run_records(rows)

    def _require_experiment(self, name: str) -> None:
        with self._reading() as conn:
            found = conn.execute(
                select(s.experiments.c.id).where(s.experiments.c.name == name)
            ).first()
        if found is None:
            raise ExperimentNotFoundError(f"experiment {name!r} not found in {self._display}")

    def _run_key(self, conn: Connection, run_id: str) -> int:
        key = self._run_keys.get(run_id)
        if key is None:
            key = conn.execute(
                select(s.runs.c.key).where(s.runs.c.id == run_id)
            ).scalar_one_or_none()
            if key is None:
                raise RunNotFoundError(f"run {run_id!r} not found in {self._display}")
            self._run_keys[run_id] = key
        return key

    # -- compute targets -------------------------------------------------------------------
    def put_target(self, name: str, kind: str, config: Mapping[str, Any]) -> None:
        table = s.compute_targets
        with self._writing() as conn:
            conn.execute(table.delete().where(table.c.name == name))
            conn.execute(
                table.insert().values(
                    name=name, kind=kind, config=_dumps(dict(config)), created=time.time()
                )
            )

    def list_targets(self) -> list[TargetRecord]:
        table = s.compute_targets
        with self._reading() as conn:
            rows = conn.execute(select(table).order_by(table.c.name)).all()
        return [TargetRecord(r.name, r.kind, json.loads(r.config), r.created) for r in rows]

    def delete_target(self, name: str) -> bool:
        table = s.compute_targets
        with self._writing() as conn:
            return conn.execute(table.delete().where(table.c.name == name)).rowcount > 0


def new_run_id(experiment: str, now: float | None = None) -> str:
    """``<experiment>_<unix time>_<8 hex>``, with the experiment name made URL-safe."""
    slug = "".join(
        ch if ch.isascii() and (ch.isalnum() or ch in "-_") else "-" for ch in experiment
    )
    slug = slug.strip("-")[:40] or "run"
    return f"{slug}_{int(now if now is not None else time.time())}_{uuid.uuid4().hex[:8]}"


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str)
