"""The README read as a script: commands, shown outputs and files, in order."""

from __future__ import annotations

import pytest

from tests.readme.markdown import Command, File, ReadmeError, Shown, read_items, strip_comment


def test_a_block_gives_one_command_a_line_continuations_joined_comments_dropped() -> None:
    items = read_items("""intro
```bash
python -m venv .venv && . .venv/bin/activate   # any environment
# only a comment
python -m engine -m 'a=#1' \\
  b=2   # trailing
```
""")
    assert items == [Command("python -m venv .venv && . .venv/bin/activate", 3, 0),
                     Command("python -m engine -m 'a=#1' b=2", 5, 0)]


@pytest.mark.parametrize(("line", "expected"), [
    ("echo a#b  # note", "echo a#b"),
    ("echo '# kept' \"# kept\"", "echo '# kept' \"# kept\""),
    ("# all comment", ""),
])
def test_a_comment_starts_at_a_hash_outside_quotes_after_whitespace(line: str,
                                                                    expected: str) -> None:
    assert strip_comment(line) == expected


def test_output_after_a_one_command_block_belongs_to_that_command() -> None:
    items = read_items("```bash\npython -m engine\n```\n\nprints:\n\n```\nrun directory: x\n```\n")
    assert items[1] == Shown(Command("python -m engine", 2, 0), ("run directory: x",), 8)


def test_a_transcript_names_its_commands_even_when_indented() -> None:
    items = read_items("- item\n\n  ```\n  $ python -m engine deploy=onnx\n  ...\n"
                       "  export onnx: ok\n  $ python -m engine model=x\n  error: no\n  ```\n")
    assert [(item.command.text, item.lines) for item in items if isinstance(item, Shown)] == [
        ("python -m engine deploy=onnx", ("...", "export onnx: ok")),
        ("python -m engine model=x", ("error: no",))]


def test_output_after_several_commands_must_name_its_command() -> None:
    with pytest.raises(ReadmeError, match=r"line 7: shown output after a block of 2 commands; "
                                          r"start it with the `\$ command`"):
        read_items("```bash\na\nb\n```\n\n```\nout\n```\n")


def test_a_yaml_block_headed_by_its_path_is_a_file_and_an_excerpt_is_not() -> None:
    items = read_items("```yaml\n# conf/dataset/churn.yaml\nname: churn\n```\n"
                       "```yaml\n# conf/features/text.yaml (excerpt)\na: 1\n```\n")
    assert items == [File("conf/dataset/churn.yaml", "name: churn\n", 2)]


def test_an_unclosed_block_is_refused() -> None:
    with pytest.raises(ReadmeError, match="line 1: a code block that never closes"):
        read_items("```bash\npython -m engine\n")


def test_a_file_keeps_its_nested_keys_indented() -> None:
    text = "```yaml\n# demo/lifecycle.yaml\nsource:\n  type: files\n```\n"
    assert read_items(text) == [File("demo/lifecycle.yaml", "source:\n  type: files\n", 2)]


def test_an_indented_block_loses_only_the_fence_indentation() -> None:
    text = "- item\n\n  ```yaml\n  # demo/a.yaml\n  gate:\n    alpha: 0.05\n  ```\n"
    assert read_items(text) == [File("demo/a.yaml", "gate:\n  alpha: 0.05\n", 4)]
