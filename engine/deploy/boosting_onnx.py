"""The ONNX converters of the engine's boosted models, registered with skl2onnx so that a
Pipeline holding one exports whole, as any scikit-learn Pipeline does.

LightGBM converts through onnxmltools' LightGBM converter, categorical splits included.
XGBoost's and CatBoost's converters take neither the engine's native categorical splits nor
its models, so those families have no converter: their onnx target is refused by name when the
config is validated (``engine.deploy.sklearn_onnx.refuse_unconvertible``), and the bundle, the
REST server and batch predict take them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from onnxmltools.convert.lightgbm.operator_converters.LightGbm import (  # type: ignore[import-untyped]
    convert_lightgbm,
)
from skl2onnx import update_registered_converter
from skl2onnx.common.shape_calculator import (
    calculate_linear_classifier_output_shapes,
    calculate_linear_regressor_output_shapes,
)

from engine.models.lightgbm_model import LightGBMClassifier, LightGBMRegressor


@dataclass(frozen=True)
class _LightGBMView:
    """What onnxmltools' converter reads of a LightGBM model: its booster and classes."""

    booster_: Any
    classes_: Any
    boosting_type: str = "gbdt"


def _lightgbm(scope: Any, operator: Any, container: Any) -> None:
    model = operator.raw_operator
    operator.raw_operator = _LightGBMView(model.booster_, getattr(model, "classes_", None))
    try:
        convert_lightgbm(scope, operator, container)
    finally:
        operator.raw_operator = model


def register_converters() -> None:
    """Make the engine's LightGBM estimators convertible by skl2onnx."""
    update_registered_converter(LightGBMClassifier, "EngineLightGBMClassifier",
                                calculate_linear_classifier_output_shapes, _lightgbm,
                                options={"zipmap": [True, False, "columns"],
                                         "nocl": [True, False]})
    update_registered_converter(LightGBMRegressor, "EngineLightGBMRegressor",
                                calculate_linear_regressor_output_shapes, _lightgbm)
