"""ONNX export of a fitted scikit-learn Pipeline (skl2onnx), checked for parity in onnxruntime.

The graph takes the raw columns, as the bundle does: one input per schema column, named after
it and shaped [N, 1]. Numeric columns are float64 with NaN for a missing value; categorical
columns (text, category, boolean) are strings, ``str(value)``, with ``"nan"`` for a missing one.
The features are computed in float64, as scikit-learn does, then cast to float32 for the model
(ai.onnx.ml's operators take float32; scikit-learn's trees cast too). A classifier's graph
answers ``label`` (the index into the run's classes) and ``probabilities`` [N, classes]; a
regressor's ``variable`` [N, 1]. A category the model never saw makes a one-hot encoder's graph
fail, as the REST service refuses it (an ordinal encoder's maps it to its ``unknown_value``).
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from skl2onnx import convert_sklearn, get_model_alias, update_registered_converter
from skl2onnx.algebra.onnx_ops import (
    OnnxCast,
    OnnxConcat,
    OnnxGather,
    OnnxIdentity,
    OnnxIsNaN,
    OnnxWhere,
)
from skl2onnx.common.data_types import (
    DoubleTensorType,
    FloatTensorType,
    StringTensorType,
    guess_proto_type,
)
from skl2onnx.operator_converters.imputer_op import convert_sklearn_imputer
from skl2onnx.shape_calculators.imputer import calculate_sklearn_imputer_output_shapes
from skl2onnx.sklapi import CastTransformer
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import FixedThresholdClassifier
from sklearn.pipeline import Pipeline

from engine.deploy.parity import largest_difference
from engine.errors import EngineError

OPSET = {"": 18, "ai.onnx.ml": 3}
PARITY_TOLERANCE = 1e-4  # the graph computes in float32, scikit-learn in float64
MISSING_CATEGORY = "nan"
_NUMPY_TYPES = {FloatTensorType: np.float32, DoubleTensorType: np.float64}
WRAPPER_KEYS = {CalibratedClassifierCV: "metrics.calibration",
                FixedThresholdClassifier: "metrics.threshold"}


class OnnxExportError(EngineError):
    """A pipeline that skl2onnx cannot convert, or whose graph disagrees with it."""


def unconvertible_step(steps: Iterable[tuple[str, type]]) -> tuple[str, type] | None:
    """The first ``(where, class)`` among ``steps`` that skl2onnx has no converter for."""
    for where, cls in steps:
        try:
            get_model_alias(cls)
        except RuntimeError:
            return where, cls
    return None


def feature_steps(preprocessor: ColumnTransformer) -> Iterator[tuple[str, type]]:
    """Each transformer of the features, named by its config key."""
    blocks = getattr(preprocessor, "transformers_", preprocessor.transformers)
    for block, steps, _ in blocks:
        if isinstance(steps, Pipeline):
            for index, (_, step) in enumerate(steps.steps):
                yield f"features.transformers.{block}.steps[{index}]", type(step)
        elif not isinstance(steps, str):
            yield f"features.transformers.{block}", type(steps)


def fitted_steps(pipeline: Pipeline) -> list[tuple[str, type]]:
    """Every estimator of a fitted features-and-model Pipeline, wrappers included, by config key."""
    steps = list(feature_steps(pipeline[0]))
    model = pipeline[-1]
    while type(model) in WRAPPER_KEYS:
        steps.append((WRAPPER_KEYS[type(model)], type(model)))
        model = getattr(model, "estimator", None)
        model = getattr(model, "estimator", model)  # FixedThresholdClassifier(FrozenEstimator(m))
    steps.append(("model", type(model)))
    return steps


def refuse_unconvertible(steps: Iterable[tuple[str, type]]) -> None:
    """Fail the onnx target, naming the step, when one cannot be converted."""
    found = unconvertible_step(steps)
    if found:
        where, cls = found
        raise OnnxExportError(
            f"deploy.targets: onnx cannot convert {where} ({cls.__name__}): "
            "skl2onnx has no converter for it. Change that setting, or drop the onnx target."
        )


def input_types(schema: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """The graph's inputs: one [N, 1] tensor per schema column."""
    return [(column["name"], DoubleTensorType([None, 1]) if column["kind"] == "numeric"
             else StringTensorType([None, 1])) for column in schema["columns"]]


def onnx_inputs(frame: pd.DataFrame, schema: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Rows shaped as the graph takes them (see the module's docstring)."""
    feeds = {}
    for column in schema["columns"]:
        values = frame[column["name"]]
        if column["kind"] == "numeric":
            array = values.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            array = np.array([MISSING_CATEGORY if pd.isna(v) else str(v) for v in values],
                             dtype=object)
        feeds[column["name"]] = array.reshape(-1, 1)
    return feeds


def seen_rows(frame: pd.DataFrame, schema: Mapping[str, Any]) -> pd.Series:
    """Which rows hold only categories (a missing value included) seen in training."""
    seen = pd.Series(True, index=frame.index)
    for column in schema["columns"]:
        if column["kind"] != "numeric" and column["categories"] is not None:
            known = {str(v) for v in column["categories"]}
            values = frame[column["name"]]
            seen &= values.isna() & column["nullable"] | values.map(str).isin(known)
    return seen


def export_pipeline_onnx(pipeline: Pipeline, X_check: pd.DataFrame, schema: Mapping[str, Any],
                         path: Path) -> dict[str, Any]:
    """Convert the fitted Pipeline to ``path``, run it in onnxruntime on ``X_check`` and compare.

    Returns the record for exports.json: the inputs, outputs and the parity measured.
    """
    steps = fitted_steps(pipeline)
    refuse_unconvertible(steps)
    classifier = hasattr(pipeline[-1], "classes_")
    types = input_types(schema)
    try:
        graph = _convert(_graph_pipeline(pipeline), types, classifier=classifier)
    except Exception as error:  # skl2onnx raises anything from RuntimeError to AssertionError
        raise OnnxExportError(
            f"deploy.targets: onnx cannot convert {_culprit(steps, error)}: "
            f"{str(error).splitlines()[0][:300]}"
        ) from None
    names = _input_names(graph, types)
    rows = X_check[seen_rows(X_check, schema)]
    parity = _parity(pipeline, rows, _run(graph, onnx_inputs(rows, schema), names))
    parity["unseen_rows_skipped"] = len(X_check) - len(rows)
    difference, agreement = parity["max_abs_diff"], parity["label_agreement"]
    if (difference or 0.0) > PARITY_TOLERANCE or agreement not in (None, 1.0):
        measured = [f"largest difference {difference:.3g} (allowed {PARITY_TOLERANCE})"
                    if difference is not None else "", f"labels agreeing {agreement:.1%}"
                    if agreement is not None else ""]
        raise OnnxExportError(
            f"deploy.targets: the onnx graph of {_parity_culprit(pipeline, rows, schema, steps)} "
            f"differs from scikit-learn on {len(rows)} held-out rows: "
            f"{', '.join(part for part in measured if part)}; no export was kept."
        )
    path.write_bytes(graph.SerializeToString())
    return {
        "file": path.name,
        "input": [{"name": names[column], "column": column,
                   "type": "float64" if isinstance(kind, DoubleTensorType) else "string"}
                  for column, kind in types],
        "output": ({"label": "index into the run's classes", "probabilities": "[N, classes]"}
                   if classifier else {"variable": "prediction [N, 1]"}),
        "parity": parity,
    }


def _convert(pipeline: Pipeline, types: list[tuple[str, Any]], *, classifier: bool) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecated attributes skl2onnx still reads
        return convert_sklearn(pipeline, initial_types=types, target_opset=OPSET,
                               options={"zipmap": False} if classifier else None)


def _input_names(graph: Any, types: list[tuple[str, Any]]) -> dict[str, str]:
    """Each column's input name: skl2onnx keeps the columns' order but makes names ONNX-safe
    ("mean radius": mean_radius)."""
    return dict(zip((column for column, _ in types), (node.name for node in graph.graph.input),
                    strict=True))


def _run(graph: Any, feeds: Mapping[str, np.ndarray], names: Mapping[str, str]) -> list[Any]:
    import onnxruntime

    session = onnxruntime.InferenceSession(graph.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    return session.run(None, {names[column]: values for column, values in feeds.items()})


def _parity_culprit(pipeline: Pipeline, rows: pd.DataFrame, schema: Mapping[str, Any],
                    steps: Sequence[tuple[str, type]]) -> str:
    """Whether the features or the model differ: the features' graph alone is checked."""
    types = input_types(schema)
    graph = _convert(Pipeline(pipeline.steps[:-1]), types, classifier=False)
    features = _run(graph, onnx_inputs(rows, schema), _input_names(graph, types))[0]
    expected = np.asarray(pipeline[:-1].transform(rows), dtype=np.float64)
    if np.allclose(features, expected, rtol=1e-6, atol=1e-6, equal_nan=True):
        where, cls = steps[-1]
        return f"{where} ({cls.__name__})"
    return "the features (features.transformers)"


def _graph_pipeline(pipeline: Pipeline) -> Pipeline:
    """What is converted: the features, a cast to float32, then the model."""
    *features, (name, model) = pipeline.steps
    return Pipeline([*features, ("float32", CastTransformer(dtype=np.float32)),
                     (name, _float32_thresholds(model))])


def _float32_thresholds(model: Any) -> Any:
    """A copy of a tree model whose split thresholds are the largest float32 not above its own.

    scikit-learn compares float32 features with float64 thresholds; the graph holds float32
    thresholds, and one rounded up would send the rows between the two down the other branch.
    """
    if not _trees(model):
        return model
    model = copy.deepcopy(model)
    for tree in _trees(model):
        thresholds = tree.tree_.threshold
        rounded = thresholds.astype(np.float32)
        above = rounded.astype(np.float64) > thresholds
        rounded[above] = np.nextafter(rounded[above], np.float32(-np.inf))
        thresholds[:] = rounded
    return model


def _trees(model: Any) -> list[Any]:
    """A decision tree itself, or the trees of a forest or boosted ensemble."""
    if hasattr(model, "tree_"):
        return [model]
    return [tree for tree in np.ravel(getattr(model, "estimators_", [])) if hasattr(tree, "tree_")]


def _parity(pipeline: Pipeline, rows: pd.DataFrame, outputs: list[np.ndarray]) -> dict[str, Any]:
    """How closely the graph's outputs match the pipeline's on ``rows``.

    A classifier without probabilities (an SVM) is compared on its labels alone.
    """
    record: dict[str, Any] = {"rows": len(rows), "max_abs_diff": None, "label_agreement": None}
    if not len(rows):
        return record
    if hasattr(pipeline[-1], "classes_"):
        record["label_agreement"] = float(np.mean(outputs[0].ravel() == pipeline.predict(rows)))
        if not hasattr(pipeline, "predict_proba"):
            return record
        expected, exported = pipeline.predict_proba(rows), outputs[1]
    else:
        expected, exported = pipeline.predict(rows), outputs[0]
    record["max_abs_diff"] = largest_difference(exported, expected)
    return record


def _culprit(steps: Sequence[tuple[str, type]], error: Exception) -> str:
    """The step an skl2onnx error is about, found by its class or converter name in the text."""
    text = str(error)
    for where, cls in steps:
        if cls.__name__ in text or get_model_alias(cls) in text:
            return f"{where} ({cls.__name__})"
    return "the pipeline"


def _imputer_shape(operator: Any) -> None:
    calculate_sklearn_imputer_output_shapes(operator)
    imputer, output = operator.raw_operator, operator.outputs[0]
    if imputer.add_indicator and output.type.shape[1] is not None:
        output.type.shape[1] += len(imputer.indicator_.features_)


def _numeric_imputer(scope: Any, operator: Any, container: Any) -> None:
    """SimpleImputer on float or double columns with NaN as the missing value, ``add_indicator``
    included (skl2onnx's own converter takes floats only and drops the indicator columns): NaN
    replaced by the statistics, then a 0/1 column per feature that had missing values."""
    imputer, kind = operator.raw_operator, operator.inputs[0].type
    if not (isinstance(kind, FloatTensorType | DoubleTensorType)
            and _is_nan(imputer.missing_values)):
        convert_sklearn_imputer(scope, operator, container)
        return
    version, dtype = container.target_opset, _NUMPY_TYPES[type(kind)]
    features = (operator.inputs[0] if len(operator.inputs) == 1
                else OnnxConcat(*operator.inputs, axis=1, op_version=version))
    missing = OnnxIsNaN(features, op_version=version)
    imputed = OnnxWhere(missing, imputer.statistics_.astype(dtype).reshape(1, -1), features,
                        op_version=version)
    if imputer.add_indicator:
        indicator = OnnxCast(
            OnnxGather(missing, imputer.indicator_.features_.astype(np.int64), axis=1,
                       op_version=version),
            to=guess_proto_type(kind), op_version=version)
        imputed = OnnxConcat(imputed, indicator, axis=1, op_version=version)
    OnnxIdentity(imputed, op_version=version,
                 output_names=operator.outputs[:1]).add_to(scope, container)


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and np.isnan(value)


update_registered_converter(SimpleImputer, "SklearnSimpleImputer", _imputer_shape,
                            _numeric_imputer)
