"""Statements sent on the driver's own cursor, where SQLAlchemy's result would cost as much
as the database's answer: the hot reads (``fetch_all``) and PostgreSQL's COPY.

SQLAlchemy's result object reads the cursor's description and makes a row class per
statement; for a page of 100 runs that doubled the client's cost of the read (0.155 ->
0.083 ms, driver included). Its error handling is kept: ``driver_errors`` raises the
driver's errors as SQLAlchemy's, which the store turns into its own, and drops from the pool
a connection the server closed, as SQLAlchemy does for the statements it runs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, exc


@contextmanager
def driver_errors(conn: Connection, statement: str) -> Iterator[None]:
    """The driver's errors, within, as SQLAlchemy's (``exc.DBAPIError`` and its kinds),
    ``connection_invalidated`` and the connection dropped when the server is gone."""
    dialect = conn.dialect
    error = dialect.loaded_dbapi.Error
    try:
        yield
    except error as e:
        gone = bool(dialect.is_disconnect(e, conn.connection.dbapi_connection, None))
        if gone:
            conn.invalidate(e)
        raise exc.DBAPIError.instance(
            statement, None, e, error, connection_invalidated=gone, dialect=dialect
        ) from e


def fetch_all(conn: Connection, statement: str, values: Mapping[str, Any]) -> Sequence[Any]:
    """The rows (tuples) of ``statement``, in the driver's named style, with ``values``."""
    with driver_errors(conn, statement):
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(statement, values)
            rows: Sequence[Any] = cursor.fetchall()
        finally:
            cursor.close()
    return rows
