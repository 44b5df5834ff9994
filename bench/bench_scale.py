"""Scale benchmark: run lists of stores of 10k, 100k and 1M runs, on SQLite and PostgreSQL.

Each store holds experiments of 1 to 10,000 runs (log-uniform sizes), each experiment logging
1 to 20 metrics per run; about one experiment in 25 is a sweep (a parent run and its
children). Runs are mostly Completed, some Failed, Canceled, Running (with an old heartbeat,
so shown NotResponding) or Queued; a tenth ran on the "ray" target; each has three tags.

How the stores are filled. Creating a million runs one ``create_run`` at a time takes hours,
so the rows of ``rw_experiments``, ``rw_runs``, ``rw_run_tags`` and ``rw_metric_summaries``
are inserted in bulk (``executemany`` on SQLite, ``COPY`` on PostgreSQL), made by the rules
the writer follows: ``search_text`` and ``tag_rows`` of runwidget/store/derived.py, the
``seq`` counter as ``create_run`` and ``update_run`` move it, ``data_version`` as one
``store.write`` moves it, and each metric's last/min/max/count and first/last point seqs as
``_add_to_summaries`` folds one batch in; on PostgreSQL ``rw_run_summaries`` is then made
from those by the statement the writer runs after each batch. The metric points
themselves (``rw_metrics``) are
left out: no list reads them, and each metric has 1 to 60 points, fewer than a block of 64,
so the writer would make no ``rw_metric_blocks`` rows either. The non-unique indexes of the
two run tables are dropped during the fill and made again from runwidget/store/schema.py;
PostgreSQL then gets ``VACUUM ANALYZE``, as autovacuum would do after such inserts.

Before the large stores, a sample of 80 runs (a sweep with children, every status, NaN
last values) is written through the real API (``create_run``, ``store.write``,
``update_run``) into one store and through the bulk path into another, and the benchmark
stops unless both hold the same rows and read the same. In every large store a few runs are
then created through the real API too, and must come first on the first page.

Measured with 20 client processes, each with its own store object, all starting together:
first page, page 100 (offset 9,900, and by its keyset token), a page of one experiment, of
one status, a search (a common word; a run's id, which matches one run), the runs table
(an experiment's page with last/min/max of 3 metrics of its 100 runs), the sidebar's query
(top-level runs, newest first, 100), two exact counts, and the totals two lists show
(``total_runs``: exact up to 10,000 runs, above that PostgreSQL's estimate); median and
p95 of every call.

Through HTTP (only once runwidget/server/service.py serves lists from the store rather
than its in-memory ``RunIndex``, or with ``--http``): the standalone portal's start-up
(process start to the first ``/api/runs?limit=100`` answered), its RSS after start-up and
after the load, and p95 of ``GET /api/runs?limit=100`` and ``?stats=*&limit=500`` under 20
clients; as it starts by default (one process), then with ``--processes`` one per core
(RSS: of all its processes).

    python bench/bench_scale.py                        # quick: 10k runs, both backends
    python bench/bench_scale.py --sizes 10000,100000,1000000 --backends sqlite,postgresql
    python bench/bench_scale.py --pg-uri postgresql://user@host/db   # an existing server

Without ``--pg-uri``, a throw-away PostgreSQL server is started as the tests start theirs
(tests/conftest.py, fsync off). Stores are built under /tmp and removed at the end. Not a
test: the machine is shared and noisy, so read the ratios, and run it twice if in doubt.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import multiprocessing
import os
import re
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from runwidget.store import Batch, RunFilter, SqlStore  # noqa: E402
from runwidget.store import schema as s  # noqa: E402
from runwidget.store.derived import search_text, tag_rows  # noqa: E402

CLIENTS = 20
PAGE_TARGET_MS = 50.0
SEARCH_TARGET_MS = 200.0
RSS_RATIO_TARGET = 1.2
START_TARGET_S = 1.0

MODELS = ("resnet", "vit", "lstm", "xgboost", "mlp")
METRICS = (
    "loss", "accuracy", "val_loss", "val_accuracy", "mse", "r2", "mae", "auc", "logloss", "f1",
    "grad_norm", "precision", "perplexity", "recall", "nll", "top5", "rmse", "iou", "lr", "bleu",
)  # fmt: skip
STATUSES = ("Completed", "Failed", "Canceled", "Running", "Queued")
STATUS_SHARES = (0.85, 0.07, 0.03, 0.03, 0.02)
ERROR = {"message": "ValueError: loss diverged", "traceback": "Traceback ...\nValueError"}
DAY = 86_400.0


# -- the population ------------------------------------------------------------------------
@dataclass
class Population:
    """Every run of a store, in creation order (run ``i`` gets key ``i + 1``)."""

    experiments: list[str]
    metric_counts: np.ndarray  # per experiment: metrics each of its runs logs
    experiment: np.ndarray  # per run: index into experiments
    number: np.ndarray  # per run: its number in its experiment (1, 2, ...)
    parent: np.ndarray  # per run: the parent's key, 0 for a top-level run
    sweep_parent: np.ndarray  # per run: True for a sweep's parent
    created: np.ndarray
    status: np.ndarray  # index into STATUSES
    steps: np.ndarray  # points per metric
    model: np.ndarray
    owner: np.ndarray
    ray: np.ndarray
    script: np.ndarray
    nan_every: int

    def __len__(self) -> int:
        return len(self.experiment)


def make_population(
    n: int, seed: int, *, sweep_share: float = 0.04, nan_every: int = 997, largest: int = 10_000
) -> Population:
    rng = np.random.default_rng(seed)
    sizes: list[int] = []
    while sum(sizes) < n:
        sizes.append(min(int(largest ** rng.uniform(0, 1)), n - sum(sizes)))
    count = len(sizes)
    now = time.time() - 2 * DAY
    # Experiments begin over two years and each lasts from an hour to 90 days.
    begin = now - rng.uniform(0, 730 * DAY, count)
    length = 10 ** rng.uniform(math.log10(3600), math.log10(90 * DAY), count)
    length = np.minimum(length, now - begin)
    exp = np.repeat(np.arange(count), sizes)
    created = begin[exp] + rng.uniform(0, 1, n) * length[exp]
    order = np.argsort(created, kind="stable")
    exp, created = exp[order], created[order]
    # A run's number counts its experiment's runs up to it, in creation order.
    by_exp = np.lexsort((np.arange(n), exp))
    first_of_exp = np.searchsorted(exp[by_exp], np.arange(count))
    number = np.empty(n, dtype=np.int64)
    number[by_exp] = np.arange(n) - first_of_exp[exp[by_exp]] + 1
    # Sweeps (one experiment in 1 / sweep_share, from the second on): a parent then
    # ``group - 1`` children, again and again.
    sweep = np.arange(count) % round(1 / sweep_share) == 1
    group = rng.integers(11, 101, count)
    parent = np.zeros(n, dtype=np.int64)
    sweep_parent = np.zeros(n, dtype=bool)
    for e in np.flatnonzero(sweep):
        keys = by_exp[first_of_exp[e] : first_of_exp[e] + sizes[e]] + 1  # in number order
        positions = np.arange(sizes[e])
        heads = positions - positions % group[e]
        parent[keys - 1] = np.where(positions == heads, 0, keys[heads])
        sweep_parent[keys[positions == heads] - 1] = True
    names = [f"{MODELS[e % len(MODELS)]}-study-{e:04d}" for e in range(count)]
    return Population(
        experiments=names,
        metric_counts=rng.integers(1, 21, count),
        experiment=exp,
        number=number,
        parent=parent,
        sweep_parent=sweep_parent,
        created=created,
        status=rng.choice(len(STATUSES), n, p=STATUS_SHARES),
        steps=rng.integers(1, 61, n),
        model=rng.integers(0, len(MODELS), n),
        owner=rng.integers(0, 200, n),
        ray=rng.uniform(0, 1, n) < 0.1,
        script=rng.uniform(0, 1, n) < 0.4,
        nan_every=nan_every,
    )


@dataclass
class RunSpec:
    """One run as the API would be asked to make it."""

    key: int
    id: str
    experiment: str
    parent_id: str | None
    display_name: str
    run_type: str
    status: str
    created: float
    started: float | None
    ended: float | None
    tags: dict[str, Any]
    target: str
    arguments: list[Any]
    metrics: list[str]
    steps: int
    nan_every: int

    def value(self, metric: int, step: int) -> float:
        """Decreasing metrics (even positions) and increasing ones; some runs end on NaN."""
        if step == self.steps - 1 and self.ends_on_nan(metric):
            return math.nan
        a = 1 + (self.key % 97) / 10
        b = (metric + 1) / 100 + (self.key % 13) / 1000
        if metric % 2 == 0:
            return a / (step + 1) + b
        return (a - a / (step + 1)) + b

    def ends_on_nan(self, metric: int) -> bool:
        return metric == 0 and self.key % self.nan_every == 0

    def summary(self, metric: int) -> tuple[float | None, float | None, float | None]:
        """last, low and high as the writer stores them (NaN as NULL), without the points."""
        finite = self.steps - 1 if self.ends_on_nan(metric) else self.steps
        last = None if finite < self.steps else self.value(metric, self.steps - 1)
        if finite == 0:
            return last, None, None
        ends = (self.value(metric, 0), self.value(metric, finite - 1))
        low, high = (ends[1], ends[0]) if metric % 2 == 0 else ends
        return last, low, high


def spec(pop: Population, i: int, ids: Callable[[int], str]) -> RunSpec:
    key = i + 1
    e = int(pop.experiment[i])
    status = STATUSES[pop.status[i]]
    created = float(pop.created[i])
    started = None if status == "Queued" else created + 0.5 + (key % 50) / 10
    ended = None if status in ("Queued", "Running") else started + 10 + (key * 37) % 3600
    parent = int(pop.parent[i])
    model = MODELS[pop.model[i]]
    if pop.sweep_parent[i]:
        run_type, name = "sweep", f"{model} sweep {pop.number[i]}"
    elif parent:
        run_type, name = "child", f"{model} trial {pop.number[i]}"
    else:
        run_type = "script" if pop.script[i] else "interactive"
        name = f"{model}-{pop.number[i]}"
    lr = round(0.001 * (1 + key % 7), 3)
    return RunSpec(
        key=key,
        id=ids(i),
        experiment=pop.experiments[e],
        parent_id=ids(parent - 1) if parent else None,
        display_name=name,
        run_type=run_type,
        status=status,
        created=created,
        started=started,
        ended=ended,
        tags={"model": model, "owner": f"user-{pop.owner[i]:03d}", "seed": key % 5},
        target="ray" if pop.ray[i] else "local",
        arguments=["--lr", lr] if run_type == "script" else [],
        metrics=list(METRICS[: pop.metric_counts[e]]),
        steps=int(pop.steps[i]),
        nan_every=pop.nan_every,
    )


def run_id_of(pop: Population) -> Callable[[int], str]:
    """Ids in the shape of ``new_run_id``: experiment, creation second, 8 hex digits."""

    def of(i: int) -> str:
        return f"{pop.experiments[pop.experiment[i]]}_{int(pop.created[i])}_{i + 1:08x}"

    return of


def specs(pop: Population, start: int = 0, stop: int | None = None) -> Iterator[RunSpec]:
    ids = run_id_of(pop)
    for i in range(start, len(pop) if stop is None else stop):
        yield spec(pop, i, ids)


# -- writing through the API ---------------------------------------------------------------
def write_through_api(store: SqlStore, runs: list[RunSpec]) -> None:
    """The runs as a user's code makes them: create, one batch of every point, then end."""
    for r in runs:
        store.create_run(
            r.experiment, run_id=r.id, parent_id=r.parent_id, display_name=r.display_name,
            run_type=r.run_type, status="Queued" if r.started is None else "Running",
            started=r.started, tags=r.tags, target=r.target, arguments=r.arguments,
        )  # fmt: skip
        points = [
            (name, "scalar", float(k), r.value(j, k), r.created + k)
            for k in range(r.steps)
            for j, name in enumerate(r.metrics)
        ]
        store.write({r.id: Batch(metrics=points)})
        if r.ended is not None:
            store.update_run(
                r.id, status=r.status, ended=r.ended, error=ERROR if r.status == "Failed" else None
            )


# -- writing in bulk -----------------------------------------------------------------------
RUN_COLUMNS = (
    "key", "id", "experiment_id", "parent_id", "number", "display_name", "run_type", "status",
    "created", "started", "ended", "heartbeat", "properties", "tags", "error_message",
    "error_traceback", "target", "arguments", "seq", "search", "data_version",
)  # fmt: skip
TAG_COLUMNS = ("run_key", "name", "value")
SUMMARY_COLUMNS = ("run_key", "name", "count", "last", "low", "high", "first_seq", "last_seq")


class BulkRows:
    """The rows the writer would make for runs created in key order into an empty store."""

    def __init__(self) -> None:
        self.seq = 0  # the runs' change counter (rw_counters "runs")
        self.point_seq = 0  # the last rw_metrics seq the points would have taken
        self.experiment_ids: dict[str, int] = {}
        self.experiment_rows: list[tuple] = []
        self.experiments_written = 0
        self.numbers: dict[str, int] = {}

    def rows(self, runs: Iterator[RunSpec]) -> tuple[list[tuple], list[tuple], list[tuple]]:
        run_rows, tags, summaries = [], [], []
        for r in runs:
            e = self.experiment_ids.get(r.experiment)
            if e is None:
                e = self.experiment_ids[r.experiment] = len(self.experiment_ids) + 1
                self.experiment_rows.append((e, r.experiment, r.created))
            self.seq += 1 if r.ended is None else 2  # create_run, then update_run
            failed = r.status == "Failed"
            run_rows.append((
                r.key, r.id, e, r.parent_id, self.numbers.get(r.experiment, 0) + 1,
                r.display_name, r.run_type, r.status, r.created, r.started, r.ended, r.started,
                "{}", json.dumps(r.tags, default=str),
                ERROR["message"] if failed else None, ERROR["traceback"] if failed else None,
                r.target, json.dumps(r.arguments, default=str), self.seq,
                search_text(r.display_name, r.id, r.experiment, r.run_type, r.tags), 1,
            ))  # fmt: skip
            self.numbers[r.experiment] = self.numbers.get(r.experiment, 0) + 1
            tags += [tuple(row.values()) for row in tag_rows(r.key, r.tags)]
            # One batch, step-major: metric j's points take seqs base + 1 + j + step * m.
            m, base = len(r.metrics), self.point_seq
            for j, name in enumerate(r.metrics):
                last, low, high = r.summary(j)
                first = base + 1 + j
                summaries.append(
                    (r.key, name, r.steps, last, low, high, first, first + (r.steps - 1) * m)
                )
            self.point_seq += m * r.steps
        return run_rows, tags, summaries


class BulkWriter:
    """Inserts BulkRows into a store's tables (the schema made by SqlStore first)."""

    def __init__(self, uri: str) -> None:
        SqlStore(uri).close()  # the schema, as the store makes it
        self.uri = uri
        self.sqlite = uri.startswith("sqlite")
        if self.sqlite:
            self.conn: Any = sqlite3.connect(uri.removeprefix("sqlite:///"), isolation_level=None)
            self.conn.execute("PRAGMA synchronous = OFF")
        else:
            import psycopg

            self.conn = psycopg.connect(pg_libpq(uri), autocommit=True)
        self.indexes = [*s.runs.indexes, *s.run_tags.indexes]
        for index in self.indexes:
            self.conn.execute(f"DROP INDEX {index.name}")

    def insert(self, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
        if not rows:
            return
        if self.sqlite:
            marks = ", ".join("?" * len(columns))
            self.conn.execute("BEGIN")
            self.conn.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows
            )
            self.conn.execute("COMMIT")
        else:
            sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
            with self.conn.cursor() as cur, cur.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)

    def add(self, bulk: BulkRows, runs: Iterator[RunSpec]) -> None:
        """The runs' rows, their new experiments first."""
        run_rows, tags, summaries = bulk.rows(runs)
        new = bulk.experiment_rows[bulk.experiments_written :]
        self.insert("rw_experiments", ("id", "name", "created"), new)
        bulk.experiments_written += len(new)
        self.insert("rw_runs", RUN_COLUMNS, run_rows)
        self.insert("rw_run_tags", TAG_COLUMNS, tags)
        self.insert("rw_metric_summaries", SUMMARY_COLUMNS, summaries)

    def finish(self, bulk: BulkRows, analyse: bool = True) -> None:
        self.conn.execute(f"UPDATE rw_counters SET value = {bulk.seq} WHERE name = 'runs'")
        # What create_run keeps, counted once.
        self.conn.execute(s.COUNT_EXPERIMENT_RUNS)
        self.conn.execute(s.COUNT_TARGET_RUNS)
        from sqlalchemy import create_engine
        from sqlalchemy.schema import CreateIndex

        dialect = create_engine(self.uri if self.sqlite else pg_sqlalchemy(self.uri)).dialect
        for index in self.indexes:
            self.conn.execute(str(CreateIndex(index).compile(dialect=dialect)))
        if not self.sqlite:
            top_key = max((row[0] for row in bulk.experiment_rows), default=0)
            for table, column, value in (
                ("rw_experiments", "id", top_key),
                ("rw_runs", "key", sum(bulk.numbers.values())),
                ("rw_metrics", "seq", bulk.point_seq),
            ):
                if value:
                    self.conn.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), {value})"
                    )
            self.conn.execute(s.RUN_SUMMARIES_FROM.format(condition="true"))
            if analyse:
                for table in ("rw_runs", "rw_run_tags", "rw_metric_summaries",
                              "rw_run_summaries", "rw_experiments"):  # fmt: skip
                    self.conn.execute(f"VACUUM ANALYZE {table}")
        self.conn.close()


def fill(uri: str, pop: Population, *, chunk: int = 50_000, progress: bool = False) -> float:
    """Fill an empty store with the population in bulk; the seconds it took."""
    begin = time.perf_counter()
    writer, bulk = BulkWriter(uri), BulkRows()
    for start in range(0, len(pop), chunk):
        writer.add(bulk, specs(pop, start, min(len(pop), start + chunk)))
        if progress and (start // chunk) % 4 == 3:
            done = min(len(pop), start + chunk)
            print(f"    {done:>9,} runs  {time.perf_counter() - begin:6.0f} s", flush=True)
    writer.finish(bulk)
    return time.perf_counter() - begin


# -- the check: the bulk path makes what the API makes -------------------------------------
def table_dump(uri: str) -> dict[str, list[tuple]]:
    from sqlalchemy import create_engine, text

    engine = create_engine(uri if uri.startswith("sqlite") else pg_sqlalchemy(uri))
    queries = {
        "rw_experiments": "SELECT id, name, runs, last_created FROM rw_experiments ORDER BY id",
        "rw_runs": f"SELECT {', '.join(RUN_COLUMNS)} FROM rw_runs ORDER BY key",
        "rw_run_tags": "SELECT run_key, name, value FROM rw_run_tags ORDER BY run_key, name",
        "rw_metric_summaries": f"SELECT {', '.join(SUMMARY_COLUMNS)} FROM rw_metric_summaries "
        "ORDER BY run_key, name",
        "rw_counters": "SELECT name, value FROM rw_counters ORDER BY name",
        "rw_target_runs": "SELECT target, runs FROM rw_target_runs ORDER BY target",
    }
    if not uri.startswith("sqlite"):
        queries["rw_run_summaries"] = "SELECT * FROM rw_run_summaries ORDER BY run_key"
    with engine.connect() as conn:
        dump = {name: [tuple(row) for row in conn.execute(text(q))] for name, q in queries.items()}
    engine.dispose()
    return dump


def reads(store: SqlStore) -> list[Any]:
    """What the surfaces read, with the times the API took from the clock left out."""
    seen: list[Any] = []
    for where in (RunFilter(), RunFilter(parent=""), RunFilter(search="resnet"),
                  RunFilter(statuses=frozenset({"Failed", "NotResponding"})),
                  RunFilter(target="ray"), RunFilter(tags=(("seed", 3),))):  # fmt: skip
        page = store.find_runs(where, limit=1000)
        seen.append([r.id for r in page.records])
        seen.append(store.count_runs(where))
    every = store.find_runs(RunFilter(), limit=1000).records
    seen.append(sorted(str(r) for r in every))
    summaries = store.metric_summaries([r.id for r in every])
    seen.append(json.dumps(summaries, sort_keys=True))
    seen.append(store.change_cursor())
    seen.append(sorted(str(v) for v in store.run_versions([r.id for r in every]).items()))
    seen.append(store.target_summaries())
    # When an experiment was made is the API's clock, not the population's.
    summaries = store.experiment_summaries().items()
    seen.append(sorted((name, {**e, "created": None}) for name, e in summaries))
    return seen


def check_bulk_matches_api(make_uri: Callable[[str], str], drop: Callable[[str], None]) -> None:
    pop = make_population(80, seed=7, sweep_share=0.5, nan_every=7, largest=30)
    sample = list(specs(pop))
    api_uri, bulk_uri = make_uri("check_api"), make_uri("check_bulk")
    store = SqlStore(api_uri)
    write_through_api(store, sample)
    # Times the API took from the clock (created) go into the bulk rows.
    created = {r.id: r.created for r in store.find_runs(RunFilter(), limit=1000).records}
    for r in sample:
        r.created = created[r.id]
    writer, bulk = BulkWriter(bulk_uri), BulkRows()
    writer.add(bulk, iter(sample))
    writer.finish(bulk)
    by_api, by_bulk = table_dump(api_uri), table_dump(bulk_uri)
    for table, rows in by_api.items():
        if rows != by_bulk[table]:
            diff = next((a, b) for a, b in zip(rows, by_bulk[table], strict=False) if a != b)
            sys.exit(f"bulk rows differ from the API's in {table}: {diff}")
    other = SqlStore(bulk_uri)
    if reads(store) != reads(other):
        sys.exit("a store filled in bulk reads differently from one filled through the API")
    store.close()
    other.close()
    kinds = {r.run_type for r in sample} | {r.status for r in sample}
    print(f"  bulk rows = API rows: {len(sample)} runs ({', '.join(sorted(kinds))}), "
          f"{sum(r.ends_on_nan(0) for r in sample)} ending on NaN, "
          f"{sum(len(t) for t in by_api.values())} rows, and the same reads")  # fmt: skip
    drop(api_uri)
    drop(bulk_uri)


# -- PostgreSQL ----------------------------------------------------------------------------
def pg_libpq(uri: str) -> str:
    return re.sub(r"^postgres(ql)?(\+psycopg\d?)?://", "postgresql://", uri)


def pg_sqlalchemy(uri: str) -> str:
    return re.sub(r"^postgres(ql)?(\+psycopg\d?)?://", "postgresql+psycopg://", uri)


@contextlib.contextmanager
def postgres(pg_uri: str | None) -> Iterator[tuple[Callable[[str], str], Callable[[str], None]]]:
    """``(make_uri, drop)``: a new database by name on the server, and its removal."""
    import psycopg

    with contextlib.ExitStack() as stack:
        if pg_uri is None:
            from tests.conftest import running_postgres

            server = stack.enter_context(running_postgres())
            admin_uri = pg_libpq(server.uri("postgres"))
        else:
            admin_uri = pg_libpq(pg_uri)
        admin = stack.enter_context(psycopg.connect(admin_uri, autocommit=True))
        suffix = uuid.uuid4().hex[:6]

        def make_uri(name: str) -> str:
            db = f"rw_bench_{name}_{suffix}"
            admin.execute(f'CREATE DATABASE "{db}"')
            return pg_sqlalchemy(admin_uri.rsplit("/", 1)[0] + "/" + db)

        def drop(uri: str) -> None:
            admin.execute(f'DROP DATABASE IF EXISTS "{uri.rsplit("/", 1)[1]}" WITH (FORCE)')

        yield make_uri, drop


@contextlib.contextmanager
def sqlite_files() -> Iterator[tuple[Callable[[str], str], Callable[[str], None]]]:
    folder = Path(tempfile.mkdtemp(prefix="rw-bench-scale-", dir="/tmp"))
    try:
        yield (lambda name: f"sqlite:///{folder}/{name}.db"), (lambda uri: None)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# -- the clients ---------------------------------------------------------------------------
_OPEN: dict[str, SqlStore] = {}


def _store(uri: str) -> SqlStore:
    if uri not in _OPEN:
        for old in _OPEN.values():
            old.close()
        _OPEN.clear()
        _OPEN[uri] = SqlStore(uri)
    return _OPEN[uri]


def _table(store: SqlStore, experiment: str) -> Any:
    shown = ("loss", "accuracy", "val_loss")
    page = store.find_runs(RunFilter(experiment=experiment), limit=100, summaries=shown)
    found = page.summaries
    return [
        [(m.get("last"), m.get("min"), m.get("max")) for m in (found[r.id].get(n, {}) for n in
         shown)]
        for r in page.records
    ]  # fmt: skip


QUERIES: dict[str, Callable[[SqlStore, Any], Any]] = {
    "first page": lambda st, _: st.find_runs(RunFilter(), limit=100),
    "page 100 (offset 9,900)": lambda st, _: st.find_runs(RunFilter(), offset=9900, limit=100),
    "page 100 (keyset token)": lambda st, token: st.find_runs(RunFilter(), after=token, limit=100),
    "page by name": lambda st, _: st.find_runs(RunFilter(), order="name", limit=100),
    "page by target": lambda st, _: st.find_runs(RunFilter(), order="target", limit=100),
    "experiment page": lambda st, e: st.find_runs(RunFilter(experiment=e), limit=100),
    "status page (Failed)": lambda st, _: st.find_runs(
        RunFilter(statuses=frozenset({"Failed"})), limit=100
    ),
    "status page (Running)": lambda st, _: st.find_runs(
        RunFilter(statuses=frozenset({"Running"})), limit=100
    ),
    "search (common word)": lambda st, _: st.find_runs(RunFilter(search="resnet"), limit=100),
    "search (one run's id)": lambda st, needle: st.find_runs(RunFilter(search=needle), limit=100),
    "runs table, 3 metrics": _table,
    "sidebar (top level)": lambda st, _: st.find_runs(RunFilter(parent=""), limit=100),
    "count (all runs)": lambda st, _: st.count_runs(RunFilter()),
    "count (experiment)": lambda st, e: st.count_runs(RunFilter(experiment=e)),
    "list total (all runs)": lambda st, _: st.total_runs(RunFilter()),
    "list total (sidebar)": lambda st, _: st.total_runs(RunFilter(parent="")),
    # The portal's home and the sidebar's experiment menu.
    "experiments list": lambda st, _: st.experiment_summaries(),
}
SEARCHES = ("search (common word)", "search (one run's id)")
NOT_PAGES = ("count (all runs)", "count (experiment)", "list total (all runs)",
             "list total (sidebar)", "experiments list")  # fmt: skip


def _client(task: tuple) -> list[float]:
    """One client's calls of one query, in ms; all clients start at ``start_at``."""
    uri, query, params, start_at, token = task
    if query.startswith("GET "):
        call = _http_call(uri, query.removeprefix("GET "), token)
    else:
        store, fn = _store(uri), QUERIES[query]

        def call(p: Any) -> Any:
            return fn(store, p)

    call(params[0])  # a warm connection, as a long-lived client has
    while time.time() < start_at:
        time.sleep(0.002)
    times = []
    for p in params:
        begin = time.perf_counter()
        call(p)
        times.append((time.perf_counter() - begin) * 1e3)
    return times


def _http_call(base: str, path: str, token: str) -> Callable[[Any], Any]:
    def call(_: Any) -> Any:
        request = urllib.request.Request(base + path, headers={"Authorization": f"token {token}"})
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.read()

    return call


def quantiles(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return ordered[len(ordered) // 2], ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def measure(pool: Any, uri: str, query: str, params: list[list[Any]], token: str = "") -> list:
    start_at = time.time() + 3.0
    tasks = [(uri, query, p, start_at, token) for p in params]
    return [t for times in pool.map(_client, tasks) for t in times]


@dataclass
class Figures:
    rows: dict[str, tuple[float, float]]
    build_s: float
    http: dict[str, Any]


def measure_store(pool: Any, uri: str, pop: Population, reps: int, seed: int) -> Figures:
    rng = np.random.default_rng(seed)
    store = SqlStore(uri)
    walk = None
    if len(pop) >= 10_000:
        for _ in range(99):
            walk = store.find_runs(RunFilter(), after=walk, limit=100).after
    counts = np.bincount(pop.experiment, minlength=len(pop.experiments))
    big = [pop.experiments[e] for e in np.flatnonzero(counts >= 100)] or pop.experiments
    store.close()
    rows = {}
    for query in QUERIES:
        params = []
        for _ in range(CLIENTS):
            if query in ("experiment page", "runs table, 3 metrics", "count (experiment)"):
                params.append([big[k] for k in rng.integers(0, len(big), reps)])
            elif query == "search (one run's id)":
                params.append([f"{k:08x}" for k in rng.integers(1, len(pop) + 1, reps)])
            elif query == "page 100 (keyset token)":
                if walk is None:
                    break
                params.append([walk] * reps)
            else:
                params.append([None] * reps)
        if params:
            alone = quantiles(measure(pool, uri, query, [params[0] * 2]))[0]
            sql = sql_ms(uri, query, params[0][:5])
            client, server = cpu_ms(uri, query, params[0] * 20)
            rows[query] = quantiles(measure(pool, uri, query, params))
            median, p95 = rows[query]
            print(f"    {query:<26} 1 client {alone:7.1f} ms (SQL {sql:6.1f}, CPU {client:5.2f} + "
                  f"{server:5.2f})   {CLIENTS} clients: median {median:7.1f} ms, p95 {p95:7.1f} "
                  "ms", flush=True)  # fmt: skip
    return Figures(rows, 0.0, {})


def cpu_ms(uri: str, query: str, params: list[Any]) -> tuple[float, float]:
    """CPU time per call, of the client and of the PostgreSQL server process that answers
    it (0 for SQLite, whose reads run in the client), one call at a time: the figure that
    sets what 20 clients sharing this machine's cores can get. Wall times under load vary
    with the machine's neighbours; CPU per call hardly does."""
    store = SqlStore(uri)
    try:
        QUERIES[query](store, params[0])  # the one pooled connection, warm
        backend = None
        if not store._sqlite:
            with store._reading() as conn:
                pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            backend = Path(f"/proc/{pid}/stat")

        def server() -> float:
            if backend is None or not backend.exists():
                return 0.0  # SQLite, or a server on another machine
            fields = backend.read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

        server_at, client_at = server(), time.process_time()
        for p in params:
            QUERIES[query](store, p)
        client, served = time.process_time() - client_at, server() - server_at
    finally:
        store.close()
    return client / len(params) * 1e3, served / len(params) * 1e3


def sql_ms(uri: str, query: str, params: list[Any]) -> float:
    """Median time of the SQL statements one call sends, run alone on the driver's own
    connection and fetched (no records made): the database's share of a call."""
    from sqlalchemy import event

    from runwidget.store import sql

    store = SqlStore(uri)
    times = []
    sent: list[tuple] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    def fetch_all(conn: Any, statement: str, values: Any) -> Any:  # the hot reads' own path
        sent.append((statement, values))
        return driver_fetch_all(conn, statement, values)

    driver_fetch_all = sql.fetch_all
    for p in params:
        sent.clear()
        event.listen(store._read_engine, "before_cursor_execute", capture)
        sql.fetch_all = fetch_all
        try:
            QUERIES[query](store, p)
        finally:
            sql.fetch_all = driver_fetch_all
            event.remove(store._read_engine, "before_cursor_execute", capture)
        raw = store._read_engine.raw_connection()
        try:
            begin = time.perf_counter()
            for statement, parameters in sent:
                cursor = raw.cursor()
                cursor.execute(statement, parameters)
                cursor.fetchall()
                cursor.close()
            times.append((time.perf_counter() - begin) * 1e3)
        finally:
            raw.close()
    store.close()
    return sorted(times)[len(times) // 2]


# -- the portal through HTTP ---------------------------------------------------------------
def service_reads_the_store() -> bool:
    source = (ROOT / "runwidget" / "server" / "service.py").read_text()
    return "RunIndex" not in source


def rss_mb(pid: int) -> tuple[float, float]:
    """The resident memory now and at its peak (MB) of the process and its children (the
    processes of a portal run with ``--processes``), each counted in full."""
    now = peak = 0.0
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    for each in [pid, *map(int, children)]:
        status = Path(f"/proc/{each}/status").read_text()
        found = dict(re.findall(r"(VmRSS|VmHWM):\s+(\d+)", status))
        now, peak = now + float(found["VmRSS"]) / 1024, peak + float(found["VmHWM"]) / 1024
    return now, peak


def measure_http(pool: Any, uri: str, reps: int, processes: int = 1) -> dict[str, Any]:
    token = secrets.token_hex(16)
    begin = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "runwidget", "portal", "--store", uri, "--port", "0",
         "--token", token, "--processes", str(processes)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd="/tmp",
    )  # fmt: skip
    try:
        base = None
        while base is None:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            if not line:
                raise RuntimeError("the portal ended before it listened")
            found = re.search(r"open (http://[^/]+)/runwidget/", line)
            base = found.group(1) if found else None
        listening = time.perf_counter() - begin
        first = _http_call(f"{base}/runwidget/api", "/runs?limit=100", token)
        first(None)
        started = time.perf_counter() - begin
        rss_started = rss_mb(proc.pid)[0]
        out: dict[str, Any] = {"listening_s": listening, "start_s": started, "rss_mb": rss_started}
        for path in ("/runs?limit=100", "/runs?stats=*&limit=500"):
            params = [[None] * reps for _ in range(CLIENTS)]
            out[path + " alone"] = quantiles(measure(pool, f"{base}/runwidget/api", "GET " + path,
                                                     [[None] * reps * 2], token))[0]  # fmt: skip
            out[path] = quantiles(measure(pool, f"{base}/runwidget/api", "GET " + path, params,
                                          token))  # fmt: skip
        out["rss_after_mb"], out["rss_peak_mb"] = rss_mb(proc.pid)
        return out
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- main ----------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000", help="store sizes in runs (default 10000)")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--pg-uri", default=None, help="a PostgreSQL server to make databases on")
    parser.add_argument("--reps", type=int, default=10, help="calls per client and query")
    parser.add_argument("--http", action="store_true", help="measure the portal even while "
                        "service.py keeps its in-memory RunIndex")  # fmt: skip
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    backends = [b.strip() for b in args.backends.split(",")]
    http = args.http or service_reads_the_store()
    print(f"== run lists at scale: {CLIENTS} client processes, {args.reps} calls each per query, "
          f"{os.cpu_count()} cores")  # fmt: skip
    if not http:
        print("   (portal over HTTP skipped: runwidget/server/service.py still serves lists "
              "from its in-memory RunIndex; --http measures it anyway)")  # fmt: skip
    pool = multiprocessing.get_context("fork").Pool(CLIENTS)
    results: dict[tuple[str, int], Figures] = {}
    try:
        for backend in backends:
            places = sqlite_files() if backend == "sqlite" else postgres(args.pg_uri)
            with places as (make_uri, drop):
                print(f"\n== {backend}")
                check_bulk_matches_api(make_uri, drop)
                for size in sizes:
                    results[(backend, size)] = one_store(pool, make_uri, drop, size, args, http)
    finally:
        pool.terminate()
    report(results, sizes, backends)
    return 0


def one_store(pool: Any, make_uri: Callable, drop: Callable, size: int, args: Any,
              http: bool) -> Figures:  # fmt: skip
    pop = make_population(size, seed=size)
    sweeps = int(pop.sweep_parent.sum())
    print(f"\n  {size:,} runs: {len(pop.experiments):,} experiments, {sweeps:,} sweep parents, "
          f"{int((pop.parent > 0).sum()):,} children, "
          f"{int(pop.metric_counts[pop.experiment].sum()):,} metric summaries")  # fmt: skip
    uri = make_uri(f"s{size}")
    try:
        build = fill(uri, pop, progress=size >= 200_000)
        print(f"    built in {build:.1f} s", flush=True)
        # A few runs through the real API after the bulk: they must come first.
        newest = api_written(size)
        store = SqlStore(uri)
        write_through_api(store, newest)
        first = [r.id for r in store.find_runs(RunFilter(), limit=3).records]
        summary = store.metric_summaries([newest[-1].id])[newest[-1].id]
        assert first == [r.id for r in reversed(newest)], first
        assert summary[newest[-1].metrics[0]]["count"] == newest[-1].steps
        store.close()
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"    load average before measuring: {load} (on {os.cpu_count()} cores)")
        figures = measure_store(pool, uri, pop, args.reps, seed=size)
        figures.build_s = build
        # The portal as it starts by default (one process), then one process per core.
        for processes in sorted({1, os.cpu_count() or 1}) if http else ():
            h = measure_http(pool, uri, args.reps, processes)
            if processes == 1:
                figures.http = h
            print(f"    portal, {processes} process{'es' if processes > 1 else ''}: listening "
                  f"{h['listening_s']:.2f} s, first page answered {h['start_s']:.2f} s, RSS "
                  f"{h['rss_mb']:.0f} MB, after load {h['rss_after_mb']:.0f} MB (peak "
                  f"{h['rss_peak_mb']:.0f} MB)")  # fmt: skip
            for path in ("/runs?limit=100", "/runs?stats=*&limit=500"):
                print(
                    f"      GET /api{path:<24} 1 client {h[path + ' alone']:7.1f} ms   "
                    f"{CLIENTS} clients: median {h[path][0]:7.1f} ms, p95 {h[path][1]:7.1f} ms"
                )
        return figures
    finally:
        if uri.startswith("sqlite"):
            path = Path(uri.removeprefix("sqlite:///"))
            for leftover in path.parent.glob(path.name + "*"):
                leftover.unlink()
        else:
            drop(uri)


def api_written(size: int) -> list[RunSpec]:
    """Three runs to create through the API after the store's ``size`` runs."""
    now = time.time()
    return [
        RunSpec(
            key=size + i,
            id=f"api-written_{int(now)}_{secrets.token_hex(4)}",
            experiment="api-written",
            parent_id=None,
            display_name=f"api run {i}",
            run_type="interactive",
            status="Completed",
            created=now,
            started=now + i,
            ended=now + i + 1,
            tags={"model": "mlp"},
            target="local",
            arguments=[],
            metrics=["loss", "accuracy", "val_loss"],
            steps=5,
            nan_every=997,
        )  # fmt: skip
        for i in range(1, 4)
    ]


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def report(results: dict[tuple[str, int], Figures], sizes: list[int], backends: list[str]) -> None:
    print("\n== summary (p95, ms)")
    names = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
    header = f"{'query':<26}" + "".join(f"{names.get(b, b):>11} {n:>9,}" for b in backends
                                        for n in sizes)  # fmt: skip
    print(header)
    for query in QUERIES:
        cells = []
        for b in backends:
            for n in sizes:
                row = results.get((b, n))
                cells.append(f"{row.rows[query][1]:>21.1f}" if row and query in row.rows else
                             f"{'-':>21}")  # fmt: skip
        print(f"{query:<26}" + "".join(cells))
    largest = max(sizes)
    for b in backends:
        fig = results.get((b, largest))
        if fig is None:
            continue
        pages = [p95 for q, (_, p95) in fig.rows.items() if q not in SEARCHES + NOT_PAGES]
        searches = [fig.rows[q][1] for q in SEARCHES if q in fig.rows]
        print(f"\n{b} at {largest:,} runs: slowest page p95 {max(pages):.1f} ms "
              f"(target <= {PAGE_TARGET_MS:.0f}: {verdict(max(pages) <= PAGE_TARGET_MS)}), "
              f"slowest search p95 {max(searches):.1f} ms (target <= {SEARCH_TARGET_MS:.0f}: "
              f"{verdict(max(searches) <= SEARCH_TARGET_MS)})")  # fmt: skip
        smallest = results.get((b, min(sizes)))
        if fig.http and smallest and smallest.http:
            ratio = fig.http["rss_after_mb"] / smallest.http["rss_after_mb"]
            slowest = max(results[(b, n)].http["start_s"] for n in sizes)
            print(f"  portal RSS {largest:,} / {min(sizes):,} runs: {ratio:.2f}x (target <= "
                  f"{RSS_RATIO_TARGET}), slowest start-up {slowest:.2f} s (target <= "
                  f"{START_TARGET_S:.0f} s)")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
