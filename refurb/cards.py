"""Printable station cards: command codes and operator badges as Code 128 on an A4 or Letter sheet.

A card is `(code, title, subtitle)`: the code is the exact text the scanner must type
("RBCMD-UNDO", "RBOP-7"), the title and subtitle are what the volunteer reads.  `plan()` places the
cards (millimetres, nothing drawn); `render_cards()` draws them as a vector PDF that is
byte-identical for the same input.  The drawing is refurb.labels': a card is a list of label elements
(outline, title, subtitle, bars, the code in plain text) placed on the sheet, like a label on a sheet of labels.

Bars are drawn at a module of 1/50, 1/60 or 1/75 inch (0.51, 0.42 or 0.34 mm: a whole number of
dots on 300 and 600 dpi printers), the largest that keeps the symbol short enough for a handheld
scanner's beam; a code too long for half the sheet gets a card across the full width.  Every symbol
keeps a quiet zone of at least ten modules on both sides inside its card.

Example:
    render_cards([("RBCMD-UNDO", "Undo", "reverse the last scan"),
                  ("RBOP-7", "Sara", "operator badge")], "cards.pdf")
"""

from dataclasses import dataclass

from . import labels
from .errors import UsageProblem
from .i18n import _

MM = labels.MM  # PDF points per millimetre
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
    """Width of the Code 128 symbol for `code` in modules, quiet zones excluded."""
    return sum(labels.code128_widths(code))


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


def _card_elements(p):
    """One card as label elements, in mm from the card's top-left corner: the content block (title, subtitle,
    bars, code) is centred in the card's height."""
    w, h = p.width, p.height
    bottom = (h + CONTENT_HEIGHT) / 2  # the content block's lower edge, from the card's top

    def text(field, baseline, font, size, smallest):
        return labels.Element("text", x=PADDING, y=bottom - baseline - labels.BASELINE * size / MM,
                              width=w - 2 * PADDING, content="{" + field + "}", fields=(field,), font=font,
                              size=size, min_size=smallest, align="center")

    return (
        labels.Element("box", x=0, y=0, width=w, height=h, radius=2, thickness=0.4 / MM, dash=2 / MM, grey=0.6),
        text("title", 36.5, "Helvetica-Bold", 20, 11),
        text("subtitle", 30, "Helvetica", 9.5, 7),
        labels.Element("code128", x=PADDING, y=bottom - BAR_BOTTOM - BAR_HEIGHT, width=w - 2 * PADDING,
                       height=BAR_HEIGHT, content="{code}", fields=("code",), module=p.module,
                       min_module=p.module, quiet=QUIET, align="center"),
        text("code", 3.5, "Courier", 9, 9),
    )


def _sheet_elements(layout, page_no, heading):
    """The heading, how to print, a scale ruler and the page number, in mm from the page's top-left."""
    width, height = layout.page_size
    grey, top, base = 0.35, MARGIN + 4.5, height - MARGIN - 1.5

    def text(x, baseline, content, font, size, room, align="left"):
        return labels.Element("text", x=x, y=baseline - labels.BASELINE * size / MM, width=room, content=content,
                              font=font, size=size, align=align, grey=grey)

    half = (width - 2 * MARGIN) / 2
    out = [
        text(MARGIN, top, heading, "Helvetica-Bold", 11, half),
        text(MARGIN + half, top, _("print at 100 % (not “fit to page”), cut along the dashed lines"), "Helvetica",
             8.5, half, align="right"),
        # A ruler to check the printed scale: bars shrunk by "fit to page" read badly.
        labels.Element("line", x=MARGIN, y=base, x2=MARGIN + RULER, y2=base, thickness=0.5 / MM, grey=grey),
        text(MARGIN + RULER + 2, base, _("this line is {length} mm long when printed at the right size").format(
            length=int(RULER)), "Helvetica", 7.5, half),
        text(MARGIN + half, base, _("page {page} of {pages}").format(page=page_no, pages=layout.pages),
             "Helvetica", 7.5, half, align="right"),
    ]
    for tick in range(0, int(RULER) + 1, 10):
        out.append(labels.Element("line", x=MARGIN + tick, y=base, x2=MARGIN + tick,
                                  y2=base - (2 if tick % 50 == 0 else 1), thickness=0.5 / MM, grey=grey))
    return tuple(out)


def render_cards(cards, out, title=None, page="A4"):
    """Write station cards to the PDF `out`; returns {"file", "pages", "cards"}.

    `cards` is a list of (code, title, subtitle); the same input gives the same bytes.

    Example:
        render_cards([("RBCMD-UNDO", "Undo", "reverse the last scan")], "cards.pdf")
    """
    layout = plan(cards, page)
    heading = title or _("refurb station cards")
    width, height = layout.page_size
    placements = []
    for page_no in range(1, layout.pages + 1):
        placements.append(labels.Placed(page_no, 0.0, 0.0, _sheet_elements(layout, page_no, heading)))
        for p in layout.placements:
            if p.page == page_no:
                record = {"code": p.code, "title": p.title, "subtitle": p.subtitle}
                placements.append(labels.Placed(page_no, p.x, height - p.y - p.height, _card_elements(p), record))
    labels.write_pdf(out, layout.page_size, placements, title=heading)
    return {"file": str(out), "pages": layout.pages, "cards": len(layout.placements)}
