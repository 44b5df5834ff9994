"""The search space: scikit-learn pipelines, their preprocessing and their hyperparameters.

A pipeline *spec* is plain JSON, ``{"algorithm": "RandomForest", "preprocessor":
"StandardScaler", "params": {"n_estimators": 120, ...}}``: the search process draws it from
an Optuna trial (``suggest``) and records it with the iteration's run; the iteration's process
builds the estimator from it (``build``). Each pipeline:

* numeric columns: impute the median or mean, then scale (the *preprocessor*);
* categorical columns: impute the most frequent value, then one-hot encode (at most
  ``MAX_CATEGORIES`` columns each; unseen values are ignored at prediction time);
* the estimator, with at most ``max_cores_per_iteration`` threads.

Hyperparameters are named ``<algorithm>.<name>`` in the Optuna study (each algorithm has its
own ranges) and ``<name>`` in the spec and the run's properties.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from runwidget.automl import catalog

if TYPE_CHECKING:
    import optuna
    from sklearn.pipeline import Pipeline

MAX_CATEGORIES = 50
# The most neighbours KNN may use (fewer when the training folds are small).
MAX_NEIGHBORS = 50

Params = dict[str, Any]


# -- hyperparameters per algorithm ---------------------------------------------------------
def _logistic_regression(t: optuna.Trial, p: str, ctx: dict[str, Any]) -> Params:
    return {
        "C": t.suggest_float(f"{p}.C", 1e-3, 1e3, log=True),
        "class_weight": t.suggest_categorical(f"{p}.class_weight", ["none", "balanced"]),
    }


def _elastic_net(t: optuna.Trial, p: str, ctx: dict[str, Any]) -> Params:
    return {
        "alpha": t.suggest_float(f"{p}.alpha", 1e-4, 10.0, log=True),
        "l1_ratio": t.suggest_float(f"{p}.l1_ratio", 0.0, 1.0),
    }


def _forest(t: optuna.Trial, p: str, ctx: dict[str, Any]) -> Params:
    return {
        "n_estimators": t.suggest_int(f"{p}.n_estimators", 20, 300, log=True),
        "max_depth": t.suggest_int(f"{p}.max_depth", 2, 32, log=True),
        "max_features": t.suggest_float(f"{p}.max_features", 0.1, 1.0),
        "min_samples_leaf": t.suggest_int(f"{p}.min_samples_leaf", 1, 20, log=True),
    }


def _hist_gradient_boosting(t: optuna.Trial, p: str, ctx: dict[str, Any]) -> Params:
    return {
        "learning_rate": t.suggest_float(f"{p}.learning_rate", 0.01, 0.3, log=True),
        "max_iter": t.suggest_int(f"{p}.max_iter", 50, 400, log=True),
        "max_leaf_nodes": t.suggest_int(f"{p}.max_leaf_nodes", 8, 64, log=True),
        "min_samples_leaf": t.suggest_int(f"{p}.min_samples_leaf", 2, 50, log=True),
        "l2_regularization": t.suggest_float(f"{p}.l2_regularization", 1e-6, 1.0, log=True),
    }


def _knn(t: optuna.Trial, p: str, ctx: dict[str, Any]) -> Params:
    most = max(1, min(MAX_NEIGHBORS, int(ctx.get("min_train_rows") or MAX_NEIGHBORS)))
    return {
        "n_neighbors": t.suggest_int(f"{p}.n_neighbors", 1, most, log=most > 1),
        "weights": t.suggest_categorical(f"{p}.weights", ["uniform", "distance"]),
        "p": t.suggest_categorical(f"{p}.p", [1, 2]),
    }


def _svm(t: optuna.Trial, p: str, ctx: dict[str, Any]) -> Params:
    params = {
        "C": t.suggest_float(f"{p}.C", 1e-2, 1e3, log=True),
        "gamma": t.suggest_float(f"{p}.gamma", 1e-4, 1.0, log=True),
    }
    if ctx["task"] == catalog.REGRESSION:
        params["epsilon"] = t.suggest_float(f"{p}.epsilon", 1e-3, 1.0, log=True)
    return params


_SUGGEST: dict[str, Callable[[optuna.Trial, str, dict[str, Any]], Params]] = {
    "LogisticRegression": _logistic_regression,
    "ElasticNet": _elastic_net,
    "RandomForest": _forest,
    "ExtremeRandomTrees": _forest,
    "HistGradientBoosting": _hist_gradient_boosting,
    "KNN": _knn,
    "SVM": _svm,
}


def suggest(trial: optuna.Trial, settings: dict[str, Any]) -> dict[str, Any]:
    """Draw one pipeline spec from ``trial`` within the search's algorithms."""
    algorithm = trial.suggest_categorical("algorithm", list(settings["algorithms"]))
    preprocessor = trial.suggest_categorical("preprocessor", list(catalog.SCALERS))
    params = _SUGGEST[algorithm](trial, algorithm, settings)
    return {"algorithm": algorithm, "preprocessor": preprocessor, "params": params}


def describe(spec: dict[str, Any]) -> str:
    """The pipeline's name as the run shows it: ``"StandardScaler + RandomForest"``."""
    return f"{spec['preprocessor']} + {spec['algorithm']}"


# -- building ------------------------------------------------------------------------------
def _scaler(name: str) -> Any:
    from sklearn import preprocessing

    if name not in catalog.SCALERS:
        raise ValueError(f"unknown preprocessor {name!r}; known: {', '.join(catalog.SCALERS)}")
    return getattr(preprocessing, name)()


def _estimator(task: str, algorithm: str, params: Params, cores: int, seed: int) -> Any:
    from sklearn import ensemble, linear_model, neighbors, svm
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.preprocessing import StandardScaler

    classify = task == catalog.CLASSIFICATION
    p = dict(params)
    if algorithm == "LogisticRegression":
        weight = p.pop("class_weight", "none")
        return linear_model.LogisticRegression(
            **p, class_weight=None if weight == "none" else weight, max_iter=2000
        )
    if algorithm == "ElasticNet":
        model = linear_model.ElasticNet(**p, max_iter=5000, random_state=seed)
        # Standardised targets make alpha's range mean the same whatever the target's scale.
        return TransformedTargetRegressor(regressor=model, transformer=StandardScaler())
    if algorithm in ("RandomForest", "ExtremeRandomTrees"):
        name = {
            ("RandomForest", True): "RandomForestClassifier",
            ("RandomForest", False): "RandomForestRegressor",
            ("ExtremeRandomTrees", True): "ExtraTreesClassifier",
            ("ExtremeRandomTrees", False): "ExtraTreesRegressor",
        }[algorithm, classify]
        return getattr(ensemble, name)(**p, n_jobs=cores, random_state=seed)
    if algorithm == "HistGradientBoosting":
        cls = (
            ensemble.HistGradientBoostingClassifier
            if classify
            else ensemble.HistGradientBoostingRegressor
        )
        return cls(**p, early_stopping=False, random_state=seed)
    if algorithm == "KNN":
        cls = neighbors.KNeighborsClassifier if classify else neighbors.KNeighborsRegressor
        return cls(**p, n_jobs=cores)
    if algorithm == "SVM":
        if classify:
            return svm.SVC(**p, kernel="rbf", cache_size=500)
        return TransformedTargetRegressor(
            regressor=svm.SVR(**p, kernel="rbf", cache_size=500), transformer=StandardScaler()
        )
    raise ValueError(f"unknown algorithm {algorithm!r}")


def build(spec: dict[str, Any], settings: dict[str, Any]) -> Pipeline:
    """The unfitted scikit-learn pipeline of ``spec`` for the search's data."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    params = dict(spec["params"])
    strategy = params.pop("impute", "median")
    steps = []
    numeric = list(settings["numeric_columns"])
    categorical = list(settings["categorical_columns"])
    if numeric:
        steps.append((
            "numeric",
            Pipeline([
                ("impute", SimpleImputer(strategy=strategy)),
                ("scale", _scaler(spec["preprocessor"])),
            ]),
            numeric,
        ))  # fmt: skip
    if categorical:
        steps.append((
            "categorical",
            Pipeline([
                ("impute", SimpleImputer(strategy="most_frequent")),
                ("encode", OneHotEncoder(handle_unknown="infrequent_if_exist",
                                         max_categories=MAX_CATEGORIES, sparse_output=False)),
            ]),
            categorical,
        ))  # fmt: skip
    cores = int(settings.get("max_cores_per_iteration", 1))
    estimator = _estimator(
        settings["task"], spec["algorithm"], params, cores, int(settings["random_state"])
    )
    return Pipeline([
        ("preprocess", ColumnTransformer(steps, remainder="drop")),
        ("model", estimator),
    ])  # fmt: skip
