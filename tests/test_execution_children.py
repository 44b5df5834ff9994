"""A submitted script's child runs that its process left open end with the run."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest

from runwidget import Experiment, ScriptRunConfig
from runwidget import status as st

pytestmark = pytest.mark.slow

LEAVES_A_CHILD_OPEN = """
    from runwidget import Run

    run = Run.get_context()
    with run.child_run("done") as child:
        child.log("loss", 0.1)
    open_child = run.child_run("left open")
    open_child.log("loss", 0.2)
    open_child.flush()
    {ending}
"""


@pytest.mark.parametrize(
    ("ending", "parent", "child"),
    [
        ("", st.COMPLETED, st.FAILED),
        ("raise SystemExit(3)", st.FAILED, st.FAILED),
        ("import time; print('waiting', flush=True); time.sleep(60)", st.CANCELED, st.CANCELED),
    ],
)
def test_open_children_end_with_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ending: str, parent: str, child: str
) -> None:
    monkeypatch.setenv("RUNWIDGET_EXEC_DIR", str(tmp_path / "exec"))
    monkeypatch.setenv("RUNWIDGET_CANCEL_GRACE", "2")
    source = tmp_path / "src"
    source.mkdir()
    (source / "train.py").write_text(
        textwrap.dedent(LEAVES_A_CHILD_OPEN.format(ending=ending)).lstrip()
    )
    run = Experiment(name="children").submit(ScriptRunConfig(source, "train.py"))
    if parent == st.CANCELED:
        deadline = time.monotonic() + 60
        while not any(line.text == "waiting" for line in run._store.read_logs(run.id)):
            assert time.monotonic() < deadline, "the script never started"
            time.sleep(0.1)
        run.cancel()
    run.wait_for_completion(raise_on_error=False)
    assert run.get_status() == parent
    children = {c.display_name: c for c in run.get_children()}
    assert children["done"].get_status() == st.COMPLETED
    left = children["left open"]
    assert left.get_status() == child
    assert left.get_metrics() == {"loss": 0.2}
    if child == st.FAILED:
        assert left.get_details()["error"]["message"] == (
            f"the process of run {run.id!r} ended while this child run was still open"
        )
