"""A small README played through the real shell: state carries over inside a block, each block
starts in the root, statuses and shown lines are checked."""

from __future__ import annotations

import os
from pathlib import Path

from tests.readme.markdown import read_items
from tests.readme.runner import REPOSITORY
from tests.readme.session import Session
from tests.readme.shell import Shell

README = """\
```bash
mkdir sub && cd sub
touch here
export GREETING=hello
```

```
$ ls sub
here
$ echo "$GREETING, world 42"
hello, world 7
$ sh -c 'echo "error: bad value 3"; exit 2'
error: bad value 4
$ echo goodbye
hello
$ false
```
"""


def test_a_readme_plays_in_one_shell(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    shell = Shell(tmp_path, dict(os.environ))
    try:
        outcomes = Session(shell, tmp_path, tmp_path / "logs", REPOSITORY, timeout=60).play(
            read_items(README))
    finally:
        shell.close()
    assert [(outcome.ran, outcome.status, outcome.expected, outcome.problems)
            for outcome in outcomes] == [
        ("mkdir sub && cd sub", 0, 0, []),
        ("touch here", 0, 0, []),
        ("export GREETING=hello", 0, 0, []),
        ("ls sub", 0, 0, []),
        ('echo "$GREETING, world 42"', 0, 0, []),
        ("sh -c 'echo \"error: bad value 3\"; exit 2'", 2, 2, []),
        ("echo goodbye", 0, 0, ["README line 15: shown line missing from the output: hello"]),
        ("false", 1, 0, ["exit status 1, expected 0"]),
    ]
