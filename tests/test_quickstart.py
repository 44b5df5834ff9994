"""notebooks/quickstart.ipynb runs top to bottom in a real kernel."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "quickstart.ipynb"

# Appended: wait for the run, then check what the widget ends with.
CHECK = """
run.wait_for_completion()
for _ in range(100):
    if not details.polling:
        break
    time.sleep(0.1)
data = details.get_widget_data()
print(data["header"]["status"], details.polling, len(data["children"]["rows"]),
      sorted(c["name"] for c in data["charts"]),
      [t.name for t in threading.enumerate() if t.name.startswith("runwidget-poll")])
"""


@pytest.mark.slow
def test_quickstart_runs_in_a_kernel(tmp_path: Path) -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    # The demo's pace, made quick: 12 epochs, short pauses.
    train = next(c for c in nb.cells if "def train(" in c.source)
    assert "def train(epochs=40, pause=0.5):" in train.source
    train.source = train.source.replace("epochs=40, pause=0.5", "epochs=12, pause=0.05")
    show = next(c for c in nb.cells if "RunDetails(run" in c.source)
    show.source = show.source.replace("interval=2", "interval=0.5")
    nb.cells.append(nbformat.v4.new_code_cell(CHECK))

    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    ).execute()

    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    shown = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(shown) == 1
    assert "tiny-mlp on moons" in shown[0]["data"]["text/html"]
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "Completed False 1 ['accuracy', 'loss'] []" in printed
