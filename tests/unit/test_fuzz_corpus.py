"""The fuzz corpus: deterministic from its seed, every category, bounded sizes, and safe.

"Safe" means every datagram must be dropped by a correct node: nothing that
authenticates with the cluster's key is a well-formed message in a node's name,
except the exact replays of this cluster's own captured packets.
"""

from __future__ import annotations

import itertools
from collections import Counter
from functools import lru_cache

import pytest

from hbnode.config import parse_authkeys_text
from lab.fuzz import corpus, templates
from lab.fuzz.corpus import UDP_MAX, Category, Corpus, Templates
from lab.fuzz.report import Accounting, log_line_bound
from tests.pcap_util import capture_path

KEYS = parse_authkeys_text("auth 3\n3 md5 Hello!\n")
NODES = ["master", "slave"]
SAMPLE = 20_000


@lru_cache(maxsize=1)
def _fixture() -> tuple[bytes, ...]:
    return tuple(templates.fixture_payloads(capture_path()))


@lru_cache(maxsize=4)
def _templates(seed: int = 1) -> Templates:
    fixture = list(_fixture())
    # The golden capture's last packets stand in for "captured from the cluster".
    return templates.build(KEYS, NODES, fixture[-40:], fixture, seed)


def test_the_same_seed_gives_the_same_stream() -> None:
    first = list(Corpus(_templates(), 7).take(3000))
    again = list(Corpus(_templates(), 7).take(3000))
    other = list(Corpus(_templates(), 8).take(3000))
    assert first == again
    assert first != other


def test_templates_are_deterministic() -> None:
    a = templates.build(KEYS, NODES, [], list(_fixture()), 3)
    b = templates.build(KEYS, NODES, [], list(_fixture()), 3)
    assert (a.wrong_types, a.huge_empty, a.bad_signature) == (
        b.wrong_types,
        b.huge_empty,
        b.bad_signature,
    )


def test_every_category_is_produced_and_sizes_are_bounded() -> None:
    counts: Counter[Category] = Counter()
    sizes = []
    for category, data in Corpus(_templates(), 1).take(SAMPLE):
        counts[category] += 1
        sizes.append(len(data))
    assert set(counts) == set(Category)
    assert max(sizes) <= UDP_MAX
    assert min(sizes) == 0  # the empty datagram is in there
    # The weights are respected roughly (a seeded stream, so this is exact per seed).
    for category, weight in corpus.WEIGHTS.items():
        assert abs(counts[category] / SAMPLE - weight / 100) < 0.02, category


def test_without_a_capture_there_are_no_replays() -> None:
    built = templates.build(KEYS, NODES, [], list(_fixture()), 1)
    seen = {c for c, _ in Corpus(built, 1).take(2000)}
    assert Category.REPLAYED not in seen and Category.REORDERED not in seen


def test_nothing_authentic_is_a_well_formed_message_in_a_nodes_name() -> None:
    built = _templates()
    captured = set(built.captured)
    authentic = 0
    for category, data in Corpus(built, 5).take(SAMPLE):
        if not built.authentic(data):
            continue
        authentic += 1
        if category in (Category.REPLAYED, Category.REORDERED):
            assert data in captured
        else:
            assert templates.must_be_dropped(data, NODES), (category, data[:120])
    assert authentic  # the signed categories do reach the core


def test_mutants_never_authenticate() -> None:
    built = _templates()
    stream = Corpus(built, 9, weights={Category.MUTATED: 1})
    for _category, data in stream.take(5000):
        assert not built.authentic(data)


@pytest.mark.parametrize(
    ("data", "dropped"),
    [
        (b"junk", True),
        (templates._sign(templates.status_message("intruder", 1, 1, 1), KEYS), True),
        (templates._sign(templates.status_message("SLAVE", 1, 1, 1), KEYS), False),
        (templates._sign(templates.status_message("slave", 1, 1, 0), KEYS), True),  # ts 0
    ],
)
def test_must_be_dropped(data: bytes | None, dropped: bool) -> None:
    assert data is not None
    assert templates.must_be_dropped(data, NODES) is dropped


def test_the_flood_stream_alternates_and_is_cheap() -> None:
    pool = templates.wrong_key_pool(list(_fixture()), NODES, count=16)
    assert len(set(pool)) == 16
    assert all(not templates.authentic_with(KEYS)(d) for d in pool)
    mixed = list(itertools.islice(corpus.flood_stream(1, pool, "mixed"), 100))
    assert Counter(c for c, _ in mixed) == {Category.RANDOM: 50, Category.BAD_SIGNATURE: 50}
    only = {c for c, _ in itertools.islice(corpus.flood_stream(1, pool, "wrongkey"), 50)}
    assert only == {Category.BAD_SIGNATURE}


def test_accounting_brackets_the_peers_packets() -> None:
    acc = Accounting(
        sent=1000,
        received=1010,
        rejected={"malformed": 900},
        core_received=110,
        core_drops={"duplicate": 95},
        kernel_drops=5,
        kernel_in_errors=5,
        kernel_delivered=1010,
        peer_low=14,
        peer_high=16,
    )
    assert acc.link_balanced and acc.unexplained == 0 and acc.accepted == 15
    lost = Accounting(**{**acc.__dict__, "received": 1000, "core_received": 100})
    assert lost.unexplained == -9


def test_log_bound_grows_with_time_and_reasons() -> None:
    assert log_line_bound(3, 60) == 3 * 2 * 7
    assert log_line_bound(3, 0) == 6
