"""refurb.stats at a few thousand devices: the figures are still exact, the number of SQL statements does not
grow with the number of devices (the database aggregates; nothing loops per device), and it stays quick.

The devices are written in bulk, straight into the tables, with the events refurb would have written (the
hash chain is not rebuilt: these tests read figures, they never audit).
"""

import time
from datetime import timedelta

from sqlalchemy import event as sa_event
from sqlalchemy import insert, select

from refurb import db, services, stats
from refurb.models import Borrower, ChainHead, Device, Event, Loan, Location

# (final state, the moves that lead there, with a loan or not)
PATHS = {
    "ready": ["register", "queue_wipe", "start_wipe", "finish_wipe", "reimage", "qc_pass"],
    "on_loan": ["register", "queue_wipe", "start_wipe", "finish_wipe", "reimage", "qc_pass", "allocate",
                "loan_out"],
    "locked": ["register", "lock"],
    "recycled": ["register", "queue_wipe", "start_wipe", "finish_wipe", "recycle"],
}
TARGET = {"register": "intake", "queue_wipe": "wipe_pending", "start_wipe": "wiping", "finish_wipe": "wiped",
          "reimage": "imaged", "qc_pass": "ready", "allocate": "allocated", "loan_out": "on_loan",
          "lock": "locked", "recycle": "recycled"}


def bulk(ctx, count, first=0):
    """Devices `first` to `first + count` of batch BIG, a quarter in each state of PATHS, each move an hour
    after the one before, three days ago.  Returns the number of events written."""
    if first == 0:
        services.add_donor(ctx, "Big donor")
        services.add_batch(ctx, "Big donor", "BIG")
        services.add_digipunt(ctx, "Gent Zuid")
    start = services.now() - timedelta(days=3)
    with db.session(ctx.url, write=True) as s:
        head = s.get(ChainHead, 1)
        batch_id = s.exec(select(services.Batch.id).where(services.Batch.ref == "BIG")).scalar()
        punt = s.exec(select(Location.id).where(Location.name == "Gent Zuid")).scalar()
        event_id = head.last_event_id
        device_rows, event_rows, borrower_rows, loan_rows = [], [], [], []
        for n in range(first, first + count):
            state = list(PATHS)[n % len(PATHS)]
            device_id = 10_000 + n
            device_rows.append({"id": device_id, "tag": f"BULK-{n:06d}", "kind": "laptop",
                                "serial": f"BS-{n:06d}", "batch_id": batch_id, "state": state,
                                "no_storage": False, "specs": "{}", "created_at": start, "updated_at": start,
                                "location_id": punt if state == "on_loan" else None})
            before = None
            for step, action in enumerate(PATHS[state]):
                event_id += 1
                event_rows.append({"id": event_id, "device_id": device_id, "action": action,
                                   "from_state": before, "to_state": TARGET[action], "operator": "Sara",
                                   "station": f"bench-{n % 3}", "at": start + timedelta(hours=step),
                                   "recorded_at": start, "data": "{}", "prev_hash": "",
                                   "hash": f"bulk-{event_id}"})
                before = TARGET[action]
            if state == "on_loan":
                borrower_rows.append({"id": 10_000 + n, "ref": f"BB-{n}", "digipunt_id": punt,
                                      "created_at": start})
                loan_rows.append({"device_id": device_id, "borrower_id": 10_000 + n, "digipunt_id": punt,
                                  "out_at": start + timedelta(hours=7), "due_on": start + timedelta(days=28),
                                  "accessories": "[]", "lost": False, "extensions": 0, "event_id": event_id})
        conn = s.connection()
        tables = ((Device, device_rows), (Event, event_rows), (Borrower, borrower_rows), (Loan, loan_rows))
        for model, rows in tables:
            conn.execute(insert(model.__table__), rows)
        head.last_event_id = event_id
        s.add(head)
    return len(event_rows)


def statements(ctx, run):
    """How many SQL statements `run()` sends."""
    engine = db.engine_for(ctx.url)
    sent = []

    def count(*_args):
        sent.append(1)

    sa_event.listen(engine, "before_cursor_execute", count)
    try:
        run()
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)
    return len(sent)


CALLS = {
    "status": lambda ctx: stats.status(ctx),
    "donor": lambda ctx: stats.donor_report(ctx, "BIG"),
    "funder": lambda ctx: stats.funder_report(ctx, services.today() - timedelta(days=10), services.today()),
}


def test_the_statements_do_not_grow_with_the_devices(ctx):
    """40 devices, then 1 540 (under STAGE_SAMPLE moves both times, so the same queries run)."""
    bulk(ctx, 40)
    for call in CALLS.values():
        call(ctx)  # warm: the first read checks the schema once
    few = {name: statements(ctx, lambda call=call: call(ctx)) for name, call in CALLS.items()}
    bulk(ctx, 1500, first=40)
    many = {name: statements(ctx, lambda call=call: call(ctx)) for name, call in CALLS.items()}
    assert many == few


def test_figures_at_scale_are_exact_and_quick(ctx):
    events = bulk(ctx, 1600)
    assert events == 400 * sum(len(p) for p in PATHS.values())
    started = time.perf_counter()
    r = stats.status(ctx)
    elapsed = time.perf_counter() - started
    assert {s: n for s, n in r["states"].items() if n} == {"ready": 400, "on_loan": 400, "locked": 400,
                                                            "recycled": 400}
    throughput = {t["milestone"]: t["last_7_days"] for t in r["throughput"]}
    assert (throughput["received"], throughput["wiped"], throughput["ready"], throughput["lent"]) == (
        1600, 1200, 800, 400)
    assert {s["station"]: s["last_30_days"] for s in r["stations"]} == {
        f"bench-{i}": sum(len(PATHS[list(PATHS)[n % 4]]) for n in range(i, 1600, 3)) for i in range(3)}
    assert len(r["blocked"]) == 400 and r["blocked"][0]["detail"] == []  # no Lock rows were written
    assert [(x["state"], x["median_seconds"], x["stays"]) for x in r["stages"]] == [
        ("intake", 3600.0, 1600), ("wipe_pending", 3600.0, 1200), ("wiping", 3600.0, 1200),
        ("wiped", 3600.0, 1200), ("imaged", 3600.0, 800), ("ready", 3600.0, 400), ("allocated", 3600.0, 400)]
    assert elapsed < 3, f"refurb status took {elapsed:.2f} s on 1600 devices"
    funder = stats.funder_report(ctx, services.today() - timedelta(days=10), services.today())
    assert funder["summary"]["users_reached"] == 400 and funder["summary"]["devices_received"] == 1600
    assert funder["summary"]["devices_recycled"] == 400 and funder["summary"]["loans_active"] == 400


def test_a_busy_month_takes_the_latest_stays(ctx, monkeypatch):
    """More moves in the window than the sample: the medians come from the newest moves only."""
    bulk(ctx, 1600)
    monkeypatch.setattr(stats, "STAGE_SAMPLE", 100)
    states = [list(PATHS)[n % 4] for n in range(1600)]
    moves = [(state, step) for state in states for step in range(len(PATHS[state]))]
    latest = [(state, step) for state, step in moves[-100:] if step > 0]
    expected = {}
    for state, step in latest:
        expected[TARGET[PATHS[state][step - 1]]] = expected.get(TARGET[PATHS[state][step - 1]], 0) + 1
    r = stats.status(ctx)
    assert {x["state"]: x["stays"] for x in r["stages"]} == expected
    assert sum(expected.values()) == 100 - sum(1 for _state, step in moves[-100:] if step == 0)
