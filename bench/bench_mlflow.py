"""Poll cost of RunDetails on an MLflow run with 100k points per metric.

Side by side in one run: one poll of ``MlflowSource`` (100 new points arrived), one poll
that finds nothing new, and re-reading ``MlflowClient.get_metric_history`` (what a naive
poller does). MLflow's SQLite store, on this machine.

    python bench/bench_mlflow.py [--points 100000]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
import warnings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)

    import mlflow
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    from runwidget.sources.mlflow import MlflowSource

    with tempfile.TemporaryDirectory() as tmp:
        uri = f"sqlite:///{tmp}/mlflow.db"
        client = MlflowClient(uri)
        run_id = client.create_run("0").info.run_id
        now = int(time.time() * 1000)
        started = time.perf_counter()
        for first in range(0, args.points, 1000):
            batch = [Metric("loss", 1.0 / (i + 1), now, i) for i in range(first, first + 1000)]
            client.log_batch(run_id, metrics=batch)
        print(f"logged {args.points:,} points into MLflow in {time.perf_counter() - started:.1f} s")

        source = MlflowSource(run_id, uri)
        started = time.perf_counter()
        first_load = source.metrics(0)
        load_s = time.perf_counter() - started
        cursor = first_load[-1].seq
        print(f"first load (sampled by MLflow to {len(first_load)} points): {load_s * 1e3:.0f} ms")

        polls, empties, naive = [], [], []
        step = args.points
        for _ in range(5):
            new = [Metric("loss", 0.5, now, s) for s in range(step, step + 100)]
            client.log_batch(run_id, metrics=new)
            step += 100
            started = time.perf_counter()
            got = source.metrics(cursor)
            polls.append(time.perf_counter() - started)
            assert len(got) == 100
            cursor = got[-1].seq
            started = time.perf_counter()
            assert source.metrics(cursor) == []
            empties.append(time.perf_counter() - started)
            started = time.perf_counter()
            history = client.get_metric_history(run_id, "loss")
            naive.append(time.perf_counter() - started)
            assert len(history) == step
        poll_ms = statistics.median(polls) * 1e3
        naive_ms = statistics.median(naive) * 1e3
        print(
            f"poll with 100 new points: {poll_ms:.1f} ms   poll with nothing new: "
            f"{statistics.median(empties) * 1e3:.1f} ms"
        )
        print(f"get_metric_history each poll: {naive_ms:.0f} ms   ratio {naive_ms / poll_ms:.0f}x")
        mlflow.end_run()


if __name__ == "__main__":
    main()
