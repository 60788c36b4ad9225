"""`refurb report certificate`: certificates made from the records, read back as text (issue 4 item 6)."""

import hashlib
import json

import pytest

from refurb import services

pdfium = pytest.importorskip("pypdfium2")


def pdf_text(path):
    doc = pdfium.PdfDocument(str(path))
    try:
        return "\n".join(page.get_textpage().get_text_range() for page in doc)
    finally:
        doc.close()


def flat(text):
    """The text with line breaks and hyphenation of wrapped cells taken out (hashes wrap)."""
    return "".join(text.split())


@pytest.fixture
def batch(ctx, home, tmp_path):
    """Acme's batch: one laptop wiped to Clear under a Purge policy (waived), one wiped with an unchecked
    serial, one that failed, one missing from the list, one extra."""
    (home / "config.toml").write_text('[policy.min_level]\nhdd = "purge"\n', encoding="utf-8")
    ctx.settings = ctx.settings.with_options(min_level={**ctx.settings.min_level, "hdd": "purge"})
    services.add_donor(ctx, "Acme NV")
    services.add_batch(ctx, "Acme NV", "ACME-1", donor_ref="PO-1")
    log = tmp_path / "nwipe.log"
    log.write_text("nwipe log\n")
    tags = {}
    for key, serial, medium in (("waived", "CND4286ZJ2", "S3P9A80F"), ("unchecked", "PF1ABC23", "WD-LOOP1"),
                                ("failed", "PF0XYZ98", "Z1E4K7QP"), ("missing", "PF2MISS01", None)):
        tags[key] = services.expect_device(ctx, "ACME-1", "laptop", "Lenovo", "ThinkPad T480", serial)["tag"]
        if medium:
            services.receive(ctx, serial)
            services.add_medium(ctx, tags[key], "hdd", medium, 500 * 10**9)
    tags["extra"] = services.register_device(ctx, "ACME-1", "laptop", "Fujitsu", "Lifebook E548", "DSAB012345")["tag"]
    services.no_media(ctx, tags["extra"])
    services.record_wipe(ctx, tags["waived"], "S3P9A80F", "hdd-overwrite", "pass", evidence=[log])
    services.waive_wipe(ctx, tags["waived"], "S3P9A80F", "donor accepts Clear for hard disks")
    services.record_wipe(ctx, tags["unchecked"], "WD-LOOP1", "hdd-overwrite", "pass", evidence=[log],
                         tool="nwipe", details={"tool_version": "0.33", "serial_checked": False})
    services.record_wipe(ctx, tags["failed"], "Z1E4K7QP", "hdd-overwrite", "fail")
    return tags


@pytest.mark.parametrize("language, words", [
    ("nl", ["Certificaat", "NIST SP 800-88", "Clear", "Purge"]),
    ("en", ["Certificate", "NIST SP 800-88", "Clear", "Purge"]),
])
def test_a_device_certificate_carries_every_field(cli, ctx, batch, tmp_path, language, words):
    out = tmp_path / "cert.pdf"
    r = cli("report", "certificate", batch["waived"], "--out", out, "--language", language, "--json")
    assert r.exit_code == 0, r.output
    result = json.loads(r.stdout)
    assert result["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    text = pdf_text(out)
    for word in [*words, batch["waived"], "CND4286ZJ2", "S3P9A80F", "hdd-overwrite", "nwipe", "Sara",
                 "donor accepts Clear for hard disks", result["certificate"]]:
        assert word in text, word
    assert hashlib.sha256(b"nwipe log\n").hexdigest() in flat(text)
    # issuing is recorded, with the PDF's hash
    issued = [e for e in services.show(ctx, batch["waived"])["events"] if e["action"] == "certificate_issued"]
    assert [e["data"]["sha256"] for e in issued] == [result["sha256"]]
    assert services.verify_audit(ctx).ok


def test_an_unchecked_serial_and_a_failed_wipe_are_printed_as_such(cli, ctx, batch, tmp_path):
    out = tmp_path / "unchecked.pdf"
    assert cli("report", "certificate", batch["unchecked"], "--out", out, "--language", "en").exit_code == 0
    text = pdf_text(out).lower()
    assert "nwipe 0.33" in text and "not checked" in text
    out = tmp_path / "failed.pdf"
    assert cli("report", "certificate", batch["failed"], "--out", out, "--language", "en").exit_code == 0
    assert "fail" in pdf_text(out).lower()


def test_the_batch_certificate_reconciles_against_the_list(cli, ctx, batch, tmp_path):
    out = tmp_path / "batch.pdf"
    r = cli("report", "certificate", "--batch", "ACME-1", "--out", out, "--language", "en")
    assert r.exit_code == 0, r.output
    text = pdf_text(out)
    for word in ["ACME-1", "Acme NV", "PF2MISS01", "DSAB012345", batch["waived"], batch["unchecked"],
                 batch["failed"], "S3P9A80F", "WD-LOOP1", "Z1E4K7QP"]:
        assert word in text, word


def test_bad_requests_write_nothing(cli, ctx, batch, tmp_path):
    before = services.verify_audit(ctx).events
    both = cli("report", "certificate", batch["waived"], "--batch", "ACME-1", "--out", tmp_path / "x.pdf")
    assert both.exit_code == 2
    nowhere = cli("report", "certificate", batch["waived"], "--out", tmp_path / "no" / "x.pdf")
    assert nowhere.exit_code == 3 and "no such folder" in nowhere.stderr
    unknown = cli("report", "certificate", "RB-999999-X", "--out", tmp_path / "y.pdf")
    assert unknown.exit_code == 3
    assert not list(tmp_path.glob("*.pdf")) and services.verify_audit(ctx).events == before
