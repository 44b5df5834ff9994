"""Shared fixtures: store URIs for both backends, a throw-away PostgreSQL server, test isolation."""

from __future__ import annotations

import contextlib
import glob
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PG_USER = "postgres"


@dataclass(frozen=True)
class PostgresServer:
    """A running PostgreSQL server owned by the test session."""

    host: str
    port: int
    user: str
    data_dir: Path
    socket_dir: Path
    pg_ctl: list[str]
    options: str

    def start(self) -> None:
        base = self.data_dir.parent
        _run(
            [*self.pg_ctl, "-l", str(base / "server.log"), "-o", self.options, "-w", "-t", "60",
             "start"],
            base,
        )  # fmt: skip
        self.connect().close()  # `pg_ctl -w` checked the unix socket; check TCP too.

    def stop(self) -> None:
        """Stop the server (its data stays), as an outage would."""
        _run([*self.pg_ctl, "-m", "fast", "-w", "stop"], self.data_dir.parent)

    def uri(self, dbname: str) -> str:
        """SQLAlchemy URI of database `dbname` on this server."""
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{dbname}"

    def connect(self, dbname: str = "postgres", **kwargs):
        """A psycopg connection to `dbname` (autocommit unless told otherwise)."""
        import psycopg

        kwargs.setdefault("autocommit", True)
        return psycopg.connect(
            host=self.host, port=self.port, user=self.user, dbname=dbname, **kwargs
        )


def _pg_bin_dir() -> Path:
    """Directory holding initdb and pg_ctl: PATH first, then Debian's versioned directories."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).parent
    # Debian keeps the server binaries off PATH; prefer the newest major version.
    found = sorted(
        glob.glob("/usr/lib/postgresql/[0-9]*/bin/pg_ctl"), key=lambda p: float(Path(p).parts[-3])
    )
    if found and Path(found[-1]).with_name("initdb").exists():
        return Path(found[-1]).parent
    pytest.fail(
        "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or in "
        "/usr/lib/postgresql/*/bin. Run scripts/setup.sh to install them.",
        pytrace=False,
    )


def _as_server_user() -> list[str]:
    """Command prefix that runs the server tools as a user PostgreSQL accepts."""
    if os.geteuid() != 0:
        return []
    # PostgreSQL refuses to run as root; borrow the `postgres` system user the package creates.
    try:
        import pwd

        pwd.getpwnam("postgres")
    except KeyError:
        pytest.fail(
            "Running as root, but there is no `postgres` system user to run PostgreSQL as. "
            "Run scripts/setup.sh to install PostgreSQL.",
            pytrace=False,
        )
    return ["runuser", "-u", "postgres", "--"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(cmd: list[str], cwd: Path) -> None:
    # cwd is the temp dir: the server user may not be allowed into the caller's cwd.
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        log = cwd / "server.log"
        tail = log.read_text()[-2000:] if log.exists() else ""
        pytest.fail(
            f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}{result.stderr}{tail}",
            pytrace=False,
        )


def _stop_if_killed(pg_ctl: list[str], base: Path) -> subprocess.Popen:
    """Stop the server and remove `base` if this process dies without running its teardown.

    pg_ctl detaches the server, so a killed test run (kill -9, a CI timeout) would otherwise
    leave it running, holding memory in /dev/shm.
    """
    stop = shlex.join([*pg_ctl, "-m", "immediate", "stop"])
    remove = shlex.join(["rm", "-rf", str(base)])
    script = f"while kill -0 {os.getpid()} 2>/dev/null; do sleep 1; done; {stop}; {remove}"
    # Own session: Ctrl-C in the terminal must not kill the watchdog before it has acted.
    return subprocess.Popen(
        ["sh", "-c", script],
        cwd=base,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@contextlib.contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """Start a private PostgreSQL server on 127.0.0.1; stop it and remove its files after."""
    bin_dir = _pg_bin_dir()
    as_user = _as_server_user()
    # On tmpfs, CREATE DATABASE takes ~12 ms instead of 100-200 ms on a busy disk.
    fast_tmp = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    base = Path(tempfile.mkdtemp(prefix="runwidget-pg-", dir=fast_tmp))
    data_dir, socket_dir = base / "data", base / "sock"
    socket_dir.mkdir()
    if as_user:
        for path in (base, socket_dir):
            shutil.chown(path, "postgres", "postgres")
    port = _free_port()
    pg_ctl = [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data_dir)]
    # Durability off: the data is thrown away, and CREATE DATABASE gets much faster.
    options = (
        f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={socket_dir} "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    )
    watchdog = _stop_if_killed(pg_ctl, base)
    try:
        # Trust auth is acceptable only because the server lives for one test run on loopback.
        _run(
            [*as_user, str(bin_dir / "initdb"), "-D", str(data_dir), "-U", PG_USER,
             "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"],
            cwd=base,
        )  # fmt: skip
        server = PostgresServer("127.0.0.1", port, PG_USER, data_dir, socket_dir, pg_ctl, options)
        server.start()
        yield server
    finally:
        # Immediate mode: no need for a clean shutdown of data we are about to delete.
        subprocess.run([*pg_ctl, "-m", "immediate", "stop"], cwd=base, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
        watchdog.kill()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A private PostgreSQL server shared by the whole test session."""
    with running_postgres() as server:
        yield server


@pytest.fixture(scope="session")
def _postgres_admin(postgres_server: PostgresServer):
    """One long-lived admin connection, so creating a database per test costs one statement."""
    with postgres_server.connect() as conn:
        yield conn


@pytest.fixture
def postgres_uri(postgres_server: PostgresServer, _postgres_admin) -> Iterator[str]:
    """SQLAlchemy URI of a new, empty database, dropped after the test."""
    dbname = f"test_{uuid.uuid4().hex[:12]}"
    # FILE_COPY (PostgreSQL 15+) copies the tiny template instead of WAL-logging every page.
    strategy = " STRATEGY FILE_COPY" if _postgres_admin.info.server_version >= 150000 else ""
    _postgres_admin.execute(f'CREATE DATABASE "{dbname}" TEMPLATE template0{strategy}')
    yield postgres_server.uri(dbname)
    # FORCE ends connections a test left open (e.g. an undisposed SQLAlchemy pool).
    _postgres_admin.execute(f'DROP DATABASE "{dbname}" WITH (FORCE)')


@pytest.fixture
def sqlite_uri(tmp_path: Path) -> str:
    """SQLAlchemy URI of a new SQLite file in the test's temp dir."""
    return f"sqlite:///{tmp_path}/runs.db"


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
)
def store_uri(request: pytest.FixtureRequest) -> str:
    """A fresh store URI; tests using it run once per backend."""
    fixture = {"sqlite": "sqlite_uri", "postgresql": "postgres_uri"}[request.param]
    return request.getfixturevalue(fixture)


@pytest.fixture(autouse=True)
def _isolated_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Keep every test's default store and files in its own temp dir, never in the user's cwd."""
    monkeypatch.setenv("RUNWIDGET_STORE", f"sqlite:///{tmp_path}/default.db")
    monkeypatch.chdir(tmp_path)
    yield
    # Only a test that imported the workspace module can have set a default workspace.
    workspace = sys.modules.get("runwidget.tracking.workspace")
    reset = getattr(workspace, "_reset_default_workspace", None)
    if reset is not None:
        reset()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Lets `-m "not postgres"` deselect everything that needs the server.
    for item in items:
        if "postgres_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture
def submitted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list]:
    """Local script runs kept in the test's temp dir; those left running are stopped after."""
    from runwidget import ScriptRunConfig
    from tests.local_runs import isolate_local_runs, stop_left_running

    monkeypatch.setenv("RUNWIDGET_CANCEL_GRACE", "5")
    runs = isolate_local_runs(monkeypatch, tmp_path, ScriptRunConfig, heartbeat="0.2")
    yield runs
    stop_left_running(runs)
