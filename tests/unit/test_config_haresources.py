"""haresources: ResourceManager's line grammar, IP specs, group keys and script lookup."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hbnode.config import (
    ConfigError,
    IPSpec,
    Resource,
    ResourceGroup,
    check_resource_scripts,
    find_script,
    parse_haresources_text,
    parse_ipspec,
)

REFERENCE_HARESOURCES = "master 192.168.0.38/24/eth0:0 nginx\n"


def test_reference_setup() -> None:
    (group,) = parse_haresources_text(REFERENCE_HARESOURCES)
    vip = Resource(
        "IPaddr",
        ["192.168.0.38/24/eth0:0"],
        "192.168.0.38/24/eth0:0",
        IPSpec("192.168.0.38", 24, "eth0", "0", None),
    )
    assert group == ResourceGroup("master", [vip, Resource("nginx", [], "nginx")], 1)
    assert group.key == "192.168.0.38/24/eth0:0"


def test_continuations_comments_and_whitespace() -> None:
    text = (
        "# the web service\n"
        "\n"
        "MASTER\t10.0.0.1   Filesystem::/dev/sda1::/data1::ext2 \\\n"
        "        httpd   # started last\n"
        "slave IPaddr2::10.0.0.2/24/eth1 mysql\\\n"
        "d\n"
    )
    first, second = parse_haresources_text(text)
    assert (first.owner, first.line, first.key) == ("master", 3, "10.0.0.1")
    assert [r.script for r in first.resources] == ["IPaddr", "Filesystem", "httpd"]
    assert first.resources[1].args == ["/dev/sda1", "/data1", "ext2"]
    assert first.resources[1].raw == "Filesystem::/dev/sda1::/data1::ext2"
    # sed joins a continued line without adding a blank: "mysql\" + "d" is "mysqld".
    assert (second.owner, second.line, second.key) == ("slave", 5, "IPaddr2::10.0.0.2/24/eth1")
    assert second.resources[0].ip == IPSpec("10.0.0.2", 24, "eth1")
    assert second.resources[1].script == "mysqld"


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("10.0.0.1", IPSpec("10.0.0.1")),
        ("10.0.0.1/24", IPSpec("10.0.0.1", 24)),
        ("10.0.0.1/0", IPSpec("10.0.0.1", 0)),
        ("10.0.0.1/32/eth0", IPSpec("10.0.0.1", 32, "eth0")),
        ("10.0.0.1/24/eth0:web", IPSpec("10.0.0.1", 24, "eth0", "web")),
        ("10.0.0.1/24/10.0.0.255", IPSpec("10.0.0.1", 24, broadcast="10.0.0.255")),
        ("10.0.0.1/24/eth0/10.0.0.255", IPSpec("10.0.0.1", 24, "eth0", None, "10.0.0.255")),
    ],
)
def test_ip_specs(text: str, spec: IPSpec) -> None:
    assert parse_ipspec(text) == spec


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("master 10.0.0.256 httpd", "haresources:1: bad IP address '10.0.0.256'"),
        (
            "master 10.0.0.1/33",
            "haresources:1: bad netmask bits '33' in '10.0.0.1/33' (want 0..32)",
        ),
        ("master 10.0.0.1/x", "haresources:1: bad netmask bits 'x' in '10.0.0.1/x' (want 0..32)"),
        (
            "master 10.0.0.1/24/eth0/10.0.0.x",
            "haresources:1: bad broadcast address '10.0.0.x'",
        ),
        ("master 10.0.0.1/24/10.0.0.999", "haresources:1: bad broadcast address '10.0.0.999'"),
        (
            "master 10.0.0.1/24/10.0.0.255/10.0.0.255",
            "haresources:1: bad IP spec '10.0.0.1/24/10.0.0.255/10.0.0.255':"
            " two broadcast addresses",
        ),
        (
            "master 10.0.0.1/24/eth0/10.0.0.255/x",
            "haresources:1: bad IP spec '10.0.0.1/24/eth0/10.0.0.255/x'"
            " (want ip[/bits[/nic[/broadcast]]])",
        ),
        ("master 10.0.0.1/24/eth0:", "haresources:1: empty interface label in '10.0.0.1/24/eth0:'"),
        ("master IPaddr::nowhere", "haresources:1: bad IP address 'nowhere'"),
        ("master IPaddr", "haresources:1: IPaddr wants one argument, ip[/bits[/nic[/broadcast]]]"),
        ("master ::x", "haresources:1: resource '::x' has no script name"),
        ("master foo::", "haresources:1: resource 'foo::' has an empty argument"),
        ("master", "haresources:1: node 'master' has no resources"),
        (
            "master 10.0.0.1 httpd\n# other node\nslave 10.0.0.1 mysql\n",
            "haresources:3: duplicate resource group key '10.0.0.1' (first on line 1)",
        ),
        (
            "\nmaster 10.0.0.1 \\\n  10.0.0.2/40\n",
            "haresources:3: bad netmask bits '40' in '10.0.0.2/40' (want 0..32)",
        ),
    ],
)
def test_broken_files(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_haresources_text(text)
    assert str(caught.value) == message


def make_script(directory: Path, name: str, mode: int = 0o755) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text("#!/bin/sh\necho running\n")
    os.chmod(path, mode)
    return path


def test_scripts_are_looked_up_in_order(tmp_path: Path) -> None:
    resource_d, init_d = tmp_path / "resource.d", tmp_path / "init.d"
    make_script(init_d, "nginx")
    make_script(resource_d, "Filesystem")
    make_script(resource_d, "httpd", mode=0o644)  # not executable: skipped
    make_script(init_d, "httpd")
    dirs = (str(resource_d), str(init_d))
    assert find_script("httpd", dirs) == str(init_d / "httpd")
    text = (
        "master 192.168.0.38/24/eth0:0 nginx httpd\n"
        "slave IPaddr2::10.0.0.2 Filesystem::/dev/sdb1::/data mysqld postfix\n"
    )
    groups = parse_haresources_text(text, "/etc/ha.d/haresources")
    looked = f"looked in {resource_d}, {init_d}"
    assert [str(error) for error in check_resource_scripts(groups, dirs)] == [
        f"/etc/ha.d/haresources:2: unknown resource script 'mysqld' ({looked})",
        f"/etc/ha.d/haresources:2: unknown resource script 'postfix' ({looked})",
    ]
