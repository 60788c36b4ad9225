"""`refurb intake snapshot`: real hardware snapshots attached to devices by serial (issue 4 item 3)."""

import hashlib
import json
from pathlib import Path

import pytest

from refurb import services

EXTERNAL = Path(__file__).resolve().parents[1].parent / "shared" / "external"
PROBOOK = EXTERNAL / "ereuse-snapshots" / "devicehub-django" / "hp_probook_450.json"
LSHW_NO_SERIAL = EXTERNAL / "lshw" / "devicehub-teal" / "desktop-amd-bug-no-sn.lshw.json"

pytestmark = pytest.mark.skipif(not PROBOOK.exists(), reason=f"{EXTERNAL} is not there")


@pytest.fixture
def batch(ctx):
    services.add_donor(ctx, "Acme NV")
    services.add_batch(ctx, "Acme NV", "B1")
    return "B1"


def test_an_expected_device_is_received_and_filled_from_its_snapshot(cli, ctx, batch):
    tag = services.expect_device(ctx, batch, "laptop", serial="CND4286ZJ2")["tag"]
    r = cli("intake", "snapshot", PROBOOK, "--json")
    assert r.exit_code == 0, r.output
    [x] = json.loads(r.stdout)["attached"]
    assert (x["tag"], x["registered"], x["state"]) == (tag, False, "intake")
    assert x["evidence"] == hashlib.sha256(PROBOOK.read_bytes()).hexdigest()
    assert x["media_added"] == [{"serial": "S3P9A80F", "type": "hdd", "size_bytes": 500107862016,
                                 "model": "ST500LT012-1DG14"}]
    shown = services.show(ctx, tag)
    assert (shown["make"], shown["model"]) == ("Hewlett-Packard", "HP ProBook 450 G2")
    assert [(m["serial"], m["type"]) for m in shown["media"]] == [("S3P9A80F", "hdd")]
    assert x["suggested_image"] == shown["specs"]["suggested_image"]

    again = json.loads(cli("intake", "snapshot", PROBOOK, "--json").stdout)
    assert [a["noop"] for a in again["attached"]] == [True]
    assert len(services.show(ctx, tag)["media"]) == 1
    assert services.verify_audit(ctx).ok


def test_a_snapshot_matching_no_device_is_listed_or_registered(cli, ctx, batch):
    r = cli("intake", "snapshot", PROBOOK, LSHW_NO_SERIAL, "--json")
    out = json.loads(r.stdout)
    assert r.exit_code == 1
    assert out["attached"] == []
    assert [(Path(u["file"]).name, u["reason"]) for u in out["unmatched"]] == [
        (PROBOOK.name, "no device has serial CND4286ZJ2"),
        (LSHW_NO_SERIAL.name, "no device has serial AA00000000000485, VD051GTF024B4L"),  # no machine serial: its drives
    ]
    assert services.list_devices(ctx) == []

    r = cli("intake", "snapshot", PROBOOK, "--batch", batch, "--register", "--json")
    assert r.exit_code == 0, r.output
    [x] = json.loads(r.stdout)["attached"]
    assert x["registered"] and x["state"] == "intake"
    assert services.show(ctx, x["tag"])["serial"] == "CND4286ZJ2"


def test_register_needs_a_batch(cli, ctx, batch):
    r = cli("intake", "snapshot", PROBOOK, "--register")
    assert r.exit_code == 2 and "--batch" in r.stderr


def test_a_drive_file_finds_its_device_by_the_medium_serial(cli, ctx, batch, tmp_path):
    tag = services.register_device(ctx, batch, "laptop", "HP", "ProBook", "CND4286ZJ2")["tag"]
    services.add_medium(ctx, tag, "hdd", "S3P9A80F")
    doc = json.loads(PROBOOK.read_text(encoding="utf-8"))
    doc["device"]["serialNumber"] = None  # only the drive's serial is left to match by
    f = tmp_path / "drive-only.json"
    f.write_text(json.dumps(doc), encoding="utf-8")
    r = cli("intake", "snapshot", f, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["attached"][0]["tag"] == tag
