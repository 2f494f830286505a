"""A real terminal on a lab node: ``hblab shell NODE`` under a pty (pexpect).

Lines are typed as a person types them and read back as the terminal shows them;
vim gets keystrokes. Every wait is for the shell's prompt (or vim's status line)
with a deadline, never a fixed sleep. Everything the terminal showed is kept in
``transcript`` for the failure report and the lesson.
"""

from __future__ import annotations

import io
import os
import re
import sys

import pexpect

# The nodes' PS1, "[root@\h \W]\$ ": the prompt names the host as `hostname` says it.
PROMPT = re.compile(r"\[root@(?P<host>[^ \]]+) (?P<cwd>[^\]]*)\]# ")
# What bash and vim send besides text: colours, cursor moves, bracketed paste, modes.
ESCAPES = re.compile(r"\x1b(\[[0-9;?>=]*[ -/]*[@-~]|\][^\x07]*\x07|[()][0-9A-Za-z]|[=>78])")
COLUMNS = 400  # wide enough that readline never wraps a typed line


class Terminal:
    """A shell on ``node`` in a terminal, as ``hblab shell`` gives one."""

    def __init__(self, node: str, backend: str, timeout: float = 30.0) -> None:
        self.node = node
        self.transcript = io.StringIO()
        self.host = ""
        self.cwd = ""
        env = {**os.environ, "TERM": "xterm"}
        self.child = pexpect.spawn(
            sys.executable,
            ["-m", "lab", "--backend", backend, "shell", node],
            env=env,
            encoding="utf-8",
            codec_errors="replace",
            dimensions=(50, COLUMNS),
            timeout=timeout,
        )
        self.child.logfile_read = self.transcript
        self._prompt(timeout)

    def _prompt(self, timeout: float) -> str:
        self.child.expect(PROMPT, timeout=timeout)
        match = self.child.match
        assert match is not None
        self.host, self.cwd = match.group("host"), match.group("cwd")
        return str(self.child.before)

    def run(self, line: str, timeout: float = 30.0) -> str:
        """Type ``line`` and Enter; what the command printed, once the prompt is back."""
        self.child.sendline(line)
        shown = clean(self._prompt(timeout)).split("\n")
        return "\n".join(shown[1:]).strip("\n")  # the first line is the typed command

    def vim(self, path: str, keys: str, timeout: float = 30.0) -> None:
        """``vim PATH``, wait for vim to show the file, type ``keys`` (ending in :wq)."""
        self.child.sendline(f"vim {path}")
        self.child.expect(re.escape(f'"{path}"'), timeout=timeout)
        self.child.send(keys)
        self._prompt(timeout)

    def shown(self) -> str:
        """Everything the terminal showed so far, without escape sequences."""
        return clean(self.transcript.getvalue())

    def close(self) -> None:
        """Leave the shell; a node that was powered off has already closed it."""
        if self.child.isalive():
            self.child.sendline("exit")
            self.child.expect([pexpect.EOF, pexpect.TIMEOUT], timeout=5)
        self.child.close(force=True)


def clean(text: str) -> str:
    return ESCAPES.sub("", text).replace("\r\n", "\n").replace("\r", "")
