"""notebooks/compute.ipynb runs top to bottom in a real kernel, with its run on the test's
real Ray cluster."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from runwidget import Workspace
from runwidget import status as st
from tests.ray_cluster import running_ray_cluster

pytestmark = [pytest.mark.ray, pytest.mark.slow]

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "compute.ipynb"

# Appended: what the widget ends with once the run has ended.
CHECK = """
import time
for _ in range(100):
    if not details.polling:
        break
    time.sleep(0.1)
data = details.get_widget_data()
print("widget:", data["header"]["status"], details.polling,
      sorted(c["name"] for c in data["charts"]))
"""


def test_compute_notebook_runs_a_script_on_ray(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    submit = next(c for c in nb.cells if ".submit(config)" in c.source)
    assert '"--epochs", 30, "--pause", 0.5' in submit.source
    submit.source = submit.source.replace(
        '"--epochs", 30, "--pause", 0.5', '"--epochs", 8, "--pause", 0.05'
    )
    search = next(c for c in nb.cells if "AutoMLConfig(" in c.source and "iterations=6" in c.source)
    search.source = search.source.replace("iterations=6", "iterations=4")
    # The check goes after the script run's cells, before the search.
    nb.cells.insert(nb.cells.index(search) - 1, nbformat.v4.new_code_cell(CHECK))

    with running_ray_cluster() as cluster:
        # The kernel inherits this process's environment: the cluster's address and the
        # test's own store (an SQLite file, which a cluster on this machine can open).
        monkeypatch.setenv("RAY_DASHBOARD", cluster.address)
        NotebookClient(
            nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
        ).execute()

    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert f"ray      ray    {cluster.address}" in printed and "reachable" in printed
    assert "local    local" in printed
    assert (tmp_path / "ray_demo" / "train.py").exists()
    shown = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(shown) == 2  # the script run's widget and the search's
    # The job's output, streamed by wait_for_completion(show_output=True).
    assert "epoch   0  loss 1.2" in printed and "epoch   7  loss" in printed
    assert "done" in printed
    assert "Completed on ray" in printed
    assert "widget: Completed False ['loss']" in printed

    assert "Completed on ray - best:" in printed
    (search_run,) = list(Workspace().experiments()["automl-on-ray"].get_runs())
    assert len(search_run.get_children()) == 4
    (run,) = list(Workspace().experiments()["on-ray"].get_runs())
    assert run.get_status() == st.COMPLETED
    assert len(run.get_metrics()["loss"]) == 8
