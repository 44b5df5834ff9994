"""The logging API, against both backends."""

from __future__ import annotations

import math

import numpy as np
import pytest

from runwidget import (
    Experiment,
    InvalidValueError,
    Run,
    RunFinishedError,
    RunNotFoundError,
    Workspace,
)


@pytest.fixture
def exp(store_uri):
    return Experiment(Workspace(store_uri), "tracking")


def test_reference_example_runs_as_written(exp):
    run = exp.start_logging()
    run.log("alpha", 0.5)
    for i in range(-10, 10):
        run.log(name="Sigmoid", value=1 / (1 + np.exp(-i)))
    run.log_list(name="Fibonacci", value=[0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89])
    sines = {"angle": [], "sine": []}
    for i in range(20):
        angle = i / 2.0
        run.log_row(name="Cosine Wave", angle=angle, cos=np.cos(angle))
        sines["angle"].append(angle)
        sines["sine"].append(np.sin(angle))
    run.log_table(name="Sine Wave", value=sines)
    run.complete()
    metrics = run.get_metrics()
    assert metrics["alpha"] == 0.5
    assert len(metrics["Sigmoid"]) == 20 and metrics["Sigmoid"][10] == 0.5
    assert metrics["Fibonacci"] == [0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89]
    assert metrics["Cosine Wave"]["angle"] == [i / 2.0 for i in range(20)]
    assert metrics["Cosine Wave"]["cos"][0] == 1.0
    assert metrics["Sine Wave"]["sine"] == pytest.approx(sines["sine"])
    assert run.get_status() == "Completed"


def test_metrics_frame_is_long_form(exp):
    run = exp.start_logging()
    for step in (10, 20, 30):
        run.log("loss", 1.0 / step, step=step)
    run.log("acc", 0.9)
    run.log("model", "rf")
    run.log_row("curve", x=1.0, y=2.0)
    frame = run.get_metrics_frame()
    assert list(frame.columns) == ["run_id", "name", "step", "value", "time"]
    loss = frame[frame.name == "loss"]
    assert list(loss.step) == [10, 20, 30]
    assert list(frame[frame.name == "curve.y"].step) == [1.0]
    assert "model" not in set(frame.name)
    assert set(frame.run_id) == {run.id}


def test_nan_and_inf_survive(exp):
    run = exp.start_logging()
    run.log("x", math.nan)
    run.log("x", math.inf)
    run.log("x", -math.inf)
    run.log("x", np.float32(2.5))
    run.log("x", np.int64(3))
    values = run.get_metrics()["x"]
    assert math.isnan(values[0]) and values[1:] == [math.inf, -math.inf, 2.5, 3.0]


def test_children_parent_and_recursive_metrics(exp):
    run = exp.start_logging(display_name="parent")
    with run.child_run("first") as child:
        child.log("score", 1.0)
        with child.child_run("inner") as inner:
            inner.log("score", 2.0)
    assert child.get_status() == "Completed"
    assert [c.display_name for c in run.get_children()] == ["first"]
    assert len(run.get_children(recursive=True)) == 2
    assert inner.parent.id == child.id and child.parent.id == run.id and run.parent is None
    metrics = run.get_metrics(recursive=True)
    assert metrics[child.id] == {"score": 1.0} and metrics[inner.id] == {"score": 2.0}


def test_with_block_fails_with_traceback(exp):
    run = exp.start_logging()
    with pytest.raises(ZeroDivisionError), run:
        1 / 0  # noqa: B018
    details = run.get_details()
    assert details["status"] == "Failed"
    assert details["error"]["message"].startswith("ZeroDivisionError")
    assert "1 / 0" in details["error"]["traceback"]


def test_with_block_completes_on_sys_exit_0(exp):
    run = exp.start_logging()
    with pytest.raises(SystemExit), run:
        raise SystemExit(0)
    assert run.get_status() == "Completed"
    other = exp.start_logging()
    with pytest.raises(SystemExit), other:
        raise SystemExit(3)
    assert other.get_status() == "Failed"


def test_fail_with_message_and_cancel(exp):
    a = exp.start_logging()
    a.fail("data missing")
    assert a.get_details()["error"]["message"] == "data missing"
    b = exp.start_logging()
    b.cancel()
    assert b.get_status() == "Canceled"


def test_logging_to_finished_run_is_refused(exp):
    run = exp.start_logging()
    run.complete()
    with pytest.raises(RunFinishedError, match="has ended .Completed."):
        run.log("x", 1)
    again = Run(exp, run.id)
    with pytest.raises(RunFinishedError):
        again.log_list("x", [1])


def test_tags_properties_details(exp):
    run = exp.start_logging(tags={"team": "<b>a</b>"})
    run.tag("quick")
    run.set_tags({"lr": 0.1})
    run.add_properties({"commit": "abc"})
    assert run.get_tags() == {"team": "<b>a</b>", "quick": "", "lr": 0.1}
    assert run.get_properties() == {"commit": "abc"}
    details = run.get_details()
    assert details["runId"] == run.id and details["status"] == "Running"
    assert details["startTimeUtc"].endswith("Z") and details["endTimeUtc"] is None
    assert details["portalUrl"] == run.get_portal_url()


def test_portal_url(exp, monkeypatch):
    run = exp.start_logging()
    assert run.get_portal_url() == f"http://127.0.0.1:8777/runwidget/runs/{run.id}"
    monkeypatch.setenv("RUNWIDGET_PORTAL_URL", "https://portal.example/rw/")
    assert run.get_portal_url() == f"https://portal.example/rw/runs/{run.id}"


def test_files_round_trip(exp, tmp_path):
    run = exp.start_logging()
    (tmp_path / "model.bin").write_bytes(b"\x00\x01weights")
    folder = tmp_path / "out"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("a")
    (folder / "sub" / "b.txt").write_text("b")
    run.upload_file("outputs/model.bin", tmp_path / "model.bin")
    run.upload_folder("outputs/folder", folder)
    assert sorted(run.get_file_names()) == [
        "outputs/folder/a.txt",
        "outputs/folder/sub/b.txt",
        "outputs/model.bin",
    ]
    target = run.download_file("outputs/model.bin", tmp_path / "copy.bin")
    assert target.read_bytes() == b"\x00\x01weights"
    with pytest.raises(InvalidValueError, match="already has a file named 'outputs/model.bin'"):
        run.upload_file("outputs/model.bin", tmp_path / "model.bin")
    with pytest.raises(InvalidValueError, match="is not a file"):
        run.upload_file("outputs/x", tmp_path / "missing.bin")
    with pytest.raises(InvalidValueError, match="relative path"):
        run.upload_file("../escape", tmp_path / "model.bin")


def test_log_image_from_figure_and_path(exp, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([1, 2, 3])
    run = exp.start_logging()
    run.log_image("curve", plot=fig)
    png = tmp_path / "pic.png"
    fig.savefig(png)
    plt.close(fig)
    run.log_image("curve", path=png)
    images = run.get_metrics()["curve"]
    assert len(images) == 2 and all(p.startswith("images/curve/") for p in images)
    data = run._store.read_file(run.id, images[0])
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(InvalidValueError, match="exactly one of path= or plot="):
        run.log_image("x")
    with pytest.raises(InvalidValueError, match="must be one of"):
        run.log_image("x", path=tmp_path / "notes.txt")


def test_find_runs(exp):
    a = exp.start_logging(display_name="a")
    b = exp.start_logging(display_name="b", tags={"k": "v"})
    with a.child_run():
        pass
    assert [r.id for r in exp.get_runs()] == [b.id, a.id]
    assert [r.id for r in exp.get_runs(tags={"k": "v"})] == [b.id]
    assert len(list(exp.get_runs(include_children=True))) == 3
    assert Run.get(exp.workspace, a.id).display_name == "a"
    assert Run(exp, b.id).id == b.id
    with pytest.raises(RunNotFoundError, match="'missing' not found"):
        Run(exp, "missing")
    other = Experiment(exp.workspace, "other")
    with pytest.raises(RunNotFoundError, match="belongs to experiment 'tracking'"):
        Run(other, a.id)


BAD_NAMES = [
    (None, "must be a string, got NoneType"),
    (3, "must be a string, got int"),
    ("", "must not be empty"),
    ("   ", "must not be empty"),
    ("x" * 256, "must be at most 255 characters, got 256"),
]


@pytest.mark.parametrize(("name", "message"), BAD_NAMES)
def test_bad_names(exp, name, message):
    run = exp.start_logging()
    with pytest.raises(InvalidValueError, match=f"metric name {message}"):
        run.log(name, 1.0)
    with pytest.raises(InvalidValueError, match=f"experiment name {message}"):
        Experiment(exp.workspace, name)


def test_bad_values(exp):
    run = exp.start_logging()
    with pytest.raises(InvalidValueError, match=r"takes one number or string, got list.*log_list"):
        run.log("x", [1, 2])
    with pytest.raises(InvalidValueError, match="takes one number or string, got ndarray"):
        run.log("x", np.array([1.0, 2.0]))
    with pytest.raises(InvalidValueError, match="must be a number, got object"):
        run.log("x", object())
    with pytest.raises(InvalidValueError, match="too large for a 64-bit float"):
        run.log("x", 10**400)
    with pytest.raises(InvalidValueError, match="step must be a finite number"):
        run.log("x", 1.0, step=math.nan)
    with pytest.raises(InvalidValueError, match="step must be a number, got str"):
        run.log("x", 1.0, step="1")
    with pytest.raises(InvalidValueError, match=r"Fib\[2\] must be a number, got str"):
        run.log_list("Fib", [1, 2, "three"])
    with pytest.raises(InvalidValueError, match="takes a list of numbers, got str"):
        run.log_list("Fib", "123")
    with pytest.raises(InvalidValueError, match="column 'b' of row 'r' must be a number, got list"):
        run.log_row("r", a=1, b=[1, 2])
    with pytest.raises(InvalidValueError, match="needs at least one column"):
        run.log_row("r")
    with pytest.raises(InvalidValueError, match=r"equal lengths, got \{'a': 2, 'b': 3\}"):
        run.log_table("t", {"a": [1, 2], "b": [1, 2, 3]})
    with pytest.raises(InvalidValueError, match="non-empty dict"):
        run.log_table("t", [1, 2])
    with pytest.raises(InvalidValueError, match="tags must be a dict"):
        run.set_tags(["a"])
    with pytest.raises(InvalidValueError, match="tag 'k' must be a string, number or bool"):
        run.set_tags({"k": {"nested": 1}})
    with pytest.raises(InvalidValueError, match="Experiment takes a Workspace first"):
        Experiment("name-only")
    with pytest.raises(InvalidValueError, match="store must be a URI string or a RunStore"):
        Workspace(3)
    # None of the refused calls stored anything.
    run.complete()
    assert run.get_metrics() == {}


def test_offline_context_outside_a_submitted_run(monkeypatch, caplog):
    from runwidget.tracking import context

    monkeypatch.delenv("RUNWIDGET_RUN_ID", raising=False)
    context._reset_context()
    try:
        with caplog.at_level("WARNING", logger="runwidget"):
            run = Run.get_context()
            assert Run.get_context() is run
        assert sum("offline run" in r.message for r in caplog.records) == 1
        run.log("x", 1.0)
        assert run.get_metrics() == {"x": 1.0}
    finally:
        context._reset_context()
