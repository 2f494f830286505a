"""`hblab dump` on the capture of two real Heartbeat 3.0.6 nodes (tests/fixtures)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pcap_util import capture_path

REPO = Path(__file__).resolve().parents[2]

CAPTURE = capture_path()
PACKETS_IN_CAPTURE = 346


@pytest.fixture(scope="module")
def capture() -> Path:
    assert CAPTURE.exists(), f"the golden capture is missing: {CAPTURE}"
    return CAPTURE


def _dump(capture: Path, keys_text: str, tmp_path: Path, *extra: str) -> list[str]:
    keys = tmp_path / "authkeys"
    keys.write_text(keys_text)
    keys.chmod(0o600)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "lab",
            "dump",
            "--read",
            str(capture),
            "--authkeys",
            str(keys),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_every_packet_verifies_with_the_reference_key(capture: Path, tmp_path: Path) -> None:
    rows = [
        json.loads(line) for line in _dump(capture, "auth 3\n3 md5 Hello!\n", tmp_path, "--json")
    ]
    assert len(rows) == PACKETS_IN_CAPTURE
    assert {row["auth"] for row in rows} == {"ok"}
    assert {row["src"] for row in rows} == {"master", "slave"}
    assert all(row["t"] for row in rows)


def test_every_packet_fails_with_another_key(capture: Path, tmp_path: Path) -> None:
    rows = [
        json.loads(line) for line in _dump(capture, "auth 3\n3 md5 Goodbye!\n", tmp_path, "--json")
    ]
    assert len(rows) == PACKETS_IN_CAPTURE
    assert {row["auth"] for row in rows} == {"bad"}


def test_text_lines_show_type_source_seq_and_auth(capture: Path, tmp_path: Path) -> None:
    lines = _dump(capture, "auth 3\n3 md5 Hello!\n", tmp_path)
    assert len(lines) == PACKETS_IN_CAPTURE
    first = lines[0]
    for token in ("t=status", "src=", "seq=", "auth=ok", "→"):
        assert token in first, first
