"""notebooks/coming_from_v1.ipynb, the v1 tutorials' flows with v1's names, runs top to
bottom in a real kernel."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from runwidget import Experiment, Workspace

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "coming_from_v1.ipynb"


@pytest.mark.slow
def test_the_migration_notebook_runs_in_a_kernel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    # The kernel inherits this environment: the test's store, its own local-run folder.
    monkeypatch.setenv("RUNWIDGET_EXEC_DIR", str(tmp_path / "exec"))
    monkeypatch.setenv("RUNWIDGET_HEARTBEAT_INTERVAL", "0.2")
    NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    ).execute()

    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    errors = [o for o in outputs if o.output_type == "error"]
    assert not errors, errors[0]["traceback"] if errors else ""
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert re.search(r"SDK version: \d", printed)
    # Interactive logging: ./outputs stored at the end.
    assert "Completed\n['outputs/model.txt']" in printed
    # The submitted script.
    assert "alpha=0.5 mse=" in printed and "Execution Summary" in printed
    assert "Status: Completed" in printed
    # Children, snapshot, tags, properties (the immutable one's error printed), outputs.
    assert "children: 4" in printed
    assert "snapshot: ['train.py']" in printed
    assert "{'quality': 'great run', 'model': 'least squares'}" in printed
    assert "property 'author'" in printed and "cannot change once set" in printed
    assert "by property: [True]" in printed
    assert "slope=" in printed
    assert "['notes/readme.txt', 'results/summary.txt']" in printed
    assert "Completed local" in printed  # Run(experiment, run_id) as in v1
    # Rich metrics: a confusion matrix of true (rows) and predicted classes.
    assert "confusion matrix: [[2, 1, 0], [1, 3, 0], [1, 0, 2]]" in printed
    # The model registry: versions counting up, listed newest first, downloaded back.
    assert "least-squares\tleast-squares:1\t1" in printed
    assert "latest: 2" in printed
    assert (
        "least-squares version: 2 {'area': 'tutorial'}\n"
        "least-squares version: 1 {'area': 'tutorial'}\n"
    ) in printed
    assert re.search(r"downloaded: slope=\d", printed)
    assert (tmp_path / "models" / "model.txt").is_file()
    shown = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(shown) == 3

    runs = list(Experiment(Workspace(), "coming-from-v1").get_runs(include_children=True))
    assert len(runs) == 9 and {r.get_status() for r in runs} == {"Completed"}
