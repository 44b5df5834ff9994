"""Framework integrations benchmark: what each one costs per logged step, next to the
framework's own step on the tiny model of the tests, and next to MLflow's autolog for the
same framework.

Prints figures measured side by side in one process on this machine (CPU). Not a test: the
machines are shared and noisy, so compare the ratios, and run it twice if in doubt.

    python bench/bench_integrations.py [--repeat 5] [--only xgboost,keras]

For each framework the same training runs three ways, each ``--repeat`` times (median):
without any logging (the framework's own time per step), with runwidget's integration, and
with MLflow's autolog (``mlflow.<flavor>.autolog(log_models=False)``; for Transformers,
whose MLflow autolog does not follow a Trainer, the Trainer's own ``report_to="mlflow"``).
Every step logs: one boosting round, one Keras batch (``batch_interval=0``, the most it
logs) and epoch, one Lightning step (``log_every_n_steps=1``), one Transformers step
(``logging_steps=1``). A training's time includes creating and ending its run, the
writes still in flight at its end, and (for MLflow) its autolog's own set-up. runwidget
writes to an SQLite store, MLflow to an SQLite tracking store, both in one temp dir. A last
table gives the CPU time spent inside runwidget's own callback methods per logged step: what
the training loop waits for, steadier on a busy machine than the differences above.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "torch")
warnings.filterwarnings("ignore")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TMP = Path(tempfile.mkdtemp(prefix="bench-integrations-"))
os.environ["RUNWIDGET_STORE"] = f"sqlite:///{TMP}/runs.db"
os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{TMP}/mlflow.db"
os.chdir(TMP)  # the outputs folders and checkpoints of the runs

Training = Callable[[str], None]  # "none", "runwidget" or "mlflow"


def quiet() -> contextlib.AbstractContextManager[Any]:
    """Silence what the frameworks print (progress, tips) while a training runs."""
    stack = contextlib.ExitStack()
    stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
    stack.enter_context(contextlib.redirect_stderr(io.StringIO()))
    return stack


def xgboost_training(steps: int) -> Training:
    import xgboost as xgb
    from sklearn.datasets import load_diabetes

    from runwidget.integrations.xgboost import RunwidgetCallback

    x, y = load_diabetes(return_X_y=True)
    train, valid = xgb.DMatrix(x[:300], y[:300]), xgb.DMatrix(x[300:], y[300:])

    def fit(how: str) -> None:
        import mlflow

        callbacks = [RunwidgetCallback()] if how == "runwidget" else []
        with autolog(mlflow.xgboost if how == "mlflow" else None):
            xgb.train({"max_depth": 3, "eta": 0.1}, train, num_boost_round=steps,
                      evals=[(train, "train"), (valid, "valid")], verbose_eval=False,
                      callbacks=callbacks)  # fmt: skip

    return fit


def lightgbm_training(steps: int) -> Training:
    import lightgbm as lgb
    from sklearn.datasets import load_breast_cancer

    from runwidget.integrations.lightgbm import RunwidgetCallback

    x, y = load_breast_cancer(return_X_y=True)
    train = lgb.Dataset(x[:400], y[:400], free_raw_data=False)
    valid = lgb.Dataset(x[400:], y[400:], reference=train, free_raw_data=False)

    def fit(how: str) -> None:
        import mlflow

        callbacks = [RunwidgetCallback()] if how == "runwidget" else []
        with autolog(mlflow.lightgbm if how == "mlflow" else None):
            lgb.train({"objective": "binary", "num_leaves": 7, "verbose": -1}, train,
                      num_boost_round=steps, valid_sets=[train, valid],
                      valid_names=["train", "valid"], callbacks=callbacks)  # fmt: skip

    return fit


def keras_training(steps: int) -> Training:
    import keras
    import numpy as np

    from runwidget.integrations.keras import RunwidgetCallback

    x = np.random.default_rng(0).normal(size=(steps * 8, 4)).astype("float32")

    def fit(how: str) -> None:
        import mlflow

        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)]
        )
        model.compile(optimizer="adam", loss="mse")
        callbacks = [RunwidgetCallback(batch_interval=0)] if how == "runwidget" else []
        # MLflow's Keras autolog logs every batch with log_every_n_steps=1, as runwidget here.
        with autolog(mlflow.keras if how == "mlflow" else None, log_every_n_steps=1):
            model.fit(x, x.sum(1), epochs=2, batch_size=16, verbose=0, callbacks=callbacks)

    return fit


def lightning_training(steps: int) -> Training:
    import lightning as L  # noqa: N812 - the package's usual name
    import torch
    from torch import nn

    from runwidget.integrations.lightning import RunwidgetLogger

    class TwoLayers(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.save_hyperparameters()
            self.net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))

        def training_step(self, batch: Any, index: int) -> torch.Tensor:
            x, y = batch
            loss = nn.functional.mse_loss(self.net(x), y)
            self.log("train_loss", loss)
            return loss

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.05)

    inputs = torch.randn(steps * 8, 4, generator=torch.Generator().manual_seed(0))
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(inputs, inputs.sum(1, keepdim=True)), batch_size=8
    )

    def fit(how: str) -> None:
        import mlflow

        logger: Any = RunwidgetLogger() if how == "runwidget" else False
        with autolog(mlflow.pytorch if how == "mlflow" else None, log_every_n_step=1):
            L.Trainer(max_epochs=1, logger=logger, log_every_n_steps=1, accelerator="cpu",
                      enable_progress_bar=False, enable_model_summary=False,
                      enable_checkpointing=False).fit(TwoLayers(), loader)  # fmt: skip

    return fit


def transformers_training(steps: int) -> Training:
    import torch
    import transformers

    from runwidget.integrations.transformers import RunwidgetCallback

    transformers.logging.set_verbosity_error()
    config = transformers.BertConfig(
        vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=16, num_labels=2,
    )  # fmt: skip
    ids = torch.randint(0, 50, (steps * 4, 8), generator=torch.Generator().manual_seed(0))
    data = [{"input_ids": r, "attention_mask": torch.ones(8, dtype=torch.long),
             "labels": int(r[0] % 2)} for r in ids]  # fmt: skip

    def fit(how: str) -> None:
        import mlflow

        torch.manual_seed(0)
        args = transformers.TrainingArguments(
            output_dir=str(TMP / "hf"), max_steps=steps, logging_steps=1,
            per_device_train_batch_size=4, save_strategy="no", use_cpu=True, disable_tqdm=True,
            report_to=["mlflow"] if how == "mlflow" else [],
        )  # fmt: skip
        callbacks = [RunwidgetCallback()] if how == "runwidget" else []
        trainer = transformers.Trainer(
            model=transformers.BertForSequenceClassification(config), args=args,
            train_dataset=data, callbacks=callbacks,
        )  # fmt: skip
        trainer.train()
        if how == "mlflow" and mlflow.active_run() is not None:
            mlflow.end_run()

    return fit


@contextlib.contextmanager
def autolog(flavor: Any, **kwargs: Any) -> Any:
    """MLflow's autolog of ``flavor`` for the block (nothing when None), in a run of its own
    that ends with the block, as runwidget's run does."""
    if flavor is None:
        yield
        return
    import inspect

    import mlflow

    accepted = inspect.signature(flavor.autolog).parameters
    options = {k: v for k, v in {"log_models": False, "silent": True, **kwargs}.items()
               if k in accepted}  # fmt: skip
    flavor.autolog(**options)
    try:
        with mlflow.start_run():
            yield
    finally:
        flavor.autolog(disable=True)


FRAMEWORKS: dict[str, tuple[Callable[[int], Training], int, Callable[[int], int], str]] = {
    # name: (training, steps, logged steps of a training, what MLflow's side is)
    "xgboost": (xgboost_training, 200, lambda n: n, "mlflow.xgboost.autolog"),
    "lightgbm": (lightgbm_training, 200, lambda n: n, "mlflow.lightgbm.autolog"),
    "keras": (keras_training, 100, lambda n: n + 2, "mlflow.keras.autolog"),
    "lightning": (lightning_training, 100, lambda n: n, "mlflow.pytorch.autolog"),
    "transformers": (transformers_training, 60, lambda n: n + 1, "Trainer report_to=mlflow"),
}


# The class of each integration, whose methods the training loop waits for.
INTEGRATIONS = {
    "xgboost": ("runwidget.integrations.xgboost", "RunwidgetCallback"),
    "lightgbm": ("runwidget.integrations.lightgbm", "RunwidgetCallback"),
    "keras": ("runwidget.integrations.keras", "RunwidgetCallback"),
    "lightning": ("runwidget.integrations.lightning", "RunwidgetLogger"),
    "transformers": ("runwidget.integrations.transformers", "RunwidgetCallback"),
}


@contextlib.contextmanager
def hooks_timed(name: str, spent: list[float]) -> Any:
    """Add to ``spent[0]`` the CPU time the training spends inside the integration's own
    methods (what the loop waits for; the writer thread's work is not in it)."""
    import importlib

    module, attribute = INTEGRATIONS[name]
    cls = getattr(importlib.import_module(module), attribute)
    originals = {k: v for k, v in vars(cls).items()
                 if callable(v) and (not k.startswith("__") or k == "__call__")}  # fmt: skip

    def wrap(method: Callable[..., Any]) -> Callable[..., Any]:
        def timed_method(*args: Any, **kwargs: Any) -> Any:
            started = time.process_time()
            try:
                return method(*args, **kwargs)
            finally:
                spent[0] += time.process_time() - started

        return timed_method

    for key, method in originals.items():
        setattr(cls, key, wrap(method))
    try:
        yield
    finally:
        for key, method in originals.items():
            setattr(cls, key, method)


def timed(fit: Training, how: str, repeat: int, name: str) -> tuple[float, float, float]:
    """Median CPU time (every thread of this process: runwidget's writer thread counts),
    median wall time, and (runwidget only) median CPU time inside the integration's methods,
    of ``repeat`` trainings."""
    cpu, wall, inside = [], [], []
    for _ in range(repeat):
        spent = [0.0]
        hooks = hooks_timed(name, spent) if how == "runwidget" else contextlib.nullcontext()
        with quiet(), hooks:
            started, started_cpu = time.perf_counter(), time.process_time()
            fit(how)
            cpu.append(time.process_time() - started_cpu)
            wall.append(time.perf_counter() - started)
        inside.append(spent[0])
    return statistics.median(cpu), statistics.median(wall), statistics.median(inside)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", default=",".join(FRAMEWORKS))
    options = parser.parse_args()
    names = [n for n in options.only.split(",") if n]
    unknown = [n for n in names if n not in FRAMEWORKS]
    if unknown:
        parser.error(f"unknown framework(s) {unknown}; choose from {list(FRAMEWORKS)}")
    import torch

    torch.set_num_threads(1)  # a tiny model gains nothing from more; less noise

    rows = []
    for name in names:
        make, steps, logged, mlflow_side = FRAMEWORKS[name]
        fit = make(steps)
        for noisy in ("mlflow", "lightning", "lightning.pytorch"):  # set on their import
            logging.getLogger(noisy).setLevel(logging.ERROR)
        with quiet():
            fit("none")  # warm up: imports, first compilations
            fit("runwidget")
            fit("mlflow")
        base = timed(fit, "none", options.repeat, name)
        with_rw = timed(fit, "runwidget", options.repeat, name)
        with_ml = timed(fit, "mlflow", options.repeat, name)
        rows.append((name, steps, logged(steps), mlflow_side, base, with_rw, with_ml))

    print(f"median of {options.repeat} trainings each; the cost of a logged step is "
          "(time with - time without) / steps logged\n")  # fmt: skip
    for index, clock in enumerate(("CPU time of the process", "wall time")):
        header = (f"{clock:<25}{'steps':>6}{'own step':>11}{'runwidget':>12}{'x step':>8}"
                  f"{'MLflow':>12}{'x step':>8}{'rw/MLflow':>11}")  # fmt: skip
        print(header)
        print("-" * len(header))
        for name, steps, n_logged, _, base, with_rw, with_ml in rows:
            own = base[index] / steps
            per_rw = (with_rw[index] - base[index]) / n_logged
            per_ml = (with_ml[index] - base[index]) / n_logged
            ratio = f"{per_rw / per_ml:10.2f}x" if per_ml > 0 else "        n/a"
            print(
                f"{name:<25}{steps:>6}{own * 1e3:>8.3f} ms{per_rw * 1e3:>9.3f} ms"
                f"{per_rw / own:>7.2f}x{per_ml * 1e3:>9.3f} ms{per_ml / own:>7.2f}x{ratio}"
            )
        print()
    print("inside runwidget's own methods (what the training loop waits for), CPU time")
    for name, steps, n_logged, _, base, with_rw, _ in rows:
        own = base[0] / steps
        per = with_rw[2] / n_logged
        print(f"{name:<25}{per * 1e3:>8.3f} ms per logged step, {per / own:6.3f}x the own step")
    print()
    for name, _, _, mlflow_side, *_ in rows:
        print(f"MLflow's side for {name}: {mlflow_side}")
    print(f"stores in {TMP}")


if __name__ == "__main__":
    main()
