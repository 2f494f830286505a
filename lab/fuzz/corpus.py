"""The fuzz corpus: a seeded stream of bad datagrams, by category.

Templates are built once (with scapy, see :mod:`lab.fuzz.templates`); this module
only picks and mutates bytes with one seeded ``random.Random``, so a million
datagrams come out in seconds and the same seed gives the same stream.

What may be signed with the cluster's key is restricted so that every datagram
must be dropped: a message that names a cluster node and is signed with the right
key is an impersonation, which a shared key allows by design (documented
elsewhere), so the corpus never contains one that is well formed. A mutant that
still authenticates is drawn again.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

UDP_MAX = 65507  # the largest UDP payload over IPv4
MAX_REDRAWS = 8  # a mutant that still authenticates is drawn again, this many times


class Category(enum.StrEnum):
    RANDOM = "random"  # random bytes, random length (empty included)
    MUTATED = "mutated"  # real packets bit-flipped, truncated, spliced, garbled
    WRONG_TYPES = "wrong_types"  # valid framing, non-numeric seq/hg/ts, unknown t, …
    HUGE_EMPTY = "huge_empty"  # fields up to the UDP maximum, empty fields and datagrams
    BAD_SIGNATURE = "bad_signature"  # wrong key, unknown index, no or garbled trailer
    REPLAYED = "replayed"  # captured from this cluster, sent again unchanged
    REORDERED = "reordered"  # a window of captured packets, shuffled


# Out of 100 datagrams. Random bytes and mutants are cheap and find parser bugs;
# the signed categories exercise the checks after the parser.
WEIGHTS: dict[Category, int] = {
    Category.RANDOM: 20,
    Category.MUTATED: 30,
    Category.WRONG_TYPES: 12,
    Category.HUGE_EMPTY: 3,
    Category.BAD_SIGNATURE: 20,
    Category.REPLAYED: 10,
    Category.REORDERED: 5,
}


@dataclass(frozen=True)
class Templates:
    """The raw material. Every tuple must be non-empty except ``captured``.

    ``captured``: real packets of the running cluster in capture order (replays);
    ``real``: real packets to mutate (captured and the golden capture);
    ``wrong_types``/``huge_empty``/``bad_signature``: prebuilt datagrams;
    ``authentic`` tells whether bytes still authenticate with the cluster key.
    """

    real: tuple[bytes, ...]
    wrong_types: tuple[bytes, ...]
    huge_empty: tuple[bytes, ...]
    bad_signature: tuple[bytes, ...]
    captured: tuple[bytes, ...] = ()
    authentic: Callable[[bytes], bool] = field(default=lambda _data: False)


def _flip_bits(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 3, 8))):
        out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    return bytes(out)


def _truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(len(data))]


def _splice(rng: random.Random, data: bytes, other: bytes) -> bytes:
    return data[: rng.randrange(len(data) + 1)] + other[rng.randrange(len(other) + 1) :]


def _overwrite(rng: random.Random, data: bytes) -> bytes:
    at = rng.randrange(len(data))
    return data[:at] + rng.randbytes(rng.randint(1, 16)) + data[at + 16 :]


def _digits(rng: random.Random, data: bytes) -> bytes:
    """Change one digit: netstring lengths and hex numbers are where parsers slip."""
    spots = [i for i in range(min(len(data), 4096)) if 48 <= data[i] <= 57]
    if not spots:
        return _flip_bits(rng, data)
    at = rng.choice(spots)
    return data[:at] + rng.choice(b"0123456789:,-+ ").to_bytes(1, "big") + data[at + 1 :]


def _duplicate_slice(rng: random.Random, data: bytes) -> bytes:
    start = rng.randrange(len(data))
    stop = min(len(data), start + rng.randint(1, 64))
    return data[:stop] + data[start:stop] * rng.randint(1, 4) + data[stop:]


_MUTATORS = (_flip_bits, _truncate, _overwrite, _digits, _duplicate_slice)


class Corpus:
    """An endless deterministic stream of ``(category, datagram)``; take what you need."""

    def __init__(
        self,
        templates: Templates,
        seed: int,
        weights: dict[Category, int] | None = None,
    ) -> None:
        if not (templates.real and templates.wrong_types and templates.bad_signature):
            raise ValueError("the corpus needs real packets and prebuilt templates")
        self.templates = templates
        self.rng = random.Random(seed)
        chosen = dict(weights or WEIGHTS)
        if not templates.captured:  # nothing of this cluster to replay
            chosen.pop(Category.REPLAYED, None)
            chosen.pop(Category.REORDERED, None)
        self.categories = [c for c, w in chosen.items() if w > 0]
        self.cumulative: list[int] = []
        total = 0
        for category in self.categories:
            total += chosen[category]
            self.cumulative.append(total)
        self.redrawn = 0  # mutants that still authenticated (drawn again)
        self._reorder_queue: list[bytes] = []

    def __iter__(self) -> Iterator[tuple[Category, bytes]]:
        while True:
            yield self.next()

    def take(self, count: int) -> Iterator[tuple[Category, bytes]]:
        for _ in range(count):
            yield self.next()

    def next(self) -> tuple[Category, bytes]:
        category = self.rng.choices(self.categories, cum_weights=self.cumulative)[0]
        return category, self._make(category)

    def _make(self, category: Category) -> bytes:
        rng, t = self.rng, self.templates
        if category is Category.RANDOM:
            return rng.randbytes(rng.choice((0, 1, 4, 16, 64, 200, 400, 1400, 9000)))
        if category is Category.MUTATED:
            return self._mutant()
        if category is Category.WRONG_TYPES:
            return rng.choice(t.wrong_types)
        if category is Category.HUGE_EMPTY:
            return rng.choice(t.huge_empty) if rng.random() < 0.8 else self._huge_random()
        if category is Category.BAD_SIGNATURE:
            return rng.choice(t.bad_signature)
        if category is Category.REPLAYED:
            return rng.choice(t.captured)
        return self._reordered()

    def _huge_random(self) -> bytes:
        size = self.rng.choice((UDP_MAX, UDP_MAX - 1, 32768, 16384, 8193))
        head = self.rng.choice((b"###\n", b">>>\n", b""))
        return head + self.rng.randbytes(size - len(head))

    def _mutant(self) -> bytes:
        rng, t = self.rng, self.templates
        for _ in range(MAX_REDRAWS):
            source = rng.choice(t.real)
            mutator = rng.randrange(len(_MUTATORS) + 1)
            if mutator == len(_MUTATORS):
                mutant = _splice(rng, source, rng.choice(t.real))
            else:
                mutant = _MUTATORS[mutator](rng, source)
            # An unchanged or still-authentic result would be a replay (or, from the
            # golden capture, another cluster's valid message): not a mutant.
            if mutant != source and not t.authentic(mutant):
                return mutant
            self.redrawn += 1
        return rng.randbytes(64)

    def _reordered(self) -> bytes:
        if not self._reorder_queue:
            captured = self.templates.captured
            size = self.rng.randint(2, 8)
            start = self.rng.randrange(max(1, len(captured) - size + 1))
            window = list(captured[start : start + size])
            self.rng.shuffle(window)
            self._reorder_queue = window
        return self._reorder_queue.pop()


def flood_stream(
    junk_seed: int, wrong_key: tuple[bytes, ...], mix: str
) -> Iterator[tuple[Category, bytes]]:
    """The flood: random junk, wrong-key packets from a prebuilt pool, or both alternating.

    Cheap per datagram (the sender must reach 20 000/s): the junk comes from a
    pool of 4096 random datagrams, the wrong-key packets from ``wrong_key``.
    """
    rng = random.Random(junk_seed)
    junk = [rng.randbytes(rng.randint(1, 600)) for _ in range(4096)]
    index = 0
    while True:
        if mix == "junk" or (mix == "mixed" and index % 2 == 0):
            yield Category.RANDOM, junk[index % len(junk)]
        else:
            yield Category.BAD_SIGNATURE, wrong_key[index % len(wrong_key)]
        index += 1
