"""Two (and more) CLI processes at once: every event, error and count is kept."""

from __future__ import annotations

import json


def test_concurrent_commands_lose_nothing(logged_in):
    before = len(logged_in.chain())
    processes = [logged_in.start("run", "echo", f"p{i}") for i in range(4)]
    processes.append(logged_in.start("run", "fail", "--message", "on purpose"))
    outputs = [p.communicate(timeout=60) for p in processes]
    codes = [p.returncode for p in processes]
    assert codes == [0, 0, 0, 0, 3], outputs
    chain, mirror = logged_in.chain(), logged_in.events_json()
    assert len(chain) == before + 5
    assert chain == mirror  # the same events, in the same order
    echoed = sorted(e["args"][0] for e in chain if e["cmd"] == "echo")
    assert echoed == ["p0", "p1", "p2", "p3"]
    assert [e["cmd"] for e in logged_in.errors_json()] == ["fail"]
    stats = json.dumps(logged_in.stats()["cli_stats"])
    assert "echo" in stats
