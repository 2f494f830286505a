"""A bad peer never crashes the core: arbitrary authenticated messages, any order."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hbnode.core import events as ev
from hbnode.message import Field, FieldType, Message
from tests.harness.core_sim import CoreClusterSim, uuid_of

NAMES = [
    "t",
    "src",
    "srcuuid",
    "seq",
    "hg",
    "ts",
    "dest",
    "destuuid",
    "st",
    "dt",
    "protocol",
    "firstseq",
    "lastseq",
    "ackseq",
    "info",
    "nodelist",
]
WORDS = [
    "status",
    "NS_rexmit",
    "NS_ackmsg",
    "NS_nak_rexmit",
    "reqnodes",
    "repnodes",
    "resource",
    "slave",
    "master",
    "intruder",
    "active",
    "up",
    "init",
    "dead",
    "0",
    "1",
    "ffffffffffffffff",
    "6b0638c4",
    "6b0638c3",
    "-1",
    "1e3",
    "99999999999999999999",
]
VALUES = st.one_of(st.sampled_from(WORDS), st.text(min_size=1, max_size=12))
FIELDS = st.one_of(
    st.tuples(st.sampled_from(NAMES), VALUES).map(lambda p: Field(p[0], FieldType.STRING, p[1])),
    st.sampled_from(["srcuuid", "destuuid"]).flatmap(
        lambda name: st.sampled_from([uuid_of("slave"), uuid_of("master"), b"", b"x" * 40]).map(
            lambda value: Field(name, FieldType.BINARY, value)
        )
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(FIELDS, max_size=12), max_size=8), st.floats(0.0, 5.0))
def test_garbage_never_raises(messages: list[list[Field]], when: float) -> None:
    cluster = CoreClusterSim()
    cluster.start_all()
    cluster.run_until(0.5)
    master = cluster.cores["master"]
    for fields in messages:
        master.receive(Message(fields), "eth1", 0.5 + when)
        master.handle_timer(0.5 + when)
    cluster.flush("master")
    for event in cluster.events["master"]:
        if isinstance(event, ev.Dropped):
            assert isinstance(event.reason, ev.DropReason)
    assert master.node_status("master") == "active"
