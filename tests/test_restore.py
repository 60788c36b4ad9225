"""`refurb db restore` (issue 7 item 5): a backup comes back with its history intact; nothing is lost."""

import json
import shutil

import pytest

from refurb import services


@pytest.fixture
def backed_up(cli, ctx, tmp_path):
    if not ctx.url.startswith("sqlite") and not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.skip("pg_dump/pg_restore are not installed (apt-get install postgresql-client)")
    services.add_donor(ctx, "Acme NV")
    services.add_batch(ctx, "Acme NV", "B1")
    services.register_device(ctx, "B1", "laptop", "HP", "ProBook", "CND4286ZJ2")
    dest = tmp_path / "backup.db"
    assert cli("db", "backup", dest).exit_code == 0
    return dest, services.verify_audit(ctx).events


def test_restore_replaces_only_when_asked_by_a_lead_and_keeps_a_safety_copy(cli, ctx, backed_up):
    dest, events = backed_up
    services.add_donor(ctx, "After the backup")
    r = cli("db", "restore", dest)
    assert r.exit_code == 1 and "--replace" in r.stderr
    services.add_operator(ctx, "Jonas", "volunteer")
    r = cli("db", "restore", dest, "--replace", "--operator", "Jonas")
    assert r.exit_code == 1 and "needs a lead" in r.stderr
    assert services.verify_audit(ctx).events == events + 2  # nothing changed by the refusals

    r = cli("db", "restore", dest, "--replace", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert (out["ok"], out["events"], out["devices"]) == (True, events, 1)
    assert [d["name"] for d in services.list_donors(ctx)] == ["Acme NV"]
    # the database as it was before the restore is kept, with the donor added after the backup
    r = cli("db", "restore", out["safety_copy"], "--replace", "--json")
    assert r.exit_code == 0, r.output
    assert sorted(d["name"] for d in services.list_donors(ctx)) == ["Acme NV", "After the backup"]


def test_restore_into_a_new_sqlite_file(cli, ctx, backed_up, tmp_path):
    if not ctx.url.startswith("sqlite"):
        pytest.skip("a new file is a SQLite matter")
    dest, events = backed_up
    fresh = tmp_path / "new" / "refurb.db"
    r = cli("--db", fresh, "db", "restore", dest, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["events"] == events
    assert cli("--db", fresh, "audit", "verify").exit_code == 0


def test_not_a_backup_is_refused_and_changes_nothing(cli, ctx, backed_up, tmp_path):
    _dest, events = backed_up
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 10)
    r = cli("db", "restore", junk, "--replace")
    assert r.exit_code == 2 and "is not a backup" in r.stderr
    assert cli("db", "restore", tmp_path / "missing.db").exit_code == 3
    assert services.verify_audit(ctx).events == events
