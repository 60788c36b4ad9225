"""Station latency (SPEC §12, issue 3): scan → committed action through refurb.station.Station.

The database holds N devices in `wiped` with ten events each (register, medium, four wipe records,
the three steps to `wiped`), so 100 000 devices make the 1 000 000 events the budget names.  The
station runs in `image` mode: each scan resolves the tag, gathers the facts, writes the image record
and the `reimage` event, commits.  After every scan one floor write (a bare `BEGIN IMMEDIATE; INSERT;
COMMIT`, or its PostgreSQL equivalent) runs on the same database, so the ratio does not depend on
the machine.

    python -m benchmarks.station --devices 100000 [--pg URL]
"""

import argparse
import tempfile
import time
from pathlib import Path

from refurb import services
from refurb.station import Context, Station

from . import population
from .stats import median, ms, p99
from .transitions import PostgresFloor, SqliteFloor

EXTRA_WIPES = 4  # record-only events that bring a device to ten events


def template(ctx, serial, medium):
    tag = population.one_device(ctx, serial, medium)
    for _ in range(EXTRA_WIPES):
        services.record_wipe(ctx, tag, medium, "nvme-sanitize", "pass")
    return tag


def build(url, home, devices, progress=None):
    ctx = population.context(url, home)
    tags = population.populate(ctx, devices, "clone", progress, make=template)  # clones copy the template
    return ctx, tags


def measure(ctx, tags, floor, samples, warmup=10):
    station = Station(ctx, "image", Context(image="linux-mint"))
    wall, cpu, floors = [], [], []
    for n, tag in enumerate(population.sample(tags, samples + warmup)):
        c, t = time.process_time(), time.perf_counter()
        outcome = station.handle(tag)
        elapsed, c = time.perf_counter() - t, time.process_time() - c
        if not outcome.ok or outcome.state != "imaged":
            raise RuntimeError(f"{tag}: {outcome.message}")
        f = floor.write()
        if n >= warmup:
            wall.append(elapsed)
            cpu.append(c)
            floors.append(f)
    return {"median": median(wall), "p99": p99(wall), "cpu_median": median(cpu), "floor_median": median(floors),
            "floor_p99": p99(floors), "samples": len(wall)}


def events_in(ctx):
    from sqlalchemy import func, select

    from refurb import db
    from refurb.models import Event

    with db.session(ctx.url) as s:
        return s.exec(select(func.count(Event.id))).scalar()


def run_sqlite(devices, samples, folder):
    path = Path(folder) / "station.db"
    ctx, tags = build(f"sqlite:///{path}", folder, devices, _progress("SQLite"))
    floor = SqliteFloor(path)
    try:
        return {"events": events_in(ctx), "devices": devices, **measure(ctx, tags, floor, samples)}
    finally:
        floor.close()


def run_postgres(devices, samples, folder, pg_url):
    import uuid

    import psycopg

    schema = "bench_" + uuid.uuid4().hex[:8]
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    url = pg_url + ("&" if "?" in pg_url else "?") + f"options=-csearch_path%3D{schema}"
    try:
        ctx, tags = build(url, folder, devices, _progress("PostgreSQL"))
        floor = PostgresFloor(url)
        try:
            return {"events": events_in(ctx), "devices": devices, **measure(ctx, tags, floor, samples)}
        finally:
            floor.close()
    finally:
        from refurb import db

        db.dispose_all()
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def _progress(name):
    def say(done, total):
        if done % 20000 < 2000 or done >= total:
            print(f"  {name}: {done}/{total} devices", flush=True)

    return say


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--devices", type=int, default=100_000)
    p.add_argument("--samples", type=int, default=500)
    p.add_argument("--pg", default=None, help="PostgreSQL URL (default: none, SQLite only)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        rows = [("SQLite", run_sqlite(args.devices, args.samples, folder))]
        if args.pg:
            rows.append(("PostgreSQL", run_postgres(args.devices, args.samples, folder, args.pg)))
    print(f"{'database':12} {'devices':>8} {'events':>9} {'median':>9} {'p99':>9} {'cpu med':>9} {'floor med':>10}")
    for name, r in rows:
        print(f"{name:12} {r['devices']:8d} {r['events']:9d} {ms(r['median']):7.2f}ms {ms(r['p99']):7.2f}ms "
              f"{ms(r['cpu_median']):7.2f}ms {ms(r['floor_median']):8.2f}ms")
    return rows


if __name__ == "__main__":
    main()
