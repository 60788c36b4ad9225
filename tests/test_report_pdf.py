"""Donor and funder reports: real PDFs, read back with pdfium, in Dutch unless asked otherwise.

The renderers are pure (plain data in, PDF out), so most tests feed them data written here; one test per
report renders what refurb.stats computed from a story told through refurb.services, on both databases.
"""

from datetime import timedelta

import pypdfium2 as pdfium
import pytest

from refurb import report_pdf, services, stats
from refurb.errors import UsageProblem

CHAIN = "5e1f" * 16
SHA = "ab12" * 16


def text_of(path):
    doc = pdfium.PdfDocument(path)
    try:
        return " ".join(" ".join(doc[i].get_textpage().get_text_range().split()) for i in range(len(doc)))
    finally:
        doc.close()


def donor_data(**changes):
    devices = [{"donor_tag": f"ACME-LT-{i:04d}", "serial": f"PF{i:06d}", "tag": f"RB-{i:06d}-X",
                "kind": "laptop", "make": "Lenovo", "model": "ThinkPad T480", "state": "on_loan",
                "outcome": "on_loan", "listed": True, "loans": 1} for i in range(1, 61)]
    devices += [{"donor_tag": "ACME-TB-0001", "serial": "DMPZ81", "tag": "RB-000061-X", "kind": "tablet",
                 "make": "Apple", "model": "iPad", "state": "locked", "outcome": "on_hold", "listed": True,
                 "loans": 2},
                {"donor_tag": None, "serial": "DSAB01", "tag": "RB-000062-X", "kind": "laptop",
                 "make": "Fujitsu", "model": "Lifebook", "state": "recycled", "outcome": "recycled",
                 "listed": False, "loans": 0},
                {"donor_tag": "ACME-LT-0099", "serial": "PF999999", "tag": "RB-000063-X", "kind": "laptop",
                 "make": "Lenovo", "model": "T490", "state": "expected", "outcome": "missing", "listed": True,
                 "loans": 0}]
    data = {
        "report_id": "ACME-2026-11-R4242", "issued_at": "2026-11-27T14:05:00Z",
        "organisation": {"name": "Digibank Gent vzw", "address": "Sint-Pietersnieuwstraat 41, 9000 Gent"},
        "batch": {"ref": "ACME-2026-11", "donor": "Acme NV", "donor_ref": "PO-88213",
                  "received_on": "2026-11-20T00:00:00Z", "closed": True},
        "reconciliation": {"listed": 62, "received": 62,
                           "missing": [{"serial": "PF999999", "donor_tag": "ACME-LT-0099", "make": "Lenovo",
                                        "model": "T490"}],
                           "extra": [{"tag": "RB-000062-X", "serial": "DSAB01", "donor_tag": None,
                                      "make": "Fujitsu", "model": "Lifebook"}]},
        "outcomes": {"on_loan": 60, "on_hold": 1, "recycled": 1, "missing": 1},
        "devices": devices,
        "impact": {"reused": 61, "reused_by_kind": {"laptop": 60, "tablet": 1}, "counted_kinds": ["laptop"],
                   "counted": 60, "factor_kg": 214.0, "source": "Öko-Institut / Fraunhofer IZM (2025)",
                   "co2e_kg": 12840.0},
        "certificates": [{"id": "ACME-2026-11-118", "at": "2026-11-27T11:16:07Z", "sha256": SHA, "lang": "nl",
                          "file": "acme.pdf"}],
        "audit": {"events": 4242, "chain_head": CHAIN},
    }
    return data | changes


def funder_data(**changes):
    data = {
        "report_id": "F-20260101-20260331", "issued_at": "2026-04-02T08:00:00Z",
        "organisation": {"name": "Digibank Gent vzw", "address": None},
        "period": {"from": "2026-01-01", "to": "2026-03-31", "timezone": "Europe/Brussels"},
        "threshold": 5, "markers": {"small": "<5", "hidden": "x"},
        "summary": {"users_reached": 137, "loans_started": 152, "loans_active": 88, "loans_returned": 61,
                    "loans_lost": "<5", "devices_received": 412, "devices_reused": 149,
                    "devices_recycled": 23, "devices_parts": 0},
        "by_digipunt": {"columns": list(stats.DIGIPUNT_COLUMNS), "rows": [
            {"group": "Antwerpen Noord", "values": {"users_reached": 60, "loans_started": 71,
                                                    "loans_active": 40, "loans_returned": 30,
                                                    "loans_lost": "x"}},
            {"group": "Gent Zuid", "values": {"users_reached": 77, "loans_started": 81, "loans_active": 48,
                                              "loans_returned": 31, "loans_lost": "x"}}],
            "total": {"users_reached": 137, "loans_started": 152, "loans_active": 88, "loans_returned": 61,
                      "loans_lost": "<5"}},
        "by_kind": {"columns": list(stats.KIND_COLUMNS), "rows": [
            {"group": "laptop", "values": {"devices_received": 380, "devices_reused": 140,
                                           "devices_recycled": 20, "devices_parts": 0}},
            {"group": "tablet", "values": {"devices_received": 32, "devices_reused": 9,
                                           "devices_recycled": "x", "devices_parts": 0}},
            {"group": "phone", "values": {"devices_received": 0, "devices_reused": 0, "devices_recycled": "x",
                                          "devices_parts": 0}}],
            "total": {"devices_received": 412, "devices_reused": 149, "devices_recycled": 23,
                      "devices_parts": 0}},
        "pseudonymised": True,
        "audit": {"events": 88001, "chain_head": CHAIN},
    }
    return data | changes


@pytest.fixture(scope="module")
def donor_pdfs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("donor")
    return {lang: report_pdf.render_donor(donor_data(), folder / f"donor-{lang}.pdf", lang)
            for lang in ("nl", "en", "fr")}


@pytest.fixture(scope="module")
def funder_pdfs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("funder")
    return {lang: report_pdf.render_funder(funder_data(), folder / f"funder-{lang}.pdf", lang)
            for lang in ("nl", "en", "fr")}


def assert_all_in(text, expected):
    assert [e for e in expected if e not in text] == []


def test_the_donor_report_is_dutch_by_default(tmp_path):
    path = report_pdf.render_donor(donor_data(), tmp_path / "default.pdf")
    text = text_of(path)
    assert_all_in(text, ["Rapport voor de schenker", "Wat er werd van de toestellen van partij ACME-2026-11",
                         "Rapportnummer", "ACME-2026-11-R4242", "Uitgereikt op", "27/11/2026 14:05 UTC",
                         "Organisatie", "Digibank Gent vzw", "Schenker", "Acme NV",
                         "Referentie van de schenker", "PO-88213", "Ontvangen op", "20/11/2026",
                         "Status van de partij", "afgesloten",
                         "pagina 1 / ", "Kop van de auditketen (4242 gebeurtenissen):", CHAIN])


def test_the_donor_report_states_the_co2e_with_its_factor_and_source(donor_pdfs):
    assert_all_in(text_of(donor_pdfs["nl"]), [
        "Toestellen van deze partij uitgeleend aan ontleners: 61", "Vermeden CO2e: 12.840 kg",
        "60 hergebruikte laptops × 214 kg CO2e per hergebruikte laptop. "
        "Bron: Öko-Institut / Fraunhofer IZM (2025)",
        "Niet meegeteld, want de factor geldt voor een laptop: tablet 1"])
    assert_all_in(text_of(donor_pdfs["en"]), [
        "Devices of this batch lent to borrowers: 61", "CO2e avoided: 12,840 kg",
        "60 reused laptops × 214 kg CO2e per reused laptop. Source: Öko-Institut / Fraunhofer IZM (2025)"])
    assert "CO2e évité : 12 840 kg" in text_of(donor_pdfs["fr"])


def test_the_donor_report_reconciles_with_the_manifest(donor_pdfs):
    text = text_of(donor_pdfs["nl"])
    assert_all_in(text, ["Afstemming met de lijst van de schenker", "Op de lijst 62", "Ontvangen 62",
                         "Ontbrekend (op de lijst, niet ontvangen) 1",
                         "Extra (ontvangen, niet op de lijst) 1",
                         "Ontbrekende toestellen", "ACME-LT-0099 PF999999 Lenovo T490",
                         "Extra toestellen", "RB-000062-X DSAB01 Fujitsu Lifebook"])


def test_every_device_is_listed_by_the_donors_own_identifiers(donor_pdfs):
    text = text_of(donor_pdfs["nl"])
    assert "Alle toestellen, op inventarisnummer en serienummer van de schenker" in text
    for i in range(1, 61):
        row = f"ACME-LT-{i:04d} PF{i:06d} Lenovo ThinkPad T480 RB-{i:06d}-X uitgeleend aan een ontlener 1"
        assert row in text
    assert_all_in(text, ["ACME-TB-0001 DMPZ81 Apple iPad RB-000061-X geblokkeerd (vergrendeling, mislukte "
                         "wisbeurt of herstelling) 2",
                         "— DSAB01 Fujitsu Lifebook RB-000062-X gerecycleerd niet op de lijst 0",
                         "ontbrekend (nooit ontvangen)"])


def test_the_outcomes_are_a_chart_with_their_numbers(donor_pdfs):
    text = text_of(donor_pdfs["en"])
    assert_all_in(text, ["Outcomes", "lent to a borrower", "on hold (lock, failed wipe or repair)",
                         "missing (never received)", "Devices in all: 63"])
    chart = text[text.index("Outcomes"):text.index("Devices in all")].split()
    assert chart[1:5] == ["1", "1", "1", "60"]  # the bar labels, drawn from the bottom bar up


def test_the_donor_report_points_to_the_batch_certificate(donor_pdfs, tmp_path):
    assert_all_in(text_of(donor_pdfs["nl"]), [
        "Certificaat ACME-2026-11-118, uitgereikt op 27/11/2026 11:16 UTC, bewijst per opslagmedium hoe de "
        "gegevens vernietigd werden. SHA-256 van de pdf:", SHA])
    none_yet = report_pdf.render_donor(donor_data(certificates=[]), tmp_path / "none.pdf", "en")
    assert ("No certificate of sanitization has been issued for this batch yet "
            "(refurb report certificate --batch ACME-2026-11).") in text_of(none_yet)


def test_an_open_batch_says_still_expected(tmp_path):
    data = donor_data(batch={**donor_data()["batch"], "closed": False}, outcomes={"expected": 1})
    text = text_of(report_pdf.render_donor(data, tmp_path / "open.pdf", "en"))
    assert_all_in(text, ["open: devices still expected are not yet reported missing", "Still expected 1",
                         "Devices still expected"])
    assert "Missing devices" not in text


def test_the_funder_report_prints_aggregates_and_markers(funder_pdfs):
    text = text_of(funder_pdfs["nl"])
    assert_all_in(text, ["Rapport voor de subsidiegever", "Totaalcijfers, 01/01/2026 tot 31/03/2026",
                         "Periode 01/01/2026 tot 31/03/2026", "Bereikte gebruikers: 137",
                         "Uitleningen", "Gestarte uitleningen", "Tijdens een uitlening verloren toestellen",
                         "Ontvangen toestellen", "Per digipunt",
                         "Digipunt gebruikers gestart lopend teruggebracht verloren",
                         "Antwerpen Noord 60 71 40 30 x", "Gent Zuid 77 81 48 31 x",
                         "Totaal 137 152 88 61 <5", "Per soort toestel", "laptop 380 140 20 0",
                         "tablet 32 9 x 0", "Totaal 412 149 23 0",
                         "Zo lees je deze cijfers", "Dagen zijn kalenderdagen in Europe/Brussels",
                         "<5: van 1 tot 4. x: een aantal dat verborgen is",
                         "het aantal bereikte gebruikers is een bovengrens"])
    assert "Locatie" not in text  # no address configured: no empty row


def test_the_funder_report_in_english_and_french(funder_pdfs):
    assert_all_in(text_of(funder_pdfs["en"]), [
        "Funder report", "Aggregate figures, 2026-01-01 to 2026-03-31", "Users reached: 137",
        "Loans active at the end of the period", "Devices reused (lent out)", "Per kind of device",
        "Digipunt users started active returned lost"])
    assert_all_in(text_of(funder_pdfs["fr"]), ["Rapport au bailleur de fonds", "du 01/01/2026 au 31/03/2026",
                                                "Usagers atteints : 137"])


def bar_pixels(path):
    """How many pixels of page 1 have the colour of a chart bar."""
    doc = pdfium.PdfDocument(path)
    try:
        image = doc[0].render(scale=1).to_pil().convert("RGB")
    finally:
        doc.close()
    bar = bytes(int(report_pdf.BAR[i:i + 2], 16) for i in (1, 3, 5))
    pixels = image.tobytes()
    return sum(1 for i in range(0, len(pixels), 3) if pixels[i:i + 3] == bar)


def test_a_suppressed_figure_is_never_drawn_as_a_bar(tmp_path):
    hidden = {name: "<5" for name in stats.SUMMARY}
    assert bar_pixels(report_pdf.render_funder(funder_data(summary=hidden), tmp_path / "hidden.pdf")) == 0
    one = {**hidden, "devices_received": 412}
    assert bar_pixels(report_pdf.render_funder(funder_data(summary=one), tmp_path / "one.pdf")) > 500


def test_characters_outside_the_font_and_a_failed_write(tmp_path):
    data = donor_data(batch={**donor_data()["batch"], "donor": "Łukasz Żółć BV"})
    assert "Łukasz Żółć BV" in text_of(report_pdf.render_donor(data, tmp_path / "pl.pdf"))
    with pytest.raises(UsageProblem):
        report_pdf.render_donor(donor_data(), tmp_path / "missing" / "x.pdf")
    with pytest.raises(UsageProblem):
        report_pdf.render_funder(funder_data(), tmp_path / "x.pdf", lang="xx")
    broken = donor_data()
    del broken["impact"]
    with pytest.raises(KeyError):
        report_pdf.render_donor(broken, tmp_path / "broken.pdf")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pl.pdf"]  # no half-written file


# ---------------------------------------------------------------------------- from the database


@pytest.fixture
def told(ctx):
    from test_stats import story

    return ctx, story(ctx)


def test_reports_from_the_database(told, tmp_path):
    ctx, tags = told
    donor = text_of(report_pdf.render_donor(stats.donor_report(ctx, "ACME-1"), tmp_path / "donor.pdf"))
    assert_all_in(donor, ["Vermeden CO2e: 856 kg", "4 hergebruikte laptops × 214 kg CO2e",
                          "Niet meegeteld, want de factor geldt voor een laptop: tablet 2",
                          f"ACME-L3 SN-L3 Lenovo Model L3 {tags['L3']} verloren 1",
                          f"— SN-X1 Fujitsu Lifebook {tags['X1']} gerecycleerd niet op de lijst 0",
                          "Ontbrekende toestellen", "ACME-L7 SN-L7 Lenovo Model L7"])
    today = services.today()
    report = stats.funder_report(ctx, today - timedelta(days=1), today + timedelta(days=1))
    funder = text_of(report_pdf.render_funder(report, tmp_path / "funder.pdf", "en"))
    assert_all_in(funder, ["Users reached: 6", "Antwerpen x x x 0 0", "Gent Zuid x x x x x",
                           "Total 6 6 <5 <5 <5", "laptop x x x 0", "tablet x x 0 0", "Total 9 6 <5 0"])
    assert "B-1" not in funder and "SN-" not in funder and "RB-" not in funder and "Acme" not in funder
