"""Free-text columns: the synthetic text data, 1-D text blocks, the schema, and a trained text
model answering the batch command and the REST server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from engine.config.compose import compose_spec
from engine.config.schema import FeaturesConfig, parse_section
from engine.data.synthetic_text import make_text
from engine.deploy.input_schema import conform, infer_schema
from engine.errors import ConfigError
from engine.features.preprocessor import build_preprocessor, text_columns
from engine.features.text import FillMissingText
from engine.models.pipeline import build_pipeline
from tests.conftest import only_run_dir, run_main
from tests.deploy.conftest import start_server

FEATURES = ["text", "channel", "words", "wait_hours"]


@pytest.fixture(scope="module")
def text_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``python -m engine dataset=synthetic_text features=text`` with the default model (its
    ``engine.cli.main``, in this process; the server below is a process of its own)."""
    output = tmp_path_factory.mktemp("text")
    done = run_main(["dataset=synthetic_text", "features=text", "dataset.n_samples=400",
                    "split.cv.n_splits=3", "report=false"], output)
    assert done.returncode == 0, done.stderr
    return only_run_dir(output)


@pytest.fixture(scope="module")
def new_rows() -> pd.DataFrame:
    """Rows of another seed, with words never seen in training and a missing text."""
    rows = make_text(n_samples=30, random_state=99).drop(columns="target")
    rows.loc[0, "text"] = "an unheard-of complaint about my refund and the invoice zzyzx"
    rows.loc[1, "text"] = None
    return rows


@pytest.fixture(scope="module")
def batch(text_run: Path, new_rows: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory
          ) -> pd.DataFrame:
    tmp = tmp_path_factory.mktemp("batch")
    new_rows.to_csv(tmp / "rows.csv", index=False)
    done = run_main(["predict", str(text_run), str(tmp / "rows.csv"), "-o", str(tmp / "out.csv")],
                   tmp)
    assert done.returncode == 0, done.stderr
    return pd.read_csv(tmp / "out.csv")


@pytest.fixture(scope="module")
def server(text_run: Path) -> Iterator[str]:
    yield from start_server(str(text_run))


def test_synthetic_text_is_seeded_and_has_free_text() -> None:
    data = make_text(n_samples=500, n_classes=4, random_state=3)
    pd.testing.assert_frame_equal(data, make_text(n_samples=500, n_classes=4, random_state=3))
    assert list(data.columns) == [*FEATURES, "target"]
    assert sorted(data["target"].unique()) == ["account", "billing", "delivery", "product"]
    assert data["text"].nunique() > 450 and 0 < data["text"].isna().sum() < 30
    assert not data.duplicated().any()


def test_synthetic_text_refuses_more_topics_than_it_has() -> None:
    with pytest.raises(ConfigError, match=r"dataset.n_classes: synthetic text has 5 topics .*"
                                          r"use 2 to 5, got 7"):
        make_text(n_classes=7)


def test_a_text_block_gives_its_steps_one_column_as_1d_text() -> None:
    features = compose_spec(["features=text"]).features
    preprocessor = build_preprocessor(features, columns=FEATURES)
    assert preprocessor.transformers[0][2] == "text"  # a string selector: 1-D data
    data = make_text(n_samples=300, random_state=0)
    preprocessor.fit(data[FEATURES], data["target"])
    vocabulary = preprocessor.named_transformers_["text"].named_steps["tfidfvectorizer"]
    assert {"refund", "password", "parcel"} <= set(vocabulary.vocabulary_)
    assert text_columns(features) == ["text"]


@pytest.mark.parametrize(("model", "output"), [
    ("logistic_regression", sparse.csr_matrix),  # takes sparse input: the TF-IDF stays sparse
    ("hist_gbm", np.ndarray),  # takes dense input only
    ("mlp", np.ndarray),  # a network's DataFrame input cannot come from TfidfVectorizer
])
def test_text_features_come_in_the_form_the_model_takes(model: str, output: type) -> None:
    pipeline = build_pipeline(compose_spec(["features=text", f"model={model}"]), "multiclass",
                              FEATURES)
    data = make_text(n_samples=200, random_state=0)
    assert type(pipeline[:-1].fit_transform(data[FEATURES], data["target"])) is output


def test_a_text_block_names_one_existing_column() -> None:
    typo = {"transformers": {"text": {"column": "txt", "steps": []}}}
    with pytest.raises(ConfigError, match=r"^features.transformers.text.column: the data has no "
                                          r"column 'txt'. Did you mean 'text'\?"):
        build_preprocessor(parse_section(FeaturesConfig, typo, "features."), columns=FEATURES)
    both = {"transformers": {"text": {"column": "text", "dtype": "categorical"}}}
    with pytest.raises(ConfigError, match=r"`column: text` gives the steps that one column as "
                                          r"1-D text; drop `dtype`"):
        build_preprocessor(parse_section(FeaturesConfig, both, "features."))


def test_missing_text_is_filled_as_empty_text() -> None:
    filled = FillMissingText().fit_transform(pd.Series(["a b", None, np.nan, 3]))
    assert filled.tolist() == ["a b", "", "", "3"]
    assert FillMissingText(fill_value="?").fit_transform([[None]]).tolist() == ["?"]
    with pytest.raises(ValueError, match="takes one text column"):
        FillMissingText().fit(np.zeros((2, 2)))


def test_the_schema_takes_any_text_for_a_text_column() -> None:
    data = make_text(n_samples=50, random_state=0)[FEATURES]
    schema = infer_schema(data, text_columns=["text"])
    text, channel = schema["columns"][:2]
    assert (text["kind"], text["categories"], text["nullable"]) == ("text", None, True)
    assert channel["categories"] == ["chat", "email", "phone"]
    rows = pd.DataFrame({"text": ["never seen words", None, 12], "channel": ["chat"] * 3,
                         "words": [3, 0, 1], "wait_hours": [1.0, 2.0, 3.0]})
    conformed, warnings = conform(rows, schema, refuse_unseen=True)
    assert warnings == []
    assert conformed["text"].iloc[[0, 2]].tolist() == ["never seen words", "12"]
    assert conformed["text"].isna().iloc[1]  # trained with missing text: the model fills it
    no_missing = {"columns": [{**text, "nullable": False}]}
    assert conform(rows[["text"]], no_missing)[0]["text"].tolist() == [
        "never seen words", "", "12"]


def test_free_text_is_not_taken_for_an_identifier(text_run: Path) -> None:
    report = json.loads((text_run / "data_report.json").read_text())
    assert not [f for f in report["findings"] if f["check"] == "id_like_columns"]


def test_the_text_run_predicts_new_text_in_batch(batch: pd.DataFrame,
                                                  new_rows: pd.DataFrame) -> None:
    assert len(batch) == len(new_rows)
    assert set(batch["prediction"]) <= {"account", "billing", "delivery"}
    assert batch.loc[0, "prediction"] == "billing"
    probabilities = batch[["proba_account", "proba_billing", "proba_delivery"]].to_numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)


def test_the_server_answers_free_text_as_the_batch_command(
        server: str, new_rows: pd.DataFrame, batch: pd.DataFrame) -> None:
    records = [{k: (None if pd.isna(v) else v) for k, v in row.items()}
               for row in new_rows.to_dict(orient="records")]
    answer = httpx.post(f"{server}/predict", json={"records": records})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["predictions"] == batch["prediction"].tolist()
    assert body["warnings"] == []
    record = httpx.get(f"{server}/openapi.json").json()["components"]["schemas"]["Record"]
    assert "enum" not in str(record["properties"]["text"])
    assert {"type": "number"} not in record["properties"]["text"]["anyOf"]  # text, or null
    assert "'chat'" in str(record["properties"]["channel"])  # a category column shows its own
