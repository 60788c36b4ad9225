"""`refurb wipe import`: erasure evidence becomes wipe records by drive serial; nothing is dropped."""

import json
from pathlib import Path

import pytest

from refurb import services

ERASURE = Path(__file__).resolve().parents[1].parent / "shared" / "external" / "erasure"
SNAPSHOT = ERASURE / "devicehub-teal" / "erase-sectors-2-hdd.snapshot.yaml"
NWIPE = ERASURE / "nwipe-local-debian" / "nwipe_log_zero_verifylast.txt"

pytestmark = pytest.mark.skipif(not SNAPSHOT.exists(), reason=f"{ERASURE} is not there")


@pytest.fixture
def desktop(ctx):
    services.add_donor(ctx, "Acme NV")
    services.add_batch(ctx, "Acme NV", "B1")
    tag = services.register_device(ctx, "B1", "desktop", "HP", "dc7900", "CZC0000001")["tag"]
    for serial in ("WD-WCAV29008961", "WD-WCAV27984668"):
        services.add_medium(ctx, tag, "hdd", serial, 320072933376)
    return tag


def test_erasures_are_imported_by_serial_and_the_rest_is_listed(cli, ctx, desktop):
    r = cli("wipe", "import", SNAPSHOT, NWIPE, "--json")
    out = json.loads(r.stdout)
    assert r.exit_code == 1  # the nwipe log names loop devices, no serial: listed, not dropped
    assert [(x["serial"], x["profile"], x["result"], x["verified"]) for x in out["imported"]] == [
        ("WD-WCAV29008961", "hdd-overwrite", "pass", False), ("WD-WCAV27984668", "hdd-overwrite", "pass", False)]
    assert [(x["path"], "no drive serial" in x["reason"]) for x in out["unmatched"]] == [("/dev/loop0", True)]
    media = services.show(ctx, desktop)["media"]
    assert [len(m["wipes"]) for m in media] == [1, 1]
    # the snapshot records no verification: the device may not count as wiped yet
    assert services.show(ctx, desktop)["state"] == "wiping"
    again = json.loads(cli("wipe", "import", SNAPSHOT, "--json").stdout)
    assert [x["noop"] for x in again["imported"]] == [True, True]
    assert [len(m["wipes"]) for m in services.show(ctx, desktop)["media"]] == [1, 1]
    assert services.verify_audit(ctx).ok


def test_an_imported_failure_moves_the_device_to_wipe_failed(cli, ctx, desktop, tmp_path):
    failed = tmp_path / "failed.json"
    text = SNAPSHOT.read_text(encoding="utf-8")
    doc = json.loads(text) if text.lstrip().startswith("{") else None
    if doc is None:
        pytest.skip("the snapshot is not JSON")
    for component in doc["components"]:
        for action in component.get("actions", []):
            if action.get("type") == "EraseBasic":
                action["severity"] = "Error"
    failed.write_text(json.dumps(doc))
    r = cli("wipe", "import", failed, "--json")
    out = json.loads(r.stdout)
    assert {x["result"] for x in out["imported"]} == {"fail"}
    assert services.show(ctx, desktop)["state"] == "wipe_failed"


def test_a_serial_nobody_has_is_listed(cli, ctx):
    usody = ERASURE / "usody-sanitize" / "2023-07-22_120312E2M3121K00UN6S.json"
    out = json.loads(cli("wipe", "import", usody, "--json").stdout)
    assert out["imported"] == []
    assert [(x["serial"], "no storage medium" in x["reason"]) for x in out["unmatched"]] == [
        ("120312E2M3121K00UN6S", True)]
