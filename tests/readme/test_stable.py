"""The rule for which parts of a shown output must appear in the real one."""

from __future__ import annotations

import pytest

from tests.readme.stable import missing_lines, stable_runs, stable_word

REAL = """\
study svm-3c9a1b2e (tpe, pruner median) in outputs/studies/svm-3c9a1b2e.journal
tuning: 31 complete, 9 pruned in 4.1 s; refitting trial 7 (roc_auc=0.9952)
┏━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━┓
┃ metric            ┃   CV mean ± std ┃
 roc_auc (primary)  │ 0.9951 ± 0.0040 │
 accuracy, McNemar  │ only the first right on 3 rows, only the second on 2
run directory: /tmp/readme-x/checkout/outputs/runs/2026-11-30_18-40-28-727639
"""


@pytest.mark.parametrize(("word", "expected"), [
    ("0.9924", None), ("[0.9741,", None), ("±", None), ("11.8%", None), ("-1.2e-05", None),
    ("/work/main/outputs/runs/2026-11-24_10-14-15-964429", None), ("\x00/predictions", None),
    ("outputs/runs/2026-11-24_09-15-07-505058", None),
    ("(roc_auc=0.9946)", "(roc_auc=#)"), ("svm-bf724571", "svm-#"), ("f1_macro", "f#_macro"),
    ("exports/model.onnx", "exports/model.onnx"),
])
def test_numbers_paths_and_placeholders_are_variable(word: str, expected: str | None) -> None:
    assert stable_word(word) == expected


def test_shown_lines_match_whatever_the_numbers_widths_and_generated_names() -> None:
    shown = ("study svm-bf724571 (tpe, pruner median) in outputs/studies/svm-bf724571.journal",
             "tuning: 24 complete, 16 pruned in 2.7 s; refitting trial 19 (roc_auc=0.9946)",
             " metric ┃ CV mean ± std",
             "━━━━━━━━╇━━━━━━━━━━",
             " roc_auc (primary) │ 0.9946 ± 0.0061",
             " ...",
             " accuracy, McNemar │ only the first right on 4",
             "                   │ rows, only the second on 1",
             "run directory: /work/main/outputs/runs/2026-11-24_10-14-15-964429")
    assert missing_lines(shown, REAL) == []


def test_a_changed_word_a_missing_line_or_a_reordered_run_is_reported() -> None:
    shown = ("tuning: 24 complete, 16 failed in 2.7 s",
             "export onnx: exports/model.onnx",
             "run directory: ... (tpe, pruner median)")
    assert missing_lines(shown, REAL) == [0, 1, 2]


def test_an_elision_splits_a_line_into_runs_found_in_order() -> None:
    assert stable_runs("error: model.n_estimatorz: no such key ... Did you mean 'x'? ...") == [
        ["error:", "model.n_estimatorz:", "no", "such", "key"], ["Did", "you", "mean", "'x'?"]]
    assert missing_lines(("study ... in outputs/studies/svm-bf724571.journal",), REAL) == []
