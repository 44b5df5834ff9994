"""System metrics: a submitted script's process tree sampled by its supervisor, an interactive
run's process sampled when asked, and GPUs only where NVIDIA's library and a driver are."""

from __future__ import annotations

import os
import sys
import textwrap
import time
import types
from pathlib import Path

import pytest

from runwidget import Experiment, ScriptRunConfig, Workspace
from runwidget.errors import InvalidValueError
from runwidget.tracking import system_metrics
from runwidget.tracking.system_metrics import SystemSampler

MACHINE = {
    "system/cpu_utilization_percentage",
    "system/system_memory_usage_megabytes",
    "system/system_memory_usage_percentage",
    "system/disk_usage_percentage",
    "system/disk_usage_megabytes",
    "system/disk_available_megabytes",
    "system/network_receive_megabytes",
    "system/network_transmit_megabytes",
}
TREE = {"system/process_cpu_utilization_percentage", "system/process_memory_rss_megabytes"}

# Idle for 2.5 s, then burns one core and grows to about 300 MB resident for 4 s.
BURNER = """
import time
time.sleep(2.5)
hold = []
end = time.time() + 4
while time.time() < end:
    if len(hold) < 30:
        hold.append(bytearray(10_000_000))
        for i in range(0, 10_000_000, 4096):
            hold[-1][i] = 1
    x = 0
    for i in range(20000):
        x += i * i
print("done", len(hold))
"""


def _series(metrics: dict, name: str) -> list[float]:
    value = metrics[name]
    return value if isinstance(value, list) else [value]


def test_a_submitted_script_shows_its_cpu_and_memory_rise(tmp_path: Path, submitted, monkeypatch):
    monkeypatch.setenv("RUNWIDGET_SYSTEM_METRICS_INTERVAL", "0.5")
    src = tmp_path / "src"
    src.mkdir()
    (src / "burn.py").write_text(textwrap.dedent(BURNER))
    experiment = Experiment(Workspace(f"sqlite:///{tmp_path / 'runs.db'}"), "system")
    run = experiment.submit(ScriptRunConfig(src, "burn.py"))
    run.wait_for_completion(raise_on_error=True)
    metrics = run.get_metrics()
    assert set(metrics) >= MACHINE | TREE
    assert not any(n.startswith("system/gpu_") for n in metrics) or _has_gpu()
    cpu = _series(metrics, "system/process_cpu_utilization_percentage")
    rss = _series(metrics, "system/process_memory_rss_megabytes")
    assert len(cpu) >= 8, cpu
    # Idle first (sleeping), then one core busy (or what a loaded machine leaves it).
    assert min(cpu[:3]) < 10, cpu
    assert max(cpu) > 25, cpu
    # A few MB for a sleeping interpreter, then the 300 MB it holds.
    assert min(rss[:3]) < 100, rss
    assert max(rss) > 250, rss
    assert max(rss) - min(rss[:3]) > 200, rss
    # Sampled against time: one point per sample, a second or so apart.
    frame = run.get_metrics_frame("system/process_memory_rss_megabytes")
    gaps = frame["time"].diff().dropna()
    assert 0.3 < gaps.median() < 1.5, gaps.tolist()


def test_zero_interval_turns_sampling_off(tmp_path: Path, submitted, monkeypatch):
    monkeypatch.setenv("RUNWIDGET_SYSTEM_METRICS_INTERVAL", "0")
    src = tmp_path / "src"
    src.mkdir()
    (src / "quick.py").write_text("import time\ntime.sleep(1.5)\nprint('ok')\n")
    experiment = Experiment(Workspace(f"sqlite:///{tmp_path / 'runs.db'}"), "system-off")
    run = experiment.submit(ScriptRunConfig(src, "quick.py"))
    run.wait_for_completion(raise_on_error=True)
    assert not [n for n in run.get_metrics() if n.startswith("system/")]


def test_an_interactive_run_samples_itself_when_asked_and_stops_at_its_end(tmp_path: Path):
    experiment = Experiment(Workspace(f"sqlite:///{tmp_path / 'runs.db'}"), "interactive")
    run = experiment.start_logging(system_metrics=0.2, outputs=False)
    sampler = run._system_metrics
    deadline = time.time() + 30

    def log_until(samples: int) -> None:
        while sampler.samples < samples and time.time() < deadline:
            run.log("loss", 1.0)

    log_until(1)  # before: the process as it was
    hold = []
    for _ in range(20):
        hold.append(bytearray(10_000_000))
        for i in range(0, 10_000_000, 4096):
            hold[-1][i] = 1
    log_until(sampler.samples + 2)  # after: with 200 MB more
    run.complete()
    count = len(_series(run.get_metrics(), "system/process_memory_rss_megabytes"))
    assert count >= 3
    rss = _series(run.get_metrics(), "system/process_memory_rss_megabytes")
    assert max(rss) - rss[0] > 100, rss
    assert max(_series(run.get_metrics(), "system/process_cpu_utilization_percentage")) > 30
    time.sleep(0.6)  # the sampler is stopped: nothing more comes
    assert len(_series(run.get_metrics(), "system/process_memory_rss_megabytes")) == count
    assert run._system_metrics is None

    plain = experiment.start_logging(outputs=False)
    plain.log("loss", 1.0)
    time.sleep(0.3)
    plain.complete()
    assert set(plain.get_metrics()) == {"loss"}


@pytest.mark.parametrize("bad", ["yes", -1, 0, [1]])
def test_a_bad_system_metrics_argument_is_refused(tmp_path: Path, bad):
    experiment = Experiment(Workspace(f"sqlite:///{tmp_path / 'runs.db'}"), "bad")
    with pytest.raises(
        InvalidValueError, match=r"system_metrics must be True, False or a positive"
    ):
        experiment.start_logging(system_metrics=bad, outputs=False)
    assert not list(experiment.get_runs())


def _has_gpu() -> bool:
    try:
        import pynvml  # type: ignore[import-not-found]

        pynvml.nvmlInit()
        return pynvml.nvmlDeviceGetCount() > 0
    except Exception:
        return False


def test_without_nvidia_ml_py_gpus_are_skipped_cleanly(monkeypatch, recwarn, caplog):
    # None in sys.modules makes `import pynvml` raise ImportError, as when it is not installed.
    monkeypatch.setitem(sys.modules, "pynvml", None)
    sampler = SystemSampler(os.getpid())
    sample = sampler.sample()
    sampler.close()
    assert sampler.gpu_count == 0
    assert not [n for n in sample if n.startswith("gpu_")]
    assert {n.removeprefix("system/") for n in MACHINE | TREE} <= set(sample)
    assert not recwarn.list
    assert not [r for r in caplog.records if r.levelname in ("WARNING", "ERROR")]


def test_a_library_without_a_driver_is_skipped_cleanly(monkeypatch, recwarn):
    # nvidia-ml-py installed on a machine without NVIDIA's driver: nvmlInit raises.
    class NVMLError(Exception):
        pass

    def no_driver():
        raise NVMLError("NVML Shared Library Not Found")

    fake = types.SimpleNamespace(nvmlInit=no_driver, NVMLError=NVMLError)
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    sampler = SystemSampler(os.getpid())
    assert sampler.gpu_count == 0
    assert not [n for n in sampler.sample() if n.startswith("gpu_")]
    sampler.close()
    assert not recwarn.list


@pytest.mark.skipif(not _has_gpu(), reason="no NVIDIA GPU with its driver on this machine")
def test_gpus_are_sampled_where_there_are_some():
    sampler = SystemSampler(os.getpid())
    sample = sampler.sample()
    sampler.close()
    assert sampler.gpu_count > 0
    assert {"gpu_0_utilization_percentage", "gpu_0_memory_usage_megabytes"} <= set(sample)


def test_a_tree_that_is_gone_gives_no_process_metrics():
    sampler = SystemSampler(2**22 + 12345)  # no such pid
    sample = sampler.sample()
    sampler.close()
    assert "process_cpu_utilization_percentage" not in sample
    assert "cpu_utilization_percentage" in sample
    assert system_metrics.is_system_metric("system/cpu_utilization_percentage")


def test_the_view_model_puts_system_metrics_in_their_own_section_against_time(tmp_path: Path):
    from runwidget.sources.store import StoreSource
    from runwidget.view import RunView

    experiment = Experiment(Workspace(f"sqlite:///{tmp_path / 'runs.db'}"), "view")
    run = experiment.start_logging(system_metrics=0.2, outputs=False)
    for i in range(5):
        run.log("loss", 1.0 / (i + 1))
    time.sleep(0.5)  # one sample at least, maybe two
    run.complete()
    view = RunView(StoreSource(experiment.workspace.store, run.id))
    view.refresh()
    charts = {c["name"]: c for c in view.snapshot()["charts"]}
    assert "section" not in charts["loss"]
    memory = charts["system/process_memory_rss_megabytes"]
    assert memory["section"] == "system"
    assert memory["title"] == "process_memory_rss_megabytes"
    assert memory["x_label"] == "seconds since start"
    xs = memory["series"][0]["x"]
    assert xs and all(0 < x < 5 for x in xs), xs
    # One sample is a chart too, never a property row.
    names = {p["name"] for p in view.snapshot()["properties"]}
    assert not {n for n in names if n.startswith("system/")}


def test_system_metrics_true_takes_the_settings_interval(tmp_path: Path, monkeypatch):
    experiment = Experiment(Workspace(f"sqlite:///{tmp_path / 'runs.db'}"), "true")
    monkeypatch.setenv("RUNWIDGET_SYSTEM_METRICS_INTERVAL", "0.2")
    run = experiment.start_logging(system_metrics=True, outputs=False)
    assert run._system_metrics.interval == 0.2
    deadline = time.time() + 20
    while run._system_metrics.samples < 1 and time.time() < deadline:
        time.sleep(0.05)
    run.complete()
    assert "system/process_memory_rss_megabytes" in run.get_metrics()
    # Turned off for submitted runs, asked for here: sampled at the default rate.
    monkeypatch.setenv("RUNWIDGET_SYSTEM_METRICS_INTERVAL", "0")
    other = experiment.start_logging(system_metrics=True, outputs=False)
    assert other._system_metrics.interval == 10.0
    other.complete()


def test_system_metrics_are_no_columns_of_a_parents_child_table(tmp_path: Path):
    from runwidget.sources.store import StoreSource
    from runwidget.view import RunView

    experiment = Experiment(Workspace(f"sqlite:///{tmp_path / 'runs.db'}"), "parent")
    parent = experiment.start_logging(outputs=False)
    with parent.child_run("child") as child:
        child.log("accuracy", 0.9)
        child.log("system/cpu_utilization_percentage", 50.0)
    parent.complete()
    view = RunView(StoreSource(experiment.workspace.store, parent.id))
    view.refresh()
    columns = [c["key"] for c in view.snapshot()["children"]["columns"]]
    assert columns == ["accuracy"], columns
