"""notebooks/integrations.ipynb runs top to bottom in a real kernel: a tiny model trained with
each framework, each shown live by RunDetails, each run Completed with its metrics; and in a
kernel too, a training whose framework reports no exception to its callbacks ends Failed (or
Canceled) when its cell fails, and Completed when an early-stopped cell ends."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from runwidget import Experiment
from runwidget import status as st

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "integrations.ipynb"
FRAMEWORKS = ["xgboost", "lightgbm", "keras", "lightning", "transformers"]

CHECK = """
import json
for _ in range(300):
    if not any(details.polling for _, details in shown.values()):
        break
    time.sleep(0.1)
print("RESULT", json.dumps({
    name: {"status": details.get_widget_data()["header"]["status"], "polling": details.polling,
           "charts": sorted(c["name"] for c in details.get_widget_data()["charts"])}
    for name, (run, details) in shown.items()
}))
"""


def _execute(nb: nbformat.NotebookNode, tmp_path: Path, *, allow_errors: bool = False) -> list:
    NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        allow_errors=allow_errors,
        resources={"metadata": {"path": tmp_path}},
    ).execute()
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]


@pytest.mark.slow
def test_the_integrations_notebook_trains_with_each_framework_live(tmp_path: Path) -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    first = next(c for c in nb.cells if "PAUSE = 0.05" in c.source)
    first.source = first.source.replace("PAUSE = 0.05", "PAUSE = 0.01")
    nb.cells.append(nbformat.v4.new_code_cell(CHECK))
    outputs = _execute(nb, tmp_path)

    errors = [o for o in outputs if o.output_type == "error"]
    assert not errors, "\n".join(errors[0]["traceback"]) if errors else ""
    shown = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(shown) == len(FRAMEWORKS)
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    result = json.loads(printed.split("RESULT ", 1)[1].splitlines()[0])
    assert list(result) == FRAMEWORKS
    for framework, seen in result.items():
        assert seen["status"] == st.COMPLETED and not seen["polling"], (framework, seen)
        assert f"{framework:>12}  Completed" in printed
    charts = {name: seen["charts"] for name, seen in result.items()}
    assert {"train-rmse", "valid-rmse"} <= set(charts["xgboost"])
    assert {"train-auc", "valid-binary_logloss"} <= set(charts["lightgbm"])
    assert {"loss", "val_loss", "batch/loss"} <= set(charts["keras"])
    assert {"train_loss", "val_loss"} <= set(charts["lightning"])
    assert {"train/loss", "eval/loss"} <= set(charts["transformers"])
    for framework in FRAMEWORKS:
        (run,) = Experiment(name=framework).get_runs()
        assert run.get_status() == st.COMPLETED and run.get_properties()
    # Beside the notebook: only ./outputs (which git ignores there) and the test's store.
    left = [p.name for p in tmp_path.iterdir() if not p.name.startswith("default.db")]
    assert left == ["outputs"]


FAILING_CELLS = [
    """
import os
os.environ["KERAS_BACKEND"] = "torch"
import keras, numpy as np
from runwidget.integrations.keras import RunwidgetCallback
x = np.ones((64, 4), dtype="float32")
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
model.compile(optimizer="sgd", loss="mse")
def boom(batch, logs):
    if batch == 3:
        raise ValueError("a bad batch")
keras_callback = RunwidgetCallback(experiment="in-a-kernel", display_name="fails")
model.fit(x, x.sum(1), epochs=2, batch_size=4, verbose=0,
          callbacks=[keras_callback, keras.callbacks.LambdaCallback(on_batch_end=boom)])
""",
    """
import lightgbm as lgb
from sklearn.datasets import load_breast_cancer
from runwidget.integrations.lightgbm import RunwidgetCallback
x, y = load_breast_cancer(return_X_y=True)
data = lgb.Dataset(x[:400], y[:400])
valid = lgb.Dataset(x[400:], y[400:], reference=data)
def interrupt(env):
    if env.iteration == 2:
        raise KeyboardInterrupt
lgb.train({"objective": "binary", "verbose": -1}, data, num_boost_round=50,
          valid_sets=[valid], callbacks=[RunwidgetCallback(experiment="in-a-kernel",
          display_name="interrupted"), interrupt])
""",
    """
stopped = RunwidgetCallback(experiment="in-a-kernel", display_name="stopped early")
booster = lgb.train({"objective": "binary", "verbose": -1, "learning_rate": 0.9}, data,
                    num_boost_round=500, valid_sets=[valid],
                    callbacks=[stopped, lgb.early_stopping(2, verbose=False)])
print("running after training:", stopped.run.get_status())
""",
    """
print("after the cell:", stopped.run.get_status())
""",
]


@pytest.mark.slow
def test_a_failed_cell_ends_the_run_its_framework_did_not_end(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in FAILING_CELLS])
    outputs = _execute(nb, tmp_path, allow_errors=True)
    errors = [o["ename"] for o in outputs if o.output_type == "error"]
    assert errors == ["ValueError", "KeyboardInterrupt"]
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "running after training: Running" in printed
    assert "after the cell: Completed" in printed
    runs = {r.display_name: r for r in Experiment(name="in-a-kernel").get_runs()}
    assert runs["fails"].get_status() == st.FAILED
    error = runs["fails"].get_details()["error"]
    assert error["message"] == "ValueError: a bad batch"
    assert 'raise ValueError("a bad batch")' in error["traceback"]
    assert runs["interrupted"].get_status() == st.CANCELED
    assert runs["stopped early"].get_status() == st.COMPLETED
