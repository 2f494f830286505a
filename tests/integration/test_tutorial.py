"""The CentOS 6 tutorial, typed verbatim on blank nodes (``hblab up --blank``).

A terminal per node (``hblab shell``, under a pty) gets every step of
docs/lessons/00-the-tutorial.md as a student types it: the name, the firewall,
SELinux, /etc/hosts, yum, the sample files, their edits (sed, and vim keystrokes),
scp to slave, the ucast line on slave, `service heartbeat start` on both. Then
what the tutorial checks (ifconfig shows eth0:0, nginx runs on master), and that
the VIP goes to slave when master is powered off and comes back when master,
booted again under the name it was given, starts heartbeat.

One change to the tutorial's files: its timers (keepalive 2, deadtime 30,
initdead 120 in the sample, 60 in the tutorial) would make each run minutes
long, so the sed lines type keepalive 1, deadtime 5, warntime 3, initdead 10.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lab.impls import parse_impl_list
from lab.topology import REFERENCE

from .conftest import DEFAULT_IMPLS, backend_name
from .helpers import Cluster, wait_until
from .terminal import Terminal

pytestmark = pytest.mark.tutorial

DEADTIME = 5.0
INITDEAD = 10.0
TAKEOVER_MARGIN = 10.0
# Heartbeat's resource negotiation waits up to 10 s after initdead on a start-up.
STARTUP_TIMEOUT = INITDEAD + DEADTIME + 30.0
VIP_LINE = "master 192.168.0.38/24/eth0:0 nginx"
HA_CF_EDITS = (
    # Logging, as the tutorial's ha.cf has it (logfacility local0 is set in the sample).
    "sed -i -e 's|^#debugfile|debugfile|' -e 's|^#logfile|logfile|' ha.cf",
    # The tutorial's timers are 2/30/10/60: shorter here, so a run takes a minute.
    "sed -i -e 's|^#keepalive 2|keepalive 1|' -e 's|^#deadtime 30|deadtime 5|'"
    " -e 's|^#warntime 10|warntime 3|' -e 's|^#initdead 120|initdead 10|' ha.cf",
    "sed -i -e 's|^#udpport|udpport|'"
    " -e 's|^#ucast eth0 192.168.1.2|ucast eth1 172.16.254.28|' ha.cf",
    "sed -i -e 's|^#node\\tken3|node master|' -e 's|^#node\\tkathy|node slave|' ha.cf",
    "sed -i -e 's|^#ping 10.10.10.254|ping 172.16.254.1|'"
    " -e 's|^#respawn hacluster /usr/lib/heartbeat/ipfail"
    "|respawn hacluster /usr/lib64/heartbeat/ipfail|' ha.cf",
)
ESC = "\x1b"
TRANSCRIPTS = Path(__file__).resolve().parents[2] / "build" / "tutorial"
CTRL_U = "\x15"


def _tutorial_specs() -> list[str]:
    """hbnode and the real Heartbeat (the uniform clusters of HBLAB_IMPLS)."""
    nodes = [h.name for h in REFERENCE.cluster_nodes]
    specs = parse_impl_list(os.environ.get("HBLAB_IMPLS", DEFAULT_IMPLS), nodes)
    return [s for s in specs if "=" not in s] or specs[:1]


@pytest.fixture
def terminals(request: pytest.FixtureRequest) -> Iterator[dict[str, Terminal]]:
    """Terminals opened by the test, closed whatever happens; shown on a failure and
    kept in build/tutorial/ (what each command showed, for the lesson)."""
    opened: dict[str, Terminal] = {}
    yield opened
    failed = getattr(request.node, "rep_call", None)
    TRANSCRIPTS.mkdir(parents=True, exist_ok=True)
    for name, term in opened.items():
        if failed is not None and failed.failed:
            print(f"\n----- the terminal on {name} -----\n{term.shown()[-6000:]}")
        slug = f"{backend_name()}-{request.node.callspec.id}-{name}".replace(" ", "-")
        (TRANSCRIPTS / f"{slug}.txt").write_text(term.shown())
        term.close()


def open_terminal(terminals: dict[str, Terminal], node: str, key: str | None = None) -> Terminal:
    term = Terminal(node, backend_name())
    terminals[key or node] = term
    return term


def step1_hostname(term: Terminal, name: str) -> None:
    """The name, now (hostname) and at every boot (HOSTNAME= in /etc/sysconfig/network)."""
    assert term.host == "localhost", "a blank node starts as CentOS installs it"
    term.run(f"hostname {name}")
    assert term.run("hostname") == name
    if name == "master":
        term.vim("/etc/sysconfig/network", f":%s/^HOSTNAME=.*/HOSTNAME={name}/\r:wq\r")
    else:
        term.run(f"sed -i 's/^HOSTNAME=.*/HOSTNAME={name}/' /etc/sysconfig/network")
    assert f"HOSTNAME={name}" in term.run("cat /etc/sysconfig/network")


def step2_firewall(term: Terminal) -> None:
    """CentOS's firewall rejects heartbeat's UDP 694: flush it, save that, stop it."""
    assert "REJECT" in term.run("iptables -L -n")
    term.run("iptables -F")
    assert "[  OK  ]" in term.run("service iptables save")
    assert "[  OK  ]" in term.run("service iptables stop")
    assert "REJECT" not in term.run("iptables -L -n")


def step3_selinux(term: Terminal) -> None:
    assert "setenforce: SELinux is disabled" in term.run("setenforce 0")
    term.run("sed -i 's/^SELINUX=enforcing/SELINUX=disabled/' /etc/selinux/config")
    assert "SELINUX=disabled" in term.run("grep ^SELINUX= /etc/selinux/config")


def step4_hosts(term: Terminal) -> None:
    entries = ("192.168.0.18 master", "192.168.0.28 slave")
    if term.host == "master":
        term.vim("/etc/hosts", f"Go{entries[0]}\r{entries[1]}{ESC}:wq\r")
    else:
        for entry in entries:
            term.run(f"echo '{entry}' >> /etc/hosts")
    hosts = term.run("cat /etc/hosts")
    assert all(entry in hosts for entry in entries)


def step5_yum(term: Terminal) -> None:
    shown = term.run("yum install -y heartbeat nginx")
    assert "Package heartbeat is already installed" in shown
    assert "Package nginx is already installed" in shown
    assert "Nothing to do" in shown


def steps6to8_configure_master(term: Terminal) -> None:
    """Copy the samples, edit them, copy them to slave."""
    term.run("cd /usr/share/doc/heartbeat-3.0.4/")
    term.run("cp authkeys ha.cf haresources /etc/ha.d/")
    term.run("cd /etc/ha.d/")
    term.run("sed -i -e 's/^#auth 1/auth 3/' -e 's/^#3 md5 Hello!/3 md5 Hello!/' authkeys")
    for line in HA_CF_EDITS:
        term.run(line)
    # vim continues the comment above the new line; Ctrl-U takes the "# " back out.
    term.vim("haresources", f"Go{CTRL_U}{VIP_LINE}{ESC}:wq\r")
    term.run("chmod 600 authkeys")
    active = term.run("grep -v '^#' ha.cf | grep -v '^$'").split("\n")
    assert "ucast eth1 172.16.254.28" in active and "node slave" in active, active
    assert term.run("tail -1 haresources") == VIP_LINE
    assert term.run("ls -l authkeys").startswith("-rw-------")
    shown = term.run("scp authkeys ha.cf haresources slave:/etc/ha.d")
    assert shown.count("100%") == 3, shown


def step9_slave_ucast(term: Terminal) -> None:
    term.vim(
        "/etc/ha.d/ha.cf",
        ":%s/^ucast eth1 172.16.254.28/ucast eth1 172.16.254.18/\r:wq\r",
    )
    assert "ucast eth1 172.16.254.18" in term.run("grep ^ucast /etc/ha.d/ha.cf")


def check_holder(term: Terminal, name: str) -> None:
    """What the tutorial looks at: eth0:0 with the VIP, and nginx running."""
    ifconfig = term.run("ifconfig")
    assert "eth0:0" in ifconfig and "192.168.0.38" in ifconfig, ifconfig
    assert "nginx: master process" in term.run("ps aux | grep nginx")
    assert term.host == name


@pytest.mark.parametrize("impl", _tutorial_specs())
def test_tutorial_verbatim(
    lab_factory: Callable[..., Cluster],
    terminals: dict[str, Terminal],
    impl: str,
    measure: Callable[..., None],
) -> None:
    started = time.monotonic()
    cluster = lab_factory(impl, blank=True)
    for name in ("master", "slave"):
        step1_hostname(open_terminal(terminals, name, f"{name} before step 1"), name)
    # Logged in again: bash reads the name once, so only a new shell's prompt shows it.
    master = open_terminal(terminals, "master")
    slave = open_terminal(terminals, "slave")
    for term, name in ((master, "master"), (slave, "slave")):
        assert term.host == name
        step2_firewall(term)
        step3_selinux(term)
        step4_hosts(term)
        step5_yum(term)
    steps6to8_configure_master(master)
    step9_slave_ucast(slave)

    master.run("service heartbeat start", timeout=60)
    slave.run("service heartbeat start", timeout=60)
    for node in ("master", "slave"):
        wait_until(
            lambda n=node: cluster.lab.daemon_pid(n) is not None, 10.0, f"heartbeat on {node}"
        )
    typed = time.monotonic() - started
    took = cluster.wait_holder("master", STARTUP_TIMEOUT)
    cluster.wait_page("master", 10.0)
    check_holder(master, "master")
    assert "eth0:0" not in slave.run("ifconfig")

    cluster.lab.poweroff("master")
    took_over = cluster.wait_holder("slave", DEADTIME + TAKEOVER_MARGIN)
    cluster.wait_page("slave", 10.0)
    check_holder(slave, "slave")

    # Booted again, master has the name it was given, and no firewall in the way.
    cluster.lab.poweron("master")
    again = open_terminal(terminals, "master", "master after poweron")
    assert again.host == "master" and again.run("hostname") == "master"
    assert "REJECT" not in again.run("iptables -L -n")
    again.run("service heartbeat start", timeout=60)
    wait_until(
        cluster.held_by("master"), STARTUP_TIMEOUT, "master takes the VIP back (auto_failback on)"
    )
    cluster.wait_page("master", 10.0)
    measure("tutorial_typed_s", typed, impl=impl)
    measure("tutorial_startup_vip_s", took, impl=impl)
    measure("tutorial_takeover_s", took_over, impl=impl)
    measure("tutorial_total_s", time.monotonic() - started, impl=impl)
