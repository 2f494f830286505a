"""The resource manager's messages against two real Heartbeat 3.0.6 nodes.

Golden field order and values come from ``tests/fixtures/hb306-md5-Hello.pcap``:
each caller-built message must equal the captured one once the §3.1 control
fields the core appends (src, srcuuid, seq, hg, ts, ld, ttl, auth) are taken
away. ipfail's messages carry ``src`` in their own place, so theirs stays.
"""

from __future__ import annotations

import functools

import pytest

from hbnode.message import Field, Message
from hbnode.rm import Hold
from hbnode.rm import messages as m
from hbnode.rm.messages import Ask, T
from hbnode.wire import decode_untrusted
from tests.harness.rm_sim import RmClusterSim
from tests.pcap_util import capture_path, udp_datagrams

CONTROL = {"srcuuid", "seq", "hg", "ts", "ld", "ttl", "auth", "destuuid"}
IPFAIL_TYPES = {"num_ping_nodes", "abort_giveup", "you_are_dead"}
KEY = "192.168.0.38/24/eth0:0"  # the capture's haresources: master 192.168.0.38/24/eth0:0


@functools.cache
def captured() -> tuple[Message, ...]:
    path = capture_path()
    if not path.is_file():
        pytest.fail(f"golden capture {path} is missing (see tests/pcap_util.py)")
    return tuple(decode_untrusted(d.payload).message for d in udp_datagrams(path))


def caller_fields(msg: Message) -> list[tuple[str, object]]:
    """What the sender's resource layer put in: the control fields taken away."""
    # ipfail and the API put src among their own fields; elsewhere the core appends it.
    keep_src = msg.get("t") in IPFAIL_TYPES or msg.get("from_id") == "ipfail"
    # hbnode's heal field is not Heartbeat's (it ignores it): test_reports_say_we_heal_in_place.
    return [
        (f.name, f.value)
        for f in msg
        if f.name not in CONTROL and f.name != m.HEAL_FIELD and (keep_src or f.name != "src")
    ]


def golden(**wanted: str) -> list[list[tuple[str, object]]]:
    """Every captured message whose fields include ``wanted``, as caller fields."""
    found = []
    for msg in captured():
        if all(msg.get(name) == value for name, value in wanted.items()):
            found.append(caller_fields(msg))
    assert found, f"no captured message with {wanted}"
    return found


CASES = [
    (m.starting(), {"t": "starting"}),
    (m.resource_report(Hold.NONE, False), {"t": "resource", "rsc_hold": "none", "isstable": "0"}),
    (m.resource_report(Hold.LOCAL, True), {"t": "resource", "rsc_hold": "local", "isstable": "1"}),
    (
        m.resource_report(Hold.ALL, True, m.INFO_REQ_OUR),
        {"t": "resource", "rsc_hold": "all", "info": "req_our_resources()"},
    ),
    (m.resource_report(Hold.LOCAL, False, m.INFO_STANDBY), {"t": "resource", "info": "standby"}),
    (m.resource_report(Hold.NONE, False, m.INFO_SHUTDOWN), {"t": "resource", "info": "shutdown"}),
    (m.mach_down_report(), {"t": "resource", "info": "mach_down"}),
    (m.ask_resources(Hold.FOREIGN, Ask.ME), {"t": "ask_resources", "info": "me"}),
    (m.ask_resources(Hold.FOREIGN, Ask.OTHER), {"t": "ask_resources", "info": "other"}),
    (m.ask_resources(Hold.FOREIGN, Ask.DONE), {"t": "ask_resources", "info": "done"}),
    (m.ipfail_ask_resources("master", Hold.FOREIGN), {"t": "ask_resources", "from_id": "ipfail"}),
    (m.shutdone(), {"t": "shutdone"}),
    (m.stonith("master", "n_stnth"), {"t": "stonith", "result": "n_stnth"}),
    (m.ip_request_resp("master", KEY, True), {"t": "ip-request-resp"}),
    (m.clstat("master", True), {"t": "hbapi-clstat", "st": "join", "src": "master"}),
    (m.clstat("slave", False), {"t": "hbapi-clstat", "st": "leave", "src": "slave"}),
    (m.num_ping_nodes("master", "slave", 1), {"t": "num_ping_nodes", "src": "master"}),
    (m.ipfail_verdict(T.ABORT_GIVEUP, "slave", "master"), {"t": "abort_giveup", "src": "slave"}),
]


@pytest.mark.parametrize(
    ("built", "wanted"), CASES, ids=[c[1]["t"] + str(i) for i, c in enumerate(CASES)]
)
def test_builder_matches_the_capture(built: Message, wanted: dict[str, str]) -> None:
    assert [(f.name, f.value) for f in built if f.name != m.HEAL_FIELD] in golden(**wanted)


def test_every_field_is_a_plain_string() -> None:
    for built, _ in CASES:
        for f in built:
            assert isinstance(f, Field) and type(f.value) is str, (built, f)


def test_a_standby_exchange_sends_what_the_capture_shows() -> None:
    """Auto failback as at t=44 s of the capture: the holder gives back foreign."""
    c = RmClusterSim(haresources=f"master {KEY}\n")
    c.boot("master", "slave")
    c.run(12)
    c.crash("master")
    c.run(12)
    c.boot("master")
    c.run(5)
    exchange = [
        caller_fields(msg)
        for msg in c.messages()
        if msg.get("t") in ("ask_resources", "shutdone", "starting")
        or msg.get("info") in ("standby", "mach_down")
    ]
    captured_exchange = [caller_fields(msg) for msg in captured()]
    for fields in exchange:
        assert fields in captured_exchange, fields
    assert c.where() == {"master": {KEY}, "slave": set()}


def test_shutdown_sends_what_the_capture_shows() -> None:
    c = RmClusterSim(haresources=f"master {KEY}\n")
    c.boot("master", "slave")
    c.run(12)
    c.stop("master")
    c.run(1)
    sent = [caller_fields(msg) for msg in c.messages("master")][-2:]
    assert sent == [golden(t="resource", info="shutdown")[0], golden(t="shutdone")[0]]


def test_reports_say_we_heal_in_place() -> None:
    """Every full report carries hbnode's heal field, last, after Heartbeat's own."""
    for report in (
        m.resource_report(Hold.NONE, False, starting=True),
        m.resource_report(Hold.ALL, True),
        m.resource_report(Hold.NONE, False, m.INFO_SHUTDOWN),
    ):
        assert list(report)[-1].name == m.HEAL_FIELD
        assert report.get(m.HEAL_FIELD) == m.HEAL_IN_PLACE
