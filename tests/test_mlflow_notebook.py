"""notebooks/mlflow.ipynb runs top to bottom in a real kernel and ends Completed."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytest.importorskip("mlflow")

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "mlflow.ipynb"

CHECK = """
for _ in range(600):
    if not details.polling:
        break
    time.sleep(0.1)
data = details.get_widget_data()
print(data["header"]["status"], details.polling, len(data["children"]["rows"]),
      sorted(c["name"] for c in data["charts"]))
"""


@pytest.mark.slow
def test_mlflow_notebook_runs_in_a_kernel(tmp_path: Path) -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    train = next(c for c in nb.cells if "def train(" in c.source)
    assert "def train(folds=3, epochs=30, pause=0.2):" in train.source
    train.source = train.source.replace("epochs=30, pause=0.2", "epochs=5, pause=0.05")
    show = next(c for c in nb.cells if "RunDetails.from_mlflow(" in c.source)
    show.source = show.source.replace("interval=2", "interval=0.5")
    nb.cells.append(nbformat.v4.new_code_cell(CHECK))

    NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    ).execute()

    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    shown = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(shown) == 1
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "Completed False 3 ['cv_loss']" in printed
