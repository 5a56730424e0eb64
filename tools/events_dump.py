#!/usr/bin/env python3
"""Dump the recorded events from the event chain: ``python tools/events_dump.py --last 10 [--csv]``.

A thin wrapper: the code is ``procedura events`` (procedura_cli.commands.events);
run ``--help`` for the options.
"""

import sys

try:
    from procedura_cli.commands.events import events
except ImportError as exc:  # run from a checkout without the packages installed
    sys.exit(f"events_dump: {exc}. Install the packages first (see README: `hatch shell`).")

if __name__ == "__main__":
    events(prog_name="events_dump.py")
