"""Submitted scripts, run for real: a detached supervisor, a script process, the store between."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from runwidget import (
    Experiment,
    InvalidValueError,
    Run,
    RunFailedError,
    ScriptRunConfig,
    Workspace,
)
from runwidget import status as st
from runwidget.execution._process import ProcessId
from runwidget.store import LogLine
from tests.local_runs import isolate_local_runs, stop_left_running, wait_ended, wait_until

TERMINAL = (st.COMPLETED, st.FAILED, st.CANCELED)


@pytest.fixture(autouse=True)
def _local_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Run]]:
    """Local runs of this test keep their slots and working copies in its temp dir, beat
    fast, and are stopped at the end if a failing test left them running."""
    monkeypatch.setenv("RUNWIDGET_CANCEL_GRACE", "5")
    submitted = isolate_local_runs(monkeypatch, tmp_path, ScriptRunConfig, heartbeat="0.2")
    yield submitted
    stop_left_running(submitted)


def write(folder: Path, name: str, code: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(code).lstrip())
    return path


def wait_for_line(run: Run, text: str, timeout: float = 30) -> None:
    """Wait until the run has printed ``text``; fail at once if it ends without."""

    def printed() -> bool:
        if text in texts(run):
            return True
        if run.get_status() in TERMINAL:
            details = run.get_details()
            raise AssertionError(
                f"run ended {details['status']} before printing {text!r}: {details.get('error')}"
            )
        return False

    wait_until(printed, timeout, f"run {run.id} to print {text!r}")


def all_lines(run: Run) -> list[LogLine]:
    lines: list[LogLine] = []
    while batch := run._store.read_logs(run.id, since=lines[-1].seq if lines else 0):
        lines += batch
    return lines


def texts(run: Run, stream: str | None = None) -> list[str]:
    return [line.text for line in all_lines(run) if stream in (None, line.stream)]


def gone(process: ProcessId | None) -> bool:
    return process is None or not process.alive()


# -- a script that completes ------------------------------------------------------------------
COMPLETING = """
    import logging, os, sys
    from runwidget import Run

    run = Run.get_context()
    run.log("alpha", float(sys.argv[2]))
    for i in range(50):
        run.log("loss", 1 / (i + 1), step=i)
    run.log_row("curve", x=1, y=2)
    for i in range(300):
        print(f"out {i}")
    print("an error line", file=sys.stderr)
    logging.getLogger("trainer").info("a logging record")
    print("env", os.environ.get("MY_VAR"))
    print("ignored file present:", os.path.exists("big.bin"))
    print("runs in a copy:", os.getcwd() != sys.argv[4])
    os.makedirs("outputs", exist_ok=True)
    with open("outputs/model.txt", "w") as f:
        f.write("weights")
"""


def test_completed_run_has_every_metric_and_line_in_order(store_uri: str, tmp_path: Path) -> None:
    src = tmp_path / "src"
    write(src, "train.py", COMPLETING)
    write(src, "big.bin", "x" * 1000)
    write(src, ".runwidgetignore", "big.bin\n")
    experiment = Experiment(Workspace(store_uri), "completing")
    config = ScriptRunConfig(
        src,
        "train.py",
        arguments=["--alpha", 0.5, "--source", str(src)],
        environment_variables={"MY_VAR": 42},
    )
    run = experiment.submit(config, tags={"kind": "test"})
    assert run.get_status() in (st.QUEUED, st.STARTING, st.RUNNING)

    assert wait_ended(run) == st.COMPLETED, run.get_details().get("error")
    details = run.get_details()
    assert details["type"] == "script"
    assert details["arguments"] == ["--alpha", "0.5", "--source", str(src)]
    assert details["tags"] == {"kind": "test"}
    assert details["startTimeUtc"] and details["endTimeUtc"]
    metrics = run.get_metrics()
    assert metrics["alpha"] == 0.5
    assert metrics["loss"] == [1 / (i + 1) for i in range(50)]
    assert metrics["curve"] == {"x": [1.0], "y": [2.0]}

    lines = all_lines(run)
    assert [line.seq for line in lines] == sorted(line.seq for line in lines)
    stdout = [line for line in lines if line.stream == "stdout"]
    assert [line.text for line in stdout if line.text.startswith("out ")] == [
        f"out {i}" for i in range(300)
    ]
    assert [line.time for line in stdout] == sorted(line.time for line in stdout)
    stderr = [line.text for line in lines if line.stream == "stderr"]
    assert "an error line" in stderr
    assert "INFO:trainer:a logging record" in stderr
    out = [line.text for line in stdout]
    assert "env 42" in out
    assert "ignored file present: False" in out
    assert "runs in a copy: True" in out

    files = run.get_file_names()
    assert "outputs/model.txt" in files
    assert run._store.read_file(run.id, "outputs/model.txt") == b"weights"
    with zipfile.ZipFile(io.BytesIO(run._store.read_file(run.id, "snapshot.zip"))) as snapshot:
        assert sorted(snapshot.namelist()) == [".runwidgetignore", "train.py"]
    # The working copy is removed once the run has ended well (just after its status).
    folder = Path(run.refresh().properties["runwidget.run_dir"])
    wait_until(lambda: not folder.exists(), 10, "the working copy to be removed")


def test_wait_for_completion_streams_the_output(tmp_path: Path, capsys) -> None:
    write(tmp_path / "src", "hello.py", """
        import time
        for i in range(5):
            print(f"hello {i}")
            time.sleep(0.1)
    """)  # fmt: skip
    run = Experiment(name="waiting").submit(ScriptRunConfig(tmp_path / "src", "hello.py"))
    details = run.wait_for_completion(show_output=True)

    assert details["status"] == st.COMPLETED
    out = capsys.readouterr().out
    assert out.startswith(f"RunId: {run.id}\nWeb View: {run.get_portal_url()}\n")
    body = out[out.index("Streaming the output log") : out.index("Execution Summary")]
    assert [line for line in body.splitlines() if line.startswith("hello")] == [
        f"hello {i}" for i in range(5)
    ]  # each line once, in order
    summary = out[out.index("Execution Summary") :]
    assert "Status: Completed" in summary
    assert "Duration: 0:00:0" in summary


def test_ctrl_c_stops_waiting_not_the_run(tmp_path: Path, monkeypatch, capsys) -> None:
    from runwidget.tracking import waiting

    write(tmp_path / "src", "slow.py", "import time\nprint('up', flush=True)\ntime.sleep(60)\n")
    run = Experiment(name="waiting").submit(ScriptRunConfig(tmp_path / "src", "slow.py"))
    wait_for_line(run, "up")

    class Interrupted:
        monotonic = staticmethod(time.monotonic)
        time = staticmethod(time.time)

        @staticmethod
        def sleep(_seconds: float) -> None:
            raise KeyboardInterrupt

    monkeypatch.setattr(waiting, "time", Interrupted)
    run.wait_for_completion(show_output=True)
    out = capsys.readouterr().out
    assert f"Stopped waiting. Run {run.id} goes on (Running); run.cancel() stops it." in out
    assert run.get_status() == st.RUNNING
    run.cancel()
    assert run.get_status() == st.CANCELED


# -- failures ---------------------------------------------------------------------------------
def test_failing_script_ends_failed_with_its_traceback(tmp_path: Path, capsys) -> None:
    write(tmp_path / "src", "fail.py", """
        print("starting")

        def divide():
            return 1 / 0

        divide()
    """)  # fmt: skip
    experiment = Experiment(name="failing")
    with pytest.raises(RunFailedError, match=r"ZeroDivisionError: division by zero") as raised:
        experiment.submit(ScriptRunConfig(tmp_path / "src", "fail.py"), show_output=True)

    run = Run(experiment, raised.value.run_id)
    assert run.get_status() == st.FAILED
    error = run.get_details()["error"]
    assert error["message"] == "ZeroDivisionError: division by zero (fail.py exited with code 1)"
    assert raised.value.error_message == error["message"]
    traceback = error["traceback"]
    assert traceback.startswith("Traceback (most recent call last):")
    assert "in divide" in traceback and "return 1 / 0" in traceback
    assert "runpy" not in traceback and "_bootstrap" not in traceback
    out = capsys.readouterr().out
    assert "starting" in out and "Traceback (most recent call last):" in out
    assert "Status: Failed" in out
    assert f"Error: {error['message']}" in out


def test_each_way_of_failing_says_why(tmp_path: Path) -> None:
    src = tmp_path / "src"
    write(src, "bad_import.py", "import no_such_module_here\n")
    write(src, "bad_syntax.py", "def broken(:\n    pass\n")
    write(src, "exit3.py", "import sys\nprint('giving up', file=sys.stderr)\nsys.exit(3)\n")
    write(src, "self_failed.py", """
        from runwidget import Run
        run = Run.get_context()
        run.log("seen", 1)
        run.fail("the data was bad")
        print("exits with 0 all the same")
    """)  # fmt: skip
    write(src, "with_exit0.py", """
        import sys
        from runwidget import Run
        with Run.get_context() as run:
            run.log("seen", 1)
            sys.exit(0)
    """)  # fmt: skip
    write(src, "killed.py", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")
    write(src, "open_child.py", """
        from runwidget import Run
        Run.get_context().child_run("left open").log("x", 1)
    """)  # fmt: skip
    experiment = Experiment(name="failures")
    runs = {
        name: experiment.submit(ScriptRunConfig(src, f"{name}.py"))
        for name in (
            "bad_import",
            "bad_syntax",
            "exit3",
            "self_failed",
            "with_exit0",
            "killed",
            "open_child",
        )
    }
    for run in runs.values():
        wait_ended(run)

    def error(name: str) -> str:
        run = runs[name]
        assert run.get_status() == st.FAILED, f"{name}: {run.get_status()}"
        return run.get_details()["error"]["message"]

    assert error("bad_import") == (
        "ModuleNotFoundError: No module named 'no_such_module_here' "
        "(bad_import.py exited with code 1)"
    )
    assert error("bad_syntax").startswith("SyntaxError: ")
    assert error("bad_syntax").endswith("(bad_syntax.py exited with code 1)")
    assert "line 1" in runs["bad_syntax"].get_details()["error"]["traceback"]
    assert error("exit3") == "giving up (exit3.py exited with code 3)"
    assert error("self_failed") == "the data was bad"
    assert runs["self_failed"].get_metrics() == {"seen": 1.0}
    assert "exits with 0 all the same" in texts(runs["self_failed"])
    assert runs["with_exit0"].get_status() == st.COMPLETED
    assert runs["with_exit0"].get_metrics() == {"seen": 1.0}
    assert error("killed") == "killed.py was killed by SIGKILL (out of memory?)"
    # A child run the script left open ends with it: nobody else could end it.
    assert runs["open_child"].get_status() == st.COMPLETED
    [child] = runs["open_child"].get_children()
    assert child.get_status() == st.FAILED
    assert "ended while this child run was still open" in child.get_details()["error"]["message"]


# -- cancel -----------------------------------------------------------------------------------
def test_cancel_ends_canceled_within_the_grace_period(tmp_path: Path) -> None:
    write(tmp_path / "src", "loop.py", """
        import time
        print("started", flush=True)
        try:
            while True:
                time.sleep(0.05)
        finally:
            print("cleanup ran")
    """)  # fmt: skip
    run = Experiment(name="cancel").submit(ScriptRunConfig(tmp_path / "src", "loop.py"))
    wait_for_line(run, "started")
    script = ProcessId.from_properties(run.refresh().properties, "script")

    # From another process than the one that submitted it, as from another notebook.
    start = time.monotonic()
    subprocess.run(
        [sys.executable, "-c", "import sys\nfrom runwidget import Run, Workspace\n"
         "Run.get(Workspace(), sys.argv[1]).cancel()", run.id],
        check=True,
    )  # fmt: skip
    elapsed = time.monotonic() - start

    assert run.get_status() == st.CANCELED
    assert elapsed < 5  # the grace period: SIGTERM was enough
    assert texts(run)[-1] == "cleanup ran"  # SIGTERM let the script's finally blocks run
    assert "error" not in run.get_details()
    wait_until(lambda: gone(script), 5, "the script to be gone")


def test_cancel_kills_a_script_that_ignores_sigterm(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("RUNWIDGET_CANCEL_GRACE", "1")
    write(tmp_path / "src", "stubborn.py", """
        import signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("started", flush=True)
        while True:
            time.sleep(0.05)
    """)  # fmt: skip
    run = Experiment(name="cancel").submit(ScriptRunConfig(tmp_path / "src", "stubborn.py"))
    wait_for_line(run, "started")
    script = ProcessId.from_properties(run.refresh().properties, "script")

    start = time.monotonic()
    run.cancel()
    elapsed = time.monotonic() - start

    assert run.get_status() == st.CANCELED
    assert 1 <= elapsed < 5
    assert gone(script)


def test_cancel_reaches_a_supervisor_on_another_host_through_the_store(tmp_path: Path) -> None:
    write(tmp_path / "src", "loop.py", "import time\nprint('up', flush=True)\ntime.sleep(60)\n")
    run = Experiment(name="cancel").submit(ScriptRunConfig(tmp_path / "src", "loop.py"))
    wait_for_line(run, "up")
    # As seen from this process, the run now lives on a machine it cannot signal.
    run._store.update_run(run.id, properties={"runwidget.host": "another-machine"})

    start = time.monotonic()
    run.cancel()

    assert run.get_status() == st.CANCELED
    assert time.monotonic() - start < 5  # noticed at the supervisor's next look (1 s)
    assert "runwidget.cancel_requested" in run.refresh().properties


def test_the_default_limit_is_the_number_of_cores(monkeypatch) -> None:
    from runwidget.execution._local import max_local_runs

    monkeypatch.delenv("RUNWIDGET_MAX_LOCAL_RUNS")
    assert max_local_runs() == os.cpu_count()


# -- the local queue --------------------------------------------------------------------------
def test_runs_past_the_limit_wait_queued_and_start_in_order(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("RUNWIDGET_MAX_LOCAL_RUNS", "1")
    write(tmp_path / "src", "step.py", """
        import time
        print("start", time.time())
        time.sleep(0.5)
        print("end", time.time())
    """)  # fmt: skip
    experiment = Experiment(name="queue")
    config = ScriptRunConfig(tmp_path / "src", "step.py")
    runs = [experiment.submit(config) for _ in range(3)]
    extra = experiment.submit(config)

    wait_until(lambda: runs[0].get_status() == st.RUNNING, what="the first run to start")
    assert [run.get_status() for run in runs[1:]] == [st.QUEUED, st.QUEUED]
    extra.cancel()  # a queued run is canceled at once and never starts
    assert extra.get_status() == st.CANCELED

    for run in runs:
        assert wait_ended(run) == st.COMPLETED
    spans = []
    for run in runs:
        marks = dict(line.split() for line in texts(run, "stdout"))
        spans.append((float(marks["start"]), float(marks["end"])))
    assert spans == sorted(spans)
    assert all(spans[i][1] <= spans[i + 1][0] for i in range(len(spans) - 1)), spans
    assert extra.refresh().started is None
    assert texts(extra) == []


def test_slots_are_taken_oldest_ticket_first(tmp_path: Path) -> None:
    from runwidget.execution import slots

    base = tmp_path / "exec"
    stale = slots.create_ticket(base, "dead", 0.5)  # a supervisor that never came
    os.utime(stale, (0, 0))
    first = slots.Ticket(slots.create_ticket(base, "first", 1.0))
    second = slots.Ticket(slots.create_ticket(base, "second", 2.0))

    def after(polls: int) -> Callable[[], bool]:
        count = iter(range(polls, -1, -1))
        return lambda: next(count) == 0

    assert second.wait_for_slot(base, 1, after(3), poll=0.01) is None  # "first" is ahead
    assert not stale.exists()  # taken for dead and removed
    slot = first.wait_for_slot(base, 1, after(3), poll=0.01)
    assert slot is not None
    second = slots.Ticket(slots.create_ticket(base, "second", 2.0))
    assert second.wait_for_slot(base, 1, after(3), poll=0.01) is None  # no free slot
    slot.release()
    second = slots.Ticket(slots.create_ticket(base, "second", 2.0))
    assert second.wait_for_slot(base, 1, after(3), poll=0.01) is not None


# -- a supervisor that dies -------------------------------------------------------------------
def test_killed_supervisor_reads_not_responding_then_failed(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("RUNWIDGET_HEARTBEAT_TIMEOUT", "1.5")
    write(tmp_path / "src", "ticks.py", """
        import time
        from runwidget import Run
        with Run.get_context().child_run("epochs") as child:
            child.flush()
            print("tick 0")
            print("tick 1", flush=True)
            time.sleep(60)  # no more output: only the reaper can stop it
    """)  # fmt: skip
    run = Experiment(name="orphans").submit(ScriptRunConfig(tmp_path / "src", "ticks.py"))
    wait_for_line(run, "tick 1")
    properties = run.refresh().properties
    supervisor = ProcessId.from_properties(properties, "supervisor")
    script = ProcessId.from_properties(properties, "script")

    [child] = run.get_children()
    os.kill(supervisor.pid, signal.SIGKILL)
    killed = time.monotonic()
    store = run._store
    # A plain reader (any process, any host) sees the heartbeat stop.
    wait_until(
        lambda: store.get_run(run.id).current_status() == st.NOT_RESPONDING,
        10,
        "the run to read NotResponding",
    )
    assert time.monotonic() - killed > 1.0
    assert store.get_run(run.id).status == st.RUNNING  # nobody has decided yet

    # A reader on the run's host sees the supervisor gone and ends the run.
    assert run.get_status() == st.FAILED
    error = run.get_details()["error"]["message"]
    assert f"supervisor of this run (pid {supervisor.pid}" in error
    assert "killed, or the machine restarted" in error
    assert child.get_status() == st.FAILED  # the script's open child run ends with it
    wait_until(lambda: gone(script), 5, "the orphaned script to be stopped")


def test_the_next_supervisor_fails_a_run_whose_supervisor_died(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("RUNWIDGET_HEARTBEAT_TIMEOUT", "1.5")
    src = tmp_path / "src"
    write(src, "ticks.py", "import time\nprint('up', flush=True)\ntime.sleep(60)\n")
    write(src, "quick.py", "print('quick')\n")
    experiment = Experiment(name="orphans")
    orphan = experiment.submit(ScriptRunConfig(src, "ticks.py"))
    wait_for_line(orphan, "up")
    supervisor = ProcessId.from_properties(orphan.refresh().properties, "supervisor")
    os.kill(supervisor.pid, signal.SIGKILL)
    store = orphan._store
    wait_until(lambda: store.get_run(orphan.id).current_status() == st.NOT_RESPONDING, 10)

    # Nobody in this process reads the orphan's status through Run: the next supervisor
    # on this host is the one that ends it.
    later = experiment.submit(ScriptRunConfig(src, "quick.py"))
    assert wait_ended(later) == st.COMPLETED
    record = store.get_run(orphan.id)
    assert record.status == st.FAILED
    assert "stopped without a verdict" in record.error["message"]


def test_run_goes_on_when_the_submitting_process_is_killed(tmp_path: Path) -> None:
    write(tmp_path / "src", "short.py", "import time\ntime.sleep(1)\nprint('finished')\n")
    submitter = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import time
            from runwidget import Experiment, ScriptRunConfig
            run = Experiment(name="kernel").submit(ScriptRunConfig({str(tmp_path / "src")!r}, "short.py"))
            print(run.id, flush=True)
            time.sleep(60)
        """)],  # noqa: E501
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )  # fmt: skip
    run_id = submitter.stdout.readline().strip()
    os.killpg(submitter.pid, signal.SIGKILL)  # what a kernel restart does to its group
    submitter.wait()
    submitter.stdout.close()

    run = Run.get(Workspace(), run_id)
    assert wait_ended(run) == st.COMPLETED
    assert texts(run) == ["finished"]


# -- volume and latency ---------------------------------------------------------------------
def test_100000_fast_lines_are_all_stored_in_order(tmp_path: Path) -> None:
    write(tmp_path / "src", "flood.py", """
        import sys
        for i in range(100_000):
            print(i)
        sys.stderr.write("".join(f"e{i}\\n" for i in range(1000)))
    """)  # fmt: skip
    run = Experiment(name="volume").submit(ScriptRunConfig(tmp_path / "src", "flood.py"))
    assert wait_ended(run) == st.COMPLETED
    lines = all_lines(run)
    assert [line.text for line in lines if line.stream == "stdout"] == [
        str(i) for i in range(100_000)
    ]
    assert [line.text for line in lines if line.stream == "stderr"] == [
        f"e{i}" for i in range(1000)
    ]


def test_a_printed_line_is_readable_within_1_5_s(tmp_path: Path) -> None:
    write(tmp_path / "src", "stamps.py", """
        import time
        for i in range(15):
            print(f"{time.time():.6f}")
            time.sleep(0.1)
    """)  # fmt: skip
    run = Experiment(name="latency").submit(ScriptRunConfig(tmp_path / "src", "stamps.py"))
    latencies: list[float] = []
    cursor = 0
    deadline = time.monotonic() + 60
    while len(latencies) < 15 and time.monotonic() < deadline:
        for line in run._store.read_logs(run.id, since=cursor):
            cursor = line.seq
            latencies.append(time.time() - float(line.text))
        time.sleep(0.02)
    assert len(latencies) == 15
    assert max(latencies) < 1.5, latencies


# -- context ----------------------------------------------------------------------------------
def test_get_context_outside_a_submitted_run_is_offline(monkeypatch, caplog) -> None:
    from runwidget.tracking import context

    monkeypatch.delenv("RUNWIDGET_RUN_ID", raising=False)
    context._reset_context()
    try:
        with caplog.at_level("WARNING", logger="runwidget"):
            run = Run.get_context()
            again = Run.get_context()
        assert again is run
        notices = [r for r in caplog.records if "offline run" in r.getMessage()]
        assert len(notices) == 1
        run.log("loss", 0.5)
        run.log("loss", 0.25)
        assert run.get_metrics() == {"loss": [0.5, 0.25]}
        assert Workspace().experiments() == {}  # nothing reached the real store
    finally:
        context._reset_context()


# -- bad input --------------------------------------------------------------------------------
@pytest.fixture
def src(tmp_path: Path) -> Path:
    write(tmp_path / "src", "train.py", "print('hi')\n")
    write(tmp_path / "src", "data.txt", "not a script folder\n")
    write(tmp_path / "src" / "sub", "inner.py", "print('inner')\n")
    return tmp_path / "src"


BAD_CONFIGS = [
    ({"source_directory": "src/nope"}, r"source_directory 'src/nope' does not exist"),
    ({"source_directory": "src/data.txt"}, r"source_directory 'src/data.txt' is not a directory"),
    ({"source_directory": 42}, r"source_directory must be a path .* got int: 42"),
    ({"script": "missing.py"}, r"script 'missing.py' not found in source_directory '.*src'"),
    ({"script": "sub"}, r"script 'sub' in '.*src' is not a file"),
    ({"script": "../train.py"}, r"script '../train.py' is outside source_directory"),
    ({"script": ""}, r"script must be a file name relative to source_directory"),
    (
        {"arguments": "--alpha 0.1"},
        r"arguments must be a list of strings and numbers, got str: '--alpha 0.1' "
        r"\(split it: \['--alpha', '0.1'\]\)",
    ),
    (
        {"arguments": ["--alpha", {"a": 1}]},
        r"arguments\[1\] must be a string or a number, got dict: \{'a': 1\}",
    ),
    ({"arguments": ["--flag", True]}, r"arguments\[1\] must be a string or a number, got bool"),
    ({"arguments": [None]}, r"arguments\[0\] must be a string or a number, got NoneType: None"),
    (
        {"environment_variables": ["A=1"]},
        r"environment_variables must be a dict of name to value, got list",
    ),
    (
        {"environment_variables": {"A=B": "1"}},
        r"environment variable name 'A=B' must be a non-empty string without '='",
    ),
    (
        {"environment_variables": {"A": [1]}},
        r"environment variable 'A' must be a string or a number, got list: \[1\]",
    ),
    (
        {"environment_variables": {"RUNWIDGET_RUN_ID": "x"}},
        r"environment variable 'RUNWIDGET_RUN_ID' is set by runwidget",
    ),
]


@pytest.mark.parametrize(("changes", "match"), BAD_CONFIGS)
def test_bad_config_is_refused_naming_the_value(src: Path, changes: dict, match: str) -> None:
    arguments = {"source_directory": "src", "script": "train.py", **changes}  # cwd: tmp_path
    with pytest.raises(InvalidValueError, match=match):
        ScriptRunConfig(**arguments)


def test_bad_submissions_are_refused_before_a_run_exists(src: Path, monkeypatch) -> None:
    experiment = Experiment(name="refused")
    config = ScriptRunConfig(src, "train.py")

    write(src, ".runwidgetignore", "train.py\n")
    with pytest.raises(InvalidValueError, match=r"script 'train.py' is left out of the snapshot"):
        experiment.submit(config)
    (src / ".runwidgetignore").unlink()

    monkeypatch.setenv("RUNWIDGET_MAX_SNAPSHOT_BYTES", "10")
    with pytest.raises(
        InvalidValueError, match=r"holds more than 10 bytes of files \(the snapshot cap\)"
    ):
        experiment.submit(config)
    monkeypatch.undo()

    (src / "train.py").unlink()
    with pytest.raises(InvalidValueError, match=r"script 'train.py' not found in source_directory"):
        experiment.submit(config)
    write(src, "train.py", "print('hi')\n")

    memory = Experiment(Workspace("sqlite:///:memory:"), "refused")
    with pytest.raises(InvalidValueError, match=r"lives in this process's memory"):
        memory.submit(config)

    monkeypatch.setenv("RUNWIDGET_MAX_LOCAL_RUNS", "zero")
    with pytest.raises(
        InvalidValueError, match=r"RUNWIDGET_MAX_LOCAL_RUNS='zero' is not a positive integer"
    ):
        experiment.submit(config)

    assert list(experiment.get_runs()) == []
    with pytest.raises(
        InvalidValueError, match=r"takes a ScriptRunConfig or an AutoMLConfig, got str"
    ):
        experiment.submit("train.py")  # type: ignore[arg-type]


# -- pieces -----------------------------------------------------------------------------------
def test_line_splitter_keeps_what_a_terminal_shows() -> None:
    from runwidget.execution.capture import MAX_LINE, LineSplitter

    split = LineSplitter("stdout")
    assert split.feed(b"a\nb", 1.0) == [("stdout", "a", 1.0)]
    assert split.feed(b"c\r\n", 2.0) == [("stdout", "bc", 2.0)]  # Windows line end
    assert split.feed(b" 10%\r 50%\r100%\n", 3.0) == [("stdout", "100%", 3.0)]  # progress bar
    assert split.feed("é".encode()[:1], 4.0) == []  # half a character waits for the rest
    assert split.feed("é".encode()[1:] + b"\xff\n", 5.0) == [("stdout", "é\ufffd", 5.0)]
    long = split.feed(b"x" * (MAX_LINE + 10), 6.0)
    assert long == [("stdout", "x" * MAX_LINE, 6.0)]  # cut, nothing dropped
    assert split.finish(7.0) == [("stdout", "x" * 10, 7.0)]
    assert split.finish(8.0) == []


def test_failure_description_takes_the_last_traceback() -> None:
    from runwidget.execution.supervisor import describe_failure

    tail = [
        "INFO:x:working",
        "Traceback (most recent call last):",
        '  File "a.py", line 1, in <module>',
        "KeyError: 'first'",
        "Traceback (most recent call last):",
        '  File "a.py", line 9, in <module>',
        "ValueError: second",
        "",
    ]
    error = describe_failure("a.py", 1, tail)
    assert error == {
        "message": "ValueError: second (a.py exited with code 1)",
        "traceback": "\n".join(tail[4:7]),
    }
    assert describe_failure("a.py", -15, [])["message"] == "a.py was killed by SIGTERM"


def test_a_queued_run_that_never_got_a_supervisor_is_failed(monkeypatch) -> None:
    from runwidget.execution import reaper
    from runwidget.execution._process import host_name
    from runwidget.store import RunType

    experiment = Experiment(name="orphans")
    here = Run.create(experiment, run_type=RunType.SCRIPT, status=st.QUEUED,
                       properties={"runwidget.host": host_name()})  # fmt: skip
    elsewhere = Run.create(experiment, run_type=RunType.SCRIPT, status=st.QUEUED,
                            properties={"runwidget.host": "another-machine"})  # fmt: skip
    assert here.get_status() == st.QUEUED  # just created: its supervisor may be starting
    monkeypatch.setattr(reaper, "NEVER_STARTED_AFTER", 0.0)
    assert here.get_status() == st.FAILED
    assert "was never started" in here.get_details()["error"]["message"]
    assert elsewhere.get_status() == st.QUEUED  # this host cannot tell
