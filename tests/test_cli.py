"""The command line, end to end: set up through refurb.services, act through the CLI, assert the exit
code and the exact lines that matter.  Every test runs on a SQLite file and on PostgreSQL (the `cli`
and `ctx` fixtures are parametrised over both)."""

import json
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from refurb import db, lifecycle, services, tags
from refurb.states import LEVELS, MEDIA_TYPES

DONOR = "Acme NV"
BATCH = "ACME-1"
DIGIPUNT = "Gent Zuid"
SERIAL = "PF1ABC23"
MEDIUM = "S3Z9NX0K"
MODEL = "ThinkPad T480"
SHIPPED_PROFILES = {
    "hdd-overwrite", "sata-ssd-sanitize", "nvme-sanitize", "emmc-erase", "removable-overwrite",
    "ios-erase", "android-reset", "chromeos-powerwash", "destroy",
}


# ---------------------------------------------------------------------------- helpers


def run(cli, *args):
    """Invoke and insist on a clean exit: a SystemExit (our exit code), never a stray exception."""
    r = cli(*args)
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert "Traceback" not in r.output
    return r


def err_lines(r):
    return r.stderr.splitlines()


def tag_no(n):
    """The asset tag the n-th issued tag number gets (numbers without a check character are skipped)."""
    number = 0
    for _ in range(n):
        number = tags.next_number("RB", number + 1)
    return tags.make("RB", number)


def event_count(ctx):
    with db.engine_for(ctx.url).connect() as conn:
        return conn.execute(text("SELECT count(*) FROM event")).scalar()


def device_count(ctx):
    with db.engine_for(ctx.url).connect() as conn:
        return conn.execute(text("SELECT count(*) FROM device")).scalar()


def state_of(ctx, tag):
    return services.show(ctx, tag)["state"]


def events_of(ctx, tag):
    return services.show(ctx, tag)["events"]


@pytest.fixture
def stock(ctx):
    """A donor, an open batch and a digipunt."""
    services.add_donor(ctx, DONOR)
    services.add_batch(ctx, DONOR, ref=BATCH)
    services.add_digipunt(ctx, DIGIPUNT)
    return ctx


STAGES = ("intake", "media", "wiped", "imaged", "ready", "allocated", "on_loan", "returned")


def make_device(ctx, upto, serial=SERIAL, medium=MEDIUM):
    """Register a laptop with one NVMe drive and take it through the main path up to `upto`."""
    tag = services.register_device(ctx, BATCH, "laptop", "Lenovo", MODEL, serial=serial)["tag"]
    steps = {
        "media": lambda: services.add_medium(ctx, tag, "nvme", medium, 512 * 10**9),
        "wiped": lambda: services.record_wipe(ctx, tag, medium, "nvme-sanitize", "pass"),
        "imaged": lambda: services.reimage(ctx, tag, "linux-mint"),
        "ready": lambda: services.record_qc(ctx, tag, True, grade="B"),
        "allocated": lambda: services.allocate(ctx, tag, DIGIPUNT),
        "on_loan": lambda: services.loan_out(ctx, tag, "GZ-0042"),
        "returned": lambda: services.loan_return(ctx, tag, "ok"),
    }
    for stage in STAGES[1:STAGES.index(upto) + 1]:
        steps[stage]()
    return tag


def refused_wipe_lines(tag, state):
    return [
        "error: transition-refused",
        f"× {tag} cannot be allocated: it is in {state}",
        f"  missing: no verified wipe of storage medium {MEDIUM} (nvme)",
        f"      → refurb wipe record {tag} --medium {MEDIUM} --profile … --result pass",
    ]


# ---------------------------------------------------------------------------- the whole path


def test_the_legal_path_reaches_on_loan_and_back(cli, ctx):
    """The path the issue's checker walks, each step with its exact output."""
    started = datetime.now(UTC) - timedelta(seconds=5)
    r = run(cli, "donor", "add", DONOR)
    assert (r.exit_code, r.stdout, r.stderr) == (0, f"✔ donor {DONOR} added\n", "")

    r = run(cli, "batch", "add", "--donor", DONOR, "--json")
    assert r.exit_code == 0
    batch = json.loads(r.stdout)
    assert re.fullmatch(r"B-\d{4}-0001", batch["ref"])
    assert (batch["donor"], batch["status"]) == (DONOR, "open")

    r = run(cli, "digipunt", "add", DIGIPUNT)
    assert (r.exit_code, r.stdout) == (0, f"✔ digipunt {DIGIPUNT} added (loans of 28 days)\n")

    r = run(cli, "intake", "add", "--batch", batch["ref"], "--kind", "laptop", "--make", "Lenovo",
            "--model", MODEL, "--serial", SERIAL, "--json")
    assert r.exit_code == 0
    card = json.loads(r.stdout)
    tag = card["tag"]
    assert tag == tag_no(1)
    assert (card["state"], card["serial"], card["batch"]) == ("intake", SERIAL, batch["ref"])

    expected_outputs = [
        (("media", "add", tag, "--type", "nvme", "--serial", MEDIUM, "--size", "512G"),
         f"✔ {tag}: medium {MEDIUM} (nvme) recorded\n"),
        (("wipe", "record", tag, "--medium", MEDIUM, "--profile", "nvme-sanitize", "--result", "pass"),
         f"✔ {tag}: wipe of {MEDIUM} recorded (nvme-sanitize, purge, pass) · wiped  "
         "(wipe queued → wipe started → wiped)\n"),
        (("reimage", tag, "--image", "linux-mint"), f"✔ {tag} reimaged with linux-mint · imaged  (reimaged)\n"),
        (("qc", tag, "--pass", "--grade", "b"), f"✔ {tag}: quality check pass · ready  (quality check passed)\n"),
        (("allocate", tag, "--digipunt", DIGIPUNT),
         f"✔ {tag} allocated to {DIGIPUNT} · allocated  (allocated)\n"),
    ]
    for args, out in expected_outputs:
        r = run(cli, *args)
        assert (r.exit_code, r.stdout, r.stderr) == (0, out, ""), args

    due = (date.today() + timedelta(days=30)).isoformat()
    r = run(cli, "loan", "out", tag, "--borrower", "GZ-0042", "--due", due)
    assert r.exit_code == 0
    assert r.stdout.startswith(f"✔ {tag} lent to GZ-0042, due ")
    assert r.stdout.endswith(" · on_loan  (lent out)\n")
    assert json.loads(run(cli, "show", tag, "--json").stdout)["loan"]["due"] == due

    r = run(cli, "loan", "return", tag, "--condition", "ok")
    assert (r.exit_code, r.stdout) == (
        0, f"✔ {tag} returned (ok) · wipe_pending  (returned by borrower → back to wipe queue)\n")

    r = run(cli, "show", tag, "--json")
    assert r.exit_code == 0
    shown = json.loads(r.stdout)
    assert (shown["tag"], shown["state"], shown["grade"]) == (tag, "wipe_pending", "B")
    assert [(m["serial"], m["type"], m["size_bytes"]) for m in shown["media"]] == [(MEDIUM, "nvme", 512 * 10**9)]
    assert [(e["action"], e["from_state"], e["to_state"]) for e in shown["events"]] == [
        ("register", None, "intake"),
        ("media_added", "intake", None),
        ("wipe_recorded", "intake", None),
        ("queue_wipe", "intake", "wipe_pending"),
        ("start_wipe", "wipe_pending", "wiping"),
        ("finish_wipe", "wiping", "wiped"),
        ("reimage", "wiped", "imaged"),
        ("qc_pass", "imaged", "ready"),
        ("allocate", "ready", "allocated"),
        ("loan_out", "allocated", "on_loan"),
        ("return", "on_loan", "returned"),
        ("requeue", "returned", "wipe_pending"),
    ]
    finished = datetime.now(UTC) + timedelta(seconds=5)
    for e in shown["events"]:
        assert (e["operator"], e["station"]) == ("Sara", "bench-1")
        assert e["at"].endswith("Z")
        assert started <= datetime.fromisoformat(e["at"].replace("Z", "+00:00")) <= finished
    ids = [e["id"] for e in shown["events"]]
    assert ids == sorted(ids)

    r = run(cli, "audit", "verify")
    assert r.exit_code == 0, r.stderr


def test_a_returned_device_goes_round_again_only_after_a_new_wipe(cli, stock):
    tag = make_device(stock, "returned")
    assert state_of(stock, tag) == "wipe_pending"

    r = run(cli, "allocate", tag, "--digipunt", DIGIPUNT)
    assert r.exit_code == 4
    lines = err_lines(r)
    assert lines[:4] == refused_wipe_lines(tag, "wipe_pending")
    assert lines[-1] == "hint: the wipe guard can never be forced; record the missing wipes first"

    # the old image and QC predate the return: they do not count either
    r = run(cli, "wipe", "record", tag, "--medium", MEDIUM, "--profile", "nvme-sanitize", "--result", "pass")
    assert r.exit_code == 0
    assert r.stdout.endswith(" · wiped  (wipe started → wiped)\n")
    r = run(cli, "allocate", tag, "--digipunt", DIGIPUNT)
    assert r.exit_code == 4
    assert "  missing: no OS image recorded since the last wipe" in err_lines(r)

    for args in (("reimage", tag, "--image", "linux-mint"), ("qc", tag, "--pass", "--grade", "A"),
                 ("allocate", tag, "--digipunt", DIGIPUNT)):
        assert run(cli, *args).exit_code == 0, args
    assert state_of(stock, tag) == "allocated"


def test_operator_and_station_options_are_recorded(cli, stock):
    tag = make_device(stock, "intake")
    r = run(cli, "media", "add", tag, "--type", "hdd", "--serial", "WD-1", "--operator", "Bram", "--station", "bench-7")
    assert r.exit_code == 0
    last = events_of(stock, tag)[-1]
    assert (last["action"], last["operator"], last["station"]) == ("media_added", "Bram", "bench-7")


# ---------------------------------------------------------------------------- read commands and JSON contracts


def test_list_json_is_an_array_without_events(cli, stock):
    first = make_device(stock, "ready")
    second = make_device(stock, "intake", serial="PF9XYZ99")
    r = run(cli, "list", "--json")
    assert r.exit_code == 0
    rows = json.loads(r.stdout)
    assert [(d["tag"], d["state"]) for d in rows] == [(first, "ready"), (second, "intake")]
    assert all("events" not in d for d in rows)
    assert rows[0]["media"][0]["serial"] == MEDIUM and rows[1]["media"] == []

    r = run(cli, "list", "--state", "ready", "--json")
    assert [d["tag"] for d in json.loads(r.stdout)] == [first]
    r = run(cli, "list", "--batch", "NOPE", "--json")
    assert r.exit_code == 3
    assert err_lines(r)[:2] == ["error: not-found", "× no batch named 'NOPE'"]


def test_show_text_card(cli, stock):
    tag = make_device(stock, "ready")
    r = run(cli, "show", tag)
    assert r.exit_code == 0
    lines = r.stdout.splitlines()
    assert lines[0] == f"{tag}  Lenovo {MODEL} · {SERIAL} · batch {BATCH} ({DONOR})"
    assert lines[1] == f"storage: 512 GB nvme ({MEDIUM}) ✔ nvme-sanitize · purge"
    assert lines[2] == "state: ready · grade B · warehouse"
    timeline = [line for line in lines[4:] if line.strip()]
    assert len(timeline) == len(events_of(stock, tag))
    assert "registered" in timeline[0] and "quality check passed" in timeline[-1]
    assert all("Sara" in row and "bench-1" in row for row in timeline)


def test_wipe_profiles_json(cli, ctx):
    r = run(cli, "wipe", "profiles", "--json")
    assert r.exit_code == 0
    profiles = {p["id"]: p for p in json.loads(r.stdout)}
    assert set(profiles) == SHIPPED_PROFILES
    for p in profiles.values():
        assert p["media"] and set(p["media"]) <= set(MEDIA_TYPES)
        assert set(p["level"]) == set(p["media"]), p["id"]
        assert set(p["level"].values()) <= set(LEVELS)
    assert profiles["nvme-sanitize"]["level"] == {"nvme": "purge"}
    assert profiles["hdd-overwrite"]["level"] == {"hdd": "clear"}
    assert set(profiles["destroy"]["level"].values()) == {"destroy"}


def test_images_json(cli, ctx):
    r = run(cli, "images", "--json")
    assert r.exit_code == 0
    ids = [i["id"] for i in json.loads(r.stdout)]
    assert {"linux-mint", "windows-11", "chromeos-flex"} <= set(ids)
    assert len(ids) == len(set(ids))


def test_lifecycle_json_is_the_table(cli, ctx):
    r = run(cli, "lifecycle", "--json")
    assert r.exit_code == 0
    rows = json.loads(r.stdout)
    assert len(rows) == len(lifecycle.TABLE)
    by = {(x["action"], x["to"]): x for x in rows}
    main_path = [("receive", "expected", "intake"), ("queue_wipe", "intake", "wipe_pending"),
                 ("start_wipe", "wipe_pending", "wiping"), ("finish_wipe", "wiping", "wiped"),
                 ("reimage", "wiped", "imaged"), ("qc_pass", "imaged", "ready"), ("allocate", "ready", "allocated"),
                 ("loan_out", "allocated", "on_loan"), ("return", "on_loan", "returned"),
                 ("requeue", "returned", "wipe_pending")]
    for action, source, target in main_path:
        assert source in by[(action, target)]["from"], action
    assert by[("allocate", "allocated")]["guards"] == ["wipe_verified", "no_open_lock"]
    assert by[("register", "intake")]["from"] == []
    # the wipe guard is never forceable, wherever it appears
    assert all("wipe_verified" not in x["forceable"] for x in rows)
    assert any("wipe_verified" in x["guards"] for x in rows)

    r = run(cli, "lifecycle")
    assert r.exit_code == 0
    assert re.search(r"^allocate\s+ready\s+allocated\s+wipe_verified, no_open_lock", r.stdout, re.M)


# ---------------------------------------------------------------------------- refusals by the lifecycle


def test_allocating_an_unwiped_device_is_refused(cli, stock):
    tag = make_device(stock, "media")
    before = event_count(stock)
    r = run(cli, "allocate", tag, "--digipunt", DIGIPUNT)
    assert r.exit_code == 4
    assert r.stdout == ""
    assert err_lines(r) == refused_wipe_lines(tag, "intake") + [
        "  missing: no OS image recorded since the last wipe",
        f"      → refurb reimage {tag} --image …",
        "  missing: no passing quality check since the last image",
        f"      → refurb qc {tag} --pass --grade A|B|C",
        "hint: the wipe guard can never be forced; record the missing wipes first",
    ]
    assert (state_of(stock, tag), event_count(stock)) == ("intake", before)


def test_allocating_a_device_without_known_media_names_the_fix(cli, stock):
    tag = make_device(stock, "intake")
    r = run(cli, "allocate", tag, "--digipunt", DIGIPUNT)
    assert r.exit_code == 4
    assert f"      → refurb media add {tag} --type … --serial …  (or: refurb media none {tag})" in err_lines(r)


def test_qc_before_reimage_is_refused(cli, stock):
    tag = make_device(stock, "wiped")
    before = event_count(stock)
    r = run(cli, "qc", tag, "--pass", "--grade", "A")
    assert r.exit_code == 4
    lines = err_lines(r)
    assert lines[:4] == [
        "error: transition-refused",
        f"× {tag} cannot pass quality check: it is in wiped",
        "  missing: no OS image recorded since the last wipe",
        f"      → refurb reimage {tag} --image …",
    ]
    assert lines[-1] == "hint: a lead may override with --force REASON"
    assert (state_of(stock, tag), event_count(stock)) == ("wiped", before)


def test_qc_before_reimage_names_only_the_image(cli, stock):
    tag = make_device(stock, "wiped")
    r = run(cli, "qc", tag, "--pass", "--grade", "A")
    assert r.exit_code == 4
    assert not any("quality check" in line for line in err_lines(r)[2:])


def test_a_repeated_allocate_is_a_harmless_noop(cli, stock):
    tag = make_device(stock, "allocated")
    before = event_count(stock)
    r = run(cli, "allocate", tag, "--digipunt", DIGIPUNT)
    assert (r.exit_code, r.stderr) == (0, "")
    assert r.stdout == f"• {tag} allocated to {DIGIPUNT} · nothing to do: it already is allocated\n"
    assert event_count(stock) == before
    r = run(cli, "allocate", tag, "--digipunt", DIGIPUNT, "--json")
    assert json.loads(r.stdout)["noop"] is True


def test_allocating_to_a_second_digipunt_is_refused(cli, stock):
    tag = make_device(stock, "allocated")
    services.add_digipunt(stock, "Aalst")
    before = event_count(stock)
    r = run(cli, "allocate", tag, "--digipunt", "Aalst")
    assert r.exit_code == 1
    assert err_lines(r) == ["error: conflict", f"× {tag} is allocated to {DIGIPUNT} already",
                            f"hint: release it first: refurb allocate {tag} --release"]
    assert event_count(stock) == before


# ---------------------------------------------------------------------------- forcing


def test_a_lead_forces_an_overridable_guard_and_it_is_recorded(cli, stock):
    tag = make_device(stock, "imaged")
    r = run(cli, "qc", tag, "--pass")
    assert r.exit_code == 4
    lines = err_lines(r)
    assert "  missing: no grade given" in lines
    assert lines[-1] == "hint: a lead may override with --force REASON"

    reason = "grade after the hinge repair"
    r = run(cli, "qc", tag, "--pass", "--force", reason)
    assert (r.exit_code, r.stdout) == (0, f"✔ {tag}: quality check pass · ready  (quality check passed)\n")
    last = events_of(stock, tag)[-1]
    assert (last["action"], last["to_state"], last["forced"], last["operator"]) == ("qc_pass", "ready", reason, "Sara")
    assert last["data"]["forced_guards"] == ["no grade given"]
    assert f"FORCED: {reason}" in run(cli, "show", tag).stdout
    assert run(cli, "audit", "verify").exit_code == 0


def test_a_volunteer_cannot_force(cli, stock):
    services.add_operator(stock, "Bram", "volunteer")
    tag = make_device(stock, "imaged")
    before = event_count(stock)
    r = run(cli, "qc", tag, "--pass", "--force", "trust me", "--operator", "Bram")
    assert r.exit_code == 1
    assert err_lines(r)[:2] == ["error: not-allowed", "× forcing a guard needs a lead; Bram is a volunteer"]
    assert err_lines(r)[2].startswith("hint: ")
    assert (state_of(stock, tag), event_count(stock)) == ("imaged", before)


def test_the_wipe_guard_cannot_be_forced(cli, stock):
    tag = make_device(stock, "media")
    before = event_count(stock)
    r = run(cli, "allocate", tag, "--digipunt", DIGIPUNT, "--force", "the borrower is waiting")
    assert r.exit_code == 4
    lines = err_lines(r)
    assert lines[:4] == refused_wipe_lines(tag, "intake")
    assert lines[-1] == "hint: the wipe guard can never be forced; record the missing wipes first"
    assert (state_of(stock, tag), event_count(stock)) == ("intake", before)


def test_the_wipe_guard_cannot_be_forced_after_a_return(cli, stock):
    tag = make_device(stock, "returned")
    before = event_count(stock)
    r = run(cli, "allocate", tag, "--digipunt", DIGIPUNT, "--force", "it looks clean")
    assert r.exit_code == 4
    assert err_lines(r)[:4] == refused_wipe_lines(tag, "wipe_pending")
    assert event_count(stock) == before


# ---------------------------------------------------------------------------- operator required


WRITES = [
    ("donor", "add", "Globex"),
    ("batch", "add", "--donor", DONOR, "--ref", "B-2"),
    ("digipunt", "add", "Aalst"),
    ("intake", "add", "--batch", BATCH, "--serial", "NEW-1"),
    ("media", "add", "{tag}", "--type", "hdd", "--serial", "WD-1"),
    ("wipe", "record", "{tag}", "--medium", MEDIUM, "--profile", "nvme-sanitize", "--result", "pass"),
    ("allocate", "{tag}", "--digipunt", DIGIPUNT),
]


@pytest.mark.parametrize("args", WRITES, ids=lambda a: " ".join(a[:2]))
def test_writes_without_an_operator_are_refused(cli, stock, monkeypatch, args):
    tag = make_device(stock, "media")
    monkeypatch.delenv("REFURB_OPERATOR")
    before = (event_count(stock), device_count(stock), services.list_donors(stock), services.list_batches(stock))
    r = run(cli, *(a.format(tag=tag) for a in args))
    assert r.exit_code == 2
    assert r.stdout == ""
    assert err_lines(r) == ["error: no-operator", "× no operator: every change records who made it",
                            "hint: give --operator NAME or set REFURB_OPERATOR"]
    after = (event_count(stock), device_count(stock), services.list_donors(stock), services.list_batches(stock))
    assert after == before
    assert state_of(stock, tag) == "intake"


def test_reads_need_no_operator(cli, stock, monkeypatch):
    tag = make_device(stock, "intake")
    monkeypatch.delenv("REFURB_OPERATOR")
    assert run(cli, "show", tag, "--json").exit_code == 0
    assert run(cli, "list").exit_code == 0
    assert run(cli, "audit", "verify").exit_code == 0


# ---------------------------------------------------------------------------- look-ups: not found, misread


def test_an_unknown_tag_exits_3(cli, stock):
    make_device(stock, "intake")
    unknown = tag_no(50)
    r = run(cli, "show", unknown)
    assert (r.exit_code, r.stdout) == (3, "")
    assert err_lines(r) == ["error: not-found", f"× no device with tag {unknown}",
                            "hint: list devices with: refurb list"]
    r = run(cli, "show", "NO-SUCH-SERIAL")
    assert r.exit_code == 3
    assert err_lines(r)[:2] == ["error: not-found", "× nothing matches 'NO-SUCH-SERIAL'"]


def single_changes(tag):
    """Every position of the tag changed to another character of the same class (letter, digit, check)."""
    out = []
    for i, ch in enumerate(tag):
        if ch == "-":
            continue
        if i == len(tag) - 1:
            pool = tags.ALPHABET
        elif ch.isdigit():
            pool = "0123456789"
        else:
            pool = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        other = pool[(pool.index(ch) + 1) % len(pool)]
        out.append(tag[:i] + other + tag[i + 1:])
    return out


def test_a_tag_with_a_changed_character_is_a_misread(cli, stock):
    tag = make_device(stock, "intake")
    assert run(cli, "show", tag.lower()).exit_code == 0  # scanners may send lower case
    variants = single_changes(tag)
    assert len(variants) == len(tag) - 2
    for bad in variants:
        r = run(cli, "show", bad)
        assert r.exit_code == 3, bad
        assert err_lines(r) == ["error: misread-tag", f"× {bad}: misread: the check character does not match",
                                "hint: scan again, or type the tag carefully"]


def test_a_misread_never_falls_back_to_other_lookups(cli, stock):
    tag = make_device(stock, "intake")
    misread = single_changes(tag)[-1]
    # a second device whose donor asset tag is exactly that misread string
    services.register_device(stock, BATCH, "laptop", serial="OTHER-1", donor_tag=misread)
    r = run(cli, "show", misread)
    assert r.exit_code == 3
    assert err_lines(r)[0] == "error: misread-tag"


def test_writes_on_a_misread_tag_change_nothing(cli, stock):
    tag = make_device(stock, "media")
    before = event_count(stock)
    r = run(cli, "wipe", "record", single_changes(tag)[2], "--medium", MEDIUM, "--profile", "nvme-sanitize",
            "--result", "pass")
    assert r.exit_code == 3
    assert event_count(stock) == before


# ---------------------------------------------------------------------------- usage errors


def past():
    return (date.today() - timedelta(days=1)).isoformat()


USAGE = [
    (("intake", "add", "--batch", BATCH, "--kind", "toaster", "--serial", "T-1"),
     "× --kind: 'toaster' is not one of laptop, tablet, phone, desktop, other"),
    (("qc", "{tag}", "--pass", "--grade", "Z"), "× --grade: 'Z' is not one of A, B, C"),
    (("loan", "out", "{tag}", "--borrower", "GZ-1", "--due", "2026-13-01"), "× --due: '2026-13-01' is not a date"),
    (("loan", "out", "{tag}", "--borrower", "GZ-1", "--due", "31/12/2099"), "× --due: '31/12/2099' is not a date"),
    (("loan", "out", "{tag}", "--borrower", "GZ-1", "--due", "{past}"), "× the due date {past} is in the past"),
    (("media", "add", "{tag}", "--type", "floppy", "--serial", "F-1"),
     "× --type: 'floppy' is not one of hdd, sata-ssd, nvme, emmc, removable, embedded"),
    (("wipe", "record", "{tag}", "--medium", MEDIUM, "--profile", "nvme-sanitize", "--result", "maybe"),
     "× --result: 'maybe' is not one of pass, fail"),
    (("loan", "return", "{tag}", "--condition", "broken"), "× --condition: 'broken' is not one of ok, damaged, incomplete"),
    (("list", "--state", "shiny"), None),
    (("qc", "{tag}", "--grade", "A"), "× say --pass or --fail"),
    (("allocate", "{tag}"), "× say --digipunt NAME or --release"),
]


@pytest.mark.parametrize("args, message", USAGE, ids=lambda x: " ".join(x[:3]) if isinstance(x, tuple) else None)
def test_usage_errors_exit_2_without_traceback(cli, stock, args, message):
    tag = make_device(stock, "allocated")
    before = event_count(stock), device_count(stock)
    fill = {"tag": tag, "past": past()}
    r = run(cli, *(a.format(**fill) for a in args))
    assert r.exit_code == 2
    assert r.stdout == ""
    lines = err_lines(r)
    assert lines[0] == "error: usage"
    if message:
        assert lines[1] == message.format(**fill)
    assert lines[1].startswith("× ")
    assert lines[-1].startswith("hint: ")
    assert (event_count(stock), device_count(stock)) == before
    assert state_of(stock, tag) == "allocated"


def test_a_missing_required_option_is_a_usage_error(cli, stock):
    r = run(cli, "intake", "add", "--kind", "laptop", "--serial", "T-1")
    assert r.exit_code == 2
    assert "--batch" in r.stderr
    assert "internal error" not in r.stderr


# ---------------------------------------------------------------------------- error format


FAILURES = [
    (("show", "{unknown}"), 3, "not-found"),
    (("show", "{misread}"), 3, "misread-tag"),
    (("allocate", "{tag}", "--digipunt", DIGIPUNT), 4, "transition-refused"),
    (("allocate", "{tag}", "--digipunt", "Nowhere"), 3, "not-found"),
    (("intake", "add", "--batch", BATCH, "--serial", SERIAL), 1, "duplicate-device"),
    (("donor", "add", DONOR), 1, "conflict"),
    (("reimage", "{tag}", "--image", "templeos"), 3, "not-found"),
    (("wipe", "record", "{tag}", "--medium", MEDIUM, "--profile", "hdd-overwrite", "--result", "pass"), 4,
     "profile-mismatch"),
    (("intake", "add", "--batch", BATCH, "--kind", "fridge", "--serial", "F"), 2, "usage"),
]


@pytest.mark.parametrize("args, code, ref", FAILURES, ids=[f[2] + ":" + f[0][0] for f in FAILURES])
def test_error_output_format(cli, stock, args, code, ref):
    tag = make_device(stock, "media")
    fill = {"tag": tag, "unknown": tag_no(40), "misread": single_changes(tag)[0]}
    before = event_count(stock)
    r = run(cli, *(a.format(**fill) for a in args))
    assert r.exit_code == code
    assert r.stdout == ""
    lines = err_lines(r)
    assert lines[0] == f"error: {ref}"
    assert lines[1].startswith("× ") and len(lines[1]) > 4
    assert sum(line.startswith("hint: ") for line in lines) == 1
    assert "Traceback" not in r.stderr
    assert event_count(stock) == before


# ---------------------------------------------------------------------------- intake: batches, receipt, duplicates


def test_batch_add_json_with_a_given_ref(cli, stock):
    r = run(cli, "batch", "add", "--donor", DONOR, "--ref", "ACME-2", "--donor-ref", "PO-77", "--json")
    assert r.exit_code == 0
    assert json.loads(r.stdout) == {"ref": "ACME-2", "donor": DONOR, "donor_ref": "PO-77", "status": "open"}
    r = run(cli, "batch", "add", "--donor", DONOR, "--ref", "ACME-2")
    assert r.exit_code == 1
    assert err_lines(r)[:2] == ["error: conflict", "× batch ACME-2 exists already"]
    r = run(cli, "batch", "add", "--donor", "Nobody")
    assert r.exit_code == 3
    assert err_lines(r)[:2] == ["error: not-found", "× no donor named 'Nobody'"]


def test_intake_receive_moves_expected_to_intake(cli, stock):
    tag = services.expect_device(stock, BATCH, "laptop", "Dell", "Latitude 5490", serial="E-1")["tag"]
    assert state_of(stock, tag) == "expected"
    r = run(cli, "intake", "receive", "E-1")
    assert (r.exit_code, r.stdout) == (0, f"✔ {tag} received · intake  (received)\n")
    assert [(e["action"], e["from_state"], e["to_state"]) for e in events_of(stock, tag)] == [
        ("expect", None, "expected"), ("receive", "expected", "intake")]
    before = event_count(stock)
    r = run(cli, "intake", "receive", tag)
    assert (r.exit_code, r.stdout) == (0, f"• {tag} received · nothing to do: it already is intake\n")
    assert event_count(stock) == before


def test_batch_close_reports_missing_and_extra(cli, stock):
    received = services.expect_device(stock, BATCH, "laptop", "Dell", "Latitude 5490", serial="E-1")["tag"]
    missing = services.expect_device(stock, BATCH, "tablet", "Apple", "iPad 9", serial="E-2")["tag"]
    extra = services.register_device(stock, BATCH, "laptop", "HP", "EliteBook 840", serial="X-1")["tag"]
    assert run(cli, "intake", "receive", "E-1").exit_code == 0

    r = run(cli, "batch", "close", BATCH)
    assert r.exit_code == 0
    assert r.stdout.splitlines() == [
        f"✔ batch {BATCH} closed: 2 received, 1 missing, 1 extra",
        f"  missing: {missing} E-2 Apple iPad 9",
        f"  extra: {extra} X-1 HP EliteBook 840",
    ]
    r = run(cli, "batch", "close", BATCH, "--json")
    report = json.loads(r.stdout)
    assert [d["tag"] for d in report["missing"]] == [missing]
    assert [d["tag"] for d in report["extra"]] == [extra]
    assert received not in [d["tag"] for d in report["missing"] + report["extra"]]
    assert (report["received"], report["already_closed"]) == (2, True)
    assert [b["status"] for b in services.list_batches(stock) if b["ref"] == BATCH] == ["closed"]


def test_intake_add_with_a_duplicate_serial_is_refused(cli, stock):
    tag = make_device(stock, "intake")
    before = event_count(stock), device_count(stock)
    r = run(cli, "intake", "add", "--batch", BATCH, "--serial", SERIAL, "--json")
    assert (r.exit_code, r.stdout) == (1, "")
    assert err_lines(r) == ["error: duplicate-device", f"× serial {SERIAL} is already device {tag} (intake)",
                            f"hint: see it with: refurb show {tag}"]
    assert (event_count(stock), device_count(stock)) == before
    # nothing was half-written: the refused command did not use up a tag number
    r = run(cli, "intake", "add", "--batch", BATCH, "--serial", "PF-NEXT", "--json")
    assert json.loads(r.stdout)["tag"] == tag_no(2)


def test_intake_add_of_an_expected_serial_points_at_receive(cli, stock):
    tag = services.expect_device(stock, BATCH, "laptop", serial="E-9")["tag"]
    r = run(cli, "intake", "add", "--batch", BATCH, "--serial", "E-9")
    assert r.exit_code == 1
    assert err_lines(r) == ["error: duplicate-device", f"× serial E-9 is already device {tag} (expected)",
                            "hint: it is expected: refurb intake receive E-9"]


def test_loan_out_prints_the_due_date_for_people(cli, stock):
    tag = make_device(stock, "allocated")
    due = date.today() + timedelta(days=30)
    r = run(cli, "loan", "out", tag, "--borrower", "GZ-1", "--due", due.isoformat())
    assert r.exit_code == 0
    assert f"due {due.strftime('%d/%m/%Y')}" in r.stdout
