"""The anchor: what an engineer writes by hand for the engine's adult_hist_gbm experiment.

Usage: hand_written_adult.py ADULT_CSV [hist_gbm | random_forest]

Same data, same split (stratified 80/20, seed 42), same 5-fold stratified CV, same features
(median fill for numbers, ordinal codes for categories), same model and the same seven scorers.
"""

from __future__ import annotations

import json
import sys

import pandas as pd
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.metrics import check_scoring
from sklearn.model_selection import StratifiedKFold, cross_validate, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder

SCORERS = ["roc_auc", "accuracy", "balanced_accuracy", "precision", "recall", "f1",
           "neg_log_loss"]

frame = pd.read_csv(sys.argv[1])
y = (frame.pop("class") == ">50K").astype(int)
X = frame
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.2, stratify=y, random_state=42
)
# The engine keeps the training rows in file order; so does this script, for the same folds.
X_train, y_train = X_train.sort_index(), y_train.sort_index()
features = ColumnTransformer(
    [
        ("numeric", SimpleImputer(strategy="median"), make_column_selector(dtype_include="number")),
        (
            "categorical",
            OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                           encoded_missing_value=-2),
            make_column_selector(dtype_exclude="number"),
        ),
    ]
)
MODELS = {
    "hist_gbm": lambda: HistGradientBoostingClassifier(
        max_iter=300, learning_rate=0.05, random_state=42
    ),
    "random_forest": lambda: RandomForestClassifier(
        n_estimators=200, max_features="sqrt", random_state=42
    ),
}
model = MODELS[sys.argv[2] if len(sys.argv) > 2 else "hist_gbm"]()
pipeline = Pipeline([("features", features), ("model", model)])
cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=42)
scores = cross_validate(pipeline, X_train, y_train, cv=cv, scoring=SCORERS)
pipeline.fit(X_train, y_train)
test = check_scoring(pipeline, scoring=SCORERS)(pipeline, X_test, y_test)
print(json.dumps({
    "cv": {name: float(scores[f"test_{name}"].mean()) for name in SCORERS},
    "test": {name: float(value) for name, value in test.items()},
}))
