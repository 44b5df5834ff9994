"""The PyTorch-based integrations with the real frameworks on the CPU: a Transformers model
from a small config (no downloaded weights), a two-layer Lightning module, a small Keras
model (Keras on its torch backend). Metrics are read from another thread while training
runs; the hyperparameters are properties; a training ends Completed, Failed with the
traceback, or Canceled. Keras' exception and interrupt, which Keras reports to no callback,
are in test_integrations (a real process)."""

from __future__ import annotations

import os

os.environ["KERAS_BACKEND"] = "torch"  # before keras is imported: no TensorFlow here

import contextlib
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import keras
import lightning
import numpy as np
import pytest
import pytorch_lightning
import torch
import transformers
from torch import nn

from runwidget import Experiment, Run
from runwidget import status as st
from runwidget.errors import InvalidValueError
from runwidget.integrations.keras import RunwidgetCallback as KerasCallback
from runwidget.integrations.lightning import RunwidgetLogger
from runwidget.integrations.transformers import RunwidgetCallback as TransformersCallback
from runwidget.integrations.transformers import metric_name
from runwidget.store import RunType
from tests.test_integrations import ROOT, LiveReader, steps_of

transformers.logging.set_verbosity_error()


@pytest.fixture(autouse=True)
def _fast_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNWIDGET_FLUSH_INTERVAL", "0.05")
    torch.manual_seed(0)


# -- Transformers -------------------------------------------------------------------------------
def tiny_bert() -> transformers.BertForSequenceClassification:
    config = transformers.BertConfig(
        vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=16, num_labels=2,
    )  # fmt: skip
    return transformers.BertForSequenceClassification(config)


def token_data(n: int = 64) -> list[dict[str, Any]]:
    ids = torch.randint(0, 50, (n, 8), generator=torch.Generator().manual_seed(0))
    return [{"input_ids": ids[i], "attention_mask": torch.ones(8, dtype=torch.long),
             "labels": int(ids[i, 0] % 2)} for i in range(n)]  # fmt: skip


def training_args(tmp_path: Path, **kwargs: Any) -> transformers.TrainingArguments:
    defaults: dict[str, Any] = dict(
        output_dir=str(tmp_path / "out"), max_steps=6, logging_steps=1, eval_strategy="steps",
        eval_steps=3, per_device_train_batch_size=8, learning_rate=1e-3, report_to=[],
        save_strategy="no", use_cpu=True, disable_tqdm=True,
    )  # fmt: skip
    return transformers.TrainingArguments(**{**defaults, **kwargs})


class Act(transformers.TrainerCallback):
    """Does ``action`` at the end of step ``at``."""

    def __init__(self, at: int, action: Any) -> None:
        self.at, self.action, self.result = at, action, None

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.global_step == self.at:
            self.result = self.action()


def trainer(tmp_path: Path, *callbacks: Any, **kwargs: Any) -> transformers.Trainer:
    data = token_data()
    return transformers.Trainer(
        model=kwargs.pop("model", None) or tiny_bert(),
        args=training_args(tmp_path, **kwargs),
        train_dataset=data[:48],
        eval_dataset=data[48:],
        callbacks=list(callbacks),
    )


def test_transformers_metric_names_keep_train_and_eval_apart() -> None:
    assert metric_name("loss") == "train/loss"
    assert metric_name("eval_loss") == "eval/loss"
    assert metric_name("eval_accuracy") == "eval/accuracy"
    assert metric_name("test_f1") == "test/f1"
    assert metric_name("train_runtime") == "train/train_runtime"


def test_transformers_logs_the_trainer_live_with_the_global_step(tmp_path: Path) -> None:
    callback = TransformersCallback()
    with LiveReader(callback.run.id) as reader:
        # on_step_end comes before that step's logs: at step 5, step 4 is logged.
        pace = Act(5, lambda: reader.seen("train/loss", 4) and reader.seen("eval/loss", 3))
        trainer(tmp_path, callback, pace).train()
    assert pace.result, "step 4 was not in the store while training ran"
    assert reader.ended_at_first_sight[("train/loss", 4.0)] == st.RUNNING
    run = callback.run
    assert run.get_status() == st.COMPLETED
    assert run.experiment.name == "transformers"
    assert steps_of(run, "train/loss") == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert steps_of(run, "eval/loss") == [3.0, 6.0]
    metrics = run.get_metrics()
    assert {"train/learning_rate", "train/grad_norm", "eval/runtime", "train/train_loss"} <= set(
        metrics
    )
    assert not any(name.startswith("train/eval") for name in metrics)
    assert metrics["train/learning_rate"][0] == pytest.approx(1e-3)
    props = run.get_properties()
    assert props["args.learning_rate"] == 1e-3 and props["args.max_steps"] == 6
    assert props["args.per_device_train_batch_size"] == 8
    assert props["config.hidden_size"] == 16 and props["config.model_type"] == "bert"


def test_transformers_an_exception_fails_the_run_with_the_traceback(tmp_path: Path) -> None:
    callback = TransformersCallback()

    def boom() -> None:
        raise ValueError("gradient exploded")

    with pytest.raises(ValueError, match="gradient exploded"):
        trainer(tmp_path, callback, Act(2, boom)).train()
    run = callback.run
    assert run.get_status() == st.FAILED
    error = run.get_details()["error"]
    assert error["message"] == "ValueError: gradient exploded"
    assert 'raise ValueError("gradient exploded")' in error["traceback"]
    assert steps_of(run, "train/loss") == [1.0]  # step 2 failed before its logs


def test_transformers_a_keyboard_interrupt_cancels_the_run(tmp_path: Path) -> None:
    callback = TransformersCallback()

    def interrupt() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        trainer(tmp_path, callback, Act(2, interrupt)).train()
    assert callback.run.get_status() == st.CANCELED


def test_transformers_evaluate_after_train_inside_the_block(tmp_path: Path) -> None:
    callback = TransformersCallback()
    with callback:
        t = trainer(tmp_path, callback, eval_strategy="no")
        t.train()
        assert callback.run.get_status() == st.RUNNING
        t.evaluate()
    run = callback.run
    assert run.get_status() == st.COMPLETED
    assert steps_of(run, "eval/loss") == [6.0]


def test_transformers_a_trial_per_child_run_in_a_hyperparameter_search(tmp_path: Path) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    callback = TransformersCallback()
    t = transformers.Trainer(
        model_init=tiny_bert,
        args=training_args(tmp_path, max_steps=3, eval_strategy="no"),
        train_dataset=token_data()[:48],
        eval_dataset=token_data()[48:],
        callbacks=[callback],
    )
    best = t.hyperparameter_search(
        hp_space=lambda trial: {"learning_rate": trial.suggest_float("learning_rate", 1e-4, 1e-2)},
        backend="optuna",
        n_trials=3,
        direction="minimize",
    )
    sweep = callback.run
    assert sweep.type == RunType.SWEEP and sweep.get_status() == st.COMPLETED
    props = sweep.get_properties()
    assert props["primary_metric"] == "objective" and props["goal"] == "minimize"
    children = sorted(sweep.get_children(), key=lambda r: r.get_properties()["iteration"])
    assert [c.get_properties()["iteration"] for c in children] == [0, 1, 2]
    assert all(c.get_status() == st.COMPLETED for c in children)
    rates = [c.get_properties()["learning_rate"] for c in children]
    assert len(set(rates)) == 3 and all(1e-4 <= r <= 1e-2 for r in rates)
    objectives = [c.get_metrics()["objective"] for c in children]
    assert min(objectives) == pytest.approx(best.objective)
    assert sweep.get_metrics()["best_objective"] == pytest.approx(best.objective)
    assert all(steps_of(c, "train/loss") == [1.0, 2.0, 3.0] for c in children)
    assert "train/loss" not in sweep.get_metrics()


def test_transformers_bad_arguments_get_a_clear_error() -> None:
    with pytest.raises(InvalidValueError, match="log_config must be True or False, got int"):
        TransformersCallback(log_config=1)
    with pytest.raises(InvalidValueError, match="run must be a runwidget Run or None"):
        TransformersCallback(run=Experiment(name="x"))


DISTRIBUTED = """
import torch, transformers
from runwidget.integrations.transformers import RunwidgetCallback
from tests.test_integrations_torch import tiny_bert, token_data
args = transformers.TrainingArguments(output_dir="out", max_steps=4, logging_steps=1,
    per_device_train_batch_size=4, report_to=[], save_strategy="no", use_cpu=True,
    disable_tqdm=True, ddp_backend="gloo")
callback = RunwidgetCallback()
trainer = transformers.Trainer(model=tiny_bert(), args=args, train_dataset=token_data(),
                               callbacks=[callback])
trainer.train()
# As a torchrun script ends: its process group torn down first (else gloo's threads, left
# to the interpreter's exit, may abort the rank: "terminate called without an active
# exception"); Lightning's DDP strategy does this itself.
if torch.distributed.is_initialized():
    torch.distributed.destroy_process_group()
open(f"done-{args.process_index}", "w").write(str(args.world_size))  # the ranks' prints mix
"""


def run_two_processes(tmp_path: Path, code: str, *launcher: str) -> None:
    """Run ``code`` as a script through ``launcher`` (which starts the two processes of a
    distributed training on this machine); each of the two ranks must have ended it."""
    path = tmp_path / "distributed.py"
    path.write_text(textwrap.dedent(code))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, *launcher, str(path)]
    process = subprocess.Popen(
        [part.replace("{port}", str(port)) for part in command],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1",
             "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)},
        start_new_session=True,  # the workers too are stopped if it hangs
    )  # fmt: skip
    try:
        stdout, stderr = process.communicate(timeout=180)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 0, stderr[-3000:]
    assert sorted(p.name for p in tmp_path.glob("done-*")) == ["done-0", "done-1"], stdout
    assert {p.read_text() for p in tmp_path.glob("done-*")} == {"2"}


@pytest.mark.slow
def test_transformers_only_the_main_process_logs_a_distributed_training(tmp_path: Path) -> None:
    run_two_processes(
        tmp_path, DISTRIBUTED, "-m", "torch.distributed.run", "--nproc_per_node", "2",
        "--master_addr", "127.0.0.1", "--master_port", "{port}",
    )  # fmt: skip
    (run,) = Experiment(name="transformers").get_runs()
    assert run.get_status() == st.COMPLETED
    assert steps_of(run, "train/loss") == [1.0, 2.0, 3.0, 4.0]


# -- Lightning ----------------------------------------------------------------------------------
PACKAGES = {"lightning": lightning, "pytorch_lightning": pytorch_lightning}


def lightning_module(L: Any) -> Any:  # noqa: N803 - the packages' usual name
    class TwoLayers(L.LightningModule):
        def __init__(self, hidden: int = 8, lr: float = 0.05, fail_at: int = -1,
                     interrupt_at: int = -1, pace: Any = None) -> None:  # fmt: skip
            super().__init__()
            self.save_hyperparameters(ignore=["pace"])
            self.pace = pace
            self.net = nn.Sequential(nn.Linear(4, hidden), nn.ReLU(), nn.Linear(hidden, 1))

        def training_step(self, batch: Any, index: int) -> torch.Tensor:
            if self.global_step == self.hparams.fail_at:
                raise ValueError("nan in the weights")
            if self.global_step == self.hparams.interrupt_at:
                raise KeyboardInterrupt
            if self.pace is not None:
                self.pace(self.global_step)
            x, y = batch
            loss = nn.functional.mse_loss(self.net(x), y)
            self.log("train_loss", loss)
            return loss

        def validation_step(self, batch: Any, index: int) -> None:
            x, y = batch
            self.log("val_loss", nn.functional.mse_loss(self.net(x), y))

        def test_step(self, batch: Any, index: int) -> None:
            x, y = batch
            self.log("test_loss", nn.functional.mse_loss(self.net(x), y))

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

    return TwoLayers


def loader() -> torch.utils.data.DataLoader:
    x = torch.randn(64, 4, generator=torch.Generator().manual_seed(0))
    return torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True)), batch_size=8
    )


def lightning_trainer(L: Any, logger: Any, tmp_path: Path, **kwargs: Any) -> Any:  # noqa: N803
    return L.Trainer(
        logger=logger, log_every_n_steps=1, enable_progress_bar=False,
        enable_model_summary=False, accelerator="cpu", default_root_dir=str(tmp_path),
        **{"max_epochs": 2, **kwargs},
    )  # fmt: skip


@pytest.mark.parametrize("package", PACKAGES)
def test_lightning_logs_metrics_and_hyperparameters_live(package: str, tmp_path: Path) -> None:
    L = PACKAGES[package]  # noqa: N806
    logger = RunwidgetLogger()
    assert isinstance(logger, L.pytorch.loggers.Logger if package == "lightning" else
                      L.loggers.Logger)  # fmt: skip
    with LiveReader(logger.run.id) as reader:
        seen: list[bool] = []

        def pace(step: int) -> None:
            if step == 10:  # in the second epoch: the first epoch's validation is in
                seen.append(reader.seen("train_loss", 9) and reader.seen("val_loss", 7))

        module = lightning_module(L)(hidden=6, pace=pace)
        lightning_trainer(L, logger, tmp_path).fit(module, loader(), loader())
    assert seen == [True], "step 9 was not in the store while training ran"
    run = logger.run
    assert run.get_status() == st.COMPLETED and run.experiment.name == "lightning"
    assert steps_of(run, "train_loss") == [float(i) for i in range(16)]
    assert steps_of(run, "val_loss") == [7.0, 15.0]
    props = run.get_properties()
    assert props["hidden"] == 6 and props["lr"] == 0.05
    assert logger.name == "lightning" and logger.version == run.id
    assert logger.save_dir is None


def test_lightning_an_exception_fails_the_run_with_the_traceback(tmp_path: Path) -> None:
    logger = RunwidgetLogger()
    with pytest.raises(ValueError, match="nan in the weights"):
        lightning_trainer(lightning, logger, tmp_path).fit(
            lightning_module(lightning)(fail_at=3), loader()
        )
    run = logger.run
    assert run.get_status() == st.FAILED
    error = run.get_details()["error"]
    assert error["message"] == "ValueError: nan in the weights"
    assert 'raise ValueError("nan in the weights")' in error["traceback"]
    assert steps_of(run, "train_loss") == [0.0, 1.0, 2.0]


def test_lightning_a_keyboard_interrupt_cancels_the_run(tmp_path: Path) -> None:
    logger = RunwidgetLogger()
    # Lightning handles the interrupt itself: it finalizes its loggers, then exits.
    with pytest.raises(SystemExit):
        lightning_trainer(lightning, logger, tmp_path).fit(
            lightning_module(lightning)(interrupt_at=3), loader()
        )
    assert logger.run.get_status() == st.CANCELED


@pytest.mark.parametrize(("mode", "expected"), [(True, 1), ("all", 2), (False, 0)])
def test_lightning_checkpoints_are_stored_with_the_run(
    tmp_path: Path, mode: Any, expected: int
) -> None:
    logger = RunwidgetLogger(log_checkpoints=mode, save_dir=tmp_path / "logs")
    checkpoint = lightning.pytorch.callbacks.ModelCheckpoint(save_top_k=-1)
    lightning_trainer(lightning, logger, tmp_path, callbacks=[checkpoint]).fit(
        lightning_module(lightning)(), loader()
    )
    run = logger.run
    files = [f for f in run.get_file_names() if f.startswith("checkpoints/")]
    assert len(files) == expected, files
    assert checkpoint.dirpath == str(tmp_path / "logs" / "lightning" / run.id / "checkpoints")
    if files:
        target = tmp_path / "back.ckpt"
        run.download_file(files[-1], str(target))
        assert "state_dict" in torch.load(target, weights_only=False)


def test_lightning_fit_then_test_into_one_run_inside_the_block(tmp_path: Path) -> None:
    logger = RunwidgetLogger()
    module = lightning_module(lightning)()
    with logger:
        t = lightning_trainer(lightning, logger, tmp_path)
        t.fit(module, loader())
        t.test(module, loader(), verbose=False)
    run = logger.run
    assert run.get_status() == st.COMPLETED
    assert "test_loss" in run.get_metrics() and "train_loss" in run.get_metrics()


LIGHTNING_DISTRIBUTED = """
import lightning as L
from runwidget.integrations.lightning import RunwidgetLogger
from tests.test_integrations_torch import lightning_module, loader
logger = RunwidgetLogger()
trainer = L.Trainer(accelerator="cpu", devices=2, strategy="ddp", max_epochs=1,
                    log_every_n_steps=1, enable_progress_bar=False, enable_model_summary=False,
                    enable_checkpointing=False, logger=logger)
trainer.fit(lightning_module(L)(hidden=5), loader())
open(f"done-{trainer.global_rank}", "w").write(str(trainer.world_size))
"""


@pytest.mark.slow
def test_lightning_only_rank_zero_logs_a_distributed_training(tmp_path: Path) -> None:
    run_two_processes(tmp_path, LIGHTNING_DISTRIBUTED)
    (run,) = Experiment(name="lightning").get_runs()
    assert run.get_status() == st.COMPLETED
    assert run.get_properties()["hidden"] == 5
    assert steps_of(run, "train_loss") == [0.0, 1.0, 2.0, 3.0]  # 64 rows, 8 a batch, 2 ranks


def test_lightning_bad_arguments_get_a_clear_error() -> None:
    with pytest.raises(InvalidValueError, match="log_checkpoints must be False, True or 'all'"):
        RunwidgetLogger(log_checkpoints="best")
    with pytest.raises(InvalidValueError, match="save_dir must be a path or None, got int"):
        RunwidgetLogger(save_dir=3)


# -- Keras --------------------------------------------------------------------------------------
def keras_model() -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)]
    )
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-2, beta_1=0.8), loss="mse",
                  metrics=["mae"])  # fmt: skip
    return model


def xy() -> tuple[np.ndarray, np.ndarray]:
    x = np.random.default_rng(0).normal(size=(256, 4)).astype("float32")
    return x, x.sum(1)


class KerasPace(keras.callbacks.Callback):
    def __init__(self, at: int, action: Any) -> None:
        super().__init__()
        self.at, self.action, self.result, self.batches = at, action, None, 0

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        self.batches += 1
        if self.batches == self.at:
            self.result = self.action()


def test_keras_logs_batches_and_epochs_live_with_the_optimizer(tmp_path: Path) -> None:
    callback = KerasCallback(batch_interval=0)
    x, y = xy()
    with LiveReader(callback.run.id) as reader:
        # Batch 8 is the second epoch's second: the first epoch is in the store by then.
        pace = KerasPace(8, lambda: reader.seen("batch/loss", 8) and reader.seen("val_loss", 0))
        history = keras_model().fit(x, y, epochs=3, batch_size=32, validation_split=0.25,
                                    callbacks=[callback, pace], verbose=0)  # fmt: skip
    assert pace.result, "batch 8 was not in the store while training ran"
    run = callback.run
    assert run.get_status() == st.COMPLETED and run.experiment.name == "keras"
    metrics = run.get_metrics()
    for name in ("loss", "val_loss", "mae", "val_mae"):
        assert steps_of(run, name) == [0.0, 1.0, 2.0]
        assert metrics[name] == pytest.approx(history.history[name])
    assert steps_of(run, "batch/loss") == [float(i) for i in range(1, 19)]
    props = run.get_properties()
    assert props["optimizer.learning_rate"] == 0.01 and props["optimizer.beta_1"] == 0.8
    assert props["optimizer.class_name"] == "Adam"
    assert props["epochs"] == 3 and props["steps"] == 6


def test_keras_batches_are_throttled() -> None:
    x, y = xy()
    hourly = KerasCallback(batch_interval=3600)
    keras_model().fit(x, y, epochs=2, batch_size=32, callbacks=[hourly], verbose=0)
    assert steps_of(hourly.run, "batch/loss") == [1.0]  # the first batch, then nothing
    assert steps_of(hourly.run, "loss") == [0.0, 1.0]
    epochs_only = KerasCallback(batch_interval=None)
    keras_model().fit(x, y, epochs=2, batch_size=32, callbacks=[epochs_only], verbose=0)
    assert "batch/loss" not in epochs_only.run.get_metrics()


def test_keras_an_exception_inside_the_block_fails_the_run() -> None:
    x, y = xy()
    callback = KerasCallback()

    def boom() -> None:
        raise RuntimeError("out of patience")

    with pytest.raises(RuntimeError, match="out of patience"), callback:
        keras_model().fit(x, y, epochs=3, callbacks=[callback, KerasPace(3, boom)], verbose=0)
    run = callback.run
    assert run.get_status() == st.FAILED
    assert run.get_details()["error"]["message"] == "RuntimeError: out of patience"


def test_keras_a_second_fit_gets_a_run_of_its_own() -> None:
    x, y = xy()
    callback = KerasCallback()
    model = keras_model()
    model.fit(x, y, epochs=1, callbacks=[callback], verbose=0)
    first = callback.run
    model.fit(x, y, epochs=2, callbacks=[callback], verbose=0)
    second = callback.run
    assert first.id != second.id
    assert first.get_status() == second.get_status() == st.COMPLETED
    assert steps_of(first, "loss") == [0.0] and steps_of(second, "loss") == [0.0, 1.0]


def test_lightning_test_after_fit_outside_a_block_is_a_run_of_its_own(tmp_path: Path) -> None:
    logger = RunwidgetLogger()
    module = lightning_module(lightning)()
    t = lightning_trainer(lightning, logger, tmp_path)
    t.fit(module, loader())
    fitted = logger.run
    t.test(module, loader(), verbose=False)
    tested = logger.run
    assert fitted.id != tested.id
    assert "test_loss" in tested.get_metrics() and "test_loss" not in fitted.get_metrics()
    assert fitted.get_status() == tested.get_status() == st.COMPLETED


def test_keras_bad_arguments_get_a_clear_error() -> None:
    with pytest.raises(InvalidValueError, match="batch_interval must be a number of seconds >= 0"):
        KerasCallback(batch_interval=-1)
    with pytest.raises(InvalidValueError, match="batch_interval must be a number of seconds"):
        KerasCallback(batch_interval="1s")
    with pytest.raises(InvalidValueError, match="log_optimizer must be True or False"):
        KerasCallback(log_optimizer=None)


def test_every_integration_finds_its_run_the_same_way() -> None:
    given = Experiment(name="shared").start_logging()
    for make in (TransformersCallback, RunwidgetLogger, KerasCallback):
        assert make(run=given).run is given
        made = make(experiment="shared-new")
        assert made.run.experiment.name == "shared-new" and made.run is not given
        assert isinstance(made.run, Run)
    given.complete()
