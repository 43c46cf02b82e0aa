"""The anchor: the engine's `model=random_forest tune=tpe` search written by hand with Optuna.

Usage: hand_written_optuna.py N_TRIALS

Same data and split (breast_cancer, stratified 80/20, seed 42), same 5-fold stratified CV, same
features (median fill with indicators, scaling), same space, sampler (multivariate grouped TPE,
seed 42) and scorers; then the best parameters are refitted and scored on the test split.
"""

from __future__ import annotations

import json
import sys

import optuna
from sklearn.base import clone
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.metrics import check_scoring
from sklearn.model_selection import StratifiedKFold, cross_validate, train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

SCORERS = ["roc_auc", "accuracy", "balanced_accuracy", "precision", "recall", "f1",
           "neg_log_loss"]

X, y = load_breast_cancer(return_X_y=True, as_frame=True)
y = (y == 1).astype(int)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.2, stratify=y, random_state=42
)
X_train, y_train = X_train.sort_index(), y_train.sort_index()
features = ColumnTransformer([(
    "numeric",
    make_pipeline(SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
                  StandardScaler()),
    make_column_selector(dtype_include="number"),
)])
pipeline = Pipeline([("features", features), ("model", RandomForestClassifier(random_state=42))])
cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=42)


def objective(trial: optuna.Trial) -> float:
    params = {
        "n_estimators": trial.suggest_int("n_estimators", 100, 800, log=True),
        "max_depth": trial.suggest_int("max_depth", 3, 30, log=True),
        "max_features": trial.suggest_categorical("max_features", ["sqrt", "log2", 0.5, 1.0]),
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 1, 20, log=True),
    }
    model = clone(pipeline).set_params(**{f"model__{k}": v for k, v in params.items()})
    scores = cross_validate(model, X_train, y_train, cv=cv, scoring=SCORERS)
    return float(scores["test_roc_auc"].mean())


optuna.logging.set_verbosity(optuna.logging.ERROR)
study = optuna.create_study(
    direction="maximize",
    sampler=optuna.samplers.TPESampler(multivariate=True, group=True, seed=42),
)
study.optimize(objective, n_trials=int(sys.argv[1]))
best = clone(pipeline).set_params(**{f"model__{k}": v for k, v in study.best_params.items()})
best.fit(X_train, y_train)
test = check_scoring(best, scoring=SCORERS)(best, X_test, y_test)
print(json.dumps({"best_value": study.best_value, "best_params": study.best_params,
                  "test": {name: float(value) for name, value in test.items()}}))
