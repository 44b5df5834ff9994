"""Hyperparameter sweeps of a script: real local runs of a small training script."""

from __future__ import annotations

import sys
import textwrap
import time
from pathlib import Path

import pytest

from runwidget import (
    Experiment,
    HyperDriveConfig,
    InvalidValueError,
    PrimaryMetricGoal,
    ScriptRunConfig,
)
from runwidget import status as st
from runwidget.hyperdrive import (
    BanditPolicy,
    BayesianParameterSampling,
    GridParameterSampling,
    HyperDriveRun,
    MedianStoppingPolicy,
    RandomParameterSampling,
    TruncationSelectionPolicy,
    choice,
    loguniform,
    normal,
    quniform,
    randint,
    uniform,
)
from runwidget.store import RunType
from tests.local_runs import stop_left_running, wait_until

TRAIN = """
    import argparse
    import time

    from runwidget import Run

    parser = argparse.ArgumentParser()
    parser.add_argument("--alpha", type=float, required=True)
    parser.add_argument("--depth", type=int, default=1)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--pause", type=float, default=0.05)
    args = parser.parse_args()
    run = Run.get_context()
    for step in range(args.steps):
        run.log("mse", args.alpha * (args.steps - step) + args.depth)
        run.flush()
        time.sleep(args.pause)
    print("done", args.alpha, args.depth)
"""

TERMINAL = (st.COMPLETED, st.FAILED, st.CANCELED)


@pytest.fixture
def source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RUNWIDGET_EXEC_DIR", str(tmp_path / "exec"))
    monkeypatch.setenv("RUNWIDGET_MAX_LOCAL_RUNS", "4")
    monkeypatch.setenv("RUNWIDGET_HEARTBEAT_INTERVAL", "0.5")
    monkeypatch.setenv("RUNWIDGET_CANCEL_GRACE", "3")
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "train.py").write_text(textwrap.dedent(TRAIN).lstrip())
    return folder


@pytest.fixture
def sweeps() -> list[HyperDriveRun]:
    started: list[HyperDriveRun] = []
    yield started
    for sweep in started:
        stop_left_running([sweep, *sweep.get_children()], script_group=True)


def submit(config: HyperDriveConfig, sweeps: list[HyperDriveRun]) -> HyperDriveRun:
    sweep = Experiment(name="sweep").submit(config)
    sweeps.append(sweep)
    return sweep


def wait_done(sweep: HyperDriveRun, timeout: float = 90) -> str:
    def ended() -> bool:
        return sweep.get_status() in TERMINAL and all(
            c.get_status() in TERMINAL for c in sweep.get_children()
        )

    try:
        wait_until(ended, timeout, f"sweep {sweep.id} to end", every=0.2)
    except AssertionError:
        print(sweep._store.read_logs(sweep.id), file=sys.stderr)
        raise
    return sweep.get_status()


def driver_log(sweep: HyperDriveRun) -> str:
    return "\n".join(line.text for line in sweep._store.read_logs(sweep.id))


# -- sweeps that run ------------------------------------------------------------------------
@pytest.mark.slow
def test_random_sweep_completes_with_the_best_child(
    source: Path, sweeps: list[HyperDriveRun]
) -> None:
    sampling = RandomParameterSampling(
        {"--alpha": uniform(0.1, 2.0), "depth": choice(1, 2, 3)}, seed=3
    )
    config = HyperDriveConfig(
        run_config=ScriptRunConfig(source, "train.py", arguments=["--steps", 3]),
        hyperparameter_sampling=sampling,
        primary_metric_name="mse",
        primary_metric_goal=PrimaryMetricGoal.MINIMIZE,
        max_total_runs=4,
        max_concurrent_runs=2,
    )
    sweep = submit(config, sweeps)
    assert isinstance(sweep, HyperDriveRun) and sweep.type == RunType.SWEEP
    properties = sweep.get_properties()
    assert (properties["primary_metric"], properties["goal"]) == ("mse", "minimize")
    assert wait_done(sweep) == st.COMPLETED, driver_log(sweep)

    children = sweep.get_children()
    assert len(children) == 4
    assert {c.get_status() for c in children} == {st.COMPLETED}
    params = sweep.get_hyperparameters()
    for child in children:
        values = params[child.id]
        assert set(values) == {"alpha", "depth"}
        assert 0.1 <= values["alpha"] <= 2.0 and values["depth"] in (1, 2, 3)
        assert child.refresh().arguments[-4:] == [
            "--alpha", repr(values["alpha"]), "--depth", str(values["depth"])
        ]  # fmt: skip
    # The best child: the lowest mse any child logged.
    scores = {c.id: min(c.get_metrics("mse")["mse"]) for c in children}
    best = sweep.get_best_run_by_primary_metric()
    assert best is not None and best.id == min(scores, key=scores.get)
    properties = sweep.get_properties()
    assert properties["best_child_run_id"] == best.id
    assert properties["best_metric"] == pytest.approx(scores[best.id])
    ranked = sweep.get_children_sorted_by_primary_metric(top=2)
    assert [r["run_id"] for r in ranked] == sorted(scores, key=scores.get)[:2]
    assert set(sweep.get_metrics()) == set(scores)


@pytest.mark.slow
def test_grid_sweep_covers_the_grid_once(source: Path, sweeps: list[HyperDriveRun]) -> None:
    config = HyperDriveConfig(
        run_config=ScriptRunConfig(source, "train.py", arguments=["--steps", 2]),
        hyperparameter_sampling=GridParameterSampling(
            {"--alpha": choice(0.5, 1.5), "--depth": randint(2)}
        ),
        primary_metric_name="mse",
        primary_metric_goal="minimize",
        max_total_runs=10,  # more than the grid: the grid's 4 run
        max_concurrent_runs=2,
    )
    sweep = submit(config, sweeps)
    assert sweep.get_properties()["max_total_runs"] == 4
    assert wait_done(sweep) == st.COMPLETED, driver_log(sweep)
    combos = sorted((p["alpha"], p["depth"]) for p in sweep.get_hyperparameters().values())
    assert combos == [(0.5, 0), (0.5, 1), (1.5, 0), (1.5, 1)]
    assert sorted(c.refresh().properties["iteration"] for c in sweep.get_children()) == [0, 1, 2, 3]


@pytest.mark.slow
def test_bandit_policy_cancels_a_clearly_worse_child(
    source: Path, sweeps: list[HyperDriveRun]
) -> None:
    config = HyperDriveConfig(
        run_config=ScriptRunConfig(source, "train.py", arguments=["--steps", 40, "--pause", 0.1]),
        hyperparameter_sampling=GridParameterSampling({"--alpha": choice(1.0, 100.0)}),
        policy=BanditPolicy(slack_factor=0.2, evaluation_interval=1, delay_evaluation=2),
        primary_metric_name="mse",
        primary_metric_goal=PrimaryMetricGoal.MINIMIZE,
        max_total_runs=2,
        max_concurrent_runs=2,
    )
    sweep = submit(config, sweeps)
    assert wait_done(sweep) == st.COMPLETED, driver_log(sweep)
    by_alpha = {c.refresh().properties["alpha"]: c for c in sweep.get_children()}
    good, bad = by_alpha[1.0], by_alpha[100.0]
    assert good.get_status() == st.COMPLETED
    assert bad.get_status() == st.CANCELED, driver_log(sweep)
    error = bad.get_details()["error"]
    message = error["message"] if isinstance(error, dict) else str(error)
    assert "BanditPolicy" in message and "slack_factor 0.2" in message
    assert len(bad.get_metrics("mse")["mse"]) < 40
    assert sweep.get_best_run_by_primary_metric().id == good.id


@pytest.mark.slow
def test_cancel_of_the_sweep_cancels_its_children(
    source: Path, sweeps: list[HyperDriveRun]
) -> None:
    config = HyperDriveConfig(
        run_config=ScriptRunConfig(source, "train.py", arguments=["--steps", 600, "--pause", 0.1]),
        hyperparameter_sampling=RandomParameterSampling({"--alpha": uniform(0, 1)}),
        primary_metric_name="mse",
        primary_metric_goal=PrimaryMetricGoal.MINIMIZE,
        max_total_runs=6,
        max_concurrent_runs=2,
    )
    sweep = submit(config, sweeps)
    wait_until(
        lambda: sum(c.get_status() == st.RUNNING for c in sweep.get_children()) == 2,
        60,
        "two running children",
        every=0.2,
    )
    started = time.monotonic()
    sweep.cancel()
    assert wait_done(sweep, timeout=60) == st.CANCELED
    assert time.monotonic() - started < 30
    children = sweep.get_children()
    assert len(children) == 2  # none started after the cancel
    assert {c.get_status() for c in children} == {st.CANCELED}


# -- bad input ------------------------------------------------------------------------------
def config_with(source: Path, **kwargs) -> HyperDriveConfig:
    arguments = {
        "run_config": ScriptRunConfig(source, "train.py"),
        "hyperparameter_sampling": RandomParameterSampling({"--alpha": uniform(0, 1)}),
        "primary_metric_name": "mse",
        "primary_metric_goal": PrimaryMetricGoal.MINIMIZE,
        "max_total_runs": 4,
        "max_concurrent_runs": 2,
    }
    arguments.update(kwargs)
    return HyperDriveConfig(**arguments)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"primary_metric_goal": "largest"}, "primary_metric_goal"),
        ({"max_concurrent_runs": 0}, "max_concurrent_runs"),
        ({"max_total_runs": -1}, "max_total_runs"),
        ({"run_config": "train.py"}, "run_config must be a ScriptRunConfig"),
        ({"hyperparameter_sampling": {"--alpha": uniform(0, 1)}}, "hyperparameter_sampling"),
        ({"primary_metric_name": ""}, "primary_metric_name"),
        ({"policy": "bandit"}, "policy must be"),
        ({"max_duration_minutes": 0}, "max_duration_minutes"),
    ],
)
def test_bad_configurations_are_refused(source: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidValueError, match=message):
        config_with(source, **kwargs)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: RandomParameterSampling({}), "parameter space is empty"),
        (lambda: RandomParameterSampling([uniform(0, 1)]), "must be a dict"),
        (lambda: RandomParameterSampling({"--alpha": (0, 1)}), "must be an expression"),
        (lambda: RandomParameterSampling({"al pha": uniform(0, 1)}), "without spaces"),
        (lambda: GridParameterSampling({"--alpha": uniform(0, 1)}), "continuous range"),
        (lambda: uniform(1, 1), "must be below"),
        (lambda: choice(), "at least one option"),
        (lambda: choice(1, 1), "must differ"),
        (lambda: quniform(0, 1, 0), "q must be positive"),
        (lambda: normal(0, -1), "sigma must be positive"),
        (lambda: randint(0), "positive integer"),
        (lambda: loguniform(0, float("inf")), "finite number"),
        (lambda: BanditPolicy(), "one of slack_factor"),
        (lambda: BanditPolicy(slack_factor=0.1, slack_amount=1), "one of slack_factor"),
        (lambda: BanditPolicy(slack_factor=0.1, evaluation_interval=0), "evaluation_interval"),
        (lambda: TruncationSelectionPolicy(truncation_percentage=0), "truncation_percentage"),
    ],
)
def test_bad_spaces_and_policies_are_refused(make, message: str) -> None:
    with pytest.raises(InvalidValueError, match=message):
        make()


def test_bad_input_leaves_no_run(source: Path) -> None:
    experiment = Experiment(name="sweep")
    with pytest.raises(InvalidValueError):
        experiment.submit(config_with(source, max_concurrent_runs=0))
    assert list(experiment.get_runs()) == []


# -- the policies' rules, without runs --------------------------------------------------------
def test_bandit_rule_follows_the_reference() -> None:
    policy = BanditPolicy(slack_factor=0.1)
    histories = {"best": [0.8], "ok": [0.75], "poor": [0.7]}
    # Maximize: best / (1 + 0.1) = 0.727.
    assert policy.evaluate("ok", 1, histories, "maximize", frozenset()) is None
    assert "BanditPolicy" in policy.evaluate("poor", 1, histories, "maximize", frozenset())
    amount = BanditPolicy(slack_amount=0.2)
    assert amount.evaluate("poor", 1, {"a": [1.0], "poor": [1.3]}, "minimize", frozenset())
    assert amount.evaluate("ok", 1, {"a": [1.0], "ok": [1.1]}, "minimize", frozenset()) is None
    delayed = BanditPolicy(slack_factor=0.1, evaluation_interval=2, delay_evaluation=2)
    assert [k for k in range(1, 8) if delayed.is_evaluation_point(k)] == [4, 6]


def test_median_and_truncation_rules() -> None:
    median = MedianStoppingPolicy(delay_evaluation=0)
    histories = {"a": [1.0, 0.5], "b": [1.0, 0.6], "c": [3.0, 2.9]}
    assert median.evaluate("c", 2, histories, "minimize", frozenset())
    assert median.evaluate("a", 2, histories, "minimize", frozenset()) is None
    truncation = TruncationSelectionPolicy(truncation_percentage=50)
    values = {"a": [1.0], "b": [2.0], "c": [3.0], "d": [4.0]}
    stopped = {c for c in values if truncation.evaluate(c, 1, values, "maximize", frozenset())}
    assert stopped == {"a", "b"}


def test_samplers_are_optunas() -> None:
    pytest.importorskip("optuna")
    import optuna

    from runwidget.hyperdrive.sampling import make_sampler

    space = {"--alpha": choice(1, 2)}
    assert isinstance(make_sampler(RandomParameterSampling(space).to_spec()),
                      optuna.samplers.RandomSampler)  # fmt: skip
    assert isinstance(make_sampler(GridParameterSampling(space).to_spec()),
                      optuna.samplers.GridSampler)  # fmt: skip
    assert isinstance(make_sampler(BayesianParameterSampling(space).to_spec()),
                      optuna.samplers.TPESampler)  # fmt: skip


def test_expressions_draw_in_their_range() -> None:
    import optuna

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    expressions = {"u": uniform(2, 3), "l": loguniform(-3, 0), "q": quniform(0, 10, 2),
                   "n": normal(5, 0.1), "r": randint(3), "c": choice("a", "b")}  # fmt: skip
    for _ in range(20):
        trial = study.ask()
        v = {name: e.suggest(trial, name) for name, e in expressions.items()}
        assert 2 <= v["u"] <= 3 and 0.049 < v["l"] <= 1.0 and v["q"] in range(0, 11, 2)
        assert 4 < v["n"] < 6 and v["r"] in (0, 1, 2) and v["c"] in ("a", "b")
