"""``python -m bitstream info|verify|tail|cat``: output and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from bitstream import BitStream
from bitstream import format as fmt
from bitstream.cli import main


def make(path: str, n: int = 30) -> None:
    with BitStream(path) as chain:
        chain.append_many(f'{{"i": {i}}}'.encode() for i in range(n))


def test_info_tail_cat(chain_path, capsysbinary):
    make(chain_path)
    assert main(["info", chain_path, "--json"]) == 0
    info = json.loads(capsysbinary.readouterr().out)
    assert info["records"] == 30 and info["head"].startswith("29:")
    assert main(["tail", chain_path, "-n", "2"]) == 0
    assert capsysbinary.readouterr().out == b'{"i": 28}\n{"i": 29}\n'
    assert main(["cat", chain_path, "--start", "27"]) == 0
    assert capsysbinary.readouterr().out.splitlines() == [b'{"i": 27}', b'{"i": 28}', b'{"i": 29}']


def test_verify_exit_codes(chain_path, tmp_path, capsys):
    make(chain_path)
    with BitStream(chain_path, readonly=True) as chain:
        head = str(chain.head)
    assert main(["verify", chain_path, "--trusted-head", head]) == 0
    assert "ok; 30 records" in capsys.readouterr().out
    seg = os.path.join(chain_path, fmt.segment_name(0))
    with open(seg, "r+b") as f:  # damage record 3's payload
        f.seek(fmt.HEADER_SIZE + 30)
        b = f.read(1)
        f.seek(fmt.HEADER_SIZE + 30)
        f.write(bytes((b[0] ^ 0x10,)))
    assert main(["verify", chain_path, "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["first_bad"] is not None
    assert main(["verify", str(tmp_path)]) == 2
    assert "not a bitstream chain" in capsys.readouterr().err


def test_python_dash_m(chain_path):
    make(chain_path, 3)
    out = subprocess.run(
        [sys.executable, "-m", "bitstream", "tail", chain_path, "-n", "1"],
        capture_output=True, check=True,
    )
    assert out.stdout == b'{"i": 2}\n'
