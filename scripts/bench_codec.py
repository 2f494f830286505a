"""Decode+verify rate of hbnode's codec on the golden capture, one core (make bench-codec)."""

import time

from hbnode.config.authkeys import parse_authkeys_text
from hbnode.wire import decode_untrusted, verify_datagram
from tests.pcap_util import capture_path, udp_datagrams

keys = parse_authkeys_text("auth 3\n3 md5 Hello!\n")
payloads = [d.payload for d in udp_datagrams(capture_path())]
n = 0
start = time.perf_counter()
while time.perf_counter() - start < 5.0:
    for p in payloads:
        assert verify_datagram(decode_untrusted(p), keys) is None
    n += len(payloads)
elapsed = time.perf_counter() - start
print(
    f"{n} datagrams in {elapsed:.2f} s: {n / elapsed:,.0f} decode+verify per second "
    f"(mean {sum(map(len, payloads)) / len(payloads):.0f} bytes)"
)
