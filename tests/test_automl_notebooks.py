"""notebooks/automl.ipynb and notebooks/optuna.ipynb run top to bottom in a real kernel."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"

pytestmark = pytest.mark.slow


def execute(nb: nbformat.NotebookNode, cwd: Path) -> tuple[list, str]:
    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": cwd}}
    ).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    errors = [o for o in outputs if o.output_type == "error"]
    assert not errors, "\n".join("\n".join(e.get("traceback", [])) for e in errors)
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    return outputs, printed


def code_cell(nb: nbformat.NotebookNode, text: str) -> nbformat.NotebookNode:
    return next(c for c in nb.cells if c.cell_type == "code" and text in c.source)


def replace(cell: nbformat.NotebookNode, old: str, new: str) -> None:
    assert old in cell.source, (old, cell.source)
    cell.source = cell.source.replace(old, new)


AUTOML_CHECK = """
import threading, time
for _ in range(300):
    if not details.polling:
        break
    time.sleep(0.1)
data = details.get_widget_data()
meta = data["iterations"]
print("CHECK", data["header"]["status"], details.polling, meta["kind"], meta["primary_metric"],
      len(data["children"]["rows"]), meta["best"]["id"] == best_run.id,
      [t.name for t in threading.enumerate() if t.name.startswith("runwidget-poll")])
"""


def test_automl_notebook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNWIDGET_EXEC_DIR", str(tmp_path / "exec"))
    nb = nbformat.read(NOTEBOOKS / "automl.ipynb", as_version=4)
    config = code_cell(nb, "AutoMLConfig(")
    replace(config, "iterations=20,", "iterations=4, allowed_models=['LogisticRegression', 'KNN'],")
    show = code_cell(nb, "RunDetails(run")
    replace(show, "interval=2", "interval=0.5")
    nb.cells.append(nbformat.v4.new_code_cell(AUTOML_CHECK))

    outputs, printed = execute(nb, tmp_path)

    shown = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(shown) == 1
    assert "CHECK Completed False automl AUC_weighted 4 True []" in printed
    predictions = [o for o in outputs if o.output_type == "execute_result"][-1]
    assert "array([" in predictions["data"]["text/plain"]


OPTUNA_CHECK = """
optimizer.join()
for _ in range(300):
    if not details.polling:
        break
    time.sleep(0.1)
data = details.get_widget_data()
meta = data["iterations"]
print("CHECK", data["header"]["status"], details.polling, meta["kind"], meta["primary_metric"],
      len(data["children"]["rows"]), meta["best"]["value"] == study.best_value,
      callback.run.get_status(), len(callback.run.get_children()))
"""


def test_optuna_notebook(tmp_path: Path) -> None:
    nb = nbformat.read(NOTEBOOKS / "optuna.ipynb", as_version=4)
    study_cell = code_cell(nb, "create_study(")
    replace(study_cell, '"n_trials": 40', '"n_trials": 8')
    replace(study_cell, "time.sleep(0.1)", "time.sleep(0.01)")
    show = code_cell(nb, "RunDetails(study")
    replace(
        show,
        "details = RunDetails(study, interval=2)",
        "from runwidget.sources.optuna import OptunaSource\n"
        "details = RunDetails(OptunaSource(study, idle_timeout=1), interval=0.5)",
    )
    recorded = code_cell(nb, "RunwidgetCallback(")
    replace(recorded, "n_trials=10", "n_trials=3")
    nb.cells.append(nbformat.v4.new_code_cell(OPTUNA_CHECK))

    outputs, printed = execute(nb, tmp_path)

    shown = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(shown) == 2
    assert "CHECK Completed False sweep value 8 True Completed 3" in printed
