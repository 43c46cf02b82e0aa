"""A run's model as an MLflow pyfunc model: the engine's bundle behind MLflow's PythonModel.

MLflow logs this file as the model's code (models from code), so loading the model unpickles
nothing: ``load_context`` loads the bundle with :func:`engine.deploy.bundle.load_bundle`, which
verifies every file's hash (and signature, where a key is set) before loading the pipeline, and
``predict`` answers as ``python -m engine predict`` does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel, PythonModelContext

from engine.deploy.batch_predict import predict_rows
from engine.deploy.bundle import Bundle, load_bundle
from engine.tracking.mlflow_values import BUNDLE_ARTIFACT


class EngineBundleModel(PythonModel):
    """Predictions (and class probabilities) for rows, from the run's verified bundle."""

    bundle: Bundle

    def load_context(self, context: PythonModelContext) -> None:
        self.bundle = load_bundle(Path(context.artifacts[BUNDLE_ARTIFACT]))

    def predict(self, context: PythonModelContext, model_input: pd.DataFrame,
                params: dict[str, Any] | None = None) -> pd.DataFrame:
        return predict_rows(self.bundle, model_input)[0]


mlflow.models.set_model(EngineBundleModel())
