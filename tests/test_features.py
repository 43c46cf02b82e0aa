"""Feature blocks: supervised steps, function parameters from the allow-list, step classes, and
the date features."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_selection import SelectFromModel, SelectKBest, chi2, f_classif
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import parametrize_with_checks
from sklearn.utils.validation import check_is_fitted

from engine.config.compose import compose_spec
from engine.config.schema import FeaturesConfig, parse_section
from engine.deploy.batch_predict import predict_rows
from engine.deploy.bundle import load_bundle
from engine.errors import ConfigError
from engine.experiment import RunResult, validate_spec
from engine.features.dates import DateFeatures
from engine.features.preprocessor import build_preprocessor

TEXT_DATA = ("dataset=synthetic_text", "dataset.n_samples=400", "features=text",
             "model=logistic_regression", "split.cv.n_splits=3", "report=false")


def double(values: Any) -> Any:
    """A user's own function, allowed through allowed_targets=[tests.]."""
    return values * 2


def block(*steps: dict[str, Any]) -> FeaturesConfig:
    """A features config with one numeric block running ``steps``."""
    return parse_section(FeaturesConfig, {"transformers": {"numeric": {
        "dtype": "numeric", "steps": list(steps)}}}, "features.")


def only_step(features: FeaturesConfig, allowed: tuple[str, ...] = ()) -> Any:
    return build_preprocessor(features, allowed=allowed).transformers[0][1].steps[0][1]


def test_a_score_function_is_written_as_its_dotted_name() -> None:
    step = only_step(block({"_target_": "sklearn.feature_selection.SelectKBest",
                            "score_func": "sklearn.feature_selection.f_classif", "k": 3}))
    assert isinstance(step, SelectKBest) and step.score_func is f_classif


def test_a_function_transformer_takes_numpy_ufuncs() -> None:
    step = only_step(block({"_target_": "sklearn.preprocessing.FunctionTransformer",
                            "func": "numpy.log1p", "inverse_func": "numpy.expm1",
                            "feature_names_out": "one-to-one"}))
    assert isinstance(step, FunctionTransformer)
    assert (step.func, step.inverse_func) == (np.log1p, np.expm1)
    assert step.feature_names_out == "one-to-one"  # a string option stays a string
    np.testing.assert_allclose(step.fit_transform(np.array([[0.0], [np.e - 1]])), [[0.0], [1.0]])


def test_a_list_becomes_the_tuple_a_parameter_takes() -> None:
    features = parse_section(FeaturesConfig, {"transformers": {"text": {"column": "text", "steps": [
        {"_target_": "sklearn.feature_extraction.text.TfidfVectorizer", "ngram_range": [1, 2],
         "analyzer": "word"}]}}})
    step = only_step(features)
    assert step.ngram_range == (1, 2) and step.analyzer == "word"


def test_an_estimator_parameter_is_built_from_its_own_target() -> None:
    step = only_step(block({"_target_": "sklearn.feature_selection.SelectFromModel",
                            "estimator": {"_target_": "sklearn.linear_model.LogisticRegression",
                                          "C": 0.5}}))
    assert isinstance(step, SelectFromModel) and isinstance(step.estimator, LogisticRegression)
    assert step.estimator.C == 0.5


def test_a_users_own_function_is_allowed_through_allowed_targets() -> None:
    config = block({"_target_": "sklearn.preprocessing.FunctionTransformer",
                    "func": "tests.test_features.double"})
    with pytest.raises(ConfigError, match="is not a function a config may pass"):
        only_step(config)
    assert only_step(config, allowed=("tests.",)).func is double


LOADERS = ["torch.load", "numpy.load", "builtins.eval", "pickle.load", "joblib.load", "os.system"]


@pytest.mark.parametrize("name", LOADERS)
def test_a_loader_is_refused_as_a_function_parameter(name: str) -> None:
    config = block({"_target_": "sklearn.preprocessing.FunctionTransformer", "func": name})
    with pytest.raises(ConfigError) as caught:
        build_preprocessor(config)
    message = str(caught.value)
    assert message.startswith(
        f"features.transformers.numeric.steps[0].func: '{name}' is not a function a config "
        "may pass. A callable parameter takes one of: scikit-learn's score functions")
    assert "numpy's ufuncs" in message and "allowed_targets=[mypackage.]" in message


@pytest.mark.parametrize(("name", "suggestion"), [
    ("f_classif", "sklearn.feature_selection.f_classif"),
    ("sklearn.feature_selection.f_clasif", "sklearn.feature_selection.f_classif"),
    ("np.log1p", "numpy.log1p"),
])
def test_a_misspelt_function_gets_did_you_mean(name: str, suggestion: str) -> None:
    config = block({"_target_": "sklearn.feature_selection.SelectKBest", "score_func": name})
    with pytest.raises(ConfigError, match=rf"score_func: '{name}'.*Did you mean '{suggestion}'"):
        build_preprocessor(config)


@pytest.mark.parametrize(("target", "message"), [
    ("torch.load", r"'torch.load' is a function, not a class; a `_target_` here names a "
                   r"scikit-learn transformer class, e.g. sklearn.preprocessing.StandardScaler"),
    ("numpy.load", r"'numpy.load' is outside the allow-list of modules a config may load"),
    ("builtins.eval", r"'builtins.eval' is outside the allow-list"),
    ("sklearn.ensemble.RandomForestClassifier",
     r"'sklearn.ensemble.RandomForestClassifier' is not a scikit-learn transformer \(it has no "
     r"transform\)"),
])
def test_a_step_target_must_be_a_transformer_class(target: str, message: str) -> None:
    spec = compose_spec(
        [f"features.transformers.numeric.steps=[{{_target_: {target}, f: evil.pt}}]"])
    with pytest.raises(ConfigError, match=rf"^features.transformers.numeric.steps\[0\]._target_: "
                                          rf"{message}"):
        validate_spec(spec)


def test_torch_load_as_a_step_is_refused_without_being_called(
        monkeypatch: pytest.MonkeyPatch) -> None:
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch, "load", lambda *args, **kwargs: pytest.fail("torch.load ran"))
    spec = compose_spec(["features.transformers.numeric.steps=[{_target_: torch.load, "
                         "f: evil.pt, weights_only: false}]"])
    with pytest.raises(ConfigError, match="not a class"):
        validate_spec(spec)


def test_the_cli_refuses_a_loader_with_status_2(in_process_cli: Callable[..., Any]) -> None:
    cli = in_process_cli  # engine.cli.main in this process, exiting as the command does
    as_step = cli("features.transformers.numeric.steps=[{_target_: torch.load, f: evil.pt, "
                  "weights_only: false}]")
    as_function = cli("features.transformers.numeric.steps=[{_target_: "
                      "sklearn.preprocessing.FunctionTransformer, func: numpy.load}]")
    for done, line in (
        (as_step, "error: features.transformers.numeric.steps[0]._target_: 'torch.load' is a "
                  "function, not a class"),
        (as_function, "error: features.transformers.numeric.steps[0].func: 'numpy.load' is not "
                      "a function a config may pass"),
    ):
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith(line), done.stderr
        assert "Traceback" not in done.stderr


def test_supervised_steps_run_through_cv_refit_and_predict(
        run: Callable[..., RunResult]) -> None:
    """SelectKBest with chi2 (shipped in features=text) and a TargetEncoder take the target in
    the up-front check, every CV fold and the refit; the bundle predicts new rows."""
    result = run(*TEXT_DATA,
                 "features.transformers.categorical.steps=[{_target_: "
                 "sklearn.preprocessing.TargetEncoder}]")
    assert result.metrics["cv"]["f1_macro"]["mean"] > 0.7
    bundle = load_bundle(result.run_dir)
    blocks = bundle.pipeline.named_steps["features"].named_transformers_
    selector = blocks["text"].named_steps["selectkbest"]
    assert selector.score_func is chi2 and selector.get_support().sum() == 100
    check_is_fitted(blocks["categorical"].named_steps["targetencoder"])
    rows = pd.DataFrame({"text": ["refund my invoice please", None], "channel": ["chat", "email"],
                         "words": [4, 0], "wait_hours": [1.5, 2.0]})
    predictions, _ = predict_rows(bundle, rows)
    assert set(predictions["prediction"]) <= set(bundle.metadata.classes)
    assert predictions.loc[0, "prediction"] == "billing"


def test_supervised_steps_are_tuned(run: Callable[..., RunResult]) -> None:
    result = run(*TEXT_DATA, "tune=random", "tune.n_trials=3", "tune.plots=false",
                 "+features.search_space={text__selectkbest__k: "
                 "{type: categorical, choices: [20, 50]}}")
    best = result.metrics["tuning"]["best_params"]
    assert best["text__selectkbest__k"] in (20, 50)
    k = load_bundle(result.run_dir).pipeline.named_steps["features"].named_transformers_[
        "text"].named_steps["selectkbest"].k
    assert k == best["text__selectkbest__k"]


@parametrize_with_checks([DateFeatures(), DateFeatures(parts=["month", "elapsed_days"])])
def test_date_features_keep_the_estimator_contract(estimator: DateFeatures, check: Any) -> None:
    check(estimator)


def test_date_features_give_each_part_and_the_days_since_the_earliest_training_date() -> None:
    train = pd.DataFrame({"signup": pd.to_datetime(["2024-03-01", "2024-01-01", None])})
    dates = DateFeatures().fit(train)
    assert list(dates.get_feature_names_out()) == [
        "signup_year", "signup_month", "signup_day", "signup_weekday", "signup_elapsed_days"]
    np.testing.assert_array_equal(dates.transform(train), [
        [2024, 3, 1, 4, 60], [2024, 1, 1, 0, 0], [np.nan] * 5])  # 2024-03-01 is a Friday


def test_date_features_take_unseen_dates_text_and_zones() -> None:
    """A date after every training date is further on; ISO text and zoned times are read (in
    UTC), as rows sent to predict or serve arrive."""
    dates = DateFeatures(parts=["year", "hour", "elapsed_days"]).fit(
        pd.DataFrame({"at": pd.to_datetime(["2024-01-01", "2024-01-02"])}))
    new = pd.DataFrame({"at": ["2031-06-15T10:30:00", "2024-01-01T12:00:00+02:00", None]})
    np.testing.assert_allclose(dates.transform(new), [
        [2031, 10, (pd.Timestamp("2031-06-15T10:30") - pd.Timestamp("2024-01-01")).days + 0.4375],
        [2024, 10, 10 / 24], [np.nan, np.nan, np.nan]])


def test_date_features_refuse_text_that_is_no_date() -> None:
    dates = DateFeatures().fit(pd.DataFrame({"at": ["2024-01-01"]}))
    with pytest.raises(ValueError, match="column 'at' holds values that are not dates"):
        dates.transform(pd.DataFrame({"at": ["next tuesday"]}))


def test_a_date_block_emits_the_parts_its_config_names() -> None:
    features = parse_section(FeaturesConfig, {"transformers": {"when": {
        "dtype": "datetime", "steps": [{"_target_": "engine.features.dates.DateFeatures",
                                        "parts": ["quarter", "dayofyear"]}]}}}, "features.")
    frame = pd.DataFrame({"day": pd.to_datetime(["2024-12-31", "2024-02-01"]), "n": [1, 2]})
    block = build_preprocessor(features).fit(frame)
    assert list(block.get_feature_names_out()) == ["day_quarter", "day_dayofyear"]
    np.testing.assert_array_equal(block.transform(frame), [[4, 366], [1, 32]])


def test_an_unknown_date_part_is_refused_before_any_data() -> None:
    features = parse_section(FeaturesConfig, {"transformers": {"date": {
        "dtype": "datetime", "steps": [{"_target_": "engine.features.dates.DateFeatures",
                                        "parts": ["year", "weekdays"]}]}}}, "features.")
    with pytest.raises(ConfigError, match=r"^features\.transformers\.date\.steps\[0\]\.parts: "
                       r"The 'parts' parameter of DateFeatures must be a non-empty list of year, "
                       r".*Got \['year', 'weekdays'\] instead\. Did you mean 'weekday'\?"):
        build_preprocessor(features)
