"""System metrics: a run's CPU, memory, disk, network and GPU use, sampled in a thread.

A submitted run's supervisor samples the script's process tree (the script and every process
it started) every ``$RUNWIDGET_SYSTEM_METRICS_INTERVAL`` seconds (10; 0 turns it off),
locally and inside a cluster's job alike: the script needs no code for it. An interactive
run samples the process that logs it when started with ``start_logging(system_metrics=True)``,
until the run ends.

Names follow MLflow's system metrics, so that its users recognise them (``system/`` then):

* the machine: ``cpu_utilization_percentage``, ``system_memory_usage_megabytes``,
  ``system_memory_usage_percentage``, ``disk_usage_percentage``, ``disk_usage_megabytes``,
  ``disk_available_megabytes``, ``network_receive_megabytes`` and
  ``network_transmit_megabytes`` (since sampling started);
* each NVIDIA GPU ``i``, when the NVIDIA management library's bindings (``nvidia-ml-py``,
  ``pip install runwidget[gpu]``) and a driver are there: ``gpu_i_utilization_percentage``,
  ``gpu_i_memory_usage_megabytes``, ``gpu_i_memory_usage_percentage``;
* the run's own process tree, which MLflow does not sample (runwidget's names, in the same
  style): ``process_cpu_utilization_percentage`` (100 = one core busy),
  ``process_memory_rss_megabytes``, ``process_disk_read_megabytes`` and
  ``process_disk_write_megabytes`` (since sampling started).

Megabytes are 10^6 bytes, as MLflow's. A metric the platform cannot give is left out. Each
point's step is the seconds since sampling started, so that views draw them against time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from runwidget.store import MetricKind

logger = logging.getLogger("runwidget")

PREFIX = "system/"
_MB = 1e6

# (name, kind, step, value, time) rows, as the writer takes them.
Rows = list[tuple[str, str, float | None, Any, float]]


def is_system_metric(name: str) -> bool:
    return name.startswith(PREFIX)


class _Gpus:
    """NVIDIA GPUs through ``pynvml`` (nvidia-ml-py); empty when it or a driver is missing."""

    def __init__(self) -> None:
        self.handles: list[Any] = []
        self._nvml: Any = None
        try:
            import pynvml
        except ImportError:
            logger.debug("runwidget: no nvidia-ml-py; system metrics without GPUs")
            return
        try:
            pynvml.nvmlInit()
            count = pynvml.nvmlDeviceGetCount()
            self.handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        except Exception as e:  # no driver, no device: NVMLError and its kin
            logger.debug("runwidget: NVIDIA management library unusable (%s); no GPUs", e)
            self.handles = []
            return
        self._nvml = pynvml

    def sample(self) -> dict[str, float]:
        out: dict[str, float] = {}
        nvml = self._nvml
        for i, handle in enumerate(self.handles):
            try:
                out[f"gpu_{i}_utilization_percentage"] = float(
                    nvml.nvmlDeviceGetUtilizationRates(handle).gpu
                )
            except Exception as e:
                logger.debug("runwidget: GPU %d utilisation unreadable: %s", i, e)
            try:
                memory = nvml.nvmlDeviceGetMemoryInfo(handle)
                out[f"gpu_{i}_memory_usage_megabytes"] = memory.used / _MB
                if memory.total:
                    out[f"gpu_{i}_memory_usage_percentage"] = 100.0 * memory.used / memory.total
            except Exception as e:
                logger.debug("runwidget: GPU %d memory unreadable: %s", i, e)
        return out

    def close(self) -> None:
        if self._nvml is not None:
            try:
                self._nvml.nvmlShutdown()
            except Exception as e:
                logger.debug("runwidget: nvmlShutdown failed: %s", e)
            self._nvml = None


class SystemSampler:
    """Takes one sample of the machine and of the process tree under ``root_pid``.

    Args:
        root_pid: the tree's root (a submitted script; this process for an interactive run).
            None: the machine only.
        disk_path: the file system whose usage is sampled.
        gpus: sample NVIDIA GPUs when the library is there.
    """

    def __init__(self, root_pid: int | None, *, disk_path: str = "/", gpus: bool = True) -> None:
        import psutil

        self._psutil = psutil
        self.root_pid = root_pid
        self.disk_path = disk_path
        self._procs: dict[int, Any] = {}
        # I/O of processes of the tree that ended, so that the totals never go down.
        self._gone_io = [0.0, 0.0]
        self._last_io: dict[int, tuple[float, float]] = {}
        self._net0 = self._net()
        self._gpus = _Gpus() if gpus else None
        psutil.cpu_percent(None)  # the first call only starts the machine's measure
        self.sample_tree()  # likewise for each process's CPU

    @property
    def gpu_count(self) -> int:
        return len(self._gpus.handles) if self._gpus is not None else 0

    def _net(self) -> tuple[float, float] | None:
        try:
            counters = self._psutil.net_io_counters()
        except (OSError, RuntimeError):
            return None
        if counters is None:
            return None
        return float(counters.bytes_recv), float(counters.bytes_sent)

    def sample(self) -> dict[str, float]:
        """Every metric that can be read now, by name without the ``system/`` prefix."""
        psutil = self._psutil
        out: dict[str, float] = {"cpu_utilization_percentage": float(psutil.cpu_percent(None))}
        memory = psutil.virtual_memory()
        out["system_memory_usage_megabytes"] = (memory.total - memory.available) / _MB
        out["system_memory_usage_percentage"] = float(memory.percent)
        try:
            disk = psutil.disk_usage(self.disk_path)
            out["disk_usage_percentage"] = float(disk.percent)
            out["disk_usage_megabytes"] = disk.used / _MB
            out["disk_available_megabytes"] = disk.free / _MB
        except OSError as e:
            logger.debug("runwidget: disk usage of %s unreadable: %s", self.disk_path, e)
        net = self._net()
        if net is not None and self._net0 is not None:
            out["network_receive_megabytes"] = max(0.0, net[0] - self._net0[0]) / _MB
            out["network_transmit_megabytes"] = max(0.0, net[1] - self._net0[1]) / _MB
        out.update(self.sample_tree())
        if self._gpus is not None:
            out.update(self._gpus.sample())
        return out

    def sample_tree(self) -> dict[str, float]:
        """The process tree's CPU (since the last call), resident memory and disk I/O."""
        if self.root_pid is None:
            return {}
        psutil = self._psutil
        try:
            root = self._procs.get(self.root_pid) or psutil.Process(self.root_pid)
            tree = [root, *root.children(recursive=True)]
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return {}
        cpu = rss = 0.0
        seen: dict[int, Any] = {}
        io: dict[int, tuple[float, float]] = {}
        for found in tree:
            proc = self._procs.get(found.pid)
            # A pid reused by another process is a new process (psutil compares start times).
            if proc is None or not proc.is_running():
                proc = found
            try:
                with proc.oneshot():
                    cpu += proc.cpu_percent(None)
                    rss += proc.memory_info().rss
                    counters = _io_counters(proc, psutil)
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
            seen[proc.pid] = proc
            if counters is not None:
                io[proc.pid] = (float(counters.read_bytes), float(counters.write_bytes))
        for pid, (read, write) in self._last_io.items():
            if pid not in io:
                self._gone_io[0] += read
                self._gone_io[1] += write
        self._procs, self._last_io = seen, io
        out = {"process_cpu_utilization_percentage": cpu, "process_memory_rss_megabytes": rss / _MB}
        if io or self._gone_io[0] or self._gone_io[1]:
            out["process_disk_read_megabytes"] = (
                self._gone_io[0] + sum(r for r, _ in io.values())
            ) / _MB
            out["process_disk_write_megabytes"] = (
                self._gone_io[1] + sum(w for _, w in io.values())
            ) / _MB
        return out

    def rows(self, origin: float, now: float | None = None) -> Rows:
        """A sample as metric rows for the writer, the step being the seconds since
        ``origin``."""
        at = time.time() if now is None else now
        step = round(at - origin, 3)
        return [
            (PREFIX + name, MetricKind.SCALAR, step, value, at)
            for name, value in self.sample().items()
        ]

    def close(self) -> None:
        if self._gpus is not None:
            self._gpus.close()


def _io_counters(proc: Any, psutil: Any) -> Any:
    """A process's disk I/O counters, or None where the platform keeps them to itself
    (macOS has none; another user's process on Linux denies them)."""
    if not hasattr(proc, "io_counters"):
        return None
    try:
        return proc.io_counters()
    except psutil.AccessDenied:
        return None


class SystemMetricsThread:
    """Samples every ``interval`` seconds in a daemon thread and hands the rows to ``sink``
    (a run's buffered writer), until ``stop()``. A sample that fails is skipped with a
    debug line: monitoring never stops the run.
    """

    def __init__(
        self,
        sink: Callable[[Rows], None],
        root_pid: int | None,
        interval: float,
        *,
        name: str = "runwidget-system-metrics",
    ) -> None:
        self.sink = sink
        self.root_pid = root_pid
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self.samples = 0
        self.origin = time.time()

    def start(self) -> SystemMetricsThread:
        self._thread.start()
        return self

    def set_root(self, pid: int | None) -> None:
        """Sample the tree under ``pid`` from now on (a supervisor's script, once started)."""
        self.root_pid = pid

    def _loop(self) -> None:
        try:
            sampler = SystemSampler(self.root_pid)
        except Exception as e:  # psutil missing or unusable on this platform
            logger.warning("runwidget: system metrics are off: %s", e)
            return
        try:
            while not self._stop.wait(self.interval):
                if sampler.root_pid != self.root_pid:
                    sampler.root_pid = self.root_pid
                    sampler.sample_tree()  # starts the new tree's CPU measure
                    continue
                try:
                    rows = sampler.rows(self.origin)
                except Exception as e:
                    logger.debug("runwidget: system metrics sample failed: %s", e)
                    continue
                self.samples += 1
                self.sink(rows)
        finally:
            sampler.close()

    def stop(self, timeout: float | None = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)
