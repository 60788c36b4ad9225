"""The shared parts of refurb's PDF documents: the embedded font, a document's own language (dates, sizes,
names of kinds and states), paragraph and table factories, page furniture with "page x / y", and an atomic
write (a failure never leaves half a file).  Certificates, loan agreements, stock lists and reports use it.

reportlab is imported inside the functions that need it, so importing this module costs nothing.
"""

import os
import secrets
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import escape

from .errors import UsageProblem
from .i18n import LANGUAGES, N_, _, normalise, translation
from .states import State

UNKNOWN = "—"
FONT, BOLD, MONO = "RefurbSans", "RefurbSans-Bold", "Courier"  # Courier: hashes are hexadecimal
MM = 72 / 25.4
PAGE_WIDTH, PAGE_HEIGHT = 595.27, 841.89  # A4 in points
MARGIN = 18 * MM
WIDTH = PAGE_WIDTH - 2 * MARGIN

# DejaVu Sans covers Latin Extended ("Łukasz Żółć"), Greek and Cyrillic; Debian, Fedora and Arch keep
# it here.  Without it, the Bitstream Vera that reportlab ships (Latin-1 and a little more).
DEJAVU_FOLDERS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu", "/usr/share/fonts/TTF")
STROKED = str.maketrans("ŁłØøĐđĦħŦŧ", "LlOoDdHhTt")  # letters NFKD does not take apart

DATES = {  # (date, date and time); times are printed in UTC, the clock of the event history
    "nl": ("%d/%m/%Y", "%d/%m/%Y %H:%M UTC"),  # SPEC §11: dd/mm/yyyy
    "fr": ("%d/%m/%Y", "%d/%m/%Y %H:%M UTC"),
    "en": ("%Y-%m-%d", "%Y-%m-%d %H:%M UTC"),
}
LEVEL_NAMES = {"clear": N_("Clear"), "purge": N_("Purge"), "destroy": N_("Destroy")}
MEDIA_TYPES = {
    "hdd": N_("magnetic (hard disk)"),
    "sata-ssd": N_("flash memory (SATA SSD)"),
    "nvme": N_("flash memory (NVMe SSD)"),
    "emmc": N_("flash memory (eMMC)"),
    "removable": N_("removable medium"),
    "embedded": N_("embedded flash memory"),
}
KINDS = {"laptop": N_("laptop"), "tablet": N_("tablet"), "phone": N_("phone"), "desktop": N_("desktop"),
         "other": N_("other")}
STATE_NAMES = {
    State.EXPECTED: N_("expected"),
    State.INTAKE: N_("in intake"),
    State.WIPE_PENDING: N_("waiting for a wipe"),
    State.WIPING: N_("being wiped"),
    State.WIPED: N_("wiped"),
    State.IMAGED: N_("reimaged"),
    State.READY: N_("ready for lending"),
    State.ALLOCATED: N_("allocated"),
    State.ON_LOAN: N_("lent out"),
    State.RETURNED: N_("returned by borrower"),
    State.LOCKED: N_("locked"),
    State.WIPE_FAILED: N_("wipe failed"),
    State.REPAIR: N_("in repair"),
    State.PARTS: N_("harvested for parts"),
    State.RECYCLED: N_("recycled"),
    State.RETURNED_TO_DONOR: N_("returned to donor"),
    State.LOST: N_("lost"),
}


class Words:
    """A document's own language: messages, dates, sizes and names of levels, types and states."""

    def __init__(self, lang):
        code = normalise(lang)
        if code is None:
            raise UsageProblem(_("unknown document language: {lang}").format(lang=lang),
                               hint=_("choose one of: {choices}").format(choices=", ".join(LANGUAGES)))
        self.lang = code
        catalogue = translation(code)
        self.gettext, self.ngettext = catalogue.gettext, catalogue.ngettext

    def __call__(self, message):
        return self.gettext(message)

    def when(self, value, with_time=True):
        """An ISO date or moment as this language writes it, in UTC (a moment without a zone is taken to be
        UTC already); unreadable text is shown as given."""
        if value is None or value == "":
            return UNKNOWN
        try:
            moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        except ValueError:
            return str(value)
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC)
        return moment.strftime(DATES[self.lang][1 if with_time else 0])

    def number(self, value, decimals):
        text = f"{value:.{decimals}f}"
        return text if self.lang == "en" else text.replace(".", ",")

    def size(self, size_bytes):
        """Decimal gigabytes, as drives are sold: 256060514304 → '256 GB'."""
        if size_bytes is None:
            return UNKNOWN
        gb = size_bytes / 1e9
        return f"{self.number(gb, 0 if gb >= 100 else 1 if gb >= 10 else 2)} GB"

    def level(self, level):
        return self(LEVEL_NAMES[level]) if level in LEVEL_NAMES else shown(level)

    def media_type(self, kind):
        return self(MEDIA_TYPES[kind]) if kind in MEDIA_TYPES else shown(kind)

    def kind(self, kind):
        return self(KINDS[kind]) if kind in KINDS else shown(kind)

    def state(self, state):
        return self(STATE_NAMES[state]) if state in STATE_NAMES else shown(state)

    def yes_no(self, value):
        return UNKNOWN if value is None else self(N_("yes")) if value else self(N_("no"))


def shown(item):
    """What a document prints for a value: the dash for an unknown one."""
    return UNKNOWN if item is None or item == "" else str(item)


class Pdf:
    """Styles and small flowable factories, in the document's language and font."""

    def __init__(self, words):
        from reportlab.lib import colors
        from reportlab.lib.styles import ParagraphStyle

        self.words = words
        self.glyphs = register_fonts()
        self.colors = colors
        self.red, self.green = colors.Color(0.72, 0.05, 0.05), colors.Color(0.05, 0.45, 0.15)
        self.rule = colors.Color(0.75, 0.75, 0.75)
        self.shade = colors.Color(0.93, 0.93, 0.93)
        body = ParagraphStyle("body", fontName=FONT, fontSize=8.5, leading=11)
        self.style = {
            "title": ParagraphStyle("title", parent=body, fontName=BOLD, fontSize=16, leading=20),
            "subtitle": ParagraphStyle("subtitle", parent=body, fontSize=9, textColor=colors.Color(.3, .3, .3),
                                       spaceAfter=8),
            "h2": ParagraphStyle("h2", parent=body, fontName=BOLD, fontSize=11, leading=14, spaceBefore=10,
                                 spaceAfter=4, keepWithNext=1),
            "body": body,
            "cell": ParagraphStyle("cell", parent=body, fontSize=7.5, leading=9.3),
            "head": ParagraphStyle("head", parent=body, fontName=BOLD, fontSize=7.5, leading=9.3),
            "label": ParagraphStyle("label", parent=body, fontName=BOLD, fontSize=8, leading=10.5),
            "hash": ParagraphStyle("hash", parent=body, fontName=MONO, fontSize=7, leading=8.6),
            "alert": ParagraphStyle("alert", parent=body, fontName=BOLD, textColor=self.red, spaceAfter=3),
            "note": ParagraphStyle("note", parent=body, spaceBefore=10, textColor=colors.Color(.3, .3, .3)),
            "ok": ParagraphStyle("ok", parent=body, fontName=BOLD, textColor=self.green),
            "cell-alert": ParagraphStyle("cell-alert", parent=body, fontName=BOLD, fontSize=7.5, leading=9.3,
                                         textColor=self.red),
        }

    def text(self, value):
        """Plain text made safe for a Paragraph and for the font (see `_printable`)."""
        return escape(printable(shown(value), self.glyphs))

    def p(self, value, style="body"):
        from reportlab.platypus import Paragraph

        return Paragraph(self.text(value), self.style[style])

    def lines(self, parts, style="cell"):
        """Several (text, kind) lines in one cell: kind "alert" is bold red, "mono" is Courier, else plain."""
        from reportlab.platypus import Paragraph

        markup = []
        for text, kind in parts:
            piece = self.text(text)
            if kind == "alert":
                piece = f'<font name="{BOLD}" color="#b80d0d">{piece}</font>'
            elif kind == "mono":
                piece = f'<font name="{MONO}">{piece}</font>'
            markup.append(piece)
        return Paragraph("<br/>".join(markup), self.style[style])

    def heading(self, message, **values):
        return self.p(self.words(message).format(**values), "h2")

    def table(self, rows, widths, header=True, style=(), rules=True):
        """A grid of Paragraph cells; the header row repeats on every page the table spans."""
        from reportlab.platypus import Table, TableStyle

        commands = [
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            *([("LINEBELOW", (0, 0), (-1, -1), 0.4, self.rule)] if rules else []),
            ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3),
            ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ]
        if header:
            commands.append(("BACKGROUND", (0, 0), (-1, 0), self.shade))
        table = Table(rows, colWidths=widths, repeatRows=1 if header else 0, hAlign="LEFT")
        table.setStyle(TableStyle(commands + list(style)))
        return table

    def header_row(self, messages):
        return [self.p(self.words(m), "head") for m in messages]

    def fields(self, rows):
        """Label | value rows: the NIST fields."""
        cells = [[self.p(self.words(label), "label"), self.p(value)] for label, value in rows]
        return self.table(cells, [0.34 * WIDTH, 0.66 * WIDTH], header=False)

    def box(self, flowables, colour):
        """A framed statement (a certificate's conclusion), in green or red."""
        from reportlab.platypus import Table, TableStyle

        table = Table([[flowables]], colWidths=[WIDTH])
        table.setStyle(TableStyle([("BOX", (0, 0), (-1, -1), 1.2, colour),
                                   ("LEFTPADDING", (0, 0), (-1, -1), 6), ("RIGHTPADDING", (0, 0), (-1, -1), 6),
                                   ("TOPPADDING", (0, 0), (-1, -1), 5), ("BOTTOMPADDING", (0, 0), (-1, -1), 6)]))
        return table

    def verdict(self, ok, sentences):
        return self.box([self.p(s, "ok" if ok else "alert") for s in sentences], self.green if ok else self.red)


def register_fonts():
    """Register the embedded TrueType family once; returns the code points its regular face can draw."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if FONT not in pdfmetrics.getRegisteredFontNames():
        regular, bold = font_files()
        pdfmetrics.registerFont(TTFont(FONT, str(regular)))
        pdfmetrics.registerFont(TTFont(BOLD, str(bold)))
        pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=BOLD, italic=FONT, boldItalic=BOLD)
    return pdfmetrics.getFont(FONT).face.charToGlyph


def font_files():
    for folder in DEJAVU_FOLDERS:
        regular, bold = Path(folder, "DejaVuSans.ttf"), Path(folder, "DejaVuSans-Bold.ttf")
        if regular.is_file() and bold.is_file():
            return regular, bold
    import reportlab

    shipped = Path(reportlab.__file__).parent / "fonts"
    return shipped / "Vera.ttf", shipped / "VeraBd.ttf"


def printable(text, glyphs):
    """Each character the font cannot draw becomes its base letter (Ż → Z) or '?': what the PDF's text says
    is then what the page shows, never an empty box with the right letter hidden behind it."""
    if all(ord(ch) in glyphs for ch in text):
        return text
    out = []
    for ch in text:
        if ord(ch) in glyphs or ch in "\n\t":
            out.append(ch)
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", ch.translate(STROKED)) if not unicodedata.combining(c))
        out.append(base if base and all(ord(c) in glyphs for c in base) else "?")
    return "".join(out)


def write(out, build):
    """Call `build(handle)` on a hidden file beside `out`, then rename it to `out`: a failure never leaves half
    a file, and an older file at `out` stays as it was."""
    out = Path(out)
    if not out.parent.is_dir():
        raise UsageProblem(_("cannot write {file}: {error}").format(file=out, error=_("no such folder")),
                           hint=_("create the folder first, or choose another --out"))
    partial = out.with_name(f".{out.name}.{secrets.token_hex(4)}.part")
    try:
        with open(partial, "xb") as handle:
            build(handle)
        os.replace(partial, out)
    except OSError as e:
        partial.unlink(missing_ok=True)
        raise UsageProblem(_("cannot write {file}: {error}").format(file=out, error=e.strerror or e)) from e
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return out


def write_audited(out, data, title, words, story, reference):
    """Lay out `story(data, pdf)` with the audit chain head (data["audit"]) at the foot of every page and
    write it atomically: the documents drawn from the event history (certificates, reports)."""
    audit = data.get("audit") or {}

    def build_it(handle):
        pdf = Pdf(words)
        footer = (words(N_("Audit chain head ({events} events):")).format(events=shown(audit.get("events"))),
                  shown(audit.get("chain_head")))
        build(handle, pdf, story(data, pdf), title, reference, footer,
              author=(data.get("organisation") or {}).get("name"))

    return write(out, build_it)


def build(handle, pdf, flowables, title, reference, footer=("", ""), author=None, pagesize=None):
    """An A4 document (or `pagesize`) with the page furniture of every refurb document: title and
    `reference` · page x / y at the top, the two `footer` texts (left, right in monospace) at the bottom."""
    from reportlab.platypus import SimpleDocTemplate

    width, height = pagesize or (PAGE_WIDTH, PAGE_HEIGHT)
    doc = SimpleDocTemplate(handle, pagesize=(width, height), leftMargin=MARGIN, rightMargin=MARGIN,
                            topMargin=MARGIN + 6 * MM, bottomMargin=MARGIN + 6 * MM, invariant=1,
                            title=printable(f"{title} {reference}", pdf.glyphs),
                            author=printable(shown(author), pdf.glyphs), creator="refurb", lang=pdf.words.lang)
    page = PageFurniture(pdf, title, reference, footer, width, height)
    doc.build(flowables, canvasmaker=page.canvas_class())


class PageFurniture:
    """Header (title, reference, 'page x / y') and footer of every page.

    'y' is known only at the end, so the canvas keeps each page and draws the furniture when it saves."""

    def __init__(self, pdf, title, reference, footer, width=PAGE_WIDTH, height=PAGE_HEIGHT):
        self.pdf, self.title, self.reference, self.footer = pdf, title, reference, footer
        self.width, self.height = width, height

    def draw(self, canvas, page, pages):
        pdf, w = self.pdf, self.pdf.words
        top, bottom, right = self.height - MARGIN, MARGIN, self.width - MARGIN
        canvas.saveState()
        canvas.setStrokeColor(pdf.rule)
        canvas.setFont(BOLD, 8)
        canvas.drawString(MARGIN, top, printable(self.title, pdf.glyphs))
        canvas.setFont(FONT, 8)
        where = w(N_("page {page} / {pages}")).format(page=page, pages=pages)
        canvas.drawRightString(right, top, printable(f"{self.reference}   ·   {where}", pdf.glyphs))
        canvas.line(MARGIN, top - 4, right, top - 4)
        canvas.line(MARGIN, bottom + 10, right, bottom + 10)
        left_text, right_text = self.footer
        canvas.drawString(MARGIN, bottom, printable(left_text, pdf.glyphs))
        canvas.setFont(MONO, 7)
        canvas.drawRightString(right, bottom, printable(right_text, pdf.glyphs))
        canvas.restoreState()

    def canvas_class(self):
        from reportlab.pdfgen.canvas import Canvas

        furniture = self

        class NumberedCanvas(Canvas):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                self._kept = []

            def showPage(self):
                self._kept.append(dict(self.__dict__))
                self._startPage()

            def save(self):
                for number, state in enumerate(self._kept, 1):
                    self.__dict__.update(state)
                    furniture.draw(self, number, len(self._kept))
                    super().showPage()
                super().save()

        return NumberedCanvas
