"""What an AutoML search may use, by task: its algorithms and its metrics, with their goals.

Plain data, no scikit-learn: ``AutoMLConfig`` checks names against it before anything is
imported or started. Names follow the reference SDK where it had one (``AUC_weighted``,
``norm_macro_recall``, ``ExtremeRandomTrees``...), so that its users find them.
"""

from __future__ import annotations

CLASSIFICATION = "classification"
REGRESSION = "regression"
TASKS = (CLASSIFICATION, REGRESSION)

MAXIMIZE = "maximize"
MINIMIZE = "minimize"

# Every metric an iteration logs, with its goal. Each is computed on held-out data (the
# validation folds, averaged, or the validation split).
CLASSIFICATION_METRICS: dict[str, str] = {
    "accuracy": MAXIMIZE,
    "balanced_accuracy": MAXIMIZE,
    "AUC_weighted": MAXIMIZE,
    "average_precision_score_weighted": MAXIMIZE,
    "f1_score_weighted": MAXIMIZE,
    "f1_score_macro": MAXIMIZE,
    "precision_score_weighted": MAXIMIZE,
    "recall_score_weighted": MAXIMIZE,
    "norm_macro_recall": MAXIMIZE,
    "log_loss": MINIMIZE,
}
REGRESSION_METRICS: dict[str, str] = {
    "r2_score": MAXIMIZE,
    "explained_variance": MAXIMIZE,
    "spearman_correlation": MAXIMIZE,
    "root_mean_squared_error": MINIMIZE,
    "mean_absolute_error": MINIMIZE,
    "median_absolute_error": MINIMIZE,
    "normalized_root_mean_squared_error": MINIMIZE,
    "normalized_mean_absolute_error": MINIMIZE,
}
METRICS = {CLASSIFICATION: CLASSIFICATION_METRICS, REGRESSION: REGRESSION_METRICS}

# Metrics a search may optimise. log_loss is left out: models without probabilities (SVM)
# cannot give it, and a search must be able to compare every iteration.
PRIMARY_METRICS: dict[str, tuple[str, ...]] = {
    CLASSIFICATION: tuple(m for m in CLASSIFICATION_METRICS if m != "log_loss"),
    REGRESSION: tuple(REGRESSION_METRICS),
}
DEFAULT_PRIMARY_METRIC = {CLASSIFICATION: "accuracy", REGRESSION: "r2_score"}

# Algorithms, by the names users pass in allowed_models / blocked_models.
ALGORITHMS: dict[str, tuple[str, ...]] = {
    CLASSIFICATION: (
        "LogisticRegression",
        "RandomForest",
        "ExtremeRandomTrees",
        "HistGradientBoosting",
        "KNN",
        "SVM",
    ),
    REGRESSION: (
        "ElasticNet",
        "RandomForest",
        "ExtremeRandomTrees",
        "HistGradientBoosting",
        "KNN",
        "SVM",
    ),
}

# The scaling step of a pipeline (its "preprocessor"); every pipeline also imputes missing
# values and one-hot encodes categorical columns.
SCALERS = ("StandardScaler", "RobustScaler", "MinMaxScaler", "MaxAbsScaler")


def goal_of(task: str, metric: str) -> str:
    """``maximize`` or ``minimize`` for one of the task's metrics."""
    return METRICS[task][metric]
