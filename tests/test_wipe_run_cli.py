"""`refurb wipe run` through the database: a real nwipe run on a loop device becomes a wipe record with
its log, the device moves on, and the certificate says the serial was not checked (issue 4 item 5)."""

import hashlib
import json
import shutil
import subprocess

import pytest
from conftest import PATTERN, require

from refurb import services


@pytest.fixture
def laptop(ctx):
    services.add_donor(ctx, "Acme NV")
    services.add_batch(ctx, "Acme NV", "B1")
    tag = services.register_device(ctx, "B1", "laptop", "HP", "ProBook 450 G2", "CND4286ZJ2")["tag"]
    services.add_medium(ctx, tag, "hdd", "S3P9A80F", 32 << 20)
    return tag


def test_a_wipe_run_is_recorded_with_its_log_and_no_canary_survives(cli, ctx, laptop, loop, tmp_path):
    require(shutil.which("nwipe"), "nwipe is not installed (apt-get install nwipe)")
    before = services.verify_audit(ctx).events
    refused = cli("wipe", "run", laptop, "--medium", "S3P9A80F", "--device", loop, "--profile", "hdd-overwrite")
    assert refused.exit_code == 1 and "--no-serial-check" in refused.stderr
    assert services.verify_audit(ctx).events == before  # nothing recorded, nothing written
    with open(loop, "rb") as disk:
        assert disk.read(len(PATTERN)) == PATTERN

    r = cli("wipe", "run", laptop, "--medium", "S3P9A80F", "--device", loop, "--profile", "hdd-overwrite",
            "--no-serial-check", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert (out["state"], out["result"], out["level"]) == ("wiped", "pass", "clear")
    assert out["run"]["canaries"]["found_after"] == 0 and out["run"]["canaries"]["written"] > 0
    image = subprocess.run(["dd", f"if={loop}", "bs=1M", "iflag=direct", "status=none"], capture_output=True).stdout
    assert out["run"]["canaries"]["marker"].encode() not in image and PATTERN not in image

    shown = services.show(ctx, laptop)
    [wipe] = shown["media"][0]["wipes"]
    assert (wipe["result"], wipe["verified"], wipe["profile"]) == ("pass", True, "hdd-overwrite")
    [event] = [e for e in shown["events"] if e["action"] == "wipe_recorded"]
    assert event["data"]["serial_checked"] is False and event["data"]["tool_version"].startswith("0.")
    log_hash = hashlib.sha256(open(out["run"]["log_path"], "rb").read()).hexdigest()
    assert event["data"]["evidence"] == [log_hash]

    from test_certificates import flat, pdf_text

    cert = tmp_path / "cert.pdf"
    assert cli("report", "certificate", laptop, "--out", cert, "--language", "en").exit_code == 0
    text = pdf_text(cert)
    assert "not checked" in text and log_hash in flat(text) and "canaries gone" in text
    assert services.verify_audit(ctx).ok
