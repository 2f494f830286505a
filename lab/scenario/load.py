"""Read a scenario file: its shape against the schema, then what a schema cannot say,
every problem at once as ``file:line: …`` (ScenarioError, exit 2 in the CLI)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from lab import bmc, yamlfile
from lab.badnews import NAMED
from lab.errors import LabError
from lab.faults import NETEM_KEYS
from lab.impls import parse_impls, spec_text
from lab.scenario import duration
from lab.scenario.model import (
    STATE_KINDS,
    WINDOW_KINDS,
    CheckKind,
    Expectation,
    LabSpec,
    LogAllowance,
    Scenario,
    Step,
    StepKind,
)
from lab.scenario.schema import SCHEMA
from lab.topofile import TopologyError
from lab.topology import REFERENCE, Topology
from lab.topology import load as load_topology
from lab.yamlfile import DataPath, FileProblems, Marked, Problem


class ScenarioError(FileProblems):
    """A scenario file that cannot be used: every problem, one ``file:line:`` each."""


class ScenarioErrors(ScenarioError):
    """Several bad files at once: each one's problems, file by file."""

    def __init__(self, errors: list[ScenarioError]) -> None:
        LabError.__init__(self, "\n".join(str(e) for e in errors))
        self.errors = errors
        self.path = ", ".join(e.path for e in errors)
        self.problems = [p for e in errors for p in e.problems]


def load(path: Path) -> Scenario:
    marked = yamlfile.read(path, ScenarioError)
    if not isinstance(marked.data, dict):
        raise ScenarioError(str(path), [(1, "want a mapping with lab:, steps:, expect:, check:")])
    problems = list(yamlfile.schema_problems(marked, SCHEMA))
    if problems:
        raise ScenarioError(str(path), problems)
    builder = _Builder(path, marked)
    scenario = builder.build()
    if builder.problems:
        raise ScenarioError(str(path), builder.problems)
    return scenario


class _Builder:
    """Turns checked data into the model, collecting what is wrong with its line."""

    def __init__(self, path: Path, marked: Marked) -> None:
        self.path, self.marked, self.data = path, marked, marked.data
        self.problems: list[Problem] = []
        self.topo: Topology = REFERENCE
        # Every step's name, before any is built: an order: check may name a later step.
        self.step_names = [i["name"] for i in self.data.get("steps", []) if "name" in i]

    def bad(self, where: DataPath, text: str) -> None:
        self.problems.append((self.marked.line(where), text))

    def build(self) -> Scenario:
        lab = self._lab()
        steps = tuple(self._step(i, item) for i, item in enumerate(self.data.get("steps", [])))
        names = [s.name for s in steps if s.name]
        for index, step in enumerate(steps):
            if step.name and names.count(step.name) > 1 and names.index(step.name) != index:
                self.bad(("steps", index, "name"), f"step name {step.name!r} is used twice")
        expect, tied = [], {s.name: list(s.expect) for s in steps if s.name}
        for i, item in enumerate(self.data.get("expect", [])):
            check = self._check(("expect", i), item, names, allow_after=True)
            after = item.get("after")
            if after is None:
                expect.append(check)
            elif after in tied:
                tied[after].append(check)
            else:
                self.bad(("expect", i, "after"), f"no step named {after!r} ({_known(names)})")
        steps = tuple(
            Step(s.kind, s.args, s.line, s.name, s.at, tuple(tied.get(s.name or "", s.expect)))
            for s in steps
        )
        checks = tuple(
            self._check(("check", i), item, names, allow_after=False)
            for i, item in enumerate(self.data.get("check", []))
        )
        if not (steps or expect or checks):
            self.bad((), "nothing to do: want steps:, expect: or check:")
        check_at = self.data.get("check_at")
        if check_at is not None and check_at not in names:
            self.bad(("check_at",), f"no step named {check_at!r} ({_known(names)})")
        name = self.data.get("name") or self.path.stem
        description = self.data.get("description", "")
        tags = tuple(self.data.get("tags", []))
        allowed = tuple(
            self._allowance(i, item) for i, item in enumerate(self.data.get("expect_log", []))
        )
        return Scenario(
            self.path, name, description, lab, steps, tuple(expect), checks, check_at, tags, allowed
        )

    def _allowance(self, index: int, item: dict[str, Any]) -> LogAllowance:
        where: DataPath = ("expect_log", index)
        if ("line" in item) == ("pattern" in item):
            known = ", ".join(sorted(NAMED))
            self.bad(where, f"expect_log wants line: NAME ({known}) or pattern: REGEX (one)")
        pattern = NAMED.get(item.get("line", ""), item.get("pattern", ""))
        try:
            re.compile(pattern)
        except re.error as exc:
            self.bad((*where, "pattern"), f"not a regular expression: {exc}")
        nodes = item.get("nodes")
        for i, node in enumerate(nodes or []):
            self._node(node, (*where, "nodes", i), cluster=True)
        chosen = tuple(nodes) if nodes is not None else None
        return LogAllowance(pattern, item["why"], chosen, self.marked.line(where))

    # -- lab: ---------------------------------------------------------------------------------
    def _lab(self) -> LabSpec:
        spec = self.data.get("lab", {})
        where: DataPath = ("lab",)
        topology = self._relative(spec.get("topology"), (*where, "topology"), "topology file")
        if topology is not None:
            try:
                self.topo = load_topology(topology)
            except TopologyError as exc:
                for line, text in exc.problems:
                    self.bad((*where, "topology"), f"{topology}:{line}: {text}")
        fencing = bool(spec.get("fencing", False))
        if fencing:  # the BMC hosts (masterbmc, …) and each node's eth2 may be named
            self.topo = bmc.fenced(self.topo)
        config = self._relative(spec.get("config"), (*where, "config"), "config directory")
        if config is not None and not config.is_dir():
            self.bad((*where, "config"), f"{config} is not a directory")
        impl = self._impl(spec.get("impl"), (*where, "impl"))
        impls = spec.get("impls")
        return LabSpec(
            impl,
            self._impl_list(impls, (*where, "impls")) if impls is not None else None,
            spec.get("profile", "fast"),
            {k: _text(v) for k, v in spec.get("set", {}).items()},
            config,
            spec.get("backend"),
            topology,
            spec.get("start", True),
            self.marked.line(where),
            fencing,
        )

    def _relative(self, value: str | None, where: DataPath, what: str) -> Path | None:
        if value is None:
            return None
        path = Path(value) if Path(value).is_absolute() else self.path.parent / value
        if not path.exists():
            self.bad(where, f"no {what} {value!r} (relative to {self.path.parent})")
            return None
        return path

    def _impl(self, value: Any, where: DataPath) -> str | None:
        if value is None:
            return None
        text = value if isinstance(value, str) else ",".join(f"{k}={v}" for k, v in value.items())
        try:
            return spec_text(parse_impls(text, [h.name for h in self.topo.cluster_nodes]))
        except LabError as exc:
            self.bad(where, str(exc).removeprefix("--impl "))
            return None

    def _impl_list(self, values: list[str], where: DataPath) -> tuple[str, ...]:
        return tuple(
            spec for i, v in enumerate(values) if (spec := self._impl(v, (*where, i))) is not None
        )

    # -- names ----------------------------------------------------------------------------------
    def _node(self, name: str, where: DataPath, cluster: bool = False) -> str:
        hosts = self.topo.cluster_nodes if cluster else self.topo.hosts
        if name not in [h.name for h in hosts]:
            kind = "cluster node" if cluster else "host"
            self.bad(where, f"no {kind} {name!r} ({_known([h.name for h in hosts])})")
        return name

    def _iface(self, node: str, iface: str, where: DataPath) -> None:
        host = self.topo.host(node)
        if host is not None and host.interface(iface) is None:
            names = [i.name for i in host.interfaces]
            self.bad(where, f"{node} has no interface {iface!r} ({_known(names)})")

    def _tap(self, label: str, where: DataPath) -> str:
        node, _, iface = label.partition(":")
        self._node(node, where)
        self._iface(node, iface, where)
        return label

    # -- steps: ---------------------------------------------------------------------------------
    def _step(self, index: int, item: dict[str, Any]) -> Step:
        where: DataPath = ("steps", index)
        kinds = [k for k in item if k in StepKind.__members__.values()]
        if len(kinds) != 1:
            found = f"found {' and '.join(kinds)}" if kinds else "found none"
            self.bad(where, f"a step does one thing ({', '.join(StepKind)}): {found}")
            return Step(StepKind.WAIT, {"for": duration.seconds(0)}, self.marked.line(where))
        kind = StepKind(kinds[0])
        args = self._step_args(kind, item[kind], (*where, kind))
        expect = tuple(
            self._check((*where, "expect", i), check, self.step_names, allow_after=False)
            for i, check in enumerate(item.get("expect", []))
        )
        at = duration.parse(item["at"]) if "at" in item else None
        return Step(kind, args, self.marked.line(where), item.get("name"), at, expect)

    def _step_args(self, kind: StepKind, value: Any, where: DataPath) -> dict[str, Any]:
        if kind is StepKind.WAIT:
            return {"for": duration.parse(value)}
        args = dict(value) if isinstance(value, dict) else {"node": value}
        cluster = kind not in (StepKind.LINK, StepKind.NETEM, StepKind.CLEAR, StepKind.EXEC)
        if kind is StepKind.FORGE:
            return self._forge_args(args, where)
        self._node(args["node"], (*where, "node") if isinstance(value, dict) else where, cluster)
        if "iface" in args:
            self._iface(args["node"], args["iface"], (*where, "iface"))
        if kind is StepKind.POWERON:
            args.setdefault("start", True)
        elif kind in (StepKind.HB_STANDBY, StepKind.HB_TAKEOVER):
            args.setdefault("scope", "all")
        elif kind is StepKind.SERVICE:
            args.setdefault("name", "heartbeat")
        elif kind is StepKind.NETEM:
            params = {k: _text(args.pop(k)) for k in NETEM_KEYS if k in args}
            if not params:
                self.bad(where, f"netem wants one of {', '.join(NETEM_KEYS)} (or use clear:)")
            args["params"] = params
        elif kind is StepKind.EXEC:
            args["rc"] = None if args.get("rc") == "any" else args.get("rc", 0)
            args["timeout"] = duration.parse(args.get("timeout", 60))
            self._command(args["cmd"], (*where, "cmd"))
        return args

    def _forge_args(self, args: dict[str, Any], where: DataPath) -> dict[str, Any]:
        for role, cluster in (("from", False), ("as", True), ("to", True)):
            self._node(args[role], (*where, role), cluster)
            self._iface(args[role], "eth1", (*where, role))  # the forger speaks on eth1
        if args["as"] == args["to"]:
            self.bad((*where, "to"), "a forged packet goes to the other node, not to itself")
        args["every"] = duration.parse(args["every"]) if "every" in args else None
        args["for"] = duration.parse(args["for"])
        args.setdefault("key", None)
        return args

    def _command(self, cmd: str | list[str], where: DataPath) -> None:
        if not cmd or (isinstance(cmd, str) and not cmd.strip()):
            self.bad(where, "an empty command")

    # -- expect: and check: ---------------------------------------------------------------------
    def _check(
        self, where: DataPath, item: dict[str, Any], steps: list[str], allow_after: bool
    ) -> Expectation:
        kinds = [k for k in item if k in CheckKind.__members__.values()]
        line = self.marked.line(where)
        if len(kinds) != 1:
            found = f"found {' and '.join(kinds)}" if kinds else "found none"
            self.bad(where, f"one check per item ({', '.join(CheckKind)}): {found}")
            return Expectation(CheckKind.NODE, {}, line)
        kind = CheckKind(kinds[0])
        if "after" in item and not allow_after:
            self.bad((*where, "after"), "after: is for the top-level expect: list")
        spec = self._check_spec(kind, item[kind], (*where, kind), steps)
        timing = {k: duration.parse(item[k]) for k in ("within", "hold", "for") if k in item}
        if "hold" in timing and kind not in STATE_KINDS:
            self.bad((*where, "hold"), f"hold: is for {', '.join(sorted(STATE_KINDS))}")
        negative = bool(spec.get("absent")) or spec.get("seen") is False
        if "for" in timing and kind not in WINDOW_KINDS and not negative:
            self.bad((*where, "for"), "for: is for windows (two_holders, …) and absent/unseen")
        impls = self._impl_list(item["impl"], (*where, "impl")) if "impl" in item else None
        return Expectation(
            kind,
            spec,
            line,
            timing.get("within"),
            timing.get("hold"),
            timing.get("for"),
            impls,
            item.get("hint"),
            item.get("name"),
        )

    def _check_spec(
        self, kind: CheckKind, value: Any, where: DataPath, steps: list[str]
    ) -> dict[str, Any]:
        if kind is CheckKind.FENCED:
            any_of = isinstance(value, dict)
            if any_of:
                value, where = value["any_of"], (*where, "any_of")
            nodes = [] if value == "none" else [value] if isinstance(value, str) else value
            for i, node in enumerate(nodes):
                self._node(node, (*where, i) if isinstance(value, list) else where, cluster=True)
            # any_of: one or more of these and no other; else exactly these.
            return {"nodes": tuple(sorted(nodes)), "any_of": any_of}
        if kind is CheckKind.HOLDER:
            one_of = isinstance(value, dict)
            if one_of:
                value, where = value["one_of"], (*where, "one_of")
            nodes = [] if value == "none" else [value] if isinstance(value, str) else value
            for i, node in enumerate(nodes):
                self._node(node, (*where, i) if isinstance(value, list) else where, cluster=True)
            # one_of: exactly one holder, any of these; else exactly these holders.
            return {"nodes": tuple(sorted(nodes)), "one_of": one_of}
        if kind is CheckKind.PAGE:
            nodes = [] if value == "none" else [value] if isinstance(value, str) else value
            for i, node in enumerate(nodes):
                self._node(node, (*where, i) if isinstance(value, list) else where, cluster=True)
            return {"nodes": tuple(nodes)}  # the page of any of them; () for no page
        if kind is CheckKind.ORDER:
            return {"items": [self._matcher(where, i, item, steps) for i, item in enumerate(value)]}
        spec = dict(value)
        if kind in WINDOW_KINDS:
            if "max" not in spec and "min" not in spec:
                self.bad(where, f"{kind} wants max: or min: (a duration)")
            for bound in ("max", "min"):
                spec[bound] = duration.parse(spec[bound]) if bound in spec else None
            spec.setdefault("by", "arp")
            return spec
        return self._named_spec(kind, spec, where)

    def _named_spec(self, kind: CheckKind, spec: dict[str, Any], where: DataPath) -> dict[str, Any]:
        # Keys naming a host; ``on`` names one for cl_status, an interface elsewhere.
        host_keys = (
            ("node", "name", "from", "on")
            if kind is CheckKind.CL_STATUS
            else ("node", "name", "from")
        )
        for key in (k for k in host_keys if k in spec):
            self._node(spec[key], (*where, key))
        if kind in (CheckKind.PACKET, CheckKind.GARP):
            self._tap(spec["on"], (*where, "on"))
            spec.setdefault("seen", True)
        if kind in (CheckKind.LOG, CheckKind.EVENT, CheckKind.CL_STATUS, CheckKind.EXEC):
            spec.setdefault("absent", False)
        if kind is CheckKind.LOG:
            self._log_spec(spec, where)
        elif kind is CheckKind.CL_STATUS:
            if ("node" in spec) == bool(spec.get("resources")):
                self.bad(where, "cl_status wants node: (and link:) or resources: true")
            if "link" in spec and "node" in spec:
                self._iface(spec["on"], spec["link"], (*where, "link"))
            spec["is"] = _texts(spec["is"])
        elif kind is CheckKind.EXEC:
            self._command(spec["cmd"], (*where, "cmd"))
            spec.setdefault("rc", 0)
            for key in ("contains", "lacks"):
                spec[key] = _texts(spec.get(key))
        elif kind is CheckKind.NODE and not ({"power", "daemon"} & set(spec)):
            self.bad(where, "node wants power: or daemon:")
        return spec

    def _log_spec(self, spec: dict[str, Any], where: DataPath) -> None:
        if ("contains" in spec) == ("regex" in spec):
            self.bad(where, "log wants contains: TEXT or regex: PATTERN (one of them)")
        if "regex" in spec:
            try:
                re.compile(spec["regex"])
            except re.error as exc:
                self.bad((*where, "regex"), f"not a regular expression: {exc}")

    def _matcher(
        self, where: DataPath, index: int, item: dict[str, Any], steps: list[str]
    ) -> tuple[CheckKind | str, dict[str, Any]]:
        ((kind, value),) = item.items()
        at: DataPath = (*where, index, kind)
        if kind == "step":
            if value not in steps:
                self.bad(at, f"no step named {value!r} ({_known(steps)})")
            return "step", {"name": value}
        check = CheckKind(kind)
        return check, self._named_spec(check, dict(value), at)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"  # ha.cf's word for YAML's `auto_failback: on`
    return str(value)


def _texts(value: str | list[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _known(names: list[str]) -> str:
    return f"known: {', '.join(names)}" if names else "none are named"
