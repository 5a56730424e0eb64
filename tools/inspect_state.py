#!/usr/bin/env python3
"""Show the state of deltaram stores: ``python tools/inspect_state.py runtime_ram/cli_state [--history]``.

A thin wrapper: the code is ``procedura state`` (procedura_cli.commands.state);
run ``--help`` for the options.
"""

import sys

try:
    from procedura_cli.commands.state import state
except ImportError as exc:  # run from a checkout without the packages installed
    sys.exit(f"inspect_state: {exc}. Install the packages first (see README: `hatch shell`).")

if __name__ == "__main__":
    state(prog_name="inspect_state.py")
