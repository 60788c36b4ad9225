"""Printable station cards: command codes and operator badges as Code 128 on an A4 or Letter sheet.

A card is `(code, title, subtitle)`: the code is the exact text the scanner must type
("RBCMD-UNDO", "RBOP-7"), the title and subtitle are what the volunteer reads.  `plan()` places the
cards (millimetres, nothing drawn); `render_cards()` draws them as a vector PDF that is
byte-identical for the same input (reportlab's invariant mode).

Bars are drawn at a module of 1/50, 1/60 or 1/75 inch (0.51, 0.42 or 0.34 mm: a whole number of
dots on 300 and 600 dpi printers), the largest that keeps the symbol short enough for a handheld
scanner's beam; a code too long for half the sheet gets a card across the full width.  Every symbol
keeps a quiet zone of at least ten modules on both sides inside its card.

Example:
    render_cards([("RBCMD-UNDO", "Undo", "reverse the last scan"),
                  ("RBOP-7", "Sara", "operator badge")], "cards.pdf")
"""

import io
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from .errors import UsageProblem
from .i18n import _

MM = 72 / 25.4  # PDF points per millimetre
INCH = 25.4

PAGES = {"a4": (210.0, 297.0), "letter": (215.9, 279.4)}
MARGIN = 10.0  # left, right, top and bottom: inside what office printers can reach
HEADER = 8.0  # band under the top margin for the sheet title
FOOTER = 6.0  # band above the bottom margin for the scale ruler and page number
COLUMNS = 2
ROWS = 5
CONTENT_HEIGHT = 46.0  # a card is at least this tall; its content is centred in a taller one
GAP_X = 4.0
GAP_Y = 3.0
PADDING = 1.0  # at least this much between a quiet zone and the card's cut line

MODULES = (INCH / 50, INCH / 60, INCH / 75)  # bar module widths tried, largest first
QUIET = 10  # quiet zone on each side, in modules (Code 128 asks for ten)
MAX_SYMBOL = 80.0  # prefer a smaller module over a symbol longer than this (mm, quiet zones included)
BAR_BOTTOM, BAR_HEIGHT = 8.0, 18.0  # within the card, mm
RULER = 50.0  # length of the scale check in the footer, mm


@dataclass(frozen=True)
class Placement:
    """Where one card goes: page (1-based) and its box in mm from the page's lower-left corner."""

    code: str
    title: str
    subtitle: str
    page: int
    x: float
    y: float
    width: float
    height: float
    module: float  # bar module width in mm
    modules: int  # symbol width in modules, without quiet zones


@dataclass(frozen=True)
class Layout:
    page_size: tuple[float, float]
    pages: int
    placements: list[Placement]


def code128_modules(code):
    """Width of the Code 128 symbol for `code` in modules, quiet zones excluded, as reportlab encodes it."""
    from reportlab.graphics.barcode.code128 import Code128

    symbol = Code128(code, barWidth=1, quiet=0, humanReadable=0)
    return round(symbol.width)


def _check_code(code):
    if not isinstance(code, str) or not code or code != code.strip():
        raise UsageProblem(_("a card code must be non-empty text without surrounding spaces: {code!r}").format(code=code))
    if any(not 32 <= ord(ch) <= 126 for ch in code):
        raise UsageProblem(
            _("{code!r} cannot be printed as Code 128 (printable ASCII only)").format(code=code),
            hint=_("command codes and badges use letters, digits and dashes, e.g. RBCMD-UNDO"),
        )


def _page_size(page):
    size = PAGES.get(str(page).strip().lower())
    if size is None:
        raise UsageProblem(
            _("unknown page size {page!r}").format(page=page),
            hint=_("choose one of: {choices}").format(choices=", ".join(sorted(PAGES))),
        )
    return size


def _fit(n, width):
    """The largest module (mm) at which a symbol of `n` modules fits in a card `width` mm wide, or None."""
    fitting = [m for m in MODULES if (n + 2 * QUIET) * m + 2 * PADDING <= width]
    if not fitting:
        return None
    short = [m for m in fitting if (n + 2 * QUIET) * m <= MAX_SYMBOL]
    return short[0] if short else fitting[-1]


def plan(cards, page="A4"):
    """Place the cards in reading order, two per row, five rows on an A4 sheet.

    A card whose code does not fit in half the width takes a whole row (the cell beside an
    earlier card stays empty rather than changing the order).  Raises UsageProblem for an empty
    list, a malformed card, a code printed twice or one too long for the sheet."""
    width, height = _page_size(page)
    cards = list(cards or ())
    if not cards:
        raise UsageProblem(_("no cards to print"), hint=_("give at least one command code or operator badge"))
    inner = width - 2 * MARGIN
    cell = (inner - (COLUMNS - 1) * GAP_X) / COLUMNS
    top = height - MARGIN - HEADER
    card_height = (top - (MARGIN + FOOTER) - (ROWS - 1) * GAP_Y) / ROWS
    assert card_height >= CONTENT_HEIGHT, "the page sizes all hold five rows"

    seen = set()
    placements = []
    page_no, row, col = 1, 0, 0
    for card in cards:
        if isinstance(card, str | bytes) or len(card) != 3:
            raise UsageProblem(_("a card is (code, title, subtitle), not {card!r}").format(card=card))
        code, title, subtitle = card
        _check_code(code)
        if code in seen:
            raise UsageProblem(_("card {code} is listed twice").format(code=code))
        seen.add(code)
        n = code128_modules(code)
        module, span = _fit(n, cell), 1
        if module is None:
            module, span = _fit(n, inner), COLUMNS
        if module is None:
            raise UsageProblem(
                _("{code} is too long to print as a scannable card").format(code=code),
                hint=_("at {module:.2f} mm per bar it needs {need:.0f} mm; the sheet is {have:.0f} mm wide").format(
                    module=MODULES[-1], need=(n + 2 * QUIET) * MODULES[-1] + 2 * PADDING,
                    have=inner),
            )
        if col + span > COLUMNS:
            row, col = row + 1, 0
        if row >= ROWS:
            page_no, row, col = page_no + 1, 0, 0
        placements.append(Placement(
            code=code, title=str(title or ""), subtitle=str(subtitle or ""), page=page_no,
            x=MARGIN + col * (cell + GAP_X), y=top - card_height - row * (card_height + GAP_Y),
            width=cell * span + GAP_X * (span - 1), height=card_height,
            module=module, modules=n,
        ))
        col += span
    return Layout(page_size=(width, height), pages=page_no, placements=placements)


STROKED = str.maketrans("ŁłĐđĦħıŦŧ", "LlDdHhiTt")  # letters that do not decompose into base + accent


def _printable(text):
    """Text the PDF base fonts can show (Windows-1252): accents kept, others reduced or '?'."""
    out = []
    for ch in text:
        try:
            ch.encode("cp1252")
            out.append(ch)
        except UnicodeEncodeError:
            base = "".join(c for c in unicodedata.normalize("NFKD", ch.translate(STROKED))
                           if not unicodedata.combining(c))
            try:
                base.encode("cp1252")
                out.append(base or "?")
            except UnicodeEncodeError:
                out.append("?")
    return "".join(out)


def _fitted(text, font, size, smallest, width):
    """(text, size) that fits `width` points: shrink to `smallest`, then cut with an ellipsis."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    while size > smallest and stringWidth(text, font, size) > width:
        size -= 0.5
    if stringWidth(text, font, size) > width:
        while text and stringWidth(text + "…", font, size) > width:
            text = text[:-1]
        text = text.rstrip() + "…"
    return text, size


def _bars(canvas, code, x, y, module, height):
    """Draw the symbol's bars as one filled vector path; x, y, sizes in points."""
    from string import ascii_lowercase, ascii_uppercase

    from reportlab.graphics.barcode.code128 import Code128

    symbol = Code128(code, barWidth=module, barHeight=height, quiet=0, humanReadable=0)
    symbol.width  # noqa: B018 -- computing the width encodes the value and fills `decomposed`
    path = canvas.beginPath()
    left = x
    for c in symbol.decomposed:
        if c in ascii_uppercase:
            w = (ord(c) - ord("A") + 1) * module
            path.rect(left, y, w, height)
            left += w
        elif c in ascii_lowercase:
            left += (ord(c) - ord("a") + 1) * module
    canvas.drawPath(path, stroke=0, fill=1)


def _draw_card(canvas, p):
    from reportlab.lib.colors import Color, black

    x, y, w, h = p.x * MM, p.y * MM, p.width * MM, p.height * MM
    canvas.saveState()
    canvas.setStrokeColor(Color(0.6, 0.6, 0.6))
    canvas.setLineWidth(0.4)
    canvas.setDash(2, 2)
    canvas.roundRect(x, y, w, h, 2 * MM, stroke=1, fill=0)
    canvas.restoreState()

    y += (h - CONTENT_HEIGHT * MM) / 2
    canvas.setFillColor(black)
    room = w - 2 * PADDING * MM
    title, size = _fitted(_printable(p.title), "Helvetica-Bold", 20, 11, room)
    canvas.setFont("Helvetica-Bold", size)
    canvas.drawCentredString(x + w / 2, y + 36.5 * MM, title)
    subtitle, size = _fitted(_printable(p.subtitle), "Helvetica", 9.5, 7, room)
    canvas.setFont("Helvetica", size)
    canvas.drawCentredString(x + w / 2, y + 30 * MM, subtitle)

    symbol = p.modules * p.module * MM
    _bars(canvas, p.code, x + (w - symbol) / 2, y + BAR_BOTTOM * MM, p.module * MM, BAR_HEIGHT * MM)
    canvas.setFont("Courier", 9)
    canvas.drawCentredString(x + w / 2, y + 3.5 * MM, p.code)


def _draw_sheet(canvas, layout, page_no, heading):
    from reportlab.lib.colors import Color

    width, height = layout.page_size
    grey = Color(0.35, 0.35, 0.35)
    canvas.setFillColor(grey)
    canvas.setFont("Helvetica-Bold", 11)
    canvas.drawString(MARGIN * MM, (height - MARGIN - 4.5) * MM, _printable(heading))
    canvas.setFont("Helvetica", 8.5)
    canvas.drawRightString((width - MARGIN) * MM, (height - MARGIN - 4.5) * MM,
                           _printable(_("print at 100 % (not “fit to page”), cut along the dashed lines")))
    # A ruler to check the printed scale: bars shrunk by "fit to page" read badly.
    base = (MARGIN + 1.5) * MM
    canvas.setStrokeColor(grey)
    canvas.setLineWidth(0.5)
    canvas.line(MARGIN * MM, base, (MARGIN + RULER) * MM, base)
    for tick in range(0, int(RULER) + 1, 10):
        canvas.line((MARGIN + tick) * MM, base, (MARGIN + tick) * MM, base + (2 if tick % 50 == 0 else 1) * MM)
    canvas.setFont("Helvetica", 7.5)
    canvas.drawString((MARGIN + RULER + 2) * MM, base,
                      _printable(_("this line is {length} mm long when printed at the right size").format(length=int(RULER))))
    canvas.drawRightString((width - MARGIN) * MM, base,
                           _printable(_("page {page} of {pages}").format(page=page_no, pages=layout.pages)))


def render_cards(cards, out, title=None, page="A4"):
    """Write station cards to the PDF `out`; returns {"file", "pages", "cards"}.

    `cards` is a list of (code, title, subtitle); the same input gives the same bytes.

    Example:
        render_cards([("RBCMD-UNDO", "Undo", "reverse the last scan")], "cards.pdf")
    """
    layout = plan(cards, page)
    from reportlab.pdfgen.canvas import Canvas

    heading = title or _("refurb station cards")
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=(layout.page_size[0] * MM, layout.page_size[1] * MM), invariant=1,
                    pageCompression=1)
    canvas.setTitle(_printable(heading))
    canvas.setCreator("refurb")
    for page_no in range(1, layout.pages + 1):
        _draw_sheet(canvas, layout, page_no, heading)
        for p in layout.placements:
            if p.page == page_no:
                _draw_card(canvas, p)
        canvas.showPage()
    canvas.save()
    path = Path(out)
    try:
        path.write_bytes(buffer.getvalue())
    except OSError as e:
        raise UsageProblem(_("cannot write {file}: {error}").format(file=path, error=e.strerror or e)) from e
    return {"file": str(path), "pages": layout.pages, "cards": len(layout.placements)}
