"""Load a whole /etc/ha.d: ha.cf, authkeys and haresources, in Heartbeat's order.

Heartbeat reads ha.cf, then authkeys, then (in haresources mode, which is
hbnode's only mode) haresources; the first problem stops the start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hbnode.auth import AuthKeys
from hbnode.config.authkeys import load_authkeys
from hbnode.config.errors import ConfigError, ConfigWarning
from hbnode.config.hacf import HaCf
from hbnode.config.hacf_parse import default_node_name, load_hacf
from hbnode.config.haresources import ResourceGroup, load_haresources

HA_D = Path("/etc/ha.d")


@dataclass(slots=True)
class ClusterConfig:
    """This node's view of the cluster configuration."""

    ha_d: Path
    node_name: str  # lowercase; one of hacf.nodes
    hacf: HaCf
    authkeys: AuthKeys
    resource_groups: list[ResourceGroup] = field(default_factory=list)

    @property
    def warnings(self) -> list[ConfigWarning]:
        """Start-up warnings to log (``file:line: text``)."""
        return list(self.hacf.warnings)

    def group(self, key: str) -> ResourceGroup | None:
        """The group with this key (first resource as written), if any."""
        return next((group for group in self.resource_groups if group.key == key), None)


def load_config(ha_d: Path = HA_D, node_name: str | None = None) -> ClusterConfig:
    """Read ``ha_d``/{ha.cf, authkeys, haresources}; raise ConfigError at the first problem.

    ``node_name`` defaults to lowercase ``uname -n``. haresources is required, as
    Heartbeat requires it in haresources mode: an empty file means no resources.
    """
    node = (default_node_name() if node_name is None else node_name).lower()
    hacf = load_hacf(ha_d / "ha.cf", node)
    authkeys = load_authkeys(ha_d / "authkeys")
    groups = load_haresources(ha_d / "haresources")
    for group in groups:
        if group.owner not in hacf.nodes:
            # config.c parse_ha_resources: every line must start with a known node.
            message = (
                f"Bad nodename [{group.owner}]: not a 'node' in {hacf.path}"
                f" (nodes: {', '.join(hacf.nodes)})"
            )
            raise ConfigError(group.path, group.line, message)
    return ClusterConfig(ha_d, node, hacf, authkeys, groups)
