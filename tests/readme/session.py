"""Runs the README's items in order in one shell, and keeps what each command did."""

from __future__ import annotations

import re
import shlex
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.readme.markdown import Command, File, Item, Shown
from tests.readme.plan import PLACEHOLDERS, SERVERS, SKIPS, STATUSES, Server, Skip, rewrite
from tests.readme.scratch import shared_data
from tests.readme.shell import Shell, ShellError
from tests.readme.stable import missing_lines

RUN_DIRECTORY = re.compile(r"^run directory: (.+)$", re.MULTILINE)
PORT = re.compile(r"--port (\d+)")
SERVER_START_SECONDS = 180


@dataclass
class Outcome:
    """What one README command did: skipped (with the reason), or run as ``ran``."""

    command: Command
    ran: str = ""
    status: int | None = None
    expected: int = 0
    seconds: float = 0.0
    log: Path | None = None
    skipped: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log and self.log.exists() else ""

    @property
    def failed(self) -> bool:
        return bool(self.problems)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def alive(process_id: int) -> bool:
    """Whether the process runs (a zombie, ended but not yet reaped, does not)."""
    try:
        state = Path(f"/proc/{process_id}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


class Session:
    """The README's items played in ``shell``: outcomes by command (once rewritten), and the run
    directory each command printed last, for the placeholders that name it."""

    def __init__(self, shell: Shell, checkout: Path, logs: Path, repository: Path, *,
                 timeout: float) -> None:
        self.shell = shell
        self.checkout = checkout
        self.logs = logs
        self.repository = repository
        self.timeout = timeout
        self.outcomes: dict[str, Outcome] = {}
        self.run_directories: dict[str, str] = {}
        self.block = -1

    def play(self, items: list[Item]) -> list[Outcome]:
        """Every item in order: files written, commands run, shown outputs checked. A shown
        output of a command that ran already (the same once rewritten) is checked against that
        run."""
        for item in items:
            if isinstance(item, File):
                target = self.checkout / item.path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(item.text)
            elif isinstance(item, Command):
                self.execute(item, expected=next((status.status for status in STATUSES
                                                  if status.command == item.text), 0))
            else:
                self.check(item)
        return list(self.outcomes.values())

    def skip_for(self, command: Command) -> Skip | None:
        for skip in SKIPS:
            if skip.command == command.text and (
                    skip.needs_shared_file is None
                    or not (shared_data(self.repository) / skip.needs_shared_file).exists()):
                return skip
        return None

    def check(self, shown: Shown) -> None:
        """Check a shown output against its command's run, running the command first when no
        code block above ran it (a transcript's own command)."""
        outcome = self.outcomes.get(rewrite(shown.command.text))
        if outcome is None:
            first = next((line for line in shown.lines if line.strip()), "")
            outcome = self.execute(shown.command, expected=2 if first.startswith("error:") else 0)
        if outcome.skipped or outcome.status is None:
            return
        for index in missing_lines(shown.lines, outcome.output):
            outcome.problems.append(f"README line {shown.line + index}: shown line missing from "
                                    f"the output: {shown.lines[index].strip()}")

    def execute(self, command: Command, *, expected: int) -> Outcome:
        """Run ``command`` (skipped, rewritten, its placeholders filled, served in the background
        as plan.py says) and record its outcome."""
        outcome = Outcome(command, expected=expected)
        self.outcomes[rewrite(command.text)] = outcome
        skip = self.skip_for(command)
        if skip:
            outcome.skipped = skip.reason
            return outcome
        if command.block != self.block:
            self.block = command.block
            self.shell.run(f"cd {shlex.quote(str(self.checkout))}", Path("/dev/null"), timeout=30)
        try:
            outcome.ran = self.resolve(rewrite(command.text).replace("{port}", str(free_port())))
        except LookupError as error:
            outcome.problems.append(str(error))
            return outcome
        outcome.log = self.logs / f"{len(self.outcomes):03d}.log"
        started = time.monotonic()
        server = next((server for server in SERVERS if outcome.ran.startswith(server.prefix)),
                      None)
        try:
            outcome.status = (self.serve(outcome.ran, server, outcome.log) if server
                              else self.shell.run(outcome.ran, outcome.log, self.timeout))
        except ShellError as error:
            outcome.problems.append(f"{error}; the commands after it did not run")
            raise
        finally:
            outcome.seconds = time.monotonic() - started
        if outcome.status != expected:
            outcome.problems.append(f"exit status {outcome.status}, expected {expected}")
        found = RUN_DIRECTORY.findall(outcome.output)
        if found:
            self.run_directories[command.text] = found[-1].strip()
        return outcome

    def resolve(self, command: str) -> str:
        """``command`` with each placeholder replaced by the run directory it stands for."""
        for placeholder in PLACEHOLDERS:
            if placeholder.token in command:
                if placeholder.source not in self.run_directories:
                    raise LookupError(f"{placeholder.token}: `{placeholder.source}` printed no "
                                      "run directory")
                command = command.replace(placeholder.token,
                                          self.run_directories[placeholder.source])
        return command

    def serve(self, command: str, server: Server, log: Path) -> int:
        """Start a server, wait until its probe answers 200, stop it: 0 if it answered."""
        port = PORT.search(command)
        if port is None:
            log.write_text("[readme runner] a server command without --port cannot be probed\n")
            return 1
        url = f"http://127.0.0.1:{port[1]}{server.probe}"
        process_id = self.shell.start(command, log)
        deadline = time.monotonic() + SERVER_START_SECONDS
        answered = False
        while not answered and alive(process_id) and time.monotonic() < deadline:
            time.sleep(0.5)
            answered = answers(url)
        self.shell.stop(process_id)
        with log.open("a") as record:
            record.write(f"\n[readme runner] GET {url}: {'200' if answered else 'no answer'}\n")
        return 0 if answered else 1
