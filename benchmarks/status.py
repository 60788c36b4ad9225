"""`refurb status` and the funder report at the SPEC's size (§9, §12): 100 000 devices, 1 000 000 events.

The database is benchmarks.station's: N devices in `wiped` with ten events each, cloned from one device made
through refurb.services.  Every event is recent, so the 7- and 30-day windows hold the whole history: the
worst case for `refurb status` ("busy").  A second figure moves `now` two months on, so that the windows are
empty: what a quiet month costs on a long history ("quiet").  The funder report covers the current month.

Floors, on the same file with the bare sqlite3 driver: for status, the one GROUP BY it cannot avoid (events
of the window per action and station) plus devices per state; for the funder report, the distinct devices
received in the period.  Runs alternate after one warm-up run of each; the median counts.

    python -m benchmarks.status --devices 100000
"""

import argparse
import sqlite3
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from refurb import db, services, stats

from . import station
from .stats import median

RUNS = 5
STATUS_FLOOR = ("SELECT action, station, count(*) FROM event WHERE at >= ? AND at <= ? "
                "AND device_id IS NOT NULL GROUP BY action, station",
                "SELECT state, count(*) FROM device GROUP BY state")
FUNDER_FLOOR = ("SELECT count(DISTINCT device_id) FROM event WHERE action IN ('register', 'receive') "
                "AND at >= ? AND at < ?",)


def _sqlite_time(moment):
    """How SQLAlchemy stores a UTC datetime in SQLite, so that the floor compares like with like."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def _floor(path, queries, low, high):
    conn = sqlite3.connect(path)
    try:
        for sql in queries:
            conn.execute(sql, (low, high) if "?" in sql else ()).fetchall()
    finally:
        conn.close()


def _alternate(figure, floor, runs):
    figure()
    floor()
    seconds, floors = [], []
    for _ in range(runs):
        start = time.perf_counter()
        figure()
        seconds.append(time.perf_counter() - start)
        start = time.perf_counter()
        floor()
        floors.append(time.perf_counter() - start)
    return median(seconds), median(floors)


def measure(ctx, path, runs=RUNS):
    """Medians in seconds: {"busy_s", "busy_floor_s", "quiet_s", "quiet_floor_s", "funder_s",
    "funder_floor_s"}."""
    out = {}
    now = services.now()
    for name, moment in (("busy", now), ("quiet", now + timedelta(days=60))):
        low, high = _sqlite_time(moment - timedelta(days=30)), _sqlite_time(moment)
        out[f"{name}_s"], out[f"{name}_floor_s"] = _alternate(
            lambda moment=moment: stats.status(ctx, now=moment),
            lambda low=low, high=high: _floor(path, STATUS_FLOOR, low, high), runs)
    first, last, low, high = stats.brussels_days(services.today().replace(day=1), services.today())
    out["funder_s"], out["funder_floor_s"] = _alternate(
        lambda: stats.funder_report(ctx, first, last),
        lambda: _floor(path, FUNDER_FLOOR, _sqlite_time(low), _sqlite_time(high)), runs)
    return out


def run(args):
    """The figures: {"devices", "events", "fill_s", and the medians of `measure`}."""
    devices = getattr(args, "status_devices", None) or 100_000
    with tempfile.TemporaryDirectory(prefix="refurb-bench-status-") as folder:
        path = Path(folder) / "status.db"
        start = time.perf_counter()
        ctx, _tags = station.build(f"sqlite:///{path}", folder, devices, getattr(args, "progress", None))
        fill = time.perf_counter() - start
        figures = measure(ctx, path, getattr(args, "runs_status", None) or RUNS)
        events = station.events_in(ctx)
        db.dispose_all()
    return {"devices": devices, "events": events, "fill_s": fill, **figures}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--devices", type=int, default=100_000)
    args = p.parse_args(argv)
    args.status_devices = args.devices
    r = run(args)
    print(f"{r['devices']} devices, {r['events']} events (filled in {r['fill_s']:.0f} s)")
    for name in ("busy", "quiet", "funder"):
        figure, floor = r[f"{name}_s"], r[f"{name}_floor_s"]
        print(f"{name:7} {figure * 1000:8.0f} ms   floor {floor * 1000:7.0f} ms   "
              f"ratio {figure / floor:5.1f}")
    return r


if __name__ == "__main__":
    main()
