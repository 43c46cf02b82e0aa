"""Several variants in one server: a real registry with versions trained by the engine, a real
server process splitting rows by a key, a shadow that breaks on some rows, and feedback with
outcomes joined in the prediction log; the hashing and the canary's ramp in-process."""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from engine.config.schema.monitor import LogConfig
from engine.deploy.registry import Registry
from engine.deploy.variant_plan import plan_experiment, read_experiment_file
from engine.deploy.variants import (
    Assigner,
    key_points,
    parse_ramp,
    parse_split,
    variant_of,
)
from engine.errors import ConfigError, DataError
from engine.monitoring.prediction_log import PredictionLog, read_log
from tests.abtest.experiment_logs import exit_status
from tests.conftest import REPO, run_main
from tests.deploy.conftest import eventually, mixed_frame, start_server

# ``python -m engine`` with models that break: the bundle under $ENGINE_TEST_BREAKS (the
# shadow's) on size 666, the one under $ENGINE_TEST_BREAKS_LIVE (the challenger's) on size 555.
BREAKABLE = """
import os, sys
import engine.deploy.server as server
from engine.cli import main

predict = server._predict

def breakable(bundle, rows):
    for variable, size in (("ENGINE_TEST_BREAKS", 666), ("ENGINE_TEST_BREAKS_LIVE", 555)):
        if str(bundle.directory).startswith(os.environ[variable]) and \\
                (rows["size"] == size).any():
            raise RuntimeError("the model broke")
    return predict(bundle, rows)

server._predict = breakable
main(sys.argv[1:])
"""
VERSIONS = {"control": 1, "challenger": 2}
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def row(key: object, size: float = 42.0) -> dict[str, Any]:
    return {"id": key, "city": "oslo", "size": size, "member": False}


@pytest.fixture(scope="module")
def registry(trained_run: Path, narrow_run: Path,
             tmp_path_factory: pytest.TempPathFactory) -> Registry:
    """churn 1 (champion), 2 (challenger) and 3 (candidate, the shadow): the trained run and
    copies of it; 4 (narrow): the run without ``member``."""
    tmp = tmp_path_factory.mktemp("registry")
    registry = Registry(tmp / "registry.db")
    registry.register(trained_run, "churn", alias="champion")
    for number, alias in ((2, "challenger"), (3, "candidate")):
        shutil.copytree(trained_run, tmp / f"copy{number}",
                        ignore=shutil.ignore_patterns("prediction_log"))
        registry.register(tmp / f"copy{number}", "churn", alias=alias)
    registry.register(narrow_run, "churn", alias="narrow")
    return registry


@pytest.fixture(scope="module")
def log_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("variants-log") / "log"


@pytest.fixture(scope="module")
def experiment(registry: Registry, log_root: Path) -> Iterator[str]:
    """``serve churn@champion churn@challenger --split 70/30 --key id --shadow churn@candidate``
    with the shadow breaking on size 666 and the challenger on size 555."""
    breaks = {"ENGINE_TEST_BREAKS": registry.version("churn", 3).run_dir,
              "ENGINE_TEST_BREAKS_LIVE": registry.version("churn", 2).run_dir}
    command = [sys.executable, "-c", BREAKABLE, "serve", "churn@champion",
               "churn@challenger", "--split", "70/30", "--key", "id", "--shadow",
               "churn@candidate", "--seed", "7", "--registry", str(registry.path), "--log",
               str(log_root), "--port", "{port}"]
    yield from start_server(command=command, env=breaks)


@pytest.fixture(scope="module")
def canary(registry: Registry) -> Iterator[str]:
    """``serve churn@champion --canary churn@challenger --ramp 10,60@3s --key id``."""
    yield from start_server("churn@champion", "--canary", "churn@challenger", "--ramp",
                            "10,60@3s", "--key", "id", "--registry", str(registry.path),
                            "--no-log")


def predict(url: str, records: list[dict[str, Any]]) -> httpx.Response:
    answer = httpx.post(f"{url}/predict", json={"records": records}, timeout=60)
    assert answer.status_code == 200, answer.text
    return answer


def metric(url: str, name: str, **labels: str) -> float | None:
    shown = ",".join(f'{key}="{value}"' for key, value in labels.items())
    pattern = rf"^{re.escape(name)}{re.escape('{' + shown + '}') if labels else ''} (\S+)$"
    found = re.search(pattern, httpx.get(f"{url}/metrics").text, re.MULTILINE)
    return float(found[1]) if found else None


def test_the_same_key_gets_the_same_variant_and_the_shares_hold(experiment: str) -> None:
    keys = list(range(1000))
    variants: list[str] = []
    for start in range(0, len(keys), 100):
        answer = predict(experiment, [row(key) for key in keys[start:start + 100]]).json()
        assert len(answer["predictions"]) == len(answer["variants"]) == 100
        assert answer["model_versions"] == [VERSIONS[name] for name in answer["variants"]]
        variants += answer["variants"]
    assert 0.66 <= variants.count("control") / len(keys) <= 0.74  # 70/30, 1,000 keys

    shuffled = [keys[index] for index in np.random.default_rng(0).permutation(len(keys))[:50]]
    again = predict(experiment, [row(key, size=30.0) for key in shuffled]).json()["variants"]
    assert again == [variants[key] for key in shuffled]  # a key keeps its variant, any request

    alone = predict(experiment, [row(shuffled[0])])
    assert alone.headers["x-model-variant"] == variants[shuffled[0]]
    assert alone.headers["x-model-version"] == str(VERSIONS[variants[shuffled[0]]])
    mlflow = httpx.post(f"{experiment}/invocations", json={"dataframe_records": [
        row(key) for key in keys[:20]]})
    assert mlflow.status_code == 200 and mlflow.json()["variants"] == variants[:20]
    assert len(mlflow.json()["predictions"]) == 20


def test_a_request_without_the_key_goes_to_one_variant(experiment: str) -> None:
    keyless = [{"city": "rome", "size": float(size), "member": True} for size in range(30)]
    seen = set()
    for _ in range(20):  # seed 7's draws: 13 for the control, then one for the challenger
        answer = predict(experiment, keyless)
        assert len(set(answer.json()["variants"])) == 1
        seen.add(answer.headers["x-model-variant"])
    assert seen == {"control", "challenger"}  # at random, request by request


def test_a_shadow_that_breaks_leaves_the_live_answers_alone(experiment: str,
                                                            log_root: Path) -> None:
    broken = predict(experiment, [row("breaks", size=666.0), row("fine")])
    assert len(broken.json()["predictions"]) == 2
    failures = "engine_shadow_failures_total"
    assert eventually(lambda: metric(experiment, failures, variant="shadow:churn@candidate"),
                      "the shadow's failure was not counted") >= 1
    fine = predict(experiment, [row(key) for key in range(5)]).json()["request_id"]

    def shadowed() -> Any:
        try:
            frame = read_log(log_root)
        except DataError:
            return None
        mine = frame[frame["_request_id"] == fine]
        return mine if len(mine) == 10 else None  # 5 live rows and the shadow's 5

    rows = eventually(shadowed, "the shadow's rows were not logged")
    shadow = rows[rows["_variant"] == "shadow:churn@candidate"]
    assert sorted(shadow["_row"]) == [0, 1, 2, 3, 4] and set(shadow["_version"]) == {"3"}
    assert (shadow["_latency_ms"] > 0).all()
    live = rows[rows["_variant"] != "shadow:churn@candidate"]
    assert list(live.sort_values("_row")["_prediction"]) == list(
        shadow.sort_values("_row")["_prediction"])  # copies of one model: the same answers


def test_feedback_outcomes_are_joined_to_the_variant_that_answered(experiment: str,
                                                                   log_root: Path) -> None:
    answer = predict(experiment, [row(key) for key in range(100, 110)]).json()
    request = answer["request_id"]
    sent = httpx.post(f"{experiment}/feedback", json={"feedback": [
        {"request_id": request, "row": 3, "outcome": 12.5},
        {"request_id": request, "row": 4, "outcome": 0, "label": "yes"},
        {"request_id": request, "row": 4, "label": "no"}]})
    assert sent.status_code == 200 and sent.json() == {"received": 3,
                                                      "matched": [True, True, True]}
    empty = httpx.post(f"{experiment}/feedback", json={"request_id": request})
    assert empty.status_code == 422 and "label: Field required" in empty.text
    text = httpx.post(f"{experiment}/feedback", json={"request_id": request, "outcome": "x"})
    assert text.status_code == 422

    def joined() -> Any:
        try:
            frame = read_log(log_root)
        except DataError:
            return None
        mine = frame[(frame["_request_id"] == request) & ~frame["_variant"].str.startswith(
            "shadow:")].sort_values("_row")
        return mine if len(mine) == 10 and mine["_outcome"].notna().sum() == 2 else None

    rows = eventually(joined, "the outcomes were not joined")
    assert list(rows["_variant"]) == answer["variants"]
    assert list(rows["_version"]) == [str(version) for version in answer["model_versions"]]
    assert rows["_outcome"].tolist()[3:5] == [12.5, 0.0]
    assert rows["_target"].tolist()[4] == "no"  # a later label; the outcome stays
    assert rows["_latency_ms"].nunique() == 1  # the request's latency, on each of its rows
    control_rows = answer["variants"].count("control")
    assert metric(experiment, "engine_variant_rows_total", variant="control") >= control_rows


def test_a_live_variant_that_fails_logs_its_rows_without_a_prediction(
        experiment: str, log_root: Path) -> None:
    placed = variant_of(key_points(range(200, 260), 7), [70, 30])
    challenger, control = 200 + int(np.argmax(placed == 1)), 200 + int(np.argmax(placed == 0))
    failed = httpx.post(f"{experiment}/predict", headers={"x-request-id": "fails-1"}, json={
        "records": [row(control), row(challenger, size=555.0)]})
    assert failed.status_code == 500 and failed.json() == {
        "error": "internal error: the server's log has the details"}

    def logged() -> Any:
        try:
            frame = read_log(log_root)
        except DataError:
            return None
        mine = frame[frame["_request_id"] == "fails-1"]
        return mine if len(mine) else None

    rows = eventually(logged, "the failed rows were not logged")
    assert list(rows["_variant"]) == ["challenger"] and list(rows["_row"]) == [1]
    assert rows["_prediction"].isna().all()  # abtest counts it as the challenger's error


def test_metadata_names_the_pinned_variants(experiment: str, log_root: Path) -> None:
    described = httpx.get(f"{experiment}/metadata").json()["experiment"]
    assert [(v["variant"], v["pinned"], v["share"]) for v in described["variants"]] == [
        ("control", "churn/1", 70.0), ("challenger", "churn/2", 30.0),
        ("shadow:churn@candidate", "churn/3", None)]
    assert described["split"] == {"control": 70.0, "challenger": 30.0}
    assert described["log"] == str(log_root) and described["key"] == "id"


def test_a_canary_ramps_up_and_keys_only_move_to_it(canary: str) -> None:
    def share() -> float:
        described = httpx.get(f"{canary}/metadata").json()["experiment"]
        assert described["split"] is None and described["log"] is None
        return float(described["variants"][1]["share"])

    def canaried() -> tuple[float, set[int]]:
        before = share()
        variants = predict(canary, [row(key) for key in range(400)]).json()["variants"]
        found = {key for key, name in enumerate(variants) if name == "canary"}
        return (before if share() == before else float("nan")), found

    first_share, first = canaried()
    if first_share == first_share:  # no step of the ramp during the request
        assert abs(len(first) / 400 - first_share / 100) < 0.05
    eventually(lambda: share() == 60 or None, "the canary's share did not ramp up to 60 %")
    last_share, last = canaried()
    assert last_share == 60 and abs(len(last) / 400 - 0.6) < 0.05
    assert first <= last  # a key on the canary stays there as its share grows


@pytest.mark.parametrize(("options", "message"), [
    (["churn@champion", "churn@challenger", "--split", "90/20"],
     "serve --split '90/20': the shares sum to 110, not 100; e.g. --split 50/50"),
    (["churn@champion", "churn@challenger", "--split", "80/10/10"],
     "serve --split '80/10/10': 3 share(s) for 2 variant(s); give one per variant, e.g. "
     "--split 50/50"),
    (["churn@champion", "churn@challenjer", "--split", "90/10"],
     "registry: model 'churn' has no alias 'challenjer'. Did you mean 'challenger'? Its "
     "aliases: candidate, challenger, champion, narrow."),
    (["churn@champion", "churn@narrow", "--split", "90/10"],
     "serve: challenger churn@narrow cannot serve beside control churn@champion: input column "
     "'member' is read only by control (churn@champion); the variants of an experiment must "
     "read the same columns."),
    (["churn@champion", "churn@challenger", "--split", "90/10", "--key", "ids"],
     "serve --key: 'ids' is not a column the rows carry. Did you mean 'id'? Give an input "
     "column or an id the training dropped: city, size, member, id."),
    (["churn@champion", "--canary", "churn@challenger"],
     "serve --canary: say how its share grows, e.g. --ramp 5,25,50@10m (5 % for ten minutes, "
     "then 25 %, then 50 %)"),
    (["churn@champion", "--ramp", "5,50@1m"],
     "serve --ramp: a ramp is a canary's schedule; add --canary NAME@ALIAS"),
    (["churn@champion", "churn@candidate", "--canary", "churn@challenger", "--ramp", "5@1m"],
     "serve --canary: serve one model (the control) beside the canary, and no --split (the "
     "canary's share follows --ramp)"),
])
def test_a_bad_experiment_is_one_line(options: list[str], message: str, registry: Registry,
                                      tmp_path: Path) -> None:
    done = run_main(["serve", *options, "--registry", str(registry.path), "--port", "0"],
                    tmp_path)
    assert done.returncode == 2 and done.stderr.strip() == f"error: {message}"


def test_the_startup_line_says_the_versions_are_pinned(registry: Registry) -> None:
    registry.set_alias("churn", "temporary", 2)
    planned = plan_experiment(["churn@champion", "churn@temporary"], split="90/10", canary=None,
                              ramp=None, key="id", shadow="churn@candidate", seed=3,
                              registry=registry.path)
    registry.delete_alias("churn", "temporary")  # pinned: the plan keeps version 2
    assert planned is not None and planned.describe() == (
        "experiment: control churn/1 (churn@champion), challenger churn/2 (churn@temporary); "
        "shadow churn/3 (churn@candidate), logged as shadow:churn@candidate; split 90/10 by a "
        "seeded hash of 'id' (seed 3; a request without it is placed at random); versions "
        "pinned, aliases not followed")


def test_key_points_are_seeded_and_the_same_in_every_process() -> None:
    assert variant_of(key_points(range(12), 0), [50, 50]).tolist() == [
        1, 1, 1, 0, 0, 1, 1, 0, 1, 0, 0, 1]
    assert variant_of(key_points(range(12), 1), [50, 50]).tolist() != [
        1, 1, 1, 0, 0, 1, 1, 0, 1, 0, 0, 1]
    other = subprocess.run(
        [sys.executable, "-c", "from engine.deploy.variants import key_points, variant_of; "
         "print(variant_of(key_points(['a', 7, 7.0, 'z'], 3), [50, 50]).tolist())"],
        capture_output=True, text=True, check=True, env={"PYTHONHASHSEED": "123"}, cwd=REPO)
    here = variant_of(key_points(["a", 7, 7.0, "z"], 3), [50, 50]).tolist()
    assert other.stdout.strip() == str(here) and here[1] == here[2]  # 7.0 is key 7
    shares = np.bincount(variant_of(key_points(range(20_000), 0), [70, 20, 10])) / 20_000
    assert np.allclose(shares, [0.7, 0.2, 0.1], atol=0.01)


def test_a_request_without_keys_is_placed_whole_and_reproducibly() -> None:
    first, second = Assigner(None, 5), Assigner(None, 5)
    placed = [first.assign(None, 4, [50, 50]).tolist() for _ in range(20)]
    assert all(len(set(rows)) == 1 for rows in placed)
    assert placed == [second.assign(None, 4, [50, 50]).tolist() for _ in range(20)]
    assert {rows[0] for rows in placed} == {0, 1}


def test_a_canary_ramp_only_moves_keys_to_the_canary() -> None:
    ramp = parse_ramp("5,25,50@10m")
    assert [ramp.share_at(seconds) for seconds in (0, 599, 600, 1200, 99_999)] == [
        5, 5, 25, 50, 50]
    points = key_points(range(5000), 0)
    canary = [variant_of(points, [100 - share, share]) == 1 for share in ramp.shares]
    for before, after in itertools.pairwise(canary):
        assert not (before & ~after).any()  # no key goes back to the control
    assert np.allclose([found.mean() for found in canary], [0.05, 0.25, 0.5], atol=0.015)


@pytest.mark.parametrize(("text", "message"), [
    ("5,25@", "give the canary's shares and how long each lasts"),
    ("25,5@1m", "the shares must increase"),
    ("5,150@1m", "each share must be above 0 and at most 100"),
    ("5,x@1m", "the shares must be percentages separated by ','"),
])
def test_a_bad_ramp_is_one_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_ramp(text)


def test_a_split_with_a_word_is_refused() -> None:
    with pytest.raises(ConfigError, match=re.escape("serve --split 'ninety/10': give one "
                                                    "percentage per variant")):
        parse_split("ninety/10", 2)


def test_an_outcome_and_a_label_are_joined_each_on_its_own(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path, LogConfig(), columns=["size"], model="logreg", version="2",
                        variant="challenger")
    log.record(pd.DataFrame({"size": [1.0, 2.0]}), pd.DataFrame({"prediction": ["no", "yes"]}),
               request_id="r", latency_ms=12.5, positions=[3, 7], at=NOW)
    log.record_feedback("r", "yes", at=NOW + timedelta(minutes=1))  # every row
    log.record_feedback("r", None, row=7, outcome=19.9, at=NOW + timedelta(minutes=2))
    log.record_feedback("r", None, outcome=1.0, at=NOW + timedelta(minutes=3))
    log.close()
    frame = read_log(tmp_path)
    assert frame[["_row", "_variant", "_version", "_latency_ms", "_target",
                  "_outcome"]].to_dict("list") == {
        "_row": [3, 7], "_variant": ["challenger"] * 2, "_version": ["2"] * 2,
        "_latency_ms": [12.5, 12.5], "_target": ["yes", "yes"],  # the outcomes kept the label
        "_outcome": [1.0, 1.0]}  # the later outcome for every row of the request


@pytest.mark.slow
def test_abtest_promotes_from_the_log_of_a_server_given_a_relative_log_folder(
        trained_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Each logged row names the registered version that answered it (``_registered``), so
    ``abtest LOG --promote`` needs no --model; /metadata names the log's absolute folder, so
    ``abtest URL`` run from another folder finds the log the server was given relative to its
    own."""
    registry = Registry(tmp_path / "registry.db")
    registry.register(trained_run, "churn", alias="champion")
    shutil.copytree(trained_run, tmp_path / "copy", ignore=shutil.ignore_patterns("prediction_log"))
    registry.register(tmp_path / "copy", "churn", alias="challenger")
    serving = start_server("churn@champion", "churn@challenger", "--split", "50/50", "--key",
                           "id", "--registry", str(registry.path), "--log", "log", cwd=tmp_path)
    url = next(serving)
    try:
        assert httpx.get(f"{url}/metadata").json()["experiment"]["log"] == str(tmp_path / "log")
        converts = np.random.default_rng(3)
        for start in range(0, 600, 100):
            answer = predict(url, [row(key) for key in range(start, start + 100)]).json()
            sent = httpx.post(f"{url}/feedback", json={"feedback": [
                {"request_id": answer["request_id"], "row": place,
                 "outcome": int(converts.random() < (0.8 if variant == "challenger" else 0.3))}
                for place, variant in enumerate(answer["variants"])]})
            assert sent.status_code == 200, sent.text

        def outcomes() -> pd.DataFrame | None:
            try:
                frame = read_log(tmp_path / "log")
            except DataError:
                return None
            return frame if frame["_outcome"].notna().sum() == 600 else None

        frame = eventually(outcomes, "the outcomes were not all logged")
        assert exit_status([url, "--outcome"]) == 0
        assert capsys.readouterr().out.rstrip().splitlines()[-1].startswith("stop and adopt")
    finally:
        serving.close()
    assert set(zip(frame["_variant"], frame["_registered"], strict=True)) == {
        ("control", "churn/1"), ("challenger", "churn/2")}
    promote = [str(tmp_path / "log"), "--outcome", "--split", "50/50", "--promote",
               "--registry", str(registry.path)]
    with pytest.raises(ConfigError, match=r"^abtest --promote: challenger's rows were answered "
                                          r"by churn/2, not by a version of 'cancer'; name it "
                                          r"with --model churn, or leave --model out\.$"):
        exit_status([*promote, "--model", "cancer"])
    assert registry.alias_version("churn", "champion") == 1
    assert exit_status(promote) == 0
    assert capsys.readouterr().out.rstrip().splitlines()[-1] == (
        "churn@champion -> version 2 (was 1); churn@previous -> version 1")
    assert registry.alias_version("churn", "champion") == 2


EXPERIMENT_FILE = """\
experiment:
  variants: [churn@champion, churn@challenger]
  split: [70, 30]
  key: id
  seed: 7
  shadow: churn@candidate
"""


@pytest.mark.slow
def test_an_experiment_file_serves_what_the_same_flags_serve(registry: Registry,
                                                             tmp_path: Path) -> None:
    (tmp_path / "ab.yaml").write_text(EXPERIMENT_FILE)
    serving = start_server("--experiment", str(tmp_path / "ab.yaml"), "--registry",
                           str(registry.path), "--no-log")
    url = next(serving)
    try:
        described = httpx.get(f"{url}/metadata").json()["experiment"]
        variants = predict(url, [row(key) for key in range(200)]).json()["variants"]
    finally:
        serving.close()
    assert [(v["variant"], v["pinned"]) for v in described["variants"]] == [
        ("control", "churn/1"), ("challenger", "churn/2"), ("shadow:churn@candidate", "churn/3")]
    assert (described["split"], described["key"], described["seed"]) == (
        {"control": 70.0, "challenger": 30.0}, "id", 7)
    placed = variant_of(key_points(range(200), 7), [70, 30])  # as --seed 7 --split 70/30 place
    assert variants == [["control", "challenger"][index] for index in placed]


@pytest.mark.parametrize(("text", "message"), [
    ("experiment:\n  variants: [a@x, a@y]\n  splt: [50, 50]\n",
     "experiment.splt: unknown key. Did you mean 'split'? Valid options: canary, key, ramp, "
     "seed, shadow, split, variants."),
    ("experiment:\n  variants: [a@x, a@y]\n  split: [90, 20]\n",
     "experiment.split: [90, 20] sums to 110, not 100; e.g. split: [50, 50]"),
    ("experiment:\n  variants: [a@x, a@y]\n  split: [100]\n",
     "experiment.split: 1 share(s) for 2 variant(s); give one per variant, e.g. split: [50, 50]"),
    ("experiment:\n  variants: [a@x, a@y]\n",
     "experiment.split is required for 2 variants: one percentage each, e.g. split: [50, 50]"),
    ("experiment:\n  variants: [a@x]\n  canary: a@y\n  ramp: 5,2@1m\n",
     "experiment.ramp: the shares must increase (keys only move from the control to the "
     "canary)"),
    ("experiment:\n  variants: [a@x]\n  ramp: 5,25@1m\n",
     "experiment.ramp: a ramp is a canary's schedule; add experiment.canary: NAME@ALIAS"),
    ("experimnt:\n  variants: [a@x]\n",
     "experimnt: unknown key. Did you mean 'experiment'? Valid options: experiment."),
    ("- churn@champion\n", "expected a mapping holding an experiment block"),
])
def test_a_bad_experiment_file_is_one_line_naming_the_key(text: str, message: str,
                                                          tmp_path: Path) -> None:
    (tmp_path / "ab.yaml").write_text(text)
    done = run_main(["serve", "--experiment", str(tmp_path / "ab.yaml")], tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().startswith(f"error: {tmp_path / 'ab.yaml'}: {message}")
    assert "\n" not in done.stderr.strip()


@pytest.mark.parametrize(("options", "message"), [
    (["--experiment", "ab.yaml", "churn@champion", "--split", "100"],
     "argument --experiment: the file declares the experiment; leave out MODEL, --split (or "
     "leave out --experiment and declare it by flags)"),
    (["--experiment", "ab.yaml", "--seed", "0"],
     "argument --experiment: the file declares the experiment; leave out --seed"),
    ([], "give a MODEL to serve (a run directory, NAME@ALIAS or NAME/VERSION), or "
         "--experiment FILE"),
])
def test_an_experiment_file_and_experiment_flags_exclude_each_other(
        options: list[str], message: str, tmp_path: Path) -> None:
    (tmp_path / "ab.yaml").write_text(EXPERIMENT_FILE)
    done = run_main(["serve", *options], tmp_path)
    assert done.returncode == 2 and message in done.stderr and "\n" not in done.stderr.strip()


def test_a_run_trained_with_deploy_experiment_declares_it_for_serve(
        trained_run: Path, tmp_path: Path) -> None:
    """``deploy.experiment`` at training, recorded with the run; ``serve --experiment RUN``
    reads the same block a file would hold."""
    mixed_frame(200, 0).to_csv(tmp_path / "mixed.csv", index=False)
    block = ("{variants: [churn@champion, churn@challenger], split: [70, 30], key: id, seed: 7, "
             "shadow: churn@candidate}")
    trained = run_main(["dataset=titanic", f"dataset.path={tmp_path / 'mixed.csv'}",
                        "dataset.target=label", "dataset.drop=[id]", "model=logistic_regression",
                        "split.cv.n_splits=3", "report=false", f"deploy.experiment={block}"],
                       tmp_path)
    assert trained.returncode == 0, trained.stderr
    run = next((tmp_path / "runs").iterdir())
    (tmp_path / "ab.yaml").write_text(EXPERIMENT_FILE)
    assert read_experiment_file(run) == read_experiment_file(tmp_path / "ab.yaml")
    config = run / "resolved_config.yaml"
    config.write_text(re.sub(r"(?m)^  experiment:\n(    .*\n)+", "  experiment: null\n",
                             config.read_text()))
    undeclared = run_main(["serve", "--experiment", str(run)], tmp_path)
    assert undeclared.returncode == 2 and undeclared.stderr.strip() == (
        f"error: serve --experiment {run}: the run declares no deploy.experiment; train one "
        "with a deploy.experiment block (variants and split, as an experiment file holds them), "
        "or give a YAML file.")
    not_a_run = run_main(["serve", "--experiment", str(trained_run)], tmp_path)
    assert not_a_run.returncode == 2 and "not a run directory (no resolved_config.yaml)" in \
        not_a_run.stderr


def test_a_misspelt_deploy_experiment_key_is_refused_before_training(tmp_path: Path) -> None:
    done = run_main(["deploy.experiment={variants: [a@x, a@y], splt: [50, 50]}"], tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: deploy.experiment.splt: unknown key. Did you mean 'split'? Valid options: "
        "canary, key, ramp, seed, shadow, split, variants.")
