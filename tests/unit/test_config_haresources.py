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
)
from hbnode.config.haresources import read_haresources_text

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
        "        httpd\n"
        "slave IPaddr2::10.0.0.2/24/eth1 mysql\\\n"
        "d\n"
    )
    reading = read_haresources_text(text)
    assert reading.errors == [] and reading.warnings == []
    first, second = reading.groups
    assert (first.owner, first.line, first.key) == ("master", 3, "10.0.0.1")
    assert [r.script for r in first.resources] == ["IPaddr", "Filesystem", "httpd"]
    assert first.resources[1].args == ["/dev/sda1", "/data1", "ext2"]
    assert first.resources[1].raw == "Filesystem::/dev/sda1::/data1::ext2"
    # sed joins a continued line without adding a blank: "mysql\" + "d" is "mysqld".
    assert (second.owner, second.line, second.key) == ("slave", 5, "IPaddr2::10.0.0.2/24/eth1")
    assert second.resources[0].ip == IPSpec("10.0.0.2", 24, "eth1")
    assert second.resources[1].script == "mysqld"


RM = "ResourceManager"


@pytest.mark.parametrize(
    ("path", "text", "resources", "warnings"),
    [
        (f"{RM} canonname: isip → IPaddr::", "master 10.0.0.1 httpd",
         [("IPaddr", ["10.0.0.1"]), ("httpd", [])], []),
        (f"{RM} resource2script/resource2arg", "master IPaddr::10.0.0.1/24/eth0 httpd::a::b",
         [("IPaddr", ["10.0.0.1/24/eth0"]), ("httpd", ["a", "b"])], []),
        (f"{RM} resource2arg: 's%::% %g' then word splitting drops empty arguments",
         "master httpd:: fs::/dev/sda1::::/data",
         [("httpd", []), ("fs", ["/dev/sda1", "/data"])],
         ["haresources:1: empty arguments in 'httpd::'",
          "haresources:1: empty arguments in 'fs::/dev/sda1::::/data'"]),
        (f"{RM} ipres: s%#.*%% on the first line", "master 10.0.0.1#web\n",
         [("IPaddr", ["10.0.0.1"])], []),
        (f"{RM} ipres: a comment on a continued line is kept by sed (hbnode drops it)",
         "master 10.0.0.1 \\\n  httpd # web",
         [("IPaddr", ["10.0.0.1"]), ("httpd", [])],
         ["haresources:2: comment on a continued line: ResourceManager reads '# web'"]),
        (f"{RM} ipres: sed joins on the raw line, '\\' inside its comment too",
         "master 10.0.0.1 \\\n  httpd # web \\\n  smb",
         [("IPaddr", ["10.0.0.1"]), ("httpd", []), ("smb", [])],
         ["haresources:2: comment on a continued line"]),
        (f"{RM} ipres: a '\\' inside the first line's comment does not continue",
         "master 10.0.0.1 # web \\\nslave 10.0.0.2",
         [("IPaddr", ["10.0.0.1"])], []),
        ("config.c parse_ha_resources + listkeys: a node alone does nothing",
         "master 10.0.0.1\nslave",
         [("IPaddr", ["10.0.0.1"])], ["haresources:2: node 'slave' has no resources"]),
        (f"{RM} + IPaddr wrapper: what follows the broadcast is dropped",
         "master 10.0.0.1/24/eth0/10.0.0.255/x",
         [("IPaddr", ["10.0.0.1/24/eth0/10.0.0.255/x"])],
         ["haresources:1: IPaddr ignores 'x'"]),
        (f"{RM}: a last line ending in '\\'", "master 10.0.0.1 \\",
         [("IPaddr", ["10.0.0.1"])], ["haresources:1: the file ends with '\\'"]),
        (f"{RM}: CRLF (hbnode ignores the CR)", "master 10.0.0.1 httpd\r\n",
         [("IPaddr", ["10.0.0.1"]), ("httpd", [])], ["haresources: Windows line endings"]),
    ],
)  # fmt: skip
def test_accepted(
    path: str, text: str, resources: list[tuple[str, list[str]]], warnings: list[str]
) -> None:
    reading = read_haresources_text(text)
    assert reading.errors == [], path
    assert [(r.script, r.args) for r in reading.groups[0].resources] == resources, path
    found = [str(warning) for warning in reading.warnings]
    assert len(found) == len(warnings), (path, found)
    for text_found, start in zip(found, warnings, strict=True):
        assert text_found.startswith(start), (path, text_found)


_NETMASK = "Invalid netmask specification"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("master 10.0.0.256 httpd", "haresources:1: IP address [10.0.0.256] not valid."),
        ("master 10.0.0.1/33", f"haresources:1: {_NETMASK} [33]"),
        ("master 10.0.0.1/x", f"haresources:1: {_NETMASK} [x]"),
        ("master 10.0.0.1//eth0", f"haresources:1: {_NETMASK} [eth0] (the wrapper skips the"
         " empty field: write 10.0.0.1/bits/eth0)"),
        ("master 10.0.0.1/24/eth0/10.0.0.x",
         "haresources:1: Invalid broadcast address [10.0.0.x]."),
        ("master IPaddr::nowhere", "haresources:1: IP address [nowhere] not valid."),
        ("master IPaddr2::ip=10.0.0.1", "haresources:1: IP address [ip=10.0.0.1] not valid."),
        ("master IPaddr", "haresources:1: usage: IPaddr ip[/bits[/nic[:label][/broadcast]]]"
         " (one argument; 'IPaddr' has 0)"),
        ("master IPaddr::10.0.0.1::x", "haresources:1: usage: IPaddr"
         " ip[/bits[/nic[:label][/broadcast]]] (one argument; 'IPaddr::10.0.0.1::x' has 2)"),
        ("master ::x", "haresources:1: resource '::x' has no script name"),
        (
            "master 10.0.0.1 httpd\n# other node\nslave 10.0.0.1 mysql\n",
            "haresources:3: duplicate resource group key '10.0.0.1' (first on line 1)",
        ),
        ("\nmaster 10.0.0.1 \\\n  10.0.0.2/40\n", f"haresources:3: {_NETMASK} [40]"),
    ],
)  # fmt: skip
def test_refused(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_haresources_text(text)
    assert str(caught.value) == message


def test_every_problem_in_file_order() -> None:
    text = "master 10.0.0.1/33 httpd 10.0.0.300\nslave IPaddr\n"
    reading = read_haresources_text(text)
    assert [str(error) for error in reading.errors] == [
        f"haresources:1: {_NETMASK} [33]",
        "haresources:1: IP address [10.0.0.300] not valid.",
        "haresources:2: usage: IPaddr ip[/bits[/nic[:label][/broadcast]]]"
        " (one argument; 'IPaddr' has 0)",
    ]
    # The group with a refused resource is kept, so its scripts are still checked.
    assert [r.script for r in reading.groups[0].resources] == ["httpd"]


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
        f"/etc/ha.d/haresources:2: Cannot locate resource script mysqld ({looked})",
        f"/etc/ha.d/haresources:2: Cannot locate resource script postfix ({looked})",
    ]
