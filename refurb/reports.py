"""Documents made from the records: certificates of sanitization per device and per donor batch.

This module gathers plain data from the database (through refurb.services) and hands it to the
renderers (refurb.certificate); issuing a certificate is itself an event, so the audit trail shows
which certificate was given out, when, by whom, and the SHA-256 of the PDF.
"""

import hashlib
import json
from pathlib import Path

from sqlalchemy import select

from . import catalog, lifecycle, services
from .errors import NotFound
from .i18n import _
from .models import Batch, ChainHead, Donor, Event, Operator, StorageMedium, WipeRecord
from .services import iso


def device_certificate(ctx, code, out, lang="nl", verifier=None):
    """Write the certificate of one device to `out`; returns what was written and its hash."""
    from . import certificate

    with services.writing(ctx) as w:
        device = services.resolve(w.s, code)
        verifier = _verifier(w, verifier)
        cert_id = f"{device.tag}-{(w.head.last_event_id or 0) + 1}"
        data = {**_header(ctx, w.s, cert_id), **_device_data(ctx, w.s, device, verifier)}
        return _issue(w, certificate.render_device, data, out, lang, device=device, subject=device.tag)


def batch_certificate(ctx, ref, out, lang="nl", verifier=None):
    """Write the certificate of a donor batch (reconciliation, outcomes, every device) to `out`."""
    from . import certificate

    with services.writing(ctx) as w:
        batch = services.get_batch(w.s, ref)
        verifier = _verifier(w, verifier)
        cert_id = f"{batch.ref}-{(w.head.last_event_id or 0) + 1}"
        data = {**_header(ctx, w.s, cert_id), **_batch_data(ctx, w.s, batch, verifier)}
        return _issue(w, certificate.render_batch, data, out, lang, subject=batch.ref)


def _issue(w, render, data, out, lang, device=None, subject=None):
    out = Path(out)
    if out.parent and not out.parent.is_dir():
        raise NotFound(_("{folder}: no such folder").format(folder=out.parent), hint=_("create it first"))
    render(data, out, lang)
    try:
        content = out.read_bytes()
        digest = hashlib.sha256(content).hexdigest()
        w.event("certificate_issued", device, device.state if device else None, None,
                {"certificate": data["certificate_id"], "subject": subject, "lang": lang, "sha256": digest,
                 "size": len(content), "file": out.name})
        w.s.flush()
    except BaseException:
        out.unlink(missing_ok=True)  # no certificate without its record
        raise
    return {"certificate": data["certificate_id"], "file": str(out), "sha256": digest, "size": len(content),
            "subject": subject, "lang": lang}


def _verifier(w, name):
    """The person validating: the operator issuing the certificate unless another known operator is named."""
    if not name:
        return w.operator.name
    op = w.s.exec(select(Operator).where(Operator.name == name)).scalars().first()
    if op is None:
        raise NotFound(_("no operator named {name!r}").format(name=name),
                       hint=_("list them: refurb operator list"))
    return op.name


def _header(ctx, s, cert_id):
    head = s.get(ChainHead, 1)
    return {
        "certificate_id": cert_id,
        "issued_at": iso(services.now()),
        "organisation": {"name": ctx.settings.organisation, "address": ctx.settings.organisation_address},
        "audit": {"events": head.count, "chain_head": head.hash},
    }


def _device_data(ctx, s, device, verifier):
    batch = s.get(Batch, device.batch_id)
    donor = s.get(Donor, batch.donor_id)
    return {
        "device": {"tag": device.tag, "kind": device.kind, "make": device.make, "model": device.model,
                   "serial": device.serial, "donor_tag": device.donor_tag, "batch": batch.ref, "donor": donor.name,
                   "state": device.state},
        "no_storage": device.no_storage,
        "media": _media(ctx, s, device, verifier),
    }


def _media(ctx, s, device, verifier):
    """Each medium with the wipe that counts for it in the current cycle (see lifecycle._wipe_verified):
    the last passing verified one reaching the policy (or waived), else the last one, else none."""
    facts = services.facts_for(s, device, ctx)
    profiles = catalog.load_profiles(services._profile_dirs(ctx))
    events = {e.id: e for e in s.exec(select(Event).where(Event.device_id == device.id)).scalars()}
    waivers = {}
    for e in events.values():
        if e.action == "wipe_waived" and e.id > facts.cycle_start:
            d = json.loads(e.data)
            if d["wipe_event"] in facts.waived:
                waivers[d["wipe_event"]] = {"by": e.operator, "reason": d["reason"], "at": iso(e.at)}
    counted = {w.event_id for w in facts.wipes}  # current cycle, not undone
    out = []
    media = s.exec(select(StorageMedium).where(StorageMedium.device_id == device.id)
                   .order_by(StorageMedium.id)).scalars().all()
    for m in media:
        records = [r for r in s.exec(select(WipeRecord).where(WipeRecord.medium_id == m.id)
                                     .order_by(WipeRecord.event_id)).scalars() if r.event_id in counted]
        need = facts.min_level.get(m.type, "clear")
        record = _counting(records, need, waivers) if records else None
        out.append({"serial": m.serial, "model": m.model, "type": m.type, "size_bytes": m.size_bytes,
                    "sanitization": _sanitization(record, events, profiles, need, waivers, verifier)
                    if record else None})
    return out


def _counting(records, need, waivers):
    good = [r for r in records if lifecycle.wipe_counts(r, need, waivers)]
    return (good or records)[-1]


def _sanitization(r, events, profiles, need, waivers, verifier):
    e = events.get(r.event_id)
    details = json.loads(e.data) if e is not None else {}
    profile = profiles.get(r.profile_id)
    return {
        "profile_id": r.profile_id, "profile_version": r.profile_version,
        "profile_name": profile.name if profile else None, "standard": profile.standard if profile else None,
        "method": r.method, "level": r.level, "policy_level": need,
        "tool": r.tool, "tool_version": details.get("tool_version"),
        "verification": r.verification, "verified": r.verified, "result": r.result,
        "started": iso(r.started_at), "ended": iso(r.ended_at),
        "operator": r.operator, "verifier": verifier,
        "serial_checked": details.get("serial_checked", True),
        "waiver": waivers.get(r.event_id),
        "evidence": [{"filename": x.get("file"), "sha256": x.get("sha256")} for x in json.loads(r.evidence or "[]")],
        "event_id": r.event_id,
    }


def _batch_data(ctx, s, batch, verifier):
    donor = s.get(Donor, batch.donor_id)
    r = services.reconcile(s, batch)
    here = r.received
    outcomes = {}
    for d in here:
        outcomes[d.state] = outcomes.get(d.state, 0) + 1
    rows = []
    for d in here:
        media = _media(ctx, s, d, verifier)
        rows.append({
            "tag": d.tag, "donor_tag": d.donor_tag, "serial": d.serial, "make": d.make, "model": d.model,
            "outcome": d.state, "no_storage": d.no_storage,
            "media": [{"serial": m["serial"], "type": m["type"],
                       "policy_level": ctx.min_level.get(m["type"], "clear"),
                       **({"level": x["level"], "method": x["method"], "verified": x["verified"],
                           "result": x["result"], "waiver": x["waiver"] is not None,
                           "serial_checked": x["serial_checked"],
                           "evidence_sha256": [ev["sha256"] for ev in x["evidence"]]}
                          if (x := m["sanitization"]) else
                          {"level": None, "method": None, "verified": False, "result": None, "waiver": False,
                           "serial_checked": True, "evidence_sha256": []})}
                      for m in media],
        })
    return {
        "batch": {"ref": batch.ref, "donor": donor.name, "donor_ref": batch.donor_ref,
                  "received_on": iso(batch.received_on), "closed": batch.status == "closed"},
        "reconciliation": {
            "expected": len(r.listed), "received": len(here),
            "missing": [{"serial": d.serial, "donor_tag": d.donor_tag, "model": d.model} for d in r.missing],
            "extra": [{"tag": d.tag, "serial": d.serial, "model": d.model} for d in r.extra],
        },
        "outcomes": dict(sorted(outcomes.items())),
        "devices": rows,
    }


def loan_agreement(ctx, code, out, lang="nl", translation=None):
    """Write the agreement of a device's current loan (Dutch, optionally with a marked translation)."""
    from . import agreement
    from .models import Borrower, Loan, Location

    with services.reading(ctx) as s:
        device = services.resolve(s, code)
        loan = s.exec(select(Loan).where(Loan.device_id == device.id).order_by(Loan.id.desc()).limit(1)
                      ).scalars().first()
        if loan is None or loan.returned_at is not None or loan.lost:
            raise NotFound(_("{tag} is not on loan").format(tag=device.tag),
                           hint=_("lend it first: refurb loan out {tag} --borrower …").format(tag=device.tag))
        punt = s.get(Location, loan.digipunt_id)
        data = {
            "reference": f"{device.tag}-{loan.event_id}",
            "issued_at": iso(services.now()),
            "organisation": {"name": ctx.settings.organisation, "address": ctx.settings.organisation_address},
            "digipunt": {"name": punt.name, "loan_days": punt.loan_days, "max_extensions": punt.max_extensions},
            "device": {"tag": device.tag, "kind": device.kind, "make": device.make, "model": device.model,
                       "serial": device.serial},
            "accessories": json.loads(loan.accessories or "[]"),
            "borrower": s.get(Borrower, loan.borrower_id).ref,
            "out": iso(loan.out_at),
            "due": loan.due_on.date().isoformat(),
        }
    path = agreement.render(data, out, lang, translation)
    content = Path(path).read_bytes()
    return {"file": str(path), "reference": data["reference"], "sha256": hashlib.sha256(content).hexdigest(),
            "lang": lang, "translation": translation}


# ---------------------------------------------------------------------------- labels


def label_records(ctx, codes=(), batch=None, state=None, pending=False, parts=()):
    """The label fields (refurb.labels.FIELDS) of the devices chosen by tag/serial, batch, state or
    `pending` (never printed), in tag order; with `parts`, one record per device and part (parts-tag)."""
    from sqlalchemy import func

    from .models import Device, ImageRecord
    from .states import State as S

    with services.reading(ctx) as s:
        query = select(Device, Batch.ref, Donor.name).join(Batch, Batch.id == Device.batch_id).join(
            Donor, Donor.id == Batch.donor_id)
        if codes:
            query = query.where(Device.id.in_([services.resolve(s, c).id for c in codes]))
        if batch:
            query = query.where(Device.batch_id == services.get_batch(s, batch).id)
        if state:
            if state not in {str(x) for x in S}:
                from .errors import UsageProblem

                raise UsageProblem(_("unknown state {state!r}").format(state=state),
                                   hint=_("states: {choices}").format(choices=", ".join(S)))
            query = query.where(Device.state == state)
        if pending:
            printed = select(Event.device_id).where(Event.action == "label_printed")
            query = query.where(Device.id.not_in(printed), Device.state != S.EXPECTED)
        rows = s.exec(query.order_by(Device.tag)).all()
        ids = [d.id for d, _b, _n in rows]
        latest = select(ImageRecord.device_id, func.max(ImageRecord.id).label("id")).group_by(
            ImageRecord.device_id).subquery()
        images = dict(s.exec(select(ImageRecord.device_id, ImageRecord.image_id).join(
            latest, latest.c.id == ImageRecord.id)).all()) if ids else {}
    day = services.today().strftime("%d/%m/%Y")
    out = []
    for d, batch_ref, donor in rows:
        specs = json.loads(d.specs or "{}")
        record = {"tag": d.tag, "serial": d.serial, "make": d.make, "model": d.model, "kind": d.kind,
                  "batch": batch_ref, "donor": donor, "donor_tag": d.donor_tag, "cpu": specs.get("cpu"),
                  "ram_gb": specs.get("ram_gb"), "storage_gb": specs.get("storage_gb"), "grade": d.grade,
                  "image": images.get(d.id), "org": ctx.settings.organisation, "date": day}
        out += [{**record, "part": part} for part in parts] if parts else [record]
    return out


def mark_printed(ctx, tags, template, output):
    """One `label_printed` event per device whose label went out (so --pending skips it next time), written
    in bulk: a run of 10 000 labels records 10 000 events in one statement, not 10 000 flushes."""
    from sqlalchemy import bindparam, update

    from .models import Device

    wanted = list(dict.fromkeys(tags))
    with services.writing(ctx) as w:
        w.s.flush()  # the operator or station the Writer may just have registered
        conn = w.s.connection()
        t = services.now()
        chain = services.BulkChain(w, t, conn.dialect)
        data = services.canonical({"output": output, "template": template})
        moved = []
        for start in range(0, len(wanted), 5000):
            rows = conn.execute(select(Device.id, Device.state).where(Device.tag.in_(wanted[start:start + 5000])))
            for device_id, state in rows.all():
                moved.append({"b_id": device_id, "last_event_id": chain.add(device_id, "label_printed", state, None,
                                                                             data), "updated_at": t})
        services.bulk_insert(conn, "event", services.EVENT_COLUMNS, chain.take())
        if moved:
            table = Device.__table__
            conn.execute(update(table).where(table.c.id == bindparam("b_id"))
                         .values(last_event_id=bindparam("last_event_id"), updated_at=bindparam("updated_at")), moved)
        chain.close()
        return len(moved)


def print_labels(ctx, records, template, *, out=None, printer=None, zpl=None, brother=None, brother_out=None,
                 skip=0, copies=1, record_printed=True):
    """Send `records` to one output: a PDF file, a CUPS queue, a ZPL file, or a Brother QL (file or URI).
    The devices are recorded as printed only once the output succeeded."""
    import tempfile

    from . import labels, printing

    t = labels.get_template(template, [ctx.settings.labels_dir] if ctx.settings.labels_dir else [])
    if zpl or brother:
        raster = labels.rasterise(t, records, copies=copies)
        if zpl:
            result = {**printing.to_zpl(raster["images"], zpl), "placeholders": raster["placeholders"]}
        else:
            result = {**printing.to_brother(raster["images"], label=labels.brother_media(t), model=brother,
                                            target=brother_out), "placeholders": raster["placeholders"]}
        output = "zpl" if zpl else "brother"
    elif printer:
        with tempfile.TemporaryDirectory(prefix="refurb-labels-") as folder:
            pdf = Path(folder) / "labels.pdf"
            result = labels.render(t, records, pdf, skip=skip, copies=copies)
            result.update(printing.to_cups(pdf, printer, page=t.page, title=f"refurb-{t.id}-{records[0]['tag']}"))
        result["file"] = None
        output = "cups"
    else:
        result = labels.render(t, records, out, skip=skip, copies=copies)
        output = "pdf"
    result.update(template=t.id, output=output, devices=len({r["tag"] for r in records}))
    if record_printed:
        mark_printed(ctx, [r["tag"] for r in records], t.id, output)
    return result


def intake_label(ctx, tag):
    """Print a newly received device's label on the configured printer with the configured template, once
    (a device whose label was printed before is left alone).  Returns what print_labels returns, or None."""
    records = label_records(ctx, [tag], pending=True)
    if not records:
        return None
    return print_labels(ctx, records, ctx.settings.label_template, printer=ctx.settings.printer)


def require_label_printer(settings):
    """Refuse --print-label before anything is written when there is nothing to print with."""
    from .errors import UsageProblem

    if not settings.label_template or not settings.printer:
        raise UsageProblem(_("printing labels at intake needs label_template and printer in the config"),
                           hint=_("set label_template and printer (or REFURB_LABEL_TEMPLATE, REFURB_PRINTER)"),
                           code="no-label-printer")
