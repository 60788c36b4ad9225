"""Donor manifests into the database (refurb.manifests), on SQLite and PostgreSQL: every listed device
`expected` in its batch, re-imports idempotent, updates recorded, row errors refused before anything is
written, personal data never stored, the hash chain accepted by `refurb audit verify`."""

import csv
import hashlib
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from refurb import db, manifests, services, tags
from refurb.errors import Conflict, NotFound, UsageProblem
from refurb.models import Event, Evidence

DONORS = Path(__file__).resolve().parents[1].parent / "shared" / "external" / "donor-manifests"
HUB_DEVICES = DONORS / "devicehub-teal" / "multiples_devices.csv"
SNIPE = DONORS / "snipe-it" / "assets-sample.csv"
SNIPE_BAD = DONORS / "snipe-it" / "assets-sample-BAD.csv"

needs_donors = pytest.mark.skipif(not HUB_DEVICES.exists(), reason=f"{DONORS} is not there")


@pytest.fixture
def batch(ctx):
    services.add_donor(ctx, "Acme NV")
    services.add_batch(ctx, "Acme NV", "B1")
    services.add_batch(ctx, "Acme NV", "B2")
    return "B1"


def write_csv(path, rows, delimiter=","):
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def counts(ctx):
    with services.reading(ctx) as s:
        return (s.execute(select(func.count(Event.id))).scalar(),
                s.execute(select(func.count(Evidence.id))).scalar(),
                sum(b["devices"] for b in services.list_batches(ctx)))


def events(ctx, action):
    with services.reading(ctx) as s:
        return [(e.device_id, e.from_state, e.to_state, json.loads(e.data))
                for e in s.execute(select(Event).where(Event.action == action).order_by(Event.id)).scalars()]


DEVICES = [["Serial Number", "Asset Tag", "Manufacturer", "Model", "Type", "RAM (GB)"],
           ["PF1ABC23", "ACME-1", "Lenovo", "ThinkPad T480", "Laptop", "8"],
           ["PF1ABC24", "ACME-2", "Dell", "Latitude 7490", "Laptop", "16"],
           ["", "ACME-3", "HP", "EliteDesk 800", "Desktop", ""]]


@needs_donors
def test_a_real_export_becomes_expected_devices_with_the_manifest_kept(ctx, batch):
    report = manifests.import_manifest(ctx, HUB_DEVICES, batch)
    assert {k: report[k] for k in ("rows", "imported", "updated", "unchanged", "invalid")} == {
        "rows": 4, "imported": 4, "updated": 0, "unchanged": 0, "invalid": 0}
    assert (report["encoding"], report["delimiter"], report["preset"]) == ("utf-8", ",", "devicehub")
    devices = services.list_devices(ctx, batch=batch)
    assert [(d["serial"], d["state"], d["kind"]) for d in devices] == [
        ("b8oaas048286", "expected", "laptop"), ("d1s", "expected", "desktop"), ("bar", "expected", "other"),
        ("cn0fp446728728541c8s", "expected", "other")]
    shown = services.show(ctx, devices[0]["tag"])
    assert shown["specs"] == {"cpu": "intel atom cpu n455 @ 1.66ghz", "ram_gb": 1.0, "storage_gb": 238.5}
    # one expect event each, shaped as services.expect_device writes it
    assert [(e["action"], e["from_state"], e["to_state"]) for e in shown["events"]] == [("expect", None, "expected")]
    assert shown["events"][0]["data"] == {"batch": "B1", "donor_tag": None, "make": "asustek computer inc.",
                                          "model": "1001pxd", "serial": "b8oaas048286"}
    made = services.expect_device(ctx, batch, "laptop", "Dell", "E7240", "SN-BY-HAND")
    assert set(services.show(ctx, made["tag"])["events"][0]["data"]) == set(shown["events"][0]["data"])
    # the manifest is kept, byte for byte, referenced from the chain
    [(_d, _f, _t, data)] = events(ctx, "manifest_imported")
    content = HUB_DEVICES.read_bytes()
    assert data == {"batch": "B1", "file": "multiples_devices.csv", "sha256": hashlib.sha256(content).hexdigest(),
                    "stored_sha256": hashlib.sha256(content).hexdigest(), "evidence_id": report["evidence_id"],
                    "rows": 4, "imported": 4, "updated": 0, "unchanged": 0, "invalid": 0, "dropped_columns": []}
    with services.reading(ctx) as s:
        kept = s.get(Evidence, report["evidence_id"])
        assert (kept.device_id, kept.filename, kept.content) == (None, "multiples_devices.csv", content)
    assert [m["file"] for m in manifests.stored_manifests(ctx, batch)] == ["multiples_devices.csv"]
    assert services.verify_audit(ctx).ok
    # an expected device is received as any other
    assert services.receive(ctx, "d1s")["state"] == "intake"


@needs_donors
def test_the_same_file_twice_changes_nothing(ctx, batch):
    manifests.import_manifest(ctx, HUB_DEVICES, batch)
    before = counts(ctx)
    again = manifests.import_manifest(ctx, HUB_DEVICES, batch)
    assert {k: again[k] for k in ("rows", "imported", "updated", "unchanged", "invalid", "already_imported")} == {
        "rows": 4, "imported": 0, "updated": 0, "unchanged": 4, "invalid": 0, "already_imported": True}
    assert counts(ctx) == before


def test_an_updated_file_updates_only_what_changed(ctx, batch, tmp_path):
    first = manifests.import_manifest(ctx, write_csv(tmp_path / "v1.csv", DEVICES), batch)
    assert first["imported"] == 3
    tags_before = {d["donor_tag"]: d["tag"] for d in services.list_devices(ctx, batch=batch)}
    changed = [row[:] for row in DEVICES]
    changed[1][3] = "ThinkPad T480s"         # model corrected
    changed[3][0] = "CZC1234XYZ"             # serial now known (matched by asset tag)
    changed[2][5] = ""                       # an empty cell erases nothing
    changed.append(["PF1ABC25", "ACME-4", "Lenovo", "ThinkPad X270", "Laptop", "8"])
    report = manifests.import_manifest(ctx, write_csv(tmp_path / "v2.csv", changed), batch)
    assert {k: report[k] for k in ("rows", "imported", "updated", "unchanged", "invalid")} == {
        "rows": 4, "imported": 1, "updated": 2, "unchanged": 1, "invalid": 0}
    assert report["updated_devices"] == [{"row": 2, "tag": tags_before["ACME-1"], "changes": ["model"]},
                                         {"row": 4, "tag": tags_before["ACME-3"], "changes": ["serial"]}]
    updates = events(ctx, "manifest_updated")
    assert [(frm, to, data["changes"]) for _d, frm, to, data in updates] == [
        ("expected", None, {"model": ["ThinkPad T480", "ThinkPad T480s"]}),
        ("expected", None, {"serial": [None, "CZC1234XYZ"]})]
    by_tag = {d["donor_tag"]: d for d in services.list_devices(ctx, batch=batch)}
    assert {k: by_tag[k]["tag"] for k in tags_before} == tags_before  # the same devices, not new ones
    assert by_tag["ACME-1"]["model"] == "ThinkPad T480s" and by_tag["ACME-3"]["serial"] == "CZC1234XYZ"
    assert services.show(ctx, "ACME-2")["specs"] == {"ram_gb": 16.0}
    assert len(manifests.stored_manifests(ctx, batch)) == 2
    assert services.verify_audit(ctx).ok


def test_a_received_device_keeps_what_the_bench_found(ctx, batch, tmp_path):
    manifests.import_manifest(ctx, write_csv(tmp_path / "v1.csv", [DEVICES[0], DEVICES[1]]), batch)
    services.receive(ctx, "PF1ABC23")
    newer = [DEVICES[0], ["PF1ABC23", "ACME-1", "LENOVO", "T480 (20L5)", "Desktop", "32"]]
    report = manifests.import_manifest(ctx, write_csv(tmp_path / "v2.csv", newer), batch)
    assert (report["updated"], report["unchanged"]) == (0, 1)
    device = services.show(ctx, "PF1ABC23")
    assert (device["make"], device["model"], device["kind"], device["specs"]) == (
        "Lenovo", "ThinkPad T480", "laptop", {"ram_gb": 8.0})
    # …but gains what it lacked
    lacking = [["Serial Number", "Screen"], ["PF1ABC23", "14"]]
    report = manifests.import_manifest(ctx, write_csv(tmp_path / "v3.csv", lacking), batch)
    assert report["updated_devices"][0]["changes"] == ["screen_inches"]
    assert services.show(ctx, "PF1ABC23")["specs"] == {"ram_gb": 8.0, "screen_inches": 14.0}


def test_dry_run_writes_nothing(ctx, batch, tmp_path):
    before = counts(ctx)
    errors = tmp_path / "errors.csv"
    report = manifests.import_manifest(ctx, write_csv(tmp_path / "v1.csv", DEVICES), batch, dry_run=True,
                                       errors_path=errors)
    assert (report["dry_run"], report["imported"], report["evidence_id"]) == (True, 3, None)
    assert counts(ctx) == before
    assert errors.read_text(encoding="utf-8-sig").splitlines() == ["row,column,value,code,reason"]


def test_invalid_rows_refuse_the_import_unless_skipped(ctx, batch, tmp_path):
    rows = DEVICES + [["6.37702E+15", "", "HP", "ProBook", "Laptop", ""], ["", "", "HP", "ProBook", "", ""]]
    path = write_csv(tmp_path / "bad.csv", rows)
    errors = tmp_path / "errors.csv"
    before = counts(ctx)
    with pytest.raises(UsageProblem) as exc:
        manifests.import_manifest(ctx, path, batch, errors_path=errors)
    assert exc.value.code == "manifest-invalid" and "2 of 5 rows are invalid" in exc.value.message
    assert "--skip-invalid" in exc.value.hint
    assert (exc.value.data["refused"], exc.value.data["invalid"], exc.value.data["imported"]) == (True, 2, 0)
    assert counts(ctx) == before
    lines = list(csv.reader(io.StringIO(errors.read_text(encoding="utf-8-sig"))))
    assert [line[:4] for line in lines] == [["row", "column", "value", "code"],
                                            ["5", "Serial Number", "6.37702E+15", "excel-number"],
                                            ["6", "Serial Number", "", "no-identity"]]
    report = manifests.import_manifest(ctx, path, batch, skip_invalid=True)
    assert (report["imported"], report["invalid"]) == (3, 2)
    assert events(ctx, "manifest_imported")[-1][3]["invalid"] == 2


def test_a_serial_active_in_another_batch_is_a_row_error(ctx, batch, tmp_path):
    other = services.register_device(ctx, "B2", "laptop", "Lenovo", "T480", "PF1ABC24")["tag"]
    gone = services.expect_device(ctx, "B2", "laptop", "Dell", "7490", "PF1ABC23")["tag"]
    services.return_to_donor(ctx, gone)  # an end state: its serial is free again
    errors = tmp_path / "e.csv"
    with pytest.raises(UsageProblem):
        manifests.import_manifest(ctx, write_csv(tmp_path / "m.csv", DEVICES), batch, errors_path=errors)
    report = manifests.import_manifest(ctx, write_csv(tmp_path / "m.csv", DEVICES), batch, skip_invalid=True)
    assert (report["imported"], report["invalid"]) == (2, 1)
    [error] = report["errors"]
    assert (error["row"], error["column"], error["code"]) == (3, "Serial Number", "duplicate-device")
    assert other in error["reason"] and "B2" in error["reason"]
    assert "duplicate-device" in errors.read_text(encoding="utf-8-sig")


def test_a_row_naming_two_devices_or_another_serial_is_refused(ctx, batch, tmp_path):
    manifests.import_manifest(ctx, write_csv(tmp_path / "v1.csv", DEVICES), batch)
    rows = [DEVICES[0], ["PF1ABC23", "ACME-2", "Lenovo", "T480", "", ""],  # serial of one, asset tag of another
            ["PF9ZZZ99", "ACME-1", "Lenovo", "T480", "", ""]]  # ACME-1 has serial PF1ABC23
    report = manifests.import_manifest(ctx, write_csv(tmp_path / "v2.csv", rows), batch, dry_run=True,
                                       skip_invalid=True)
    assert [(e["row"], e["code"]) for e in report["errors"]] == [(2, "conflict"), (3, "serial-mismatch")]


def test_personal_data_is_neither_stored_nor_in_the_chain(ctx, batch, tmp_path):
    path = write_csv(tmp_path / "intune.csv", [
        ["Device name", "Serial number", "Manufacturer", "Model", "Primary user UPN", "Primary user email address",
         "Phone number"],
        ["LAPTOP-JPEETERS", "PF2XYZ11", "LENOVO", "20L6S0AA00", "jan.peeters@acme.be", "jan.peeters@acme.be",
         "+32 470 12 34 56"]])
    report = manifests.import_manifest(ctx, path, batch)
    assert report["dropped_columns"] == ["Device name", "Primary user UPN", "Primary user email address",
                                         "Phone number"]
    assert report["ignored_columns"] == [] and report["stored_file"] == "intune.kept.csv"
    with services.reading(ctx) as s:
        kept = s.get(Evidence, report["evidence_id"]).content
        everything = " ".join(e.data for e in s.execute(select(Event)).scalars())
    assert b"peeters" not in kept.lower() and b"470" not in kept and b"PF2XYZ11" in kept
    assert "peeters" not in everything.lower()
    assert report["stored_sha256"] == hashlib.sha256(kept).hexdigest() != report["file_sha256"]


@needs_donors
def test_snipe_it_exports(ctx, batch, tmp_path):
    report = manifests.import_manifest(ctx, SNIPE, batch)
    assert (report["imported"], report["preset"], len(report["dropped_columns"])) == (22, "snipeit", 5)
    assert services.show(ctx, "ICC-2065556")["specs"] == {"model_number": "1786VM80X07"}
    with pytest.raises(UsageProblem) as exc:
        manifests.import_manifest(ctx, SNIPE_BAD, "B2", errors_path=tmp_path / "bad.csv")
    assert exc.value.data["invalid"] == 200
    assert (tmp_path / "bad.csv").read_text(encoding="utf-8-sig").count("excel-number") == 200


def test_a_stock_export_re_imports_onto_the_same_devices(ctx, batch, tmp_path):
    ours = [services.register_device(ctx, "B1", "laptop", "Lenovo", "ThinkPad T480", f"PF00{i}")["tag"]
            for i in range(3)]
    services.expect_device(ctx, "B1", "laptop", "Dell", "Latitude 7490", "PF009")
    expected = services.show(ctx, "PF009")["tag"]
    foreign = tags.make("XY", 123)  # another organisation's refurb tag: the donor's tag to us
    header = ["tag", "serial", "kind", "make", "model", "cpu", "ram_gb", "storage_gb", "storage_type", "screen",
              "battery_health", "image", "grade", "accessories", "location", "ready_since"]
    rows = [header] + [[t, f"PF00{i}", "laptop", "Lenovo", "ThinkPad T480", "", "", "", "", "", "", "linux-mint",
                        "A", "charger", "Gent", "2026-11-01"] for i, t in enumerate(ours)]
    rows.append([expected, "PF009", "laptop", "Dell", "Latitude 7490", "Intel Core i5-8350U", "8", "", "", "", "",
                 "", "", "", "", ""])
    rows.append([foreign, "PF777", "tablet", "Apple", "iPad 6", "", "", "", "", "", "", "", "", "", "", ""])
    report = manifests.import_manifest(ctx, write_csv(tmp_path / "stock.csv", rows), "B2")
    assert report["preset"] == "refurb"
    assert report["ignored_columns"] == ["image", "grade", "accessories", "location", "ready_since"]
    assert {k: report[k] for k in ("rows", "imported", "updated", "unchanged", "invalid")} == {
        "rows": 5, "imported": 1, "updated": 1, "unchanged": 3, "invalid": 0}
    assert report["updated_devices"] == [{"row": 5, "tag": expected, "changes": ["cpu", "ram_gb"]}]
    assert [d["tag"] for d in services.list_devices(ctx, batch="B1")] == ours + [expected]  # not moved
    [new] = services.list_devices(ctx, batch="B2")
    assert (new["donor_tag"], new["serial"], new["kind"]) == (foreign, "PF777", "tablet")
    assert services.verify_audit(ctx).ok


def test_xlsx_import(ctx, batch, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    for row in DEVICES:
        wb.active.append(row)
    path = tmp_path / "donor.xlsx"
    wb.save(path)
    report = manifests.import_manifest(ctx, path, batch)
    assert (report["format"], report["imported"]) == ("xlsx", 3)
    assert services.show(ctx, "ACME-3")["kind"] == "desktop"


def test_refusals(ctx, batch, tmp_path):
    path = write_csv(tmp_path / "m.csv", DEVICES)
    with pytest.raises(NotFound):
        manifests.import_manifest(ctx, path, "NO-SUCH-BATCH")
    with pytest.raises(UsageProblem):
        manifests.import_manifest(ctx, path, batch, kind="toaster")
    services.close_batch(ctx, "B2")
    with pytest.raises(Conflict) as exc:
        manifests.import_manifest(ctx, path, "B2")
    assert exc.value.code == "batch-closed"


def test_many_rows_in_chunks_with_progress_and_a_sound_chain(ctx, batch, tmp_path):
    """More rows than one write chunk, odd characters in the event data: the chain stays verifiable."""
    n = manifests.CHUNK * 2 + 7
    rows = [["Serial", "Asset tag", "Make", "Model"]]
    rows += [[f"SN{i:06d}", f"A-{i}", "Lenovo", 'Think"Pad\\ T480 ☃ \u2028 é'] for i in range(n)]
    seen = []
    report = manifests.import_manifest(ctx, write_csv(tmp_path / "big.csv", rows), batch,
                                       progress=lambda done, total: seen.append((done, total)))
    assert report["imported"] == n
    assert seen[0] == (0, n) and seen[-1] == (n, n) and len(seen) == 4
    audit = services.verify_audit(ctx)
    assert audit.ok, audit.problems[:3]
    # tags come from the same counter as every other registration
    made = [d["tag"] for d in services.list_devices(ctx, batch=batch)]
    assert len(set(made)) == n and all(tags.parse(t)[2] == t for t in made)
    after = services.register_device(ctx, batch, "laptop", serial="AFTER")["tag"]
    assert tags.parse(after)[1] > max(tags.parse(t)[1] for t in made)
    assert services.verify_audit(ctx).ok
    db.dispose_all()


@pytest.mark.parametrize("prefix,start", [("RB", 1), ("RB", 999_990), ("ABCDEF", 5), ("Q", 123_456)])
def test_bulk_tags_are_the_tags_one_by_one(prefix, start):
    issued, after = manifests.bulk_tags(prefix, start, 40)
    expected, number = [], start
    for _ in range(40):
        number = tags.next_number(prefix, number)
        expected.append(tags.make(prefix, number))
        number += 1
    assert issued == expected and after == number
