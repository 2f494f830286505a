"""Reading /etc/ha.d as Heartbeat 3.0.6 does: ha.cf, authkeys and haresources.

Every parse error is a :class:`ConfigError` whose text is ``file:line: what``;
warnings (things Heartbeat logs but accepts) are collected on the result.
"""

from hbnode.config.authkeys import load_authkeys, parse_authkeys_text
from hbnode.config.errors import ConfigError, ConfigWarning
from hbnode.config.hacf import (
    ApiAuth,
    AutoFailback,
    AutoJoin,
    BcastMedium,
    GenMethod,
    HaCf,
    McastMedium,
    Medium,
    MsgFormat,
    PingGroup,
    RespawnEntry,
    UcastMedium,
    UuidFrom,
    check_respawn_programs,
    effective_media,
    resolve_ipv4,
)
from hbnode.config.hacf_parse import default_node_name, load_hacf, parse_hacf_text
from hbnode.config.haresources import (
    BUILTIN_SCRIPTS,
    Resource,
    ResourceGroup,
    check_resource_scripts,
    find_script,
    load_haresources,
    parse_haresources_text,
    parse_resource,
)
from hbnode.config.ipspec import IPSpec, parse_ipspec
from hbnode.config.load import ClusterConfig, load_config
from hbnode.config.values import ValueSyntaxError, parse_bool, parse_msec

__all__ = [
    "BUILTIN_SCRIPTS",
    "ApiAuth",
    "AutoFailback",
    "AutoJoin",
    "BcastMedium",
    "ClusterConfig",
    "ConfigError",
    "ConfigWarning",
    "GenMethod",
    "HaCf",
    "IPSpec",
    "McastMedium",
    "Medium",
    "MsgFormat",
    "PingGroup",
    "Resource",
    "ResourceGroup",
    "RespawnEntry",
    "UcastMedium",
    "UuidFrom",
    "ValueSyntaxError",
    "check_resource_scripts",
    "check_respawn_programs",
    "default_node_name",
    "effective_media",
    "find_script",
    "load_authkeys",
    "load_config",
    "load_hacf",
    "load_haresources",
    "parse_authkeys_text",
    "parse_bool",
    "parse_hacf_text",
    "parse_haresources_text",
    "parse_ipspec",
    "parse_msec",
    "parse_resource",
    "resolve_ipv4",
]
