"""Station cards: the PDF is rasterised like a printer would and every barcode is decoded back.

Each code must come back exactly once, on its page and in its grid cell, at the resolution of a
203 dpi thermal printer and of a 300 dpi office printer; bars keep their physical size and their
quiet zones; the same cards give the same bytes.
"""

import re
import subprocess
import sys
from collections import Counter

import pytest

from refurb.cards import plan, render_cards
from refurb.errors import UsageProblem

A4_WIDTH, A4_HEIGHT = 210.0, 297.0
GRID_TOP, GRID_BOTTOM = 18.0, 16.0  # mm below the top edge / above the bottom edge that hold the cards

CARDS = [
    ("RBCMD-UNDO", "Undo", "reverse the last scan"),
    ("RBCMD-DONE", "Done", "end this session"),
    ("RBCMD-FAIL-DEAD-PIXELS", "Dead pixels", "checklist item fails"),
    ("RBCMD-ALLOK", "All OK", "every checklist item passes"),
    ("RBCMD-GRADE-A", "Grade A", "as new"),
    ("RBCMD-IMAGE-CHROMEOS-FLEX", "ChromeOS Flex", "image to install"),
    ("RBCMD-FAIL-KEYBOARD", "Keyboard", "checklist item fails"),
    ("RBCMD-FAIL-BLUETOOTH", "Bluetooth", "checklist item fails"),  # 20 characters: just too long for half
    ("RBCMD-DIGIPUNT-3", "Digipunt 3", "Bibliotheek Gent"),
    ("RBCMD-COND-DAMAGED", "Damaged", "return condition"),
    ("RBOP-7", "Sara", "operator badge"),
    ("RBOP-1234567", "Łukasz Wójcik", "operator badge"),
]

# (page, row, column) read off the rules: two per row, five rows, a code too long for half the
# sheet takes a whole row ("W", centred) and the cell beside an earlier card then stays empty.
EXPECTED = {
    "RBCMD-UNDO": (1, 0, "L"),
    "RBCMD-DONE": (1, 0, "R"),
    "RBCMD-FAIL-DEAD-PIXELS": (1, 1, "W"),
    "RBCMD-ALLOK": (1, 2, "L"),
    "RBCMD-GRADE-A": (1, 2, "R"),
    "RBCMD-IMAGE-CHROMEOS-FLEX": (1, 3, "W"),
    "RBCMD-FAIL-KEYBOARD": (1, 4, "L"),
    "RBCMD-FAIL-BLUETOOTH": (2, 0, "W"),
    "RBCMD-DIGIPUNT-3": (2, 1, "L"),
    "RBCMD-COND-DAMAGED": (2, 1, "R"),
    "RBOP-7": (2, 2, "L"),
    "RBOP-1234567": (2, 2, "R"),
}


@pytest.fixture(scope="module")
def sheet(tmp_path_factory):
    out = tmp_path_factory.mktemp("cards") / "cards.pdf"
    result = render_cards(CARDS, out, title="Bench 1")
    return out, result


def rasterise(pdf_path, dpi):
    """Every page as a numpy grey image (0 = black), as a printer at `dpi` would lay the dots."""
    import numpy as np
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(pdf_path)
    try:
        return [np.asarray(page.render(scale=dpi / 72).to_pil().convert("L")) for page in pdf]
    finally:
        pdf.close()


def decode(image):
    import zxingcpp

    found = []
    for r in zxingcpp.read_barcodes(image):
        corners = (r.position.top_left, r.position.top_right, r.position.bottom_left, r.position.bottom_right)
        cx = sum(p.x for p in corners) / 4
        cy = sum(p.y for p in corners) / 4
        found.append((r.text, r.format, cx, cy))
    return found


def cell(x_mm, y_from_top_mm):
    """(row, column) of the grid of an A4 sheet that holds a point."""
    row = int((y_from_top_mm - GRID_TOP) // ((A4_HEIGHT - GRID_TOP - GRID_BOTTOM) / 5))
    middle = A4_WIDTH / 2
    column = "W" if abs(x_mm - middle) < 8 else "L" if x_mm < middle else "R"
    return row, column


def test_the_result_counts_pages_and_cards(sheet):
    out, result = sheet
    assert result == {"file": str(out), "pages": 2, "cards": len(CARDS)}
    assert out.read_bytes().startswith(b"%PDF-")


@pytest.mark.parametrize("dpi", [203, 300])
def test_every_code_decodes_once_on_its_page_and_in_its_cell(sheet, dpi):
    import zxingcpp

    out, _result = sheet
    pages = rasterise(out, dpi)
    assert len(pages) == 2
    placements = {p.code: p for p in plan(CARDS).placements}
    seen = Counter()
    for page_no, image in enumerate(pages, start=1):
        height, width = image.shape
        assert abs(height - A4_HEIGHT / 25.4 * dpi) < 1 and abs(width - A4_WIDTH / 25.4 * dpi) < 1
        for text, fmt, cx, cy in decode(image):
            seen[text] += 1
            assert fmt == zxingcpp.BarcodeFormat.Code128
            assert text in EXPECTED, f"decoded {text!r}, which is on no card"
            x_mm, y_mm = cx / dpi * 25.4, cy / dpi * 25.4
            want_page, want_row, want_column = EXPECTED[text]
            assert (page_no, *cell(x_mm, y_mm)) == (want_page, want_row, want_column), text
            # the planned box (mm from the lower-left corner) is where the symbol really is
            p = placements[text]
            assert p.page == page_no
            assert p.x < x_mm < p.x + p.width and p.y < A4_HEIGHT - y_mm < p.y + p.height, text
    assert seen == Counter({code: 1 for code, _title, _subtitle in CARDS})


def dark_runs(row, threshold=128):
    """[(start, end)] of the dark pixels in one image row."""
    import numpy as np

    dark = np.concatenate(([False], row < threshold, [False]))
    edges = np.flatnonzero(dark[1:] != dark[:-1])
    return list(zip(edges[::2], edges[1::2], strict=True))


def test_bars_keep_their_size_and_quiet_zones(sheet):
    """Measured on the 300 dpi raster: bar module ≥ 0.33 mm, ten empty modules either side of the symbol
    inside its card (no ink there, not even the cut line), bars ≥ 15 mm tall."""
    out, _result = sheet
    dpi = 300
    px = dpi / 25.4
    pages = rasterise(out, dpi)
    for p in plan(CARDS).placements:
        image = pages[p.page - 1]
        top, bottom = round((A4_HEIGHT - p.y - p.height) * px), round((A4_HEIGHT - p.y) * px)
        left, right = round(p.x * px), round((p.x + p.width) * px)
        # the bars: the tallest block of rows crossed by many dark runs (lines of text are short blocks)
        busy = [y for y in range(top, bottom) if len(dark_runs(image[y, left:right])) > 20]
        blocks = []
        for y in busy:
            if blocks and y == blocks[-1][-1] + 1:
                blocks[-1].append(y)
            else:
                blocks.append([y])
        assert blocks, p.code
        rows_with_bars = max(blocks, key=len)
        height_mm = (rows_with_bars[-1] - rows_with_bars[0] + 1) / px
        assert height_mm >= 15, (p.code, height_mm)
        modules = p.modules
        if not re.search(r"\d{4}", p.code):  # all in code set B: start, data, check character, stop (13)
            assert modules == (len(p.code) + 3) * 11 + 2
        narrowest_quiet = None
        for y in rows_with_bars[:: max(1, len(rows_with_bars) // 8)]:
            runs = dark_runs(image[y, left:right])
            start, end = runs[0][0], runs[-1][1]
            module_mm = (end - start) / px / modules
            assert module_mm >= 0.33, (p.code, module_mm)
            # quiet zone: from the symbol to the nearest ink on the whole page row
            whole = dark_runs(image[y])
            symbol_start, symbol_end = left + start, left + end
            before = max((e for s, e in whole if e <= symbol_start), default=0)
            after = min((s for s, e in whole if s >= symbol_end), default=image.shape[1])
            before, after = max(before, left), min(after, right)  # and inside the card once it is cut out
            quiet = min(symbol_start - before, after - symbol_end) / px / module_mm
            narrowest_quiet = quiet if narrowest_quiet is None else min(narrowest_quiet, quiet)
        assert narrowest_quiet >= 10, (p.code, narrowest_quiet)


def test_the_same_cards_give_the_same_bytes(tmp_path, sheet):
    first, second = tmp_path / "a.pdf", tmp_path / "b.pdf"
    render_cards(CARDS, first, title="Bench 1")
    render_cards(CARDS, second, title="Bench 1")
    assert first.read_bytes() == second.read_bytes() == sheet[0].read_bytes()
    render_cards(CARDS, second, title="Bench 2")
    assert second.read_bytes() != first.read_bytes()


def page_texts(pdf_path):
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(pdf_path)
    try:
        return [page.get_textpage().get_text_range() for page in pdf]
    finally:
        pdf.close()


def text_in_box(pdf_path, placement):
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(pdf_path)
    try:
        mm = 72 / 25.4
        text = pdf[placement.page - 1].get_textpage()
        return text.get_text_bounded(placement.x * mm, placement.y * mm, (placement.x + placement.width) * mm,
                                     (placement.y + placement.height) * mm)
    finally:
        pdf.close()


def test_each_card_shows_its_title_subtitle_and_code_and_each_page_its_header(sheet):
    out, _result = sheet
    first, second = page_texts(out)
    for text, number in ((first, 1), (second, 2)):
        assert "Bench 1" in text
        assert "print at 100 %" in text
        assert f"page {number} of 2" in text
        assert "this line is 50 mm long" in text
    for p in plan(CARDS).placements:
        inside = text_in_box(out, p).split("\n")
        lines = [line.strip() for line in inside if line.strip()]
        title = p.title.replace("Ł", "L")  # the PDF base fonts have no Ł; the letter loses its stroke
        assert lines == [title, p.subtitle, p.code], p.code


def test_a_title_too_long_for_its_card_is_shrunk_then_cut(tmp_path):
    long = "Windows 11 Pro with the education licence of the Flemish government for secondary schools"
    out = tmp_path / "long.pdf"
    card = ("RBCMD-IMAGE-WINDOWS", long, "x" * 300)
    render_cards([card], out)
    (p,) = plan([card]).placements
    assert p.width < 100  # a half-width card
    title, subtitle, code = (line.strip() for line in text_in_box(out, p).split("\n") if line.strip())
    assert title.endswith("…") and long.startswith(title[:-1].rstrip()) and len(title) > 30
    assert subtitle.endswith("…") and set(subtitle[:-1]) == {"x"}
    assert code == "RBCMD-IMAGE-WINDOWS"
    (image,) = rasterise(out, 203)
    assert [t for t, *_ in decode(image)] == ["RBCMD-IMAGE-WINDOWS"]


def test_a_letter_sheet_holds_the_same_grid(tmp_path):
    out = tmp_path / "letter.pdf"
    cards = CARDS[:4]
    assert render_cards(cards, out, page="letter") == {"file": str(out), "pages": 1, "cards": 4}
    (image,) = rasterise(out, 203)
    height, width = image.shape
    assert abs(height - 11 * 203) < 1 and abs(width - 8.5 * 203) < 1
    assert sorted(t for t, *_ in decode(image)) == sorted(code for code, *_ in cards)


def test_a_long_sheet_fills_pages_of_ten(tmp_path):
    badges = [(f"RBOP-{n}", f"Operator {n}", "operator badge") for n in range(1, 24)]
    layout = plan(badges)
    assert layout.pages == 3
    assert [sum(p.page == n for p in layout.placements) for n in (1, 2, 3)] == [10, 10, 3]
    out = tmp_path / "badges.pdf"
    assert render_cards(badges, out)["pages"] == 3
    found = [sorted(t for t, *_ in decode(image)) for image in rasterise(out, 203)]
    assert found == [sorted(p.code for p in layout.placements if p.page == n) for n in (1, 2, 3)]


@pytest.mark.parametrize(
    "cards, page, words",
    [
        ([], "A4", "no cards to print"),
        (None, "A4", "no cards to print"),
        ([("RBCMD-UNDO", "Undo", "x"), ("RBCMD-UNDO", "Undo again", "y")], "A4", "listed twice"),
        ([("RBCMD-ÉCHEC", "Échec", "")], "A4", "printable ASCII only"),
        ([("", "nothing", "")], "A4", "non-empty"),
        ([(" RBCMD-UNDO", "Undo", "")], "A4", "without surrounding spaces"),
        ([("RBCMD-UNDO", "Undo")], "A4", "(code, title, subtitle)"),
        (["RBCMD-UNDO"], "A4", "(code, title, subtitle)"),
        ([("RBCMD-" + "X" * 60, "Too long", "")], "A4", "too long to print"),
        ([("RBCMD-UNDO", "Undo", "")], "A5", "unknown page size"),
    ],
)
def test_impossible_sheets_are_usage_errors(tmp_path, cards, page, words):
    out = tmp_path / "cards.pdf"
    with pytest.raises(UsageProblem) as caught:
        render_cards(cards, out, page=page)
    assert words in caught.value.message
    assert caught.value.exit_code == 2
    assert not out.exists()


def test_an_unwritable_file_is_a_usage_error(tmp_path):
    with pytest.raises(UsageProblem, match="cannot write"):
        render_cards(CARDS[:1], tmp_path / "no-such-folder" / "cards.pdf")


def test_importing_the_module_loads_no_pdf_library():
    code = "import sys, refurb.cards; print(sorted(m for m in ('reportlab', 'numpy') if m in sys.modules))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"
