"""Which parts of a shown output are stable, and whether a real output has them.

The rule: both texts are cut into words at whitespace and at the box-drawing characters of rich's
tables and rules (so column widths, the terminal's width and where a long cell wraps do not
matter). A word is *variable*, and dropped from both, when it

- holds a ``<placeholder>`` (``outputs/runs/<run>/...``), is an absolute path (a run
  directory) or a path with a run of four digits (``outputs/runs/2026-11-24_10-14-15-964429``),
- has no letter once every number in it (``0.9924``, ``-1.2e-05``, ``11.8%``, ``2,000``) is
  blanked: a score, a count, a timing, a timestamp, ``±``, ``[0.97,``,
- and in what is left, numbers and the 8-hex-digit suffix of a generated name (``svm-bf724571``)
  are blanked, so ``(roc_auc=0.9946)`` keeps ``(roc_auc=#)``.

What is left of a shown line (metric names, table headers, file names, messages) must appear in
the real output as a run of consecutive words; an elision (``...`` or ``…``) in the line splits it
into runs that must appear in that order. A shown line left with no word is not checked.
"""

from __future__ import annotations

import re

BOX_DRAWING = re.compile(r"[\u2500-\u257f]")
PLACEHOLDER = re.compile(r"<[^<>\n]*>")
HIDDEN = "\x00"
NUMBER = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?")
GENERATED_SUFFIX = re.compile(r"(?<=-)[0-9a-f]{8}\b")
DATED = re.compile(r"\d{4}")
ELISIONS = {"...", "…"}


def stable_word(word: str) -> str | None:
    """``word`` with its variable parts blanked, or None when nothing stable is left."""
    path = "/" in word
    if HIDDEN in word or (path and (word.lstrip("([{'\"").startswith("/") or DATED.search(word))):
        return None
    blanked = NUMBER.sub("#", GENERATED_SUFFIX.sub("#", word))
    return blanked if any(character.isalpha() for character in blanked) else None


def raw_words(line: str) -> list[str]:
    return BOX_DRAWING.sub(" ", PLACEHOLDER.sub(HIDDEN, line)).split()


def stable_words(text: str) -> list[str]:
    """Every stable word of ``text``, in order, across its lines."""
    words = (stable_word(word) for word in raw_words(text.replace("\r", "\n")))
    return [word for word in words if word is not None]


def stable_runs(line: str) -> list[list[str]]:
    """The runs of stable words a shown line asks for, split at its elisions (empty ones left
    out)."""
    runs: list[list[str]] = [[]]
    for word in raw_words(line):
        if word in ELISIONS:
            runs.append([])
        elif (stable := stable_word(word)) is not None:
            runs[-1].append(stable)
    return [run for run in runs if run]


def find_run(haystack: list[str], run: list[str], start: int) -> int:
    """The index just past the first occurrence of ``run`` in ``haystack`` at or after ``start``,
    or -1."""
    for index in range(start, len(haystack) - len(run) + 1):
        if haystack[index:index + len(run)] == run:
            return index + len(run)
    return -1


def missing_lines(shown: tuple[str, ...], real: str) -> list[int]:
    """The indices of the shown lines whose stable words the real output lacks."""
    words = stable_words(real)
    missing: list[int] = []
    for index, line in enumerate(shown):
        position = 0
        for run in stable_runs(line):
            position = find_run(words, run, position)
            if position < 0:
                missing.append(index)
                break
    return missing
