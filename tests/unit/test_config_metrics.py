"""ha.cf ``hbnode_metrics ADDRESS:PORT``: read with file:line errors, checked on the machine."""

from __future__ import annotations

import importlib.util
import socket

import pytest

from hbnode.config import parse_hacf_text
from hbnode.config.errors import ConfigError
from hbnode.config.system import check_metrics

BASE = "node master\nnode slave\nbcast eth0\n"
WANT = "want ADDRESS:PORT, an IPv4 address and a port (e.g. 0.0.0.0:9694)"


@pytest.mark.parametrize(
    ("value", "listen"),
    [("0.0.0.0:9694", ("0.0.0.0", 9694)), ("192.168.0.18:1", ("192.168.0.18", 1))],
)
def test_an_address_and_a_port(value: str, listen: tuple[str, int]) -> None:
    assert parse_hacf_text(f"{BASE}hbnode_metrics {value}\n", "ha.cf", "master").metrics == listen


def test_absent_means_no_endpoint() -> None:
    assert parse_hacf_text(BASE, "ha.cf", "master").metrics is None


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("hbnode_metrics 9694", f"ha.cf:4: hbnode_metrics: {WANT}, not '9694'"),
        ("hbnode_metrics node1:9694", f"ha.cf:4: hbnode_metrics: {WANT}, not 'node1:9694'"),
        ("hbnode_metrics 1.2.3.4:0", f"ha.cf:4: hbnode_metrics: {WANT}, not '1.2.3.4:0'"),
        ("hbnode_metrics 1.2.3.4:65536", f"ha.cf:4: hbnode_metrics: {WANT}, not '1.2.3.4:65536'"),
        ("hbnode_metrics [::1]:9694", f"ha.cf:4: hbnode_metrics: {WANT}, not '[::1]:9694'"),
        (
            "hbnode_metrics 0.0.0.0:9694\nhbnode_metrics 0.0.0.0:9695",
            "ha.cf:5: hbnode_metrics: specified more than once",
        ),
    ],
)
def test_a_bad_line_is_refused_with_its_line(text: str, error: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_hacf_text(f"{BASE}{text}\n", "ha.cf", "master")
    assert error in str(caught.value)


def test_a_local_address_passes_the_machine_check() -> None:
    hacf = parse_hacf_text(f"{BASE}hbnode_metrics 127.0.0.1:9694\n", "ha.cf", "master")
    expected = [] if importlib.util.find_spec("prometheus_client") else ["prometheus_client"]
    assert [e.message.split(" needs ")[-1].split(" ")[0] for e in check_metrics(hacf)] == expected


def test_an_address_of_another_machine_is_an_error_with_its_line() -> None:
    pytest.importorskip("prometheus_client")
    hacf = parse_hacf_text(f"{BASE}hbnode_metrics 192.0.2.77:9694\n", "/etc/ha.d/ha.cf", "master")
    with socket.socket() as probe:  # TEST-NET-1 is nobody's: only run if it is not ours
        try:
            probe.bind(("192.0.2.77", 0))
            pytest.skip("192.0.2.77 is an address of this machine")
        except OSError:
            pass
    (error,) = check_metrics(hacf)
    assert str(error).startswith("/etc/ha.d/ha.cf:4: hbnode_metrics: cannot listen on 192.0.2.77")
