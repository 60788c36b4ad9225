"""Donor manifests read and checked (refurb.manifest): the real exports in ../shared/external and hand-made
files with what spreadsheets and asset tools do to them.  No database here (see test_manifest_import)."""

import codecs
import csv
import io
from pathlib import Path

import pytest

from refurb import i18n, manifest, tags
from refurb.errors import NotFound, UsageProblem

DONORS = Path(__file__).resolve().parents[1].parent / "shared" / "external" / "donor-manifests"
SNIPE = DONORS / "snipe-it" / "assets-sample.csv"
SNIPE_BAD = DONORS / "snipe-it" / "assets-sample-BAD.csv"
SNIPE_MODELS = DONORS / "snipe-it" / "models-sample.csv"
HUB_STOCK = DONORS / "devicehub-teal" / "basic-stock.csv"
HUB_DEVICES = DONORS / "devicehub-teal" / "multiples_devices.csv"

needs_donors = pytest.mark.skipif(not SNIPE.exists(), reason=f"{DONORS} is not there")


@pytest.fixture(autouse=True)
def english():
    i18n.setup("en")


def write(tmp_path, name, text, encoding="utf-8", newline="\n"):
    path = tmp_path / name
    path.write_bytes(text.replace("\n", newline).encode(encoding))
    return path


def errors_by_row(m):
    return {(e["row"], e["column"], e["code"]) for e in m.errors}


# ---------------------------------------------------------------------------------------- real exports


@needs_donors
def test_snipe_it_assets_without_serials_are_identified_by_asset_tag_and_staff_columns_dropped():
    m = manifest.read(SNIPE)
    assert (m.encoding, m.delimiter, m.line_endings, m.preset) == ("utf-8-sig", ",", "lf", "snipeit")
    assert (m.total, len(m.rows), m.invalid) == (22, 22, 0)
    assert m.dropped_columns == ["Name", "Checked Out To: Username", "Checked Out To: First Name",
                                 "Checked Out To: Last Name", "Checked Out To: Email"]
    assert "Checked Out To: Location" in m.ignored_columns and "Company" in m.ignored_columns
    first = m.rows[0]
    assert (first.number, first.serial, first.donor_tag, first.make, first.model) == (
        2, None, "ICC-2065556", "Berge Inc", 'Macbook Pro 13"')
    assert first.specs == {"model_number": "1786VM80X07"}
    # no row keeps anything from the dropped columns
    assert not any("@" in str(v) for r in m.rows for v in r.values().values())
    name, kept = m.kept_copy()
    assert name == "assets-sample.kept.csv" and kept.startswith(codecs.BOM_UTF8)
    assert b"@" not in kept and b"gmccrackem2a" not in kept and b"ICC-2065556" in kept


@needs_donors
def test_the_bad_snipe_it_file_mac_roman_cr_only_duplicate_headers_and_excel_numbers():
    m = manifest.read(SNIPE_BAD)
    assert (m.encoding, m.line_endings, m.delimiter) == ("mac_roman", "cr", ",")
    assert any("Mac Roman" in n for n in m.notes) and any("CR only" in n for n in m.notes)
    assert m.dropped_columns == ["Full Name", "Email", "Username"]
    assert {w["column"] for w in m.warnings if w["code"] == "duplicate-header"} == {"Category", "Company"}
    assert m.columns["serial"] == "Serial" and m.columns["donor_tag"] == "Asset Tag"
    # every row's model number was ruined by Excel (6.37702E+15 …): rejected row by row, with the reason
    assert (m.total, m.invalid, len(m.rows)) == (200, 200, 0)
    first = m.errors[0]
    assert (first["row"], first["column"], first["value"], first["code"]) == (2, "Model Number", "6.37702E+15",
                                                                              "excel-number")
    assert "scientific notation" in first["reason"] and "text" in first["reason"]
    assert [e["row"] for e in m.errors] == list(range(2, 202))
    assert {e["column"] for e in m.errors} == {"Model Number"}  # the UUID serials are fine


@needs_donors
def test_a_list_of_models_is_refused_saying_what_it_looks_like():
    with pytest.raises(UsageProblem) as exc:
        manifest.read(SNIPE_MODELS)
    assert exc.value.code == "not-a-device-list"
    assert "not a device list" in exc.value.message and "a list of models" in exc.value.message, exc.value.message
    assert "Model Number" in exc.value.message and "Serial" in exc.value.hint


@needs_donors
def test_devicehub_stock_semicolons_quotes_and_a_repeated_row():
    m = manifest.read(HUB_STOCK)
    assert (m.delimiter, m.preset, m.total, len(m.rows), m.duplicates) == (";", "devicehub", 2, 1, 1)
    row = m.rows[0]
    assert (row.serial, row.kind, row.kind_given, row.make, row.model) == ("d1s", "desktop", True, "d1mr", "d1ml")
    assert row.specs == {"cpu": "p1ml"}  # RAM (MB) 0 and storage 0: unknown, not zero
    assert [(w["row"], w["code"]) for w in m.warnings] == [(3, "duplicate-row")]


@needs_donors
def test_devicehub_wide_export_kinds_short_rows_and_megabytes():
    m = manifest.read(HUB_DEVICES)
    assert (m.encoding, m.total, m.invalid) == ("utf-8", 4, 0)
    assert [(r.serial, r.kind) for r in m.rows] == [
        ("b8oaas048286", "laptop"), ("d1s", "desktop"), ("bar", "other"), ("cn0fp446728728541c8s", "other")]
    assert m.rows[0].specs["ram_gb"] == 1.0  # RAM (MB) 1024
    assert m.columns["donor_tag"] == "Tag 1" and "Price" in m.ignored_columns


# ---------------------------------------------------------------------------------------- encodings, dialects


def test_semicolons_bom_crlf_and_dutch_headers(tmp_path):
    path = write(tmp_path, "nl.csv", "Serienummer;Merk;Model;Soort;Inventarisnummer;Werkgeheugen\n"
                 "PF1ABC23;Lenovo;ThinkPad T480 édition;Laptop;ACME-001;8 GB\n"
                 "PF1ABC24;HP;EliteBook 840;Desktop;ACME-002;16384 MB\n", encoding="utf-8-sig", newline="\r\n")
    m = manifest.read(path)
    assert (m.encoding, m.delimiter, m.line_endings) == ("utf-8-sig", ";", "crlf")
    assert m.columns == {"serial": "Serienummer", "donor_tag": "Inventarisnummer", "kind": "Soort",
                         "make": "Merk", "model": "Model", "ram_gb": "Werkgeheugen"}
    assert [(r.serial, r.donor_tag, r.model, r.kind, r.specs["ram_gb"]) for r in m.rows] == [
        ("PF1ABC23", "ACME-001", "ThinkPad T480 édition", "laptop", 8.0),
        ("PF1ABC24", "ACME-002", "EliteBook 840", "desktop", 16.0)]


def test_windows_1252_is_detected_and_said(tmp_path):
    path = write(tmp_path, "fr.csv", "Numéro de série,Fabricant,Modèle,Type d'appareil,N° d'inventaire\n"
                 "5CG7261ABC,Hewlett-Packard,EliteBook 840 G3 édition spéciale,Ordinateur portable,INV-1\n",
                 encoding="cp1252", newline="\r\n")
    m = manifest.read(path)
    assert m.encoding == "cp1252" and any("Windows-1252" in n for n in m.notes)
    row = m.rows[0]
    assert (row.serial, row.make, row.model, row.kind, row.donor_tag) == (
        "5CG7261ABC", "Hewlett-Packard", "EliteBook 840 G3 édition spéciale", "laptop", "INV-1")


def test_mac_roman_accents_are_read_as_mac_roman(tmp_path):
    path = write(tmp_path, "mac.csv", "Serial Number,Model\nC02XK1ABJG5H,MacBook Air (modèle été)\n",
                 encoding="mac_roman", newline="\r")
    m = manifest.read(path)
    assert (m.encoding, m.line_endings) == ("mac_roman", "cr")
    assert m.rows[0].model == "MacBook Air (modèle été)"


def test_utf16_tab_separated_as_excel_saves_unicode_text(tmp_path):
    path = tmp_path / "unicode.txt"
    path.write_bytes(codecs.BOM_UTF16_LE + "Serial number\tManufacturer\r\nR9XN123\tSamsung Électronique\r\n"
                     .encode("utf-16-le"))
    m = manifest.read(path)
    assert (m.encoding, m.delimiter) == ("utf-16", "\t")
    assert (m.rows[0].serial, m.rows[0].make) == ("R9XN123", "Samsung Électronique")


def test_excels_sep_line_and_a_title_above_the_header(tmp_path):
    path = write(tmp_path, "sep.csv", "sep=;\nACME NV – devices for the digibank;;\n;;\nSerial;Make;Model\n"
                 "SN-1;Dell;Latitude 7490\n")
    m = manifest.read(path)
    assert m.delimiter == ";" and m.header_row == 3
    assert [(r.number, r.serial) for r in m.rows] == [(4, "SN-1")]
    assert [w["code"] for w in m.warnings] == ["lines-before-header"]


def test_blank_rows_are_skipped_and_row_numbers_stay_those_of_the_file(tmp_path):
    path = write(tmp_path, "blank.csv", "Serial,Model\nA1,X\n\n,\n  ,  \nA2,Y\n")
    m = manifest.read(path)
    assert m.total == 2 and [(r.number, r.serial) for r in m.rows] == [(2, "A1"), (6, "A2")]


def test_duplicate_and_empty_headers(tmp_path):
    path = write(tmp_path, "dup.csv", "Serial,Serial,,Model,,Notes\n,SN-2,x,T480,,\nSN-3,SN-9,,T490,,n\n")
    m = manifest.read(path)
    assert [(r.serial, r.model) for r in m.rows] == [("SN-2", "T480"), ("SN-3", "T490")]  # first filled one
    assert [w["code"] for w in m.warnings] == ["duplicate-header"]
    # the empty header with values is reported as ignored; the one with nothing in it is not
    assert m.ignored_columns == ["(column 3, no header)", "Notes"]


# ---------------------------------------------------------------------------------------- row checks


def test_excel_mangled_serials_are_rejected_row_by_row(tmp_path):
    path = write(tmp_path, "excel.csv", "Serial Number,Asset Tag,Model\n6.37702E+15,,T480\nPF1ABC23,,T480\n"
                 "1234567890123450000,,T480\n12345678.0,,T480\n3,52E+14,A-1,T480\n")
    m = manifest.read(path)
    assert [r.serial for r in m.rows] == ["PF1ABC23"]
    found = {(e["row"], e["column"], e["value"], e["code"]) for e in m.errors}
    assert {(2, "Serial Number", "6.37702E+15", "excel-number"), (4, "Serial Number", "1234567890123450000",
            "excel-number"), (5, "Serial Number", "12345678.0", "excel-number"),
            (6, None, None, "too-many-values")} <= found
    assert m.invalid == 4
    reasons = {e["row"]: e["reason"] for e in m.errors}
    assert "scientific notation" in reasons[2] and "15 digits" in reasons[4] and ".0" in reasons[5]


@pytest.mark.parametrize("value,mangled", [
    ("6.37702E+15", True), ("5.02E+18", True), ("3,74623E+14", True), ("1E+10", True), ("6.37702e15", True),
    ("1234567890123450", True), ("123456789012345", False), ("490154203237518", False), ("1234567.0", True),
    ("PF1ABC23", False), ("5CG7261ABC", False), ("E12345", False), ("2E3F", False), ("12.5", False)])
def test_excel_mangled(value, mangled):
    assert (manifest.excel_mangled(value) is not None) is mangled


def test_placeholders_identifiers_and_their_errors(tmp_path):
    good_imei = "490154203237518"
    bad_tag = tags.make("RB", 12)[:-1] + ("0" if tags.make("RB", 12)[-1] != "0" else "1")
    path = write(tmp_path, "ids.csv", "Serial,Asset tag,IMEI,MAC,Tag\n"
                 "To be filled by O.E.M.,,,,\n"           # 2: placeholder, nothing else
                 "To be filled by O.E.M.,INV-7,,,\n"      # 3: fine, by asset tag
                 f"SN-4,,{good_imei},a4bb.6d01.2f3c,\n"    # 4: fine
                 "SN-5,,490154203237519,,\n"              # 5: IMEI check digit
                 "SN-6,,,zz:zz,\n"                        # 6: not a MAC
                 f"SN-7,,,,{bad_tag}\n"                   # 7: a misread of our tag
                 "SN-8,,,,OTHER-ORG-1\n"                  # 8: another organisation's tag
                 "N/A,-,,,\n")                            # 9: nothing
    m = manifest.read(path)
    assert [(r.number, r.serial, r.donor_tag, r.imei, r.mac) for r in m.rows] == [
        (3, None, "INV-7", None, None), (4, "SN-4", None, good_imei, "A4:BB:6D:01:2F:3C"),
        (8, "SN-8", "OTHER-ORG-1", None, None)]
    codes = {e["row"]: e["code"] for e in m.errors}
    assert codes == {2: "no-identity", 5: "bad-imei", 6: "bad-mac", 7: "bad-tag", 9: "no-identity"}
    reasons = {e["row"]: e["reason"] for e in m.errors}
    assert "placeholder" in reasons[2] and reasons[9] == "no serial and no asset tag"


def test_the_same_identity_twice_in_a_file(tmp_path):
    path = write(tmp_path, "twice.csv", "Serial,Asset tag,Model\nSN-1,A-1,T480\nsn-1,A-2,T490\nSN-3,a-1,T480\n"
                 "SN-1,A-1,T480\n")
    m = manifest.read(path)
    assert [r.number for r in m.rows] == [2]
    assert m.duplicates == 1  # row 5 repeats row 2 exactly: counted once, a warning
    assert {(e["row"], e["code"]) for e in m.errors} == {(3, "duplicate-in-file"), (4, "duplicate-in-file")}
    assert any("on row 2 already" in e["reason"] for e in m.errors)


def test_intune_export_drops_user_columns_and_keeps_the_device(tmp_path):
    path = write(tmp_path, "intune.csv",
                 "Device ID,Device name,Enrollment date,Serial number,Manufacturer,Model,IMEI,Primary user UPN,"
                 "Primary user email address,Primary user display name,Phone number,Total storage,Wi-Fi MAC,"
                 "Managed by\n"
                 "1f2e,DESKTOP-JDOE,2023-01-05,PF2XYZ11,LENOVO,20L6S0AA00,,jan.peeters@acme.be,"
                 "jan.peeters@acme.be,Jan Peeters,+32 470 12 34 56,244198,A4:BB:6D:01:2F:3C,Intune\n")
    m = manifest.read(path)
    assert m.preset == "intune"
    assert m.dropped_columns == ["Device name", "Primary user UPN", "Primary user email address",
                                 "Primary user display name", "Phone number"]
    assert "Device ID" in m.ignored_columns
    row = m.rows[0]
    assert (row.serial, row.make, row.model, row.mac) == ("PF2XYZ11", "LENOVO", "20L6S0AA00", "A4:BB:6D:01:2F:3C")
    assert row.specs == {"storage_gb": 244.2}  # megabytes
    assert "peeters" not in m.kept_copy()[1].decode("utf-8-sig").lower()


def test_jamf_preload_drops_people_columns(tmp_path):
    path = write(tmp_path, "jamf.csv", "Serial Number,Device Type,Username,Full Name,Email Address,Phone Number,"
                 "Position,Department,Asset Tag,Vendor\nC02XK1ABJG5H,Computer,jdoe,Jane Doe,jane@acme.be,"
                 "+32 2 555 12 12,Accountant,Finance,ACME-77,Apple Reseller\n"
                 "DMPXK2ABCD12,Mobile Device,,,,,,,ACME-78,\n")
    m = manifest.read(path, default_kind="laptop")
    assert m.preset == "jamf"
    assert m.dropped_columns == ["Username", "Full Name", "Email Address", "Phone Number", "Position"]
    assert [(r.kind, r.kind_given, r.donor_tag) for r in m.rows] == [("laptop", False, "ACME-77"),
                                                                      ("other", True, "ACME-78")]


def test_a_column_of_e_mail_addresses_is_dropped_whatever_its_name(tmp_path):
    path = write(tmp_path, "contact.csv", "Serial,Info\nSN-1,a.b@acme.be\nSN-2,c.d@acme.be\nSN-3,\n")
    m = manifest.read(path)
    assert m.dropped_columns == ["Info"] and m.ignored_columns == []


def test_lansweeper_and_glpi_names(tmp_path):
    lansweeper = write(tmp_path, "ls.csv", "AssetName,AssetUnique,tblAssetCustom.Manufacturer,tblAssetCustom.Model,"
                       "tblBIOS.SerialNumber,BarCode,Username,IPAddress\nPC-01,PC-01.acme,Dell Inc.,OptiPlex 7050,"
                       "7XYZ123,BC-1,jdoe,10.0.0.5\n")
    m = manifest.read(lansweeper)
    assert m.preset == "lansweeper" and m.dropped_columns == ["AssetName", "Username"]
    assert (m.rows[0].serial, m.rows[0].donor_tag, m.rows[0].make) == ("7XYZ123", "BC-1", "Dell Inc.")
    glpi = write(tmp_path, "glpi.csv", "Nom;Entité;Statut;Fabricant;Numéro de série;Numéro d'inventaire;Type;"
                 "Modèle;Lieu;Usager\nPC-12;Ville;En stock;Lenovo;PF0AAAA1;INV-0012;Portable;ThinkPad L480;"
                 "Dépôt;M. Dupont\n")
    m = manifest.read(glpi)
    assert (m.preset, m.delimiter, m.dropped_columns) == ("glpi", ";", ["Nom", "Usager"])
    row = m.rows[0]
    assert (row.serial, row.donor_tag, row.kind, row.model) == ("PF0AAAA1", "INV-0012", "laptop", "ThinkPad L480")


def test_refurbs_own_stock_export_headers(tmp_path):
    tag = tags.make("RB", 7)
    path = write(tmp_path, "stock.csv", "tag,serial,kind,make,model,cpu,ram_gb,storage_gb,storage_type,screen,"
                 "battery_health,image,grade,accessories,location,ready_since\n"
                 f"{tag},PF1,laptop,Lenovo,T480,Intel Core i5-8250U,8,256,nvme,14,87,linux-mint,A,charger,"
                 "Digipunt Gent,2026-11-01\n")
    m = manifest.read(path)
    assert m.preset == "refurb"
    assert m.ignored_columns == ["image", "grade", "accessories", "location", "ready_since"]
    row = m.rows[0]
    assert (row.tag, row.serial, row.kind) == (tag, "PF1", "laptop")
    assert row.specs == {"cpu": "Intel Core i5-8250U", "ram_gb": 8.0, "storage_gb": 256.0, "storage_type": "nvme",
                         "screen_inches": 14.0, "battery_health": 87}


def test_values_not_understood_are_warnings_not_errors(tmp_path):
    path = write(tmp_path, "specs.csv", "Serial,RAM,Screen,Battery health\nSN-1,lots,15.6\",85 %\n"
                 "SN-2,8GB,39.6 cm,0.91\n")
    m = manifest.read(path)
    assert [r.specs for r in m.rows] == [{"screen_inches": 15.6, "battery_health": 85},
                                         {"ram_gb": 8.0, "screen_inches": 15.6, "battery_health": 91}]
    assert [(w["row"], w["column"], w["code"]) for w in m.warnings] == [(2, "RAM", "unreadable-value")]


# ---------------------------------------------------------------------------------------- XLSX


def test_xlsx_written_with_openpyxl(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    from datetime import date

    wb = openpyxl.Workbook()
    summary = wb.active
    summary.title = "Summary"
    summary.append(["ACME devices 2026", None])
    summary.append(["Total", 3])
    sheet = wb.create_sheet("Devices")
    sheet.append(["Serial Number", "Asset Tag", "Manufacturer", "Model", "RAM (GB)", "Purchase date", "E-mail"])
    sheet.append(["PF1ABC23", "ACME-1", "Lenovo", "ThinkPad T480", 8, date(2019, 3, 1), "a@acme.be"])
    sheet.append([123456780, "ACME-2", "Dell", "Latitude 7490", 16.0, date(2019, 4, 1), "b@acme.be"])
    sheet.append([6.37702e15, "ACME-3", "HP", "EliteBook", 8, None, None])
    sheet.append([None, None, None, None, None, None, None])
    path = tmp_path / "donor.xlsx"
    wb.save(path)
    m = manifest.read(path)
    assert (m.format, m.sheet, m.encoding, m.delimiter) == ("xlsx", "Devices", None, None)
    assert m.dropped_columns == ["E-mail"] and m.ignored_columns == ["Purchase date"]
    assert [(r.serial, r.donor_tag, r.specs["ram_gb"]) for r in m.rows] == [("PF1ABC23", "ACME-1", 8.0),
                                                                            ("123456780", "ACME-2", 16.0)]
    assert [(e["row"], e["value"], e["code"]) for e in m.errors] == [(4, "6377020000000000", "excel-number")]
    name, kept = m.kept_copy()
    assert name == "donor.kept.csv" and b"acme.be" not in kept
    assert list(csv.reader(io.StringIO(kept.decode("utf-8-sig"))))[1][:2] == ["PF1ABC23", "ACME-1"]


# ---------------------------------------------------------------------------------------- refusals


def test_refusals(tmp_path):
    with pytest.raises(NotFound):
        manifest.read(tmp_path / "missing.csv")
    with pytest.raises(UsageProblem) as exc:
        manifest.read(write(tmp_path, "empty.csv", "\n\n"))
    assert exc.value.code == "empty-manifest"
    with pytest.raises(UsageProblem) as exc:
        manifest.read(write(tmp_path, "people.csv", "Name,Email,Phone\nJan,jan@acme.be,+32 470 12 34 56\n"))
    assert exc.value.code == "not-a-device-list" and "a list of people" in exc.value.message
    old = tmp_path / "old.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)
    with pytest.raises(UsageProblem) as exc:
        manifest.read(old)
    assert exc.value.code == "unsupported-format" and ".xlsx" in exc.value.hint
    with pytest.raises(UsageProblem):
        manifest.read(write(tmp_path, "ok.csv", "Serial\nA\n"), preset="sap")


def test_the_error_file(tmp_path):
    m = manifest.read(write(tmp_path, "e.csv", "Serial;Model\n6.37702E+15;T480\nSN-2;T480\n"))
    out = tmp_path / "out" / "errors.csv"
    assert manifest.write_errors(out, m.errors, ";") == str(out)
    raw = out.read_bytes()
    assert raw.startswith(codecs.BOM_UTF8)
    lines = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert lines[0] == ["row", "column", "value", "code", "reason"]
    assert lines[1][:4] == ["2", "Serial", "6.37702E+15", "excel-number"] and "Excel" in lines[1][4]
    assert len(lines) == 2


def test_header_names_normalise():
    assert manifest.norm("Numéro de série") == "numero de serie"
    assert manifest.norm("serialNumber") == "serial number"
    assert manifest.norm("tblBIOS.SerialNumber") == "serial number"
    assert manifest.norm("\ufeffRAM (MB)") == "ram mb"
    assert manifest.norm("N° d'inventaire") == "n d inventaire"
    assert manifest.is_personal("checked out to email") and not manifest.is_personal("checked out to location")


@pytest.mark.parametrize("value,kind", [("Laptop", "laptop"), ("Notebook", "laptop"), ("Microtower", "desktop"),
                                        ("All-in-One", "desktop"), ("Tablette", "tablet"), ("iPad", "tablet"),
                                        ("Smartphone", "phone"), ("Keyboard", "other"), ("Computer", None),
                                        ("Ordinateur portable", "laptop"), ("", None)])
def test_kind_of(value, kind):
    assert manifest.kind_of(value) == kind
