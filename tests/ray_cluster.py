"""A real two-node Ray cluster on this machine for the compute tests.

The head has 1 CPU and the dashboard (Jobs API) on 127.0.0.1; a second node joins with 1 CPU
and the custom resource ``node2``, so that a target can pin its runs there. Started with the
``ray`` of the test environment, in a temp dir of its own, stopped at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

NODE2_RESOURCE = "node2"


@dataclass(frozen=True)
class RayCluster:
    address: str  # the dashboard, for the Jobs API
    gcs: str
    temp_dir: Path

    def node_ids(self) -> dict[str, str]:
        """Node id -> "head" or "node2"."""
        from ray.util.state import list_nodes

        nodes = list_nodes(address=self.address, detail=True)
        return {
            n.node_id: NODE2_RESOURCE if NODE2_RESOURCE in (n.resources_total or {}) else "head"
            for n in nodes
            if n.state == "ALIVE"
        }

    def kill(self) -> None:
        """Kill every process of the cluster at once (SIGKILL), as a lost machine would."""
        _stop_cluster(self.gcs, self.temp_dir, grace=0)

    def job_status(self, job_id: str) -> str:
        from ray.job_submission import JobSubmissionClient

        return str(JobSubmissionClient(self.address).get_job_status(job_id).value)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _node_ports() -> list[str]:
    """Free ports for a node's agents: Ray's fixed defaults would clash between the two nodes
    of this cluster, and with any other cluster on the machine."""
    flags = ("--dashboard-agent-listen-port", "--dashboard-agent-grpc-port",
             "--runtime-env-agent-port", "--metrics-export-port")  # fmt: skip
    return [part for flag in flags for part in (flag, str(_free_port()))]


def _ray_env() -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)
    env = dict(os.environ)
    # The jobs' entrypoint runs `python`: the test environment's, with runwidget in it.
    env["PATH"] = os.pathsep.join([bin_dir, env.get("PATH", "")])
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    # How long `ray start` waits for its node to register (a busy machine is slow).
    env.setdefault("RAY_raylet_start_wait_time_s", "120")
    env.pop("RUNWIDGET_STORE", None)
    return env


def _ray(*args: str, env: dict[str, str]) -> None:
    ray = str(Path(sys.executable).with_name("ray"))
    done = subprocess.run([ray, *args], env=env, capture_output=True, text=True, timeout=240)
    if done.returncode != 0:
        raise RuntimeError(
            f"ray {' '.join(args)} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
        )


@contextlib.contextmanager
def running_ray_cluster() -> Iterator[RayCluster]:
    env = _ray_env()
    # A node that registers too slowly on a busy machine fails its start: try once more.
    for attempt in (1, 2):
        temp_dir = Path(tempfile.mkdtemp(prefix="rwray-", dir="/tmp"))
        port, dashboard = _free_port(), _free_port()
        gcs = f"127.0.0.1:{port}"
        try:
            cluster = _start_cluster(temp_dir, port, dashboard, env)
            break
        except RuntimeError as error:
            _stop_cluster(gcs, temp_dir)
            shutil.rmtree(temp_dir, ignore_errors=True)
            if attempt == 2:
                pytest.fail(str(error))
    try:
        yield cluster
    finally:
        _stop_cluster(cluster.gcs, cluster.temp_dir)
        shutil.rmtree(cluster.temp_dir, ignore_errors=True)


def _start_cluster(temp_dir: Path, port: int, dashboard: int, env: dict[str, str]) -> RayCluster:
    gcs = f"127.0.0.1:{port}"
    _ray("start", "--head", "--num-cpus", "1", "--port", str(port),
         "--dashboard-host", "127.0.0.1", "--dashboard-port", str(dashboard),
         "--include-dashboard", "true", "--temp-dir", str(temp_dir),
         "--ray-client-server-port", str(_free_port()), *_node_ports(),
         "--disable-usage-stats", env=env)  # fmt: skip
    _ray("start", "--address", gcs, "--num-cpus", "1",
         "--resources", json.dumps({NODE2_RESOURCE: 1}), *_node_ports(),
         "--disable-usage-stats", env=env)  # fmt: skip
    address = f"http://127.0.0.1:{dashboard}"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"{address}/api/version", timeout=2):
                break
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Ray dashboard at {address} did not answer") from None
            time.sleep(0.5)
    cluster = RayCluster(address, gcs, temp_dir)
    # Both nodes up, so that a test may pin a run to the second one at once.
    while len(cluster.node_ids()) < 2:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the Ray cluster at {address} has {cluster.node_ids()} nodes")
        time.sleep(0.5)
    return cluster


def _stop_cluster(gcs: str, temp_dir: Path, grace: float = 10) -> None:
    """Stop this cluster's processes only (``ray stop`` would stop every Ray on the machine):
    those whose command line names its GCS address or its temp dir."""
    import psutil

    marks = (gcs, str(temp_dir))
    ours = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or ())
        if process.pid != os.getpid() and any(mark in cmdline for mark in marks):
            ours.append(process)
    # Their children too: agents rename themselves (ray::DashboardAgent) and name neither.
    for process in list(ours):
        with contextlib.suppress(psutil.Error):
            ours += [p for p in process.children(recursive=True) if p not in ours]
    for process in ours:
        with contextlib.suppress(psutil.Error):
            if grace:
                process.terminate()
            else:
                process.kill()
    _, alive = psutil.wait_procs(ours, timeout=grace or 5)
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(alive, timeout=5)
