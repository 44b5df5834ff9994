"""A small training script to submit with ScriptRunConfig.

Fits a ridge regression (regularisation strength ``--alpha``) by gradient descent on
synthetic data, printing its progress and logging metrics to its run:

    from runwidget import Experiment, ScriptRunConfig
    exp = Experiment(name="train-on-local")
    src = ScriptRunConfig(source_directory="./scripts", script="train.py",
                          arguments=["--alpha", 0.1])
    run = exp.submit(src)
    run.wait_for_completion(show_output=True)

A negative ``--alpha`` makes it fail (to see a Failed run): ``arguments=["--alpha", -1]``.
Run directly (``python train.py``), it logs to an offline run and stores nothing.
"""

from __future__ import annotations

import argparse
import logging
import time

import numpy as np

from runwidget import Run

log = logging.getLogger("train")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alpha", type=float, default=0.1, help="L2 regularisation strength")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--learning-rate", type=float, default=0.1)
    parser.add_argument("--delay", type=float, default=0.05, help="seconds per epoch")
    return parser.parse_args()


def make_data(rng: np.random.Generator, n: int = 500, features: int = 8):
    x = rng.normal(size=(n, features))
    weights = rng.normal(size=features)
    y = x @ weights + rng.normal(scale=0.5, size=n)
    return x, y


def main() -> None:
    args = parse_args()
    run = Run.get_context()
    run.log("alpha", args.alpha)
    run.log("learning_rate", args.learning_rate)
    if args.alpha < 0:
        raise ValueError(f"--alpha must be >= 0, got {args.alpha}")

    rng = np.random.default_rng(0)
    x, y = make_data(rng)
    split = int(0.8 * len(y))
    x_train, y_train, x_test, y_test = x[:split], y[:split], x[split:], y[split:]
    w = np.zeros(x.shape[1])
    log.info("training on %d rows, testing on %d", len(y_train), len(y_test))
    print(f"ridge regression, alpha={args.alpha}, {args.epochs} epochs")

    for epoch in range(args.epochs):
        residual = x_train @ w - y_train
        gradient = x_train.T @ residual / len(y_train) + args.alpha * w
        w -= args.learning_rate * gradient
        train_loss = float(np.mean(residual**2))
        test_loss = float(np.mean((x_test @ w - y_test) ** 2))
        run.log("train_loss", train_loss, step=epoch)
        run.log("test_loss", test_loss, step=epoch)
        run.log_row("weight norm", epoch=epoch, norm=float(np.linalg.norm(w)))
        print(f"epoch {epoch:3d}  train loss {train_loss:.4f}  test loss {test_loss:.4f}")
        time.sleep(args.delay)

    run.log("final_test_loss", test_loss)
    run.log_list("weights", [float(v) for v in w])
    print("done")


if __name__ == "__main__":
    main()
