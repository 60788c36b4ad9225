"""Certificates of data sanitization: real PDFs, read back as text with pdfium.

Every field NIST SP 800-88 §4.8 asks for must be in the text, in Dutch (the default) and in English;
every shortfall (no wipe, a failure, no verification, a level below the policy, a waiver, an unchecked
drive serial) must be said in words; full evidence hashes must be there; a broken input must never
leave a half-written file behind.
"""

import copy
import hashlib
import re
import time

import pypdfium2 as pdfium
import pytest

from refurb.certificate import render_batch, render_device
from refurb.errors import UsageProblem

H = {name: hashlib.sha256(name.encode()).hexdigest() for name in ("log", "smart", "hdd", "photo", "emmc")}
CHAIN = "9f2c4e1a7b3d5f60" * 4


def sanitization(**changes):
    base = {
        "profile_id": "nvme-sanitize", "profile_version": 2, "profile_name": "NVMe sanitize (block erase)",
        "standard": "NIST SP 800-88 Rev.1", "method": "sanitize-block-erase", "level": "purge",
        "policy_level": "purge", "tool": "nvme-cli", "tool_version": "2.8", "verification": "sample",
        "verified": True, "result": "pass", "started": "2026-11-27T13:05:00+00:00",
        "ended": "2026-11-27T13:07:41+00:00", "operator": "Łukasz Żółć", "verifier": "Anne Brontë",
        "serial_checked": True, "waiver": None,
        "evidence": [{"filename": "nvme0-sanitize-log.json", "sha256": H["log"]},
                     {"filename": "smartctl-S4ELNX0N123456.json", "sha256": H["smart"]}],
        "event_id": 41873,
    }
    return base | changes


def device_data(media=None, **changes):
    data = {
        "certificate_id": "CERT-RB-000123-7-20261127",
        "issued_at": "2026-11-27T14:05:00+00:00",
        "organisation": {"name": "Digibank Gent vzw", "address": "Sint-Pietersnieuwstraat 41, 9000 Gent"},
        "device": {"tag": "RB-000123-7", "kind": "laptop", "make": "Dell", "model": "Latitude 5490",
                   "serial": "7XK2JN2", "donor_tag": "ACME-IT-004512", "batch": "B-2026-0007",
                   "donor": "ACME Logistics NV", "state": "ready"},
        "no_storage": False,
        "media": media if media is not None else [
            {"serial": "S4ELNX0N123456", "model": "SAMSUNG MZVLB256HBHQ-000L7", "type": "nvme",
             "size_bytes": 256060514304, "sanitization": sanitization()},
            {"serial": "WL1RKX8E", "model": "ST1000LM035-1RK172", "type": "hdd", "size_bytes": 1000204886016,
             "sanitization": sanitization(
                 profile_id="hdd-overwrite", profile_version=1, profile_name="HDD overwrite (nwipe)",
                 method="overwrite-prng", level="clear", tool="nwipe", tool_version="0.37",
                 verification="full", serial_checked=False, operator="Sara Janssens", verifier=None,
                 waiver={"by": "Pieter De Smet", "reason": "donor accepts Clear for hard disks",
                         "at": "2026-11-27T13:55:00+00:00"},
                 evidence=[{"filename": "nwipe_log_20261127-130500.txt", "sha256": H["hdd"]}],
                 event_id=41880)},
        ],
        "audit": {"events": 1048576, "chain_head": CHAIN},
    }
    return data | changes


def batch_device(i, media=None, outcome="ready"):
    return {
        "tag": f"RB-{i:06d}-{i % 10}", "donor_tag": f"ACME-IT-{4000 + i:06d}", "serial": f"5CG{i:07d}",
        "make": "HP", "model": "EliteBook 840 G5", "outcome": outcome,
        "media": media if media is not None else [
            {"serial": f"S4EN{i:08d}", "type": "nvme", "level": "purge", "method": "sanitize-block-erase",
             "verified": True, "result": "pass", "waiver": False, "serial_checked": True,
             "evidence_sha256": [f"{i:064x}"]}],
    }


def batch_data(devices=None):
    devices = devices if devices is not None else [
        batch_device(1),
        batch_device(2, outcome="recycled", media=[
            {"serial": "WD-WX41A", "type": "hdd", "level": "clear", "method": "overwrite-prng", "verified": True,
             "result": "pass", "waiver": True, "serial_checked": False, "evidence_sha256": [H["hdd"], H["smart"]]}]),
        batch_device(3, outcome="wipe_failed", media=[
            {"serial": "TOSH-EMMC-77", "type": "emmc", "level": "clear", "method": "mmc-sanitize",
             "verified": False, "result": "fail", "waiver": False, "serial_checked": True,
             "evidence_sha256": [H["emmc"]]},
            {"serial": "SD-CARD-01", "type": "removable", "level": None, "method": None, "verified": None,
             "result": None, "waiver": False, "serial_checked": None, "evidence_sha256": []}]),
        batch_device(4, outcome="parts", media=[
            {"serial": "S3Z9NX0K", "type": "sata-ssd", "level": "destroy", "method": "physical-destruction",
             "verified": True, "result": "pass", "waiver": False, "serial_checked": True,
             "evidence_sha256": [H["photo"]]}]),
    ]
    outcomes = {}
    for d in devices:
        outcomes[d["outcome"]] = outcomes.get(d["outcome"], 0) + 1
    return {
        "certificate_id": "CERT-B-2026-0007-20261127",
        "issued_at": "2026-11-27T14:05:00+00:00",
        "organisation": {"name": "Digibank Gent vzw", "address": "Sint-Pietersnieuwstraat 41, 9000 Gent"},
        "batch": {"ref": "B-2026-0007", "donor": "ACME Logistics NV", "donor_ref": "PO-88231",
                  "received_on": "2026-11-20", "closed": True},
        "reconciliation": {
            "expected": len(devices) + 1, "received": len(devices) + 1 - 1,
            "missing": [{"serial": "5CG9999999", "donor_tag": "ACME-IT-009999", "model": "EliteBook 830 G6"}],
            "extra": [{"tag": "RB-000777-3", "serial": "PF1ABCDE", "model": "ThinkPad T480"}],
        },
        "outcomes": outcomes,
        "devices": devices,
        "audit": {"events": 2048, "chain_head": CHAIN},
    }


def pages_of(path):
    """The text of each page, whitespace folded to single spaces (wrapped cells read as one line)."""
    doc = pdfium.PdfDocument(path)
    try:
        return [" ".join(doc[i].get_textpage().get_text_range().split()) for i in range(len(doc))]
    finally:
        doc.close()


def text_of(path):
    return " ".join(pages_of(path))


def assert_all_in(text, expected):
    missing = [e for e in expected if e not in text]
    assert missing == []


# The NIST SP 800-88 §4.8 fields, as each language prints them.
DEVICE_LABELS = {
    "en": ["Certificate of data sanitization", "Certificate number", "Issued on", "Sanitization performed by",
           "Location", "Standard", "Asset tag", "Make", "Model", "Serial number", "Donor's asset tag",
           "Source (donor and batch)", "Destination after sanitization (current state)", "Make and model",
           "Media type", "Capacity", "Media source", "Sanitization level reached", "Policy minimum for this type",
           "Method", "Tool used (with version)", "Verification method", "Verified", "Result", "Started", "Ended",
           "Person who performed the sanitization", "Person who validated the sanitization",
           "Drive serial checked against the disk", "Waiver", "Evidence file", "SHA-256", "Signature", "Date",
           "Audit chain head (1048576 events):"],
    "nl": ["Certificaat van gegevenswissing", "Certificaatnummer", "Uitgereikt op", "Gewist door",
           "Locatie", "Norm", "Inventarisnummer", "Merk", "Model", "Serienummer",
           "Inventarisnummer van de schenker", "Herkomst (schenker en partij)",
           "Bestemming na het wissen (huidige toestand)", "Merk en model", "Soort medium", "Capaciteit",
           "Herkomst van het medium", "Bereikt wisniveau", "Minimum volgens het beleid voor dit type",
           "Methode", "Gebruikt hulpmiddel (met versie)", "Verificatiemethode", "Geverifieerd", "Resultaat",
           "Begonnen", "Beëindigd", "Persoon die het wissen uitvoerde", "Persoon die het wissen controleerde",
           "Serienummer van de schijf gecontroleerd op de schijf zelf", "Afwijking", "Bewijsbestand",
           "SHA-256", "Handtekening", "Datum", "Kop van de auditketen (1048576 gebeurtenissen):"],
}


@pytest.fixture(scope="module")
def device_pdfs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("device")
    return {lang: render_device(device_data(), folder / f"device-{lang}.pdf", lang=lang) for lang in ("nl", "en", "fr")}


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_a_device_certificate_carries_every_nist_field(device_pdfs, lang):
    text = text_of(device_pdfs[lang])
    assert_all_in(text, DEVICE_LABELS[lang])
    assert_all_in(text, [
        "CERT-RB-000123-7-20261127", "Digibank Gent vzw", "Sint-Pietersnieuwstraat 41, 9000 Gent",
        "RB-000123-7", "Dell", "Latitude 5490", "7XK2JN2", "ACME-IT-004512", "ACME Logistics NV", "B-2026-0007",
        "S4ELNX0N123456", "SAMSUNG MZVLB256HBHQ-000L7", "WL1RKX8E", "ST1000LM035-1RK172",
        "nvme-cli 2.8", "nwipe 0.37", "sanitize-block-erase", "overwrite-prng", "NVMe sanitize (block erase)",
        "nvme-sanitize", "hdd-overwrite", "sample", "full", "#41873", "#41880",
        "nvme0-sanitize-log.json", "smartctl-S4ELNX0N123456.json", "nwipe_log_20261127-130500.txt",
        "Łukasz Żółć", "Anne Brontë", "Sara Janssens", "Pieter De Smet", "donor accepts Clear for hard disks",
        "Purge", "Clear", CHAIN,
    ])
    for digest in (H["log"], H["smart"], H["hdd"]):
        assert digest in text  # whole, on one line: searchable and copyable


def test_dates_and_sizes_follow_the_language(device_pdfs):
    nl, en = text_of(device_pdfs["nl"]), text_of(device_pdfs["en"])
    assert_all_in(nl, ["27/11/2026 14:05 UTC", "27/11/2026 13:05 UTC", "27/11/2026 13:07 UTC", "256 GB", "1000 GB"])
    assert_all_in(en, ["2026-11-27 14:05 UTC", "2026-11-27 13:05 UTC", "2026-11-27 13:07 UTC", "256 GB"])
    fr = text_of(device_pdfs["fr"])
    assert_all_in(fr, ["27/11/2026 14:05 UTC", "Certificat d’effacement des données", "Łukasz Żółć",
                       "1 support est sous le niveau minimum de la politique"])


@pytest.mark.parametrize("lang, below, waived_by, unchecked", [
    ("en", "Below the policy's minimum level (Purge): accepted by a waiver of Pieter De Smet on 2026-11-27 13:55 UTC. "
           "Reason: donor accepts Clear for hard disks",
     "1 medium is below the policy's minimum level, accepted by a lead's recorded waiver",
     "The drive's serial was not checked against the disk"),
    ("nl", "Onder het minimumniveau van het beleid (Purge): aanvaard met een afwijking van Pieter De Smet op "
           "27/11/2026 13:55 UTC. Reden: donor accepts Clear for hard disks",
     "1 medium ligt onder het minimumniveau van het beleid, aanvaard met een geregistreerde afwijking",
     "Het serienummer van de schijf werd niet gecontroleerd op de schijf zelf"),
])
def test_a_waiver_and_an_unchecked_serial_are_printed(device_pdfs, lang, below, waived_by, unchecked):
    text = text_of(device_pdfs[lang])
    assert_all_in(text, [below, waived_by, unchecked])


def test_every_medium_passed_gives_the_clear_statement(device_pdfs):
    assert "Every storage medium of this device (2 in all) was sanitized" in text_of(device_pdfs["en"])
    assert "Elk opslagmedium van dit toestel (2 in totaal) werd gewist" in text_of(device_pdfs["nl"])


def test_every_shortfall_is_said_in_words(tmp_path):
    media = [
        {"serial": "NOWIPE-1", "model": None, "type": "emmc", "size_bytes": None, "sanitization": None},
        {"serial": "FAILED-2", "model": "KINGSTON SA400S37", "type": "sata-ssd", "size_bytes": 240057409536,
         "sanitization": sanitization(result="fail", verified=False, profile_id="sata-ssd-sanitize",
                                      evidence=[])},
        {"serial": "LOW-3", "model": "WDC WD5000LPVX", "type": "hdd", "size_bytes": 500107862016,
         "sanitization": sanitization(level="clear", method="overwrite-prng", waiver=None, verifier=None)},
        {"serial": "SHRED-4", "model": "Micron 2200", "type": "nvme", "size_bytes": 512110190592,
         "sanitization": sanitization(level="destroy", method="physical-destruction", tool="shredder HSM",
                                      tool_version=None)},
    ]
    out = {lang: render_device(device_data(media), tmp_path / f"{lang}.pdf", lang=lang) for lang in ("en", "nl")}
    en, nl = text_of(out["en"]), text_of(out["nl"])
    assert_all_in(en, [
        "NOT SANITIZED: no sanitization is recorded for this medium.", "NOT SANITIZED",
        "FAILED: the sanitization did not complete successfully.", "The result was not verified.",
        "No evidence files are recorded for this sanitization.",
        "Below the policy's minimum level (Purge), and no waiver is recorded.", "below policy",
        "The medium was physically destroyed.", "Destroy", "shredder HSM —",
        "This device is NOT completely sanitized: 3 of its 4 storage media lack a passing, verified "
        "sanitization at the policy's level",
        "NOWIPE-1", "FAILED-2", "LOW-3", "SHRED-4", "240 GB", "500 GB", "512 GB",
    ])
    assert "was sanitized to the level shown" not in en  # no clear statement for a device that is not clean
    assert_all_in(nl, ["NIET GEWIST", "MISLUKT", "Het resultaat is niet geverifieerd.",
                       "Onder het minimumniveau van het beleid (Purge), en er is geen afwijking geregistreerd.",
                       "Het medium werd fysiek vernietigd.", "Dit toestel is NIET volledig gewist"])
    assert "werd gewist tot het getoonde niveau" not in nl


def test_a_pass_to_an_unknown_level_is_not_clean(tmp_path):
    media = [{"serial": "S4ELNX0N123456", "model": None, "type": "nvme", "size_bytes": None,
              "sanitization": sanitization(level=None, policy_level=None)}]
    text = text_of(render_device(device_data(media), tmp_path / "c.pdf", lang="en"))
    assert_all_in(text, ["The level reached is unknown.", "This device is NOT completely sanitized"])


def test_a_batch_medium_below_its_policy_without_waiver_is_not_clean(tmp_path):
    low = batch_device(1, media=[{"serial": "WD-LOW", "type": "hdd", "level": "clear", "policy_level": "purge",
                                  "method": "overwrite-prng", "verified": True, "result": "pass", "waiver": False,
                                  "serial_checked": True, "evidence_sha256": [H["hdd"]]}])
    text = text_of(render_batch(batch_data([low, batch_device(2)]), tmp_path / "b.pdf", lang="en"))
    assert_all_in(text, ["WD-LOW", "below policy", "1 of the 2 devices of this batch is NOT completely sanitized",
                         "passed and verified 1"])


def test_a_device_without_storage_says_so_and_one_without_media_is_not_clean(tmp_path):
    stated = text_of(render_device(device_data([], no_storage=True), tmp_path / "none.pdf", lang="en"))
    assert "This device has no data-bearing storage, as recorded at intake: there was nothing to sanitize." in stated
    unknown = text_of(render_device(device_data([]), tmp_path / "unknown.pdf", lang="en"))
    assert "No storage media are recorded for this device: nothing on this certificate shows" in unknown


def test_unknown_values_print_a_dash_and_never_crash(tmp_path):
    data = device_data([{"serial": None, "model": None, "type": None, "size_bytes": None,
                         "sanitization": {key: None for key in sanitization()}}])
    data["device"] = {key: None for key in data["device"]}
    data["organisation"] = {"name": "Digibank Gent vzw", "address": None}
    data["issued_at"] = None
    text = text_of(render_device(data, tmp_path / "unknown.pdf", lang="en"))
    assert_all_in(text, ["Location —", "Serial number —", "The result of the sanitization is unknown.",
                         "The level reached is unknown.", "The result was not verified."])


def test_every_page_carries_the_title_number_page_and_chain_head(tmp_path):
    many = [{"serial": f"DISK{i:04d}", "model": "Samsung PM981", "type": "nvme", "size_bytes": 512110190592,
             "sanitization": sanitization()} for i in range(12)]
    pages = pages_of(render_device(device_data(many), tmp_path / "long.pdf", lang="nl"))
    assert len(pages) >= 3
    for number, page in enumerate(pages, 1):
        assert_all_in(page, ["Certificaat van gegevenswissing", "CERT-RB-000123-7-20261127",
                             f"pagina {number} / {len(pages)}", CHAIN])


def test_the_same_data_gives_the_same_bytes(tmp_path):
    one = render_device(device_data(), tmp_path / "one.pdf", lang="nl").read_bytes()
    two = render_device(device_data(), tmp_path / "two.pdf", lang="nl").read_bytes()
    assert one == two


def test_names_outside_latin_1_are_embedded_and_read_back(device_pdfs):
    raw = device_pdfs["nl"].read_bytes()
    assert b"/FontFile2" in raw  # an embedded TrueType font, not a base-14 font limited to Latin-1
    assert_all_in(text_of(device_pdfs["nl"]), ["Łukasz Żółć", "Anne Brontë"])


BATCH_LABELS = {
    "en": ["Certificate of data sanitization: donor batch", "Certificate number", "Batch", "Donor",
           "Donor's reference", "Received on", "Batch status", "closed",
           "Reconciliation with the donor's manifest", "Listed in the manifest 5", "Received 4",
           "Missing (listed, not received) 1", "Extra (received, not listed) 1", "Missing devices", "Extra devices",
           "Outcomes", "Total 4", "Storage media 5", "passed and verified 3",
           "of which below the policy under a waiver 1", "failed 1", "not verified 0", "not sanitized 1",
           "drive serial not checked against the disk 1", "Devices and their storage media", "Issued by",
           "Checked by", "Signature"],
    "nl": ["Certificaat van gegevenswissing: partij van een schenker", "Certificaatnummer", "Partij", "Schenker",
           "Referentie van de schenker", "Ontvangen op", "Status van de partij", "afgesloten",
           "Afstemming met de lijst van de schenker", "Op de lijst 5", "Ontvangen 4",
           "Ontbrekend (op de lijst, niet ontvangen) 1", "Extra (ontvangen, niet op de lijst) 1",
           "Ontbrekende toestellen", "Extra toestellen", "Uitkomsten", "Totaal 4", "Opslagmedia 5",
           "geslaagd en geverifieerd 3", "waarvan onder het beleid met een afwijking 1", "mislukt 1",
           "niet geverifieerd 0", "niet gewist 1", "serienummer niet gecontroleerd op de schijf zelf 1",
           "Toestellen en hun opslagmedia", "Uitgereikt door", "Gecontroleerd door", "Handtekening"],
}


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_a_batch_certificate_reconciles_and_counts(tmp_path, lang):
    text = text_of(render_batch(batch_data(), tmp_path / "batch.pdf", lang=lang))
    assert_all_in(text, BATCH_LABELS[lang])
    assert_all_in(text, [
        "CERT-B-2026-0007-20261127", "B-2026-0007", "ACME Logistics NV", "PO-88231",
        "20/11/2026" if lang == "nl" else "2026-11-20",
        "ACME-IT-009999 5CG9999999 EliteBook 830 G6", "RB-000777-3 PF1ABCDE ThinkPad T480",  # missing, extra
        "RB-000001-1", "ACME-IT-004001", "5CG0000001", "HP EliteBook 840 G5", "S4EN00000001",
        "WD-WX41A", "TOSH-EMMC-77", "SD-CARD-01", "S3Z9NX0K", "overwrite-prng", "physical-destruction",
        f"{1:064x}", H["hdd"], H["smart"], H["emmc"], H["photo"], CHAIN,
    ])
    en_or_nl = {
        "en": ["ready for lending 1", "recycled 1", "wipe failed 1", "harvested for parts 1", "FAILED",
               "NOT SANITIZED", "below policy, waived", "no evidence files",
               "1 of the 4 devices of this batch is NOT completely sanitized"],
        "nl": ["klaar om uit te lenen 1", "gerecycleerd 1", "wissen mislukt 1", "gebruikt voor onderdelen 1",
               "MISLUKT", "NIET GEWIST", "onder het beleid, afwijking", "geen bewijsbestanden",
               "1 van de 4 toestellen van deze partij is NIET volledig gewist"],
    }
    assert_all_in(text, en_or_nl[lang])


def test_a_clean_batch_gets_the_clear_statement_and_an_open_one_says_so(tmp_path):
    data = batch_data([batch_device(i) for i in range(1, 4)])
    data["batch"]["closed"] = False
    data["reconciliation"] = {"expected": 3, "received": 3, "missing": [], "extra": []}
    text = text_of(render_batch(data, tmp_path / "clean.pdf", lang="en"))
    assert_all_in(text, ["Every device of this batch (3 in all) was sanitized", "Missing devices None.",
                         "Extra devices None.", "open: devices still expected are not yet reported missing"])


def test_a_400_device_batch_spans_pages_with_repeated_headers(tmp_path):
    devices = [batch_device(i) for i in range(1, 401)]
    start = time.perf_counter()
    out = render_batch(batch_data(devices), tmp_path / "big.pdf", lang="nl")
    elapsed = time.perf_counter() - start
    pages = pages_of(out)
    print(f"400-device batch certificate: {len(pages)} pages in {elapsed:.2f} s")
    assert len(pages) >= 10
    assert elapsed < 30
    for number, page in enumerate(pages, 1):
        assert f"pagina {number} / {len(pages)}" in page
    table_pages = [p for p in pages if "RB-000200-0" in p or "RB-000400-0" in p]
    assert len(table_pages) == 2
    for page in pages[1:-1]:  # the header row repeats, and a device never starts on one page and ends on the next
        rest = page.split("Inventarisnummer Inventarisnummer van de schenker Serienummer Merk en model Uitkomst "
                          "Opslagmedium Niveau, methode Resultaat ", 1)
        assert len(rest) == 2 and re.match(r"RB-\d{6}-\d ACME-IT-", rest[1]), page[:300]
    text = " ".join(pages)
    assert all(f"{i:064x}" in text for i in range(1, 401))


def test_broken_data_leaves_no_file_and_keeps_the_old_one(tmp_path):
    out = tmp_path / "cert.pdf"
    broken = device_data()
    broken["media"].append(None)
    with pytest.raises(TypeError):
        render_device(broken, out)
    assert list(tmp_path.iterdir()) == []
    out.write_bytes(b"the certificate of yesterday")
    with pytest.raises(TypeError):
        render_device(broken, out)
    bad_batch = batch_data()
    bad_batch["devices"][1]["media"] = 7
    with pytest.raises(TypeError):
        render_batch(bad_batch, out)
    assert [p.name for p in tmp_path.iterdir()] == ["cert.pdf"]
    assert out.read_bytes() == b"the certificate of yesterday"


def test_a_certificate_replaces_an_older_one_whole(tmp_path):
    out = tmp_path / "cert.pdf"
    out.write_bytes(b"old")
    assert render_device(device_data(), out, lang="en") == out
    assert out.read_bytes().startswith(b"%PDF-") and [p.name for p in tmp_path.iterdir()] == ["cert.pdf"]


def test_a_missing_folder_or_language_is_a_usage_problem(tmp_path):
    with pytest.raises(UsageProblem, match=re.escape(str(tmp_path / "nope" / "c.pdf"))):
        render_device(device_data(), tmp_path / "nope" / "c.pdf")
    with pytest.raises(UsageProblem, match="klingon"):
        render_batch(batch_data(), tmp_path / "c.pdf", lang="klingon")
    assert list(tmp_path.iterdir()) == []


def test_the_input_is_not_changed(tmp_path):
    data = device_data()
    before = copy.deepcopy(data)
    render_device(data, tmp_path / "c.pdf")
    assert data == before
