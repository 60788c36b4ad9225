"""Ready-stock export (SPEC §12): `refurb export stock --format csv` of 100 000 ready devices ≤ 3× the floor.

The database holds N devices in `ready`: one template goes through refurb.services (register, NVMe drive,
verified wipe, reimage, QC with grade and battery; specs with CPU, RAM, screen and accessories) and is
cloned N-1 times by benchmarks.population, events hash-chained; its image and QC records are copied in
bulk for every clone.  The figure is refurb.exports.write_stock(ctx, "csv", out=…) in this process; the
floor is the same sixteen columns read with one hand-written sqlite3 query (specs through json_extract,
media, image and `ready since` through subqueries on the same indexes) and written with csv.writer.
Runs alternate, after one warm-up run of each; the median counts.

    python -m benchmarks.export --devices 100000
"""

import argparse
import csv
import sqlite3
import tempfile
import time
from pathlib import Path

from refurb import exports, services

from . import population
from .stats import median

BUDGET = 3
RUNS = 3
FLOOR_SQL = """
SELECT d.tag, d.serial, d.kind, d.make, d.model, json_extract(d.specs, '$.cpu'), json_extract(d.specs, '$.ram_gb'),
       (SELECT round(sum(size_bytes) / 1e9, 1) FROM storage_medium WHERE device_id = d.id),
       (SELECT group_concat(type, '+') FROM storage_medium WHERE device_id = d.id),
       json_extract(d.specs, '$.screen_inches'), json_extract(d.specs, '$.battery_health'),
       (SELECT image_id FROM image_record WHERE device_id = d.id ORDER BY id DESC LIMIT 1),
       d.grade, json_extract(d.specs, '$.accessories'), l.name,
       (SELECT max(at) FROM event WHERE device_id = d.id AND to_state = 'ready')
FROM device d LEFT JOIN location l ON l.id = d.location_id
WHERE d.state IN ('ready', 'allocated')
ORDER BY d.tag
"""
SPECS = {"cpu": "Intel Core i5-8250U", "ram_gb": 7.5, "screen_inches": 14.0, "accessories": ["charger", "bag"]}


def template(ctx, serial, medium):
    """One ready laptop made through refurb.services, as a station makes it."""
    tag = services.register_device(ctx, population.BATCH, "laptop", "Lenovo", "ThinkPad T480", serial,
                                   specs=SPECS)["tag"]
    services.add_medium(ctx, tag, "nvme", medium, 512 * 10**9)
    services.record_wipe(ctx, tag, medium, "nvme-sanitize", "pass")
    services.reimage(ctx, tag, "linux-mint")
    services.record_qc(ctx, tag, True, grade="A", battery=88)
    return tag


def build(path, home, devices, progress=None):
    """A SQLite file at `path` with `devices` ready devices; returns the context."""
    url = f"sqlite:///{path}"
    ctx = population.context(url, home)
    tags = population.populate(ctx, devices, "clone", progress, make=template)  # clones copy the template
    _copy_records(path, tags[0])
    return ctx


def _copy_records(path, template_tag):
    """Give every clone the template's image and QC records, each pointing at the clone's own event."""
    with sqlite3.connect(path) as conn:
        template_id = conn.execute("SELECT id FROM device WHERE tag = ?", (template_tag,)).fetchone()[0]
        for table, action, columns in (("image_record", "reimage", "image_id, licence, operator, created_at"),
                                       ("qc_record", "qc_pass", "kind, result, grade, items, operator, created_at")):
            conn.execute(
                f"INSERT INTO {table} (device_id, event_id, {columns}) "
                f"SELECT e.device_id, e.id, {', '.join('t.' + c.strip() for c in columns.split(','))} "
                f"FROM event e JOIN {table} t ON t.device_id = ? "
                f"WHERE e.action = ? AND e.device_id != ?",
                (template_id, action, template_id))


def floor(path, out):
    """The same columns with the bare driver and csv.writer: what no export can beat."""
    conn = sqlite3.connect(path)
    try:
        with open(out, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(exports.COLUMNS)
            writer.writerows(conn.execute(FLOOR_SQL))
    finally:
        conn.close()


def measure(ctx, path, folder, runs=RUNS):
    """Seconds of each export and floor run (alternating, after a warm-up of each) and the rows written."""
    out, floor_out = Path(folder) / "stock.csv", Path(folder) / "floor.csv"
    rows = exports.write_stock(ctx, "csv", out=out)["rows"]
    floor(path, floor_out)
    export_s, floor_s = [], []
    for _ in range(runs):
        start = time.perf_counter()
        exports.write_stock(ctx, "csv", out=out)
        export_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        floor(path, floor_out)
        floor_s.append(time.perf_counter() - start)
    with open(floor_out, encoding="utf-8") as handle:
        floor_rows = sum(1 for _ in handle) - 1
    if floor_rows != rows:
        raise RuntimeError(f"the floor wrote {floor_rows} rows, the export {rows}")
    return {"rows": rows, "export_s": export_s, "floor_s": floor_s}


def run(args):
    """The figures: {"devices", "rows", "export_s", "floor_s" (medians), "ratio", "budget", "fill_s"}."""
    devices = getattr(args, "export_devices", None) or 100_000
    with tempfile.TemporaryDirectory(prefix="refurb-bench-export-") as folder:
        path = Path(folder) / "export.db"
        start = time.perf_counter()
        ctx = build(path, folder, devices, getattr(args, "progress", None))
        fill = time.perf_counter() - start
        m = measure(ctx, path, folder, getattr(args, "export_runs", None) or RUNS)
        from refurb import db

        db.dispose_all()
    export_s, floor_s = median(m["export_s"]), median(m["floor_s"])
    return {"devices": devices, "rows": m["rows"], "export_s": export_s, "floor_s": floor_s,
            "ratio": export_s / floor_s, "budget": BUDGET, "fill_s": fill}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--devices", dest="export_devices", type=int, default=100_000)
    p.add_argument("--runs", dest="export_runs", type=int, default=RUNS)
    args = p.parse_args(argv)
    args.progress = lambda done, total: done % 20000 < 2000 and print(f"  {done}/{total} devices", flush=True)
    r = run(args)
    print(f"{r['rows']} ready devices (filled in {r['fill_s']:.0f} s): export {r['export_s']:.3f} s, "
          f"floor {r['floor_s']:.3f} s, ratio {r['ratio']:.2f} (budget ≤ {r['budget']})")
    return r


if __name__ == "__main__":
    main()
