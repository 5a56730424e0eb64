"""Entry point of ``python -m bitstream``."""

import sys

from .cli import main

sys.exit(main())
