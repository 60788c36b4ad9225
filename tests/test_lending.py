"""The lending desk (issue 5 item 2): bulk allocation, loan policy, paper loans, extensions, overdue
worklist, accessories checked on return, the retention purge."""

import json
import time
from datetime import UTC, date, datetime, timedelta

import pytest

from refurb import services


def ready_device(ctx, serial, kind="laptop", batch="B1"):
    tag = services.register_device(ctx, batch, kind, "Lenovo", "ThinkPad T480", serial)["tag"]
    services.add_medium(ctx, tag, "nvme", "M-" + serial)
    services.record_wipe(ctx, tag, "M-" + serial, "nvme-sanitize", "pass")
    services.reimage(ctx, tag, "linux-mint" if kind == "laptop" else "android-stock")
    services.record_qc(ctx, tag, True, {}, "A")
    return tag


@pytest.fixture
def desk(ctx):
    services.add_donor(ctx, "Acme NV")
    services.add_batch(ctx, "Acme NV", "B1")
    services.add_batch(ctx, "Acme NV", "B2")
    services.add_digipunt(ctx, "Gent Zuid", loan_days=28, max_extensions=1)
    return {"a": ready_device(ctx, "S1"), "b": ready_device(ctx, "S2"), "c": ready_device(ctx, "S3", batch="B2")}


def test_bulk_allocation_takes_the_ready_devices_of_a_batch(cli, ctx, desk):
    r = cli("allocate", "--digipunt", "Gent Zuid", "--batch", "B1", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert (out["count"], out["allocated"]) == (2, [desk["a"], desk["b"]])
    assert services.show(ctx, desk["c"])["state"] == "ready"
    again = json.loads(cli("allocate", "--digipunt", "Gent Zuid", "--batch", "B1", "--json").stdout)
    assert again["count"] == 0
    assert cli("allocate", "--digipunt", "Gent Zuid").exit_code == 2  # neither a device nor a filter


def test_a_loan_follows_the_policy_and_is_extended_once(cli, ctx, desk):
    services.allocate(ctx, desk["a"], "Gent Zuid")
    out = json.loads(cli("loan", "out", desk["a"], "--borrower", "GZ-0042", "--accessory", "charger",
                         "--accessory", "bag", "--json").stdout)
    due = services.today() + timedelta(days=28)
    assert (out["due"], out["accessories"]) == (due.isoformat(), ["bag", "charger"])
    r = cli("loan", "extend", desk["a"], "--days", "14", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["due"] == (due + timedelta(days=14)).isoformat()
    refused = cli("loan", "extend", desk["a"], "--days", "14")
    assert refused.exit_code == 4 and "allows 1" in refused.stderr
    services.add_operator(ctx, "Lies", "volunteer")
    assert cli("loan", "extend", desk["a"], "--force", "ill", "--operator", "Lies").exit_code == 1  # a lead only
    forced = cli("loan", "extend", desk["a"], "--days", "7", "--force", "borrower in hospital", "--json")
    assert forced.exit_code == 0, forced.output
    events = [e for e in services.show(ctx, desk["a"])["events"] if e["action"] == "loan_extended"]
    assert [e["forced"] for e in events] == [None, "borrower in hospital"]
    # the event keeps the borrower's number, never the reference itself
    loan_event = next(e for e in services.show(ctx, desk["a"])["events"] if e["action"] == "loan_out")
    assert "GZ-0042" not in json.dumps(loan_event["data"])


def test_the_overdue_worklist(cli, ctx, desk):
    for key in ("a", "b"):
        services.allocate(ctx, desk[key], "Gent Zuid")
    services.loan_out(ctx, desk["a"], "GZ-1", due=services.today() + timedelta(days=1))
    services.loan_out(ctx, desk["b"], "GZ-2", due=services.today() + timedelta(days=5))
    assert json.loads(cli("loan", "overdue", "--json").stdout) == []
    later = (services.today() + timedelta(days=10)).isoformat()
    r = cli("loan", "overdue", "--on", later, "--digipunt", "Gent Zuid", "--json")
    assert json.loads(r.stdout) == [
        {"tag": desk["a"], "borrower": "GZ-1", "digipunt": "Gent Zuid",
         "due": (services.today() + timedelta(days=1)).isoformat(), "days_overdue": 9},
        {"tag": desk["b"], "borrower": "GZ-2", "digipunt": "Gent Zuid",
         "due": (services.today() + timedelta(days=5)).isoformat(), "days_overdue": 5},
    ]
    assert cli("loan", "overdue", "--digipunt", "Nowhere").exit_code == 3


def test_a_paper_loan_keeps_when_it_happened_and_when_it_was_recorded(cli, ctx, desk):
    services.allocate(ctx, desk["a"], "Gent Zuid")
    when = datetime.now(UTC)  # the loan on paper, just after the allocation; recorded later
    time.sleep(1.2)
    future = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
    assert cli("loan", "out", desk["a"], "--borrower", "GZ-7", "--at", future).exit_code == 2
    before = (datetime.now(UTC) - timedelta(days=3)).isoformat()
    r = cli("loan", "out", desk["a"], "--borrower", "GZ-7", "--at", before)
    assert r.exit_code == 2 and "last recorded step" in r.stderr
    r = cli("loan", "out", desk["a"], "--borrower", "GZ-7", "--at", when.isoformat())
    assert r.exit_code == 0, r.output
    event = next(e for e in services.show(ctx, desk["a"])["events"] if e["action"] == "loan_out")
    at, recorded = datetime.fromisoformat(event["at"]), datetime.fromisoformat(event["recorded_at"])
    assert at == when and recorded - at > timedelta(seconds=1)
    assert cli("loan", "out", desk["b"], "--borrower", "GZ-8", "--at", "yesterday").exit_code == 2
    assert services.verify_audit(ctx).ok


def test_accessories_are_checked_on_return(cli, ctx, desk):
    services.allocate(ctx, desk["a"], "Gent Zuid")
    services.loan_out(ctx, desk["a"], "GZ-3", accessories=["charger", "bag", "mouse"])
    r = cli("loan", "return", desk["a"], "--condition", "ok", "--accessory", "charger", "--accessory", "bag", "--json")
    out = json.loads(r.stdout)
    assert (out["condition"], out["missing_accessories"]) == ("incomplete", ["mouse"])
    assert out["state"] == "wipe_pending"
    services.allocate(ctx, desk["b"], "Gent Zuid")
    services.loan_out(ctx, desk["b"], "GZ-4")
    damaged = json.loads(cli("loan", "return", desk["b"], "--condition", "damaged", "--json").stdout)
    assert damaged["state"] == "repair"


def test_the_purge_applies_the_retention_policy(cli, ctx, desk):
    services.allocate(ctx, desk["a"], "Gent Zuid")
    services.allocate(ctx, desk["b"], "Gent Zuid")
    services.loan_out(ctx, desk["a"], "GZ-OLD")
    services.loan_return(ctx, desk["a"], "ok")
    services.loan_out(ctx, desk["b"], "GZ-NOW")
    in_3_years = (services.today() + timedelta(days=3 * 365))
    dry = services.purge_borrowers(ctx, dry_run=True, on=in_3_years)
    # GZ-NOW has an open loan: kept; GZ-OLD's loan is detached, then its reference removed
    assert (dry["loans_pseudonymised"], dry["borrowers_removed"]) == (1, 1)
    r = services.purge_borrowers(ctx, on=in_3_years)
    assert (r["loans_pseudonymised"], r["borrowers_removed"]) == (1, 1)
    again = services.purge_borrowers(ctx, on=in_3_years)
    assert (again["loans_pseudonymised"], again["borrowers_removed"]) == (0, 0)
    [late] = services.overdue(ctx, on=in_3_years)
    assert late["borrower"] == "GZ-NOW"
    from sqlalchemy import select

    from refurb.models import Borrower

    with services.reading(ctx) as s:
        refs = sorted(s.exec(select(Borrower.ref)).scalars())
    assert "GZ-OLD" not in refs and "GZ-NOW" in refs
    services.add_operator(ctx, "Lies", "volunteer")
    assert cli("borrower", "purge", "--operator", "Lies").exit_code == 1
    assert services.verify_audit(ctx).ok


def test_due_dates_and_days_are_brussels_days():
    late_evening_utc = datetime(2026, 6, 30, 22, 30, tzinfo=UTC)  # 00:30 on 1 July in Brussels
    assert services.today(late_evening_utc) == date(2026, 7, 1)
