"""ONNX export of a fitted scikit-learn Pipeline (skl2onnx), checked for parity in onnxruntime.

The graph takes the raw columns, as the bundle does: one input per schema column, named after
it and shaped [N, 1]. Numeric columns are float64 with NaN for a missing value; categorical
columns (text, category, boolean) are strings, ``str(value)``, with ``"nan"`` for a missing one.
The features are computed in float64, as scikit-learn does, then cast to float32 for the model
(ai.onnx.ml's operators take float32; scikit-learn's trees cast too). A classifier's graph
answers ``label`` (the index into the run's classes) and ``probabilities`` [N, classes]; a
regressor's ``variable`` [N, 1]. A category the model never saw is encoded as scikit-learn
encodes it: a one-hot encoder's graph gives it the infrequent column (``handle_unknown:
infrequent_if_exist``) or none (``ignore``), an ordinal encoder's its ``unknown_value``.
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
    OnnxMatMul,
    OnnxOneHotEncoder,
    OnnxReduceSumApi11,
    OnnxReshape,
    OnnxSub,
    OnnxWhere,
)
from skl2onnx.common.data_types import (
    DoubleTensorType,
    FloatTensorType,
    Int64TensorType,
    StringTensorType,
    guess_proto_type,
)
from skl2onnx.operator_converters.imputer_op import convert_sklearn_imputer
from skl2onnx.operator_converters.one_hot_encoder import convert_sklearn_one_hot_encoder
from skl2onnx.shape_calculators.imputer import calculate_sklearn_imputer_output_shapes
from skl2onnx.sklapi import CastTransformer
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import FixedThresholdClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from engine.deploy.boosting_onnx import register_converters
from engine.deploy.parity import largest_difference
from engine.errors import EngineError, first_line
from engine.tracking.files import write_bytes

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


def feature_steps(preprocessor: ColumnTransformer,
                  frame: pd.DataFrame | None = None) -> Iterator[tuple[str, type]]:
    """Each transformer of the blocks that take a column, named by its config key (and the
    columns, once known).

    A fitted preprocessor's blocks took the columns they were fitted on; an unfitted one's pick
    theirs from ``frame``. Without ``frame``, only blocks that name their columns are listed: a
    block picking by kind (``dtype: datetime``) may find no column in the data.
    """
    blocks = getattr(preprocessor, "transformers_", preprocessor.transformers)
    for block, steps, selection in blocks:
        columns = _block_columns(selection, frame)
        if isinstance(steps, str) or not columns:
            continue
        on = f" of column(s) {', '.join(map(str, columns[:5]))}"
        if isinstance(steps, Pipeline):
            for index, (_, step) in enumerate(steps.steps):
                yield f"features.transformers.{block}.steps[{index}]{on}", type(step)
        else:
            yield f"features.transformers.{block}{on}", type(steps)


def _block_columns(selection: Any, frame: pd.DataFrame | None) -> list[Any] | None:
    """A block's columns: those named or fitted, those its selector picks from ``frame``, or
    None while unknown."""
    if callable(selection):
        if frame is not None:
            return list(selection(frame))
        names = list(getattr(selection, "names", ()))
        return names or None
    return [selection] if isinstance(selection, str | int) else list(selection)


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
        fix = ("Take that step out, or drop onnx from deploy.targets (deploy=bundle)"
               if where != "model" else
               "The bundle, engine serve and engine predict take it (deploy=bundle); "
               "model=lightgbm and model=hist_gbm export to onnx")
        raise OnnxExportError(
            f"deploy.targets: onnx cannot convert {where} ({cls.__name__}): skl2onnx has no "
            f"converter for it. {fix}."
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


def export_pipeline_onnx(pipeline: Pipeline, rows: pd.DataFrame, schema: Mapping[str, Any],
                         path: Path) -> dict[str, Any]:
    """Convert the fitted Pipeline to ``path``, run it in onnxruntime on ``rows`` and compare.

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
    parity = _parity(pipeline, rows, _run(graph, onnx_inputs(rows, schema), names))
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
    write_bytes(path, graph.SerializeToString())
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
    """The graph's outputs in onnxruntime; a graph that cannot answer the held-out rows (which
    scikit-learn did answer) is an OnnxExportError."""
    import onnxruntime

    try:
        session = onnxruntime.InferenceSession(graph.SerializeToString(),
                                               providers=["CPUExecutionProvider"])
        return session.run(None, {names[column]: values for column, values in feeds.items()})
    except Exception as error:  # onnxruntime's errors (Fail, InvalidArgument) share no other base
        raise OnnxExportError(
            "deploy.targets: onnxruntime cannot run the onnx graph on held-out rows scikit-learn "
            f"predicts: {first_line(error)[:300]}; no export was kept."
        ) from None


def _parity_culprit(pipeline: Pipeline, rows: pd.DataFrame, schema: Mapping[str, Any],
                    steps: Sequence[tuple[str, type]]) -> str:
    """Whether the features or the model differ: the features' graph alone is checked."""
    types = input_types(schema)
    graph = _convert(Pipeline(_taking_columns(pipeline.steps[:-1])), types, classifier=False)
    features = _run(graph, onnx_inputs(rows, schema), _input_names(graph, types))[0]
    expected = np.asarray(pipeline[:-1].transform(rows), dtype=np.float64)
    if np.allclose(features, expected, rtol=1e-6, atol=1e-6, equal_nan=True):
        where, cls = steps[-1]
        return f"{where} ({cls.__name__})"
    return "the features (features.transformers)"


def _graph_pipeline(pipeline: Pipeline) -> Pipeline:
    """What is converted: the features (without the blocks that found no column), a cast to
    float32, then the model."""
    *features, (name, model) = pipeline.steps
    return Pipeline([*_taking_columns(features), ("float32", CastTransformer(dtype=np.float32)),
                     (name, _float32_thresholds(model))])


def _taking_columns(steps: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """The steps, a fitted ColumnTransformer's empty blocks dropped (skl2onnx would still look
    for a converter for their steps)."""
    kept = []
    for name, step in steps:
        if isinstance(step, ColumnTransformer) and any(
                len(columns) == 0 for _, _, columns in step.transformers_):
            step = copy.copy(step)
            step.transformers_ = [(block, "drop" if len(columns) == 0 else transformer, columns)
                                  for block, transformer, columns in step.transformers_]
        kept.append((name, step))
    return kept


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


def _one_hot_shape(operator: Any) -> None:
    """The encoder's real width: infrequent categories grouped, a dropped one left out."""
    encoder = operator.raw_operator
    kind = Int64TensorType if np.issubdtype(encoder.dtype, np.signedinteger) else FloatTensorType
    operator.outputs[0].type = kind([operator.inputs[0].get_first_dimension(),
                                     sum(_output_widths(encoder))])


def _one_hot_encoder(scope: Any, operator: Any, container: Any) -> None:
    """OneHotEncoder on text columns, categories never seen included: each column one-hot over
    its training categories (all zeros for another), times the matrix of what the encoder's own
    ``transform`` outputs for each category and for an unseen one, so infrequent groups,
    ``drop`` and ``handle_unknown`` come out as in scikit-learn (skl2onnx's converter fails on
    an unseen category unless ``handle_unknown='ignore'``). Other inputs go to skl2onnx's."""
    encoder, version = operator.raw_operator, container.target_opset
    columns = _text_columns(operator, version)
    if columns is None or len(columns) != len(encoder.categories_):
        convert_sklearn_one_hot_encoder(scope, operator, container)
        return
    hots, unseen = [], []
    for column, categories in zip(columns, encoder.categories_, strict=True):
        names = [MISSING_CATEGORY if pd.isna(c) else str(c) for c in categories]
        hot = OnnxReshape(
            OnnxOneHotEncoder(column, cats_strings=names, op_version=1,
                              zeros=0 if encoder.handle_unknown == "error" else 1),
            np.array([-1, len(names)], dtype=np.int64), op_version=version)
        hots.append(hot)
        unseen.append(OnnxSub(np.ones((1, 1), dtype=np.float32),
                              OnnxReduceSumApi11(hot, axes=[1], keepdims=1, op_version=version),
                              op_version=version))
    encoded = OnnxMatMul(OnnxConcat(*hots, *unseen, axis=1, op_version=version),
                         _encoding_matrix(encoder), op_version=version)
    if np.issubdtype(encoder.dtype, np.signedinteger):
        encoded = OnnxCast(encoded, to=guess_proto_type(Int64TensorType()), op_version=version)
    OnnxIdentity(encoded, op_version=version,
                 output_names=operator.outputs[:1]).add_to(scope, container)


def _text_columns(operator: Any, version: int) -> list[Any] | None:
    """Each input column [N, 1] of a text input; None when an input is not text or its width
    is unknown."""
    columns: list[Any] = []
    for variable in operator.inputs:
        width = variable.type.shape[1]
        if not isinstance(variable.type, StringTensorType) or not isinstance(width, int):
            return None
        columns += [variable] if width == 1 else [
            OnnxGather(variable, np.array([index], dtype=np.int64), axis=1, op_version=version)
            for index in range(width)]
    return columns


def _encoding_matrix(encoder: OneHotEncoder) -> np.ndarray:
    """A row per training category of each column, then a row per column for an unseen one:
    the encoder's output for it, within that column's own output columns."""
    widths = _output_widths(encoder)
    ends = np.cumsum(widths)
    base = np.array([categories[0] for categories in encoder.categories_], dtype=object)
    names = getattr(encoder, "feature_names_in_", None)
    grouped = getattr(encoder, "infrequent_categories_", [None] * len(widths))
    rows, unseen = [], []
    for index, categories in enumerate(encoder.categories_):
        probe = np.tile(base, (len(categories), 1))
        probe[:, index] = categories
        encoded = encoder.transform(pd.DataFrame(probe, columns=names) if names is not None
                                    else probe)
        encoded = np.asarray(encoded.toarray() if hasattr(encoded, "toarray") else encoded,
                             dtype=np.float32)
        own = np.zeros_like(encoded)
        own[:, ends[index] - widths[index]:ends[index]] = \
            encoded[:, ends[index] - widths[index]:ends[index]]
        rows.append(own)
        infrequent = grouped[index] if encoder.handle_unknown in ("infrequent_if_exist",
                                                                  "warn") else None
        unseen.append(own[int(np.flatnonzero(pd.Series(categories).isin(infrequent))[0])]
                      if infrequent is not None else np.zeros(own.shape[1], dtype=np.float32))
    return np.vstack([*rows, *unseen])


def _output_widths(encoder: OneHotEncoder) -> list[int]:
    """How many output columns each input column has, read from the output's feature names."""
    named = copy.copy(encoder).set_params(feature_name_combiner=lambda column, _: str(column))
    names = list(named.get_feature_names_out())
    columns = getattr(encoder, "feature_names_in_",
                      [f"x{index}" for index in range(len(encoder.categories_))])
    return [names.count(str(column)) for column in columns]


update_registered_converter(SimpleImputer, "SklearnSimpleImputer", _imputer_shape,
                            _numeric_imputer)
update_registered_converter(OneHotEncoder, "SklearnOneHotEncoder", _one_hot_shape,
                            _one_hot_encoder)
register_converters()
