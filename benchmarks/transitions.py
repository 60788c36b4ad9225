"""(b, c) Single-device transitions as a station makes them, against a bare write on the same database.

One round per sampled device: `reimage` (wiped → imaged), `record_qc --pass` (imaged → ready) and
`allocate` (ready → allocated), each through refurb.services exactly as the CLI and the station call
it: resolve the tag, gather the facts, plan, write the record and the events, commit.  After every
refurb transition one floor write runs on the same database file or schema, so both see the same
cache, disk and machine load: SQLite `BEGIN IMMEDIATE; INSERT; COMMIT` in WAL mode with refurb's
pragmas, PostgreSQL `BEGIN; INSERT; COMMIT` over its own connection.
"""

import sqlite3
import time

from refurb import services

from .population import DIGIPUNT

STEPS = (
    ("reimage", "imaged", lambda ctx, tag: services.reimage(ctx, tag, "linux-mint")),
    ("qc", "ready", lambda ctx, tag: services.record_qc(ctx, tag, True, {}, "B")),
    ("allocate", "allocated", lambda ctx, tag: services.allocate(ctx, tag, DIGIPUNT)),
)
FLOOR_TABLE = "bench_floor"


class SqliteFloor:
    def __init__(self, path):
        self.conn = sqlite3.connect(path, isolation_level=None, timeout=60)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=60000"):
            self.conn.execute(f"PRAGMA {pragma}")
        self.conn.execute(f"CREATE TABLE IF NOT EXISTS {FLOOR_TABLE} (id INTEGER PRIMARY KEY, payload TEXT)")

    def write(self):
        start = time.perf_counter()
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.execute(f"INSERT INTO {FLOOR_TABLE} (payload) VALUES (?)", ("floor",))
        self.conn.execute("COMMIT")
        return time.perf_counter() - start

    def close(self):
        self.conn.close()


class PostgresFloor:
    def __init__(self, url):
        import psycopg

        self.conn = psycopg.connect(url, autocommit=True)
        self.conn.execute(f"CREATE TABLE IF NOT EXISTS {FLOOR_TABLE} (id bigserial PRIMARY KEY, payload text)")

    def write(self):
        start = time.perf_counter()
        with self.conn.transaction():
            self.conn.execute(f"INSERT INTO {FLOOR_TABLE} (payload) VALUES (%s)", ("floor",))
        return time.perf_counter() - start

    def close(self):
        self.conn.close()


def measure(ctx, tag_list, floor, warmup=5):
    """{step: [wall seconds …], step + "_cpu": [CPU seconds of this process …], "all": …, "all_cpu": …,
    "floor": …} over the devices of tag_list.

    The first `warmup` devices are not counted (first use of catalogues, caches and connections)."""
    times = {name + suffix: [] for name, _state, _fn in STEPS for suffix in ("", "_cpu")}
    times.update(all=[], all_cpu=[], floor=[])
    for n, tag in enumerate(tag_list):
        for name, state, fn in STEPS:
            cpu, start = time.process_time(), time.perf_counter()
            result = fn(ctx, tag)
            elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
            if result["state"] != state or result.get("noop"):
                raise RuntimeError(f"{tag}: {name} left it in {result['state']} (expected {state}): the set-up is wrong")
            floor_elapsed = floor.write()
            if n >= warmup:
                times[name].append(elapsed)
                times[name + "_cpu"].append(cpu)
                times["all"].append(elapsed)
                times["all_cpu"].append(cpu)
                times["floor"].append(floor_elapsed)
    return times
