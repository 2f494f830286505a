"""The lab's own Heartbeat 3.0.6 codec: parse, build and sign datagrams.

It shares no code with hbnode's (``hbnode.wire``, ``hbnode.message``,
``hbnode.auth``): it is written from docs/protocol.md and checked byte for byte
against the golden capture, so a codec bug in the daemon shows up in the lab
instead of being mirrored by it. Pure: no scapy, no sockets.

    >>> decoded = parse_untrusted(payload)          # CodecError for any bad bytes
    >>> decoded.message.get("t"), verify(decoded, keys)
    ('status', None)
    >>> build(Message.of(("t", "status"), ("src", "master")), keys)
    b'###\\n11:(0)t=status,...'

``keys`` is a :class:`Keyring` (see :func:`parse_authkeys`); anything shaped
like one, hbnode's ``AuthKeys`` included, is accepted too.
"""

from lab.hbcodec.authkeys import AuthkeysError, load_authkeys, parse_authkeys
from lab.hbcodec.datagram import (
    Decoded,
    Encoding,
    build,
    parse_untrusted,
    reencode,
    verify,
    verify_inner,
    with_inner_auth,
)
from lab.hbcodec.errors import BuildError, CodecError
from lab.hbcodec.message import Field, FieldType, Message, Value
from lab.hbcodec.signing import (
    AuthFailure,
    AuthMethod,
    Key,
    Keyring,
    digest,
    heartbeat_crc,
    keyring_of,
    parse_auth_untrusted,
    sign,
)

__all__ = [
    "AuthFailure",
    "AuthMethod",
    "AuthkeysError",
    "BuildError",
    "CodecError",
    "Decoded",
    "Encoding",
    "Field",
    "FieldType",
    "Key",
    "Keyring",
    "Message",
    "Value",
    "build",
    "digest",
    "heartbeat_crc",
    "keyring_of",
    "load_authkeys",
    "parse_auth_untrusted",
    "parse_authkeys",
    "parse_untrusted",
    "reencode",
    "sign",
    "verify",
    "verify_inner",
    "with_inner_auth",
]
