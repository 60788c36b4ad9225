"""The history cannot be cheated: the database refuses UPDATE and DELETE on events, and
`refurb audit verify` finds what was changed behind refurb's back once the triggers are gone.
Runs on a SQLite file and on PostgreSQL; the tampering is raw SQL through refurb.db.engine_for."""

import json
import re
import shutil
import subprocess
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from refurb import db, services

DONOR = "Acme NV"
BATCH = "ACME-1"
DIGIPUNT = "Gent Zuid"
# narrow the parametrised `db_url` fixture to one database for the tests that are about one
ONLY_SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
ONLY_POSTGRES = pytest.mark.parametrize("db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)


def sql(ctx, statement, **params):
    with db.engine_for(ctx.url).begin() as conn:
        return conn.execute(text(statement), params)


def scalar(ctx, statement, **params):
    with db.engine_for(ctx.url).connect() as conn:
        return conn.execute(text(statement), params).scalar()


def event_rows(ctx):
    with db.engine_for(ctx.url).connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT * FROM event ORDER BY id"))]


def is_sqlite(ctx):
    return db.is_sqlite(db.normalise_url(ctx.url))


def run(cli, *args):
    r = cli(*args)
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert "Traceback" not in r.output
    return r


@pytest.fixture
def history(ctx):
    """Two laptops: one lent out and back, one still in intake; then a donor added last.

    Returns {'lent': tag, 'fresh': tag, 'events': {action: id of its first event on the lent laptop}}."""
    services.add_donor(ctx, DONOR)
    services.add_batch(ctx, DONOR, ref=BATCH)
    services.add_digipunt(ctx, DIGIPUNT)
    lent = services.register_device(ctx, BATCH, "laptop", "Lenovo", "T480", serial="PF1ABC23")["tag"]
    services.add_medium(ctx, lent, "nvme", "S3Z9NX0K")
    services.record_wipe(ctx, lent, "S3Z9NX0K", "nvme-sanitize", "pass")
    services.reimage(ctx, lent, "linux-mint")
    services.record_qc(ctx, lent, True, grade="A")
    services.allocate(ctx, lent, DIGIPUNT)
    services.loan_out(ctx, lent, "GZ-0042")
    services.loan_return(ctx, lent, "ok")
    fresh = services.register_device(ctx, BATCH, "desktop", "Dell", "OptiPlex 7050", serial="DL7050")["tag"]
    services.add_donor(ctx, "Globex")  # the newest event belongs to no device
    ids = {}
    for e in services.show(ctx, lent)["events"]:
        ids.setdefault(e["action"], e["id"])
    return {"lent": lent, "fresh": fresh, "events": ids}


@pytest.fixture
def unguarded(ctx, history):
    """The append-only triggers dropped, as someone with direct database access could."""
    if is_sqlite(ctx):
        sql(ctx, "DROP TRIGGER event_no_update")
        sql(ctx, "DROP TRIGGER event_no_delete")
    else:
        sql(ctx, "DROP TRIGGER event_append_only ON event")
    return history


def verify(cli):
    r = run(cli, "audit", "verify")
    return r, r.stderr.splitlines()


def verify_json(cli):
    r = run(cli, "audit", "verify", "--json")
    return r, json.loads(r.stdout)


# ---------------------------------------------------------------------------- the database refuses


REFUSED = [
    "UPDATE event SET data = '{}' WHERE id = :id",
    "UPDATE event SET operator = 'Mallory' WHERE id = :id",
    "UPDATE event SET id = id + 1000 WHERE id = :id",
    "UPDATE event SET to_state = 'ready'",
    "DELETE FROM event WHERE id = :id",
    "DELETE FROM event",
]


@pytest.mark.parametrize("statement", REFUSED)
def test_the_database_refuses_to_change_events(ctx, history, statement):
    before = event_rows(ctx)
    target = history["events"]["qc_pass"]
    with pytest.raises(DBAPIError, match="append-only"):
        sql(ctx, statement, id=target)
    assert event_rows(ctx) == before


@ONLY_POSTGRES
def test_postgresql_refuses_truncate(ctx, history):
    before = event_rows(ctx)
    with pytest.raises(DBAPIError, match="append-only"):
        sql(ctx, "TRUNCATE event")
    assert event_rows(ctx) == before


def test_appending_is_still_allowed(ctx, history):
    before = len(event_rows(ctx))
    services.add_donor(ctx, "Initech")
    assert len(event_rows(ctx)) == before + 1


# ---------------------------------------------------------------------------- audit verify: intact


def test_verify_passes_on_an_intact_history(cli, ctx, history):
    events = scalar(ctx, "SELECT count(*) FROM event")
    devices = scalar(ctx, "SELECT count(*) FROM device")
    assert (events, devices) == (len(event_rows(ctx)), 2)
    r, lines = verify(cli)
    assert (r.exit_code, lines) == (0, [])
    assert r.stdout == f"✔ history intact: {events} events, {devices} devices, every state matches its events\n"

    r, report = verify_json(cli)
    assert r.exit_code == 0
    assert report == {"ok": True, "events": events, "devices": devices, "problems": []}


def test_verify_passes_on_a_fresh_database(cli, ctx):
    r, report = verify_json(cli)
    assert r.exit_code == 0
    assert report["ok"] is True and report["problems"] == [] and report["devices"] == 0


# ---------------------------------------------------------------------------- audit verify: tampering found


CHANGES = {
    "data": "UPDATE event SET data = :forged WHERE id = :id",
    "operator": "UPDATE event SET operator = 'Mallory' WHERE id = :id",
    "station": "UPDATE event SET station = 'elsewhere' WHERE id = :id",
    "forced": "UPDATE event SET forced = 'nobody will notice' WHERE id = :id",
    "device": "UPDATE event SET device_id = NULL WHERE id = :id",
}


@pytest.mark.parametrize("column", CHANGES)
def test_a_changed_event_is_named(cli, ctx, unguarded, column):
    target = unguarded["events"]["qc_pass"]
    sql(ctx, CHANGES[column], id=target, forged='{"result":"pass","forged":true}')
    r, lines = verify(cli)
    assert r.exit_code != 0
    assert r.stdout == ""
    assert lines[0] == "error: audit-failed"
    assert lines[1] == f"× event {target}: its content was changed after it was written"
    assert lines[-1].startswith("hint: ")

    r, report = verify_json(cli)
    assert r.exit_code != 0
    assert report["ok"] is False
    assert report["problems"][0] == f"event {target}: its content was changed after it was written"


def test_a_deleted_middle_event_is_named(cli, ctx, unguarded):
    target = unguarded["events"]["reimage"]
    sql(ctx, "DELETE FROM event WHERE id = :id", id=target)
    r, lines = verify(cli)
    assert r.exit_code != 0
    assert lines[0] == "error: audit-failed"
    assert lines[1].startswith("× event ")
    assert re.search(rf"\b{target}\b", lines[1]), lines[1]
    assert "missing" in lines[1] or "deleted" in lines[1]
    _r, report = verify_json(cli)
    assert report["ok"] is False and re.search(rf"\b{target}\b", report["problems"][0])


def test_a_deleted_non_transition_event_is_found_too(cli, ctx, unguarded):
    # no state depends on it: only the chain can tell
    target = unguarded["events"]["media_added"]
    sql(ctx, "DELETE FROM event WHERE id = :id", id=target)
    r, lines = verify(cli)
    assert r.exit_code != 0
    assert re.search(rf"\b{target}\b", lines[1]), lines[1]


def test_a_deleted_newest_event_is_found(cli, ctx, unguarded):
    newest = scalar(ctx, "SELECT max(id) FROM event")
    assert scalar(ctx, "SELECT device_id FROM event WHERE id = :id", id=newest) is None  # the donor added last
    sql(ctx, "DELETE FROM event WHERE id = :id", id=newest)
    r, lines = verify(cli)
    assert r.exit_code != 0
    assert lines[0] == "error: audit-failed"
    assert "newest" in lines[1] and "missing" in lines[1]
    _r, report = verify_json(cli)
    assert report["ok"] is False and report["events"] == newest - 1


def test_deleting_the_newest_transitions_of_a_device_is_found(cli, ctx, unguarded):
    newest = scalar(ctx, "SELECT max(id) FROM event WHERE device_id IS NOT NULL")
    sql(ctx, "DELETE FROM event WHERE id >= :id", id=newest)
    r, lines = verify(cli)
    assert r.exit_code != 0
    _r, report = verify_json(cli)
    assert any("newest" in p for p in report["problems"])
    assert any(unguarded["fresh"] in p and "replay" in p for p in report["problems"])


def _swap(ctx, a, b, columns):
    with db.engine_for(ctx.url).begin() as conn:
        rows = {r.id: r._mapping for r in conn.execute(text("SELECT * FROM event WHERE id IN (:a, :b)"),
                                                          {"a": a, "b": b})}
        sets = ", ".join(f"{c} = :{c}" for c in columns)
        conn.execute(text("UPDATE event SET hash = :tmp WHERE id = :id"), {"tmp": "tmp-" + uuid.uuid4().hex, "id": a})
        for target, source in ((b, a), (a, b)):
            values = {c: rows[source][c] for c in columns}
            conn.execute(text(f"UPDATE event SET {sets} WHERE id = :where_id"), {**values, "where_id": target})


CONTENT = ("device_id", "action", "from_state", "to_state", "operator", "station", "at", "recorded_at", "data",
           "forced", "prev_hash", "hash")


def test_two_events_swapped_are_found(cli, ctx, unguarded):
    """Reorder: two neighbours exchange their whole content (each keeps its place in the id sequence)."""
    a, b = unguarded["events"]["reimage"], unguarded["events"]["qc_pass"]
    assert b == a + 1
    _swap(ctx, a, b, CONTENT)
    r, lines = verify(cli)
    assert r.exit_code != 0
    assert lines[0] == "error: audit-failed"
    assert lines[1].startswith(f"× event {a}:"), lines[1]


def test_two_events_with_swapped_ids_are_found(cli, ctx, unguarded):
    """Reorder: the ids are exchanged and everything else stays, so the rows come back in the other order."""
    a, b = unguarded["events"]["reimage"], unguarded["events"]["qc_pass"]
    with db.engine_for(ctx.url).begin() as conn:
        conn.execute(text("UPDATE event SET id = -1 WHERE id = :a"), {"a": a})
        conn.execute(text("UPDATE event SET id = :a WHERE id = :b"), {"a": a, "b": b})
        conn.execute(text("UPDATE event SET id = :b WHERE id = -1"), {"b": b})
    r, lines = verify(cli)
    assert r.exit_code != 0
    assert lines[1].startswith(f"× event {a}:"), lines[1]


def test_a_device_state_changed_behind_the_tools_back_is_found(cli, ctx, history):
    fresh = history["fresh"]
    sql(ctx, "UPDATE device SET state = 'ready' WHERE tag = :tag", tag=fresh)  # the device table has no trigger
    r, lines = verify(cli)
    assert r.exit_code != 0
    assert lines[:2] == ["error: audit-failed", f"× device {fresh}: state ready but its events replay to intake"]
    _r, report = verify_json(cli)
    assert report["problems"] == [f"device {fresh}: state ready but its events replay to intake"]


def test_a_forged_event_with_a_valid_hash_but_an_illegal_step_is_found(cli, ctx, history):
    """Someone who knows the hash recipe appends intake → ready and moves the chain head along:
    the chain holds, but the step is not in the lifecycle table."""
    from datetime import UTC, datetime

    from refurb.models import Event

    fresh = history["fresh"]
    device_id = scalar(ctx, "SELECT id FROM device WHERE tag = :tag", tag=fresh)
    head = scalar(ctx, "SELECT hash FROM chain_head WHERE id = 1")
    new_id = scalar(ctx, "SELECT max(id) FROM event") + 1
    t = datetime.now(UTC)
    e = Event(id=new_id, device_id=device_id, action="qc_pass", from_state="intake", to_state="ready",
              operator="Mallory", station="bench-1", at=t, recorded_at=t, data="{}", forced=None, prev_hash=head,
              hash="")
    e.hash = services.event_hash(head, e)
    sql(ctx, "INSERT INTO event (id, device_id, action, from_state, to_state, operator, station, at, recorded_at, "
             "data, forced, prev_hash, hash) VALUES (:id, :device_id, :action, :from_state, :to_state, :operator, "
             ":station, :at, :recorded_at, :data, :forced, :prev_hash, :hash)",
        **{c: getattr(e, c) for c in ("id", "device_id", "action", "from_state", "to_state", "operator", "station",
                                      "at", "recorded_at", "data", "forced", "prev_hash", "hash")})
    sql(ctx, "UPDATE chain_head SET hash = :h, count = count + 1, last_event_id = :id WHERE id = 1", h=e.hash, id=new_id)
    sql(ctx, "UPDATE device SET state = 'ready' WHERE id = :id", id=device_id)
    r, lines = verify(cli)
    assert r.exit_code != 0
    assert lines[1].startswith(f"× event {new_id}: ") and "not a legal step" in lines[1], lines[1]


# ---------------------------------------------------------------------------- backup


@ONLY_SQLITE
def test_sqlite_backup_is_a_working_refurb_database(cli, ctx, history, tmp_path):
    dest = tmp_path / "copies" / "refurb-backup.db"
    r = run(cli, "db", "backup", str(dest))
    assert r.exit_code == 0, r.stderr
    assert r.stdout.startswith(f"✔ backup written to {dest} (")
    assert dest.is_file() and not dest.with_name(dest.name + ".part").exists()
    events = scalar(ctx, "SELECT count(*) FROM event")

    services.add_donor(ctx, "After the backup")  # the original moves on; the copy does not

    r = run(cli, "--db", str(dest), "audit", "verify", "--json")
    assert r.exit_code == 0, r.stdout
    assert json.loads(r.stdout) == {"ok": True, "events": events, "devices": 2, "problems": []}
    r = run(cli, "--db", str(dest), "show", history["lent"], "--json")
    assert json.loads(r.stdout)["state"] == "wipe_pending"
    # the copy keeps the append-only triggers
    with pytest.raises(DBAPIError, match="append-only"):
        with db.engine_for(f"sqlite:///{dest}").begin() as conn:
            conn.execute(text("DELETE FROM event"))

    r = run(cli, "db", "backup", str(dest))
    assert r.exit_code == 1
    assert r.stderr.splitlines()[:2] == ["error: conflict", f"× {dest} exists already"]


def test_backup_json(cli, ctx, history, tmp_path):
    if not is_sqlite(ctx) and not shutil.which("pg_dump"):
        pytest.skip("pg_dump is not installed (apt-get install postgresql-client)")
    import hashlib

    dest = tmp_path / "b.dump"
    r = run(cli, "db", "backup", str(dest), "--json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out == {"file": str(dest), "size": dest.stat().st_size, "sha256": hashlib.sha256(dest.read_bytes()).hexdigest()}


@ONLY_POSTGRES
def test_postgresql_backup_uses_pg_dump_and_restores(cli, ctx, history, tmp_path):
    if not shutil.which("pg_dump") or not shutil.which("pg_restore"):
        pytest.skip("pg_dump/pg_restore are not installed (apt-get install postgresql-client)")
    import psycopg
    from sqlalchemy.engine import make_url

    dest = tmp_path / "refurb.pgdump"
    r = run(cli, "db", "backup", str(dest))
    assert r.exit_code == 0, r.stderr
    assert dest.read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format
    events = scalar(ctx, "SELECT count(*) FROM event")

    # restore the refurb schema into a fresh database and verify the copy there
    url = make_url(db.normalise_url(ctx.url))
    schema = re.search(r"search_path=(\w+)", url.query["options"]).group(1)
    server = url.set(drivername="postgresql", query={})
    name = "refurb_restore_" + uuid.uuid4().hex[:10]
    admin = server.render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        target = server.set(database=name).render_as_string(hide_password=False)
        with psycopg.connect(target, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        restore = subprocess.run(["pg_restore", "--no-owner", "--schema", schema, "--dbname", target, str(dest)],
                                 capture_output=True, text=True)
        assert restore.returncode == 0, restore.stderr
        copy_url = f"{target}?options=-csearch_path%3D{schema}"
        r = run(cli, "--db", copy_url, "audit", "verify", "--json")
        assert r.exit_code == 0, r.stdout + r.stderr
        assert json.loads(r.stdout) == {"ok": True, "events": events, "devices": 2, "problems": []}
    finally:
        db.dispose_all()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
