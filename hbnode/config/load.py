"""Load a whole /etc/ha.d: ha.cf, authkeys and haresources, in Heartbeat's order.

Heartbeat reads ha.cf, then authkeys, then (in haresources mode, which is
hbnode's only mode) haresources, and stops at the first file with a problem.
We read all three and report every problem in one go (:func:`check_config`),
in file order; the node refuses to start if there is any (:func:`load_config`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from hbnode.auth import AuthKeys
from hbnode.config.authkeys import read_authkeys_file
from hbnode.config.errors import ConfigError, ConfigWarning, raise_if_any
from hbnode.config.hacf import HaCf
from hbnode.config.hacf_parse import default_node_name, read_hacf_file, read_hacf_text
from hbnode.config.haresources import ResourceGroup, read_haresources_file

HA_D = Path("/etc/ha.d")
FILES = ("ha.cf", "authkeys", "haresources")  # Heartbeat's reading order


@dataclass(slots=True)
class ClusterConfig:
    """This node's view of the cluster configuration."""

    ha_d: Path
    node_name: str  # lowercase; one of hacf.nodes
    hacf: HaCf
    authkeys: AuthKeys
    resource_groups: list[ResourceGroup] = field(default_factory=list)
    file_warnings: list[ConfigWarning] = field(default_factory=list)  # authkeys, haresources

    @property
    def warnings(self) -> list[ConfigWarning]:
        """Start-up warnings to log (``file:line: text``), in file order."""
        return sort_problems([*self.hacf.warnings, *self.file_warnings])

    def group(self, key: str) -> ResourceGroup | None:
        """The group with this key (first resource as written), if any."""
        return next((group for group in self.resource_groups if group.key == key), None)


P = TypeVar("P", ConfigError, ConfigWarning, ConfigError | ConfigWarning)


def problem_order(problem: ConfigError | ConfigWarning) -> tuple[int, float]:
    """File order: ha.cf, authkeys, haresources; by line, whole-file ones last."""
    name = Path(problem.path).name
    rank = FILES.index(name) if name in FILES else len(FILES)
    return rank, float("inf") if problem.line is None else problem.line


def sort_problems(problems: Iterable[P]) -> list[P]:
    """``problems`` in file order (a stable sort: same line, same order as found)."""
    return sorted(problems, key=problem_order)


@dataclass(slots=True)
class ConfigReport:
    """Everything one reading of a configuration directory found."""

    ha_d: Path
    node_name: str | None  # None: checked for no node in particular
    hacf: HaCf | None = None
    authkeys: AuthKeys | None = None
    resource_groups: list[ResourceGroup] = field(default_factory=list)
    errors: list[ConfigError] = field(default_factory=list)
    warnings: list[ConfigWarning] = field(default_factory=list)

    def lines(self) -> list[str]:
        """Every problem and warning, in file order: ``file:line: …``."""
        found: list[tuple[ConfigError | ConfigWarning, str]] = [
            *((error, str(error)) for error in self.errors),
            *((warning, _warning_line(warning)) for warning in self.warnings),
        ]
        return [text for _, text in sorted(found, key=lambda item: problem_order(item[0]))]

    def config(self) -> ClusterConfig:
        """The configuration to run; raises the problems if there are any."""
        raise_if_any(sort_problems(self.errors))
        assert self.hacf is not None and self.authkeys is not None and self.node_name
        file_warnings = [w for w in self.warnings if w not in self.hacf.warnings]
        return ClusterConfig(
            self.ha_d,
            self.node_name,
            self.hacf,
            self.authkeys,
            self.resource_groups,
            file_warnings,
        )


def _warning_line(warning: ConfigWarning) -> str:
    where = warning.path if warning.line is None else f"{warning.path}:{warning.line}"
    return f"{where}: warning: {warning.message}"


def read_config(
    ha_d: Path = HA_D, node_name: str | None = None, *, on_a_node: bool = True
) -> ConfigReport:
    """Read ``ha_d``/{ha.cf, authkeys, haresources}, collecting every problem.

    ``on_a_node`` (the default) reads the files as the node that runs them:
    ``node_name`` defaults to lowercase ``uname -n`` and authkeys must be mode
    600. Off (``hbnode check --files-only``): no node is assumed unless named,
    and a readable authkeys is a warning, since its mode belongs to the nodes.
    """
    if node_name is None and on_a_node:
        node_name = default_node_name()
    report = ConfigReport(ha_d, None if node_name is None else node_name.lower())
    _read_hacf(report)
    keys = read_authkeys_file(ha_d / "authkeys", permissions=on_a_node)
    report.authkeys = keys.keys
    report.errors += keys.errors
    report.warnings += keys.warnings
    resources = read_haresources_file(ha_d / "haresources")
    report.resource_groups = resources.groups
    report.errors += resources.errors
    report.warnings += resources.warnings
    if report.hacf is not None:
        report.errors += check_owners(report.hacf, report.resource_groups)
    return report


def _read_hacf(report: ConfigReport) -> None:
    try:
        text = read_hacf_file(report.ha_d / "ha.cf")
    except ConfigError as exc:
        report.errors.append(exc)
        return
    hacf, errors = read_hacf_text(text, str(report.ha_d / "ha.cf"), report.node_name)
    report.hacf = hacf
    report.errors += errors
    report.warnings += hacf.warnings


def check_owners(hacf: HaCf, groups: Iterable[ResourceGroup]) -> list[ConfigError]:
    """config.c parse_ha_resources: every line must start with a node of ha.cf."""
    errors = []
    for group in groups:
        if group.owner in hacf.nodes:
            continue
        message = f"Bad nodename in {group.path} [{group.owner}] (nodes: {', '.join(hacf.nodes)})"
        if group.owner in hacf.ping_node_names:
            message += ": a ping node cannot hold resources"
        errors.append(ConfigError(group.path, group.line, message))
    return errors


def load_config(ha_d: Path = HA_D, node_name: str | None = None) -> ClusterConfig:
    """Read the three files as the node ``node_name`` (default: lowercase ``uname -n``).

    Raises every problem found (ConfigError, or ConfigErrors for several);
    haresources is required, as Heartbeat requires it in haresources mode: an
    empty file means no resources.
    """
    return read_config(ha_d, node_name).config()
