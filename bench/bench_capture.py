"""Output capture benchmark: what capturing a submitted script's output costs per line, and
how soon a printed line can be read from the store.

Prints figures measured side by side in one run on this machine. Not a test: the machines
are shared and noisy, so compare the figures, and run it twice if in doubt.

    python bench/bench_capture.py [--quick]

* Cost per line: the same script prints N lines, uncaptured (stdout to /dev/null) and
  submitted (each line read by the supervisor and written to the store). The cost per line
  is the slope between two sizes of N, so interpreter start-up and the supervisor's fixed
  work cancel out. Wall time is submit → Completed with every line readable; CPU time is
  the script's plus the supervisor's (the supervisor runs as a direct child here, so its
  CPU time can be counted).
* Latency: a script prints a time-stamped line every 20 ms; a poller reads the store every
  5 ms; latency is the time from the print to the first read that returns the line.
* wandb: the same script under ``wandb.init(mode="offline")`` (console capture on), if
  wandb is installed.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

PRINT_LINES = """
import sys
n = int(sys.argv[1])
for i in range(n):
    print(f"line {i}: a typical line of training output, loss=0.12345")
"""

WANDB_LINES = """
import sys, wandb
n = int(sys.argv[1])
wandb.init(mode="offline", project="bench-capture", settings=wandb.Settings(console="wrap"))
for i in range(n):
    print(f"line {i}: a typical line of training output, loss=0.12345")
wandb.finish()
"""

TIMED_LINES = """
import sys, time
n, every = int(sys.argv[1]), float(sys.argv[2])
for i in range(n):
    print(f"{time.time():.6f} line {i}")
    time.sleep(every)
"""


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def uncaptured(script: Path, n: int) -> tuple[float, float]:
    """Wall and CPU seconds of ``python script n`` with stdout to /dev/null."""
    cpu = children_cpu()
    start = time.perf_counter()
    subprocess.run([sys.executable, str(script), str(n)], stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start, children_cpu() - cpu


def submitted_wall(experiment, folder: Path, name: str, n: int) -> float:
    """Wall seconds from submit to Completed with all n lines readable (detached supervisor)."""
    from runwidget import ScriptRunConfig

    config = ScriptRunConfig(folder, name, arguments=[n])
    start = time.perf_counter()
    run = experiment.submit(config)
    while run.get_status() not in ("Completed", "Failed", "Canceled"):
        time.sleep(0.01)
    elapsed = time.perf_counter() - start
    check_lines(run, n)
    return elapsed


def submitted_cpu(experiment, folder: Path, name: str, n: int) -> float:
    """CPU seconds of the supervisor and its script, run as a direct child of this process."""
    from runwidget import ScriptRunConfig

    prepared = ScriptRunConfig(folder, name, arguments=[n])._prepare(experiment, None)
    cpu = children_cpu()
    subprocess.run(prepared.command, env=prepared.env, cwd=prepared.cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    used = children_cpu() - cpu
    check_lines(prepared.run, n)
    return used


def check_lines(run, n: int) -> None:
    status = run.get_status()
    if status != "Completed":
        raise SystemExit(f"benchmark run {run.id} ended {status}: {run.get_details().get('error')}")
    count, cursor = 0, 0
    while True:
        lines = run._store.read_logs(run.id, since=cursor, limit=50_000)
        if not lines:
            break
        count += len(lines)
        cursor = lines[-1].seq
    if count != n:
        raise SystemExit(f"benchmark run {run.id}: {count} lines stored, {n} printed")


def slope(small: float, large: float, n_small: int, n_large: int) -> float:
    """Microseconds per line between two sizes."""
    return (large - small) / (n_large - n_small) * 1e6


def measure_latency(experiment, folder: Path, lines: int, every: float) -> list[float]:
    from runwidget import ScriptRunConfig

    run = experiment.submit(ScriptRunConfig(folder, "timed.py", arguments=[lines, every]))
    store = run._store
    latencies: list[float] = []
    cursor = 0
    while len(latencies) < lines:
        for line in store.read_logs(run.id, since=cursor):
            cursor = line.seq
            latencies.append(time.time() - float(line.text.split()[0]))
        if run._store.get_run(run.id).status in ("Failed", "Canceled"):
            raise SystemExit(f"latency run failed: {run.get_details().get('error')}")
        time.sleep(0.005)
    return latencies


def wandb_cost(folder: Path, sizes: tuple[int, int], repeats: int) -> None:
    try:
        import wandb  # noqa: F401
    except ImportError:
        print("wandb offline console capture: wandb not installed, skipped")
        return
    walls: dict[int, list[float]] = {n: [] for n in sizes}
    for _ in range(repeats):
        for n in sizes:
            start = time.perf_counter()
            subprocess.run([sys.executable, str(folder / "wandb_lines.py"), str(n)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
                           cwd=folder, env={**os.environ, "WANDB_SILENT": "true"})  # fmt: skip
            walls[n].append(time.perf_counter() - start)
    small, large = sizes
    per_line = slope(statistics.median(walls[small]), statistics.median(walls[large]), *sizes)
    print(f"wandb offline console capture: {per_line:6.2f} µs per line (wall, incl. printing)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, one repeat")
    args = parser.parse_args()
    sizes = (5_000, 55_000) if args.quick else (10_000, 210_000)
    repeats = 1 if args.quick else 3

    with tempfile.TemporaryDirectory(prefix="bench-capture-") as tmp:
        root = Path(tmp)
        folder = root / "scripts"
        folder.mkdir()
        (folder / "lines.py").write_text(textwrap.dedent(PRINT_LINES))
        (folder / "timed.py").write_text(textwrap.dedent(TIMED_LINES))
        (folder / "wandb_lines.py").write_text(textwrap.dedent(WANDB_LINES))
        os.environ["RUNWIDGET_STORE"] = f"sqlite:///{root}/runs.db"
        os.environ["RUNWIDGET_EXEC_DIR"] = str(root / "exec")
        os.environ["RUNWIDGET_MAX_LOCAL_RUNS"] = "1"
        from runwidget import Experiment

        experiment = Experiment(name="bench-capture")

        wall: dict[str, dict[int, list[float]]] = {"plain": {}, "captured": {}}
        cpu: dict[str, dict[int, list[float]]] = {"plain": {}, "captured": {}}
        for n in sizes:
            for table in (wall, cpu):
                table["plain"][n], table["captured"][n] = [], []
        for _ in range(repeats):
            for n in sizes:
                plain_wall, plain_cpu = uncaptured(folder / "lines.py", n)
                wall["plain"][n].append(plain_wall)
                cpu["plain"][n].append(plain_cpu)
                wall["captured"][n].append(submitted_wall(experiment, folder, "lines.py", n))
                cpu["captured"][n].append(submitted_cpu(experiment, folder, "lines.py", n))

        def per_line(table: dict[int, list[float]]) -> float:
            small, large = sizes
            return slope(statistics.median(table[small]), statistics.median(table[large]), *sizes)

        print(f"Output capture, {sizes[1] - sizes[0]:,} lines between {sizes[0]:,} and "
              f"{sizes[1]:,} (median of {repeats}), {os.cpu_count()} cores")  # fmt: skip
        print(f"{'':34}{'wall µs/line':>14}{'CPU µs/line':>14}")
        for label, key in (("uncaptured (stdout to /dev/null)", "plain"),
                           ("submitted, captured to the store", "captured")):  # fmt: skip
            print(f"{label:34}{per_line(wall[key]):14.2f}{per_line(cpu[key]):14.2f}")
        added_wall = per_line(wall["captured"]) - per_line(wall["plain"])
        added_cpu = per_line(cpu["captured"]) - per_line(cpu["plain"])
        print(f"{'added by capture':34}{added_wall:14.2f}{added_cpu:14.2f}   (target <= 20)")
        fixed = statistics.median(wall["captured"][sizes[0]]) - statistics.median(
            wall["plain"][sizes[0]]
        )
        print(f"fixed cost of a submitted run (supervisor start, snapshot, status changes): "
              f"{fixed:.2f} s")  # fmt: skip
        wandb_cost(folder, sizes, repeats)

        lines = 50 if args.quick else 200
        latencies = sorted(measure_latency(experiment, folder, lines, 0.02))
        p95 = latencies[int(0.95 * (len(latencies) - 1))]
        print(f"print → readable in the store, {lines} lines: median "
              f"{statistics.median(latencies) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
              f"max {latencies[-1] * 1000:.0f} ms   (target <= 1500 ms)")  # fmt: skip


if __name__ == "__main__":
    main()
