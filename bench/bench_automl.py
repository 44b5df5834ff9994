"""AutoML and sweep benchmark: what recording an iteration costs next to Optuna's own trial,
and what a 1,000-iteration AutoML run costs to poll and draw.

Prints figures measured side by side in one run on this machine. Not a test: the machines
are shared and noisy, so compare the ratios, and run it twice if in doubt.

    python bench/bench_automl.py [--quick] [--browser]

1. Recording one iteration (a child run with its properties and 10 metrics, ended), as the
   AutoML search does it (the run is created when the iteration starts, its metrics and end
   are written in the background while the next one fits) and as the Optuna callback does
   it (a background thread writes each finished trial), next to
   Optuna's own cost of one trial (a trivial objective with four parameters, random
   sampler: the storage's share) on its in-memory and SQLite (RDB) storages. All SQLite
   files are in one temp dir on the same disk.
2. A 1,000-iteration AutoML run: the view model's first load, an idle poll, a poll that
   finds one new iteration (time and bytes), building the widget, and RunDetails(study) of
   a 1,000-trial Optuna study on SQLite. With ``--browser``: the time from running the
   notebook cell to 1,000 heat-strip cells drawn in JupyterLab (headless Chromium).
"""

from __future__ import annotations

import argparse
import json
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

import optuna

from runwidget import Experiment, Workspace
from runwidget import status as st
from runwidget.automl import catalog
from runwidget.automl.record import Recorder
from runwidget.integrations.optuna import RunwidgetCallback
from runwidget.store import Batch, MetricKind, RunType
from runwidget.view import RunView

ROOT = Path(__file__).resolve().parent.parent
METRICS = list(catalog.CLASSIFICATION_METRICS)  # 10 metrics per iteration
FIT = 0.02  # seconds: a stand-in for an iteration's fit
SPEC = {
    "algorithm": "RandomForest",
    "preprocessor": "StandardScaler",
    "params": {"n_estimators": 120, "max_depth": 8, "max_features": 0.5, "min_samples_leaf": 2},
}

optuna.logging.set_verbosity(optuna.logging.ERROR)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.2f} ms"


def median_of(fn: Callable[[], float], repeat: int) -> float:
    return statistics.median(fn() for _ in range(repeat))


# -- 1. recording one iteration -----------------------------------------------------------
def record_automl(uri: str, n: int) -> tuple[float, float]:
    """Recording iterations the AutoML search's way (the child run is created when the
    iteration starts; its metrics and end are written in the background), in seconds per
    iteration: ``(what the search waits for, with a 20 ms fit between the start and the end
    of each iteration; the whole cost, iterations back to back, until all is written)``."""
    experiment = Experiment(Workspace(uri), "bench-automl")
    parent = experiment.start_logging(run_type=RunType.AUTOML)
    parent.add_properties({"primary_metric": "accuracy", "goal": "maximize"})
    recorder = Recorder(parent, "accuracy")
    values = {name: 0.5 for name in METRICS}
    child = recorder.start(0, SPEC)  # warm-up
    recorder.complete(child)
    waited = 0.0
    for i in range(1, n + 1):
        t = time.perf_counter()
        child = recorder.start(i, SPEC)
        waited += time.perf_counter() - t
        time.sleep(FIT)
        t = time.perf_counter()
        recorder.log_metrics(child, values)
        recorder.complete(child)
        waited += time.perf_counter() - t
    parent.flush(60)
    start = time.perf_counter()
    for i in range(n + 1, 2 * n + 1):
        child = recorder.start(i, SPEC)
        recorder.log_metrics(child, values)
        recorder.complete(child)
    parent.flush(60)
    total = time.perf_counter() - start
    assert all(c.get_status() == st.COMPLETED for c in parent.get_children())
    return waited / n, total / n


def objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -10, 10)
    y = trial.suggest_int("y", 1, 100, log=True)
    trial.suggest_categorical("kind", ["a", "b", "c"])
    trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    return x * x + y


def optuna_trial(storage: str | None, n: int) -> float:
    """Seconds per trial of Optuna alone (random sampler: the storage's cost)."""
    study = optuna.create_study(storage=storage, sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=3)  # warm-up
    start = time.perf_counter()
    study.optimize(objective, n_trials=n)
    return (time.perf_counter() - start) / n


def optuna_with_callback(storage: str | None, uri: str, n: int) -> tuple[float, float, float]:
    """``(seconds per trial with the callback, seconds inside the callback per trial,
    seconds per trial including the final write)``."""
    study = optuna.create_study(storage=storage, sampler=optuna.samplers.RandomSampler(seed=0))
    callback = RunwidgetCallback(Experiment(Workspace(uri), "bench-callback"))
    inside = [0.0]

    def timed(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        t = time.perf_counter()
        callback(study, trial)
        inside[0] += time.perf_counter() - t

    study.optimize(objective, n_trials=3, callbacks=[timed])  # warm-up
    inside[0] = 0.0
    start = time.perf_counter()
    study.optimize(objective, n_trials=n, callbacks=[timed])
    looped = time.perf_counter() - start
    callback.flush(timeout=60)
    total = time.perf_counter() - start
    callback.complete()
    return looped / n, inside[0] / n, total / n


# -- 2. a 1,000-iteration AutoML run ------------------------------------------------------
def make_automl_run(uri: str, n: int) -> Any:
    """An AutoML parent with ``n`` ended iterations, written straight into the store."""
    experiment = Experiment(Workspace(uri), "bench-view")
    parent = experiment.start_logging(run_type=RunType.AUTOML)
    parent.add_properties({"primary_metric": "accuracy", "goal": "maximize"})
    store = parent._store
    best = 0.0
    batches: dict[str, Batch] = {}
    now = time.time()
    for i in range(n):
        algorithm = catalog.ALGORITHMS["classification"][i % 6]
        record = store.create_run(
            experiment.name,
            run_id=f"{parent.id}_{i}",
            parent_id=parent.id,
            display_name=f"Iteration {i}",
            run_type=RunType.CHILD,
            status=st.RUNNING,
            started=now + i,
            properties={
                "iteration": i,
                "pipeline": f"StandardScaler + {algorithm}",
                "preprocessor": "StandardScaler",
                "algorithm": algorithm,
                "C": 0.1 * i,
                "n_estimators": i % 300,
            },  # fmt: skip
        )
        score = 0.5 + 0.45 * ((i * 7919) % 1000) / 1000
        best = max(best, score)
        batch = batches.setdefault(record.id, Batch())
        batch.metrics += [(m, MetricKind.SCALAR, None, score, now + i) for m in METRICS]
        batches.setdefault(parent.id, Batch()).metrics.append(
            (f"best_{'accuracy'}", MetricKind.SCALAR, float(i), best, now + i)
        )
        if len(batches) >= 200:
            store.write(batches)
            batches = {}
    store.write(batches)
    for i in range(n):
        store.update_run(f"{parent.id}_{i}", status=st.COMPLETED, ended=now + i + 0.5)
    return parent


def view_figures(parent: Any, n: int) -> dict[str, Any]:
    from runwidget.sources import StoreSource

    out: dict[str, Any] = {}
    start = time.perf_counter()
    view = RunView(StoreSource(parent._store, parent.id))
    first = view.refresh()
    out["first load"] = time.perf_counter() - start
    out["first load bytes"] = len(json.dumps(first, default=str))
    out["snapshot bytes"] = len(json.dumps(view.snapshot(), default=str))

    def idle() -> float:
        t = time.perf_counter()
        assert view.refresh() is None
        return time.perf_counter() - t

    out["idle poll"] = median_of(idle, 20)
    recorder = Recorder(parent, "accuracy")
    child = recorder.start(n, SPEC)
    recorder.log_metrics(child, {m: 0.99 for m in METRICS})
    recorder.complete(child)
    recorder.best_so_far(n, 0.99)
    parent.flush()
    t = time.perf_counter()
    delta = view.refresh()
    out["poll, one new iteration"] = time.perf_counter() - t
    out["delta bytes, one new iteration"] = len(json.dumps(delta, default=str))
    return out


def widget_figures(parent: Any) -> dict[str, Any]:
    """RunDetails without a browser: construction (a first view without metric points),
    then its thread's first full read."""
    from runwidget import RunDetails

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        RunDetails(parent, interval=60).close()  # warm-up: imports, first figures
        t = time.perf_counter()
        widget = RunDetails(parent, interval=60)
        built = time.perf_counter() - t
        widget._loop.first_read.wait(60)
        read = time.perf_counter() - t
        widget.close()
    return {"RunDetails(run) returns": built, "RunDetails first full read done": read}


def study_figures(storage: str, n: int) -> dict[str, Any]:
    from runwidget.sources.optuna import OptunaSource

    study = optuna.create_study(storage=storage, sampler=optuna.samplers.RandomSampler(seed=1))
    study.optimize(
        lambda t: [t.report(s * t.suggest_float("x", 0, 1), s) for s in range(5)] and 1.0,
        n_trials=n,
    )
    loaded = optuna.load_study(study_name=study.study_name, storage=storage)
    t = time.perf_counter()
    view = RunView(OptunaSource(loaded, max_curves=50))
    view.refresh()
    first = time.perf_counter() - t

    def idle() -> float:
        from runwidget.sources import optuna as module

        module_reuse, module.SYNC_REUSE = module.SYNC_REUSE, 0.0
        try:
            t = time.perf_counter()
            view.refresh()
            return time.perf_counter() - t
        finally:
            module.SYNC_REUSE = module_reuse

    return {"first load": first, "idle poll": median_of(idle, 10)}


def browser_figures(uri: str, run_id: str, n: int) -> dict[str, Any]:
    """Seconds from running the cell to ``n`` heat-strip cells drawn, in JupyterLab."""
    sys.path.insert(0, str(ROOT / "tests" / "ui"))
    import conftest as ui  # the browser-test harness: JupyterLab and Chromium
    from playwright.sync_api import sync_playwright

    server = ui._start_jupyter("lab")
    profile = tempfile.mkdtemp(prefix="runwidget-bench-chromium-")
    try:
        server.write_notebook(
            "bench.ipynb",
            "from runwidget import RunDetails, Run, Workspace\n"
            f"RunDetails(Run.get(Workspace({uri!r}), {run_id!r})).show()",
        )
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                profile, executable_path=ui.CHROMIUM, headless=True, args=ui.CHROMIUM_ARGS,
                viewport={"width": 1400, "height": 1000},
            )  # fmt: skip
            page = context.new_page()
            server.open_notebook(page, "bench.ipynb")
            t = time.perf_counter()
            server.run_all(page)
            page.wait_for_function(
                f"() => document.querySelectorAll('.rw-strip-cell').length >= {n}",
                timeout=120_000,
            )
            drawn = time.perf_counter() - t
            context.close()
        return {"run cell → heat strip drawn (JupyterLab)": drawn}
    finally:
        ui._stop(server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations")
    parser.add_argument("--browser", action="store_true", help="also time the browser render")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    n = 100 if args.quick else 300
    big = 300 if args.quick else 1000
    tmp = Path(tempfile.mkdtemp(prefix="runwidget-bench-automl-"))

    rounds = 2 if args.quick else 3
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"Machine: {os.cpu_count()} cores, load average {load} (1, 5, 15 min)\n")
    print(f"1. Recording one iteration ({n} iterations, median of {rounds} interleaved rounds, "
          f"SQLite files in {tmp})\n")  # fmt: skip
    samples: dict[str, list[float]] = {}
    for r in range(rounds):
        # Interleaved, so that the machine's load weighs on every figure alike.
        uri = f"sqlite:///{tmp}/runs-{r}.db"
        measured = {
            "automl": record_automl(uri, n),
            "memory": optuna_trial(None, n),
            "rdb": optuna_trial(f"sqlite:///{tmp}/optuna-{r}.db", n),
            "cb_memory": optuna_with_callback(None, uri, n),
            "cb_rdb": optuna_with_callback(f"sqlite:///{tmp}/optuna-cb-{r}.db", uri, n),
        }
        for key, value in measured.items():
            for i, v in enumerate(value if isinstance(value, tuple) else (value,)):
                samples.setdefault(f"{key}{i}", []).append(v)
    med = {key: statistics.median(values) for key, values in samples.items()}
    automl, automl_total = med["automl0"], med["automl1"]
    rdb = med["rdb0"]
    rows = [
        ("AutoML iteration, search loop with 20 ms fits (time not fitting)", automl),
        ("AutoML iterations back to back, per iteration until written", automl_total),
        ("Optuna trial, in-memory storage", med["memory0"]),
        ("Optuna trial, SQLite RDB storage", rdb),
        ("Optuna trial + RunwidgetCallback, in-memory storage", med["cb_memory0"]),
        ("    of which inside the callback", med["cb_memory1"]),
        ("    per trial once the background writes are done", med["cb_memory2"]),
        ("Optuna trial + RunwidgetCallback, SQLite RDB storage", med["cb_rdb0"]),
        ("    of which inside the callback", med["cb_rdb1"]),
        ("    per trial once the background writes are done", med["cb_rdb2"]),
    ]
    for label, seconds in rows:
        print(f"  {label:<62} {ms(seconds)}")
    print(
        f"\n  recording / Optuna SQLite trial: {automl / rdb:.2f} (waited), "
        f"{automl_total / rdb:.2f} (with the background writes)"
    )
    verdict = "met" if automl_total <= 0.005 else "NOT met"
    print(f"  target, at most 5 ms per iteration with its writes: {verdict}")
    print(f"  callback overhead on an SQLite study: {(med['cb_rdb0'] - rdb) / rdb:+.0%} per trial")

    print(f"\n2. A {big}-iteration AutoML run\n")
    parent = make_automl_run(f"sqlite:///{tmp}/view.db", big)
    figures = view_figures(parent, big)
    figures.update(widget_figures(parent))
    for label, value in figures.items():
        shown = f"{value / 1024:8.1f} KB" if "bytes" in label else ms(value)
        print(f"  {label:<62} {shown}")
    print(f"\n  RunDetails(study) of a {big}-trial Optuna study on SQLite (5 reports each)")
    for label, value in study_figures(f"sqlite:///{tmp}/study.db", big).items():
        print(f"  {label:<62} {ms(value)}")
    if args.browser:
        print()
        for label, value in browser_figures(f"sqlite:///{tmp}/view.db", parent.id, big).items():
            print(f"  {label:<62} {ms(value)}")


if __name__ == "__main__":
    main()
