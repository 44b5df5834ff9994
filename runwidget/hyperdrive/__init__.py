"""Hyperparameter sweeps of a script, with the reference SDK's names.

```python
from runwidget import Experiment, HyperDriveConfig, PrimaryMetricGoal, ScriptRunConfig
from runwidget.hyperdrive import BanditPolicy, RandomParameterSampling, choice, uniform

src = ScriptRunConfig("./scripts", "train.py")
sampling = RandomParameterSampling({"--alpha": uniform(0, 1), "--depth": choice(2, 4, 8)})
config = HyperDriveConfig(run_config=src, hyperparameter_sampling=sampling,
                          policy=BanditPolicy(slack_factor=0.1),
                          primary_metric_name="mse", primary_metric_goal=PrimaryMetricGoal.MINIMIZE,
                          max_total_runs=20, max_concurrent_runs=4)
sweep = Experiment(name="sweep").submit(config)
```

Optuna does the sampling; it is imported by the sweep's driver only.
"""

from runwidget.hyperdrive.config import HyperDriveConfig, PrimaryMetricGoal
from runwidget.hyperdrive.parameters import (
    ParameterExpression,
    choice,
    loguniform,
    normal,
    quniform,
    randint,
    uniform,
)
from runwidget.hyperdrive.policy import (
    BanditPolicy,
    EarlyTerminationPolicy,
    MedianStoppingPolicy,
    NoTerminationPolicy,
    TruncationSelectionPolicy,
)
from runwidget.hyperdrive.run import HyperDriveRun
from runwidget.hyperdrive.sampling import (
    BayesianParameterSampling,
    GridParameterSampling,
    HyperParameterSampling,
    RandomParameterSampling,
)

__all__ = [
    "BanditPolicy",
    "BayesianParameterSampling",
    "EarlyTerminationPolicy",
    "GridParameterSampling",
    "HyperDriveConfig",
    "HyperDriveRun",
    "HyperParameterSampling",
    "MedianStoppingPolicy",
    "NoTerminationPolicy",
    "ParameterExpression",
    "PrimaryMetricGoal",
    "RandomParameterSampling",
    "TruncationSelectionPolicy",
    "choice",
    "loguniform",
    "normal",
    "quniform",
    "randint",
    "uniform",
]
