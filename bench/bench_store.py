"""Store benchmark: logging cost, poll cost, reads beside a busy thread and multi-process
write throughput.

Prints figures measured side by side in one run on this machine. Not a test: the
machines are shared and noisy, so compare the ratios, and run it twice if in doubt.

    python bench/bench_store.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

from runwidget.store import Batch, MetricKind, SqlStore

ROOT = Path(__file__).resolve().parent.parent


def run_python(code: str, *args: str) -> dict:
    """Run code in a fresh interpreter (no warm caches shared with this one); it prints JSON."""
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


LOG_COST = """
import json, sys, time
from runwidget import Experiment, Workspace
uri, n = sys.argv[1], int(sys.argv[2])
run = Experiment(Workspace(uri), "bench").start_logging()
run.log("warmup", 0.0); run.flush()
start = time.perf_counter()
for i in range(n):
    run.log("loss", i * 0.001)
logged = time.perf_counter()
run.flush()
done = time.perf_counter()
assert len(run._store.read_metrics(run.id, name="loss")) == n
print(json.dumps({"log_us": (logged - start) / n * 1e6, "total_us": (done - start) / n * 1e6}))
"""

MLFLOW_COST = """
import json, logging, sys, time, warnings
warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)
import mlflow
uri, n = sys.argv[1], int(sys.argv[2])
mlflow.set_tracking_uri(uri)
with mlflow.start_run():
    mlflow.log_metric("warmup", 0.0)
    start = time.perf_counter()
    for i in range(n):
        mlflow.log_metric("loss", i * 0.001, step=i)
    done = time.perf_counter()
print(json.dumps({"per_call_us": (done - start) / n * 1e6}))
"""

WANDB_COST = """
import json, os, sys, time
os.environ["WANDB_MODE"] = "offline"
os.environ["WANDB_SILENT"] = "true"
import wandb
n = int(sys.argv[2])
run = wandb.init(project="bench", dir=sys.argv[1])
start = time.perf_counter()
for i in range(n):
    wandb.log({"loss": i * 0.001})
run.finish()
done = time.perf_counter()
print(json.dumps({"per_call_us": (done - start) / n * 1e6}))
"""

WRITER = """
import json, sys, time
from runwidget import Experiment, Workspace
uri, n, start_at = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
run = Experiment(Workspace(uri), "writers").start_logging()
while time.time() < start_at:
    time.sleep(0.001)
begin = time.time()
for i in range(n):
    run.log("x", float(i), step=i)
run.complete()
print(json.dumps({"run": run.id, "begin": begin, "end": time.time()}))
"""


def bench_log_cost(tmp: Path, n: int, mlflow_calls: int) -> None:
    print(f"\n== run.log() cost per point, {n:,} points, including the final flush")
    ours = run_python(LOG_COST, f"sqlite:///{tmp}/log.db", str(n))
    print(
        f"runwidget (SQLite)      log() {ours['log_us']:6.2f} us   with flush "
        f"{ours['total_us']:6.2f} us/point   (target <= 10 us)"
    )
    try:
        theirs = run_python(MLFLOW_COST, f"sqlite:///{tmp}/mlflow.db", str(mlflow_calls))
        ratio = theirs["per_call_us"] / ours["total_us"]
        print(
            f"mlflow.log_metric (SQLite store)   {theirs['per_call_us']:9.1f} us/call "
            f"({mlflow_calls} calls)   runwidget is {ratio:,.0f}x cheaper (target >= 200x)"
        )
    except subprocess.CalledProcessError as e:
        print(f"mlflow: failed ({e.stderr.strip().splitlines()[-1:]})")
    try:
        import wandb  # noqa: F401
    except ImportError:
        print("wandb.log (offline): wandb not installed, skipped")
    else:
        theirs = run_python(WANDB_COST, str(tmp), str(min(n, 20000)))
        ratio = theirs["per_call_us"] / ours["total_us"]
        print(
            f"wandb.log (offline)     {theirs['per_call_us']:9.1f} us/call   "
            f"runwidget is {ratio:,.1f}x cheaper"
        )


def _fill(store: SqlStore, run_id: str, n: int) -> None:
    chunk = 50_000
    for first in range(0, n, chunk):
        rows = [
            ("loss", MetricKind.SCALAR, float(i), i * 0.5, 0.0)
            for i in range(first, min(n, first + chunk))
        ]
        store.write({run_id: Batch(metrics=rows)})


def _interleaved_medians_ms(fns: dict, repeat: int) -> dict:
    """Median time of each function, called in turn so that load changes hit all alike."""
    times: dict = {key: [] for key in fns}
    for _ in range(repeat):
        for key, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - start)
    return {key: statistics.median(values) * 1e3 for key, values in times.items()}


def bench_poll(tmp: Path, big: int) -> None:
    print(f"\n== poll cost: 100 new points, with 1k versus {big:,} points stored")
    calls = {}
    stores = []
    for label, n in (("small", 1_000), ("big", big)):
        store = SqlStore(f"sqlite:///{tmp}/poll_{label}.db")
        stores.append(store)
        run = store.create_run("poll")
        _fill(store, run.id, n)
        last = store.read_metrics(run.id, since=0, limit=1)[0].seq + n - 1
        assert len(store.read_metrics(run.id, since=last - 100)) == 100
        calls[f"{label} new"] = lambda s=store, r=run.id, c=last: s.read_metrics(r, since=c - 100)
        calls[f"{label} empty"] = lambda s=store, r=run.id, c=last: s.read_metrics(r, since=c)
        # What a RunDetails poll reads of its own run's metrics: the same points, as columns.
        calls[f"{label} columns"] = lambda s=store, r=run.id, c=last: s.read_metric_columns(
            r, since=c - 100
        )
    ms = _interleaved_medians_ms(calls, 500)
    for store in stores:
        store.close()
    ratio = ms["big new"] / ms["small new"]
    print(
        f"100 new points:  1k stored {ms['small new']:.3f} ms   {big:,} stored "
        f"{ms['big new']:.3f} ms   ratio {ratio:.2f}   (target <= 2 ms, ratio <= 1.5)"
    )
    print(
        f"  as columns:    1k stored {ms['small columns']:.3f} ms   {big:,} stored "
        f"{ms['big columns']:.3f} ms"
    )
    print(
        f"nothing new:     1k stored {ms['small empty']:.3f} ms   {big:,} stored "
        f"{ms['big empty']:.3f} ms   (target <= 0.2 ms)"
    )


def bench_read_while_busy(tmp: Path, big: int) -> None:
    """What a widget's reads cost while the kernel runs a pure-Python loop in another thread
    (the driver of SQLite lets go of the GIL at every row it steps to)."""
    print(f"\n== a widget's reads of {big:,} points over 5 metrics, idle and beside a busy thread")
    store = SqlStore(f"sqlite:///{tmp}/busy.db")
    run = store.create_run("busy")
    names = ["loss", "accuracy", "lr", "grad_norm", "val_loss"]
    for first in range(0, big // 5, 10_000):
        rows = [(n, MetricKind.SCALAR, float(i), math.sin(i / 500), 0.0)
                for i in range(first, min(big // 5, first + 10_000)) for n in names]  # fmt: skip
        store.write({run.id: Batch(metrics=rows)})
    _, top = store.read_metric_columns(run.id)
    reads = {
        "first read (block summaries)": lambda: store.read_metric_columns(run.id, blocks_from=251),
        "10,000 new points": lambda: store.read_metric_columns(run.id, since=top - 10_000),
        # The whole history, as the columns a chart takes and as point objects.
        "every point, as columns": lambda: store.read_metric_columns(run.id),
        "every point, as points": lambda: store.read_metrics(run.id),
    }
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            pass

    for label, read in reads.items():
        idle = _interleaved_medians_ms({label: read}, 3)[label]
        stop.clear()
        thread = threading.Thread(target=spin)
        thread.start()
        busy = _interleaved_medians_ms({label: read}, 3)[label]
        stop.set()
        thread.join()
        print(f"{label:30s} idle {idle:8.1f} ms   beside a busy thread {busy:8.1f} ms")
    store.close()


def bench_writers(tmp: Path, writers: int, per_writer: int) -> None:
    print(f"\n== {writers} writer processes into one SQLite file, {per_writer:,} points each")
    uri = f"sqlite:///{tmp}/writers.db"
    SqlStore(uri).close()
    start_at = time.time() + 3.0  # let every interpreter finish importing first
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(WRITER), uri, str(per_writer), str(start_at)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for _ in range(writers)
    ]
    reports = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    wall = max(r["end"] for r in reports) - min(r["begin"] for r in reports)
    store = SqlStore(uri)
    lost = 0
    for r in reports:
        steps = [p.step for p in store.read_metrics(r["run"])]
        lost += per_writer - len(steps)
        assert steps == sorted(steps), "points out of order"
    total = writers * per_writer
    print(
        f"{total:,} points in {wall:.2f} s: {total / wall:,.0f} points/s in total, "
        f"{lost} lost   (target >= 150,000 points/s, 0 lost)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if args.quick:
            bench_log_cost(tmp, 20_000, 50)
            bench_poll(tmp, 100_000)
            bench_read_while_busy(tmp, 100_000)
            bench_writers(tmp, 2, 10_000)
        else:
            bench_log_cost(tmp, 500_000, 300)
            bench_poll(tmp, 1_000_000)
            bench_read_while_busy(tmp, 1_000_000)
            bench_writers(tmp, 8, 100_000)


if __name__ == "__main__":
    main()
