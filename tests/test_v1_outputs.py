"""Outputs and failures as a reference (Azure ML v1) SDK user sees them."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from runwidget import Experiment, InvalidValueError, RunFailedError, ScriptRunConfig, Workspace
from tests.local_runs import script


@pytest.fixture
def exp(sqlite_uri: str) -> Experiment:
    return Experiment(workspace=Workspace(sqlite_uri), name="v1-outputs")


# -- ./outputs of an interactive run ------------------------------------------------------------
def test_files_written_to_outputs_are_stored_when_the_run_ends(
    exp: Experiment, tmp_path: Path
) -> None:
    run = exp.start_logging()
    assert (tmp_path / "outputs").is_dir()  # created, as v1 did
    (tmp_path / "outputs" / "model.pkl").write_bytes(b"model")
    (tmp_path / "outputs" / "plots").mkdir()
    (tmp_path / "outputs" / "plots" / "loss.txt").write_text("0.1\n")
    run.log("accuracy", 0.9)
    run.complete()
    assert run.get_file_names() == ["outputs/model.pkl", "outputs/plots/loss.txt"]
    run.download_file("outputs/model.pkl", tmp_path / "back.pkl")
    assert (tmp_path / "back.pkl").read_bytes() == b"model"


def test_a_file_the_user_uploaded_is_kept_as_uploaded(exp: Experiment, tmp_path: Path) -> None:
    run = exp.start_logging()
    (tmp_path / "outputs" / "model.pkl").write_bytes(b"model")
    run.upload_file("outputs/model.pkl", "outputs/model.pkl")  # a common v1 line
    run.complete()
    assert run.get_file_names() == ["outputs/model.pkl"]


def test_outputs_false_or_none_tracks_nothing(exp: Experiment, tmp_path: Path) -> None:
    for outputs in (False, None):
        run = exp.start_logging(outputs=outputs)
        assert not (tmp_path / "outputs").exists()
        run.complete()
        assert run.get_file_names() == []


def test_another_outputs_folder(exp: Experiment, tmp_path: Path) -> None:
    with exp.start_logging(outputs="results/run1") as run:
        (tmp_path / "results" / "run1" / "metrics.json").write_text("{}")
    assert run.get_file_names() == ["results/run1/metrics.json"]
    with exp.start_logging(outputs=tmp_path / "elsewhere") as run:
        (tmp_path / "elsewhere" / "a.txt").write_text("a")
    assert run.get_file_names() == ["elsewhere/a.txt"]


def test_a_failed_run_keeps_its_outputs_too(exp: Experiment, tmp_path: Path) -> None:
    with pytest.raises(ValueError), exp.start_logging() as run:
        (tmp_path / "outputs" / "partial.csv").write_text("1\n")
        raise ValueError("diverged")
    assert run.get_status() == "Failed"
    assert run.get_file_names() == ["outputs/partial.csv"]


def test_bad_outputs_are_refused(exp: Experiment, tmp_path: Path) -> None:
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(InvalidValueError, match="is not a folder"):
        exp.start_logging(outputs="a_file")
    with pytest.raises(InvalidValueError, match="outputs must be a folder path"):
        exp.start_logging(outputs=3)
    with pytest.raises(InvalidValueError, match="outputs must be a folder path"):
        exp.start_logging(outputs=True)
    assert list(exp.get_runs()) == []  # no run was left behind


def test_a_submitted_script_still_stores_its_outputs(
    exp: Experiment, tmp_path: Path, submitted
) -> None:
    folder = script(
        tmp_path / "src",
        """
        import os
        from runwidget import Run
        run = Run.get_context()
        os.makedirs("outputs", exist_ok=True)
        with open("outputs/model.pkl", "wb") as f:
            f.write(b"model")
        with open("outputs/uploaded.txt", "w") as f:
            f.write("by hand")
        run.upload_file("outputs/uploaded.txt", "outputs/uploaded.txt")
        """,
    )
    run = exp.submit(ScriptRunConfig(source_directory=folder, script="train.py"))
    run.wait_for_completion()
    assert sorted(run.get_file_names()) == ["outputs/model.pkl", "outputs/uploaded.txt"]
    assert "not stored" not in run.get_details_with_logs()["logFiles"].get(
        "user_logs/std_log.txt", ""
    )


def test_download_files_writes_a_folder_of_the_run_back(exp: Experiment, tmp_path: Path) -> None:
    with exp.start_logging() as run:
        (tmp_path / "outputs" / "plots").mkdir()
        (tmp_path / "outputs" / "model.pkl").write_bytes(b"model")
        (tmp_path / "outputs" / "plots" / "loss.txt").write_text("0.1\n")
        run.upload_file("notes.txt", __file__)
    run.download_files(prefix="outputs", output_directory="results")
    assert (tmp_path / "results" / "outputs" / "model.pkl").read_bytes() == b"model"
    assert (tmp_path / "results" / "outputs" / "plots" / "loss.txt").is_file()
    assert not (tmp_path / "results" / "notes.txt").exists()
    written = run.download_files(prefix="outputs/", output_directory="flat", append_prefix=False)
    assert sorted(written) == [
        str(Path("flat", "model.pkl")),
        str(Path("flat", "plots", "loss.txt")),
    ]
    assert (tmp_path / "flat" / "plots" / "loss.txt").is_file()
    everything = run.download_files(output_directory=tmp_path / "all")
    assert len(everything) == 3 and (tmp_path / "all" / "notes.txt").is_file()
    assert run.download_files(prefix="nothing-here") == []
    run.download_files(prefix="outputs/plots", output_paths=[tmp_path / "loss.csv"])
    assert (tmp_path / "loss.csv").read_text() == "0.1\n"
    with pytest.raises(InvalidValueError, match="one path per file, 2 here"):
        run.download_files(prefix="outputs", output_paths=["a.pkl"])
    with pytest.raises(InvalidValueError, match="prefix must be a string or None, got int"):
        run.download_files(prefix=3)
    with pytest.raises(InvalidValueError, match="output_directory must be a path or None"):
        run.download_files(output_directory=3)


# -- a failed script's error -------------------------------------------------------------------
def test_a_multi_line_exception_is_the_runs_error(
    exp: Experiment, tmp_path: Path, submitted
) -> None:
    folder = script(
        tmp_path / "src",
        """
        import atexit, sys

        atexit.register(lambda: print("warning: 3 files were not closed", file=sys.stderr))

        def check(rows):
            raise ValueError(f"bad\\nsecond line: {rows} rows")

        check(3)
        """,
    )
    out = io.StringIO()
    run = exp.submit(ScriptRunConfig(source_directory=folder, script="train.py"))
    with pytest.raises(RunFailedError) as raised:
        run.wait_for_completion(show_output=True, file=out)
    error = run.get_details()["error"]
    assert error["message"] == "ValueError: bad second line: 3 rows (train.py exited with code 1)"
    assert raised.value.error_message == error["message"]
    assert str(raised.value).count("ValueError: bad second line: 3 rows") >= 1
    assert error["traceback"].startswith("Traceback (most recent call last):")
    assert 'raise ValueError(f"bad\\nsecond line' in error["traceback"]
    assert error["traceback"].endswith("ValueError: bad\nsecond line: 3 rows")
    assert "_bootstrap" not in error["traceback"] and "runpy" not in error["traceback"]
    summary = out.getvalue().split("Execution Summary")[1]
    assert f"Error: {error['message']}" in summary
    assert "warning: 3 files were not closed" in out.getvalue()  # still in the log


def test_an_exception_of_the_scripts_own_module(exp: Experiment, tmp_path: Path, submitted) -> None:
    folder = script(tmp_path / "src", "class DataError(Exception):\n    pass\n", name="checks.py")
    script(folder, "import checks\nraise checks.DataError('no rows')\n")
    run = exp.submit(ScriptRunConfig(source_directory=folder, script="train.py"))
    run.wait_for_completion(raise_on_error=False)
    assert run.get_details()["error"]["message"] == (
        "checks.DataError: no rows (train.py exited with code 1)"
    )


def test_exit_codes_and_prints_still_tell_without_an_exception(
    exp: Experiment, tmp_path: Path, submitted
) -> None:
    folder = script(tmp_path / "src", "import sys\nprint('oops', file=sys.stderr)\nsys.exit(4)\n")
    run = exp.submit(ScriptRunConfig(source_directory=folder, script="train.py"))
    run.wait_for_completion(raise_on_error=False)
    assert run.get_details()["error"]["message"] == "oops (train.py exited with code 4)"


def test_the_recorded_exception_is_preferred_to_stderr() -> None:
    from runwidget.execution.supervisor import describe_failure

    tail = ["Traceback (most recent call last):", '  File "a.py", line 1', "KeyError: 'x'",
            "a warning printed at exit"]  # fmt: skip
    recorded = {"type": "KeyError", "message": "'x'", "traceback": "\n".join(tail[:3]) + "\n"}
    assert describe_failure("a.py", 1, tail, recorded) == {
        "message": "KeyError: 'x' (a.py exited with code 1)",
        "traceback": "\n".join(tail[:3]),
    }
    empty = {"type": "StopIteration", "message": "", "traceback": None}
    assert describe_failure("a.py", 1, [], empty)["message"] == (
        "StopIteration (a.py exited with code 1)"
    )
    assert describe_failure("a.py", 1, tail, "garbage")["message"] == (
        "a warning printed at exit (a.py exited with code 1)"
    )
    killed = describe_failure("a.py", -9, tail, recorded)
    assert killed["message"].endswith("(a.py was killed by SIGKILL (out of memory?))")


def test_a_run_still_ends_when_its_outputs_cannot_be_listed(
    exp: Experiment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runwidget.errors import RunwidgetWarning, StoreUnavailableError

    run = exp.start_logging()
    (tmp_path / "outputs" / "model.pkl").write_bytes(b"model")

    def unreachable(*args, **kwargs):
        raise StoreUnavailableError("the store is down")

    monkeypatch.setattr(run._store, "list_files", unreachable)
    with pytest.warns(RunwidgetWarning, match="the store is down"):
        run.complete()
    monkeypatch.undo()
    assert run.get_status() == "Completed"
    assert (tmp_path / "outputs" / "model.pkl").exists()
