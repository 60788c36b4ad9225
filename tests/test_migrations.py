"""Alembic migrations: a database made by revision 0001 upgrades in place, on SQLite and PostgreSQL.

The 0001 data is written with plain SQL against the 0001 tables (the services refuse an old
schema), as refurb 0001 would have written it: rows, events chained with the product's hash.
"""

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from refurb import db, services, tags
from refurb.cli import app
from refurb.config import load
from refurb.models import Event

OLD = "0001"
T0 = datetime(2025, 3, 14, 9, 26, 53, 589793, tzinfo=UTC)
DRIVE_BYTES = 512_000_000_000  # more than a 32-bit integer holds
TAG = tags.make("RB", 1)


@pytest.fixture
def run(home):
    """The CLI with an explicit --db: run(url, "init") -> Result."""
    runner = CliRunner()

    def invoke(url, *args):
        return runner.invoke(app, ["--db", url, *map(str, args)], prog_name="refurb")

    return invoke


def context(url):
    return services.Context(load().with_options(database_url=url), operator="Sara", station="bench-1")


def shown(url):
    return db.display_url(db.normalise_url(url))


def _insert(conn, table, returning=True, **values):
    cols = ", ".join(values)
    sql = sa.text(f"INSERT INTO {table} ({cols}) VALUES ({', '.join(':' + c for c in values)})"
                  + (" RETURNING id" if returning else ""))
    sql = sql.bindparams(*(sa.bindparam(k, type_=sa.DateTime(timezone=True))
                           for k, v in values.items() if isinstance(v, datetime)))
    result = conn.execute(sql, values)
    return result.scalar_one() if returning else None


def seed_0001(url):
    """Sara (lead) registers a laptop with one NVMe drive in batch ACME-2025-01; returns the events written."""
    engine = db.engine_for(url)
    written = []
    with engine.begin() as conn:
        _insert(conn, "operator", name="Sara", role="lead", created_at=T0)
        _insert(conn, "station", name="bench-1", created_at=T0)
        donor = _insert(conn, "donor", name="Acme NV", created_at=T0)
        batch = _insert(conn, "batch", ref="ACME-2025-01", donor_id=donor, donor_ref="PO-77", received_on=T0,
                        status="open", closed_at=None, created_at=T0)
        device = _insert(conn, "device", tag=TAG, kind="laptop", make="Lenovo", model="ThinkPad T480",
                         serial="PF0LEGACY1", donor_tag="ACME-0042", imei=None, mac="AA:BB:CC:00:11:22",
                         batch_id=batch, state="intake", grade=None, location_id=None, no_storage=False,
                         specs='{"ram_gb":8}', last_event_id=None, created_at=T0, updated_at=T0)
        _insert(conn, "storage_medium", device_id=device, serial="S3Z9NX0K", type="nvme",
                size_bytes=DRIVE_BYTES, model="PM981", created_at=T0)
        _insert(conn, "tag_counter", returning=False, prefix="RB", next_seq=2)
        steps = [
            ("operator_set", None, None, None, {"operator": "Sara", "role": "lead"}),
            ("donor_added", None, None, None, {"donor": "Acme NV"}),
            ("batch_added", None, None, None, {"batch": "ACME-2025-01", "donor": "Acme NV", "donor_ref": "PO-77"}),
            ("register", device, None, "intake", {"batch": "ACME-2025-01", "serial": "PF0LEGACY1"}),
            ("media_added", device, "intake", None, {"serial": "S3Z9NX0K", "type": "nvme", "size_bytes": DRIVE_BYTES}),
        ]
        prev = services.GENESIS
        for number, (action, device_id, src, dst, data) in enumerate(steps, start=1):
            at = T0.replace(second=number)
            e = Event(id=number, device_id=device_id, action=action, from_state=src, to_state=dst, operator="Sara",
                      station="bench-1", at=at, recorded_at=at, data=services.canonical(data), forced=None,
                      prev_hash=prev, hash="")
            e.hash = services.event_hash(prev, e)
            _insert(conn, "event", returning=False, **e.model_dump())
            written.append(e)
            prev = e.hash
        conn.execute(sa.text("UPDATE device SET last_event_id = :e WHERE id = :d"), {"e": len(steps), "d": device})
        conn.execute(sa.text("UPDATE chain_head SET hash = :h, count = :n, last_event_id = :n WHERE id = 1"),
                     {"h": prev, "n": len(steps)})
    return written


def event_triggers(url):
    with db.engine_for(url).connect() as conn:
        if db.is_sqlite(db.normalise_url(url)):
            sql = "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'event'"
        else:
            sql = "SELECT tgname FROM pg_trigger WHERE tgrelid = to_regclass('event') AND NOT tgisinternal"
        return sorted(conn.execute(sa.text(sql)).scalars())


def event_count(url):
    with db.engine_for(url).connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM event")).scalar_one()


# ---------------------------------------------------------------------------------------------------------


def test_schema_revision_is_alembic_head(tmp_path):
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(db.alembic_config(f"sqlite:///{tmp_path}/x.db"))
    assert script.get_heads() == [db.SCHEMA_REVISION]
    chain = [r.revision for r in script.walk_revisions("base", "heads")]
    assert chain[-1] == OLD and chain[0] == db.SCHEMA_REVISION
    assert script.get_revision(db.SCHEMA_REVISION).down_revision is not None


def test_0001_is_the_older_schema(db_url, run):
    assert db.migrate(db_url, OLD) == (None, OLD)
    assert db.current_revision(db_url) == OLD
    assert event_triggers(db_url) == []

    r = run(db_url, "list")
    assert r.exit_code == 1
    assert r.stdout == ""
    assert r.stderr == (
        "error: schema-outdated\n"
        f"× the database schema is at revision {OLD}; this refurb needs {db.SCHEMA_REVISION}\n"
        "hint: run: refurb init (it upgrades in place)\n"
    )


def test_upgrade_in_place_keeps_the_data_and_the_chain(db_url, run):
    db.migrate(db_url, OLD)
    old_events = seed_0001(db_url)

    r = run(db_url, "init")
    assert (r.exit_code, r.stderr) == (0, "")
    assert r.stdout == f"✔ database {shown(db_url)} upgraded from schema {OLD} to {db.SCHEMA_REVISION}\n"
    assert db.current_revision(db_url) == db.SCHEMA_REVISION

    ctx = context(db_url)
    card = services.show(ctx, TAG)
    assert (card["state"], card["serial"], card["donor_tag"], card["batch"], card["donor"]) == (
        "intake", "PF0LEGACY1", "ACME-0042", "ACME-2025-01", "Acme NV")
    assert [(m["serial"], m["type"], m["size_bytes"]) for m in card["media"]] == [("S3Z9NX0K", "nvme", DRIVE_BYTES)]
    assert [(e["id"], e["action"], e["from_state"], e["to_state"], e["operator"]) for e in card["events"]] == [
        (e.id, e.action, e.from_state, e.to_state, "Sara") for e in old_events if e.device_id is not None]
    assert card["events"][0]["at"] == services.iso(old_events[3].at)
    assert services.list_donors(ctx)[0]["name"] == "Acme NV"
    assert [(o["name"], o["role"]) for o in services.list_operators(ctx)] == [("Sara", "lead")]

    report = services.verify_audit(ctx)
    assert (report.ok, report.events, report.devices, report.problems) == (True, 5, 1, [])

    # the old device lives on under the new schema, and the chain continues from the old events
    wiped = services.record_wipe(ctx, TAG, "S3Z9NX0K", "nvme-sanitize", "pass")
    assert wiped["state"] == "wiped"
    new = services.register_device(ctx, "ACME-2025-01", "laptop", serial="PF0NEW0002")
    assert new["tag"] == tags.make("RB", tags.next_number("RB", 2))
    with pytest.raises(services.Conflict):
        services.register_device(ctx, "ACME-2025-01", "laptop", serial="PF0LEGACY1")
    report = services.verify_audit(ctx)
    assert report.problems == []
    assert report.events == event_count(db_url) > 5 and report.devices == 2


def test_upgrade_makes_events_append_only(db_url, run):
    db.migrate(db_url, OLD)
    seed_0001(db_url)
    assert run(db_url, "init").exit_code == 0
    assert event_triggers(db_url) != []

    engine = db.engine_for(db_url)
    statements = ["UPDATE event SET action = 'tampered' WHERE id = 4", "DELETE FROM event WHERE id = 5"]
    if not db.is_sqlite(db.normalise_url(db_url)):
        statements.append("TRUNCATE event")
    for sql in statements:
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(sa.text(sql))
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT action FROM event ORDER BY id")).scalars().all() == [
            "operator_set", "donor_added", "batch_added", "register", "media_added"]
    assert services.verify_audit(context(db_url)).ok


def test_migrated_schema_matches_the_models(db_url):
    """Autogenerate finds nothing to change between the migrated database and SQLModel's metadata:
    tables, columns, types, nullability, indexes, unique constraints and foreign keys."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    db.migrate(db_url)
    with db.engine_for(db_url).connect() as conn:
        mc = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(mc, SQLModel.metadata) == []
        tables = set(sa.inspect(conn).get_table_names()) - {"alembic_version"}
    assert tables == set(SQLModel.metadata.tables)


def test_a_command_on_an_empty_database_says_refurb_init(db_url, run):
    r = run(db_url, "list")
    assert r.exit_code == 1
    assert r.stdout == ""
    assert r.stderr == (
        "error: not-initialised\n"
        f"× the database {shown(db_url)} has no refurb schema yet\n"
        "hint: run: refurb init\n"
    )
    assert db.current_revision(db_url) is None


def test_init_twice_is_a_no_op(db_url, run):
    first = run(db_url, "init")
    assert first.stdout == f"✔ database {shown(db_url)} created (schema {db.SCHEMA_REVISION})\n"
    assert run(db_url, "init", "--lead", "Sara").exit_code == 0
    events = event_count(db_url)
    triggers = event_triggers(db_url)

    again = run(db_url, "init")
    assert (again.exit_code, again.stderr) == (0, "")
    assert again.stdout == f"✔ database {shown(db_url)} is up to date (schema {db.SCHEMA_REVISION})\n"
    assert services.init(context(db_url))["from"] == db.SCHEMA_REVISION
    assert event_count(db_url) == events
    assert event_triggers(db_url) == triggers
    with db.engine_for(db_url).connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all() == [db.SCHEMA_REVISION]
    assert services.verify_audit(context(db_url)).ok


def test_a_read_command_on_a_missing_sqlite_file_creates_nothing(run, tmp_path):
    target = tmp_path / "typo" / "refurb.db"
    r = run(str(target), "list")
    assert r.exit_code == 1 and "hint: run: refurb init" in r.stderr
    assert not (tmp_path / "typo").exists()
