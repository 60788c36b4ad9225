"""(d) `refurb audit verify`: the whole hash chain and the replay of every device, per 1 000 events.

Floor: read every event row in id order and SHA-256 it, in plain Python over the bare driver:
the least a chain check can do.  The CLI's whole run (start-up included) is measured too.
"""

import hashlib
import os
import subprocess
import time

from refurb import db, services

from .startup import refurb_command


def verify(ctx):
    """(seconds, events, devices) of services.verify_audit; raises when the history is not intact."""
    start = time.perf_counter()
    report = services.verify_audit(ctx)
    elapsed = time.perf_counter() - start
    if not report.ok:
        raise RuntimeError("the benchmark database fails refurb audit verify: " + "; ".join(report.problems[:3]))
    return elapsed, report.events, report.devices


def floor(url):
    """Seconds to read and hash every event row with the bare driver."""
    url = db.normalise_url(url)
    start = time.perf_counter()
    if db.is_sqlite(url):
        import sqlite3

        conn = sqlite3.connect(url.split(":///", 1)[1])
        rows = conn.execute("SELECT * FROM event ORDER BY id")
    else:
        import psycopg

        conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1))
        rows = conn.cursor(name="bench_scan")
        rows.itersize = 5000
        rows.execute("SELECT * FROM event ORDER BY id")
    prev = "0" * 64
    for row in rows:
        prev = hashlib.sha256((prev + repr(row)).encode("utf-8")).hexdigest()
    conn.close()
    return time.perf_counter() - start


def cli(url, home):
    """Wall seconds of `refurb --db URL audit verify` in a fresh process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REFURB_")}
    env.update(REFURB_HOME=str(home), REFURB_LANG="en")
    start = time.perf_counter()
    run = subprocess.run(refurb_command() + ["--db", url, "audit", "verify"], capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    if run.returncode:
        raise RuntimeError(f"refurb audit verify exited {run.returncode}: {run.stderr.strip()}")
    return elapsed
