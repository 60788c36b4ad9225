"""Figures, the table printed at the end, and benchmarks/RESULTS.md."""

import os
import platform
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Figure:
    name: str
    value: float  # milliseconds
    budget: float | None = None  # milliseconds; None: the SPEC sets none
    floor: float | None = None  # milliseconds, measured in the same run
    note: str = ""
    unit: str = "ms"  # "ms"; "x" for a figure that is itself a ratio; "n" for a count (images read, wrong texts)
    at_least: bool = False  # the budget is a minimum (images read), not a maximum

    @property
    def ratio(self):
        return self.value / self.floor if self.floor else None

    @property
    def within(self):
        if self.budget is None:
            return None
        return self.value >= self.budget if self.at_least else self.value <= self.budget

    def cells(self):
        fmt = {"ms": _ms, "x": lambda v: f"{v:.2f}×", "n": lambda v: f"{v:.0f}"}[self.unit]
        return [
            self.name,
            fmt(self.value),
            f"{'≥' if self.at_least else '≤'} {fmt(self.budget)}" if self.budget is not None else "—",
            (fmt if self.unit == "n" else _ms)(self.floor) if self.floor is not None else "—",
            f"{self.ratio:.1f}×" if self.ratio is not None else "—",
            {True: "yes", False: "**NO**", None: "—"}[self.within],
        ]


HEADERS = ["figure", "measured", "budget", "floor (same run)", "× floor", "within budget"]


def _ms(value):
    if value is None:
        return "—"
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    return f"{value:.2f} ms" if value < 100 else f"{value:.0f} ms"


def machine():
    info = {
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "sqlite": sqlite3.sqlite_version,
        "load": " / ".join(f"{x:.2f}" for x in os.getloadavg()),
        "load1": os.getloadavg()[0],
        "busy": os.getloadavg()[0] > (os.cpu_count() or 1),
        "cpu": None,
        "commit": None,
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "refurb"], cwd=ROOT, capture_output=True, text=True)
        if commit.returncode == 0:
            info["commit"] = commit.stdout.strip() + (" with uncommitted changes in refurb/" if dirty.stdout.strip() else "")
    except OSError:
        pass
    return info


def text_table(figures):
    rows = [HEADERS] + [[c.replace("**", "") for c in f.cells()] for f in figures]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADERS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _md_table(headers, rows):
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def markdown(figures, info, run, details, notes, sections=()):
    """sections: (title, headers, rows, text under the table) for parts with a table of their own."""
    now = datetime.now(ZoneInfo("Europe/Brussels"))
    lines = [
        "# Benchmark results",
        "",
        f"Written by `{('python -m benchmarks ' + run['argv']).strip()}` on {now:%d/%m/%Y %H:%M} (Europe/Brussels); "
        "regenerate with `make bench`. Budgets are SPEC §12's; each floor is measured in the same run, "
        "interleaved with the measurement where it can be, so the ratio does not depend on the machine.",
        "",
        "## Machine",
        "",
        f"- {info['nproc']} CPUs (nproc){', ' + info['cpu'] if info['cpu'] else ''}",
        f"- Python {info['python']} on {info['platform']} ({sys.executable})",
        f"- SQLite {info['sqlite']}" + (f", PostgreSQL {run['pg_version']}" if run.get("pg_version") else ""),
        f"- load average at the start: {info['load']} (1 / 5 / 15 min); at the end: {info.get('load_end', '?')} (1 min)",
    ]
    if info["commit"]:
        lines.append(f"- refurb at commit {info['commit']}")
    if info["busy"]:
        lines += ["", f"**The machine was busy** (load average {info['load1']:.1f} on {info['nproc']} CPUs): the "
                  "absolute times include waiting for a CPU and are inflated; the ratios to the floors, measured "
                  "alongside, and the CPU times are the steadier figures. Rerun on a quiet machine."]
    lines += ["", "## Figures", "", _md_table(HEADERS, [f.cells() for f in figures]), ""]
    for f in figures:
        if f.note:
            lines.append(f"- **{f.name}**: {f.note}")
    if details:
        lines += ["", "## Transitions per step", "",
                  _md_table(["database", "step", "median", "p99", "median CPU (this process)", "samples"], details),
                  "", "CPU time counts only this Python process (not the PostgreSQL server); on a busy machine it "
                  "shows what refurb itself spends when the wall time also holds the wait for a CPU.", ""]
    for title, headers, rows, text in sections:
        lines += ["", f"## {title}", "", _md_table(headers, rows), ""] + ([text, ""] if text else [])
    if notes:
        lines += ["## How these were measured", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines).rstrip() + "\n"
