"""Four station processes scanning into one database at once (issue 7 item 1): every scan is accounted
for, nobody sees "database is locked", and no two scans break an invariant (one wipe start per device,
one loan per device).  REFURB_RACE_SCANS=2500 gives the issue's full size; the suite runs a smaller one."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import LEAD_PIN
from test_lending import ready_device

from refurb import services

SCANS = int(os.environ.get("REFURB_RACE_SCANS", "120"))
WORKERS = 4

# argv: url, who, go-file, mode, then the codes to scan.  Prints one JSON line with what each scan did.
WORKER = r"""
import json, sys, time
from pathlib import Path
from refurb import config, i18n, services
from refurb.station import Station

url, who, go, mode, codes = sys.argv[1], sys.argv[2], Path(sys.argv[3]), sys.argv[4], sys.argv[5:]
i18n.setup("en")
ctx = services.Context(config.load().with_options(database_url=url), operator=who, station=who + "-bench")
services.list_devices(ctx, limit=1)
station = Station(ctx, "wipe") if mode == "wipe" else None
Path(f"{go}.{who}.ready").touch()
while not go.exists():
    time.sleep(0.001)
start, results = time.time(), []
for code in codes:
    if mode == "wipe":
        o = station.handle(code)
        results.append({"code": code, "ok": o.ok, "code_": o.code, "message": o.message})
    else:  # every worker lends the same devices, each to its own borrower
        try:
            services.loan_out(ctx, code, "B-" + who)
            results.append({"code": code, "ok": True})
        except services.RefurbError as exc:
            results.append({"code": code, "ok": False, "code_": exc.code, "message": exc.message})
print(json.dumps({"who": who, "results": results, "start": start, "end": time.time()}))
"""


def race(url, tmp_path, mode, codes):
    go = tmp_path / f"go-{mode}"
    env = {**os.environ, "REFURB_PIN": LEAD_PIN}
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, url, f"w{k}", str(go), mode, *codes],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for k in range(WORKERS)]
    deadline = time.monotonic() + 120
    while not all(Path(f"{go}.w{k}.ready").exists() for k in range(WORKERS)):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs), "a worker did not start"
        time.sleep(0.01)
    go.touch()
    reports = []
    for p in procs:
        out, err = p.communicate(timeout=900)
        assert "database is locked" not in out + err and "Traceback" not in err, err
        assert p.returncode == 0, err
        reports.append(json.loads(out))
    assert max(r["start"] for r in reports) < min(r["end"] for r in reports)  # they really overlapped
    return reports


@pytest.fixture
def shelf(ctx):
    services.add_donor(ctx, "Acme NV")
    services.add_batch(ctx, "Acme NV", "B1")
    services.add_digipunt(ctx, "Gent Zuid")
    return ctx


def test_four_wipe_stations_scan_the_same_devices(shelf, tmp_path):
    ctx = shelf
    tags = []
    for i in range(SCANS // 4):
        tags.append(services.register_device(ctx, "B1", "laptop", "HP", "ProBook", f"SN{i:05d}")["tag"])
        services.add_medium(ctx, tags[-1], "hdd", f"D{i:05d}")
    codes = [tags[i % len(tags)] for i in range(SCANS)]  # each device scanned by every station, 4× in all
    reports = race(ctx.url, tmp_path, "wipe", codes)
    results = [x for r in reports for x in r["results"]]
    assert len(results) == WORKERS * SCANS  # every scan accounted for
    assert all(x["ok"] for x in results), [x for x in results if not x["ok"]][:3]
    for tag in tags:
        shown = services.show(ctx, tag)
        assert shown["state"] == "wiping"
        assert sum(1 for e in shown["events"] if e["action"] == "start_wipe") == 1
    assert services.verify_audit(ctx).ok


def test_four_desks_lending_the_same_devices_lend_each_once(shelf, tmp_path):
    ctx = shelf
    tags = [ready_device(ctx, f"L{i:04d}") for i in range(max(4, SCANS // 24))]
    services.allocate_many(ctx, "Gent Zuid", batch="B1")
    reports = race(ctx.url, tmp_path, "loan", tags)
    results = [x for r in reports for x in r["results"]]
    assert len(results) == WORKERS * len(tags)
    assert sum(x["ok"] for x in results) == len(tags)  # exactly one desk got each device
    refused = {x["code_"] for x in results if not x["ok"]}
    assert refused <= {"conflict", "transition-refused"}, refused
    for tag in tags:
        assert services.show(ctx, tag)["state"] == "on_loan"
    from sqlalchemy import func, select

    from refurb.models import Loan

    with services.reading(ctx) as s:
        open_loans = s.exec(select(Loan.device_id, func.count()).where(Loan.returned_at.is_(None))
                            .group_by(Loan.device_id)).all()
    assert len(open_loans) == len(tags) and {n for _d, n in open_loans} == {1}
    assert services.verify_audit(ctx).ok
