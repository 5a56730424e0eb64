"""Until bitstream's BitStream lands, only the pure (chain-free) tests can run."""

from __future__ import annotations

import bitstream
import pytest

_PURE = {"test_delta.py", "test_values.py"}


def pytest_collection_modifyitems(config, items):
    if hasattr(bitstream, "BitStream"):
        return
    skip = pytest.mark.skip(reason="bitstream.BitStream does not exist yet")
    for item in items:
        if item.path.name not in _PURE and item.path.parent.name == "deltaram":
            item.add_marker(skip)
