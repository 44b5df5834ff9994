"""Sweep benchmark: what the sweep's driver costs per child next to a plain loop of
``experiment.submit``, and what RunDetails of a 100-child sweep costs to poll.

Prints figures measured side by side in one run on this machine. Not a test: the machines
are shared and noisy, so compare the ratios, and run it twice if in doubt.

    python bench/bench_hyperdrive.py [--children N] [--concurrent 4]

1. A local sweep of N children (default 100) of a script that logs 50 points of ``mse``
   and ends in about 0.2 s, 4 at a time, no early termination; then the same N children
   (the same script and arguments) submitted by a plain loop of ``experiment.submit`` that
   keeps at most 4 in flight (it checks their statuses every 50 ms; the driver's own poll is
   every 0.5 s). For each: the wall time, the children's own durations (started to ended,
   as the store records them, Python's start-up included; and the span of their 50 logged
   points, the script's own work), and the overhead per child: (wall - own / concurrency) / N,
   the wall time a child costs beyond its share of running.
2. RunDetails of a sweep with 100 ended children (written straight into the store, 50
   points each, two hyperparameters): the view model's first load, an idle poll, a poll
   that finds one new point of a running child, and one that finds a new child ended
   (milliseconds and bytes).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SCRIPT = """
import argparse, time
from runwidget import Run

parser = argparse.ArgumentParser()
parser.add_argument("--alpha", type=float, default=0.5)
args = parser.parse_args()
run = Run.get_context()
for step in range(50):
    run.log("mse", args.alpha * (50 - step) / 50)
    time.sleep(0.004)
"""
TERMINAL = ("Completed", "Failed", "Canceled")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:9.1f} ms"


def median_of(fn: Callable[[], float], repeat: int) -> float:
    return statistics.median(fn() for _ in range(repeat))


def own_seconds(records: list[Any]) -> float:
    return sum(r.ended - r.started for r in records if r.started and r.ended)


def logging_seconds(store: Any, records: list[Any]) -> float:
    """The scripts' own work: first to last logged point, summed over the children."""
    total = 0.0
    for record in records:
        times = [p.time for p in store.read_metrics(record.id, name="mse")]
        total += max(times) - min(times) if times else 0.0
    return total


# -- 1. the driver against a plain loop ---------------------------------------------------
def run_sweep(source: Path, n: int, concurrent: int) -> dict[str, Any]:
    from runwidget import Experiment, HyperDriveConfig, PrimaryMetricGoal, ScriptRunConfig
    from runwidget.hyperdrive import RandomParameterSampling, uniform

    config = HyperDriveConfig(
        run_config=ScriptRunConfig(source, "train.py"),
        hyperparameter_sampling=RandomParameterSampling({"--alpha": uniform(0, 1)}, seed=0),
        primary_metric_name="mse",
        primary_metric_goal=PrimaryMetricGoal.MINIMIZE,
        max_total_runs=n,
        max_concurrent_runs=concurrent,
    )
    start = time.perf_counter()
    sweep = Experiment(name="bench-sweep").submit(config)
    while sweep.get_status() not in TERMINAL:
        time.sleep(0.05)
    wall = time.perf_counter() - start
    records = sweep._store.get_children(sweep.id)
    assert len(records) == n, f"{len(records)} children of {n}"
    assert {r.status for r in records} == {"Completed"}, {r.status for r in records}
    args = [r.arguments for r in sorted(records, key=lambda r: r.number)]
    return {"wall": wall, "own": own_seconds(records), "status": sweep.get_status(),
            "arguments": args, "logging": logging_seconds(sweep._store, records)}  # fmt: skip


def run_loop(source: Path, arguments: list[list[Any]], concurrent: int) -> dict[str, Any]:
    from runwidget import Experiment, ScriptRunConfig

    experiment = Experiment(name="bench-loop")
    pending = list(arguments)
    running: list[Any] = []
    done: list[Any] = []
    start = time.perf_counter()
    while pending or running:
        while pending and len(running) < concurrent:
            running.append(experiment.submit(ScriptRunConfig(source, "train.py", pending.pop(0))))
        time.sleep(0.05)
        still = []
        for run in running:
            (done if run.get_status() in TERMINAL else still).append(run)
        running = still
    wall = time.perf_counter() - start
    records = [run._store.get_run(run.id) for run in done]
    assert {r.status for r in records} == {"Completed"}, {r.status for r in records}
    store = done[0]._store
    return {"wall": wall, "own": own_seconds(records), "logging": logging_seconds(store, records)}


# -- 2. RunDetails of a 100-child sweep ---------------------------------------------------
def make_sweep(uri: str, n: int) -> Any:
    """A sweep run with ``n`` ended children, written straight into the store."""
    from runwidget import Experiment, Workspace
    from runwidget.store import Batch, MetricKind, RunType

    experiment = Experiment(Workspace(uri), "bench-view")
    parent = experiment.start_logging(run_type=RunType.SWEEP)
    parent.add_properties({"primary_metric": "mse", "goal": "minimize",
                           "sampling": "RandomParameterSampling", "max_total_runs": n + 2,
                           "max_concurrent_runs": 4})  # fmt: skip
    store = parent._store
    now = time.time() - 3600
    batches: dict[str, Any] = {}
    for i in range(n):
        alpha, depth = ((i * 7919) % 1000) / 1000, (2, 4, 8)[i % 3]
        record = store.create_run(
            experiment.name, parent_id=parent.id, display_name=f"{parent.id}_{i}",
            run_type=RunType.SCRIPT, status="Running", started=now + i,
            properties={"iteration": i, "alpha": alpha, "depth": depth},
            arguments=["--alpha", alpha, "--depth", depth],
        )  # fmt: skip
        batch = batches.setdefault(record.id, Batch())
        batch.metrics += [
            ("mse", MetricKind.SCALAR, None, alpha * (50 - s) / 50 + depth / 10, now + i + s / 250)
            for s in range(50)
        ]
    store.write(batches)
    for record in store.get_children(parent.id):
        store.update_run(record.id, status="Completed", ended=record.started + 0.2)
    return parent, experiment


def view_figures(parent: Any, experiment: Any, n: int) -> dict[str, Any]:
    from runwidget.sources import StoreSource
    from runwidget.store import Batch, MetricKind, RunType
    from runwidget.view import RunView

    store = parent._store
    out: dict[str, Any] = {}
    t = time.perf_counter()
    view = RunView(StoreSource(store, parent.id))
    first = view.refresh()
    out["first load"] = time.perf_counter() - t
    out["first load bytes"] = len(json.dumps(first, default=str))
    out["snapshot bytes"] = len(json.dumps(view.snapshot(), default=str))

    def idle() -> float:
        t = time.perf_counter()
        assert view.refresh() is None
        return time.perf_counter() - t

    out["idle poll"] = median_of(idle, 20)
    # A child starts, then logs a point while it runs.
    child = store.create_run(
        experiment.name, parent_id=parent.id, display_name=f"{parent.id}_{n}",
        run_type=RunType.SCRIPT, status="Running", started=time.time(),
        properties={"iteration": n, "alpha": 0.01, "depth": 2}, arguments=["--alpha", 0.01],
    )  # fmt: skip
    view.refresh()
    store.write({child.id: Batch(metrics=[("mse", MetricKind.SCALAR, None, 0.5, time.time())])})
    t = time.perf_counter()
    delta = view.refresh()
    out["poll, one new point of a running child"] = time.perf_counter() - t
    out["delta bytes, one new point"] = len(json.dumps(delta, default=str))
    store.write({child.id: Batch(metrics=[("mse", MetricKind.SCALAR, None, 0.2, time.time())])})
    store.update_run(child.id, status="Completed", ended=time.time())
    t = time.perf_counter()
    delta = view.refresh()
    out["poll, that child ended (best so far changes)"] = time.perf_counter() - t
    out["delta bytes, child ended"] = len(json.dumps(delta, default=str))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--children", type=int, default=100, help="children of the sweep")
    parser.add_argument("--concurrent", type=int, default=4, help="children at a time")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    n, k = args.children, args.concurrent
    tmp = Path(tempfile.mkdtemp(prefix="runwidget-bench-hyperdrive-"))
    os.environ["RUNWIDGET_STORE"] = f"sqlite:///{tmp}/runs.db"
    os.environ["RUNWIDGET_EXEC_DIR"] = str(tmp / "exec")
    os.environ["RUNWIDGET_MAX_LOCAL_RUNS"] = str(k + 2)  # the driver takes a slot too
    source = tmp / "src"
    source.mkdir()
    (source / "train.py").write_text(textwrap.dedent(SCRIPT).lstrip())

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"Machine: {os.cpu_count()} cores, load average {load} (1, 5, 15 min)\n")
    print(f"1. {n} children of a 50-point, ~0.2 s script, {k} at a time (store in {tmp})\n")
    sweep = run_sweep(source, n, k)
    loop = run_loop(source, sweep["arguments"], k)
    print(f"  {'':<44} {'sweep driver':>13} {'plain loop':>13}")
    rows = [
        ("wall time", sweep["wall"], loop["wall"]),
        ("children's own time (sum)", sweep["own"], loop["own"]),
        ("own time per child", sweep["own"] / n, loop["own"] / n),
        ("    of which logging its 50 points", sweep["logging"] / n, loop["logging"] / n),
        ("wall per child", sweep["wall"] / n, loop["wall"] / n),
        (f"overhead per child, (wall - own/{k}) / N",
         (sweep["wall"] - sweep["own"] / k) / n, (loop["wall"] - loop["own"] / k) / n),
    ]  # fmt: skip
    for label, a, b in rows:
        print(f"  {label:<44} {ms(a):>13} {ms(b):>13}")
    over_s = (sweep["wall"] - sweep["own"] / k) / n
    over_l = (loop["wall"] - loop["own"] / k) / n
    print(f"\n  driver overhead / plain loop overhead: {over_s / over_l:.2f}")

    print("\n2. RunDetails of a sweep with 100 ended children (50 points each)\n")
    parent, experiment = make_sweep(f"sqlite:///{tmp}/view.db", 100)
    for label, value in view_figures(parent, experiment, 100).items():
        shown = f"{value / 1024:9.1f} KB" if "bytes" in label else ms(value)
        print(f"  {label:<50} {shown}")


if __name__ == "__main__":
    main()
