"""The dissector against the fuzz corpus (lab/fuzz): no Lua error, no crash, honest marks.

The corpus is the one ``hblab fuzz`` sends at a node: random bytes, mutated real
packets, valid framing with wrong types, huge and empty fields, bad signatures.
tshark reads it from a pcap with and without keys, once with the full tree
(``-V``) and once for fields; it must exit cleanly, print no Lua error, never
show the dissector's own bug item, and mark as malformed exactly the datagrams
the scapy layer (hbnode.wire) cannot decode, with the same signature verdicts.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from hbnode.config.authkeys import parse_authkeys_text
from lab.fuzz import templates
from lab.fuzz.corpus import Category, Corpus
from tests.pcap_util import capture_path
from tests.tshark_util import assert_no_lua_error, ek_packets, one, run_tshark
from tests.unit.test_wireshark_agreement import disagreements, expected, write_pcap

CORPUS_SIZE = 5000
SEED = 16
KEYS_TEXT = "auth 3\n3 md5 Hello!\n"  # the golden capture's key: mutants of it stay close


@functools.cache
def corpus() -> tuple[tuple[Category, bytes], ...]:
    keys = parse_authkeys_text(KEYS_TEXT)
    fixture = templates.fixture_payloads(capture_path())
    material = templates.build(keys, ["master", "slave"], [], fixture, seed=SEED, size=300)
    return tuple(Corpus(material, SEED).take(CORPUS_SIZE))


@pytest.fixture(scope="module")
def fuzz_pcap(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fuzz") / "fuzz.pcap"
    write_pcap(path, [data for _, data in corpus()])
    return path


def test_corpus_covers_every_category_and_malformed_data() -> None:
    categories = {category for category, _ in corpus()}
    assert categories >= {
        Category.RANDOM,
        Category.MUTATED,
        Category.WRONG_TYPES,
        Category.HUGE_EMPTY,
        Category.BAD_SIGNATURE,
    }
    malformed = sum(expected(data, None).malformed for _, data in corpus())
    assert CORPUS_SIZE // 4 < malformed < CORPUS_SIZE


@pytest.mark.parametrize("with_keys", [True, False])
def test_full_tree_never_raises_a_lua_error(
    fuzz_pcap: Path, with_keys: bool, tmp_path: Path
) -> None:
    args = ["-r", str(fuzz_pcap), "-V"]
    if with_keys:
        keys = tmp_path / "authkeys"
        keys.write_text(KEYS_TEXT)
        args += ["-o", f"heartbeat.authkeys:{keys}"]
    done = run_tshark(args, tmp_path / "home")
    assert_no_lua_error(done)
    assert "Dissector bug" not in done.stdout
    # UDP hands no empty payload to a dissector: every other datagram gets one tree.
    roots = [line for line in done.stdout.splitlines() if line.startswith("Linux-HA Heartbeat")]
    assert len(roots) == sum(1 for _, data in corpus() if data)


def test_marks_agree_with_the_scapy_layer(fuzz_pcap: Path, tmp_path: Path) -> None:
    keys = tmp_path / "authkeys"
    keys.write_text(KEYS_TEXT)
    fields = [
        "heartbeat.encoding",
        "heartbeat.malformed",
        "heartbeat.malformed.reason",
        "heartbeat.auth_ok",
        "heartbeat.auth_error",
        "heartbeat.bug",
    ]
    packets = ek_packets(fuzz_pcap, fields, tmp_path / "home", keys)
    assert len(packets) == CORPUS_SIZE
    reference = parse_authkeys_text(KEYS_TEXT)
    problems = []
    marked = 0
    for number, (layers, (category, data)) in enumerate(zip(packets, corpus(), strict=True), 1):
        if not data:
            continue
        exp = expected(data, reference)
        # The verdicts only: what a damaged message holds is compared nowhere.
        for problem in disagreements(layers, exp) if exp.malformed else _verdicts(layers, exp):
            problems.append(f"frame {number} ({category}): {problem}")
        marked += one(layers, "heartbeat.malformed") is not None
        # Every datagram is dissected, except the empty ones UDP keeps to itself.
        assert (one(layers, "heartbeat.encoding") is not None) == bool(data), number
    assert not problems, "\n".join(problems[:20])
    assert marked == sum(expected(data, None).malformed for _, data in corpus() if data)


def _verdicts(layers: dict[str, list[object]], exp: object) -> list[str]:
    from tests.unit.test_wireshark_agreement import Expected

    assert isinstance(exp, Expected)
    found = []
    if one(layers, "heartbeat.malformed") is not None:
        found.append(f"marked malformed: {one(layers, 'heartbeat.malformed.reason')}")
    if one(layers, "heartbeat.bug") is not None:
        found.append("dissector bug")
    got_ok = one(layers, "heartbeat.auth_ok")
    if (got_ok in ("1", "True")) != exp.auth_ok:
        found.append(f"auth_ok {got_ok} != {exp.auth_ok} ({one(layers, 'heartbeat.auth_error')})")
    if one(layers, "heartbeat.auth_error") != exp.auth_error:
        found.append(f"auth_error {one(layers, 'heartbeat.auth_error')} != {exp.auth_error}")
    return found
