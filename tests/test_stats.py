"""refurb.stats on SQLite and PostgreSQL: one donation told through refurb.services, then every figure of
`refurb status`, the donor report and the funder report checked to the unit, suppression included.

Figures that depend on the clock (stays, ages, windows) are checked against the event history read back
through services.show, with the windows moved by `now`.
"""

import io
import statistics
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from refurb import services, stats
from refurb.errors import NotFound, UsageProblem

LAPTOPS = [f"L{i}" for i in range(1, 8)]
TABLETS = ["T1", "T2"]


def _device(ctx, tag, kind):
    medium, profile = (("nvme", "nvme-sanitize") if kind == "laptop" else ("embedded", "android-reset"))
    services.add_medium(ctx, tag, medium, f"M-{tag}")
    services.record_wipe(ctx, tag, f"M-{tag}", profile, "pass")


def story(ctx):
    """Acme NV donates 9 listed devices (7 laptops, 2 tablets) and 1 unlisted laptop.  L7 never arrives;
    X1 (the extra) is recycled; L6 is locked; L5 fails QC (repair); six devices are lent from two digipunten
    (five from Gent Zuid), L2 comes back, L3 is lost; an allocation of T2 is undone before the real one.
    Everything sits 1.1 s in `imaged`, so those stays count for the medians."""
    desk = replace(ctx, station="gent-desk")
    services.add_donor(ctx, "Acme NV")
    services.add_batch(ctx, "Acme NV", "ACME-1", donor_ref="PO-1")
    for name in ("Gent Zuid", "Antwerpen"):
        services.add_digipunt(ctx, name)
    tag = {}
    for key in LAPTOPS + TABLETS:
        kind = "laptop" if key.startswith("L") else "tablet"
        tag[key] = services.expect_device(ctx, "ACME-1", kind, "Lenovo" if kind == "laptop" else "Apple",
                                          f"Model {key}", f"SN-{key}", f"ACME-{key}")["tag"]
    tag["X1"] = services.register_device(ctx, "ACME-1", "laptop", "Fujitsu", "Lifebook", "SN-X1")["tag"]
    _device(ctx, tag["X1"], "laptop")
    services.recycle(ctx, tag["X1"], "Recupel")
    for key in LAPTOPS[:6] + TABLETS:
        services.receive(ctx, f"SN-{key}")
    services.add_medium(ctx, tag["L6"], "nvme", "M-L6")
    services.lock(ctx, tag["L6"], "activation-lock")
    for key in LAPTOPS[:5] + TABLETS:
        _device(ctx, tag[key], "laptop" if key.startswith("L") else "tablet")
        services.reimage(ctx, tag[key], "linux-mint" if key.startswith("L") else "android-stock")
    time.sleep(1.1)
    services.record_qc(ctx, tag["L5"], False, {"keyboard": "fail"})
    for key in LAPTOPS[:4] + TABLETS:
        services.record_qc(ctx, tag[key], True, {}, "B")
    for key in LAPTOPS[:4] + ["T1"]:
        services.allocate(ctx, tag[key], "Gent Zuid")
    wrong = services.allocate(ctx, tag["T2"], "Gent Zuid")
    services.undo(ctx, [e["id"] for e in wrong["events"]])
    services.allocate(ctx, tag["T2"], "Antwerpen")
    for n, key in enumerate(LAPTOPS[:4] + TABLETS, 1):
        services.loan_out(desk, tag[key], f"B-{n}")
    services.loan_return(desk, tag["L2"], "ok")
    services.loan_lost(ctx, tag["L3"])
    services.close_batch(ctx, "ACME-1")
    return tag


@pytest.fixture
def told(ctx):
    return ctx, story(ctx)


# ---------------------------------------------------------------------------- a replay of the history


def moment(iso):
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def expected_stays(events):
    """{state: [seconds]} of the stays ended by a move: consecutive moves of each device, the slow way."""
    stays = {}
    by_device = {}
    for e in sorted(events, key=lambda e: e["id"]):
        if e["to_state"] is not None:
            by_device.setdefault(e["device"], []).append(e)
    for moves in by_device.values():
        for before, after in zip(moves, moves[1:], strict=False):
            seconds = (moment(after["at"]) - moment(before["at"])).total_seconds()
            if seconds >= 1:
                stays.setdefault(after["from_state"], []).append(seconds)
    return stays


def with_devices(ctx, tags):
    out = []
    for t in tags.values():
        out += [{**e, "device": t} for e in services.show(ctx, t)["events"]]
    undone = {e["data"]["undoes"] for e in out if e["action"] == "undo"}
    return [e for e in out if e["id"] not in undone and e["action"] != "undo"]


# ---------------------------------------------------------------------------- refurb status


def test_status_counts_states_and_the_work_of_the_last_days(told):
    ctx, tags = told
    r = stats.status(ctx)
    assert r["total"] == 10
    assert {s: n for s, n in r["states"].items() if n} == {
        "expected": 1, "wipe_pending": 1, "on_loan": 4, "locked": 1, "repair": 1, "recycled": 1, "lost": 1}
    assert list(r["states"]) == [str(s) for s in stats.State]  # every state, in lifecycle order
    assert {t["milestone"]: (t["last_7_days"], t["last_30_days"]) for t in r["throughput"]} == {
        "received": (9, 9), "wiped": (8, 8), "ready": (6, 6), "allocated": (6, 6), "lent": (6, 6),
        "returned": (1, 1), "parts": (0, 0), "recycled": (1, 1), "returned_to_donor": (0, 0), "lost": (1, 1)}


def test_per_station_counts_leave_out_undone_work(told):
    ctx, tags = told
    events = with_devices(ctx, tags)
    expected = {}
    for e in events:
        expected[e["station"]] = expected.get(e["station"], 0) + 1
    assert expected["gent-desk"] == 8  # six loans, one return and its automatic step back to the wipe queue
    r = stats.status(ctx)
    assert r["stations"] == [{"station": name, "last_7_days": n, "last_30_days": n}
                             for name, n in sorted(expected.items())]


def test_the_windows_move_with_now(told):
    ctx, _tags = told
    later = stats.status(ctx, now=services.now() + timedelta(days=8))
    received = next(t for t in later["throughput"] if t["milestone"] == "received")
    assert (received["last_7_days"], received["last_30_days"]) == (0, 9)
    assert all(s["last_7_days"] == 0 and s["last_30_days"] > 0 for s in later["stations"])
    gone = stats.status(ctx, now=services.now() + timedelta(days=31))
    assert all(t["last_30_days"] == 0 for t in gone["throughput"])
    assert gone["stations"] == [] and gone["stages"] == []
    before = stats.status(ctx, now=services.now() - timedelta(days=1))  # nothing had happened yet
    assert all(t["last_30_days"] == 0 for t in before["throughput"])
    assert before["states"] == later["states"]  # counts per state are always current


def test_median_time_per_stage_replays_the_history(told):
    ctx, tags = told
    stays = expected_stays(with_devices(ctx, tags))
    assert len(stays["imaged"]) == 7 and min(stays["imaged"]) >= 1.1  # the story's pause before QC
    r = stats.status(ctx)
    assert r["stages"] == [{"state": state, "median_seconds": statistics.median(stays[state]),
                            "stays": len(stays[state])}
                           for state in [str(s) for s in stats.State] if state in stays]


def test_blocked_devices_with_their_age_and_what_holds_them(told):
    ctx, tags = told
    now = services.now() + timedelta(hours=5)
    r = stats.status(ctx, now=now)
    entered = {}
    for key in ("L5", "L6"):
        events = services.show(ctx, tags[key])["events"]
        entered[key] = [e for e in events if e["to_state"] in ("repair", "locked")][-1]["at"]
    assert [(b["tag"], b["state"], b["detail"], b["since"]) for b in r["blocked"]] == [
        (tags["L6"], "locked", ["activation-lock"], entered["L6"]),
        (tags["L5"], "repair", ["keyboard"], entered["L5"]),
    ]
    assert [b["age_seconds"] for b in r["blocked"]] == [
        (now - moment(entered[k])).total_seconds() for k in ("L6", "L5")]
    assert r["blocked"][0]["batch"] == "ACME-1" and r["blocked"][0]["donor"] == "Acme NV"


def test_an_empty_database(ctx):
    r = stats.status(ctx)
    assert r["total"] == 0 and set(r["states"].values()) == {0}
    assert r["blocked"] == [] and r["stages"] == [] and r["stations"] == []
    assert all(t["last_7_days"] == t["last_30_days"] == 0 for t in r["throughput"])


# ---------------------------------------------------------------------------- donor report


def test_donor_report_reconciles_and_keys_outcomes_by_the_donors_identifiers(told):
    ctx, tags = told
    r = stats.donor_report(ctx, "ACME-1")
    assert r["batch"] == {"ref": "ACME-1", "donor": "Acme NV", "donor_ref": "PO-1", "received_on": None,
                          "closed": True}
    rec = r["reconciliation"]
    assert (rec["listed"], rec["received"]) == (9, 9)
    assert rec["missing"] == [{"serial": "SN-L7", "donor_tag": "ACME-L7", "make": "Lenovo",
                               "model": "Model L7"}]
    assert rec["extra"] == [{"tag": tags["X1"], "serial": "SN-X1", "donor_tag": None, "make": "Fujitsu",
                             "model": "Lifebook"}]
    assert r["outcomes"] == {"on_loan": 4, "in_refurbishment": 1, "on_hold": 2, "recycled": 1, "lost": 1,
                             "missing": 1}
    rows = {(d["donor_tag"], d["serial"]): (d["tag"], d["outcome"], d["listed"], d["loans"])
            for d in r["devices"]}
    assert rows == {
        ("ACME-L1", "SN-L1"): (tags["L1"], "on_loan", True, 1),
        ("ACME-L2", "SN-L2"): (tags["L2"], "in_refurbishment", True, 1),
        ("ACME-L3", "SN-L3"): (tags["L3"], "lost", True, 1),
        ("ACME-L4", "SN-L4"): (tags["L4"], "on_loan", True, 1),
        ("ACME-L5", "SN-L5"): (tags["L5"], "on_hold", True, 0),
        ("ACME-L6", "SN-L6"): (tags["L6"], "on_hold", True, 0),
        ("ACME-L7", "SN-L7"): (tags["L7"], "missing", True, 0),
        ("ACME-T1", "SN-T1"): (tags["T1"], "on_loan", True, 1),
        ("ACME-T2", "SN-T2"): (tags["T2"], "on_loan", True, 1),
        (None, "SN-X1"): (tags["X1"], "recycled", False, 0),
    }
    assert [d["donor_tag"] for d in r["devices"]] == [f"ACME-{k}" for k in LAPTOPS + TABLETS] + [None]
    assert r["certificates"] == []


def test_co2e_counts_reused_laptops_with_the_configured_factor_and_source(told):
    ctx, _tags = told
    assert stats.donor_report(ctx, "ACME-1")["impact"] == {
        "reused": 6, "reused_by_kind": {"laptop": 4, "tablet": 2}, "counted_kinds": ["laptop"], "counted": 4,
        "factor_kg": 214.0, "source": ctx.settings.co2e_source, "co2e_kg": 856.0}
    assert "Öko-Institut" in ctx.settings.co2e_source
    settings = ctx.settings.with_options(co2e_kg_per_device=180.5, co2e_source="Our own LCA")
    own = replace(ctx, settings=settings)
    impact = stats.donor_report(own, "ACME-1")["impact"]
    assert (impact["co2e_kg"], impact["factor_kg"], impact["source"]) == (722.0, 180.5, "Our own LCA")


def test_an_open_batch_still_expects_rather_than_misses(ctx):
    services.add_donor(ctx, "D")
    services.add_batch(ctx, "D", "B1")
    services.expect_device(ctx, "B1", "laptop", serial="S1", donor_tag="D-1")
    r = stats.donor_report(ctx, "B1")
    assert r["outcomes"] == {"expected": 1} and r["batch"]["closed"] is False
    assert r["impact"]["co2e_kg"] == 0


def test_the_donor_report_names_the_batch_certificate(told, tmp_path):
    from refurb import reports

    ctx, _tags = told
    issued = reports.batch_certificate(ctx, "ACME-1", tmp_path / "cert.pdf")
    event = services.show(ctx, services.list_devices(ctx)[0]["tag"])  # any read: the issue is a batch event
    certificates = stats.donor_report(ctx, "ACME-1")["certificates"]
    assert event and [{k: c[k] for k in ("id", "sha256", "lang", "file")} for c in certificates] == [
        {"id": issued["certificate"], "sha256": issued["sha256"], "lang": "nl", "file": "cert.pdf"}]
    assert moment(certificates[0]["at"]) <= services.now()


def test_an_unknown_batch_is_not_found(ctx):
    with pytest.raises(NotFound):
        stats.donor_report(ctx, "NOPE")


# ---------------------------------------------------------------------------- funder report


def today():
    return services.today()


def test_funder_figures_are_aggregates_with_small_counts_suppressed(told):
    ctx, _tags = told
    r = stats.funder_report(ctx, today() - timedelta(days=1), today() + timedelta(days=1))
    assert r["summary"] == {
        "users_reached": 6, "loans_started": 6, "loans_active": "<5", "loans_returned": "<5",
        "loans_lost": "<5", "devices_received": 9, "devices_reused": 6, "devices_recycled": "<5",
        "devices_parts": 0}
    # Antwerpen lent 1 device: hidden; Gent Zuid's 5 would give it away (6 - 5), so it is hidden too.
    assert r["by_digipunt"]["rows"] == [
        {"group": "Antwerpen", "values": {"users_reached": "x", "loans_started": "x", "loans_active": "x",
                                          "loans_returned": 0, "loans_lost": 0}},
        {"group": "Gent Zuid", "values": {"users_reached": "x", "loans_started": "x", "loans_active": "x",
                                          "loans_returned": "x", "loans_lost": "x"}},
    ]
    assert r["by_digipunt"]["total"] == {"users_reached": 6, "loans_started": 6, "loans_active": "<5",
                                         "loans_returned": "<5", "loans_lost": "<5"}
    # 2 tablets received: hidden, and so the 7 laptops (9 - 7 = 2)
    assert r["by_kind"]["rows"] == [
        {"group": "laptop", "values": {"devices_received": "x", "devices_reused": "x",
                                       "devices_recycled": "x", "devices_parts": 0}},
        {"group": "tablet", "values": {"devices_received": "x", "devices_reused": "x", "devices_recycled": 0,
                                       "devices_parts": 0}},
    ]
    assert r["by_kind"]["total"] == {"devices_received": 9, "devices_reused": 6, "devices_recycled": "<5",
                                     "devices_parts": 0}
    assert r["pseudonymised"] is False
    text = repr(r)
    assert "B-1" not in text and "SN-" not in text and "RB-" not in text  # no person, no device


def test_no_suppressed_count_can_be_worked_out_from_its_total(told):
    """For every breakdown column: each hidden cell is one of at least two, or its total is hidden too."""
    ctx, _tags = told
    r = stats.funder_report(ctx, today() - timedelta(days=1), today() + timedelta(days=1))
    for table in (r["by_digipunt"], r["by_kind"]):
        for column in table["columns"]:
            cells = [row["values"][column] for row in table["rows"]]
            hidden = cells.count("x")
            assert hidden != 1 or table["total"][column] == "<5"
            assert all(c == "x" or c == 0 or c >= 5 for c in cells)


def test_the_funder_period_is_in_brussels_days_both_included(told):
    ctx, _tags = told
    before = stats.funder_report(ctx, today() - timedelta(days=9), today() - timedelta(days=1))
    assert before["summary"] == {name: 0 for name in stats.SUMMARY}
    assert before["by_digipunt"]["rows"] == [] and before["by_kind"]["rows"] == []
    assert before["period"] == {"from": (today() - timedelta(days=9)).isoformat(),
                                "to": (today() - timedelta(days=1)).isoformat(),
                                "timezone": "Europe/Brussels"}
    one_day = stats.funder_report(ctx, today().isoformat(), today().isoformat())
    assert one_day["summary"]["devices_received"] == 9
    after = stats.funder_report(ctx, today() + timedelta(days=1), today() + timedelta(days=30))
    assert after["summary"]["loans_active"] == "<5" and after["summary"]["users_reached"] == "<5"  # still out
    assert after["summary"]["loans_started"] == 0


def test_brussels_days_in_utc():
    first, last, low, high = stats.brussels_days("2026-07-01", "2026-07-31")
    assert (low, high) == (datetime(2026, 6, 30, 22, tzinfo=UTC), datetime(2026, 7, 31, 22, tzinfo=UTC))
    _f, _l, low, high = stats.brussels_days("2026-01-01", "2026-01-01")
    assert (low, high) == (datetime(2025, 12, 31, 23, tzinfo=UTC), datetime(2026, 1, 1, 23, tzinfo=UTC))


@pytest.mark.parametrize("start, end, message", [
    ("2026-02-01", "2026-01-01", "the period ends (2026-01-01) before it starts (2026-02-01)"),
    ("2026-13-01", "2026-12-31", "--from: '2026-13-01' is not a date"),
    ("2026-01-01", "31/12/2026", "--to: '31/12/2026' is not a date"),
])
def test_a_bad_period_is_a_usage_problem(start, end, message):
    with pytest.raises(UsageProblem) as caught:
        stats.brussels_days(start, end)
    assert caught.value.message == message


@pytest.mark.parametrize("values, total, shown, shown_total", [
    ({"a": 12, "b": 7}, 19, {"a": 12, "b": 7}, 19),
    ({"a": 12, "b": 3}, 15, {"a": "x", "b": "x"}, 15),  # b = 15 - 12 otherwise
    ({"a": 12, "b": 3, "c": 9}, 24, {"a": 12, "b": "x", "c": "x"}, 24),  # the smallest other one goes
    ({"a": 12, "b": 3, "c": 2}, 17, {"a": 12, "b": "x", "c": "x"}, 17),  # two small ones hide each other
    ({"a": 3, "b": 0}, 3, {"a": "x", "b": 0}, "<5"),  # the total is hidden already
    ({"a": 0, "b": 0}, 0, {"a": 0, "b": 0}, 0),
    ({"a": 5}, 5, {"a": 5}, 5),
    ({"a": 4, "b": 0, "c": 6}, 10, {"a": "x", "b": 0, "c": "x"}, 10),  # never a zero as the partner
])
def test_suppress(values, total, shown, shown_total):
    assert stats.suppress(values, total) == (shown, shown_total)


def test_funder_csv_keys_do_not_depend_on_the_language(told, tmp_path):
    ctx, _tags = told
    r = stats.funder_report(ctx, today() - timedelta(days=1), today() + timedelta(days=1))
    stream = io.StringIO()
    stats.funder_csv(r, stream)
    lines = stream.getvalue().splitlines()
    assert lines[:14] == [
        "section,measure,group,value",
        f"period,from,,{(today() - timedelta(days=1)).isoformat()}",
        f"period,to,,{(today() + timedelta(days=1)).isoformat()}",
        "period,timezone,,Europe/Brussels",
        "suppression,threshold,,5",
        "summary,users_reached,,6", "summary,loans_started,,6", "summary,loans_active,,<5",
        "summary,loans_returned,,<5", "summary,loans_lost,,<5", "summary,devices_received,,9",
        "summary,devices_reused,,6", "summary,devices_recycled,,<5", "summary,devices_parts,,0",
    ]
    assert "by_digipunt,loans_started,Antwerpen,x" in lines and "by_digipunt,loans_started,total,6" in lines
    assert "by_kind,devices_received,laptop,x" in lines and "by_kind,devices_received,total,9" in lines
    (tmp_path / "out").mkdir()
    out = stats.funder_csv(r, tmp_path / "out" / "funder.csv")
    assert out.read_text(encoding="utf-8") == stream.getvalue()
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["funder.csv"]  # no partial file left


def test_funder_csv_into_a_missing_folder_is_a_usage_problem(told, tmp_path):
    ctx, _tags = told
    r = stats.funder_report(ctx, today(), today())
    with pytest.raises(UsageProblem):
        stats.funder_csv(r, tmp_path / "nope" / "funder.csv")
