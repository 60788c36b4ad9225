"""Label templates and the PDFs they print: every code is rasterised at the printer's resolution and read back.

Each shipped template prints a run of real asset tags (sheets: with --skip, onto a second page); the pages
are rasterised with pdfium at the template's dots per inch and decoded by zxing-cpp and, independently, by
zbar.  Every tag must come back exactly once per symbology, from its own label, inside the element that
holds it.  The encoders are independent of the decoders: Code 128 is our own table, QR and Data Matrix come
from zint (inside zxing-cpp), and zbar shares no code with either.
"""

import subprocess
import sys
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refurb import labels, tags
from refurb.errors import InvalidConfig, NotFound, UsageProblem

SHIPPED = {  # id: (media, label mm, labels per page, dpi) — from the media makers' specifications
    "avery-l7160": ("sheet", (63.5, 38.1), 21, 300),
    "avery-l7163": ("sheet", (99.1, 38.1), 14, 300),
    "brother-dk11209": ("die-cut", (62.0, 29.0), 1, 300),
    "brother-dk22205": ("continuous", (62.0, 40.0), 1, 300),
    "dymo-99012": ("die-cut", (89.0, 36.0), 1, 300),
    "parts-tag": ("die-cut", (54.0, 17.0), 1, 300),
    "zebra-2x1": ("die-cut", (50.8, 25.4), 1, 203),
}
FORMATS = {"code128": "Code128", "qr": "QRCode", "datamatrix": "DataMatrix"}


def device_records(count, first=500, **extra):
    """`count` devices with real tags (valid check characters) and varied specs."""
    records, number = [], first
    for i in range(count):
        number = tags.next_number("RB", number)
        records.append({"tag": tags.make("RB", number), "serial": f"SN{number:07d}X", "make": "Dell",
                        "model": f"Latitude {5400 + i}", "kind": "laptop", "cpu": "Intel Core i5-8265U",
                        "ram_gb": 8 + 8 * (i % 2), "storage_gb": 256.0, "org": "Digibank Gent",
                        "part": "charger"} | extra)
        number += 1
    return records


def rasterise(pdf_path, dpi):
    """Every page as a numpy grey image (0 = black), as a printer at `dpi` would lay the dots."""
    import numpy as np
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(pdf_path)
    try:
        return [np.asarray(page.render(scale=dpi / 72).to_pil().convert("L")) for page in pdf]
    finally:
        pdf.close()


def zxing_codes(image):
    """[(text, format name, centre x px, centre y px)] read by zxing-cpp."""
    import zxingcpp

    found = []
    for r in zxingcpp.read_barcodes(image):
        p = r.position
        corners = (p.top_left, p.top_right, p.bottom_left, p.bottom_right)
        name = {"QR Code": "QRCode", "Code 128": "Code128", "Data Matrix": "DataMatrix"}.get(
            str(r.format), str(r.format))
        found.append((r.text, name, sum(c.x for c in corners) / 4, sum(c.y for c in corners) / 4))
    return found


def zbar_codes(image):
    """[(text, format name)] read by zbar, which knows nothing of zxing-cpp or zint."""
    from pyzbar import pyzbar

    names = {"QRCODE": "QRCode", "CODE128": "Code128"}
    return [(s.data.decode("ascii"), names.get(s.type, s.type)) for s in pyzbar.decode(image)]


def label_at(template, page_no, x_mm, y_mm):
    """(position in the run counted from the sheet's first slot, x, y in mm from that label's top-left)."""
    for slot in range(template.per_page):
        _page, left, top = template.slot(slot)
        if left <= x_mm <= left + template.width and top <= y_mm <= top + template.height:
            return (page_no - 1) * template.per_page + slot, x_mm - left, y_mm - top
    raise AssertionError(f"a code at {x_mm:.1f}, {y_mm:.1f} mm on page {page_no} is on no label")


def symbologies(template):
    return {FORMATS[e.type] for e in template.elements if e.type in FORMATS and "tag" in e.fields}


def test_the_shipped_templates_match_their_media():
    templates = labels.load_templates()
    assert sorted(templates) == sorted(SHIPPED)
    for template_id, (media, size, per_page, dpi) in SHIPPED.items():
        t = templates[template_id]
        assert (t.media, (t.width, t.height), t.per_page, t.dpi, t.shipped) == (media, size, per_page, dpi, True)
        assert symbologies(t) >= {"Code128"}, template_id
    sheet = templates["avery-l7163"]
    assert sheet.page == (210.0, 297.0) and (sheet.columns, sheet.rows) == (2, 7)
    assert sheet.slot(0) == (1, 4.65, 15.15) and sheet.slot(13) == (1, 4.65 + 101.6, 15.15 + 6 * 38.1)
    assert sheet.slot(14) == (2, 4.65, 15.15)
    # Avery L7160's grid is centred on the sheet: 7.21 + 2 × 66.04 + 63.5 + 7.21 = 210
    small = templates["avery-l7160"]
    assert abs(small.left + 2 * small.pitch[0] + small.width + small.left - 210) < 0.01
    assert abs(small.top * 2 + 7 * small.pitch[1] - 297) < 0.01
    assert templates["brother-dk11209"].brother == "62x29"
    assert templates["parts-tag"].brother == "17x54"


def test_describe_gives_what_the_templates_list_shows():
    t = labels.get_template("avery-l7160")
    assert labels.describe(t) == {
        "id": "avery-l7160", "name": "Avery L7160: 21 labels of 63.5 × 38.1 mm on A4", "media": "sheet",
        "width_mm": 63.5, "height_mm": 38.1, "per_page": 21, "dpi": 300, "brother": None,
        "source": t.source, "shipped": True}
    assert labels.describe(labels.get_template("brother-dk22205"))["per_page"] is None


@pytest.mark.parametrize("template_id", sorted(SHIPPED))
def test_every_tag_scans_back_from_its_own_label(template_id, tmp_path):
    t = labels.get_template(template_id)
    skip = 3 if t.media == "sheet" else 0
    count = t.per_page - skip + 4 if t.media == "sheet" else 3  # sheets spill onto a second page
    records = device_records(count)
    out = tmp_path / "labels.pdf"
    result = labels.render(t, records, out, skip=skip)
    pages = 2 if t.media == "sheet" else count
    assert result == {"file": str(out), "template": template_id, "pages": pages, "labels": count,
                      "skipped": skip, "placeholders": []}
    check_codes(t, out, records, skip, t.dpi)


@pytest.mark.parametrize("template_id", ["avery-l7160", "avery-l7163"])
def test_sheets_also_scan_back_at_203_dpi(template_id, tmp_path):
    t = labels.get_template(template_id)
    records = device_records(t.per_page)
    labels.render(t, records, tmp_path / "sheet.pdf")
    check_codes(t, tmp_path / "sheet.pdf", records, 0, 203)


def check_codes(t, pdf, records, skip, dpi):
    want = symbologies(t)
    boxes = {FORMATS[e.type]: e for e in t.elements if e.type in FORMATS}
    seen = Counter()
    for page_no, image in enumerate(rasterise(pdf, dpi), start=1):
        height, width = image.shape
        assert abs(width - t.page[0] / 25.4 * dpi) <= 1 and abs(height - t.page[1] / 25.4 * dpi) <= 1
        found = zxing_codes(image)
        for text, fmt, cx, cy in found:
            position, x, y = label_at(t, page_no, cx / dpi * 25.4, cy / dpi * 25.4)
            assert position >= skip, f"{text} printed on skipped position {position}"
            assert text == records[position - skip]["tag"], (page_no, position, text)
            e = boxes[fmt]
            assert e.x <= x <= e.x + e.width and e.y <= y <= e.y + e.height, (text, fmt, x, y)
            seen[text, fmt] += 1
        # zbar, label by label (on a whole sheet it overlooks a QR code now and then)
        for slot in range(t.per_page):
            position = (page_no - 1) * t.per_page + slot
            if not skip <= position < skip + len(records):
                continue
            _page, left, top = t.slot(slot)
            cell = image[round(top / 25.4 * dpi):round((top + t.height) / 25.4 * dpi),
                         round(left / 25.4 * dpi):round((left + t.width) / 25.4 * dpi)]
            tag = records[position - skip]["tag"]
            assert sorted(zbar_codes(cell)) == sorted((tag, fmt) for fmt in want), (page_no, slot)
    assert seen == Counter({(r["tag"], fmt): 1 for r in records for fmt in want})


def test_copies_repeat_each_label_in_a_row(tmp_path):
    t = labels.get_template("zebra-2x1")
    records = device_records(2)
    result = labels.render(t, records, tmp_path / "copies.pdf", copies=3)
    assert (result["pages"], result["labels"]) == (6, 6)
    texts = [sorted({text for text, *_ in zxing_codes(page)}) for page in rasterise(tmp_path / "copies.pdf", 203)]
    assert texts == [[records[0]["tag"]]] * 3 + [[records[1]["tag"]]] * 3


def test_bars_and_modules_are_whole_dots_on_a_203_dpi_head(tmp_path):
    """A 2 × 1 in label is 406 × 203 dots: every edge of every bar and module falls between two dots."""
    import numpy as np

    t = labels.get_template("zebra-2x1")
    labels.render(t, device_records(1), tmp_path / "crisp.pdf")
    (image,) = rasterise(tmp_path / "crisp.pdf", 203)
    assert image.shape == (203, 406)
    code128 = next(e for e in t.elements if e.type == "code128")
    top, bottom = round(code128.y * 8) + 2, round((code128.y + code128.height) * 8) - 2
    left, right = round(code128.x / 25.4 * 203), round((code128.x + code128.width) / 25.4 * 203)
    region = image[top:bottom, left:right]
    assert ((region > 8) & (region < 247)).sum() == 0  # no grey: nothing half-covers a dot
    dark = np.concatenate(([False], region[region.shape[0] // 2] < 128, [False]))
    edges = np.flatnonzero(dark[1:] != dark[:-1])
    widths = np.diff(edges)
    # "RB-000500-J": start, R, B, -, code C, 00, 05, 00, code B, -, J, check (3 bars each), stop (4 bars)
    assert len(widths) == 2 * (12 * 3 + 4) - 1
    assert set(widths % 2) == {0} and widths.min() == 2  # bars and spaces of 1-4 modules of 2 dots


def test_a_value_that_cannot_be_drawn_prints_a_placeholder_and_the_run_goes_on(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "serials.toml").write_text(TEMPLATE.replace("ID", "serials") + ELEMENTS)
    t = labels.get_template("serials", [folder])
    records = device_records(4)
    records[1]["serial"] = "SÉRIE-42"  # Code 128 has no É
    records[2]["serial"] = "X" * 40  # too long for 48 mm, even at the narrowest bar
    del records[3]["serial"]
    records[3]["model"] = None  # an unknown value leaves its text out
    result = labels.render(t, records, tmp_path / "out.pdf")
    assert result["labels"] == 4
    assert result["placeholders"] == [
        {"label": 2, "tag": records[1]["tag"], "element": "code128 {serial}",
         "reason": "Code 128 cannot encode 'É'"},
        {"label": 3, "tag": records[2]["tag"], "element": "code128 {serial}",
         "reason": "'" + "X" * 40 + "' is too long for a Code 128 48 mm wide"},
        {"label": 4, "tag": records[3]["tag"], "element": "code128 {serial}", "reason": "no value for serial"},
    ]
    pages = rasterise(tmp_path / "out.pdf", 300)
    read = [sorted(text for text, *_ in zxing_codes(page)) for page in pages]
    assert read == [sorted([records[0]["tag"], records[0]["serial"]])] + [[r["tag"]] for r in records[1:]]
    texts = page_texts(tmp_path / "out.pdf")
    assert "(error: serial)" not in texts[0]
    assert all("(error: serial)" in text for text in texts[1:])
    assert "Latitude 5400" in texts[0] and "Dell" not in texts[3]  # "{make} {model}" left out as a whole


TEMPLATE = """
id = "ID"
name = "Test labels"
media = "die-cut"
dpi = 300

[label]
width = 54.0
height = 30.0
margin = 1.0
"""
TAG_CODE = """
[[element]]
type = "code128"
x = 3.0
y = 2.0
width = 48.0
height = 8.0
content = "{tag}"
"""
ELEMENTS = TAG_CODE + """
[[element]]
type = "code128"
x = 3.0
y = 12.0
width = 48.0
height = 8.0
content = "{serial}"

[[element]]
type = "text"
x = 3.0
y = 22.0
content = "{make} {model}"
"""


def page_texts(pdf_path):
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(pdf_path)
    try:
        return [page.get_textpage().get_text_range() for page in pdf]
    finally:
        pdf.close()


def test_a_datamatrix_and_static_elements_print_too(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    extra = """
[[element]]
type = "datamatrix"
x = 30.0
y = 12.0
size = 16.0
content = "{tag}"

[[element]]
type = "text"
x = 3.0
y = 13.0
width = 25.0
content = "Property of"

[[element]]
type = "line"
x = 3.0
y = 17.0
x2 = 25.0
y2 = 17.0
thickness = 0.3

[[element]]
type = "box"
x = 1.0
y = 1.0
width = 52.0
height = 28.0
radius = 2.0
thickness = 0.2
"""
    (folder / "dm.toml").write_text(TEMPLATE.replace("ID", "dm") + TAG_CODE + extra)
    t = labels.get_template("dm", [folder])
    assert [e.static for e in t.elements] == [False, False, True, True, True]
    records = device_records(3)
    labels.render(t, records, tmp_path / "dm.pdf")
    for record, page, text in zip(records, rasterise(tmp_path / "dm.pdf", 300), page_texts(tmp_path / "dm.pdf"),
                                  strict=True):
        assert sorted((t, f) for t, f, *_ in zxing_codes(page)) == [(record["tag"], "Code128"),
                                                                      (record["tag"], "DataMatrix")]
        assert "Property of" in text
    # the static part is one form, drawn once per label
    data = (tmp_path / "dm.pdf").read_bytes()
    assert data.count(b"/Subtype /Form") == 1


def test_preview_needs_no_database_and_fills_a_sheet_or_one_roll_label(tmp_path):
    sheet = labels.preview(labels.get_template("avery-l7160"), tmp_path / "sheet.pdf")
    assert (sheet["pages"], sheet["labels"], sheet["placeholders"]) == (1, 21, [])
    roll = labels.preview(labels.get_template("dymo-99012"), tmp_path / "roll.pdf")
    assert (roll["pages"], roll["labels"]) == (1, 1)
    three = labels.preview(labels.get_template("parts-tag"), tmp_path / "three.pdf", count=3)
    assert three["labels"] == 3
    read = [text for page in rasterise(tmp_path / "three.pdf", 300) for text, *_ in zxing_codes(page)]
    assert read == [r["tag"] for r in labels.sample_records(3)]
    assert len(set(read)) == 3
    assert "charger" in page_texts(tmp_path / "three.pdf")[0]


def test_every_field_has_a_description_and_a_sample():
    assert {"tag", "serial", "make", "model", "kind", "batch", "donor_tag", "cpu", "ram_gb", "storage_gb",
            "grade", "image", "org", "date", "part"} <= set(labels.FIELDS)
    for name, f in labels.FIELDS.items():
        assert f.description and f.sample, name
    assert labels.sample_records(1)[0]["tag"] == labels.FIELDS["tag"].sample


def test_the_same_labels_give_the_same_bytes(tmp_path):
    t = labels.get_template("avery-l7163")
    records = device_records(5)
    labels.render(t, records, tmp_path / "a.pdf", skip=2)
    labels.render(t, records, tmp_path / "b.pdf", skip=2)
    assert (tmp_path / "a.pdf").read_bytes() == (tmp_path / "b.pdf").read_bytes()
    labels.render(t, records, tmp_path / "c.pdf", skip=3)
    assert (tmp_path / "c.pdf").read_bytes() != (tmp_path / "a.pdf").read_bytes()


def test_text_too_long_shrinks_then_ends_in_an_ellipsis(tmp_path):
    t = labels.get_template("avery-l7163")
    model = "ThinkPad X1 Carbon 7th Generation with the 4K display and the privacy guard"
    labels.render(t, device_records(1, model=model, make="Łenovo"), tmp_path / "long.pdf")
    (text,) = page_texts(tmp_path / "long.pdf")
    line = next(line for line in text.splitlines() if "ThinkPad" in line)
    assert line.startswith("Lenovo ThinkPad X1") and line.endswith("…") and len(line) < len(model)


@pytest.mark.parametrize("template_id", ["avery-l7163", "dymo-99012", "parts-tag"])
def test_the_calibration_page_outlines_every_label(template_id, tmp_path):
    import numpy as np

    t = labels.get_template(template_id)
    assert labels.calibrate(t, tmp_path / "cal.pdf") == {"file": str(tmp_path / "cal.pdf"), "template": t.id,
                                                         "pages": 1}
    (image,) = rasterise(tmp_path / "cal.pdf", 300)
    px = 300 / 25.4
    for slot in range(t.per_page):
        _page, left, top = t.slot(slot)
        inset = 0.15 if t.media != "sheet" else 0.0  # a roll label's outline is drawn just inside its page
        # the outline's left edge, away from the rounded corners: dark on ≥ 90 % of its length
        column = image[round((top + 3) * px):round((top + t.height - 3) * px), round((left + inset) * px)]
        assert np.mean(column < 160) > 0.9, (slot, np.mean(column < 160))
        # the label's inside, between the outline and the printable area, is blank
        inside = image[round((top + 3) * px):round((top + t.height - 3) * px), round((left + 0.6) * px)]
        assert np.mean(inside < 160) < 0.05
    text = page_texts(tmp_path / "cal.pdf")[0]
    assert "100 %" in text


@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=24))
@settings(max_examples=60, deadline=None)
def test_any_printable_ascii_text_makes_a_code_128_that_reads_back(text):
    import numpy as np
    import zxingcpp

    widths = labels.code128_widths(text)
    assert len(widths) == 6 * (len(labels.code128_values(text)) + 1) + 1 and sum(widths) % 11 == 2
    row = np.concatenate([np.full(w * 3, 0 if i % 2 == 0 else 255, np.uint8) for i, w in enumerate(widths)])
    row = np.pad(row, 40, constant_values=255)
    image = np.tile(row, (60, 1))
    read = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.Code128)
    assert [r.text for r in read] == [text]


def test_code_128_uses_code_set_c_for_runs_of_digits():
    B, C, CODE_C, CODE_B = 104, 105, 99, 100
    assert labels.code128_values("RB-004217-V")[:-1] == [B, 50, 34, 13, CODE_C, 0, 42, 17, CODE_B, 13, 54]
    assert labels.code128_values("123456")[:-1] == [C, 12, 34, 56]
    assert labels.code128_values("12345")[:-1] == [C, 12, 34, CODE_B, 21]
    assert labels.code128_values("RBOP-1234567")[:-1] == [B, 50, 34, 47, 48, 13, 17, CODE_C, 23, 45, 67]
    assert labels.code128_values("A12B")[:-1] == [B, 33, 17, 18, 34]
    # the check character: start + Σ position × value, mod 103
    values = labels.code128_values("RB-004217-V")
    assert values[-1] == (values[0] + sum(i * v for i, v in enumerate(values[1:-1], 1))) % 103


def test_the_code_128_table_is_the_standard_one():
    """Our table against reportlab's, written independently (letters: bar A-D, space a-d)."""
    from reportlab.graphics.barcode.code128 import _patterns

    for value, pattern in _patterns.items():
        expected = tuple(ord(c.lower()) - ord("a") + 1 for c in pattern)
        assert labels._C128_WIDTHS[value] == expected, value


@pytest.mark.parametrize("text, words", [("", "nothing to encode"), ("Café", "cannot encode 'é'")])
def test_code_128_refuses_what_it_cannot_encode(text, words):
    with pytest.raises(ValueError, match=words):
        labels.code128_values(text)


def test_rasterise_gives_one_bitmap_per_label_at_the_printer_resolution():
    import numpy as np

    t = labels.get_template("zebra-2x1")
    records = device_records(2)
    result = labels.rasterise(t, records, copies=2)
    assert (result["template"], result["labels"], result["placeholders"]) == ("zebra-2x1", 4, [])
    for image, record in zip(result["images"], [r for r in records for _ in (1, 2)], strict=True):
        assert (image.mode, image.size) == ("1", (406, 203))
        grey = np.asarray(image.convert("L"))
        assert sorted(text for text, *_ in zxing_codes(grey)) == [record["tag"]] * 2
        assert sorted(zbar_codes(grey)) == [(record["tag"], "Code128"), (record["tag"], "QRCode")]


def test_a_user_template_replaces_the_shipped_one_with_its_id(tmp_path):
    (tmp_path / "zebra-2x1.toml").write_text(TEMPLATE.replace("ID", "zebra-2x1") + ELEMENTS)
    (tmp_path / "notes.md").write_text("not a template")
    templates = labels.load_templates([tmp_path])
    assert sorted(templates) == sorted(SHIPPED)
    mine = templates["zebra-2x1"]
    assert (mine.shipped, mine.source, mine.width) == (False, str(tmp_path / "zebra-2x1.toml"), 54.0)
    assert labels.load_templates()["zebra-2x1"].shipped


def test_an_unknown_template_is_not_found():
    with pytest.raises(NotFound) as caught:
        labels.get_template("avery-l9999")
    assert "avery-l7163" in caught.value.hint and caught.value.exit_code == 3


def test_a_missing_template_folder_is_a_configuration_error(tmp_path):
    with pytest.raises(InvalidConfig, match="label template folder not found"):
        labels.load_templates([tmp_path / "nowhere"])


def edit(text, old, new):
    assert old in text, old
    return text.replace(old, new, 1)


GOOD = TEMPLATE.replace("ID", "bad") + ELEMENTS


@pytest.mark.parametrize("change, key, words", [
    (lambda s: edit(s, 'id = "bad"', 'id = "other"'), "id", "does not match the file name"),
    (lambda s: edit(s, 'media = "die-cut"', 'media = "roll"'), "media", "is not one of sheet, die-cut, continuous"),
    (lambda s: edit(s, "dpi = 300", "dpi = 72"), "dpi", "between 100 and 1200"),
    (lambda s: edit(s, "width = 54.0", "width = -54.0"), "label.width", "a number above 0"),
    (lambda s: edit(s, "margin = 1.0", "margin = 15.0"), "label.margin", "leaves no room"),
    (lambda s: edit(s, "margin = 1.0", "margin = 1.0\ncolour = 'red'"), "label.colour", "unknown key"),
    (lambda s: s + "[grid]\ncolumns = 2\n", "grid", "only a sheet has a [grid] table"),
    (lambda s: edit(s, 'content = "{serial}"', 'content = "{serail}"'), "element[#2].content",
     "unknown field {serail}"),
    (lambda s: edit(s, 'content = "{serial}"', 'content = "{serial:>10}"'), "element[#2].content",
     "unknown field {serial:>10}"),
    (lambda s: edit(s, 'content = "{serial}"', 'content = "{serial"'), "element[#2].content", "badly placed brace"),
    (lambda s: edit(s, 'content = "{serial}"', 'content = "Sé"'), "element[#2].content", "cannot encode 'é'"),
    (lambda s: edit(s, 'type = "code128"', 'type = "ean13"'), "element[#1].type", "is not one of"),
    (lambda s: edit(s, "x = 3.0\ny = 2.0\nwidth = 48.0", "x = 3.0\ny = 2.0\nwidth = 58.0"), "element[#1].x",
     "reaches from 3 to 61 mm across"),
    (lambda s: edit(s, "y = 12.0", "y = 25.0"), "element[#2].y", "reaches from 25 to 33 mm down"),
    (lambda s: edit(s, 'content = "{make} {model}"', 'content = "{make}"\nfont = "Comic Sans"'),
     "element[#3].font", "is not one of"),
    (lambda s: edit(s, 'content = "{make} {model}"', 'content = "{make}"\nsize = 300'), "element[#3].size",
     "between 2 and 144"),
    (lambda s: edit(s, 'content = "{make} {model}"', 'content = "{make}"\nmodule = 0.3'), "element[#3].module",
     "unknown key"),
    (lambda s: edit(s, "height = 8.0\ncontent = \"{tag}\"", "height = 8.0\ncontent = \"{tag}\"\nquiet = -1"),
     "element[#1].quiet", "a whole number of modules"),
    (lambda s: s.split("[[element]]")[0], "element", "missing key"),
])
def test_a_bad_template_names_its_file_and_key(tmp_path, change, key, words):
    path = tmp_path / "bad.toml"
    path.write_text(change(GOOD))
    with pytest.raises(InvalidConfig) as caught:
        labels.load_template(path)
    message = caught.value.message
    assert message.startswith(f"{path}: ") and words in message, message
    assert key in message, message
    assert caught.value.exit_code == 5


def test_a_sheet_grid_must_fit_its_page(tmp_path):
    text = open(labels.get_template("avery-l7163").source, encoding="utf-8").read()
    path = tmp_path / "avery-l7163.toml"
    path.write_text(edit(text, "left = 4.65", "left = 14.65"))
    with pytest.raises(InvalidConfig, match=r"grid.pitch: the grid ends at 215.35 × 281.85 mm, off the 210 × 297 mm page"):
        labels.load_template(path)
    path.write_text(edit(text, "pitch = [101.6, 38.1]", "pitch = [90.0, 38.1]"))
    with pytest.raises(InvalidConfig, match="would overlap"):
        labels.load_template(path)
    path.write_text(edit(text, "[page]\nwidth = 210.0\nheight = 297.0\n", ""))
    with pytest.raises(InvalidConfig, match=r": page: a sheet needs a \[page\] table"):
        labels.load_template(path)


def test_an_image_element_needs_its_file(tmp_path):
    from PIL import Image

    good = TEMPLATE.replace("ID", "logo") + ELEMENTS + """
[[element]]
type = "image"
x = 40.0
y = 20.0
width = 12.0
height = 8.0
file = "logo.png"
"""
    path = tmp_path / "logo.toml"
    path.write_text(good)
    with pytest.raises(InvalidConfig, match=r"element\[#4\].file: no such image: .*logo.png"):
        labels.load_template(path)
    Image.new("L", (60, 40), 0).save(tmp_path / "logo.png")
    t = labels.load_template(path)
    labels.render(t, device_records(2), tmp_path / "logo.pdf")
    for page in rasterise(tmp_path / "logo.pdf", 300):  # the black logo is printed at its place on each label
        px = 300 / 25.4
        assert page[round(24 * px), round(46 * px)] < 50 and page[round(24 * px), round(38 * px)] > 200
    bitmap = labels.rasterise(t, device_records(1))["images"][0].convert("L")
    assert bitmap.getpixel((round(46 * px), round(24 * px))) == 0


@pytest.mark.parametrize("skip, copies, words", [
    (14, 1, "--skip 14: a sheet of avery-l7163 holds 14 labels"),
    (-1, 1, "--skip must be 0 or more"),
    (0, 0, "--copies must be 1 or more"),
])
def test_impossible_runs_are_usage_errors(tmp_path, skip, copies, words):
    with pytest.raises(UsageProblem, match=words):
        labels.render(labels.get_template("avery-l7163"), device_records(1), tmp_path / "x.pdf", skip=skip,
                      copies=copies)
    assert not (tmp_path / "x.pdf").exists()


def test_skip_is_for_sheets_and_a_run_needs_labels(tmp_path):
    with pytest.raises(UsageProblem, match="--skip is for sheets of labels; zebra-2x1 prints on a roll"):
        labels.render(labels.get_template("zebra-2x1"), device_records(1), tmp_path / "x.pdf", skip=1)
    with pytest.raises(UsageProblem, match="no labels to print"):
        labels.render(labels.get_template("zebra-2x1"), [], tmp_path / "x.pdf")
    with pytest.raises(UsageProblem, match="cannot write"):
        labels.render(labels.get_template("zebra-2x1"), device_records(1), tmp_path / "no" / "x.pdf")


def test_importing_the_modules_loads_no_heavy_library():
    code = ("import sys, refurb.labels, refurb.printing, refurb.cards; print(sorted(m for m in "
            "('reportlab', 'numpy', 'zxingcpp', 'PIL', 'brother_ql') if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"
