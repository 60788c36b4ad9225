"""Donor and funder reports as PDF (SPEC §9): pure renderers of the plain data refurb.stats assembles.

They are built from the parts every refurb document shares (refurb.pdfdoc): the embedded DejaVu font (Vera
when it is missing), 'page x / y' on every page with the audit chain head at the foot, the document's own
language (Dutch by default, whatever the operator's --lang) and the write into a hidden file renamed at the
end.  Charts are reportlab.graphics bar charts, drawn where a picture reads faster than a table (what became
of a donor's devices; loans and devices of a funder's period); a suppressed count is never drawn as a bar,
only its marker is printed.

Example:
    render_donor(stats.donor_report(ctx, "ACME-2026-11"), Path("acme-report.pdf"))
"""

from pathlib import Path

from . import pdfdoc
from .i18n import N_
from .pdfdoc import FONT, WIDTH, Words, printable, shown

OUTCOME_NAMES = {
    "on_loan": N_("lent to a borrower"),
    "at_digipunt": N_("at a digipunt, waiting for a borrower"),
    "ready": N_("refurbished, ready for lending"),
    "in_refurbishment": N_("being refurbished"),
    "on_hold": N_("on hold (lock, failed wipe or repair)"),
    "parts": N_("harvested for parts"),
    "recycled": N_("recycled"),
    "returned_to_donor": N_("returned to donor"),
    "lost": N_("lost"),
    "expected": N_("expected, not received yet"),
    "missing": N_("missing (never received)"),
}
MEASURE_NAMES = {
    "users_reached": N_("Users reached"),
    "loans_started": N_("Loans started"),
    "loans_active": N_("Loans active at the end of the period"),
    "loans_returned": N_("Loans returned"),
    "loans_lost": N_("Devices lost on loan"),
    "devices_received": N_("Devices received"),
    "devices_reused": N_("Devices reused (lent out)"),
    "devices_recycled": N_("Devices recycled"),
    "devices_parts": N_("Devices harvested for parts"),
}
SHORT_NAMES = {  # table headers
    "users_reached": N_("users"), "loans_started": N_("started"), "loans_active": N_("active"),
    "loans_returned": N_("returned"), "loans_lost": N_("lost"), "devices_received": N_("received"),
    "devices_reused": N_("reused"), "devices_recycled": N_("recycled"), "devices_parts": N_("parts"),
}
LOAN_MEASURES = ("loans_started", "loans_returned", "loans_lost", "loans_active")
DEVICE_MEASURES = ("devices_received", "devices_reused", "devices_recycled", "devices_parts")
DEFINITIONS = (
    N_("Users reached: different borrower references that held a device at some moment of the period."),
    N_("Loans started, returned and lost: loans that began, came back or were reported lost in the period; "
       "active: still out at the end of the period."),
    N_("Devices received: registered at the workbench in the period; reused: lent to a borrower in the "
       "period; recycled and harvested for parts: in the period."),
    N_("Days are calendar days in Europe/Brussels, the first and the last included."),
)
BAR = "#2f6f9f"


# ---------------------------------------------------------------------------- public


def render_donor(data, out, lang="nl"):
    """Write the donor report (data from `stats.donor_report`) to the PDF `out`, atomically; returns `out`.

    Example:
        render_donor(stats.donor_report(ctx, "ACME-2026-11"), Path("acme.pdf"), lang="en")
    """
    words = Words(lang)
    return _write(Path(out), data, words(N_("Donor report")), words, _donor_story)


def render_funder(data, out, lang="nl"):
    """Write the funder report (data from `stats.funder_report`) to the PDF `out`, atomically; returns `out`.

    Example:
        render_funder(stats.funder_report(ctx, "2026-01-01", "2026-03-31"), Path("q1.pdf"))
    """
    words = Words(lang)
    return _write(Path(out), data, words(N_("Funder report")), words, _funder_story)


# ---------------------------------------------------------------------------- donor report


def _donor_story(data, pdf):
    w = pdf.words
    batch, rec = data["batch"], data["reconciliation"]
    story = [pdf.p(w(N_("Donor report")), "title"),
             pdf.p(w(N_("What became of the devices of batch {ref}")).format(ref=batch["ref"]), "subtitle"),
             pdf.fields(_header_fields(data, pdf) + [
                 (N_("Donor"), batch.get("donor")),
                 (N_("Batch"), batch.get("ref")),
                 (N_("Donor's reference"), batch.get("donor_ref")),
                 (N_("Received on"), w.when(batch.get("received_on"), with_time=False)),
                 (N_("Batch status"), w(N_("closed")) if batch.get("closed") else w(N_(
                     "open: devices still expected are not yet reported missing"))),
             ]),
             _impact(data["impact"], pdf),
             pdf.heading(N_("Outcomes")),
             _bar_chart([(w(OUTCOME_NAMES.get(o, o)), n, str(n)) for o, n in data["outcomes"].items()], pdf),
             pdf.p(w(N_("Devices in all: {n}")).format(n=sum(data["outcomes"].values())), "label"),
             pdf.heading(N_("Reconciliation with the donor's manifest")),
             pdf.fields([
                 (N_("Listed in the manifest"), str(rec["listed"])),
                 (N_("Received"), str(rec["received"])),
                 (N_("Missing (listed, not received)") if batch.get("closed") else N_("Still expected"),
                  str(len(rec["missing"]))),
                 (N_("Extra (received, not listed)"), str(len(rec["extra"]))),
             ])]
    story += _listing(N_("Missing devices") if batch.get("closed") else N_("Devices still expected"),
                      [N_("Donor's asset tag"), N_("Serial number"), N_("Make and model")],
                      [(d["donor_tag"], d["serial"], _make_model(d)) for d in rec["missing"]], pdf)
    story += _listing(N_("Extra devices"), [N_("Asset tag"), N_("Serial number"), N_("Make and model")],
                      [(d["tag"], d["serial"], _make_model(d)) for d in rec["extra"]], pdf)
    story += [pdf.heading(N_("Every device, by the donor's asset tag and serial number")),
              _devices_table(data["devices"], pdf),
              pdf.heading(N_("Certificate of sanitization")),
              *_certificate_note(data, pdf),
              pdf.p(w(N_("A device counts as reused once it has been lent to a borrower; devices ready or "
                         "waiting at a digipunt are not counted yet. Drawn from refurb's tamper-evident "
                         "event history.")), "note")]
    return story


def _header_fields(data, pdf):
    organisation = data.get("organisation") or {}
    rows = [(N_("Report number"), data["report_id"]),
            (N_("Issued on"), pdf.words.when(data.get("issued_at"))),
            (N_("Organisation"), organisation.get("name"))]
    return rows + ([(N_("Location"), organisation["address"])] if organisation.get("address") else [])


def _impact(impact, pdf):
    """The CO2e statement, framed: devices reused, what was counted, the factor and its source."""
    w = pdf.words
    lines = [w(N_("Devices of this batch lent to borrowers: {n}")).format(n=impact["reused"]),
             w(N_("CO2e avoided: {kg} kg")).format(kg=_thousands(w, impact["co2e_kg"])),
             w(N_("{counted} reused laptops × {factor} kg CO2e per reused laptop. Source: {source}")).format(
                 counted=impact["counted"], factor=_thousands(w, impact["factor_kg"]),
                 source=shown(impact.get("source")))]
    others = {k: n for k, n in impact["reused_by_kind"].items() if k not in impact["counted_kinds"]}
    if others:
        listed = ", ".join(f"{w.kind(k)} {n}" for k, n in others.items())
        lines.append(w(N_("Not counted, the factor being a laptop's: {devices}")).format(devices=listed))
    return pdf.box([pdf.p(lines[0], "label"), pdf.p(lines[1], "ok"), *[pdf.p(x) for x in lines[2:]]],
                   pdf.green)


def _thousands(words, value):
    """A whole number with the language's thousands separator: 12.840 (nl), 12 840 (fr), 12,840 (en)."""
    text = f"{round(value):,}"
    return text.replace(",", {"nl": ".", "fr": " "}.get(words.lang, ","))


def _make_model(d):
    return " ".join(x for x in (d.get("make"), d.get("model")) if x) or None


def _listing(title, columns, rows, pdf):
    if not rows:
        return [pdf.heading(title), pdf.p(pdf.words(N_("None.")))]
    cells = [pdf.header_row(columns)] + [[pdf.p(v, "cell") for v in row] for row in rows]
    return [pdf.heading(title), pdf.table(cells, [WIDTH / 3] * 3)]


def _devices_table(devices, pdf):
    """One row per device; identifiers are plain cells (quick to lay out for a batch of thousands), the words
    that may need two lines are paragraphs."""
    w = pdf.words
    widths = [x * WIDTH for x in (0.2, 0.18, 0.22, 0.14, 0.18, 0.08)]
    rows = [pdf.header_row([N_("Donor's asset tag"), N_("Serial number"), N_("Make and model"),
                            N_("Asset tag"), N_("Outcome"), N_("Times lent")])]
    for d in devices:
        outcome = [(w(OUTCOME_NAMES.get(d["outcome"], d["outcome"])), "cell")]
        if not d["listed"]:
            outcome.append((w(N_("not in the manifest")), "cell"))
        rows.append([_plain(d["donor_tag"], pdf), _plain(d["serial"], pdf), pdf.p(_make_model(d), "cell"),
                     _plain(d["tag"], pdf), pdf.lines(outcome), str(d["loans"])])
    cell = pdf.style["cell"]
    plain = ("FONT", (0, 1), (-1, -1), cell.fontName, cell.fontSize, cell.leading)
    return pdf.table(rows, widths, style=[plain])


def _plain(value, pdf):
    return printable(shown(value), pdf.glyphs)


def _certificate_note(data, pdf):
    """Where the proof of erasure is: the batch's last certificate, or the command that issues one."""
    w = pdf.words
    issued = data.get("certificates") or []
    if not issued:
        return [pdf.p(w(N_("No certificate of sanitization has been issued for this batch yet "
                           "(refurb report certificate --batch {ref}).")).format(ref=data["batch"]["ref"]))]
    last = issued[-1]
    return [pdf.p(w(N_("Certificate {id}, issued on {date}, proves per storage medium how the data was "
                       "destroyed. SHA-256 of the PDF:")).format(id=last["id"], date=w.when(last["at"]))),
            pdf.p(last["sha256"], "hash")]


# ---------------------------------------------------------------------------- funder report


def _funder_story(data, pdf):
    w = pdf.words
    period = data["period"]
    span = w(N_("{start} to {end}")).format(start=w.when(period["from"], with_time=False),
                                            end=w.when(period["to"], with_time=False))
    summary = data["summary"]
    story = [pdf.p(w(N_("Funder report")), "title"),
             pdf.p(w(N_("Aggregate figures, {period}")).format(period=span), "subtitle"),
             pdf.fields(_header_fields(data, pdf) + [(N_("Period"), span)]),
             pdf.box([pdf.p(w(N_("Users reached: {n}")).format(n=summary["users_reached"]), "ok")],
                     pdf.green),
             pdf.heading(N_("Loans")),
             _summary_chart(summary, LOAN_MEASURES, pdf),
             pdf.heading(N_("Devices")),
             _summary_chart(summary, DEVICE_MEASURES, pdf),
             pdf.heading(N_("Per digipunt")),
             _breakdown(data["by_digipunt"], N_("Digipunt"), lambda g: g, pdf),
             pdf.heading(N_("Per kind of device")),
             _breakdown(data["by_kind"], N_("Kind"), pdf.words.kind, pdf),
             pdf.heading(N_("How to read these figures"))]
    story += [pdf.p(w(text)) for text in DEFINITIONS]
    story.append(pdf.p(w(N_("Only totals are reported: no names, no borrower references, no device "
                            "numbers. {small}: from 1 to 4. {hidden}: a number hidden because it is under 5, "
                            "or so that one under 5 cannot be worked out from the total; hidden numbers all "
                            "look alike."))
                       .format(small=data["markers"]["small"], hidden=data["markers"]["hidden"]), "note"))
    if data.get("pseudonymised"):
        story.append(pdf.p(w(N_("Some loans of this period were detached from their borrower under the "
                                "retention policy; each of them counts as one user, so users reached is an "
                                "upper bound.")),
                           "note"))
    return story


def _summary_chart(summary, measures, pdf):
    """Bars for the summary figures; a suppressed one gets no bar, only its marker."""
    return _bar_chart([(pdf.words(MEASURE_NAMES[m]), summary[m] if isinstance(summary[m], int) else 0,
                        str(summary[m])) for m in measures], pdf)


def _breakdown(table, first, name, pdf):
    """A breakdown with its total row; hidden cells print their marker, like any other value."""
    if not table["rows"]:
        return pdf.p(pdf.words(N_("None.")))
    columns = table["columns"]
    widths = [0.3 * WIDTH] + [0.7 * WIDTH / len(columns)] * len(columns)
    rows = [pdf.header_row([first, *(SHORT_NAMES[c] for c in columns)])]
    rows += [[pdf.p(name(r["group"]), "cell"), *(pdf.p(str(r["values"][c]), "cell") for c in columns)]
             for r in table["rows"]]
    rows.append([pdf.p(pdf.words(N_("Total")), "head"),
                 *(pdf.p(str(table["total"][c]), "head") for c in columns)])
    return pdf.table(rows, widths)


# ---------------------------------------------------------------------------- charts and writing


def _bar_chart(bars, pdf):
    """A horizontal bar chart of (label, value, printed value), top to bottom; a bar of value 0 is not drawn,
    so a suppressed count shows its marker only."""
    from reportlab.graphics.charts.barcharts import HorizontalBarChart
    from reportlab.graphics.shapes import Drawing
    from reportlab.lib import colors

    if not bars:
        return pdf.p(pdf.words(N_("None.")))
    bars = list(reversed(bars))  # the chart draws its first category at the bottom
    step, label_width = 15, 0.42 * WIDTH
    height = step * len(bars) + 12
    drawing = Drawing(WIDTH, height)
    chart = HorizontalBarChart()
    chart.x, chart.y = label_width, 6
    chart.width, chart.height = WIDTH - label_width - 40, step * len(bars)
    chart.data = [[value for _label, value, _text in bars]]
    chart.barLabelFormat, chart.barLabelArray = "values", [[text for _label, _value, text in bars]]
    chart.barLabels.fontName, chart.barLabels.fontSize = FONT, 7.5
    chart.barLabels.boxAnchor, chart.barLabels.dx = "w", 3
    chart.bars[0].fillColor, chart.bars[0].strokeColor = colors.HexColor(BAR), None
    chart.categoryAxis.categoryNames = [printable(label, pdf.glyphs) for label, _v, _t in bars]
    chart.categoryAxis.labels.fontName, chart.categoryAxis.labels.fontSize = FONT, 7.5
    chart.categoryAxis.labels.boxAnchor, chart.categoryAxis.labels.dx = "e", -4
    chart.categoryAxis.strokeColor = pdf.rule
    chart.categoryAxis.tickLeft = 0
    chart.valueAxis.valueMin = 0
    chart.valueAxis.valueMax = max(1, *(value for _label, value, _text in bars))
    chart.valueAxis.visible = False
    drawing.add(chart)
    return drawing


def _write(out, data, title, words, story):
    return pdfdoc.write_audited(out, data, title, words, story, data["report_id"])
