"""Crash safety (issue 7 item 2): a refurb process killed with SIGKILL at any moment of a manifest import,
a wipe import, a label run or a station session leaves a consistent database, and running the same
command again finishes the job without duplicates."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import LEAD_PIN

from refurb import services

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT = ROOT.parent / "shared" / "external" / "erasure" / "devicehub-teal" / "erase-sectors-2-hdd.snapshot.yaml"


def refurb(ctx, *args, stdin=None):
    env = {**os.environ, "REFURB_DATABASE_URL": ctx.url, "REFURB_OPERATOR": "Sara", "REFURB_STATION": "bench-1",
           "REFURB_PIN": LEAD_PIN, "REFURB_LANG": "en"}
    return subprocess.Popen([sys.executable, "-m", "refurb.cli", *map(str, args)], cwd=ROOT, env=env,
                            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def kill_after(proc, seconds, stdin=None):
    if stdin is not None:
        try:
            proc.stdin.write(stdin)
            proc.stdin.flush()
        except BrokenPipeError:
            pass
    time.sleep(seconds)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def consistent(ctx):
    report = services.verify_audit(ctx)
    assert report.ok, report.problems
    if ctx.url.startswith("sqlite"):
        import sqlite3

        con = sqlite3.connect(ctx.url.split(":///", 1)[1])
        try:
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        finally:
            con.close()
    return report


@pytest.fixture
def batch(ctx):
    services.add_donor(ctx, "Acme NV")
    services.add_batch(ctx, "Acme NV", "B1")
    return "B1"


def test_a_killed_manifest_import_is_all_or_nothing_and_finishes_on_a_rerun(ctx, batch, tmp_path):
    rows = 6000
    path = tmp_path / "big.csv"
    path.write_text("serial,make,model\n" + "".join(f"SN{i:07d},HP,ProBook {i % 7}\n" for i in range(rows)))
    counts = set()
    for delay in (0.3, 0.9, 1.6, 2.4):
        kill_after(refurb(ctx, "intake", "manifest", path, "--batch", batch), delay)
        consistent(ctx)
        counts.add(len(services.list_devices(ctx)))
    assert counts <= {0, rows}  # never half an import
    done = refurb(ctx, "intake", "manifest", path, "--batch", batch, "--json")
    out, err = done.communicate(timeout=300)
    assert done.returncode == 0, err
    summary = json.loads(out)
    assert summary["imported"] + summary["unchanged"] == rows
    assert len(services.list_devices(ctx)) == rows
    consistent(ctx)


@pytest.mark.skipif(not SNAPSHOT.exists(), reason=f"{SNAPSHOT} is not there")
def test_a_killed_wipe_import_and_station_session_leave_no_duplicates(ctx, batch, tmp_path):
    tags, files = [], []
    text = SNAPSHOT.read_text(encoding="utf-8")
    for i in range(30):
        tag = services.register_device(ctx, batch, "desktop", "HP", "dc7900", f"CZC{i:06d}")["tag"]
        a, b = f"WD-A{i:05d}", f"WD-B{i:05d}"
        services.add_medium(ctx, tag, "hdd", a, 320072933376)
        services.add_medium(ctx, tag, "hdd", b, 320072933376)
        path = tmp_path / f"erasure-{i}.json"
        path.write_text(text.replace("WD-WCAV29008961", a).replace("WD-WCAV27984668", b), encoding="utf-8")
        files.append(path)
        tags.append(tag)
    scans = "".join(f"{t}\n" for t in tags).encode()
    for delay in (0.4, 1.2):
        kill_after(refurb(ctx, "station", "wipe", stdin=True), delay, scans)
        consistent(ctx)
        kill_after(refurb(ctx, "wipe", "import", *files), delay)
        consistent(ctx)
    done = refurb(ctx, "station", "wipe", "--json", stdin=True)
    done.communicate(scans, timeout=300)
    done = refurb(ctx, "wipe", "import", *files, "--json")
    out, err = done.communicate(timeout=300)
    assert done.returncode == 0, err
    consistent(ctx)
    for tag in tags:
        shown = services.show(ctx, tag)
        assert [len(m["wipes"]) for m in shown["media"]] == [1, 1]  # each erasure recorded once
        assert sum(1 for e in shown["events"] if e["action"] == "start_wipe") == 1


def test_a_killed_label_run_leaves_no_half_pdf_and_reprints_the_pending(ctx, batch, tmp_path):
    for i in range(300):
        services.register_device(ctx, batch, "laptop", "HP", "ProBook", f"LB{i:05d}")
    out = tmp_path / "labels.pdf"
    for delay in (0.5, 1.0):
        kill_after(refurb(ctx, "labels", "print", "--pending", "--template", "avery-l7160", "--out", out), delay)
        consistent(ctx)
        if out.exists():  # written atomically: a PDF at `out` is always a whole one
            assert out.read_bytes().rstrip().endswith(b"%%EOF")
    done = refurb(ctx, "labels", "print", "--pending", "--template", "avery-l7160", "--out", out, "--json")
    stdout, err = done.communicate(timeout=300)
    assert done.returncode == 0, err
    printed = json.loads(stdout)["devices"]
    again = refurb(ctx, "labels", "print", "--pending", "--template", "avery-l7160", "--out", tmp_path / "b.pdf",
                   "--json")
    stdout, err = again.communicate(timeout=300)
    assert json.loads(stdout)["labels"] == 0
    assert printed <= 300 and consistent(ctx).events >= 300 + printed
