"""Several OS processes writing to one database at the same time lose nothing.

Each worker is a separate Python process with its own engine and connections; they start
together on a signal file, so their writes interleave for real (the test checks they overlapped).
"""

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from refurb import config, db, services, tags

BATCH = "B-RACE"
REFURB = Path(sys.executable).with_name("refurb")

# argv: url, operator, first, count, go-file, mode.  Prints one JSON line: its tags and when it ran.
WORKER = r"""
import json, sys, time
from pathlib import Path
from refurb import config, i18n, services

url, who, first, count, go, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), Path(sys.argv[5]), sys.argv[6]
i18n.setup("en")
ctx = services.Context(config.load().with_options(database_url=url), operator=who, station=who + "-bench")
services.list_devices(ctx, limit=1)  # connected and schema checked before the start signal
Path(f"{go}.{who}.ready").touch()
while not go.exists():
    time.sleep(0.001)
start = time.time()
done = []
for i in range(first, first + count):
    if mode == "register":
        d = services.register_device(ctx, "B-RACE", "laptop", make="Dell", serial=f"{who}-{i:04d}")
        services.add_medium(ctx, d["tag"], "hdd", f"{who}-D{i:04d}", 500_000_000_000)
    elif mode == "media":  # every worker records the same medium on the same devices
        d = services.add_medium(ctx, f"SHARED-{i:04d}", "nvme", f"M-{i:04d}")
    else:  # ... and then a passing wipe of it
        d = services.record_wipe(ctx, f"SHARED-{i:04d}", f"M-{i:04d}", "nvme-sanitize", "pass")
    done.append(d["tag"])
print(json.dumps({"who": who, "tags": done, "start": start, "end": time.time()}))
"""


def context(url, operator="Sara"):
    return services.Context(config.load().with_options(database_url=url), operator=operator, station="bench-1")


def race(url, tmp_path, workers, count, mode="register"):
    """Run `workers` processes at once; returns their reports.  Fails on any error output."""
    go = tmp_path / f"go-{mode}"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, url, f"w{k}", "0", str(count), str(go), mode],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy(),
        )
        for k in range(workers)
    ]
    deadline = time.monotonic() + 120
    while not all(Path(f"{go}.w{k}.ready").exists() for k in range(workers)):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs), "a worker did not get ready"
        time.sleep(0.01)
    go.touch()
    reports = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert "database is locked" not in err + out
        assert (p.returncode, err) == (0, "")
        reports.append(json.loads(out))
    # the workers really ran at the same time
    assert max(r["start"] for r in reports) < min(r["end"] for r in reports)
    return reports


def events_by_action(url):
    with db.engine_for(url).connect() as conn:
        return Counter(dict(conn.execute(sa.text("SELECT action, count(*) FROM event GROUP BY action")).all()))


def chain_head(url):
    with db.engine_for(url).connect() as conn:
        return conn.execute(sa.text("SELECT count, last_event_id FROM chain_head WHERE id = 1")).one()


def assert_audit_clean(ctx, events, devices):
    report = services.verify_audit(ctx)
    assert report.problems == []
    assert (report.events, report.devices) == (events, devices)
    assert tuple(chain_head(ctx.url)) == (events, events)


@pytest.fixture
def sqlite_ctx(tmp_path, home):
    ctx = context(f"sqlite:///{tmp_path}/shared.db")
    services.init(ctx)
    services.bootstrap_lead(ctx, "Sara")
    services.add_donor(ctx, "Acme NV")
    services.add_batch(ctx, "Acme NV", ref=BATCH)
    yield ctx
    db.dispose_all()


@pytest.fixture
def pg_ctx(pg_schema_url, home):
    ctx = context(pg_schema_url)
    services.init(ctx)
    services.bootstrap_lead(ctx, "Sara")
    services.add_donor(ctx, "Acme NV")
    services.add_batch(ctx, "Acme NV", ref=BATCH)
    return ctx


def check_registrations(ctx, reports, workers, count, before):
    devices = services.list_devices(ctx, batch=BATCH)
    assert len(devices) == workers * count
    all_tags = [d["tag"] for d in devices]
    assert len(set(all_tags)) == len(all_tags)
    assert all(tags.parse(t)[2] == t for t in all_tags)
    assert sorted(all_tags) == sorted(t for r in reports for t in r["tags"])
    assert sorted(d["serial"] for d in devices) == sorted(f"w{k}-{i:04d}" for k in range(workers) for i in range(count))
    for d in devices:
        who, _dash, number = d["serial"].partition("-")
        assert [(m["serial"], m["type"]) for m in d["media"]] == [(f"{who}-D{number}", "hdd")]
        assert d["state"] == "intake"
    # the tag sequence has no holes and no repeats: 1 … N
    assert sorted(tags.parse(t)[1] for t in all_tags) == sorted(
        _issuable_numbers("RB", workers * count))
    events = events_by_action(ctx.url)
    assert events["register"] == events["media_added"] == workers * count
    assert sum(events.values()) == before + 2 * workers * count
    assert_audit_clean(ctx, before + 2 * workers * count, workers * count)


def _issuable_numbers(prefix, n):
    out, number = [], 1
    while len(out) < n:
        number = tags.next_number(prefix, number)
        out.append(number)
        number += 1
    return out


def test_three_processes_register_into_one_sqlite_file(sqlite_ctx, tmp_path):
    before = sum(events_by_action(sqlite_ctx.url).values())
    reports = race(sqlite_ctx.url, tmp_path, workers=3, count=100)
    check_registrations(sqlite_ctx, reports, 3, 100, before)
    with db.engine_for(sqlite_ctx.url).connect() as conn:
        assert conn.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
    assert {o["name"]: o["role"] for o in services.list_operators(sqlite_ctx)} == {
        "Sara": "lead", "w0": "volunteer", "w1": "volunteer", "w2": "volunteer"}


def _same_devices(ctx, tmp_path, workers, count):
    for i in range(count):
        services.register_device(ctx, BATCH, "laptop", serial=f"SHARED-{i:04d}")
    before = sum(events_by_action(ctx.url).values())
    added = race(ctx.url, tmp_path, workers=workers, count=count, mode="media")
    assert len(set(t for r in added for t in r["tags"])) == count
    race(ctx.url, tmp_path, workers=workers, count=count, mode="wipe")
    for d in services.list_devices(ctx, batch=BATCH):
        card = services.show(ctx, d["tag"])
        assert card["state"] == "wiped"
        assert [m["serial"] for m in card["media"]] == [f"M-{d['serial'][-4:]}"]
        actions = Counter(e["action"] for e in card["events"])
        assert actions == Counter({"register": 1, "media_added": 1, "wipe_recorded": workers, "queue_wipe": 1,
                                   "start_wipe": 1, "finish_wipe": 1})
    written = count * (1 + workers + 3)
    assert sum(events_by_action(ctx.url).values()) == before + written
    assert_audit_clean(ctx, before + written, count)


def test_three_processes_move_the_same_devices_in_sqlite(sqlite_ctx, tmp_path):
    """Each worker adds the same medium to the same 30 devices, then records a wipe of it: one
    medium, one event per transition, every wipe record kept."""
    _same_devices(sqlite_ctx, tmp_path, workers=3, count=30)


def test_cli_processes_register_at_the_same_time(sqlite_ctx, tmp_path):
    """The installed `refurb` command, three at a time: every process opens its own connection."""
    env = {**os.environ, "REFURB_DATABASE_URL": sqlite_ctx.url, "REFURB_STATION": "bench-2"}
    tags_seen = []
    for rnd in range(4):
        procs = [
            subprocess.Popen(
                [str(REFURB), "intake", "add", "--batch", BATCH, "--kind", "tablet", "--serial", f"CLI-{rnd}-{k}",
                 "--operator", f"c{k}", "--json"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
            )
            for k in range(3)
        ]
        for p in procs:
            out, err = p.communicate(timeout=60)
            assert (p.returncode, err) == (0, "")
            tags_seen.append(json.loads(out)["tag"])
    devices = services.list_devices(sqlite_ctx, batch=BATCH)
    assert sorted(d["tag"] for d in devices) == sorted(tags_seen)
    assert len(set(tags_seen)) == 12
    assert services.verify_audit(sqlite_ctx).ok


@pytest.mark.postgres
def test_two_processes_register_into_one_postgres_schema(pg_ctx, tmp_path):
    before = sum(events_by_action(pg_ctx.url).values())
    reports = race(pg_ctx.url, tmp_path, workers=2, count=50)
    check_registrations(pg_ctx, reports, 2, 50, before)


@pytest.mark.postgres
def test_two_processes_move_the_same_devices_in_postgres(pg_ctx, tmp_path):
    _same_devices(pg_ctx, tmp_path, workers=2, count=20)


def test_repeating_a_medium_after_another_station_wiped_it_is_a_no_op(sqlite_ctx):
    """The race above, in order: station 1 records medium M and its wipe, station 2 then records M too."""
    tag = services.register_device(sqlite_ctx, BATCH, "laptop", serial="LATE-1")["tag"]
    services.add_medium(sqlite_ctx, tag, "nvme", "M-LATE")
    services.record_wipe(sqlite_ctx, tag, "M-LATE", "nvme-sanitize", "pass")
    again = services.add_medium(context(sqlite_ctx.url, "Bram"), tag, "nvme", "M-LATE")
    assert again == {"tag": tag, "serial": "M-LATE", "type": "nvme", "noop": True}
