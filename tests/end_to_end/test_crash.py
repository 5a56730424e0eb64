"""Real `procedura` processes killed mid-command: every store stays readable and consistent."""

from __future__ import annotations

import random
import time


def _in_order(part: list, whole: list) -> bool:
    """Whether ``part`` is a subsequence of ``whole``."""
    rest = iter(whole)
    return all(any(item == other for other in rest) for item in part)


def test_killed_commands_leave_every_store_readable_and_consistent(logged_in):
    """SIGKILL lands at random moments: during imports, the round trip, or the recording.

    Afterwards the chain verifies; events.json is valid JSON holding, in order, a
    subset of the chain (a kill between the chain append and the mirror write
    costs the mirror that line, never the chain); every command that exited 0 is
    in both; the state store opens; the next command works; and rebuilding the
    mirror from the chain makes the two equal again.
    """
    from bitstream import BitStream

    rng = random.Random(20261125)
    finished: list[str] = []
    for round_no in range(10):
        tags = [f"r{round_no}-{i}" for i in range(3)]
        processes = [logged_in.start("run", "echo", tag) for tag in tags]
        time.sleep(rng.uniform(0.05, 0.8))
        for process in processes:
            if process.poll() is None:
                process.kill()
        for tag, process in zip(tags, processes, strict=True):
            process.communicate(timeout=60)
            if process.returncode == 0:
                finished.append(tag)

    with BitStream(logged_in.runtime / "cli_events") as chain:
        report = chain.verify()
    assert report.ok, report
    chain_events = logged_in.chain()
    mirror = logged_in.events_json()  # raises if it is not valid JSON
    assert _in_order(mirror, chain_events)
    echoed_in_chain = {e["args"][0] for e in chain_events if e["cmd"] == "echo"}
    echoed_in_mirror = {e["args"][0] for e in mirror if e["cmd"] == "echo"}
    assert set(finished) <= echoed_in_chain and set(finished) <= echoed_in_mirror
    runs = logged_in.stats()["cli_stats"]["total_runs"]
    assert len(finished) + 1 <= runs <= len(chain_events)  # + the login

    after = logged_in.procedura("run", "echo", "after")
    assert after.returncode == 0, after.stderr
    assert logged_in.chain()[-1]["args"] == ["after"]

    rebuilt = logged_in.procedura("events", "--rebuild-json")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert logged_in.events_json() == logged_in.chain()
