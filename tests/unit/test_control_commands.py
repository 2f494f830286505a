"""Control requests are untrusted: every field is checked, a bad one gets an error reply."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hbnode.control_commands import answer
from tests.harness.stepped_pair import SteppedPair


@pytest.fixture
def pair(tmp_path: Path) -> SteppedPair:
    pair = SteppedPair(tmp_path)
    pair.start("master")
    pair.start("slave")
    pair.step(15.0)
    return pair


def ask(pair: SteppedPair, **request: object) -> dict[str, object]:
    return answer(pair.nodes["master"], request, pair.clock.now, pid=4242)


@pytest.mark.parametrize(
    ("request_", "error"),
    [
        ({"cmd": "reboot"}, "unknown command 'reboot'"),
        ({"cmd": "standby", "what": "ALL"}, "standby: want one of all, local, foreign, failback"),
        (
            {"cmd": "takeover", "what": ["all"]},
            "takeover: want one of all, local, foreign, failback",
        ),
        ({"cmd": "standby", "what": 3}, "standby: want one of all, local, foreign, failback"),
        ({"cmd": "client", "name": "crm", "op": "signon"}, "unknown client 'crm'"),
        ({"cmd": "client", "name": "ipfail", "op": 5}, "unknown client op 5"),
        ({"cmd": "client", "name": "ipfail", "op": "reboot"}, "unknown client op 'reboot'"),
    ],
)
def test_bad_fields_get_an_error_reply(
    pair: SteppedPair, request_: dict[str, object], error: str
) -> None:
    assert ask(pair, **request_) == {"error": error}


def test_status_is_the_snapshot_in_heartbeat_s_words(pair: SteppedPair) -> None:
    reply = json.loads(json.dumps(ask(pair, cmd="status")))
    assert reply["pid"] == 4242 and reply["node"] == "master" and reply["comm_up"] is True
    assert reply["nodes"][1] == {
        "name": "slave",
        "type": "normal",
        "status": "active",
        "links": {"eth1": "up"},
    }
    assert reply["rscstatus"] == "local"


def test_ipfail_client_switches_the_policy_and_is_logged(pair: SteppedPair) -> None:
    assert ask(pair, cmd="client", name="ipfail", op="signon", pid=77) == {"ok": True}
    assert "client ipfail (pid 77) signed on" in pair.log("master")
    assert pair.nodes["master"].rm.ping_policy.enabled
    pair.step(4.0)  # no "alive" for longer than CLIENT_TIMEOUT
    assert "client ipfail stopped answering: ipfail policy off" in pair.log("master")
    assert not pair.nodes["master"].rm.ping_policy.enabled


def test_a_standby_with_no_word_means_all(pair: SteppedPair) -> None:
    assert ask(pair, cmd="standby") == {"ok": True}
    assert "Going standby [all]." in pair.log("master")


def test_a_held_ipfail_client_is_alive_until_its_connection_closes(pair: SteppedPair) -> None:
    reply = ask(pair, cmd="client", name="ipfail", op="signon", pid=77, hold=True)
    assert reply == {"ok": True, "held": True}
    pair.step(30.0)  # no "alive" at all: the open connection is the proof of life
    assert pair.nodes["master"].rm.ping_policy.enabled
    assert "stopped answering" not in pair.log("master")
    pair.nodes["master"].client_gone("ipfail", pair.clock.now)
    assert "client ipfail closed its connection: ipfail policy off" in pair.log("master")
    assert not pair.nodes["master"].rm.ping_policy.enabled


def test_a_connection_closing_is_no_news_for_a_client_that_does_not_hold(
    pair: SteppedPair,
) -> None:
    ask(pair, cmd="client", name="ipfail", op="signon", pid=77)
    pair.nodes["master"].client_gone("ipfail", pair.clock.now)
    assert pair.nodes["master"].rm.ping_policy.enabled
    assert "closed its connection" not in pair.log("master")


def test_only_signon_holds_its_connection(pair: SteppedPair) -> None:
    reply = ask(pair, cmd="client", name="ipfail", op="alive", hold=True)
    assert reply == {"error": "only signon holds its connection, not alive"}
