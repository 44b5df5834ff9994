"""Writers benchmark: many processes writing metric points into one store at once.

8 writer processes (``--writers``), each with its own store object and its own runs, write
batches of points through ``store.write`` (the call the flusher makes), all starting
together; then the points are counted in ``rw_metrics`` and in the metric summaries, and
none may be missing. Points per second are the total over the time from the first writer's
start to the last one's end. The same is done into PostgreSQL and into SQLite, side by side.
``--profile`` then runs one writer alone under cProfile into each store and prints where
its time goes.

    python bench/bench_writers.py [--writers 8] [--points 100000] [--batch 2000] [--profile]
    python bench/bench_writers.py --pg-uri postgresql://user@host/db   # an existing server

Without ``--pg-uri``, a throw-away PostgreSQL server is started as the tests start theirs
(tests/conftest.py: fsync and synchronous_commit off, on /dev/shm where it can). Not a test:
the machine is shared and noisy, so read the ratios, and run it twice if in doubt.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import multiprocessing
import os
import pstats
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_scale import postgres, sqlite_files  # noqa: E402

from runwidget.store import Batch, SqlStore  # noqa: E402

TARGET_PER_S = 100_000
METRICS = ("loss", "accuracy", "lr", "grad_norm", "val_loss")


def batches(run_ids: list[str], points: int, batch: int) -> list[dict[str, Batch]]:
    """``points`` points in writes of ``batch`` points, shared by the runs; each run logs
    every metric once a step, as a training loop does."""
    out = []
    step = {run_id: 0 for run_id in run_ids}
    now = time.time()
    per_run = max(1, batch // len(run_ids))
    for _ in range(points // batch):
        write: dict[str, Batch] = {}
        for run_id in run_ids:
            rows = []
            while len(rows) < per_run:
                k = step[run_id]
                rows += [(m, "scalar", float(k), 1.0 / (k + 1) + j, now + k) for j, m in
                         enumerate(METRICS)]  # fmt: skip
                step[run_id] += 1
            write[run_id] = Batch(metrics=rows[:per_run])
        out.append(write)
    return out


def writer(task: tuple) -> dict[str, Any]:
    """One writer process: its runs, then its writes, from ``start_at`` on."""
    uri, index, points, batch, runs, start_at = task
    store = SqlStore(uri)
    ids = [
        store.create_run("writers", display_name=f"writer {index} run {r}", status="Running",
                         started=time.time()).id
        for r in range(runs)
    ]  # fmt: skip
    writes = batches(ids, points, batch)
    while time.time() < start_at:
        time.sleep(0.001)
    begin = time.time()
    for write in writes:
        store.write(write)
    end = time.time()
    store.close()
    written = sum(len(b.metrics) for w in writes for b in w.values())
    return {"ids": ids, "begin": begin, "end": end, "points": written}


def counted(uri: str, ids: list[str]) -> tuple[int, int]:
    """Points of these runs in rw_metrics, and in their metric summaries."""
    store = SqlStore(uri)
    summaries = store.metric_summaries(ids)
    in_summaries = sum(m["count"] for run in summaries.values() for m in run.values())
    with store._reading() as conn:
        marks = ", ".join(f"'{i}'" for i in ids)
        in_points = conn.exec_driver_sql(
            "SELECT COUNT(*) FROM rw_metrics m JOIN rw_runs r ON r.key = m.run_key "
            f"WHERE r.id IN ({marks})"
        ).scalar_one()
    store.close()
    return int(in_points), in_summaries


def race(uri: str, writers: int, points: int, batch: int, runs: int) -> dict[str, Any]:
    # Made first: writers that all create the same new experiment at once can collide on
    # its name (PostgreSQL then fails all but one create_run).
    SqlStore(uri).get_or_create_experiment("writers")
    start_at = time.time() + 2.0 + 0.3 * writers
    tasks = [(uri, i, points, batch, runs, start_at) for i in range(writers)]
    with multiprocessing.get_context("fork").Pool(writers) as pool:
        results = pool.map(writer, tasks, chunksize=1)
    ids = [i for r in results for i in r["ids"]]
    total = sum(r["points"] for r in results)
    elapsed = max(r["end"] for r in results) - min(r["begin"] for r in results)
    in_points, in_summaries = counted(uri, ids)
    return {
        "total": total,
        "elapsed": elapsed,
        "per_s": total / elapsed,
        "lost": total - in_points,
        "summary_lost": total - in_summaries,
        "slowest": max(r["end"] - r["begin"] for r in results),
    }


def profile_one(uri: str, points: int, batch: int, runs: int, top: int = 14) -> str:
    """One writer alone, under cProfile: its rate and the functions its time goes to."""
    store = SqlStore(uri)
    ids = [store.create_run("profiled", status="Running").id for _ in range(runs)]
    writes = batches(ids, points, batch)
    profiler = cProfile.Profile()
    begin = time.perf_counter()
    profiler.enable()
    for write in writes:
        store.write(write)
    profiler.disable()
    elapsed = time.perf_counter() - begin
    store.close()
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("tottime").print_stats(top)
    lines = [line for line in text.getvalue().splitlines() if line.strip()]
    start = next(i for i, line in enumerate(lines) if "ncalls" in line)
    body = "\n".join("      " + line[:150] for line in lines[start:])
    written = points - points % batch
    return (
        f"    one writer alone, profiled: {written / elapsed:,.0f} points/s "
        f"({elapsed / len(writes) * 1e3:.1f} ms per write of {batch} points), by own time:\n"
        f"{body}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--points", type=int, default=100_000, help="points per writer")
    parser.add_argument("--batch", type=int, default=2000, help="points per store.write")
    parser.add_argument("--runs", type=int, default=2, help="runs per writer")
    parser.add_argument("--backends", default="postgresql,sqlite")
    parser.add_argument("--pg-uri", default=None, help="a PostgreSQL server to make databases on")
    parser.add_argument("--profile", action="store_true", help="profile one writer alone too")
    args = parser.parse_args()
    print(
        f"== {args.writers} writer processes, {args.points:,} points each in writes of "
        f"{args.batch:,} points over {args.runs} runs ({len(METRICS)} metrics), "
        f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}"
    )
    found: dict[str, dict[str, Any]] = {}
    for backend in args.backends.split(","):
        places = sqlite_files() if backend == "sqlite" else postgres(args.pg_uri)
        with places as (make_uri, drop):
            uri = make_uri("writers")
            try:
                r = found[backend] = race(uri, args.writers, args.points, args.batch, args.runs)
                target = f"   (target >= {TARGET_PER_S:,}/s)" if backend == "postgresql" else ""
                print(
                    f"{backend:<11} {r['per_s']:>10,.0f} points/s   {r['total']:,} points in "
                    f"{r['elapsed']:.2f} s (slowest writer {r['slowest']:.2f} s), lost "
                    f"{r['lost']} (summaries: {r['summary_lost']}){target}",
                    flush=True,
                )
                if args.profile:
                    print(profile_one(uri, args.points, args.batch, args.runs), flush=True)
            finally:
                drop(uri)
    if {"postgresql", "sqlite"} <= found.keys():
        ratio = found["postgresql"]["per_s"] / found["sqlite"]["per_s"]
        print(f"PostgreSQL / SQLite: {ratio:.2f}x")
    pg = found.get("postgresql")
    lost = any(r["lost"] or r["summary_lost"] for r in found.values())
    if pg is not None:
        met = pg["per_s"] >= TARGET_PER_S
        print(f"PostgreSQL target {TARGET_PER_S:,} points/s: {'met' if met else 'NOT met'}")
    print("no point lost" if not lost else "POINTS LOST")
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
