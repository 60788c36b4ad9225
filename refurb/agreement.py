"""The loan agreement a borrower signs at the digipunt (SPEC §8), as PDF.

Dutch is the text that counts; a French or English copy can follow it, marked as a translation for
information.  The borrower's name never enters refurb: the agreement carries the pseudonymous borrower
reference and blank lines for name and signature on the paper copy the digipunt keeps.

A pure renderer: refurb.reports assembles `data` (shape in `render`).
"""

from . import pdfdoc
from .i18n import N_
from .pdfdoc import WIDTH, Pdf, Words, shown

MAIN_LANGUAGE = "nl"

CLAUSES = (
    N_("{organisation} lends the device described above to the borrower, free of charge, through digipunt "
       "{digipunt}."),
    N_("The device remains the property of {organisation}. The borrower may not sell it, lend it to someone "
       "else or give it as security."),
    N_("The borrower returns the device with the accessories listed above by {due} at the latest, or asks the "
       "digipunt for an extension in time (at most {extensions} extensions)."),
    N_("The borrower takes good care of the device and reports damage, loss or theft to the digipunt at once."),
    N_("All data was erased from the device and it was reinstalled before this loan. It is erased again when it "
       "comes back: the borrower keeps a copy of their own files elsewhere before returning it."),
    N_("The borrower's name is not stored in refurb: the digipunt keeps this signed paper copy, and refurb knows "
       "the borrower only by the reference {borrower}."),
)


def render(data, out, lang=MAIN_LANGUAGE, translation=None):
    """Write the agreement to `out` (atomically) in `lang`, followed by a copy in `translation` marked as a
    translation for information; returns `out`.

    `data`: {"reference", "issued_at", "organisation": {"name", "address"}, "digipunt": {"name", "loan_days",
    "max_extensions"}, "device": {"tag", "kind", "make", "model", "serial"}, "accessories": [str],
    "borrower": str, "out": ISO moment, "due": ISO date}.

    Example:
        render(data, Path("RB-000142-J-agreement.pdf"), translation="fr")
    """
    words = Words(lang)
    copy = Words(translation) if translation else None
    title = words(N_("Loan agreement"))

    def build(handle):
        from reportlab.platypus import PageBreak

        pdf = Pdf(words)
        flowables = _story(data, pdf, None)
        if copy is not None:
            flowables += [PageBreak(), *_story(data, Pdf(copy), words.lang)]
        footer = (shown((data.get("organisation") or {}).get("name")), data["reference"])
        pdfdoc.build(handle, pdf, flowables, title, data["reference"], footer,
                     author=(data.get("organisation") or {}).get("name"))

    return pdfdoc.write(out, build)


def _story(data, pdf, original):
    """One language's text; `original` names the language that prevails when this is a translation."""
    from reportlab.platypus import Spacer

    w = pdf.words
    device, punt = data["device"], data["digipunt"]
    organisation = shown((data.get("organisation") or {}).get("name"))
    story = [pdf.p(w(N_("Loan agreement")), "title")]
    if original:
        story.append(pdf.p(w(N_("Translation, for information only: the {language} text prevails.")).format(
            language=w(LANGUAGE_NAMES[original])), "alert"))
    story += [
        pdf.fields([
            (N_("Agreement number"), data["reference"]),
            (N_("Lender"), organisation),
            (N_("Address"), (data.get("organisation") or {}).get("address")),
            (N_("Digipunt"), punt.get("name")),
            (N_("Borrower reference"), data.get("borrower")),
        ]),
        pdf.heading(N_("Device")),
        pdf.fields([
            (N_("Asset tag"), device.get("tag")),
            (N_("Kind"), w.kind(device.get("kind"))),
            (N_("Make and model"), " ".join(x for x in (device.get("make"), device.get("model")) if x) or None),
            (N_("Serial number"), device.get("serial")),
            (N_("Accessories"), ", ".join(data.get("accessories") or []) or w(N_("none"))),
            (N_("Lent on"), w.when(data.get("out"), with_time=False)),
            (N_("To be returned by"), w.when(data.get("due"), with_time=False)),
        ]),
        pdf.heading(N_("Conditions")),
    ]
    values = {"organisation": organisation, "digipunt": shown(punt.get("name")),
              "due": w.when(data.get("due"), with_time=False), "extensions": shown(punt.get("max_extensions")),
              "borrower": shown(data.get("borrower"))}
    for number, clause in enumerate(CLAUSES, 1):
        story.append(pdf.p(f"{number}. " + w(clause).format(**values)))
        story.append(Spacer(1, 3))
    blank = "_" * 30
    lines = [f"{w(label)}: {blank}" for label in (N_("Name"), N_("Signature"))]

    def block(label):
        return [pdf.p(w(label), "label"), Spacer(1, 10), pdf.p(lines[0]), Spacer(1, 14), pdf.p(lines[1])]

    story += [pdf.heading(N_("Signatures")),
              pdf.table([[block(N_("The borrower")), block(N_("For the digipunt"))]], [WIDTH / 2, WIDTH / 2],
                        header=False, rules=False),
              Spacer(1, 10),
              pdf.p(w(N_("Place and date: {blank}")).format(blank=blank))]
    return story


LANGUAGE_NAMES = {"nl": N_("Dutch"), "en": N_("English"), "fr": N_("French")}
