"""notebooks/hyperdrive.ipynb, a sweep written as the reference's tutorials write one, runs
top to bottom in a real kernel: 8 local children, 2 at a time, the best one found."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from runwidget import Workspace
from runwidget import status as st
from runwidget.hyperdrive import HyperDriveRun
from runwidget.store import RunType
from tests.local_runs import stop_left_running

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "hyperdrive.ipynb"
TERMINAL = (st.COMPLETED, st.FAILED, st.CANCELED)


def _sweeps() -> list[HyperDriveRun]:
    experiment = Workspace().experiments().get("hyperdrive-ridge")
    if experiment is None:
        return []
    return [
        HyperDriveRun(experiment, r.id) for r in experiment.get_runs() if r.type == RunType.SWEEP
    ]


@pytest.mark.slow
def test_the_hyperdrive_notebook_runs_a_sweep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    src = next(c for c in nb.cells if "ScriptRunConfig(" in c.source and "arguments=" in c.source)
    assert '"--pause", 0.3' in src.source
    src.source = src.source.replace('"--pause", 0.3', '"--pause", 0.05')
    # The kernel inherits this environment: the test's store, its own local-run folder, and
    # room for the driver and its two children.
    monkeypatch.setenv("RUNWIDGET_EXEC_DIR", str(tmp_path / "exec"))
    monkeypatch.setenv("RUNWIDGET_MAX_LOCAL_RUNS", "6")
    monkeypatch.setenv("RUNWIDGET_HEARTBEAT_INTERVAL", "0.5")
    monkeypatch.setenv("RUNWIDGET_CANCEL_GRACE", "3")
    try:
        NotebookClient(
            nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
        ).execute()
    finally:
        for sweep in _sweeps():
            stop_left_running([sweep, *sweep.get_children()], script_group=True)

    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    errors = [o for o in outputs if o.output_type == "error"]
    assert not errors, "\n".join(errors[0]["traceback"]) if errors else ""
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    shown = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(shown) == 1
    assert (tmp_path / "hyperdrive_demo" / "train.py").exists()

    (sweep,) = _sweeps()
    assert sweep.get_status() == st.COMPLETED
    children = sweep.get_children()
    assert len(children) == 8
    assert all(c.get_status() in TERMINAL for c in children)
    assert any(c.get_status() == st.COMPLETED for c in children)
    # The driver's output, streamed by wait_for_completion(show_output=True).
    assert "8 children, 2 at a time" in printed and "sweep ended: 8 children" in printed
    best = sweep.get_best_run_by_primary_metric()
    scores = {c.id: min(c.get_metrics("mse")["mse"]) for c in children}
    assert best is not None and best.id == min(scores, key=scores.get)
    assert f"Best run: {best.id}" in printed
    assert f"  mse: {scores[best.id]}" in printed
    assert "'--alpha'" in printed and "'--learning-rate'" in printed
    assert printed.count(" {'alpha': ") == 3  # the top 3, with their hyperparameters
