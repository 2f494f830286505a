"""The course in docs/lessons: each lesson a page (NN-name.md) and its scenario files
(NN-*.yaml: the automatic run, whose ``check:`` list is the "check my lab").

A page is split in parts (``## …``) and steps (``### 1. …``); a part names the
scenario file it goes with, so ``hblab lessons start 05-split-brain-ipfail``
prints that part's first step. A lesson without a scenario file (lesson 00, the
tutorial typed on blank nodes: tests/integration/test_tutorial.py types it) is
done from its page alone, and is listed so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from lab.errors import LabError

LESSONS_DIR = Path(__file__).resolve().parents[2] / "docs" / "lessons"
_PAGE = re.compile(r"^(\d\d)-[a-z0-9-]+\.md$")


@dataclass(frozen=True)
class Lesson:
    number: str  # "05"
    page: Path
    title: str
    scenarios: tuple[Path, ...]  # the page's own stem first

    @property
    def page_only(self) -> bool:
        """No scenario file: the page is the whole lesson (nothing to start or check)."""
        return not self.scenarios


def lessons(directory: Path = LESSONS_DIR) -> list[Lesson]:
    found = []
    for page in sorted(directory.glob("*.md")):
        match = _PAGE.match(page.name)
        if match is None:
            continue
        number = match.group(1)
        files = sorted(
            directory.glob(f"{number}-*.yaml"), key=lambda p: (p.stem != page.stem, p.name)
        )
        found.append(Lesson(number, page, _title(page), tuple(files)))
    return found


def _title(page: Path) -> str:
    for line in page.read_text().splitlines():
        if line.startswith("# "):
            return re.sub(r"^Lesson \d+:\s*", "", line[2:].strip())
    return page.stem


def find(ident: str, directory: Path = LESSONS_DIR) -> tuple[Lesson, Path | None]:
    """A lesson by number (``5``, ``05``) or by one of its files' stems; and its scenario."""
    all_lessons = lessons(directory)
    for lesson in all_lessons:
        for path in lesson.scenarios:
            if ident in (path.stem, path.name):
                return lesson, path
        if (ident.isdigit() and int(ident) == int(lesson.number)) or ident == lesson.page.stem:
            return lesson, lesson.scenarios[0] if lesson.scenarios else None
    names = ", ".join(lesson.number for lesson in all_lessons) or "none"
    raise LabError(f"no lesson {ident!r} (lessons: {names}; hblab lessons lists them)")


def first_step(page: Path, scenario: Path | None) -> str:
    """The first ``### `` step of the part that names ``scenario`` (or of the page)."""
    text = page.read_text()
    parts = re.split(r"(?m)^(?=## )", text)
    chosen = text
    if scenario is not None:
        # A part names its file in its heading: "## Part 2: … (`05-split-brain-ipfail.yaml`)".
        chosen = next((p for p in parts if f"{scenario.name}`" in p.partition("\n")[0]), text)
    steps = re.split(r"(?m)^(?=#{2,3} )", chosen)
    step = next((s for s in steps if s.startswith("### ")), "")
    return step.strip()
