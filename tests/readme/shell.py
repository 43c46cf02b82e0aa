"""One bash session that runs the README's commands in turn, as a reader typing them would: a
``cd``, an activated virtual environment or an exported variable carries over to the next
command. Each command's output goes to its own log file."""

from __future__ import annotations

import queue
import shlex
import subprocess
import threading
import uuid
from pathlib import Path


class ShellError(RuntimeError):
    """The session ended or a command ran past its time."""


class Shell:
    def __init__(self, directory: Path, environment: dict[str, str], prelude: str = "") -> None:
        self._process = subprocess.Popen(
            ["bash", "--noprofile", "--norc"], cwd=directory, env=environment,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True)
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        if prelude:
            self.run(prelude, Path("/dev/null"), timeout=30)

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _send(self, script: str, timeout: float) -> str:
        """Run ``script`` in the session; what it echoes after the end marker."""
        assert self._process.stdin is not None
        marker = f"__readme_done_{uuid.uuid4().hex}__"
        self._process.stdin.write(f"{script}\necho {marker} \"$__readme_value\"\n")
        self._process.stdin.flush()
        while True:
            try:
                line = self._lines.get(timeout=timeout)
            except queue.Empty:
                self.close()
                raise ShellError(f"no answer in {timeout:.0f} s") from None
            if line is None:
                raise ShellError("the shell ended (a command ran `exit`?)")
            if line.startswith(marker):
                return line[len(marker):].strip()

    def run(self, command: str, log: Path, timeout: float) -> int:
        """Run ``command`` in the session, its output into ``log``; its exit status."""
        script = (f"{{\n{command}\n}} > {shlex.quote(str(log))} 2>&1 < /dev/null\n"
                  "__readme_value=$?")
        return int(self._send(script, timeout))

    def start(self, command: str, log: Path) -> int:
        """Start ``command`` in the background, its output into ``log``; its process id."""
        script = (f"{command} > {shlex.quote(str(log))} 2>&1 < /dev/null &\n"
                  "__readme_value=$!")
        return int(self._send(script, timeout=30))

    def stop(self, process_id: int) -> None:
        """End a background command that :meth:`start` started, and wait for it."""
        self._send(f"kill {process_id}; wait {process_id}; __readme_value=$?", timeout=60)

    def close(self) -> None:
        """End the session and whatever it still runs."""
        if self._process.poll() is None:
            subprocess.run(["kill", "--", f"-{self._process.pid}"], check=False)
            self._process.wait(timeout=30)
