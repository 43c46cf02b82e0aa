"""Lines of hand-written validation in ``engine/`` at two commits: removed, added, net.

    python tests/bench/validation_lines.py                 # f0e30e2 (issue 16's start) vs HEAD
    python tests/bench/validation_lines.py OLD NEW --files # and the count per file at each
    python tests/bench/validation_lines.py --exclude engine/monitoring/
                                                 # leave out behaviour added after the start

A line of ``engine/**/*.py`` counts when it is code (not blank, not a comment, not a docstring,
not an import) and it belongs to one of:

- a rejection: a ``raise`` of a user-facing or parameter error (ConfigError, DataError,
  SchemaError, ValueError, PydanticCustomError), or a call of the schema's raising helpers
  (``refuse``, ``check_name``) as a statement; with it, the branch that exists to reject: the
  ``if``/``elif`` test and its whole body when the body ends in that rejection, or the ``except``
  clause and its body when it ends so (a library error turned into ours);
- a validator: the body of a function decorated with pydantic's ``field_validator`` /
  ``model_validator`` (or v1's ``validator`` / ``root_validator``), or passed to
  ``AfterValidator``, ``BeforeValidator``, ``PlainValidator`` or ``WrapValidator`` in its file;
- the schema: every module of ``engine/config/schema/`` (the translator, helpers, tables of
  nouns) and every pydantic model class anywhere (a subclass of BaseModel, RootModel, or of a
  class that is one), except what is declaration rather than code: a model's field
  declarations (``name: type = default``) and type aliases (``X = Annotated[...]`` /
  ``Literal[...]``) at a module's top level.

Field declarations are left out because they state the rule instead of coding it (``ge=1``,
``Literal[...]``): that is the change the issue asks for. Everything that codes a rule or builds
its message, wherever it lives, is in.

Removed and added compare the counted lines of the two commits as one multiset of stripped texts
over the whole package, so a line moved unchanged from one module to another is neither; net is
the difference of the totals, exact whatever the matching.
"""

from __future__ import annotations

import argparse
import ast
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
START = "f0e30e2"  # issue 16's start
ERRORS = {"ConfigError", "DataError", "SchemaError", "ValueError", "PydanticCustomError"}
RAISING_HELPERS = {"refuse", "check_name"}
DECORATORS = {"field_validator", "model_validator", "validator", "root_validator"}
WRAPPERS = {"AfterValidator", "BeforeValidator", "PlainValidator", "WrapValidator"}
MODEL_BASES = {"BaseModel", "RootModel"}
SCHEMA = ("engine/config/schema/", "engine/config/schema.py")


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO, check=True, capture_output=True,
                          text=True).stdout


def sources(commit: str) -> dict[str, str]:
    """Every ``engine/**/*.py`` at ``commit``, by path."""
    paths = [p for p in git("ls-tree", "-r", "--name-only", commit, "engine").splitlines()
             if p.endswith(".py")]
    return {path: git("show", f"{commit}:{path}") for path in paths}


def _name(node: ast.expr) -> str:
    """``Section`` of ``Section``, ``pydantic.BaseModel``, ``RootModel[dict[...]]``, a call."""
    if isinstance(node, ast.Subscript):
        return _name(node.value)
    if isinstance(node, ast.Call):
        return _name(node.func)
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def model_classes(trees: dict[str, ast.Module]) -> set[str]:
    """Names of the pydantic model classes and their bases, to a fixed point over every
    module's classes (a class is one when a base is: a plain class of the same name is not)."""
    known = set(MODEL_BASES)
    classes = [node for tree in trees.values() for node in ast.walk(tree)
               if isinstance(node, ast.ClassDef)]
    while True:
        more = {c.name for c in classes if any(_name(b) in known for b in c.bases)} - known
        if not more:
            return known
        known |= more


def _span(node: ast.stmt | ast.expr) -> range:
    return range(node.lineno, (node.end_lineno or node.lineno) + 1)


def _is_docstring(node: ast.AST) -> bool:
    return (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str))


def _rejects(node: ast.stmt) -> bool:
    if isinstance(node, ast.Raise) and node.exc is not None:
        return _name(node.exc) in ERRORS
    return (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
            and _name(node.value.func) in RAISING_HELPERS)


def _rejections(tree: ast.Module) -> Iterator[int]:
    for node in ast.walk(tree):
        for body in ("body", "orelse", "finalbody", "handlers"):
            statements = getattr(node, body, None)
            if not isinstance(statements, list):
                continue
            for statement in statements:
                if isinstance(statement, ast.stmt) and _rejects(statement):
                    yield from _span(statement)
        if isinstance(node, ast.If | ast.ExceptHandler) and node.body and _rejects(node.body[-1]):
            header_end = node.test.end_lineno if isinstance(node, ast.If) else node.lineno
            yield from range(node.lineno, (header_end or node.lineno) + 1)
            for statement in node.body:
                yield from _span(statement)


def _validators(tree: ast.Module) -> Iterator[int]:
    wrapped = {_name(arg) for node in ast.walk(tree) if isinstance(node, ast.Call)
               and _name(node.func) in WRAPPERS for arg in node.args}
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef):
            continue
        if node.name in wrapped or any(_name(d) in DECORATORS for d in node.decorator_list):
            for statement in node.body:
                yield from _span(statement)


def _declaration(statement: ast.stmt, in_model: bool) -> bool:
    if _is_docstring(statement) or isinstance(statement, ast.Import | ast.ImportFrom):
        return True
    if in_model and isinstance(statement, ast.AnnAssign):
        return True
    return (not in_model and isinstance(statement, ast.Assign)
            and _name(statement.value) in ("Annotated", "Literal"))


def _code(statements: list[ast.stmt], in_model: bool) -> Iterator[int]:
    """Lines of ``statements`` less declarations, descending into classes and functions so
    that their docstrings are left out too."""
    for statement in statements:
        if _declaration(statement, in_model):
            continue
        if isinstance(statement, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = statement.body[0].lineno
            yield from range(min([statement.lineno, *(d.lineno for d in
                                                      getattr(statement, "decorator_list", []))]),
                             first)
            yield from _code(statement.body, isinstance(statement, ast.ClassDef))
        else:
            yield from _span(statement)


def _schema(path: str, tree: ast.Module, models: set[str]) -> Iterator[int]:
    if path.startswith(SCHEMA):
        yield from _code(tree.body, in_model=False)
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and any(_name(b) in models for b in node.bases):
            yield from _code([node], in_model=False)


def counted_lines(commit: str, exclude: tuple[str, ...] = ()) -> dict[str, list[str]]:
    """Each module's counted lines, stripped, in order; none of modules under ``exclude``."""
    texts = sources(commit)
    trees = {path: ast.parse(text) for path, text in texts.items()}
    models = model_classes(trees)
    counted = {}
    for path, tree in trees.items():
        docstrings = {line for node in ast.walk(tree)
                      if isinstance(node, ast.Expr) and _is_docstring(node)
                      for line in _span(node)}
        numbers = set(_rejections(tree)) | set(_validators(tree)) | set(_schema(path, tree,
                                                                                models))
        lines = texts[path].splitlines()
        kept = [lines[n - 1].strip() for n in sorted(numbers - docstrings)]
        kept = [line for line in kept if line and not line.startswith("#")]
        if kept and not path.startswith(exclude):
            counted[path] = kept
    return counted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", nargs="?", default=START)
    parser.add_argument("new", nargs="?", default="HEAD")
    parser.add_argument("--files", action="store_true", help="the count per file at each")
    parser.add_argument("--exclude", action="append", default=[], metavar="PREFIX",
                        help="leave out modules under PREFIX (e.g. engine/monitoring/)")
    args = parser.parse_args()
    exclude = tuple(args.exclude)
    old, new = counted_lines(args.old, exclude), counted_lines(args.new, exclude)
    before = Counter(line for lines in old.values() for line in lines)
    after = Counter(line for lines in new.values() for line in lines)
    removed, added = sum((before - after).values()), sum((after - before).values())
    if args.files:
        for path in sorted(old.keys() | new.keys()):
            print(f"{len(old.get(path, [])):5d} {len(new.get(path, [])):5d}  {path}")
    print(f"hand-written validation lines: {args.old} {before.total()}, "
          f"{args.new} {after.total()}")
    print(f"removed {removed}, added {added}, net {after.total() - before.total():+d}")


if __name__ == "__main__":
    main()
