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

from pathlib import Path

from . import pdfdoc
from .i18n import N_
from .pdfdoc import UNKNOWN, WIDTH, Words, shown
from .states import LEVELS, State

STANDARD = "NIST SP 800-88 Rev. 1"


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
    words = Words(lang)
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
    words = Words(lang)
    title = words(N_("Certificate of data sanitization: donor batch"))
    return _write(Path(out), data, title, words, _batch_story)


# ---------------------------------------------------------------------------- language and values

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

# ---------------------------------------------------------------------------- device certificate


def _device_story(data, pdf):
    w = pdf.words
    device, media = data["device"], data["media"]
    story = [pdf.p(w(N_("Certificate of data sanitization")), "title"),
             pdf.p(w(N_("Per device, with the fields of {standard} §4.8")).format(standard=STANDARD), "subtitle"),
             pdf.fields(_organisation_fields(pdf, data)),
             _device_verdict(data, pdf),
             pdf.heading(N_("Device")),
             pdf.fields([
                 (N_("Asset tag"), device.get("tag")),
                 (N_("Kind"), w.kind(device.get("kind"))),
                 (N_("Make"), device.get("make")),
                 (N_("Model"), device.get("model")),
                 (N_("Serial number"), device.get("serial")),
                 (N_("Donor's asset tag"), device.get("donor_tag")),
                 (N_("Source (donor and batch)"), f"{shown(device.get('donor'))} · {shown(device.get('batch'))}"),
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
    story.append(_closing(pdf, [(N_("Person who performed the sanitization"), operators),
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
                               "Reason: {reason}")).format(policy=w.level(policy), by=shown(waiver.get("by")),
                                                           at=w.when(waiver.get("at")),
                                                           reason=shown(waiver.get("reason"))), "alert"))
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
                          serial=shown(m.get("serial")))
    described = [
        (N_("Make and model"), m.get("model")),
        (N_("Serial number"), m.get("serial")),
        (N_("Media type"), w.media_type(m.get("type"))),
        (N_("Capacity"), w.size(m.get("size_bytes"))),
        (N_("Media source"), w(N_("device {tag}, donated by {donor}")).format(
            tag=shown(device.get("tag")), donor=shown(device.get("donor")))),
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
            name=shown(s.get("profile_name")), id=shown(s.get("profile_id")),
            version=shown(s.get("profile_version")))),
        (N_("Standard followed"), s.get("standard")),
        (N_("Tool used (with version)"), f"{shown(s.get('tool'))} {shown(s.get('tool_version'))}"),
        (N_("Verification method"), s.get("verification")),
        (N_("Verified"), w.yes_no(s.get("verified"))),
        (N_("Result"), _status(w, True, s.get("result"), s.get("verified"))),
        (N_("Started"), w.when(s.get("started"))),
        (N_("Ended"), w.when(s.get("ended"))),
        (N_("Person who performed the sanitization"), shown(s.get("operator"))),
        (N_("Person who validated the sanitization"), shown(s.get("verifier"))),
        (N_("Drive serial checked against the disk"), w.yes_no(s.get("serial_checked"))),
        (N_("Waiver"), w(N_("{by} on {at}: {reason}")).format(
            by=shown(waiver.get("by")), at=w.when(waiver.get("at")), reason=shown(waiver.get("reason")))
         if waiver else UNKNOWN),
        (N_("Record in the event history"), f"#{shown(s.get('event_id'))}"),
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
             pdf.fields(_organisation_fields(pdf, data) + [
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
                 (N_("Listed in the manifest"), str(shown(rec.get("expected")))),
                 (N_("Received"), str(shown(rec.get("received")))),
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
              _closing(pdf, [(N_("Issued by"), None), (N_("Checked by"), None)], data.get("audit") or {})]
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
    level = [(w.level(m.get("level")) if sanitized else UNKNOWN, "cell"), (shown(m.get("method")), "cell")]
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
                      (f"{shown(device.get('make'))} {shown(device.get('model'))}", "cell")]),
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


# ---------------------------------------------------------------------------- shared blocks


def _closing(pdf, people, audit):
    """The last block, kept on one page: for each of two (label, printed names, or None for a line to
    write the name on) a signature and a date line; then where the certificate's facts come from."""
    from reportlab.platypus import KeepTogether, Spacer

    w = pdf.words
    blank = "_" * 34
    name_line, signature, date = (f"{w(label)}: {blank}" for label in (N_("Name"), N_("Signature"), N_("Date")))

    def block(label, names):
        return [pdf.p(w(label), "label"), pdf.p(name_line if names is None else names), Spacer(1, 14),
                pdf.p(signature), Spacer(1, 8), pdf.p(date)]

    table = pdf.table([[block(label, names) for label, names in people]], [WIDTH / 2, WIDTH / 2],
                       header=False, rules=False)
    note = pdf.p(w(N_(
        "Drawn from refurb's tamper-evident event history ({events} events, chain head at the foot of every "
        "page); `refurb audit verify` shows that no event was changed, removed or reordered."
    )).format(events=shown(audit.get("events"))), "note")
    return KeepTogether([pdf.heading(N_("Signatures")), table, note])

def _organisation_fields(pdf, data):
    organisation = data.get("organisation") or {}
    return [
        (N_("Certificate number"), data["certificate_id"]),
        (N_("Issued on"), pdf.words.when(data.get("issued_at"))),
        (N_("Sanitization performed by"), organisation.get("name")),
        (N_("Location"), organisation.get("address")),
        (N_("Standard"), f"{STANDARD}, §4.8"),
    ]


def _write(out, data, title, words, story):
    return pdfdoc.write_audited(out, data, title, words, story, data["certificate_id"])

