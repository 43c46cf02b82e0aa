"""load_dataset: every source, the column handling, task inference and the error messages."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pandas.api.types import is_string_dtype

from engine.data import builtin_sources, infer_task
from engine.errors import ConfigError, DataError
from tests.data.conftest import load_dataset

PEOPLE_CSV = """age,color,member,joined,score,label
34,red,yes,2020-01-05,1.5,a
?,blue,no,2020-02-11,2.5,b
51,red,YES,2020-03-02,0.5,a
28,green,No,2020-04-20,3.0,b
45,blue,yes,2020-05-09,2.0,a
39,red,no,2020-06-30,1.0,b
"""


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def file_config(path: str, **overrides: object) -> dict[str, object]:
    return {"name": "people", "source": "file", "path": path, "target": "label", **overrides}


@pytest.mark.parametrize(
    ("loader", "shape", "task"),
    [
        ("iris", (150, 4), "multiclass"),
        ("wine", (178, 13), "multiclass"),
        ("breast_cancer", (569, 30), "binary"),
        ("digits", (1797, 64), "multiclass"),
        ("diabetes", (442, 10), "regression"),
    ],
)
def test_sklearn_loaders(loader: str, shape: tuple[int, int], task: str) -> None:
    data = load_dataset({"name": loader, "source": "sklearn", "loader": loader}, seed=0)
    assert data.X.shape == shape
    assert data.task == task
    assert data.y.name == "target"
    assert "target" not in data.X.columns
    assert data.dropped_missing_target == 0


def test_unknown_loader_suggests_the_closest() -> None:
    with pytest.raises(
        ConfigError, match=r"dataset.loader: unknown loader 'irs'. Did you mean 'iris'\?"
    ):
        load_dataset({"source": "sklearn", "loader": "irs"}, seed=0)


def test_unknown_source_lists_the_valid_ones() -> None:
    with pytest.raises(
        ConfigError,
        match=r"dataset.source: unknown source 'fiel'. Did you mean 'file'\? "
        r"Valid options: file, sklearn, sql, synthetic.",
    ):
        load_dataset({"source": "fiel", "path": "x.csv"}, seed=0)


def test_misspelt_key_is_not_silently_ignored() -> None:
    with pytest.raises(ConfigError, match=r"dataset.tagret: unknown key. Did you mean 'target'\?"):
        load_dataset({"source": "sklearn", "loader": "iris", "tagret": "target"}, seed=0)


def test_csv_with_missing_marker_and_dtype_overrides(tmp_path: Path) -> None:
    config = file_config(
        write(tmp_path / "people.csv", PEOPLE_CSV),
        na_values=["?"],
        dtypes={"color": "category", "member": "bool", "joined": "datetime64[ns]", "age": "Int64"},
    )
    data = load_dataset(config, seed=0)
    assert data.X.shape == (6, 5)
    assert data.X["age"].isna().sum() == 1
    assert str(data.X["age"].dtype) == "Int64"
    assert isinstance(data.X["color"].dtype, pd.CategoricalDtype)
    assert data.X["member"].tolist() == [True, False, True, False, True, False]
    assert str(data.X["joined"].dtype) == "datetime64[ns]"
    assert data.task == "binary"


def test_csv_text_reads_as_pandas_str(tmp_path: Path) -> None:
    data = load_dataset(file_config(write(tmp_path / "people.csv", PEOPLE_CSV)), seed=0)
    assert data.X["color"].dtype != object
    assert is_string_dtype(data.X["color"]) and is_string_dtype(data.y)
    assert data.X["age"].dtype == "str"  # '?' is text until declared missing
    assert data.task == "binary"


def test_parquet_with_missing_marker(tmp_path: Path) -> None:
    frame = pd.DataFrame({"city": ["Oslo", "?", "Rome", "Lima"], "rooms": [2.0, 3.0, np.nan, 4.0]})
    frame["price"] = [10.5, 20.25, 30.0, 15.75]
    frame.to_parquet(tmp_path / "homes.pq")
    data = load_dataset(
        {"source": "file", "path": str(tmp_path / "homes.pq"), "target": "price",
         "na_values": ["?"], "dtypes": {"rooms": "Int64"}},
        seed=0,
    )  # fmt: skip
    assert data.X["city"].isna().tolist() == [False, True, False, False]
    assert data.X["rooms"].tolist()[:2] == [2, 3]
    assert data.task == "regression"


def test_tsv_and_read_options(tmp_path: Path) -> None:
    tsv = write(tmp_path / "people.tsv", PEOPLE_CSV.replace(",", "\t"))
    assert load_dataset(file_config(tsv), seed=0).X.shape == (6, 5)
    semicolons = write(tmp_path / "people.csv", PEOPLE_CSV.replace(",", ";"))
    data = load_dataset(file_config(semicolons, read_options={"sep": ";"}), seed=0)
    assert data.X.shape == (6, 5)
    with pytest.raises(
        ConfigError, match=r"dataset.read_options.sepp: pandas.read_csv has no option 'sepp'. "
        r"Did you mean 'sep'\?"
    ):  # fmt: skip
        load_dataset(file_config(semicolons, read_options={"sepp": ";"}), seed=0)


def test_missing_file_names_the_resolved_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "people.csv", PEOPLE_CSV)
    monkeypatch.chdir(tmp_path)
    expected = (
        f"dataset.path: file 'peple.csv' does not exist (resolved to {tmp_path / 'peple.csv'}). "
        f"Did you mean 'people.csv'? Fix the path, or check that the file is present in {tmp_path}."
    )
    with pytest.raises(DataError, match=re.escape(expected)):
        load_dataset(file_config("peple.csv"), seed=0)


def test_unreadable_file_gives_pandas_reason(tmp_path: Path) -> None:
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"this is not parquet")
    with pytest.raises(
        DataError, match=r"dataset.path: cannot read '.*broken.parquet' as parquet: .*"
    ) as error:
        load_dataset(file_config(str(path)), seed=0)
    assert "\n" not in str(error.value)


def test_unknown_suffix_and_format(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"dataset.format: cannot tell the format .* '.xlsx'"):
        load_dataset(file_config(write(tmp_path / "people.xlsx", PEOPLE_CSV)), seed=0)
    with pytest.raises(
        ConfigError, match=r"dataset.format: unknown value 'parqet'. Did you mean 'parquet'\?"
    ):
        load_dataset(file_config("people.csv", format="parqet"), seed=0)


def test_dtype_errors_name_the_column(tmp_path: Path) -> None:
    path = write(tmp_path / "people.csv", PEOPLE_CSV)
    with pytest.raises(
        ConfigError,
        match=r"dataset.dtypes.colour: column 'colour' is not in the data. Did you mean 'color'\?",
    ):
        load_dataset(file_config(path, dtypes={"colour": "category"}), seed=0)
    with pytest.raises(
        ConfigError,
        match=r"dataset.dtypes.color: cannot convert column 'color' \(str\) to 'float64': .*'red'",
    ):
        load_dataset(file_config(path, dtypes={"color": "float64"}), seed=0)
    with pytest.raises(ConfigError, match=r"dataset.dtypes.color: .*'red' is not a true/false"):
        load_dataset(file_config(path, dtypes={"color": "bool"}), seed=0)
    with pytest.raises(
        ConfigError,
        match=r"dataset.dtypes.score: unknown dtype 'flaot64'. Did you mean 'float64'\?",
    ):
        load_dataset(file_config(path, dtypes={"score": "flaot64"}), seed=0)


def test_column_errors(tmp_path: Path) -> None:
    path = write(tmp_path / "people.csv", PEOPLE_CSV)
    with pytest.raises(
        DataError,
        match=r"dataset.target: column 'lable' is not in the data. Did you mean 'label'\?",
    ):
        load_dataset(file_config(path, target="lable"), seed=0)
    with pytest.raises(
        ConfigError,
        match=r"dataset.drop: column 'colour' is not in the data. Did you mean 'color'\?",
    ):
        load_dataset(file_config(path, drop=["colour"]), seed=0)
    with pytest.raises(ConfigError, match=r"dataset.drop: 'label' is the target"):
        load_dataset(file_config(path, drop=["label"]), seed=0)
    with pytest.raises(DataError, match=r"dataset.drop: no feature columns are left"):
        load_dataset(file_config(path, drop=["age", "color", "member", "joined", "score"]), seed=0)


def test_group_and_time_columns_leave_the_features(tmp_path: Path) -> None:
    data = load_dataset(
        file_config(
            write(tmp_path / "people.csv", PEOPLE_CSV),
            group_column="color",
            time_column="joined",
            drop="age",
        ),
        seed=0,
    )
    assert list(data.X.columns) == ["member", "score"]
    assert data.groups.tolist() == ["red", "blue", "red", "green", "blue", "red"]
    assert pd.api.types.is_datetime64_any_dtype(data.order)
    assert data.order.iloc[-1] == pd.Timestamp("2020-06-30")


def test_rows_without_target_are_dropped_and_counted(tmp_path: Path) -> None:
    text = PEOPLE_CSV.replace("2.5,b", "2.5,").replace("3.0,b", "3.0,")
    data = load_dataset(file_config(write(tmp_path / "people.csv", text)), seed=0)
    assert data.dropped_missing_target == 2
    assert len(data.X) == len(data.y) == 4
    assert data.X.index.tolist() == [0, 2, 4, 5]  # the file's row numbers are kept


def test_single_valued_target_is_refused(tmp_path: Path) -> None:
    text = PEOPLE_CSV.replace(",b\n", ",a\n")
    expected = (
        "dataset.target: column 'label' has a single value ('a') in all 6 rows; "
        "a model needs at least two classes"
    )
    with pytest.raises(DataError, match=re.escape(expected)):
        load_dataset(file_config(write(tmp_path / "people.csv", text)), seed=0)


def test_empty_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "people.csv", PEOPLE_CSV.splitlines()[0] + "\n")
    with pytest.raises(
        DataError, match=r"dataset 'people' has no rows \(source 'file'\); check dataset.path"
    ):
        load_dataset(file_config(path), seed=0)


def test_declared_task_is_checked(tmp_path: Path) -> None:
    path = write(tmp_path / "people.csv", PEOPLE_CSV)
    with pytest.raises(
        ConfigError, match=r"dataset.task: unknown value 'regresion'. Did you mean 'regression'\?"
    ):
        load_dataset(file_config(path, task="regresion"), seed=0)
    with pytest.raises(
        DataError, match=r"dataset.task: 'binary' needs class labels, .* \(e.g. 1.5\)"
    ):
        load_dataset(file_config(path, target="score", drop=["label"], task="binary"), seed=0)
    with pytest.raises(DataError, match=r"dataset.task: 'regression' needs a numeric target"):
        load_dataset(file_config(path, task="regression"), seed=0)


def test_whole_number_float_target_becomes_integer_classes(tmp_path: Path) -> None:
    text = "x,grade\n" + "".join(f"{i},{float(i % 3)}\n" for i in range(30))
    data = load_dataset(file_config(write(tmp_path / "grades.csv", text), target="grade"), seed=0)
    assert data.task == "multiclass"
    assert data.y.dtype == np.int64


@pytest.mark.parametrize(
    ("values", "task"),
    [
        (pd.Series([True, False, True]), "binary"),
        (pd.Series(["a", "b", "c", "a"], dtype="str"), "multiclass"),
        (pd.Series(["x", "y"], dtype="category"), "binary"),
        (pd.Series([0, 1, 1, 0]), "binary"),
        (pd.Series([1.0, 2.0, 3.0, 5.0]), "multiclass"),
        (pd.Series(np.arange(21)), "regression"),
        (pd.Series([0.5, 1.0, 2.0]), "regression"),
    ],
)
def test_infer_task(values: pd.Series, task: str) -> None:
    assert infer_task(values) == task


def test_sql_source_reads_a_sqlite_file(tmp_path: Path) -> None:
    database = tmp_path / "shop.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE orders (amount REAL, region TEXT, returned INTEGER)")
        connection.executemany(
            "INSERT INTO orders VALUES (?, ?, ?)",
            [(10.0 * i, "north" if i % 2 else "south", i % 2) for i in range(20)],
        )
    connection.close()
    config = {
        "name": "orders",
        "source": "sql",
        "url": f"sqlite:///{database}",
        "target": "returned",
    }
    data = load_dataset({**config, "query": "SELECT * FROM orders WHERE amount > 0"}, seed=0)
    assert data.X.shape == (19, 2)
    assert data.task == "binary"
    with pytest.raises(
        DataError,
        match=r"dataset.query: 'SELECT \* FROM ordres' failed on sqlite:///.*: no such table",
    ):
        load_dataset({**config, "query": "SELECT * FROM ordres"}, seed=0)


def test_sql_source_url_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"dataset.url: SQLite file '.*missing.db' does not exist"):
        load_dataset(
            {"source": "sql", "url": f"sqlite:///{tmp_path / 'missing.db'}", "query": "SELECT 1"},
            seed=0,
        )
    with pytest.raises(DataError, match=r"dataset.url: 'not a url' is not a database URL"):
        load_dataset({"source": "sql", "url": "not a url", "query": "SELECT 1"}, seed=0)
    assert not (tmp_path / "missing.db").exists()


def synthetic(**overrides: object) -> dict[str, object]:
    return {
        "name": "synthetic", "source": "synthetic", "kind": "classification", "n_samples": 300,
        "n_features": 6, "n_informative": 3, "n_classes": 3, "random_state": None, **overrides,
    }  # fmt: skip


def test_synthetic_classification_is_seeded() -> None:
    data = load_dataset(synthetic(), seed=1)
    assert data.X.shape == (300, 6)
    assert list(data.X.columns) == [f"x{i}" for i in range(6)]
    assert data.task == "multiclass"
    assert data.fingerprint == load_dataset(synthetic(), seed=1).fingerprint
    assert data.fingerprint != load_dataset(synthetic(), seed=2).fingerprint
    fixed = load_dataset(synthetic(random_state=7), seed=1).fingerprint
    assert fixed == load_dataset(synthetic(random_state=7), seed=2).fingerprint


def test_synthetic_regression_and_float32(monkeypatch: pytest.MonkeyPatch) -> None:
    data = load_dataset(synthetic(kind="regression", noise=1.0), seed=0)
    assert data.task == "regression" and data.X.dtypes.eq(np.float64).all()
    monkeypatch.setattr(builtin_sources, "FLOAT32_CELLS", 100)
    assert load_dataset(synthetic(), seed=0).X.dtypes.eq(np.float32).all()


def test_synthetic_errors() -> None:
    with pytest.raises(
        ConfigError, match=r"dataset.kind: unknown kind 'regresion'. Did you mean 'regression'\?"
    ):
        load_dataset(synthetic(kind="regresion"), seed=0)
    with pytest.raises(ConfigError, match=r"dataset.n_samples: -5 is not a whole number >= 1"):
        load_dataset(synthetic(n_samples=-5), seed=0)
    with pytest.raises(
        ConfigError, match=r"dataset \(synthetic classification\): Number of informative.*"
        r"Fix the dataset key of that name \(set: n_samples=.*n_informative=30"
    ):
        load_dataset(synthetic(n_features=5, n_informative=30), seed=0)


def test_fingerprint_follows_values_and_dtypes(tmp_path: Path) -> None:
    path = write(tmp_path / "people.csv", PEOPLE_CSV)
    first = load_dataset(file_config(path), seed=0).fingerprint
    assert first == load_dataset(file_config(path), seed=0).fingerprint
    assert (
        first != load_dataset(file_config(path, dtypes={"color": "category"}), seed=0).fingerprint
    )
    changed = write(tmp_path / "changed.csv", PEOPLE_CSV.replace("1.5,a", "1.6,a"))
    assert first != load_dataset(file_config(changed), seed=0).fingerprint


def test_repeated_column_names_are_refused(tmp_path: Path) -> None:
    database = tmp_path / "shop.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE orders (id INTEGER, returned INTEGER)")
        connection.executemany("INSERT INTO orders VALUES (?, ?)", [(1, 0), (2, 1)])
    connection.close()
    config = {"source": "sql", "url": f"sqlite:///{database}", "target": "returned"}
    with pytest.raises(DataError, match=r"the sql source returned repeated column names \['id'\]"):
        load_dataset({**config, "query": "SELECT id, id, returned FROM orders"}, seed=0)


def test_repeated_csv_header_names_are_refused_but_a_dotted_name_is_not(tmp_path: Path) -> None:
    repeated = write(tmp_path / "repeated.csv", "x1,x1,label\n1,2,a\n3,4,b\n")
    with pytest.raises(DataError, match=r"repeats the column name\(s\) 'x1' in its header "
                                        r"\(pandas would silently rename the second to 'x1.1'\)"):
        load_dataset(file_config(repeated), seed=0)
    dotted = write(tmp_path / "dotted.csv", "x1,x1.1,label\n1,2,a\n3,4,b\n")
    assert list(load_dataset(file_config(dotted), seed=0).X.columns) == ["x1", "x1.1"]


def test_a_one_column_header_names_the_separator_to_read_with(tmp_path: Path) -> None:
    semicolons = write(tmp_path / "semi.csv", "age;label\n1;a\n2;b\n")
    with pytest.raises(DataError, match=re.escape(
            "was read as one column named 'age;label': its header holds ';', the file's "
            "separator it seems. Read it with \"++dataset.read_options.sep=';'\".")):
        load_dataset(file_config(semicolons), seed=0)
    data = load_dataset(file_config(semicolons, read_options={"sep": ";"}), seed=0)
    assert list(data.X.columns) == ["age"]


def test_a_folder_is_refused_with_its_data_files_but_a_parquet_folder_is_read(
        tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("not data")
    write(tmp_path / "b.csv", PEOPLE_CSV)
    write(tmp_path / "a.tsv", PEOPLE_CSV)
    with pytest.raises(DataError, match=re.escape(
            f"dataset.path: '{tmp_path}' is a directory, not a data file. Data files in it: "
            f"a.tsv, b.csv; e.g. dataset.path={tmp_path / 'a.tsv'}.")):
        load_dataset(file_config(str(tmp_path)), seed=0)
    parquet = tmp_path / "people.parquet"
    parquet.mkdir()
    pd.read_csv(tmp_path / "b.csv").to_parquet(parquet / "part-0.parquet")
    assert len(load_dataset(file_config(str(parquet)), seed=0).X) == 6
