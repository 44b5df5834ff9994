"""System-metric sampling's cost to a training loop: run.log throughput with and without.

Interactive runs log ``run.log`` calls in this process for a fixed time each, one with
``start_logging(system_metrics=...)`` sampling every ``--interval`` seconds (1 s by default:
ten times the default rate, so that the cost is easier to see), one without; rounds alternate
which goes first. Printed: each one's median throughput, the median of the rounds' ratios
(target: sampling at most 1% slower), and what one sample costs the process (the same cost
measured directly, so that it can be told from the machine's noise).

    python bench/bench_system_metrics.py [--rounds 6] [--seconds 4] [--interval 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from runwidget import Experiment, Workspace
from runwidget.tracking.system_metrics import SystemSampler


def one(experiment: Experiment, seconds: float, interval: float | None) -> tuple[float, float, int]:
    """Points per second of run.log over ``seconds`` (wall clock, and this process's CPU
    time, which other processes of a busy machine disturb less), and the samples taken."""
    run = experiment.start_logging(outputs=False, system_metrics=interval or False)
    points = 0
    started, cpu0 = time.perf_counter(), time.process_time()
    end = started + seconds
    while True:
        for _ in range(1000):
            run.log("loss", 0.5)
        points += 1000
        now = time.perf_counter()
        if now >= end:
            break
    cpu = time.process_time() - cpu0
    rate = points / (now - started)
    samples = run._system_metrics.samples if run._system_metrics is not None else 0
    run.complete()
    return rate, points / cpu, samples


def sample_cost(n: int = 50) -> float:
    """Seconds of this process that one sample takes (thread CPU time)."""
    sampler = SystemSampler(os.getpid())
    started = time.thread_time()
    for _ in range(n):
        sampler.rows(0.0)
    took = (time.thread_time() - started) / n
    sampler.close()
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="rw-bench-sys-"))
    experiment = Experiment(Workspace(f"sqlite:///{folder / 'runs.db'}"), "bench")
    one(experiment, 1.0, None)  # warm up: the store, the writer thread
    plain, sampled, ratios, cpu_ratios, samples = [], [], [], [], 0
    for i in range(args.rounds):
        order = [None, args.interval] if i % 2 == 0 else [args.interval, None]
        got = {}
        for interval in order:
            got[interval] = one(experiment, args.seconds, interval)
        plain.append(got[None][0])
        sampled.append(got[args.interval][0])
        samples += got[args.interval][2]
        ratios.append(got[args.interval][0] / got[None][0])
        cpu_ratios.append(got[args.interval][1] / got[None][1])
    a, b = statistics.median(plain), statistics.median(sampled)
    ratio = statistics.median(ratios)
    cost = sample_cost()
    print(f"run.log for {args.seconds:g} s per run, {args.rounds} rounds (medians)")
    print(f"  without system metrics:  {a:12,.0f} points/s")
    print(f"  sampling every {args.interval:g} s:    {b:12,.0f} points/s  ({samples} samples)")
    print(
        f"  ratio sampled / plain:   {ratio:.4f}  ({(1 - ratio) * 100:+.2f}% slower; target <= 1%)"
    )
    print(
        f"  the rounds' ratios ranged {min(ratios):.3f} .. {max(ratios):.3f} (the machine's noise)"
    )
    cpu_ratio = statistics.median(cpu_ratios)
    print(
        f"  per CPU second of this process (writer thread and sampler included): ratio "
        f"{cpu_ratio:.4f} ({(1 - cpu_ratio) * 100:+.2f}% slower), rounds "
        f"{min(cpu_ratios):.3f} .. {max(cpu_ratios):.3f}"
    )
    print(
        f"  one sample costs {cost * 1000:.2f} ms of CPU: {cost / args.interval * 100:.3f}% of the "
        f"loop at {args.interval:g} s, {cost / 10 * 100:.3f}% at the default 10 s"
    )


if __name__ == "__main__":
    main()
