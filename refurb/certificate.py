"""Certificates of data sanitization as PDF, per device and per donor batch (SPEC §5).

The fields are those NIST SP 800-88 Rev. 1 asks a certificate to carry (§4.8 and the sample in
Appendix G): make, model, serial, type and source of each medium; the sanitization description
(Clear, Purge, Destroy), the method, the tool and its version, the verification; the person who
sanitized and the person who validated, with dates; the location; the destination afterwards.

A pure renderer: services assemble plain dicts (shapes in `render_device` and `render_batch`) and this
module only lays them out, so a certificate renders without a database or a terminal.  It is printed
in a language of its own (Dutch by default, whatever the operator's --lang), through
`refurb.i18n.translation`.  Honesty before looks: each medium shows the level it reached beside the
policy's minimum, and anything short of a passing, verified wipe at that level (no wipe, a failure, no
verification, a lead's waiver, a drive serial not checked) is said in words that cannot be missed.

Example:
    render_device(data, Path("RB-000123-7.pdf"), lang="en")
"""

import os
import secrets
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import escape

from .errors import UsageProblem
from .i18n import LANGUAGES, N_, _, normalise, translation
from .states import LEVELS, State

UNKNOWN = "—"
STANDARD = "NIST SP 800-88 Rev. 1"
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
    "nl": ("%d-%m-%Y", "%d-%m-%Y %H:%M UTC"),
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


# ---------------------------------------------------------------------------- public


def render_device(data, out, lang="nl"):
    """Write the certificate of one device to the PDF `out` (atomically); returns `out` as a Path.

    `data`: {"certificate_id", "issued_at" (ISO, UTC), "organisation": {"name", "address"},
    "device": {"tag", "kind", "make", "model", "serial", "donor_tag", "batch", "donor", "state"},
    "no_storage": bool, "media": [{"serial", "model", "type", "size_bytes", "sanitization": None or
    {"profile_id", "profile_version", "profile_name", "standard", "method", "level", "policy_level", "tool",
    "tool_version", "verification", "verified", "result", "started", "ended", "operator", "verifier",
    "serial_checked", "waiver": None or {"by", "reason", "at"}, "evidence": [{"filename", "sha256"}],
    "event_id"}}], "audit": {"events", "chain_head"}}.  None anywhere means unknown and prints "—".

    Example:
        render_device(data, Path("RB-000123-7.pdf"), lang="en")
    """
    words = _Words(lang)
    title = words(N_("Certificate of data sanitization"))
    return _write(Path(out), data, title, words, _device_story)


def render_batch(data, out, lang="nl"):
    """Write the certificate of a donor batch to the PDF `out` (atomically); returns `out` as a Path.

    `data`: {"certificate_id", "issued_at", "organisation", "batch": {"ref", "donor", "donor_ref",
    "received_on", "closed"}, "reconciliation": {"expected", "received", "missing": [{"serial",
    "donor_tag", "model"}], "extra": [{"tag", "serial", "model"}]}, "outcomes": {state: count},
    "devices": [{"tag", "donor_tag", "serial", "make", "model", "outcome", "media": [{"serial", "type",
    "level", "method", "verified", "result", "waiver" (bool), "serial_checked", "evidence_sha256": [str]}]}],
    "audit": {"events", "chain_head"}}.

    Example:
        render_batch(data, Path("B-2026-0007.pdf"))
    """
    words = _Words(lang)
    title = words(N_("Certificate of data sanitization: donor batch"))
    return _write(Path(out), data, title, words, _batch_story)


# ---------------------------------------------------------------------------- language and values


class _Words:
    """The certificate's own language: messages, dates, sizes and names of levels, types and states."""

    def __init__(self, lang):
        code = normalise(lang)
        if code is None:
            raise UsageProblem(_("unknown certificate language: {lang}").format(lang=lang),
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
        return self(LEVEL_NAMES[level]) if level in LEVEL_NAMES else _value(level)

    def media_type(self, kind):
        return self(MEDIA_TYPES[kind]) if kind in MEDIA_TYPES else _value(kind)

    def kind(self, kind):
        return self(KINDS[kind]) if kind in KINDS else _value(kind)

    def state(self, state):
        return self(STATE_NAMES[state]) if state in STATE_NAMES else _value(state)

    def yes_no(self, value):
        return UNKNOWN if value is None else self(N_("yes")) if value else self(N_("no"))


def _value(value):
    return UNKNOWN if value is None or value == "" else str(value)


def _rank(level):
    """Order of a level, unknown ones lowest: a level we cannot read never counts as enough."""
    return LEVELS.index(level) if level in LEVELS else -1


def _below_policy(level, policy_level):
    return policy_level in LEVELS and _rank(level) < _rank(policy_level)


def _passed(medium):
    """The one rule of a sanitized medium: a passing, verified wipe to a known level that reaches the policy's
    minimum, or falls short of it under a lead's waiver.  `medium` is a device sanitization or a batch medium."""
    level = medium.get("level")
    return (medium.get("result") == "pass" and medium.get("verified") is True and level in LEVELS
            and (not _below_policy(level, medium.get("policy_level")) or bool(medium.get("waiver"))))


def _medium_passed(sanitization):
    return sanitization is not None and _passed(sanitization)


def _status(words, sanitized, result, verified):
    """One short verdict for a table cell."""
    if not sanitized:
        return words(N_("NOT SANITIZED"))
    if result != "pass":
        return words(N_("FAILED")) if result == "fail" else words(N_("result unknown"))
    return words(N_("passed, verified")) if verified is True else words(N_("passed, not verified"))


# ---------------------------------------------------------------------------- PDF building blocks


class _Pdf:
    """Styles and small flowable factories, in the certificate's language and font."""

    def __init__(self, words):
        from reportlab.lib import colors
        from reportlab.lib.styles import ParagraphStyle

        self.words = words
        self.glyphs = _register_fonts()
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
        return escape(_printable(_value(value), self.glyphs))

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
        """A framed statement: the conclusion of the certificate, in green or red."""
        from reportlab.platypus import Table, TableStyle

        table = Table([[flowables]], colWidths=[WIDTH])
        table.setStyle(TableStyle([("BOX", (0, 0), (-1, -1), 1.2, colour),
                                   ("LEFTPADDING", (0, 0), (-1, -1), 6), ("RIGHTPADDING", (0, 0), (-1, -1), 6),
                                   ("TOPPADDING", (0, 0), (-1, -1), 5), ("BOTTOMPADDING", (0, 0), (-1, -1), 6)]))
        return table

    def verdict(self, ok, sentences):
        return self.box([self.p(s, "ok" if ok else "alert") for s in sentences], self.green if ok else self.red)

    def closing(self, people, audit):
        """The last block, kept on one page: for each of two (label, printed names, or None for a line to
        write the name on) a signature and a date line; then where the certificate's facts come from."""
        from reportlab.platypus import KeepTogether, Spacer

        w = self.words
        blank = "_" * 34
        name_line, signature, date = (f"{w(label)}: {blank}" for label in (N_("Name"), N_("Signature"), N_("Date")))

        def block(label, names):
            return [self.p(w(label), "label"), self.p(name_line if names is None else names), Spacer(1, 14),
                    self.p(signature), Spacer(1, 8), self.p(date)]

        table = self.table([[block(label, names) for label, names in people]], [WIDTH / 2, WIDTH / 2],
                           header=False, rules=False)
        note = self.p(w(N_(
            "Drawn from refurb's tamper-evident event history ({events} events, chain head at the foot of every "
            "page); `refurb audit verify` shows that no event was changed, removed or reordered."
        )).format(events=_value(audit.get("events"))), "note")
        return KeepTogether([self.heading(N_("Signatures")), table, note])

    def organisation_fields(self, data):
        organisation = data.get("organisation") or {}
        return [
            (N_("Certificate number"), data["certificate_id"]),
            (N_("Issued on"), self.words.when(data.get("issued_at"))),
            (N_("Sanitization performed by"), organisation.get("name")),
            (N_("Location"), organisation.get("address")),
            (N_("Standard"), f"{STANDARD}, §4.8"),
        ]


def _register_fonts():
    """Register the embedded TrueType family once; returns the code points its regular face can draw."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if FONT not in pdfmetrics.getRegisteredFontNames():
        regular, bold = _font_files()
        pdfmetrics.registerFont(TTFont(FONT, str(regular)))
        pdfmetrics.registerFont(TTFont(BOLD, str(bold)))
        pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=BOLD, italic=FONT, boldItalic=BOLD)
    return pdfmetrics.getFont(FONT).face.charToGlyph


def _font_files():
    for folder in DEJAVU_FOLDERS:
        regular, bold = Path(folder, "DejaVuSans.ttf"), Path(folder, "DejaVuSans-Bold.ttf")
        if regular.is_file() and bold.is_file():
            return regular, bold
    import reportlab

    shipped = Path(reportlab.__file__).parent / "fonts"
    return shipped / "Vera.ttf", shipped / "VeraBd.ttf"


def _printable(text, glyphs):
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


# ---------------------------------------------------------------------------- device certificate


def _device_story(data, pdf):
    w = pdf.words
    device, media = data["device"], data["media"]
    story = [pdf.p(w(N_("Certificate of data sanitization")), "title"),
             pdf.p(w(N_("Per device, with the fields of {standard} §4.8")).format(standard=STANDARD), "subtitle"),
             pdf.fields(pdf.organisation_fields(data)),
             _device_verdict(data, pdf),
             pdf.heading(N_("Device")),
             pdf.fields([
                 (N_("Asset tag"), device.get("tag")),
                 (N_("Kind"), w.kind(device.get("kind"))),
                 (N_("Make"), device.get("make")),
                 (N_("Model"), device.get("model")),
                 (N_("Serial number"), device.get("serial")),
                 (N_("Donor's asset tag"), device.get("donor_tag")),
                 (N_("Source (donor and batch)"), f"{_value(device.get('donor'))} · {_value(device.get('batch'))}"),
                 (N_("Destination after sanitization (current state)"), w.state(device.get("state"))),
             ]),
             pdf.heading(N_("Storage media"))]
    if media:
        story.append(_media_table(media, pdf))
    else:
        story.append(pdf.p(w(N_("This device has no data-bearing storage, as recorded at intake."))
                           if data.get("no_storage") else w(N_("No storage media are recorded for this device.")),
                           "body" if data.get("no_storage") else "alert"))
    for number, medium in enumerate(media, 1):
        story += _medium_section(number, len(media), medium, device, pdf)
    operators = _names(m["sanitization"] and m["sanitization"].get("operator") for m in media)
    verifiers = _names(m["sanitization"] and m["sanitization"].get("verifier") for m in media)
    story.append(pdf.closing([(N_("Person who performed the sanitization"), operators),
                              (N_("Person who validated the sanitization"), verifiers)], data.get("audit") or {}))
    return story


def _names(values):
    names = list(dict.fromkeys(v for v in values if v))
    return ", ".join(names) if names else UNKNOWN


def _device_verdict(data, pdf):
    """The conclusion: a clear statement only when every medium passed; otherwise say what is not done."""
    w, media = pdf.words, data["media"]
    if not media:
        if data.get("no_storage"):
            return pdf.verdict(True, [w(N_("This device has no data-bearing storage, as recorded at intake: "
                                            "there was nothing to sanitize."))])
        return pdf.verdict(False, [w(N_("No storage media are recorded for this device: nothing on this "
                                        "certificate shows that it holds no data."))])
    failing = [m for m in media if not _medium_passed(m["sanitization"])]
    if failing:
        return pdf.verdict(False, [w.ngettext(
            "This device is NOT completely sanitized: {n} of its {total} storage media lacks a passing, "
            "verified sanitization at the policy's level (marked below).",
            "This device is NOT completely sanitized: {n} of its {total} storage media lack a passing, "
            "verified sanitization at the policy's level (marked below).", len(failing),
        ).format(n=len(failing), total=len(media))])
    sentences = [w(N_("Every storage medium of this device ({n} in all) was sanitized to the level shown, "
                      "with a passing result that was verified.")).format(n=len(media))]
    sanitized = [m["sanitization"] for m in media]
    waived = sum(1 for s in sanitized if _below_policy(s.get("level"), s.get("policy_level")))
    if waived:
        sentences.append(w.ngettext(
            "{n} medium is below the policy's minimum level, accepted by a lead's recorded waiver (see below).",
            "{n} media are below the policy's minimum level, accepted by a lead's recorded waiver (see below).",
            waived).format(n=waived))
    unchecked = sum(1 for s in sanitized if s.get("serial_checked") is not True)
    if unchecked:
        sentences.append(w.ngettext(
            "For {n} medium the drive's serial was not checked against the disk.",
            "For {n} media the drive's serial was not checked against the disk.", unchecked).format(n=unchecked))
    return pdf.verdict(True, sentences)


def _media_table(media, pdf):
    w = pdf.words
    rows = [pdf.header_row([N_("No."), N_("Serial number"), N_("Make and model"), N_("Type"), N_("Capacity"),
                            N_("Level reached"), N_("Policy minimum"), N_("Result")])]
    for number, m in enumerate(media, 1):
        s = m["sanitization"] or {}
        level = w.level(s.get("level")) if s else UNKNOWN
        if s and _below_policy(s.get("level"), s.get("policy_level")):
            level = [(level, "cell"),
                     (w(N_("below policy, waived")) if s.get("waiver") else w(N_("below policy")), "alert")]
        status = _status(w, bool(s), s.get("result"), s.get("verified"))
        rows.append([pdf.p(str(number), "cell"), pdf.p(m.get("serial"), "cell"), pdf.p(m.get("model"), "cell"),
                     pdf.p(w.media_type(m.get("type")), "cell"), pdf.p(w.size(m.get("size_bytes")), "cell"),
                     pdf.lines(level) if isinstance(level, list) else pdf.p(level, "cell"),
                     pdf.p(w.level(s.get("policy_level")) if s else UNKNOWN, "cell"),
                     pdf.p(status, "cell" if _medium_passed(m["sanitization"]) else "cell-alert")])
    return pdf.table(rows, [x * WIDTH for x in (0.04, 0.17, 0.2, 0.14, 0.1, 0.12, 0.11, 0.12)])


def _medium_findings(s, w):
    """Everything about one medium's sanitization that a reader must not miss, as (text, style)."""
    if s is None:
        return [(w(N_("NOT SANITIZED: no sanitization is recorded for this medium.")), "alert")]
    found = []
    if s.get("result") != "pass":
        found.append((w(N_("FAILED: the sanitization did not complete successfully."))
                      if s.get("result") == "fail" else w(N_("The result of the sanitization is unknown.")), "alert"))
    if s.get("verified") is not True:
        found.append((w(N_("The result was not verified.")), "alert"))
    level, policy = s.get("level"), s.get("policy_level")
    if level not in LEVELS:
        found.append((w(N_("The level reached is unknown.")), "alert"))
    elif _below_policy(level, policy):
        waiver = s.get("waiver")
        if waiver:
            found.append((w(N_("Below the policy's minimum level ({policy}): accepted by a waiver of {by} on {at}. "
                               "Reason: {reason}")).format(policy=w.level(policy), by=_value(waiver.get("by")),
                                                           at=w.when(waiver.get("at")),
                                                           reason=_value(waiver.get("reason"))), "alert"))
        else:
            found.append((w(N_("Below the policy's minimum level ({policy}), and no waiver is recorded."))
                          .format(policy=w.level(policy)), "alert"))
    if level == "destroy":
        found.append((w(N_("The medium was physically destroyed.")), "body"))
    if s.get("serial_checked") is not True:
        found.append((w(N_("The drive's serial was not checked against the disk (wipe run with "
                           "--no-serial-check).")), "alert"))
    return found


def _medium_section(number, total, m, device, pdf):
    from reportlab.platypus import KeepTogether

    w, s = pdf.words, m["sanitization"]
    heading = pdf.heading(N_("Storage medium {number} of {total}: {serial}"), number=number, total=total,
                          serial=_value(m.get("serial")))
    described = [
        (N_("Make and model"), m.get("model")),
        (N_("Serial number"), m.get("serial")),
        (N_("Media type"), w.media_type(m.get("type"))),
        (N_("Capacity"), w.size(m.get("size_bytes"))),
        (N_("Media source"), w(N_("device {tag}, donated by {donor}")).format(
            tag=_value(device.get("tag")), donor=_value(device.get("donor")))),
    ]
    findings = [pdf.p(text, style) for text, style in _medium_findings(s, w)]
    if s is None:
        return [KeepTogether([heading, *findings, pdf.fields(described)])]
    waiver = s.get("waiver")
    sanitized = [
        (N_("Sanitization level reached"), w.level(s.get("level"))),
        (N_("Policy minimum for this type"), w.level(s.get("policy_level"))),
        (N_("Method"), s.get("method")),
        (N_("Profile"), w(N_("{name} ({id}, version {version})")).format(
            name=_value(s.get("profile_name")), id=_value(s.get("profile_id")),
            version=_value(s.get("profile_version")))),
        (N_("Standard followed"), s.get("standard")),
        (N_("Tool used (with version)"), f"{_value(s.get('tool'))} {_value(s.get('tool_version'))}"),
        (N_("Verification method"), s.get("verification")),
        (N_("Verified"), w.yes_no(s.get("verified"))),
        (N_("Result"), _status(w, True, s.get("result"), s.get("verified"))),
        (N_("Started"), w.when(s.get("started"))),
        (N_("Ended"), w.when(s.get("ended"))),
        (N_("Person who performed the sanitization"), _value(s.get("operator"))),
        (N_("Person who validated the sanitization"), _value(s.get("verifier"))),
        (N_("Drive serial checked against the disk"), w.yes_no(s.get("serial_checked"))),
        (N_("Waiver"), w(N_("{by} on {at}: {reason}")).format(
            by=_value(waiver.get("by")), at=w.when(waiver.get("at")), reason=_value(waiver.get("reason")))
         if waiver else UNKNOWN),
        (N_("Record in the event history"), f"#{_value(s.get('event_id'))}"),
    ]
    evidence = s.get("evidence") or []
    if evidence:
        rows = [pdf.header_row([N_("Evidence file"), N_("SHA-256")])]
        rows += [[pdf.p(e.get("filename"), "cell"), pdf.p(e.get("sha256"), "hash")] for e in evidence]
        proof = pdf.table(rows, [0.38 * WIDTH, 0.62 * WIDTH])
    else:
        proof = pdf.p(w(N_("No evidence files are recorded for this sanitization.")), "alert")
    return [KeepTogether([heading, *findings, pdf.fields(described)]), pdf.fields(sanitized), proof]


# ---------------------------------------------------------------------------- batch certificate


def _batch_story(data, pdf):
    w = pdf.words
    batch, rec = data["batch"], data["reconciliation"]
    closed = batch.get("closed")
    story = [pdf.p(w(N_("Certificate of data sanitization: donor batch")), "title"),
             pdf.p(w(N_("Per donor batch, with the fields of {standard} §4.8 for each storage medium"))
                   .format(standard=STANDARD), "subtitle"),
             pdf.fields(pdf.organisation_fields(data) + [
                 (N_("Batch"), batch.get("ref")),
                 (N_("Donor"), batch.get("donor")),
                 (N_("Donor's reference"), batch.get("donor_ref")),
                 (N_("Received on"), w.when(batch.get("received_on"), with_time=False)),
                 (N_("Batch status"), w(N_("closed")) if closed else w(N_(
                     "open: devices still expected are not yet reported missing"))),
             ]),
             _batch_verdict(data["devices"], pdf),
             pdf.heading(N_("Reconciliation with the donor's manifest")),
             pdf.fields([
                 (N_("Listed in the manifest"), str(_value(rec.get("expected")))),
                 (N_("Received"), str(_value(rec.get("received")))),
                 (N_("Missing (listed, not received)"), str(len(rec.get("missing") or []))),
                 (N_("Extra (received, not listed)"), str(len(rec.get("extra") or []))),
             ])]
    story += _listing(N_("Missing devices"), [N_("Donor's asset tag"), N_("Serial number"), N_("Model")],
                      [(d.get("donor_tag"), d.get("serial"), d.get("model")) for d in rec.get("missing") or []], pdf)
    story += _listing(N_("Extra devices"), [N_("Asset tag"), N_("Serial number"), N_("Model")],
                      [(d.get("tag"), d.get("serial"), d.get("model")) for d in rec.get("extra") or []], pdf)
    story += [pdf.heading(N_("Outcomes")), _outcome_table(data.get("outcomes") or {}, pdf),
              _media_counts(data["devices"], pdf),
              pdf.heading(N_("Devices and their storage media")), _devices_table(data["devices"], pdf),
              pdf.closing([(N_("Issued by"), None), (N_("Checked by"), None)], data.get("audit") or {})]
    return story


def _device_passed(device):
    return bool(device.get("media")) and all(_passed(m) for m in device["media"])


def _batch_verdict(devices, pdf):
    w = pdf.words
    short = sum(1 for d in devices if not _device_passed(d))
    if devices and not short:
        return pdf.verdict(True, [w(N_("Every device of this batch ({n} in all) was sanitized: each of its "
                                       "storage media has a passing, verified sanitization.")).format(n=len(devices))])
    if not devices:
        return pdf.verdict(False, [w(N_("No device of this batch has been received."))])
    return pdf.verdict(False, [w.ngettext(
        "{n} of the {total} devices of this batch is NOT completely sanitized (marked in the table below).",
        "{n} of the {total} devices of this batch are NOT completely sanitized (marked in the table below).",
        short).format(n=short, total=len(devices))])


def _listing(title, columns, rows, pdf):
    if not rows:
        return [pdf.heading(title), pdf.p(pdf.words(N_("None.")))]
    cells = [pdf.header_row(columns)] + [[pdf.p(v, "cell") for v in row] for row in rows]
    return [pdf.heading(title), pdf.table(cells, [WIDTH / 3] * 3)]


def _outcome_table(outcomes, pdf):
    order = {state: i for i, state in enumerate(State)}
    states = sorted(outcomes, key=lambda s: (order.get(s, len(order)), str(s)))
    rows = [pdf.header_row([N_("Outcome"), N_("Devices")])]
    rows += [[pdf.p(pdf.words.state(s), "cell"), pdf.p(str(outcomes[s]), "cell")] for s in states]
    rows.append([pdf.p(pdf.words(N_("Total")), "head"), pdf.p(str(sum(outcomes.values())), "head")])
    return pdf.table(rows, [0.5 * WIDTH, 0.2 * WIDTH])


def _media_counts(devices, pdf):
    """How the batch's storage media ended, counted by the same rules as the table below."""
    w = pdf.words
    media = [m for d in devices for m in d.get("media") or []]
    counts = [
        (N_("Storage media"), len(media)),
        (N_("passed and verified"), sum(1 for m in media if _passed(m))),
        (N_("of which below the policy under a waiver"), sum(1 for m in media if m.get("waiver"))),
        (N_("failed"), sum(1 for m in media if m.get("result") == "fail")),
        (N_("not verified"), sum(1 for m in media if m.get("result") == "pass" and m.get("verified") is not True)),
        (N_("not sanitized"), sum(1 for m in media if m.get("result") is None)),
        (N_("drive serial not checked against the disk"), sum(1 for m in media if m.get("serial_checked") is False)),
    ]
    rows = [[pdf.p(w(label), "cell"), pdf.p(str(n), "cell")] for label, n in counts]
    return pdf.table(rows, [0.5 * WIDTH, 0.2 * WIDTH], header=False, style=[("TOPPADDING", (0, 0), (-1, 0), 8)])


def _batch_medium_cells(m, pdf):
    """Level and result cells of one medium in the batch table, with every caveat spelt out."""
    w = pdf.words
    sanitized = m.get("result") is not None
    status = _status(w, sanitized, m.get("result"), m.get("verified"))
    result = [(status, "cell" if _passed(m) else "alert")]
    if m.get("waiver"):
        result.append((w(N_("below policy, waived")), "alert"))
    elif _below_policy(m.get("level"), m.get("policy_level")):
        result.append((w(N_("below policy")), "alert"))
    if m.get("serial_checked") is False:
        result.append((w(N_("drive serial not checked against the disk")), "alert"))
    level = [(w.level(m.get("level")) if sanitized else UNKNOWN, "cell"), (_value(m.get("method")), "cell")]
    return pdf.lines(level), pdf.lines(result)


DEVICE_COLUMNS = (0.175, 0.19, 0.12, 0.17, 0.17, 0.175)  # fractions of the text width


def _devices_table(devices, pdf):
    """One outer row per device, holding the device's own small table: the outer table splits only between
    devices and repeats its header on every page, and splitting it stays linear in the number of devices
    (a flat table with a no-split range per device took 14 s for 1 000 devices, growing quadratically)."""
    from reportlab.platypus import Table, TableStyle

    w = pdf.words
    widths = [x * WIDTH for x in DEVICE_COLUMNS]
    header = pdf.table([[pdf.lines([(w(N_("Asset tag")), "cell"), (w(N_("Donor's asset tag")), "cell")], "head"),
                         pdf.lines([(w(N_("Serial number")), "cell"), (w(N_("Make and model")), "cell")], "head"),
                         *pdf.header_row([N_("Outcome"), N_("Storage medium"), N_("Level, method"), N_("Result")])]],
                       widths)
    rows = [[header]] + [[_device_block(device, widths, pdf)] for device in devices]
    table = Table(rows, colWidths=[WIDTH], repeatRows=1, hAlign="LEFT")
    table.setStyle(TableStyle([("LEFTPADDING", (0, 0), (-1, -1), 0), ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                               ("TOPPADDING", (0, 0), (-1, -1), 0), ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
                               ("LINEABOVE", (0, 1), (-1, -1), 0.9, pdf.colors.black)]))
    return table


def _device_block(device, widths, pdf):
    """A device's rows: one per medium (the device's cells on the first), each followed by a full-width row
    of its evidence hashes."""
    w = pdf.words
    who = [pdf.lines([(device.get("tag"), "cell"), (device.get("donor_tag"), "cell")]),
           pdf.lines([(device.get("serial"), "cell"),
                      (f"{_value(device.get('make'))} {_value(device.get('model'))}", "cell")]),
           pdf.p(w.state(device.get("outcome")), "cell")]
    media = device.get("media") or []
    if not media:
        return pdf.table([who + ["", "", pdf.p(w(N_("No storage media are recorded.")), "cell-alert")]], widths,
                         header=False)
    rows, spans = [], []
    for i, m in enumerate(media):
        level, result = _batch_medium_cells(m, pdf)
        medium = pdf.lines([(m.get("serial"), "cell"), (w.media_type(m.get("type")), "cell")])
        rows.append((who if i == 0 else [""] * 3) + [medium, level, result])
        hashes = m.get("evidence_sha256") or []
        proof = [(f"SHA-256: {h}", "mono") for h in hashes] or [(w(N_("no evidence files")), "alert")]
        rows.append([pdf.lines(proof)] + [""] * 5)
        spans.append(("SPAN", (0, len(rows) - 1), (-1, len(rows) - 1)))
    return pdf.table(rows, widths, header=False, style=spans)


# ---------------------------------------------------------------------------- writing


def _write(out, data, title, words, story):
    """Build the PDF into a hidden file beside `out`, then rename it: a failure never leaves half a file."""
    if not out.parent.is_dir():
        raise UsageProblem(_("cannot write {file}: {error}").format(file=out, error=_("no such folder")),
                           hint=_("create the folder first, or choose another --out"))
    partial = out.with_name(f".{out.name}.{secrets.token_hex(4)}.part")
    try:
        with open(partial, "xb") as handle:
            _build(handle, data, title, words, story)
        os.replace(partial, out)
    except OSError as e:
        partial.unlink(missing_ok=True)
        raise UsageProblem(_("cannot write {file}: {error}").format(file=out, error=e.strerror or e)) from e
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return out


def _build(handle, data, title, words, story):
    from reportlab.platypus import SimpleDocTemplate

    pdf = _Pdf(words)
    flowables = story(data, pdf)
    audit = data.get("audit") or {}
    doc = SimpleDocTemplate(handle, pagesize=(PAGE_WIDTH, PAGE_HEIGHT), leftMargin=MARGIN, rightMargin=MARGIN,
                            topMargin=MARGIN + 6 * MM, bottomMargin=MARGIN + 6 * MM, invariant=1,
                            title=_printable(f"{title} {data['certificate_id']}", pdf.glyphs),
                            author=_printable(_value((data.get("organisation") or {}).get("name")), pdf.glyphs),
                            creator="refurb", lang=words.lang)
    page = _PageFurniture(pdf, title, data["certificate_id"], audit)
    doc.build(flowables, canvasmaker=page.canvas_class())


class _PageFurniture:
    """Header (title, certificate number, 'page x / y') and footer (audit chain head) of every page.

    'y' is known only at the end, so the canvas keeps each page and draws the furniture when it saves."""

    def __init__(self, pdf, title, certificate_id, audit):
        self.pdf, self.title, self.certificate_id, self.audit = pdf, title, certificate_id, audit

    def draw(self, canvas, page, pages):
        pdf, w = self.pdf, self.pdf.words
        top, bottom = PAGE_HEIGHT - MARGIN, MARGIN
        canvas.saveState()
        canvas.setStrokeColor(pdf.rule)
        canvas.setFont(BOLD, 8)
        canvas.drawString(MARGIN, top, _printable(self.title, pdf.glyphs))
        canvas.setFont(FONT, 8)
        where = w(N_("page {page} / {pages}")).format(page=page, pages=pages)
        canvas.drawRightString(PAGE_WIDTH - MARGIN, top,
                               _printable(f"{self.certificate_id}   ·   {where}", pdf.glyphs))
        canvas.line(MARGIN, top - 4, PAGE_WIDTH - MARGIN, top - 4)
        canvas.line(MARGIN, bottom + 10, PAGE_WIDTH - MARGIN, bottom + 10)
        canvas.drawString(MARGIN, bottom, w(N_("Audit chain head ({events} events):")).format(
            events=_value(self.audit.get("events"))))
        canvas.setFont(MONO, 7)
        canvas.drawRightString(PAGE_WIDTH - MARGIN, bottom, _value(self.audit.get("chain_head")))
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
