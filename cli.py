#!/usr/bin/env python3
"""Run refurb from a checkout: `python cli.py …` (the installed command is `refurb`)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from refurb.cli import main  # noqa: E402

if __name__ == "__main__":
    main()
