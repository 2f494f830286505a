"""Print a short digest of every failed or errored test in the given junit reports.

CI's log is long and only its head and tail are sure to be read: the digest goes
last (.ci/run), one block per failure with the assertion's first lines, so a
flaky failure is explained by the run that saw it (a nemesis violation, the wire
at a false death) instead of needing a rerun to be understood.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

LINES_PER_FAILURE = 12
WIDTH = 240


def failures(path: Path) -> list[tuple[str, str]]:
    """(test id, first lines of what it said) for each failure or error in ``path``."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        return [(str(path), f"cannot read the report: {exc}")]
    found: list[tuple[str, str]] = []
    for case in root.iter("testcase"):
        for kind in ("failure", "error"):
            element = case.find(kind)
            if element is None:
                continue
            name = f"{case.get('classname', '')}::{case.get('name', '')} ({kind})"
            found.append((name, _gist(element.get("message", ""), element.text or "")))
    return found


def _gist(message: str, text: str) -> str:
    """The message, then the traceback's ``E`` lines (pytest's explanation)."""
    lines = [line.strip() for line in message.splitlines()]
    lines += [line[1:].strip() for line in text.splitlines() if line.startswith("E ")]
    seen: set[str] = set()
    kept: list[str] = []
    for line in lines:
        if not line or line in seen:  # the message is repeated in the E lines
            continue
        seen.add(line)
        kept.append(line[:WIDTH])
        if len(kept) == LINES_PER_FAILURE:
            break
    return "\n".join(kept)


def main(paths: list[str]) -> int:
    """Always 0: the stages' own exit codes decide CI; this only explains them."""
    reports = [Path(path) for path in paths if Path(path).exists()]
    blocks = [item for report in reports for item in failures(report)]
    if not blocks:
        return 0
    print(f"\n===== CI failure digest: {len(blocks)} failed test(s) =====")
    for name, gist in blocks:
        print(f"--- {name}")
        print(gist)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
