"""(a) `refurb --help` wall time against `python -c pass`."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from .stats import median, timed

BUDGET_MS = 150


def refurb_command():
    """The installed console script next to this Python, else the checkout's launcher."""
    script = Path(sys.executable).with_name("refurb")
    if script.exists():
        return [str(script)]
    return [sys.executable, str(Path(__file__).resolve().parent.parent / "cli.py")]


def _run(cmd, env):
    run = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True)
    if run.returncode:
        raise RuntimeError(f"{' '.join(cmd)} exited {run.returncode}: {run.stderr.strip()}")


def measure(runs=15):
    """Median seconds of `refurb --help` and of `python -c pass`, alternating, after one warm-up each."""
    with tempfile.TemporaryDirectory() as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith("REFURB_")}
        env.update(REFURB_HOME=home, REFURB_LANG="en")
        refurb, floor = refurb_command() + ["--help"], [sys.executable, "-c", "pass"]
        _run(refurb, env)
        _run(floor, env)
        help_times, floor_times = [], []
        for _ in range(runs):
            help_times.append(timed(_run, refurb, env)[0])
            floor_times.append(timed(_run, floor, env)[0])
    return {"help": median(help_times), "floor": median(floor_times), "runs": runs, "command": " ".join(refurb)}
