"""A run's rows as a table for people, and as JUnit XML for CI (xml.etree)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from lab.scenario.result import Row, ScenarioResult, Status

WHAT_WIDTH = 64


def heading(path: Path, name: str, observe: bool) -> str:
    return f"== {path}: {name}{'  (observing the lab that is up)' if observe else ''}"


def row_lines(row: Row, path: Path) -> list[str]:
    """One line per row; a failure adds ``file:line: why`` and the file's hint."""
    measured = f"  {row.measured}" if row.measured else ""
    where = f"{row.section.value:<6} :{row.line:<4}"
    lines = [f"  {row.status.value:<5} {where} {row.what:<{WHAT_WIDTH}}{measured}"]
    if row.failed and row.detail:
        lines.append(f"        {path}:{row.line}: {row.detail}")
    if row.failed and row.hint:
        lines.append(f"        hint: {row.hint}")
    if row.status is Status.SKIP and row.detail:
        lines.append(f"        ({row.detail})")
    return [line.rstrip() for line in lines]


def verdict(result: ScenarioResult) -> str:
    if result.skipped:
        return f"  -> skipped: {result.skipped}"
    failed = result.count(Status.FAIL) + result.count(Status.ERROR)
    judged = len(result.rows) - result.count(Status.SKIP)
    word = "FAILED" if result.failed else "passed"
    where = ", ".join(x for x in (result.cluster, result.backend, result.profile) if x)
    return f"  -> {word}: {judged - failed} of {judged} held [{where}] ({result.seconds:.1f} s)"


def summary(results: list[ScenarioResult]) -> str:
    failed = [r for r in results if r.failed]
    skipped = [r for r in results if r.skipped]
    passed = len(results) - len(failed) - len(skipped)
    total = sum(r.seconds for r in results)
    text = f"{len(results)} scenario(s): {passed} passed, {len(failed)} failed"
    text += f", {len(skipped)} skipped" if skipped else ""
    return f"{text} ({total:.1f} s)"


# -- JUnit ----------------------------------------------------------------------------------------
def junit(results: list[ScenarioResult]) -> ET.ElementTree:
    """One testsuite per scenario run, one testcase per step or check."""
    root = ET.Element("testsuites", name="hblab run")
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    for result in results:
        suite = _suite(result)
        root.append(suite)
        for key in totals:
            totals[key] += int(suite.get(key, "0"))
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", f"{sum(r.seconds for r in results):.3f}")
    return ET.ElementTree(root)


def _suite(result: ScenarioResult) -> ET.Element:
    label = f"{result.name} [{result.cluster}{', observe' if result.observe else ''}]"
    suite = ET.Element("testsuite", name=label, file=str(result.path))
    properties = ET.SubElement(suite, "properties")
    for name in ("cluster", "backend", "profile"):
        ET.SubElement(properties, "property", name=name, value=str(getattr(result, name)))
    classname = f"scenario.{result.path.stem}"
    if result.skipped:
        case = ET.SubElement(suite, "testcase", classname=classname, name="scenario", time="0")
        ET.SubElement(case, "skipped", message=result.skipped)
    for row in result.rows:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=classname,
            name=f"{row.section.value} line {row.line}: {row.what}",
            file=str(result.path),
            line=str(row.line),
            time=f"{row.seconds:.3f}",
        )
        if row.status is Status.SKIP:
            ET.SubElement(case, "skipped", message=row.detail or row.measured)
        elif row.failed:
            tag = "error" if row.status is Status.ERROR else "failure"
            element = ET.SubElement(case, tag, message=row.detail)
            element.text = "\n".join(
                x for x in (row.measured, row.hint and f"hint: {row.hint}") if x
            )
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
    suite.set("errors", str(sum(1 for c in cases if c.find("error") is not None)))
    suite.set("skipped", str(sum(1 for c in cases if c.find("skipped") is not None)))
    suite.set("time", f"{result.seconds:.3f}")
    return suite


def write_junit(results: list[ScenarioResult], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tree = junit(results)
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)
