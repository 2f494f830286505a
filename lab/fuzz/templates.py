"""The corpus's raw material, built with scapy's Heartbeat layer (lab.hbpacket).

Built, parsed and signed with the lab's own codec (lab.hbcodec), never hbnode's:
a corpus made by the code under test would share its blind spots.

Real packets come from two places: the golden capture (two real Heartbeat 3.0.6
nodes, same key as the lab) and the running cluster itself (sniffed on the
target's eth1 just before the run). Signed templates follow one rule: a message
signed with the cluster's key either names no cluster node (nor any spelling of
one) or is malformed where the receiver must drop it (its ``ts``): a well-formed
message under a node's name with the right key would be an impersonation.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from pathlib import Path

from hbnode.core.fields import parse_hex
from lab.fuzz.corpus import UDP_MAX, Templates
from lab.hbcodec import (
    BuildError,
    CodecError,
    Encoding,
    Field,
    FieldType,
    Keyring,
    Message,
    parse_authkeys,
    parse_untrusted,
    verify,
)
from lab.hbpacket import Heartbeat, forge, status_message

WRONG_KEYS = (
    "auth 3\n3 md5 NotTheKey\n",  # the right index, another secret
    "auth 7\n7 md5 Hello!\n",  # an index the cluster has no key for
    "auth 3\n3 crc\n",  # the right index with another method
    "auth 3\n3 sha1 Hello!\n",
    "auth 1\n1 sha1 NotTheKey\n",
)
# Names that are no cluster node, in any case: unknown_node (or ping_over_udp).
STRANGERS = ("intruder", "", "master2", "slave ", " slave", "ünïcode", "x" * 300, "\x00")
BAD_NUMBERS = ("zz", "-1", "", "0x10", "+1f", "1_f", "1" * 40, "１", " 1", "0")
TYPES = (
    "status", "frobnicate", "", "NS_rexmit", "NS_ackmsg", "resource", "ip-request",
    "hbapi-clstat", "shutdone", "ask_resources", "starting", "reqnodes", "T" * 200,
)  # fmt: skip


def authentic_with(keys: Keyring) -> Callable[[bytes], bool]:
    """A predicate: do these bytes authenticate with ``keys`` (as a 3.0.6 receiver checks)?"""

    def authentic(data: bytes) -> bool:
        try:
            return verify(parse_untrusted(data), keys) is None
        except CodecError:
            return False

    return authentic


def must_be_dropped(data: bytes, nodes: list[str]) -> bool:
    """True unless ``data`` is a well-formed message in a cluster node's name.

    What the core drops before it believes anything: no ``t`` or ``src``, a
    ``src`` that is no node (names match case-insensitively), or a bad ``ts``.
    Undecodable bytes are dropped by the parser.
    """
    try:
        message = parse_untrusted(data).message
    except CodecError:
        return True
    src = message.get("src")
    if message.get("t") is None or src is None or src.lower() not in nodes:
        return True
    return not parse_hex(message.get("ts"))


def fixture_payloads(path: Path) -> list[bytes]:
    """The UDP payloads of a pcap (the golden capture), read with scapy."""
    from scapy.layers.inet import UDP
    from scapy.utils import rdpcap

    return [bytes(p[UDP].payload) for p in rdpcap(str(path)) if UDP in p]


def _messages(real: Iterable[bytes]) -> list[Message]:
    """The decodable real messages, without their inner auth field."""
    found = []
    for data in real:
        try:
            message = parse_untrusted(data).message
        except CodecError:
            continue
        message.fields = [f for f in message.fields if f.name != "auth"]
        found.append(message)
    return found


def _sign(message: Message, keys: Keyring | None, classic: bool = False) -> bytes | None:
    encoding = Encoding.CLASSIC if classic else Encoding.NETSTRING
    try:
        data = bytes(forge(message, keys, encoding).data)
    except BuildError:
        return None
    return data if len(data) <= UDP_MAX else None


def _retyped(rng: random.Random, message: Message, name: str) -> Message:
    """``message`` with field ``name`` given a wrong type (list, binary or struct)."""
    out = Message([f for f in message.fields if f.name != name])
    kind = rng.choice((FieldType.LIST, FieldType.BINARY, FieldType.STRUCT))
    wrong: dict[FieldType, str | bytes | list[str] | Message] = {
        FieldType.LIST: ["1", "2"],
        FieldType.BINARY: b"\x01\x02",
        FieldType.STRUCT: Message.of(("x", "1")),
    }
    value = wrong[kind]
    out.fields.insert(rng.randrange(len(out.fields) + 1), Field(name, kind, value))
    return out


def wrong_types(keys: Keyring, nodes: list[str], rng: random.Random, count: int) -> list[bytes]:
    """Valid framing, wrong contents, signed with the cluster's key (so the core sees them).

    A stranger's message may carry anything; one in a node's name always has a
    bad ``ts`` (or none), which the core drops as malformed before it looks further.
    """
    out: list[bytes] = []
    for number in range(count * 2):
        if len(out) >= count:
            break
        as_node = number % 3 == 0
        src = rng.choice(nodes) if as_node else rng.choice(STRANGERS)
        if as_node and rng.random() < 0.5:
            src = src.upper()  # the core matches names case-insensitively: still a node
        message = status_message(src, rng.randrange(1, 1 << 20), rng.getrandbits(32), 1)
        message.set("t", rng.choice(TYPES))
        for name in ("seq", "hg", "ts"):
            if rng.random() < 0.5:
                message.set(name, rng.choice(BAD_NUMBERS))
        if rng.random() < 0.3:
            message = _retyped(rng, message, rng.choice(("seq", "hg", "src", "t", "ld", "st")))
        if as_node:
            message.remove("ts")
            if rng.random() < 0.7:
                message.add("ts", rng.choice(BAD_NUMBERS))
            elif rng.random() < 0.5:
                message = _retyped(rng, message, "ts")
        data = _sign(message, keys, classic=rng.random() < 0.1)
        if data is not None:
            out.append(data)
    return out


def huge_and_empty(keys: Keyring, nodes: list[str]) -> list[bytes]:
    """Fields up to the UDP maximum, thousands of fields, deep nesting, empty everything."""
    wrong = parse_authkeys(WRONG_KEYS[0])
    out: list[bytes] = [
        b"",
        b"###\n%%%\n",  # an empty message, no trailer
        b"###\n%%%\n0:,",  # an empty trailer
        b"###\n0:,%%%\n",  # an empty field
        b">>>\n<<<\n",
        b">>>\n=\n<<<\n",
        b"###\n" + b"0:," * 20000 + b"%%%\n",
    ]
    for size in (1000, 8000, 30000, 60000, UDP_MAX - 400):
        for key in (keys, wrong, None):
            message = status_message("intruder", 1, 1, 1, load="L" * size)
            out.append(_sign(message, key) or b"")
        node_msg = status_message(nodes[0], 1, 1, 1, load="L" * size)
        node_msg.set("ts", "")  # a node's name with the right key: never well formed
        out.append(_sign(node_msg, keys) or b"")
    many = Message.of(("t", "status"), ("src", "intruder"))
    for number in range(3000):
        many.add(f"f{number}", "v")
    out.append(_sign(many, keys) or b"")
    empty = Message.of(*((name, "") for name in ("t", "st", "src", "seq", "hg", "ts")))
    out += [_sign(empty, keys) or b"", _sign(empty, None) or b""]
    nested = Message.of(("x", "1"))
    for _ in range(20):  # MAXDEPTH is 16
        outer = Message.of(("t", "status"), ("src", "intruder"))
        outer.fields.append(Field("n", FieldType.STRUCT, nested))
        nested = outer
    out.append(_sign(nested, keys) or b"")
    return [d for d in out if len(d) <= UDP_MAX]


def bad_signatures(real: list[Message], rng: random.Random, count: int) -> list[bytes]:
    """Real-looking messages with a wrong key, an unknown index, no or a garbled trailer."""
    keysets = [parse_authkeys(text) for text in WRONG_KEYS]
    out: list[bytes] = []
    for _ in range(count):
        message = rng.choice(real).copy()
        if message.get("seq") is not None:
            message.set("seq", f"{rng.randrange(1, 1 << 24):x}")
        how = rng.randrange(len(keysets) + 3)
        if how < len(keysets):
            data = _sign(message, keysets[how], classic=rng.random() < 0.1)
        elif how == len(keysets):
            data = _sign(message, None)  # no trailer at all
        else:
            body = _sign(message, None) or b""
            trailer = rng.choice(
                (b"3", b"3 ", b"x 1234", b"-1 abc", b"99999999999 abc", b" ", b"3\x00ab", b"3 %%%")
            )
            data = body + b"%d:%s," % (len(trailer), trailer)
        if data is not None:
            out.append(data)
    return out


def build(
    keys: Keyring,
    nodes: list[str],
    captured: list[bytes],
    fixture: list[bytes],
    seed: int,
    size: int = 600,
) -> Templates:
    """Everything the corpus draws from, deterministic for a seed and the same inputs."""
    rng = random.Random(seed ^ 0x5EED)
    real_messages = _messages(fixture + captured)
    if not real_messages:
        real_messages = [status_message(nodes[0], 1, 1, 1)]
    authentic = authentic_with(keys)

    def safe(datagrams: list[bytes]) -> tuple[bytes, ...]:
        # Belt and braces: the builders follow the rule; this enforces it.
        return tuple(d for d in datagrams if not authentic(d) or must_be_dropped(d, nodes))

    return Templates(
        real=tuple(fixture + captured),
        wrong_types=safe(wrong_types(keys, nodes, rng, size)),
        huge_empty=safe(huge_and_empty(keys, nodes)),
        bad_signature=tuple(bad_signatures(real_messages, rng, size)),
        captured=tuple(captured),
        authentic=authentic,
    )


def wrong_key_pool(real: list[bytes], nodes: list[str], count: int = 4096) -> tuple[bytes, ...]:
    """The flood's well-framed packets: status messages with a wrong key, varying seq."""
    wrong = parse_authkeys(WRONG_KEYS[0])
    messages = [m for m in _messages(real) if m.get("t") == "status"]
    base = messages[0] if messages else status_message(nodes[0], 1, 1, 1)
    pool = []
    for number in range(count):
        message = base.copy()
        message.set("seq", f"{number + 1:x}")
        pool.append(bytes(Heartbeat.build_from(message, wrong).data))
    return tuple(pool)
