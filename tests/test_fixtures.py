"""The PostgreSQL fixtures give each test a real, empty database of its own."""

import psycopg
import pytest


def _connect(uri: str) -> psycopg.Connection:
    # psycopg does not understand SQLAlchemy's "+psycopg" driver suffix.
    return psycopg.connect(uri.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)


def _user_tables(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return [name for (name,) in rows]


@pytest.mark.parametrize("attempt", [1, 2])
def test_each_test_gets_an_empty_database(postgres_uri: str, attempt: int) -> None:
    assert postgres_uri.startswith("postgresql+psycopg://postgres@127.0.0.1:")
    with _connect(postgres_uri) as conn:
        # Both runs create the same table: the second would fail if the database were shared.
        assert _user_tables(conn) == []
        conn.execute("CREATE TABLE runs (id integer PRIMARY KEY, name text)")
        conn.execute("INSERT INTO runs VALUES (%s, %s)", (attempt, f"run {attempt}"))
        assert conn.execute("SELECT id, name FROM runs").fetchall() == [(attempt, f"run {attempt}")]


def test_databases_differ_between_tests(postgres_server, postgres_uri: str) -> None:
    with _connect(postgres_uri) as conn:
        current = conn.execute("SELECT current_database()").fetchone()[0]
    assert postgres_uri.endswith(f"/{current}")
    with postgres_server.connect() as admin:
        names = [n for (n,) in admin.execute("SELECT datname FROM pg_database").fetchall()]
    # Earlier tests' databases were dropped; only this test's one is left besides the defaults.
    assert [n for n in names if n.startswith("test_")] == [current]
