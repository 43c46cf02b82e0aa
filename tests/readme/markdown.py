"""The README read as a script: its shell commands, the output it shows for them, and the files it
spells out, in the order a reader meets them.

- A ```` ```bash ```` block holds commands, one a line: a trailing ``\\`` joins the next line, a
  ``#`` outside quotes starts a comment, a line that is only a comment is no command.
- A fence without a language is shown output. When its first line starts with ``$ ``, it is a
  transcript: each ``$ command`` line is followed by that command's output. Otherwise it is the
  output of the one command of the nearest ```` ```bash ```` block above it (a block of several
  commands must name the one with a ``$`` line, or the README is refused).
- A ```` ```yaml ```` block whose first line is ``# <path>.yaml`` (not marked ``(excerpt)``) is a
  file the reader is meant to create; the commands after it see it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

FENCE = re.compile(r"^(?P<indent>\s*)```(?P<language>\w*)\s*$")
FILE_HEADING = re.compile(r"^#\s+(?P<path>[\w./-]+\.ya?ml)\s*$")


class ReadmeError(ValueError):
    """The README cannot be read as a script; the message names the line."""


@dataclass(frozen=True)
class Command:
    """One shell command; ``block`` numbers the code block it came from (each starts afresh in the
    checkout's root, as the README's commands assume)."""

    text: str
    line: int
    block: int


@dataclass(frozen=True)
class Shown:
    """Output the README shows for ``command``; ``line`` is the README line of its first line."""

    command: Command
    lines: tuple[str, ...]
    line: int


@dataclass(frozen=True)
class File:
    """A file the README spells out, to be written at ``path`` below the checkout's root."""

    path: str
    text: str
    line: int


Item = Command | Shown | File


@dataclass(frozen=True)
class Fence:
    language: str
    lines: tuple[str, ...]
    line: int  # the README line of the block's first line of content


def fences(text: str) -> list[Fence]:
    """Every fenced block, its lines without the fence's indentation."""
    blocks: list[Fence] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        indent = len(opening["indent"])
        end = index + 1
        while end < len(lines) and not FENCE.match(lines[end]):
            end += 1
        if end == len(lines):
            raise ReadmeError(f"line {index + 1}: a code block that never closes")
        body = tuple(line[indent:] if line[:indent].isspace() or not indent else line.lstrip()
                     for line in lines[index + 1:end])
        blocks.append(Fence(opening["language"], body, index + 2))
        index = end + 1
    return blocks


def strip_comment(line: str) -> str:
    """``line`` without a trailing shell comment: a ``#`` outside quotes, at the start or after
    whitespace (``a#b`` is a word, as in bash)."""
    quote = ""
    for position, character in enumerate(line):
        if quote:
            if character == quote:
                quote = ""
        elif character in "'\"":
            quote = character
        elif character == "#" and (position == 0 or line[position - 1].isspace()):
            return line[:position].rstrip()
    return line.rstrip()


def shell_commands(fence: Fence, block: int) -> list[Command]:
    """The commands of a ```` ```bash ```` block, continuations joined, comments dropped."""
    commands: list[Command] = []
    pending: list[str] = []
    start = fence.line
    for offset, raw in enumerate(fence.lines):
        line = strip_comment(raw)
        if not pending:
            start = fence.line + offset
        if line.endswith("\\"):
            pending.append(line[:-1].strip())
            continue
        text = " ".join([*pending, line.strip()]).strip()
        pending = []
        if text:
            commands.append(Command(text, start, block))
    if pending:
        raise ReadmeError(f"line {start}: a `\\` continuation at the end of the block")
    return commands


def transcript(fence: Fence, block: int) -> list[Shown]:
    """A block of ``$ command`` lines, each followed by its output."""
    shown: list[Shown] = []
    for offset, line in enumerate(fence.lines):
        if line.startswith("$ "):
            command = Command(line[2:].strip(), fence.line + offset, block)
            shown.append(Shown(command, (), fence.line + offset + 1))
        else:
            last = shown[-1]
            shown[-1] = Shown(last.command, (*last.lines, line), last.line)
    return shown


def read_items(text: str) -> list[Item]:
    """The README's commands, shown outputs and files, in document order."""
    items: list[Item] = []
    previous: list[Command] = []
    for block, fence in enumerate(fences(text)):
        if fence.language == "bash":
            previous = shell_commands(fence, block)
            items.extend(previous)
        elif fence.language == "yaml":
            heading = FILE_HEADING.match(fence.lines[0]) if fence.lines else None
            if heading:
                items.append(File(heading["path"], "\n".join(fence.lines[1:]) + "\n", fence.line))
        elif fence.language == "":
            if fence.lines and fence.lines[0].startswith("$ "):
                items.extend(transcript(fence, block))
            elif len(previous) == 1:
                items.append(Shown(previous[0], fence.lines, fence.line))
            else:
                raise ReadmeError(
                    f"line {fence.line}: shown output after a block of {len(previous)} commands; "
                    "start it with the `$ command` that prints it")
    return items


def read_readme(path: Path) -> list[Item]:
    return read_items(path.read_text(encoding="utf-8"))
