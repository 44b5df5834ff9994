"""Compute benchmark: how live a run on Ray is, next to a local run and to Ray alone.

Starts the tests' two-node Ray cluster on this machine (1 CPU each) and prints, measured side
by side in one run:

* submit -> Running seen by a reader (median, p95): a local run, a Ray run through runwidget,
  and the same script through ``JobSubmissionClient.submit_job`` directly (RUNNING seen
  through ``get_job_status``); the difference is what runwidget adds to Ray's own latency;
* print in the job -> the line in the store, seen by a reader (median, p95);
* a burst of runs on a target whose runs hold 1 CPU each: all complete, and the ones Ray
  holds read Queued meanwhile.

Not a test: the machines are shared and noisy; compare the figures of one run.

    python bench/bench_compute.py [--repeat 5] [--burst 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from runwidget import (  # noqa: E402
    ComputeTarget,
    Experiment,
    RayCompute,
    ScriptRunConfig,
    Workspace,
)
from runwidget import status as st  # noqa: E402
from tests.ray_cluster import running_ray_cluster  # noqa: E402

SCRIPT = textwrap.dedent(
    """
    import time
    for i in range(10):
        print(f"t={time.time():.6f}", flush=True)
        time.sleep(0.3)
    """
)
POLL = 0.01


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def _fmt(values: list[float]) -> str:
    return f"median {statistics.median(values):6.3f} s   p95 {_pct(values, 0.95):6.3f} s"


def _until_running(run, deadline: float = 120.0) -> float:
    start = time.monotonic()
    reader = run._store
    while time.monotonic() - start < deadline:
        if reader.get_run(run.id).status in (st.RUNNING, *st.TERMINAL):
            return time.monotonic()
        time.sleep(POLL)
    raise TimeoutError(run.id)


def _line_delays(run) -> list[float]:
    """For each printed line: when a reader saw it in the store minus when it was printed."""
    delays, cursor, seen = [], 0, 0
    store = run._store
    while True:
        lines = store.read_logs(run.id, since=cursor)
        now = time.time()
        for line in lines:
            cursor = line.seq
            if line.text.startswith("t="):
                delays.append(now - float(line.text[2:]))
                seen += 1
        if seen >= 10 or store.get_run(run.id).status in st.TERMINAL and not lines:
            return delays
        time.sleep(POLL)


def submit_latency(exp, source: Path, target: str, repeat: int) -> tuple[list[float], list[float]]:
    # One untimed run first: importing Ray's client and the first upload happen once per
    # process, as the client created once does for the direct measurement.
    exp.submit(ScriptRunConfig(source, "job.py", compute_target=target)).wait_for_completion()
    to_running, delays = [], []
    for _ in range(repeat):
        started = time.monotonic()
        run = exp.submit(ScriptRunConfig(source, "job.py", compute_target=target))
        to_running.append(_until_running(run) - started)
        delays += _line_delays(run)
        run.wait_for_completion()
    return to_running, delays


def raw_ray_latency(address: str, source: Path, repeat: int) -> list[float]:
    from ray.job_submission import JobStatus, JobSubmissionClient

    client = JobSubmissionClient(address)
    out = []
    warm = client.submit_job(entrypoint="python job.py", runtime_env={"working_dir": str(source)})
    while client.get_job_status(warm) not in (JobStatus.SUCCEEDED, JobStatus.FAILED):
        time.sleep(0.1)
    for _ in range(repeat):
        started = time.monotonic()
        job = client.submit_job(
            entrypoint="python job.py", runtime_env={"working_dir": str(source)}
        )
        while client.get_job_status(job) == JobStatus.PENDING:
            time.sleep(POLL)
        out.append(time.monotonic() - started)
        while client.get_job_status(job) not in (
            JobStatus.SUCCEEDED,
            JobStatus.FAILED,
            JobStatus.STOPPED,
        ):
            time.sleep(0.1)
    return out


def burst(ws: Workspace, address: str, source: Path, count: int) -> None:
    ComputeTarget.attach(
        ws, "ray-1cpu", RayCompute.attach_configuration(address=address, entrypoint_num_cpus=1)
    )
    exp = Experiment(ws, "burst")
    started = time.monotonic()
    runs = [
        exp.submit(ScriptRunConfig(source, "job.py", compute_target="ray-1cpu"))
        for _ in range(count)
    ]
    most_queued = 0
    while True:
        statuses = [r.get_status() for r in runs]
        most_queued = max(most_queued, statuses.count(st.QUEUED))
        running = statuses.count(st.RUNNING) + statuses.count(st.STARTING)
        if all(s in st.TERMINAL for s in statuses):
            break
        assert running <= 2, statuses
        time.sleep(0.2)
    done = statuses.count(st.COMPLETED)
    print(
        f"burst: {count} runs on 2 CPUs, 1 CPU each: {done}/{count} Completed in "
        f"{time.monotonic() - started:.1f} s; at most {most_queued} read Queued at once, "
        "never more than 2 running"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--burst", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, running_ray_cluster() as cluster:
        source = Path(tmp) / "src"
        source.mkdir()
        (source / "job.py").write_text(SCRIPT)
        ws = Workspace(f"sqlite:///{tmp}/runs.db")
        ComputeTarget.attach(ws, "ray", RayCompute.attach_configuration(address=cluster.address))
        exp = Experiment(ws, "bench-compute")
        local_running, local_lines = submit_latency(exp, source, "local", args.repeat)
        ray_running, ray_lines = submit_latency(exp, source, "ray", args.repeat)
        raw_running = raw_ray_latency(cluster.address, source, args.repeat)
        print(f"submit -> Running ({args.repeat} each)")
        print(f"  local run                {_fmt(local_running)}")
        print(f"  Ray run via runwidget    {_fmt(ray_running)}")
        print(f"  Ray submit_job directly  {_fmt(raw_running)}")
        added = statistics.median(ray_running) - statistics.median(raw_running)
        print(f"  runwidget adds {added:+.3f} s (median) to Ray's own submit -> RUNNING")
        print("print -> line in the store, seen by a reader")
        print(f"  local run                {_fmt(local_lines)}")
        print(f"  Ray run                  {_fmt(ray_lines)}")
        burst(ws, cluster.address, source, args.burst)


if __name__ == "__main__":
    main()
