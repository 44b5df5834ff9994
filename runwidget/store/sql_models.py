"""Registered models in the SQL store (``rw_models``): the part of ``SqlStore`` that
records and finds them.

A mixin: ``SqlStore`` inherits it and gives it its connections (``_reading``,
``_writing``), its run keys (``_run_key``) and its backend (``_sqlite``). A model version
holds no bytes of its own: its files are the run's files at its path (``rw_files``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from runwidget.errors import ModelNotFoundError
from runwidget.store import schema as s
from runwidget.store.records import ModelRecord

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from sqlalchemy import Connection

# Any constant: serialises registrations on PostgreSQL, so that a name's versions count up
# by one however many processes register it at once.
_PG_MODEL_LOCK = 0x52574D44


class SqlModels:
    """``RunStore``'s model registry methods for SQLite and PostgreSQL."""

    _sqlite: bool
    _display: str

    if TYPE_CHECKING:

        def _reading(self) -> AbstractContextManager[Connection]: ...
        def _writing(self) -> AbstractContextManager[Connection]: ...
        def _run_key(self, conn: Connection, run_id: str) -> int: ...

    def register_model(
        self,
        name: str,
        *,
        run_id: str,
        path: str,
        tags: Mapping[str, Any] | None = None,
        properties: Mapping[str, Any] | None = None,
        description: str | None = None,
    ) -> ModelRecord:
        table = s.models
        with self._writing() as conn:
            if not self._sqlite:  # SQLite's BEGIN IMMEDIATE serialises writers already
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_MODEL_LOCK})")
            key = self._run_key(conn, run_id)
            last = conn.execute(
                select(func.max(table.c.version)).where(table.c.name == name)
            ).scalar_one_or_none()
            version = (last or 0) + 1
            conn.execute(
                table.insert().values(
                    name=name,
                    version=version,
                    run_key=key,
                    path=path,
                    tags=json.dumps(dict(tags or {})),
                    properties=json.dumps(dict(properties or {})),
                    description=description,
                    created=time.time(),
                )
            )
            return self._models(conn, table.c.name == name, table.c.version == version)[0]

    def get_model(self, name: str, version: int | None = None) -> ModelRecord:
        table = s.models
        with self._reading() as conn:
            found = self._models(conn, table.c.name == name)
        if not found:
            raise ModelNotFoundError(f"no model named {name!r} is registered in {self._display}")
        if version is None:
            return found[0]
        for model in found:
            if model.version == version:
                return model
        raise ModelNotFoundError(
            f"model {name!r} has no version {version}; its versions are "
            f"{sorted(m.version for m in found)}"
        )

    def list_models(self, name: str | None = None) -> list[ModelRecord]:
        table = s.models
        with self._reading() as conn:
            if name is None:
                return self._models(conn)
            return self._models(conn, table.c.name == name)

    def _models(self, conn: Connection, *where: Any) -> list[ModelRecord]:
        m, r, e = s.models.c, s.runs.c, s.experiments.c
        query = (
            select(m.name, m.version, r.id, m.path, m.tags, m.properties, m.description,
                   m.created, e.name.label("experiment"))
            .select_from(
                s.models.outerjoin(s.runs, r.key == m.run_key).outerjoin(
                    s.experiments, e.id == r.experiment_id
                )
            )
            .where(*where)
            .order_by(m.key.desc())
        )  # fmt: skip
        return [
            ModelRecord(
                name=row.name,
                version=row.version,
                run_id=row.id,
                path=row.path,
                tags=json.loads(row.tags),
                properties=json.loads(row.properties),
                description=row.description,
                created=row.created,
                experiment=row.experiment,
            )
            for row in conn.execute(query).all()
        ]
