"""Donor manifest import (SPEC §12, issue 5): 100 000 rows ≤ 5× the floor, peak memory ≤ 300 MB.

The file is a donor export as a company hands it over: serial, asset tag, make, model, device type, CPU,
RAM, storage, purchase date, and the e-mail address of the employee who had the laptop (a column the
import must drop, so the copy kept with the batch is rewritten without it).  The import runs through
refurb.manifests.import_manifest on a fresh SQLite database: the file read and checked, every row
matched against the database, devices and their hash-chained `expect` events written, the manifest
kept, one transaction.

The floor, in the same process and interleaved with the imports: the stdlib csv module reads the same
file and sqlite3 `executemany` inserts the same rows, one device row each (serial, asset tag, make, model
and the constant columns), into the device table of a fresh refurb database: the same schema, indexes
and foreign keys, the same PRAGMAs as refurb (WAL, synchronous=NORMAL, foreign_keys=ON), one
transaction.  That is the least any importer has to do to put these rows into this database.  The
same rows into a bare table without indexes are measured too and reported beside it.

Peak memory: the maximum resident set size of a fresh process that imports the file once (interpreter,
libraries and SQLite's page cache included).

    python -m benchmarks.manifest [--rows 100000] [--rounds 3]
"""

import argparse
import csv
import io
import json
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROWS = 100_000
BUDGET_RATIO = 5
BUDGET_MB = 300
HEADER = ["Serial number", "Asset tag", "Manufacturer", "Model", "Device type", "Processor", "RAM (GB)",
          "Storage (GB)", "Primary user email address", "Purchase date"]
MODELS = [("Lenovo", "ThinkPad T480", "Intel Core i5-8250U"), ("Dell", "Latitude 7490", "Intel Core i5-8350U"),
          ("HP", "EliteBook 840 G5", "Intel Core i5-8250U"), ("Lenovo", "ThinkPad X270", "Intel Core i5-7200U"),
          ("Dell", "OptiPlex 7060", "Intel Core i5-8500"), ("Apple", "MacBook Air 13\"", "Apple M1")]


def generate(path, rows, seed=5):
    """A donor export of `rows` devices (UTF-8, comma, CRLF as Excel writes it)."""
    r = random.Random(seed)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for i in range(rows):
            make, model, cpu = r.choice(MODELS)
            kind = "Desktop" if "OptiPlex" in model else "Laptop"
            w.writerow([f"PF{r.getrandbits(40):010X}{i % 10}", f"ACME-{i:06d}", make, model, kind, cpu,
                        r.choice((8, 16)), r.choice((256, 512)), f"employee{i}@acme.example",
                        f"{r.randint(2017, 2021)}-{r.randint(1, 12):02d}-01"])
    return path


def floor(path, folder):
    """Seconds for the stdlib to read the file and sqlite3 to executemany the same rows into the device table of
    a fresh refurb database (made beforehand, not timed), in tag order, with the import's page cache."""
    from refurb import db, manifests

    ctx = context(folder)
    database = db.sqlite_path(ctx.url)
    db.dispose_all()
    start = time.perf_counter()
    rows = _read(path)
    conn = sqlite3.connect(database, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON",
                   f"cache_size=-{manifests.SQLITE_CACHE_KIB}"):  # the page cache the import uses
        conn.execute(f"PRAGMA {pragma}")
    batch_id = conn.execute("SELECT id FROM batch WHERE ref = 'BENCH-M'").fetchone()[0]
    stamp = time.strftime("%Y-%m-%d %H:%M:%S.000000")
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany("INSERT INTO device (tag, kind, make, model, serial, donor_tag, batch_id, state, no_storage, "
                     "specs, created_at, updated_at) VALUES (?, 'laptop', ?, ?, ?, ?, ?, 'expected', 0, '{}', ?, ?)",
                     ((f"F-{i:07d}", r[2], r[3], r[0], r[1], batch_id, stamp, stamp) for i, r in enumerate(rows[1:])))
    conn.execute("COMMIT")
    conn.close()
    return time.perf_counter() - start


def bare_floor(path, folder):
    """Seconds for the stdlib to read the file and sqlite3 to executemany the same rows into a bare table."""
    database = Path(folder) / f"bare-{time.monotonic_ns()}.db"
    start = time.perf_counter()
    rows = _read(path)
    conn = sqlite3.connect(database)
    conn.execute(f"CREATE TABLE t ({', '.join(f'c{i} TEXT' for i in range(len(rows[0])))})")
    conn.executemany(f"INSERT INTO t VALUES ({', '.join('?' * len(rows[0]))})", rows[1:])
    conn.commit()
    conn.close()
    elapsed = time.perf_counter() - start
    database.unlink()
    return elapsed


def _read(path):
    return list(csv.reader(io.StringIO(Path(path).read_bytes().decode("utf-8"), newline="")))


def context(folder):
    """A fresh refurb database (SQLite) with a donor and an empty batch BENCH-M."""
    from refurb import config, i18n, services

    i18n.setup("en")
    url = f"sqlite:///{folder}/manifest-{time.monotonic_ns()}.db"
    settings = config.load(environ={"REFURB_HOME": str(folder)}).with_options(database_url=url)
    ctx = services.Context(settings, operator="Bench", station="bench-1")
    services.init(ctx)
    services.bootstrap_lead(ctx, "Bench")
    services.add_donor(ctx, "ACME")
    services.add_batch(ctx, "ACME", "BENCH-M")
    return ctx


def import_once(path, folder):
    """(seconds, report) of one import into a fresh database; `refurb audit verify` must accept the result."""
    from refurb import db, manifests, services

    ctx = context(folder)
    start = time.perf_counter()
    report = manifests.import_manifest(ctx, path, "BENCH-M")
    elapsed = time.perf_counter() - start
    audit = services.verify_audit(ctx)
    if not audit.ok or audit.devices != report["imported"]:
        raise RuntimeError(f"audit verify after the import: {audit.problems[:3]}")
    db.dispose_all()
    return elapsed, report


def peak_memory_mb(path):
    """Maximum RSS (MB) of a fresh process importing the file once."""
    code = ("import resource, sys, tempfile; from benchmarks import manifest\n"
            "with tempfile.TemporaryDirectory() as d:\n"
            "    manifest.import_once(sys.argv[1], d)\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n")
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1], check=True)
    return int(done.stdout.split()[-1]) / 1024  # Linux reports KiB


def run(args):
    """The figures: import and floor seconds (medians of interleaved rounds), their ratio, peak memory."""
    rows = getattr(args, "manifest_rows", None) or ROWS
    rounds = getattr(args, "manifest_rounds", None) or 3
    floors, bares, imports = [], [], []
    with tempfile.TemporaryDirectory(prefix="refurb-bench-manifest-") as folder:
        path = generate(Path(folder) / "donor.csv", rows)
        floor(path, folder)  # warm-up: the file in the page cache, the modules imported
        for _ in range(rounds):
            floors.append(floor(path, folder))
            bares.append(bare_floor(path, folder))
            seconds, report = import_once(path, folder)
            imports.append(seconds)
        peak = peak_memory_mb(path)
    imported, floored, bare = (statistics.median(x) for x in (imports, floors, bares))
    return {"rows": rows, "rounds": rounds, "import_s": imported, "floor_s": floored, "ratio": imported / floored,
            "bare_floor_s": bare, "bare_ratio": imported / bare, "budget_ratio": BUDGET_RATIO, "peak_mb": peak,
            "budget_mb": BUDGET_MB, "imports_s": imports, "floors_s": floors, "bare_floors_s": bares,
            "imported": report["imported"], "dropped_columns": report["dropped_columns"]}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", dest="manifest_rows", type=int, default=ROWS)
    p.add_argument("--rounds", dest="manifest_rounds", type=int, default=3)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    r = run(args)
    if args.json:
        print(json.dumps(r, indent=2))
    else:
        print(f"manifest import of {r['rows']} rows: {r['import_s']:.2f} s, floor {r['floor_s']:.2f} s, "
              f"{r['ratio']:.1f}× (budget {BUDGET_RATIO}×); peak memory {r['peak_mb']:.0f} MB (budget {BUDGET_MB} MB); "
              f"into a bare table the floor is {r['bare_floor_s']:.2f} s ({r['bare_ratio']:.1f}×)")
    return r


if __name__ == "__main__":
    main()
