"""Bootstrap intervals: each vectorised metric equals scikit-learn's with the same weights, the
intervals cover a known value at about the stated rate, and the settings are checked."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import check_scoring, get_scorer

from engine.config.schema import MetricsConfig, parse_section
from engine.config.schema.metrics import BootstrapConfig
from engine.errors import ConfigError
from engine.evaluation.bootstrap import holdout_intervals, metric_statistic, resample_counts
from engine.evaluation.metrics import DEFAULT_SCORERS
from engine.evaluation.responses import Responses

EXTRA = {
    "binary": ("neg_brier_score", "f1_weighted", "precision_micro", "roc_auc_ovr", "jaccard"),
    "multiclass": ("roc_auc_ovr_weighted", "f1_weighted", "recall_micro", "matthews_corrcoef"),
    "regression": ("neg_mean_squared_error", "neg_median_absolute_error"),
}


def fitted(task: str):
    if task == "regression":
        X, y = make_regression(300, 5, noise=20, random_state=0)
        return Ridge().fit(X[:200], y[:200]), X[200:], y[200:]
    classes = 2 if task == "binary" else 3
    X, y = make_classification(400, 6, n_informative=4, n_classes=classes, flip_y=0.1,
                               random_state=0)
    model = (HistGradientBoostingClassifier(max_iter=20) if task == "binary"
             else LogisticRegression(max_iter=500))
    return model.fit(X[:250], y[:250]), X[250:], y[250:]


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_every_statistic_equals_sklearn_with_the_same_weights(task: str) -> None:
    model, X, y = fitted(task)
    counts = resample_counts(np.random.default_rng(0), len(y), 5)
    responses = Responses(model, X)
    for name in (*DEFAULT_SCORERS[task], *EXTRA[task]):
        values = metric_statistic(name, y, responses)(counts)
        scorer = get_scorer(name)
        for weights, value in zip(counts, values, strict=True):
            kept = weights > 0
            expected = scorer(model, X[kept], y[kept], sample_weight=weights[kept])
            assert value == pytest.approx(expected, rel=1e-9, abs=1e-12), name
        # With every row once, the statistic is the plain held-out score.
        plain = metric_statistic(name, y, responses)(np.ones((1, len(y))))[0]
        assert plain == pytest.approx(check_scoring(model, scoring=name)(model, X, y), rel=1e-9)


def test_intervals_cover_a_known_accuracy_at_about_the_stated_rate() -> None:
    rng = np.random.default_rng(1)
    true_accuracy, covered, repeats = 0.8, 0, 300
    model = DummyClassifier(strategy="constant", constant=1).fit([[0], [1]], [0, 1])
    for repeat in range(repeats):
        y = (rng.random(200) < true_accuracy).astype(int)  # the model is right where y == 1
        interval = holdout_intervals(Responses(model, np.zeros((200, 1))), y, ["accuracy"],
                                     BootstrapConfig(resamples=400), seed=repeat)["accuracy"]
        covered += interval["low"] <= true_accuracy <= interval["high"]
    assert 0.90 <= covered / repeats <= 0.98


def test_the_same_seed_gives_the_same_interval_and_chunks_do_not_matter(monkeypatch) -> None:
    model, X, y = fitted("binary")
    settings = BootstrapConfig(resamples=300)
    first = holdout_intervals(Responses(model, X), y, ["roc_auc", "f1"], settings, seed=7)
    assert first == holdout_intervals(Responses(model, X), y, ["roc_auc", "f1"], settings, seed=7)
    assert first["roc_auc"]["low"] < first["roc_auc"]["high"]
    monkeypatch.setattr("engine.evaluation.bootstrap.RESAMPLE_CELLS", 7 * len(y))  # 7 at a time
    assert holdout_intervals(Responses(model, X), y, ["roc_auc", "f1"], settings, seed=7) == first


@pytest.mark.parametrize(("options", "message"), [
    ({"resamples": -1}, r"metrics.bootstrap.resamples: -1 is not a whole number >= 0"),
    ({"confidence": 95},
     r"metrics.bootstrap.confidence: 95 is not a number between 0.0 and 1.0 \(both excluded\)"),
    ({"resample": 10}, r"metrics.bootstrap.resample: unknown key. Did you mean 'resamples'\?"),
])
def test_bad_settings_are_named(options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_section(MetricsConfig, {"bootstrap": options}, "metrics.")


def test_a_run_records_intervals_and_the_overfitting_check(run) -> None:
    result = run("model=random_forest", "model.n_estimators=30", "split.cv.n_splits=3")
    metrics = result.metrics
    assert set(metrics["test_intervals"]) == set(metrics["test"])
    for name, value in metrics["test"].items():
        interval = metrics["test_intervals"][name]
        assert interval["low"] <= value <= interval["high"], name
    assert metrics["bootstrap"] == {"method": "percentile", "resamples": 1000,
                                    "confidence": 0.95, "seed": 42}
    check = metrics["overfitting"]
    assert check["train"] == pytest.approx(1.0)  # a forest memorises its training rows
    assert check["train_vs_cv"] == pytest.approx((1.0 - check["cv"]) / check["cv"])
    assert check["flagged"] is False  # under 5 % on breast_cancer
    strict = run("model=random_forest", "model.n_estimators=30", "split.cv.n_splits=3",
                 "metrics.overfitting.max_gap=0.001")
    assert strict.metrics["overfitting"]["flagged"] is True
    off = run("model=dummy", "split.cv.n_splits=3", "metrics.bootstrap.resamples=0")
    assert off.metrics["test_intervals"] == {}


def test_the_training_score_of_a_large_split_is_taken_on_a_seeded_sample(run) -> None:
    overrides = ("dataset=synthetic_classification", "dataset.n_samples=13000",
                 "dataset.n_features=5", "dataset.n_informative=3",
                 "model=logistic_regression", "split=holdout",
                 "metrics.bootstrap.resamples=0", "metrics.explain.importance_repeats=0")
    first, again = run(*overrides), run(*overrides)
    check = first.metrics["overfitting"]
    assert first.metrics["n_train"] == 10400
    assert abs(check["train_rows"] - 10000) <= 1  # each class's share, rounded
    assert 0.5 < check["train"] < 1.0
    assert again.metrics["overfitting"]["train"] == check["train"]


def test_auc_with_many_tied_scores_equals_sklearn() -> None:
    from sklearn.metrics import roc_auc_score

    from engine.evaluation.bootstrap import _binary_auc

    rng = np.random.default_rng(3)
    y = (rng.random(500) < 0.4).astype(float)
    score = np.round(rng.random(500) + 0.3 * y, 1)  # eleven-odd distinct values: ties everywhere
    counts = resample_counts(rng, 500, 4)
    for weights, value in zip(counts, _binary_auc(y, score)(counts), strict=True):
        assert value == pytest.approx(roc_auc_score(y, score, sample_weight=weights), rel=1e-12)


def test_the_console_shows_intervals_and_flags_overfitting(in_process_cli) -> None:
    cli = in_process_cli
    done = cli("model=random_forest", "model.n_estimators=20", "split.cv.n_splits=3",
               "metrics.overfitting.max_gap=0.001")
    assert done.returncode == 0, done.stderr
    assert "test 95% interval" in done.stdout
    assert "overfitting: roc_auc train 1.0000 · cv 0.9" in done.stdout
    assert "(metrics.overfitting.max_gap=0.001)" in done.stdout
    bad = cli("metrics.bootstrap.resamples=-5")
    assert bad.returncode == 2
    assert "metrics.bootstrap.resamples: -5 is not a whole number >= 0" in bad.stderr


@pytest.mark.parametrize("overrides", [
    ("dataset=breast_cancer", "model=logistic_regression"),
    ("dataset=breast_cancer", "model=random_forest", "model.n_estimators=20",
     "metrics.scorers=[roc_auc,top_k_accuracy,neg_log_loss,average_precision]"),
    ("dataset=iris", "model=random_forest", "model.n_estimators=20",
     "metrics.scorers=[f1_macro,roc_auc_ovr,roc_auc_ovo,top_k_accuracy,matthews_corrcoef,"
     "neg_log_loss]"),
    ("dataset=diabetes", "model=ridge",
     "metrics.scorers=[neg_root_mean_squared_error,neg_max_error,neg_median_absolute_error,r2]"),
])
@pytest.mark.filterwarnings("ignore:'k' \\(2\\) greater than or equal to 'n_classes'")
def test_test_scores_equal_sklearn_scorers_on_the_bundle(run, overrides) -> None:
    """The test stage scores from its shared responses; scikit-learn's scorers on the saved
    pipeline and the test rows give the same values. Every scorer gets an interval, those whose
    metric refuses sample weights (max error, one-vs-one ROC AUC) included."""
    import pandas as pd

    from engine.config.compose import compose_spec
    from engine.data.sources import load_dataset
    from engine.deploy.bundle import load_bundle

    result = run(*overrides, "split.cv.n_splits=3", "metrics.bootstrap.resamples=50",
                 "metrics.explain.importance_repeats=0")
    data = load_dataset(compose_spec(list(overrides)).dataset, seed=42)
    predictions = pd.read_csv(result.run_dir / "predictions.csv")
    bundle = load_bundle(result.run_dir / "model")
    X = data.X.loc[predictions["row"]]
    classes = bundle.metadata.classes
    y = (np.array([classes.index(v) for v in data.y.loc[predictions["row"]]]) if classes
         else data.y.loc[predictions["row"]].to_numpy())
    expected = check_scoring(bundle.pipeline, scoring=list(result.metrics["test"]))(
        bundle.pipeline, X, y)
    for name, value in expected.items():
        assert result.metrics["test"][name] == pytest.approx(value, rel=1e-12, abs=1e-12), name
        interval = result.metrics["test_intervals"][name]
        assert interval["low"] <= value + 1e-12 and value - 1e-12 <= interval["high"], name


def test_a_scorer_that_cannot_score_the_resamples_gets_no_interval_and_a_warning() -> None:
    X, y = make_regression(n_samples=80, n_features=3, random_state=0)  # negative targets
    responses = Responses(Ridge().fit(X, y), X)
    settings = BootstrapConfig(resamples=20, confidence=0.9)
    with pytest.warns(UserWarning, match="no interval for neg_mean_squared_log_error"):
        intervals = holdout_intervals(responses, y, ["r2", "neg_mean_squared_log_error"],
                                      settings, seed=0)
    assert np.isnan(intervals["neg_mean_squared_log_error"]["low"])
    assert intervals["r2"]["low"] < intervals["r2"]["high"]
