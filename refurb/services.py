"""One use-case function per CLI verb.  They take a Context, return plain data, raise RefurbError.

Every write runs in one transaction (refurb.db.session(write=True)): the records, the events and
the device's new state are committed together or not at all.  A refused command writes nothing.
"""

import hashlib
import json
import re
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from json.encoder import encode_basestring
from pathlib import Path
from types import MappingProxyType, SimpleNamespace

from sqlalchemy import func, select

from . import catalog, db, lifecycle, scanning, tags
from .config import Settings
from .errors import Conflict, Misread, NotAllowed, NotFound, RefurbError, TransitionRefused, UsageProblem
from .i18n import _
from .lifecycle import Facts, ImageFact, Medium, QCFact, Wipe
from .models import (
    Batch,
    Borrower,
    ChainHead,
    Device,
    Donor,
    Event,
    Evidence,
    ImageRecord,
    Loan,
    Location,
    Lock,
    Operator,
    QCRecord,
    Station,
    StorageMedium,
    TagCounter,
    WipeRecord,
)
from .states import END_STATES, State

GENESIS = "0" * 64
PLACEHOLDER_EVENT = 10**15  # stands for "the event this command is about to write" while planning
WAREHOUSE = "warehouse"


def now():
    return datetime.now(UTC)


def canonical(data):
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


@dataclass
class Context:
    """Who is acting, where, on which database."""

    settings: Settings
    operator: str | None = None
    station: str | None = None
    force: str | None = None
    pin: str | None = field(default=None, repr=False)  # the acting operator's PIN, for lead actions

    @property
    def url(self):
        return self.settings.database_url

    @property
    def who(self):
        return self.operator or self.settings.operator

    @property
    def where(self):
        return self.station or self.settings.station

    @property
    def min_level(self):
        return MappingProxyType(dict(self.settings.min_level))


_checked = set()


def _ready(ctx):
    if ctx.url not in _checked:
        db.check_schema(ctx.url)
        _checked.add(ctx.url)


@contextmanager
def reading(ctx):
    _ready(ctx)
    with db.session(ctx.url) as s:
        yield s


@contextmanager
def writing(ctx):
    """A write transaction with the acting operator and station resolved (and registered if new)."""
    if not ctx.who:
        raise UsageProblem(
            _("no operator: every change records who made it"),
            hint=_("give --operator NAME or set REFURB_OPERATOR"),
            code="no-operator",
        )
    _ready(ctx)
    with db.session(ctx.url, write=True) as s:
        w = Writer(s, ctx)
        yield w


# ---------------------------------------------------------------------------- the writer


def event_hash(prev_hash, e):
    payload = canonical(
        [
            e.id,
            e.device_id,
            e.action,
            e.from_state,
            e.to_state,
            e.operator,
            e.station,
            e.at.isoformat(),
            e.recorded_at.isoformat(),
            e.data,
            e.forced,
        ]
    )
    return hashlib.sha256((prev_hash + payload).encode("utf-8")).hexdigest()


class Writer:
    def __init__(self, session, ctx):
        self.s = session
        self.ctx = ctx
        self.head = session.get(ChainHead, 1)
        self.operator = self._operator(ctx.who)
        self.station = self._station(ctx.where)
        self.written = []

    def _operator(self, name):
        op = self.s.exec(select(Operator).where(Operator.name == name)).scalars().first()
        if op is None:
            op = Operator(name=name, role="volunteer", created_at=now())
            self.s.add(op)
        return op

    def _station(self, name):
        st = self.s.exec(select(Station).where(Station.name == name)).scalars().first()
        if st is None:
            st = Station(name=name, created_at=now())
            self.s.add(st)
        return st

    def event(self, action, device=None, from_state=None, to_state=None, data=None, forced=None, at=None):
        t = now()
        e = Event(
            id=(self.head.last_event_id or 0) + 1,
            device_id=device.id if device is not None else None,
            action=action,
            from_state=str(from_state) if from_state is not None else None,
            to_state=str(to_state) if to_state is not None else None,
            operator=self.operator.name,
            station=self.station.name,
            at=at or t,
            recorded_at=t,
            data=canonical(data or {}),
            forced=forced,
            prev_hash=self.head.hash,
            hash="",
        )
        e.hash = event_hash(self.head.hash, e)
        self.s.add(e)
        self.head.hash = e.hash
        self.head.count += 1
        self.head.last_event_id = e.id
        if device is not None:
            device.last_event_id = e.id
            device.updated_at = t
        self.s.flush()
        self.written.append(e)
        return e

    def apply(self, device, plan, data=None, at=None):
        """Write one event per step of a plan and move the device (`at`: when it happened, if not now)."""
        events = []
        forced = None
        if plan.forced:
            self.require_lead(_("forcing a guard"))
            forced = self.ctx.force
        for i, step in enumerate(plan.steps):
            last = i == len(plan.steps) - 1
            payload = dict(data or {}) if last else {}
            if forced and last:
                payload["forced_guards"] = [f.reason for f in plan.forced]
            events.append(
                self.event(step.action, device, device.state, step.target, payload, forced if last else None, at)
            )
            device.state = str(step.target)
        self.s.add(device)
        return events

    def require_lead(self, what):
        """A lead (or admin) who proves it with their PIN (SPEC §10): the role alone is only a name typed
        at --operator."""
        op = self.operator
        if op.role not in ("lead", "admin"):
            raise NotAllowed(
                _("{what} needs a lead; {name} is a {role}").format(what=what, name=op.name, role=op.role),
                hint=_("ask a lead to run it with --operator, or: refurb operator add NAME --role lead"),
            )
        if not op.pin_hash:
            raise NotAllowed(_("{what} needs a lead with a PIN; {name} has none yet").format(what=what, name=op.name),
                             hint=_("set it first: refurb operator pin {name}").format(name=op.name), code="no-pin")
        if not self.ctx.pin:
            raise NotAllowed(_("{what} needs {name}'s PIN").format(what=what, name=op.name),
                             hint=_("type it when asked, or set REFURB_PIN"), code="pin-required",
                             data={"operator": op.name})
        from . import pins

        if not pins.check_pin(self.ctx.pin, op.pin_hash):
            raise NotAllowed(_("wrong PIN for {name}").format(name=op.name), hint=_("try again"), code="wrong-pin")


# ---------------------------------------------------------------------------- look-ups


def _one(session, model, column, value, what, hint):
    row = session.exec(select(model).where(column == value)).scalars().first()
    if row is None:
        raise NotFound(_("no {what} named {value!r}").format(what=what, value=value), hint=hint)
    return row


def get_batch(session, ref):
    return _one(session, Batch, Batch.ref, ref, _("batch"), _("list batches with: refurb batch list"))


def get_donor(session, name):
    return _one(session, Donor, Donor.name, name, _("donor"), _("add it with: refurb donor add NAME"))


def get_digipunt(session, name):
    loc = session.exec(select(Location).where(Location.name == name)).scalars().first()
    if loc is None or loc.kind != "digipunt":
        raise NotFound(
            _("no digipunt named {value!r}").format(value=name), hint=_("add it with: refurb digipunt add NAME")
        )
    return loc


def resolve(session, code):
    """A device by our tag (check character verified first), donor tag, serial, IMEI or MAC."""
    text = code.strip()
    if not text:
        raise NotFound(_("empty code"), hint=_("scan or type a tag, serial or donor asset tag"))
    if tags.looks_like_tag(text):
        try:
            _p, _n, tag = tags.parse(text)
        except tags.CheckMismatch:
            raise Misread(
                _("{code}: misread: the check character does not match").format(code=text),
                hint=_("scan again, or type the tag carefully"),
            ) from None
        device = session.exec(select(Device).where(Device.tag == tag)).scalars().first()
        if device is None:
            raise NotFound(_("no device with tag {tag}").format(tag=tag), hint=_("list devices with: refurb list"))
        return device
    mac = scanning.normalise_mac(text)
    serials = list(dict.fromkeys(x for s in (text, *scanning.serial_forms(text)) for x in (s, s.upper())))
    for column, values in (
        (Device.donor_tag, list(dict.fromkeys((text, text.upper())))),
        (Device.serial, serials),
        (Device.imei, [text] if scanning.is_imei(text) else []),
        (Device.mac, [mac] if mac else []),
    ):
        if not values:
            continue
        found = session.exec(select(Device).where(column.in_(values))).scalars().all()
        active = [d for d in found if d.state not in END_STATES] or found
        if len(active) == 1:
            return active[0]
        if len(active) > 1:
            raise Conflict(
                _("{code} matches several devices: {tags}").format(code=text, tags=", ".join(d.tag for d in active)),
                hint=_("use the asset tag instead"),
                code="ambiguous",
            )
    raise NotFound(
        _("nothing matches {code!r}").format(code=text),
        hint=_("give an asset tag, donor asset tag, serial, IMEI or MAC"),
    )


class _FactQueries:
    """The statements facts_for runs, built once: building a select costs more than running it."""

    def __init__(self):
        from sqlalchemy import bindparam

        did = bindparam("did")
        cycle = bindparam("cycle")
        self.events = (select(Event.id, Event.action, Event.to_state, Event.data)
                       .where(Event.device_id == did).order_by(Event.id))
        self.media = (select(StorageMedium.id, StorageMedium.serial, StorageMedium.type)
                      .where(StorageMedium.device_id == did).order_by(StorageMedium.id))
        self.wipes = (select(WipeRecord.medium_id, WipeRecord.profile_id, WipeRecord.level, WipeRecord.result,
                             WipeRecord.verified, WipeRecord.event_id)
                      .where(WipeRecord.device_id == did, WipeRecord.event_id > cycle).order_by(WipeRecord.event_id))
        self.images = (select(ImageRecord.image_id, ImageRecord.event_id)
                       .where(ImageRecord.device_id == did, ImageRecord.event_id > cycle).order_by(ImageRecord.event_id))
        self.qcs = (select(QCRecord.kind, QCRecord.result, QCRecord.grade, QCRecord.items, QCRecord.event_id)
                    .where(QCRecord.device_id == did, QCRecord.event_id > cycle).order_by(QCRecord.event_id))
        self.locks = select(Lock.kind).where(Lock.device_id == did, Lock.released_at.is_(None))


_queries = None


def facts_for(session, device, ctx, extra_wipes=(), extra_images=(), extra_qcs=()):
    """What the guards may look at for one device: six small indexed queries, records of the
    current cycle only (everything before the last registration, receipt or return no longer counts)."""
    global _queries
    q = _queries = _queries or _FactQueries()
    run = session.connection().execute
    did = device.id
    events = run(q.events, {"did": did}).all()
    undone = {json.loads(e.data)["undoes"] for e in events if e.action == "undo"}
    events = [e for e in events if e.id not in undone]  # what was undone no longer counts
    cycle = max((e.id for e in events if e.action in lifecycle.CYCLE_ACTIONS), default=0)
    last_action = next((e.action for e in reversed(events) if e.to_state is not None), None)
    media = run(q.media, {"did": did}).all()
    serial_of = {m.id: m.serial for m in media}
    wipes = [r for r in run(q.wipes, {"did": did, "cycle": cycle}) if r.event_id not in undone]
    images = [r for r in run(q.images, {"did": did, "cycle": cycle}) if r.event_id not in undone]
    qcs = [r for r in run(q.qcs, {"did": did, "cycle": cycle}) if r.event_id not in undone]
    locks = run(q.locks, {"did": did}).scalars().all()
    return Facts(
        tag=device.tag,
        state=State(device.state),
        kind=device.kind,
        no_storage=device.no_storage,
        media=tuple(Medium(m.serial, m.type) for m in media),
        wipes=tuple(Wipe(serial_of[w.medium_id], w.profile_id, w.level, w.result, w.verified, w.event_id) for w in wipes)
        + tuple(extra_wipes),
        images=tuple(ImageFact(i.image_id, i.event_id, _image_problems(i.image_id, device)) for i in images)
        + tuple(extra_images),
        qcs=tuple(_qc_fact(r) for r in qcs) + tuple(extra_qcs),
        open_locks=tuple(locks),
        cycle_start=cycle,
        had_loan=any(e.action == "loan_out" for e in events),
        last_action=last_action,
        min_level=ctx.min_level,
        waived=frozenset(json.loads(e.data)["wipe_event"] for e in events
                         if e.action == "wipe_waived" and e.id > cycle),
    )


def _image_problems(image_id, device):
    image = catalog.load_images().get(image_id)
    if image is None:
        return (_("image {id} is not in the catalogue").format(id=image_id),)
    specs = json.loads(device.specs or "{}")
    return tuple(catalog.image_problems(image, device.kind, specs.get("ram_gb"), specs.get("storage_gb"),
                                        specs.get("facts")))


def _qc_fact(q):
    items = json.loads(q.items or "{}")
    checklist = catalog.load_checklist(q.kind)
    failed = tuple(i for i in checklist.mandatory_ids() if items.get(i) == "fail")
    missing = tuple(i for i in checklist.mandatory_ids() if i not in items)
    return QCFact(q.result, q.grade, q.event_id, failed, missing)


def _move(w, device, facts, action, data=None, partial=False, repeat_ok=False):
    """Plan `action` for a device and write its events; returns the events (empty for a no-op)."""
    if repeat_ok:
        facts = _replace(facts, last_action=None)
    plan = lifecycle.plan(facts, action, force=w.ctx.force, partial=partial)
    if plan.noop:
        return []
    return w.apply(device, plan, data)


def _replace(facts, **changes):
    return replace(facts, **changes)


def _device_result(device, events, **extra):
    out = {
        "tag": device.tag,
        "state": device.state,
        "make": device.make,
        "model": device.model,
        "events": [{"id": e.id, "action": e.action, "from_state": e.from_state, "to_state": e.to_state}
                   for e in events],
        "noop": not events,
    }
    out.update(extra)
    return out


# ---------------------------------------------------------------------------- setup


def init(ctx):
    before, after = db.migrate(ctx.url)
    _checked.discard(ctx.url)
    return {"database": db.display_url(db.normalise_url(ctx.url)), "from": before, "to": after}


def add_donor(ctx, name):
    name = _clean(name, _("donor name"))
    with writing(ctx) as w:
        if w.s.exec(select(Donor).where(Donor.name == name)).scalars().first():
            raise Conflict(_("donor {name!r} exists already").format(name=name), hint=_("list donors: refurb donor list"))
        donor = Donor(name=name, created_at=now())
        w.s.add(donor)
        w.s.flush()
        w.event("donor_added", data={"donor": name})
        return {"id": donor.id, "name": name}


def list_donors(ctx):
    with reading(ctx) as s:
        donors = s.exec(select(Donor).order_by(Donor.name)).scalars().all()
        return [{"name": d.name, "created_at": iso(d.created_at)} for d in donors]


def add_batch(ctx, donor, ref=None, donor_ref=None, received_on=None):
    with writing(ctx) as w:
        d = get_donor(w.s, donor)
        t = now()
        if ref is None:
            year = t.year
            count = w.s.exec(select(func.count(Batch.id)).where(Batch.ref.like(f"B-{year}-%"))).scalar()
            n = count + 1
            while w.s.exec(select(Batch.id).where(Batch.ref == f"B-{year}-{n:04d}")).first():
                n += 1
            ref = f"B-{year}-{n:04d}"
        ref = _clean(ref, _("batch reference"))
        if w.s.exec(select(Batch).where(Batch.ref == ref)).scalars().first():
            raise Conflict(_("batch {ref} exists already").format(ref=ref), hint=_("choose another --ref"))
        batch = Batch(ref=ref, donor_id=d.id, donor_ref=donor_ref, received_on=received_on, status="open", created_at=t)
        w.s.add(batch)
        w.s.flush()
        w.event("batch_added", data={"batch": ref, "donor": d.name, "donor_ref": donor_ref})
        return {"ref": ref, "donor": d.name, "donor_ref": donor_ref, "status": "open"}


def list_batches(ctx):
    with reading(ctx) as s:
        rows = s.exec(
            select(Batch.ref, Donor.name, Batch.status, func.count(Device.id))
            .join(Donor, Donor.id == Batch.donor_id)
            .join(Device, Device.batch_id == Batch.id, isouter=True)
            .group_by(Batch.id, Donor.name)
            .order_by(Batch.id)
        ).all()
        return [{"ref": r[0], "donor": r[1], "status": r[2], "devices": r[3]} for r in rows]


def reconcile(s, batch):
    """A batch against the donor's list: every device, those on the list (entered as expected), those
    still missing, those that arrived unlisted (extra) and those received."""
    devices = s.exec(select(Device).where(Device.batch_id == batch.id).order_by(Device.id)).scalars().all()
    first = {}
    for action, device_id in s.exec(
        select(Event.action, Event.device_id)
        .where(Event.device_id.in_(select(Device.id).where(Device.batch_id == batch.id)),
               Event.action.in_(lifecycle.ENTRY_ACTIONS))
    ).all():
        first.setdefault(device_id, action)
    return SimpleNamespace(
        devices=devices,
        listed=[d for d in devices if first.get(d.id) == "expect"],
        missing=[d for d in devices if d.state == State.EXPECTED],
        extra=[d for d in devices if first.get(d.id) == "register"],
        received=[d for d in devices if d.state != State.EXPECTED],
    )


def close_batch(ctx, ref):
    """Close a batch; report what is still expected (missing) and what arrived unlisted (extra)."""
    with writing(ctx) as w:
        batch = get_batch(w.s, ref)
        r = reconcile(w.s, batch)
        missing = [_summary(d) for d in r.missing]
        extra = [_summary(d) for d in r.extra]
        result = {
            "ref": batch.ref,
            "received": len(r.received),
            "missing": missing,
            "extra": extra,
            "already_closed": batch.status == "closed",
        }
        if batch.status != "closed":
            batch.status = "closed"
            batch.closed_at = now()
            w.s.add(batch)
            w.event(
                "batch_closed",
                data={"batch": batch.ref, "received": len(r.received), "missing": [m["tag"] for m in missing],
                      "extra": [x["tag"] for x in extra]},
            )
        return result


def add_digipunt(ctx, name, loan_days=28, max_extensions=2):
    name = _clean(name, _("digipunt name"))
    if loan_days < 1 or max_extensions < 0:
        raise UsageProblem(_("loan days must be at least 1 and extensions not negative"), hint=_("see --help"))
    with writing(ctx) as w:
        if w.s.exec(select(Location).where(Location.name == name)).scalars().first():
            raise Conflict(_("location {name!r} exists already").format(name=name), hint=_("list: refurb digipunt list"))
        loc = Location(name=name, kind="digipunt", loan_days=loan_days, max_extensions=max_extensions, created_at=now())
        w.s.add(loc)
        w.s.flush()
        w.event("digipunt_added", data={"digipunt": name, "loan_days": loan_days, "max_extensions": max_extensions})
        return {"name": name, "loan_days": loan_days, "max_extensions": max_extensions}


def list_digipunten(ctx):
    with reading(ctx) as s:
        rows = s.exec(select(Location).where(Location.kind == "digipunt").order_by(Location.name)).scalars().all()
        out = []
        for loc in rows:
            counts = dict(
                s.exec(
                    select(Device.state, func.count(Device.id)).where(Device.location_id == loc.id).group_by(Device.state)
                ).all()
            )
            out.append(
                {"id": loc.id, "name": loc.name, "loan_days": loc.loan_days, "max_extensions": loc.max_extensions,
                 "allocated": counts.get("allocated", 0), "on_loan": counts.get("on_loan", 0)}
            )
        return out


def add_operator(ctx, name, role):
    """Add an operator or change a role; any role but volunteer, and any change, needs a lead."""
    name = _clean(name, _("operator name"))
    with writing(ctx) as w:
        existing = w.s.exec(select(Operator).where(Operator.name == name)).scalars().first()
        if existing is not None and existing.role == role:
            return {"name": name, "role": role, "noop": True}
        if existing is w.operator:
            raise NotAllowed(_("operators cannot change their own role"), hint=_("ask another lead"))
        if role != "volunteer" or existing is not None:
            w.require_lead(_("giving the role {role}").format(role=role))
        if existing is None:
            w.s.add(Operator(name=name, role=role, created_at=now()))
        else:
            existing.role = role
            w.s.add(existing)
        w.event("operator_set", data={"operator": name, "role": role})
        return {"name": name, "role": role, "noop": False}


def bootstrap_lead(ctx, name, pin=None):
    """The first lead of a new database (`refurb init --lead NAME`, the demo, tests), with their PIN."""
    from . import pins

    name = _clean(name, _("operator name"))
    if pin is not None and not pins.valid(pin):
        raise UsageProblem(_("a PIN is 4 to 12 digits"), hint=_("choose another PIN"), code="bad-pin")
    _ready(ctx)
    with db.session(ctx.url, write=True) as s:
        leads = s.exec(select(Operator.name).where(Operator.role.in_(("lead", "admin")))).scalars().all()
        if name in leads:
            return {"name": name, "role": "lead", "noop": True}
        if leads:
            raise NotAllowed(
                _("this database has a lead already; only a lead can make another"),
                hint=_("refurb operator add NAME --role lead --operator <a lead>"),
            )
        op = s.exec(select(Operator).where(Operator.name == name)).scalars().first()
        if op is None:
            op = Operator(name=name, role="lead", created_at=now())
        op.role = "lead"
        if pin is not None:
            op.pin_hash = pins.hash_pin(pin)
        s.add(op)
        s.flush()
        Writer(s, replace(ctx, operator=name)).event("operator_set", data={"operator": name, "role": "lead"})
    return {"name": name, "role": "lead", "noop": False}


def set_pin(ctx, name, new_pin):
    """Set an operator's PIN.  Operators change their own (with their old PIN, or trust on first use when
    they have none yet); a lead with their PIN sets anyone's.  Only the hash is stored."""
    from . import pins

    name = _clean(name, _("operator name"))
    if not pins.valid(new_pin):
        raise UsageProblem(_("a PIN is 4 to 12 digits"), hint=_("choose another PIN"), code="bad-pin")
    with writing(ctx) as w:
        target = w.s.exec(select(Operator).where(Operator.name == name)).scalars().first()
        if target is None:
            raise NotFound(_("no operator named {name!r}").format(name=name),
                           hint=_("list them: refurb operator list"))
        own = target is w.operator
        if not own or (target.pin_hash and not pins.check_pin(ctx.pin or "", target.pin_hash)):
            if own:
                raise NotAllowed(_("changing {name}'s PIN needs the current one").format(name=name),
                                 hint=_("type it when asked, or set REFURB_PIN"), code="pin-required",
                                 data={"operator": name})
            w.require_lead(_("setting another operator's PIN"))
        first = target.pin_hash is None
        target.pin_hash = pins.hash_pin(new_pin)
        w.s.add(target)
        w.event("operator_pin_set", data={"operator": name, "first": first})
        return {"name": name, "first": first}


def operator_by_id(ctx, operator_id):
    """(name, role) of an operator badge's id."""
    with reading(ctx) as s:
        op = s.get(Operator, operator_id) if 0 < operator_id < 2**31 else None
        if op is None:
            raise NotFound(_("no operator with badge {id}").format(id=operator_id),
                           hint=_("print current badges: refurb station cards"))
        return op.name, op.role


def digipunt_by_id(ctx, location_id):
    with reading(ctx) as s:
        loc = s.get(Location, location_id) if 0 < location_id < 2**31 else None
        if loc is None or loc.kind != "digipunt":
            raise NotFound(_("no digipunt with card number {id}").format(id=location_id),
                           hint=_("print current cards: refurb station cards"))
        return loc.name


def list_operators(ctx):
    with reading(ctx) as s:
        return [{"id": o.id, "name": o.name, "role": o.role}
                for o in s.exec(select(Operator).order_by(Operator.name)).scalars()]


def _clean(value, what):
    value = (value or "").strip()
    if not value or any(ord(c) < 32 for c in value) or len(value) > 200:
        raise UsageProblem(
            _("{what} must be 1 to 200 printable characters").format(what=what), hint=_("see --help")
        )
    return value


# ---------------------------------------------------------------------------- intake


def _new_tag(w):
    prefix = w.ctx.settings.tag_prefix.upper()
    if not tags.PREFIX_SHAPE.match(prefix):
        from .errors import InvalidConfig

        raise InvalidConfig(
            _("tag prefix {prefix!r} must be 1 to 6 letters").format(prefix=prefix),
            hint=_("set tag_prefix in the config file or REFURB_TAG_PREFIX"),
        )
    counter = w.s.get(TagCounter, prefix)
    if counter is None:
        counter = TagCounter(prefix=prefix, next_seq=1)
    number = tags.next_number(prefix, counter.next_seq)
    counter.next_seq = number + 1
    w.s.add(counter)
    return tags.make(prefix, number)


def _identity_conflicts(w, serial, donor_tag, imei):
    for column, value, what in (
        (Device.serial, serial, _("serial")),
        (Device.donor_tag, donor_tag, _("donor asset tag")),
        (Device.imei, imei, "IMEI"),
    ):
        if not value:
            continue
        other = w.s.exec(
            select(Device).where(column == value, Device.state.not_in([str(s) for s in END_STATES]))
        ).scalars().first()
        if other is not None:
            hint = (
                _("it is expected: refurb intake receive {code}").format(code=value)
                if other.state == State.EXPECTED
                else _("see it with: refurb show {tag}").format(tag=other.tag)
            )
            raise Conflict(
                _("{what} {value} is already device {tag} ({state})").format(
                    what=what, value=value, tag=other.tag, state=other.state
                ),
                hint=hint,
                code="duplicate-device",
            )


def _create_device(w, batch_ref, kind, entry, make, model, serial, donor_tag, imei, mac, specs):
    from .states import DEVICE_KINDS

    if kind not in DEVICE_KINDS:
        raise UsageProblem(
            _("unknown device kind {kind!r}").format(kind=kind),
            hint=_("kinds: {choices}").format(choices=", ".join(DEVICE_KINDS)),
        )
    # identities are kept as given (trimmed); MACs as AA:BB:CC:DD:EE:FF so every form of a scan finds them
    serial = serial.strip() if serial else None
    donor_tag = donor_tag.strip() if donor_tag else None
    if mac:
        normalised = scanning.normalise_mac(mac)
        if normalised is None:
            raise UsageProblem(_("{mac} is not a MAC address").format(mac=mac), hint="--mac AA:BB:CC:DD:EE:FF")
        mac = normalised
    if not (serial or donor_tag):
        raise UsageProblem(_("a device needs a serial or a donor asset tag"), hint=_("give --serial or --donor-tag"))
    if imei and not scanning.is_imei(imei):
        raise UsageProblem(_("IMEI {imei} fails its check digit").format(imei=imei), hint=_("check the 15 digits"))
    batch = get_batch(w.s, batch_ref)
    _identity_conflicts(w, serial, donor_tag, imei)
    t = now()
    device = Device(
        tag=_new_tag(w), kind=kind, make=make, model=model, serial=serial, donor_tag=donor_tag, imei=imei, mac=mac, batch_id=batch.id, state=str(entry.target),
        specs=canonical(specs or {}), created_at=t, updated_at=t,
    )
    w.s.add(device)
    w.s.flush()
    w.event(entry.action, device, None, entry.target,
            {"batch": batch.ref, "make": make, "model": model, "serial": serial, "donor_tag": donor_tag})
    return device, batch


def register_device(ctx, batch, kind, make=None, model=None, serial=None, donor_tag=None, imei=None, mac=None,
                    specs=None):
    """A device physically here, not (or no longer) on a manifest: straight into intake."""
    return _enter(ctx, "register", batch, kind, make, model, serial, donor_tag, imei, mac, specs)


def expect_device(ctx, batch, kind, make=None, model=None, serial=None, donor_tag=None, imei=None, mac=None,
                  specs=None):
    """A device listed on a donor's manifest, not yet here."""
    return _enter(ctx, "expect", batch, kind, make, model, serial, donor_tag, imei, mac, specs)


def _enter(ctx, action, batch, *fields):
    with writing(ctx) as w:
        device, b = _create_device(w, batch, fields[0], lifecycle.rows(action)[0], *fields[1:])
        return _summary(device, batch=b.ref)


def receive(ctx, code):
    with writing(ctx) as w:
        device = resolve(w.s, code)
        events = _move(w, device, facts_for(w.s, device, ctx), "receive", {"code": code})
        return _device_result(device, events, **_summary(device))


# ---------------------------------------------------------------------------- hardware snapshots

# The image refurb suggests for a PC, best first, among those that suit the hardware: Windows 11 only where
# the snapshot shows the machine eligible, else Linux Mint, else ChromeOS Flex.  Tablets and phones keep
# their own system (a snapshot tool rarely runs on them), so no suggestion is made for them.
IMAGE_PREFERENCE = ("windows-11", "linux-mint", "chromeos-flex")


def attach_snapshots(ctx, files, batch=None, register=False, kind=None):
    """Hardware snapshots (lshw, dmidecode, smartctl, upower, eReuse Workbench) → the devices they
    describe, matched by serial (a drive's own file by its medium serial).  Each file is kept verbatim
    with its SHA-256 and fills what is still unknown: make and model, specs, storage media, battery
    health, Windows 11 eligibility and the suggested image.  One transaction per file; a file that
    matches nothing is listed (or registered with `register`), never dropped."""
    from . import evidence

    if register and not batch:
        raise UsageProblem(_("registering from a snapshot needs the batch"), hint=_("give --batch REF"))
    report = {"attached": [], "unmatched": [], "errors": []}
    for path in files:
        parsed = evidence.parse_file(path)
        if "error" in parsed:
            report["errors"].append({"file": str(path), "error": parsed["error"]})
            continue
        try:
            entry = _attach_snapshot(ctx, Path(path), parsed, batch if register else None, kind)
        except RefurbError as exc:
            report["unmatched"].append({"file": str(path), "serial": (parsed.get("device") or {}).get("serial"),
                                        "reason": exc.message})
            continue
        report["attached"].append(entry)
    return report


def _snapshot_device(s, parsed):
    """The device a snapshot is of, by the machine's serial, else by one of its drives' serials."""
    serial = (parsed.get("device") or {}).get("serial")
    candidates = []
    if serial:
        forms = list(dict.fromkeys(x for f in (serial, *scanning.serial_forms(serial)) for x in (f, f.upper())))
        candidates = s.exec(select(Device).where(Device.serial.in_(forms))).scalars().all()
    if not candidates:
        drives = [m["serial"] for m in parsed.get("media") or [] if m.get("serial")]
        if drives:
            candidates = s.exec(select(Device).join(StorageMedium, StorageMedium.device_id == Device.id)
                                .where(StorageMedium.serial.in_(drives))).scalars().unique().all()
    active = [d for d in candidates if d.state not in END_STATES]
    if len(active) > 1:
        raise Conflict(_("{serial} matches several devices: {tags}").format(
            serial=serial, tags=", ".join(d.tag for d in active)), code="ambiguous")
    return active[0] if active else None


def _attach_snapshot(ctx, path, parsed, register_batch, kind):
    from . import evidence

    content = path.read_bytes()
    digest = hashlib.sha256(content).hexdigest()
    found = parsed.get("device") or {}
    with writing(ctx) as w:
        device = _snapshot_device(w.s, parsed)
        registered = False
        if device is None:
            if not found.get("serial") and not parsed.get("media"):
                raise NotFound(_("the file names no serial of a machine or a drive"))
            if register_batch is None:
                raise NotFound(_("no device has serial {serial}").format(
                    serial=found.get("serial") or ", ".join(m.get("serial") or "?" for m in parsed["media"])))
            if not found.get("serial"):
                raise NotFound(_("the file names no machine serial to register the device by"))
            device, _b = _create_device(w, register_batch, kind or found.get("kind") or "laptop",
                                        lifecycle.rows("register")[0], found.get("make"), found.get("model"),
                                        found["serial"], None, None, None, None)
            registered = True
        known = w.s.exec(select(Evidence.id).where(Evidence.device_id == device.id, Evidence.sha256 == digest)).first()
        if known is not None:
            return {"file": str(path), "kind": parsed["kind"], "tag": device.tag, "noop": True,
                    "registered": False, "state": device.state}
        events = []
        if device.state == State.EXPECTED:  # a snapshot is taken on the bench: the device is here
            events += _move(w, device, facts_for(w.s, device, ctx), "receive", {"code": found.get("serial")})
        filled = [k for k in ("make", "model") if found.get(k) and not getattr(device, k)]
        for k in filled:
            setattr(device, k, found[k])
        specs = json.loads(device.specs or "{}")
        new_specs = dict(parsed.get("specs") or {})
        battery = parsed.get("battery") or {}
        if battery.get("health_percent") is not None:
            new_specs["battery_health"] = battery["health_percent"]
        verdict = new_specs["windows11"] = evidence.windows11(parsed)
        specs.update(new_specs)
        media_added, media_skipped = _snapshot_media(w, device, parsed.get("media") or [])
        suggested = _suggest_image(device.kind, specs)
        specs["suggested_image"] = suggested
        device.specs = canonical({k: v for k, v in specs.items() if v is not None})
        w.s.add(device)
        stored = _store_evidence(w, device, [path])
        events.append(w.event("snapshot_attached", device, device.state, None, {
            "file": path.name, "sha256": digest, "kind": parsed["kind"], "filled": filled + sorted(new_specs),
            "media": [m["serial"] for m in media_added]}))
        return {"file": str(path), "kind": parsed["kind"], "tag": device.tag, "noop": False, "registered": registered,
                "state": device.state, "evidence": stored[0]["sha256"], "media_added": media_added,
                "media_skipped": media_skipped, "specs": json.loads(device.specs), "windows11": verdict,
                "suggested_image": suggested, "warnings": parsed.get("warnings") or []}


def _snapshot_media(w, device, media):
    """Add the snapshot's drives the device does not have yet (only while its media may change)."""
    from .states import MEDIA_TYPES

    have = set(w.s.exec(select(StorageMedium.serial).where(StorageMedium.device_id == device.id)).scalars())
    added, skipped = [], []
    for m in media:
        serial, kind = m.get("serial"), m.get("type")
        if not serial or serial in have:
            if not serial:
                skipped.append({"model": m.get("model"), "reason": _("no serial")})
            continue
        if kind not in MEDIA_TYPES:
            skipped.append({"serial": serial, "reason": _("unknown media type {type!r}").format(type=kind)})
            continue
        if State(device.state) not in MEDIA_EDITABLE:
            skipped.append({"serial": serial, "reason": _("the device is {state}").format(state=device.state)})
            continue
        w.s.add(StorageMedium(device_id=device.id, serial=serial, type=kind, size_bytes=m.get("size_bytes"),
                              model=m.get("model"), created_at=now()))
        device.no_storage = False
        w.event("media_added", device, device.state, None,
                {"serial": serial, "type": kind, "size_bytes": m.get("size_bytes")})
        have.add(serial)
        added.append({"serial": serial, "type": kind, "size_bytes": m.get("size_bytes"), "model": m.get("model")})
    return added, skipped


def _suggest_image(kind, specs):
    images = catalog.load_images()
    for image_id in IMAGE_PREFERENCE:
        image = images.get(image_id)
        if image is None:
            continue
        if image_id == "windows-11" and (specs.get("windows11") or {}).get("eligible") is not True:
            continue  # only on a machine known to be eligible
        if not catalog.image_problems(image, kind, specs.get("ram_gb"), specs.get("storage_gb"), specs.get("facts")):
            return image_id
    return None


# ---------------------------------------------------------------------------- media and wiping

MEDIA_EDITABLE = frozenset({State.INTAKE, State.WIPE_PENDING, State.WIPING, State.WIPE_FAILED, State.LOCKED, State.REPAIR})


def _require_state(device, allowed, what):
    if State(device.state) not in allowed:
        raise TransitionRefused(
            _("{tag}: cannot {what} while it is in {state}").format(tag=device.tag, what=what, state=device.state),
            hint=_("allowed in: {states}").format(states=", ".join(sorted(allowed))),
        )


def add_medium(ctx, code, type, serial, size_bytes=None, model=None):
    from .states import MEDIA_TYPES

    if type not in MEDIA_TYPES:
        raise UsageProblem(_("unknown media type {type!r}").format(type=type),
                           hint=_("types: {choices}").format(choices=", ".join(MEDIA_TYPES)))
    serial = _clean(serial, _("medium serial"))
    with writing(ctx) as w:
        device = resolve(w.s, code)
        existing = w.s.exec(
            select(StorageMedium).where(StorageMedium.device_id == device.id, StorageMedium.serial == serial)
        ).scalars().first()
        if existing is not None:
            if existing.type == type:  # a repeat (another station was first): harmless in any state
                return {"tag": device.tag, "serial": serial, "type": type, "noop": True}
            raise Conflict(
                _("{tag} has medium {serial} already, as {type}").format(tag=device.tag, serial=serial, type=existing.type),
                hint=_("a medium's type cannot change; check the serial"),
            )
        _require_state(device, MEDIA_EDITABLE, _("add a storage medium"))
        w.s.add(StorageMedium(device_id=device.id, serial=serial, type=type, size_bytes=size_bytes, model=model,
                              created_at=now()))
        if device.no_storage:
            device.no_storage = False
        w.event("media_added", device, device.state, None, {"serial": serial, "type": type, "size_bytes": size_bytes})
        w.s.add(device)
        return {"tag": device.tag, "serial": serial, "type": type, "noop": False}


def no_media(ctx, code):
    with writing(ctx) as w:
        device = resolve(w.s, code)
        _require_state(device, MEDIA_EDITABLE, _("state that it has no storage"))
        count = w.s.exec(select(func.count(StorageMedium.id)).where(StorageMedium.device_id == device.id)).scalar()
        if count:
            raise Conflict(
                _("{tag} has {n} storage media recorded").format(tag=device.tag, n=count),
                hint=_("see them with: refurb show {tag}").format(tag=device.tag),
            )
        if device.no_storage:
            return {"tag": device.tag, "noop": True}
        device.no_storage = True
        w.s.add(device)
        w.event("media_none", device, device.state, None, {})
        return {"tag": device.tag, "noop": False}


def _store_evidence(w, device, paths):
    out = []
    for p in paths:
        path = Path(p)
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise NotFound(
                _("{file}: cannot read evidence: {reason}").format(file=p, reason=exc.strerror),
                hint=_("check the path"),
            ) from exc
        digest = hashlib.sha256(content).hexdigest()
        ev = Evidence(device_id=device.id, filename=path.name, sha256=digest, size=len(content), content=content,
                      created_at=now())
        w.s.add(ev)
        w.s.flush()
        out.append({"id": ev.id, "file": path.name, "sha256": digest, "size": len(content)})
    return out


def record_wipe(ctx, code, medium, profile_id, result, verified=True, evidence=(), tool=None, details=None,
                started=None, verification=None):
    """Record a wipe of one medium; the device moves as far towards `wiped` as its guards allow.

    `details` (tool version, whether the drive's serial was checked, canaries …) go into the event, where
    the hash chain keeps them and the certificate reads them."""
    if result not in ("pass", "fail"):
        raise UsageProblem(_("result must be pass or fail"), hint=_("--result pass|fail"))
    profile = catalog.load_profiles(_profile_dirs(ctx)).get(profile_id)
    if profile is None:
        raise NotFound(_("no wipe profile {id!r}").format(id=profile_id), hint=_("list them: refurb wipe profiles"))
    with writing(ctx) as w:
        device = resolve(w.s, code)
        m = _medium(w.s, device, medium)
        level = profile.level_for(m.type)
        if level is None:
            raise TransitionRefused(
                _("wipe profile {profile} does not apply to {type} media (medium {serial})").format(
                    profile=profile.id, type=m.type, serial=m.serial),
                hint=_("profiles for {type}: {ids}").format(
                    type=m.type,
                    ids=", ".join(p.id for p in catalog.load_profiles(_profile_dirs(ctx)).values() if p.level_for(m.type)),
                ),
                code="profile-mismatch",
            )
        _require_state(device, lifecycle.WIPE_RECORDABLE, _("record a wipe"))
        facts = facts_for(w.s, device, ctx, extra_wipes=[
            Wipe(m.serial, profile.id, level, result, bool(verified), PLACEHOLDER_EVENT)])
        goal = "finish_wipe" if result == "pass" else "fail_wipe"
        try:
            plan = lifecycle.plan(facts, goal, force=None, partial=True)
        except TransitionRefused:
            plan = lifecycle.Plan()  # locked or in repair: the record is kept, the state stays
        stored = _store_evidence(w, device, evidence)
        e = w.event("wipe_recorded", device, device.state, None,
                    {**(details or {}), "medium": m.serial, "profile": profile.id, "result": result, "level": level,
                     "verified": bool(verified), "evidence": [x["sha256"] for x in stored]})
        t = now()
        w.s.add(WipeRecord(
            device_id=device.id, medium_id=m.id, profile_id=profile.id, profile_version=profile.version,
            method=profile.method, level=level, tool=tool or profile.tool, result=result, verified=bool(verified),
            verification=(verification or profile.verification) if verified else "none", started_at=started,
            ended_at=t,
            evidence=canonical(stored), event_id=e.id, operator=w.operator.name, created_at=t))
        events = [e] + w.apply(device, plan)
        return _device_result(device, events, medium=m.serial, profile=profile.id, level=level, result=result)


def waive_wipe(ctx, code, medium, reason):
    """A lead accepts a passing, verified wipe that stays below the policy's level for its media type
    (SPEC §5): the waiver is an event of its own, names the wipe it covers, and every certificate prints it."""
    reason = _clean(reason, _("waiver reason"))
    with writing(ctx) as w:
        w.require_lead(_("waiving the wipe policy"))
        device = resolve(w.s, code)
        m = _medium(w.s, device, medium)
        facts = facts_for(w.s, device, ctx)
        need = facts.min_level.get(m.type, "clear")
        wipes = [x for x in facts.wipes if x.serial == m.serial and x.result == "pass" and x.verified and x.level]
        if not wipes:
            raise TransitionRefused(
                _("{tag}: no passing, verified wipe of medium {serial} to waive").format(tag=device.tag, serial=m.serial),
                hint=_("a waiver accepts a lower level, never a failed or unverified wipe"),
                code="nothing-to-waive")
        wipe = wipes[-1]
        if lifecycle.wipe_counts(wipe, need, facts.waived):
            return _device_result(device, [], medium=m.serial, level=wipe.level, policy_level=need)
        e = w.event("wipe_waived", device, device.state, None,
                    {"medium": m.serial, "level": wipe.level, "policy_level": need, "reason": reason,
                     "wipe_event": wipe.event_id})
        facts = _replace(facts, waived=facts.waived | {wipe.event_id})
        try:
            plan = lifecycle.plan(facts, "finish_wipe", force=None, partial=True)
        except TransitionRefused:
            plan = lifecycle.Plan()  # another medium still needs its wipe: the waiver is kept
        events = [e] + w.apply(device, plan)
        return _device_result(device, events, medium=m.serial, level=wipe.level, policy_level=need, reason=reason)


def _medium(session, device, serial):
    m = session.exec(
        select(StorageMedium).where(StorageMedium.device_id == device.id, StorageMedium.serial == serial)
    ).scalars().first()
    if m is None:
        raise NotFound(
            _("{tag} has no storage medium {serial}").format(tag=device.tag, serial=serial),
            hint=_("add it first: refurb media add {tag} --type … --serial {serial}").format(
                tag=device.tag, serial=serial),
        )
    return m


def run_wipe(ctx, code, medium, device_path, profile_id, serial_check=True, progress=None):
    """Run a profile's tool on the disk of one medium (refurb.wiperun) and record what happened.

    Everything is checked before a byte is written (the device and medium exist, the state allows a wipe,
    the profile fits; then wiperun's own refusals).  The wipe itself runs outside any transaction; its
    record, log and the details the certificate prints (tool version, serial checked or not, canaries)
    are written afterwards in one, pass or fail."""
    from . import wiperun

    profile = catalog.load_profiles(_profile_dirs(ctx)).get(profile_id)
    if profile is None:
        raise NotFound(_("no wipe profile {id!r}").format(id=profile_id), hint=_("list them: refurb wipe profiles"))
    with reading(ctx) as s:
        device = resolve(s, code)
        m = _medium(s, device, medium)
        _require_state(device, lifecycle.WIPE_RECORDABLE, _("record a wipe"))
        tag, serial, medium_type = device.tag, m.serial, m.type
    workdir = ctx.settings.home / "wipe-runs" / tag
    run = wiperun.run(profile, device_path, medium_serial=serial, medium_type=medium_type,
                      serial_check=serial_check, workdir=workdir, progress=progress)
    evidence = [run["log_path"]] if run["log_path"] else []
    details = {k: run[k] for k in ("serial_checked", "serial_read", "device", "canaries",
                                   "samples", "preflight", "reasons", "interrupted", "exit_code")}
    version = re.search(r"\d+(?:\.\d+)+\S*", run.get("tool_version") or "")  # "nwipe version 0.33" → 0.33
    details["tool_version"] = version.group(0) if version else run.get("tool_version")
    started = datetime.fromisoformat(run["started"]) if run.get("started") else None
    recorded = record_wipe(ctx, tag, serial, profile.id, run["result"], run["verified"], evidence,
                           tool=profile.tool, details=details, started=started, verification=run["verification"])
    return {**recorded, "run": run}


VERIFIED = frozenset({"all", "last", "full", "sample", "verified", "yes", "true"})


def import_wipes(ctx, files):
    """Erasure evidence → wipe records, matched by drive serial (issue 4 item 4).

    Every erasure found is reported: imported, already imported, or not imported with the reason
    (no serial, no medium with that serial, no result, no profile for that media type and level).
    Nothing is dropped silently; each record is its own transaction, as with `wipe record`."""
    from . import evidence

    report = {"imported": [], "unmatched": [], "errors": []}
    profiles = catalog.load_profiles(_profile_dirs(ctx))
    for path in files:
        parsed = evidence.parse_file(path)
        if "error" in parsed:
            report["errors"].append({"file": str(path), "error": parsed["error"]})
            continue
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        for e in parsed.get("erasures") or []:
            entry = {"file": str(path), "serial": e.get("serial"), "path": e.get("path"), "method": e.get("method")}
            reason, target = _wipe_target(ctx, e, profiles, digest)
            if reason:
                report["unmatched"].append({**entry, "reason": reason})
                continue
            tag, profile_id = target
            if profile_id is None:
                report["imported"].append({**entry, "tag": tag, "noop": True})
                continue
            verified = str(e.get("verification") or "").lower() in VERIFIED
            result = "pass" if e["result"] == "pass" else "fail"
            try:
                r = record_wipe(ctx, tag, e["serial"], profile_id, result, verified, [path], tool=parsed["kind"])
            except RefurbError as exc:  # e.g. the device is lent out: listed, the other records go on
                report["unmatched"].append({**entry, "reason": exc.message})
                continue
            report["imported"].append({**entry, "tag": tag, "profile": profile_id, "result": result,
                                       "verified": verified, "state": r["state"], "noop": False})
    return report


def _wipe_target(ctx, e, profiles, digest):
    """(reason it cannot be imported, None) or (None, (tag, profile id or None when imported before))."""
    if not e.get("serial"):
        return _("the evidence names no drive serial ({path})").format(path=e.get("path") or "?"), None
    if e.get("result") not in ("pass", "fail", "aborted"):
        return _("the evidence has no result (an unfinished or partial log)"), None
    with reading(ctx) as s:
        found = s.exec(select(StorageMedium, Device).join(Device, Device.id == StorageMedium.device_id)
                       .where(StorageMedium.serial == e["serial"])).all()
        found = [(m, d) for m, d in found if d.state not in END_STATES]
        if not found:
            return _("no storage medium {serial} is known").format(serial=e["serial"]), None
        if len(found) > 1:
            return _("several devices have a medium {serial}").format(serial=e["serial"]), None
        medium, device = found[0]
        for w in s.exec(select(WipeRecord.evidence).where(WipeRecord.medium_id == medium.id)).scalars():
            if any(x.get("sha256") == digest for x in json.loads(w)):
                return None, (device.tag, None)
    fitting = [p.id for p in profiles.values() if e.get("level") and p.level_for(medium.type) == e["level"]
               and (p.id == "destroy") == (e["level"] == "destroy")]
    if len(fitting) != 1:
        return _("no single wipe profile reaches {level} on {type} media ({found})").format(
            level=e.get("level") or "?", type=medium.type, found=", ".join(fitting) or "-"), None
    return None, (device.tag, fitting[0])


def _profile_dirs(ctx):
    return (ctx.settings.profiles_dir,) if ctx.settings.profiles_dir else ()


def start_wipe(ctx, code):
    """A device goes on the wipe bench: intake/wipe_pending → wiping (the wipe station's scan)."""
    with writing(ctx) as w:
        device = resolve(w.s, code)
        events = _move(w, device, facts_for(w.s, device, ctx), "start_wipe")
        return _device_result(device, events)


def list_profiles(ctx):
    return [
        {"id": p.id, "version": p.version, "name": p.name, "standard": p.standard, "method": p.method,
         "media": list(p.media), "level": dict(p.levels), "verification": p.verification, "tool": p.tool}
        for p in catalog.load_profiles(_profile_dirs(ctx)).values()
    ]


def list_images():
    return [
        {"id": i.id, "name": i.name, "os": i.os, "licence": i.licence, "kinds": list(i.kinds)}
        for i in catalog.load_images().values()
    ]


# ---------------------------------------------------------------------------- reimage, QC


def reimage(ctx, code, image_id):
    image = catalog.load_images().get(image_id)
    if image is None:
        raise NotFound(_("no image {id!r} in the catalogue").format(id=image_id), hint=_("list them: refurb images"))
    with writing(ctx) as w:
        device = resolve(w.s, code)
        facts = facts_for(w.s, device, ctx)
        current = facts.image_since_wipe()
        if device.state == State.IMAGED and current and current.image_id == image_id:
            return _device_result(device, [], image=image_id)
        facts = _replace(facts, images=facts.images + (
            ImageFact(image_id, PLACEHOLDER_EVENT, _image_problems(image_id, device)),))
        plan = lifecycle.plan(_replace(facts, last_action=None), "reimage", force=ctx.force)
        events = w.apply(device, plan, {"image": image_id, "licence": image.licence})
        w.s.add(ImageRecord(device_id=device.id, image_id=image_id, licence=image.licence, event_id=events[-1].id,
                            operator=w.operator.name, created_at=now()))
        return _device_result(device, events, image=image_id)


def record_qc(ctx, code, passed, checks=None, grade=None, battery=None):
    """Record a quality check; --pass is refused when a mandatory item was recorded as failed.

    `battery` is the measured battery health in %: below the checklist's threshold (or the policy's
    battery_min_health) the battery item fails."""
    from .states import GRADES

    checks = dict(checks or {})
    if battery is not None and not 0 <= battery <= 100:
        raise UsageProblem(_("battery health must be 0 to 100 %"), hint="--battery 81")
    if grade is not None and grade not in GRADES:
        raise UsageProblem(_("grade must be one of {choices}").format(choices=", ".join(GRADES)), hint="--grade A|B|C")
    for item, value in checks.items():
        if value not in ("ok", "fail"):
            raise UsageProblem(_("check {item}: {value!r} is not ok or fail").format(item=item, value=value),
                               hint="--check ITEM=ok|fail")
    with writing(ctx) as w:
        device = resolve(w.s, code)
        checklist = catalog.load_checklist(device.kind)
        unknown = [i for i in checks if checklist.item(i) is None]
        if unknown:
            raise UsageProblem(
                _("not on the {kind} checklist: {items}").format(kind=device.kind, items=", ".join(unknown)),
                hint=_("items: {ids}").format(ids=", ".join(i.id for i in checklist.items)),
            )
        measured = {}
        item = checklist.item("battery")
        if battery is not None and item is not None:
            minimum = ctx.settings.battery_min_health or item.threshold or 0
            checks["battery"] = "ok" if battery >= minimum else "fail"
            measured = {"battery_health": battery, "battery_min": minimum}
        failed = [i for i in checklist.mandatory_ids() if checks.get(i) == "fail"]
        if passed:
            if failed:
                raise TransitionRefused(
                    _("{tag} cannot pass quality check: mandatory items failed: {items}").format(
                        tag=device.tag, items=", ".join(failed)),
                    hint=_("record it as failed: refurb qc {tag} --fail …").format(tag=device.tag),
                )
            # --pass states that every mandatory item not listed passed
            for item in checklist.mandatory_ids():
                checks.setdefault(item, "ok")
        elif not failed and not any(v == "fail" for v in checks.values()):
            raise UsageProblem(_("--fail needs at least one --check ITEM=fail"), hint="--check ITEM=fail")
        result = "pass" if passed else "fail"
        q = QCRecord(device_id=device.id, kind=device.kind, result=result, grade=grade, items=canonical(checks),
                     event_id=PLACEHOLDER_EVENT, operator=w.operator.name, created_at=now())
        facts = facts_for(w.s, device, ctx, extra_qcs=[_qc_fact(q)])
        action = "qc_pass" if passed else "qc_fail"
        plan = lifecycle.plan(facts, action, force=ctx.force)
        if plan.noop:
            return _device_result(device, [], result=result, grade=device.grade)
        events = w.apply(device, plan, {"result": result, "grade": grade, "checks": checks, "grade_before": device.grade,
                                        **measured})
        q.event_id = events[-1].id
        w.s.add(q)
        if measured:
            specs = json.loads(device.specs or "{}")
            specs["battery_health"] = battery
            device.specs = canonical(specs)
        if passed:
            device.grade = grade
        w.s.add(device)
        return _device_result(device, events, result=result, grade=grade)


# ---------------------------------------------------------------------------- locks, repair, ends


def lock(ctx, code, kind, note=None):
    from .states import LOCK_KINDS

    if kind not in LOCK_KINDS:
        raise UsageProblem(_("unknown lock kind {kind!r}").format(kind=kind),
                           hint=_("kinds: {choices}").format(choices=", ".join(LOCK_KINDS)))
    with writing(ctx) as w:
        device = resolve(w.s, code)
        facts = facts_for(w.s, device, ctx)
        if kind in facts.open_locks:
            return _device_result(device, [], lock=kind)
        plan = lifecycle.plan(_replace(facts, open_locks=facts.open_locks + (kind,), last_action=None), "lock")
        events = w.apply(device, plan, {"lock": kind, "note": note})
        w.s.add(Lock(device_id=device.id, kind=kind, note=note, opened_at=now(), opened_event_id=events[-1].id))
        return _device_result(device, events, lock=kind)


def unlock(ctx, code, evidence, kind=None):
    with writing(ctx) as w:
        w.require_lead(_("lifting a lock"))
        device = resolve(w.s, code)
        query = select(Lock).where(Lock.device_id == device.id, Lock.released_at.is_(None))
        if kind:
            query = query.where(Lock.kind == kind)
        locks = w.s.exec(query).scalars().all()
        if not locks:
            raise NotFound(_("{tag} has no open lock").format(tag=device.tag) if not kind else
                           _("{tag} has no open lock of kind {kind}").format(tag=device.tag, kind=kind),
                           hint=_("see it with: refurb show {tag}").format(tag=device.tag))
        stored = _store_evidence(w, device, [evidence])[0]
        facts = facts_for(w.s, device, ctx)
        remaining = tuple(k for k in facts.open_locks if k not in {lk.kind for lk in locks})
        plan = (lifecycle.plan(_replace(facts, open_locks=remaining, last_action=None), "unlock")
                if not remaining and device.state == State.LOCKED else lifecycle.Plan())
        e = w.event("lock_released", device, device.state, None,
                    {"locks": [lk.kind for lk in locks], "evidence": stored["sha256"]})
        for lk in locks:
            lk.released_at, lk.released_event_id, lk.evidence_id = now(), e.id, stored["id"]
            w.s.add(lk)
        events = [e] + w.apply(device, plan)
        return _device_result(device, events, released=[lk.kind for lk in locks])


def repair(ctx, code, done=False, note=None):
    with writing(ctx) as w:
        device = resolve(w.s, code)
        facts = facts_for(w.s, device, ctx)
        events = _move(w, device, facts, "repaired" if done else "repair", {"note": note})
        return _device_result(device, events)


def to_parts(ctx, code, note=None):
    return _end(ctx, code, "parts", {"note": note})


def recycle(ctx, code, recycler, reference=None):
    recycler = _clean(recycler, _("recycler"))
    return _end(ctx, code, "recycle", {"recycler": recycler, "reference": reference}, lead=_("recycling a device"))


def return_to_donor(ctx, code, note=None):
    return _end(ctx, code, "return_to_donor", {"note": note})


def _end(ctx, code, action, data, lead=None):
    """Move a device to an end state; `lead` names the action when only a lead may do it."""
    with writing(ctx) as w:
        if lead:
            w.require_lead(lead)
        device = resolve(w.s, code)
        events = _move(w, device, facts_for(w.s, device, ctx), action, data)
        device.location_id = None
        w.s.add(device)
        return _device_result(device, events)


# ---------------------------------------------------------------------------- lending


def allocate(ctx, code, digipunt=None, release=False):
    with writing(ctx) as w:
        device = resolve(w.s, code)
        facts = facts_for(w.s, device, ctx)
        if release:
            current = w.s.get(Location, device.location_id) if device.location_id else None
            events = _move(w, device, facts, "release", {"digipunt": current.name if current else None})
            device.location_id = None
            w.s.add(device)
            return _device_result(device, events)
        loc = get_digipunt(w.s, digipunt)
        if device.state == State.ALLOCATED and device.location_id != loc.id:
            current = w.s.get(Location, device.location_id)
            raise Conflict(
                _("{tag} is allocated to {name} already").format(tag=device.tag, name=current.name if current else "?"),
                hint=_("release it first: refurb allocate {tag} --release").format(tag=device.tag),
            )
        events = _move(w, device, facts, "allocate", {"digipunt": loc.name})
        device.location_id = loc.id
        w.s.add(device)
        return _device_result(device, events, digipunt=loc.name)


def _open_loan(s, device):
    return s.exec(
        select(Loan).where(Loan.device_id == device.id, Loan.returned_at.is_(None), Loan.lost.is_(False))
    ).scalars().first()


BRUSSELS = "Europe/Brussels"


def today(at=None):
    """The calendar day in Brussels (SPEC §11) of `at` (default: now)."""
    from zoneinfo import ZoneInfo

    return (at or now()).astimezone(ZoneInfo(BRUSSELS)).date()


def _paper_time(s, device, at):
    """When a loan or return made on paper happened: given as `at`, never in the future and never before
    the device's last recorded step (the history stays in order).  None: it happens now."""
    if at is None:
        return None
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    if at > now() + timedelta(minutes=1):
        raise UsageProblem(_("--at {at} is in the future").format(at=iso(at)), hint=_("give when it happened"))
    last = s.get(Event, device.last_event_id) if device.last_event_id else None
    if last is not None and at < _aware(last.at):
        raise UsageProblem(
            _("--at {at} is before {tag}'s last recorded step ({last})").format(at=iso(at), tag=device.tag,
                                                                                  last=iso(last.at)),
            hint=_("record paper loans and returns in the order they happened"), code="out-of-order")
    return at


def _aware(value):
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def loan_out(ctx, code, borrower, due=None, accessories=(), at=None):
    """Lend an allocated device.  The borrower is a pseudonymous reference; events keep only its number, so
    `borrower purge` can remove the reference later (SPEC §10).  `at`: a loan made on paper, recorded now."""
    borrower = _clean(borrower, _("borrower reference"))
    accessories = sorted({_clean(a, _("accessory")) for a in accessories})
    with writing(ctx) as w:
        device = resolve(w.s, code)
        if device.state == State.ON_LOAN:
            loan = _open_loan(w.s, device)
            b = w.s.get(Borrower, loan.borrower_id) if loan else None
            if b is not None and b.ref == borrower:
                return _device_result(device, [], borrower=borrower, due=loan.due_on.date().isoformat(),
                                      accessories=json.loads(loan.accessories))
            raise Conflict(_("{tag} is on loan already").format(tag=device.tag),
                           hint=_("return it first: refurb loan return {tag} …").format(tag=device.tag))
        when = _paper_time(w.s, device, at)
        facts = facts_for(w.s, device, ctx)
        loc = w.s.get(Location, device.location_id) if device.location_id else None
        plan = lifecycle.plan(facts, "loan_out", force=ctx.force)
        t = when or now()
        due_day = due or today(t) + timedelta(days=loc.loan_days)
        if due_day < today(t):
            raise UsageProblem(_("the due date {due} is in the past").format(due=due_day.isoformat()),
                               hint="--due YYYY-MM-DD")
        due_on = datetime.combine(due_day, time.min, tzinfo=UTC)
        b = w.s.exec(select(Borrower).where(Borrower.ref == borrower)).scalars().first()
        if b is None:
            b = Borrower(ref=borrower, digipunt_id=loc.id, created_at=now())
        b.last_loan_at = max(_aware(b.last_loan_at), t) if b.last_loan_at else t
        w.s.add(b)
        w.s.flush()
        events = w.apply(device, plan, {"borrower_id": b.id, "due": due_day.isoformat(), "digipunt": loc.name,
                                        "accessories": accessories}, at=when)
        w.s.add(Loan(device_id=device.id, borrower_id=b.id, digipunt_id=loc.id, out_at=t, due_on=due_on,
                     accessories=canonical(accessories), event_id=events[-1].id))
        return _device_result(device, events, borrower=borrower, due=due_day.isoformat(), accessories=accessories,
                              at=iso(t))


def loan_return(ctx, code, condition, accessories=None, at=None):
    """Take a device back.  With `accessories` (what came back), the loan's checklist is compared: anything
    missing makes the return incomplete.  Damaged goes to repair, anything else to the wipe queue."""
    from .states import CONDITIONS

    if condition not in CONDITIONS:
        raise UsageProblem(_("condition must be one of {choices}").format(choices=", ".join(CONDITIONS)),
                           hint="--condition ok|damaged|incomplete")
    with writing(ctx) as w:
        device = resolve(w.s, code)
        when = _paper_time(w.s, device, at)
        facts = facts_for(w.s, device, ctx)
        loan = _open_loan(w.s, device)
        plan = lifecycle.plan(facts, "return")
        if plan.noop:
            return _device_result(device, [])
        missing = []
        if accessories is not None and loan is not None:
            back = {a.strip() for a in accessories}
            missing = [a for a in json.loads(loan.accessories) if a not in back]
            if missing and condition == "ok":
                condition = "incomplete"
        data = {"condition": condition, **({"missing_accessories": missing} if missing else {})}
        events = w.apply(device, plan, data, at=when)
        after = "repair" if condition == "damaged" else "requeue"
        facts = facts_for(w.s, device, ctx)
        events += w.apply(device, lifecycle.plan(facts, after), {"condition": condition} if after == "repair" else {},
                          at=when)
        if loan is not None:
            loan.returned_at, loan.condition = when or now(), condition
            w.s.add(loan)
        device.location_id = None
        w.s.add(device)
        return _device_result(device, events, condition=condition, missing_accessories=missing)


def loan_extend(ctx, code, days=None, due=None):
    """Move an open loan's due date later, within the digipunt's maximum number of extensions (a lead may
    --force one more; it is recorded)."""
    with writing(ctx) as w:
        device = resolve(w.s, code)
        loan = _open_loan(w.s, device)
        if device.state != State.ON_LOAN or loan is None:
            raise TransitionRefused(_("{tag} is not on loan").format(tag=device.tag),
                                    hint=_("see it: refurb show {tag}").format(tag=device.tag), code="not-on-loan")
        loc = w.s.get(Location, loan.digipunt_id)
        forced = None
        if loan.extensions >= loc.max_extensions:
            if not ctx.force:
                raise TransitionRefused(
                    _("{tag}: the loan was extended {n} times already; {name} allows {max}").format(
                        tag=device.tag, n=loan.extensions, name=loc.name, max=loc.max_extensions),
                    hint=_("a lead may allow one more: --force \"reason\""), code="max-extensions")
            w.require_lead(_("extending a loan beyond the policy"))
            forced = ctx.force
        before = loan.due_on.date()
        new_due = due or before + timedelta(days=days or loc.loan_days)
        if new_due <= before:
            raise UsageProblem(_("the new due date {due} is not after {before}").format(
                due=new_due.isoformat(), before=before.isoformat()), hint="--due YYYY-MM-DD")
        loan.due_on = datetime.combine(new_due, time.min, tzinfo=UTC)
        loan.extensions += 1
        w.s.add(loan)
        e = w.event("loan_extended", device, device.state, None,
                    {"due_before": before.isoformat(), "due": new_due.isoformat(), "extension": loan.extensions},
                    forced)
        return _device_result(device, [e], due=new_due.isoformat(), extensions=loan.extensions,
                              max_extensions=loc.max_extensions)


def overdue(ctx, digipunt=None, on=None):
    """The worklist of loans past their due date, most overdue first."""
    day = on or today()
    with reading(ctx) as s:
        query = (select(Device.tag, Borrower.ref, Location.name, Loan.due_on)
                 .join(Device, Device.id == Loan.device_id).join(Borrower, Borrower.id == Loan.borrower_id)
                 .join(Location, Location.id == Loan.digipunt_id)
                 .where(Loan.returned_at.is_(None), Loan.lost.is_(False),
                        Loan.due_on < datetime.combine(day, time.min, tzinfo=UTC)))
        if digipunt:
            query = query.where(Loan.digipunt_id == get_digipunt(s, digipunt).id)
        rows = [{"tag": tag, "borrower": ref, "digipunt": name, "due": _aware(due).date().isoformat(),
                 "days_overdue": (day - _aware(due).date()).days} for tag, ref, name, due in s.exec(query).all()]
    return sorted(rows, key=lambda r: (-r["days_overdue"], r["tag"]))


def allocate_many(ctx, digipunt, batch=None, kind=None, grade=None, limit=None):
    """Allocate ready devices in bulk (by batch, kind, grade; at most `limit`), in one transaction."""
    with writing(ctx) as w:
        loc = get_digipunt(w.s, digipunt)
        query = select(Device).where(Device.state == State.READY)
        if batch:
            query = query.where(Device.batch_id == get_batch(w.s, batch).id)
        if kind:
            query = query.where(Device.kind == kind)
        if grade:
            query = query.where(Device.grade == grade)
        devices = w.s.exec(query.order_by(Device.id).limit(limit)).scalars().all()
        done = []
        for device in devices:
            if _move(w, device, facts_for(w.s, device, ctx), "allocate", {"digipunt": loc.name}):
                device.location_id = loc.id
                w.s.add(device)
                done.append(device.tag)
        return {"digipunt": loc.name, "allocated": done, "count": len(done)}


def purge_borrowers(ctx, dry_run=False, on=None):
    """Apply the retention policy (SPEC §10): loans returned more than `retention_loans_days` ago are
    detached from their borrower (each gets an anonymous reference of its own), and borrower references
    whose last loan is more than `retention_personal_days` old are removed.  Lead only."""
    import secrets

    t = datetime.combine(on or today(), time.min, tzinfo=UTC)
    loans_before = t - timedelta(days=ctx.settings.retention_loans_days)
    people_before = t - timedelta(days=ctx.settings.retention_personal_days)
    with writing(ctx) as w:
        w.require_lead(_("purging borrower data"))
        anonymous = Borrower.ref.like("anon-%")
        old_loans = w.s.exec(select(Loan).join(Borrower, Borrower.id == Loan.borrower_id).where(
            ~anonymous, Loan.returned_at.is_not(None), Loan.returned_at < loans_before)).scalars().all()
        lost = w.s.exec(select(Loan).join(Borrower, Borrower.id == Loan.borrower_id).where(
            ~anonymous, Loan.lost.is_(True), Loan.out_at < loans_before)).scalars().all()
        old_loans = list({x.id: x for x in [*old_loans, *lost]}.values())
        open_ids = set(w.s.exec(select(Loan.borrower_id).where(Loan.returned_at.is_(None),
                                                                Loan.lost.is_(False))).scalars())
        gone = [b for b in w.s.exec(select(Borrower).where(~anonymous, Borrower.last_loan_at < people_before))
                .scalars().all() if b.id not in open_ids]
        result = {"loans_pseudonymised": len(old_loans), "borrowers_removed": len(gone), "dry_run": dry_run,
                  "loans_before": loans_before.date().isoformat(), "borrowers_before": people_before.date().isoformat()}
        if dry_run or not (old_loans or gone):
            return result
        for loan in old_loans:
            b = Borrower(ref=f"anon-{secrets.token_hex(8)}", digipunt_id=loan.digipunt_id, created_at=now(),
                         last_loan_at=loan.out_at)
            w.s.add(b)
            w.s.flush()
            loan.borrower_id = b.id
            w.s.add(loan)
        w.s.flush()
        for b in gone:
            still = w.s.exec(select(func.count(Loan.id)).where(Loan.borrower_id == b.id)).scalar()
            if still:
                b.ref = f"anon-{secrets.token_hex(8)}"
                w.s.add(b)
            else:
                w.s.delete(b)
        w.event("borrowers_purged", data={k: v for k, v in result.items() if k != "dry_run"})
        return result


def loan_lost(ctx, code, note=None):
    with writing(ctx) as w:
        w.require_lead(_("marking a device lost"))
        device = resolve(w.s, code)
        loan = _open_loan(w.s, device)
        events = _move(w, device, facts_for(w.s, device, ctx), "lost", {"note": note})
        if loan is not None and events:
            loan.lost = True
            w.s.add(loan)
        return _device_result(device, events)


# ---------------------------------------------------------------------------- undo

UNDOABLE = frozenset({"receive", "queue_wipe", "start_wipe", "reimage", "qc_pass", "qc_fail", "allocate", "release",
                      "loan_out", "return", "requeue", "repair", "wipe_recorded", "media_added", "media_none"})


def undo(ctx, event_ids):
    """Reverse what one command wrote, newest event first, each with a compensating `undo` event.

    Refused when the device has moved on since (another station acted on it): undo is for the
    scan just made, not for history."""
    if not event_ids:
        raise NotFound(_("nothing to undo"), hint=_("undo reverses the last scan of this session"))
    with writing(ctx) as w:
        events = [w.s.get(Event, i) for i in sorted(event_ids, reverse=True)]
        device_ids = {e.device_id for e in events}
        if None in device_ids or len(device_ids) != 1:
            raise UsageProblem(_("only the actions on one device can be undone"), hint=_("undo the last scan"))
        device = w.s.get(Device, device_ids.pop())
        if device.last_event_id != events[0].id:
            raise Conflict(
                _("{tag} has changed since (event {id}); undo only reverses the last action").format(
                    tag=device.tag, id=device.last_event_id),
                hint=_("see what happened: refurb show {tag}").format(tag=device.tag),
                code="undo-too-late",
            )
        cannot = [e.action for e in events if e.action not in UNDOABLE]
        if cannot:
            raise NotAllowed(
                _("{action} cannot be undone").format(action=lifecycle.label(cannot[0])),
                hint=_("registrations and end states are final; ask a lead"),
            )
        written = []
        for e in events:
            data = json.loads(e.data)
            _reverse_side_effects(w, device, e, data)
            written.append(w.event("undo", device, device.state, e.from_state if e.to_state else None,
                                   {"undoes": e.id, "action": e.action}))
            if e.to_state:
                device.state = e.from_state
        w.s.add(device)
        return _device_result(device, written, undone=[e.action for e in events])


def _reverse_side_effects(w, device, e, data):
    """What an action changed besides the device's state and its own records (those are filtered
    out by facts_for once their event is undone)."""
    if e.action == "allocate":
        device.location_id = None
    elif e.action == "release":
        device.location_id = get_digipunt(w.s, data["digipunt"]).id if data.get("digipunt") else None
    elif e.action in ("qc_pass", "qc_fail"):
        device.grade = data.get("grade_before")
    elif e.action == "loan_out":
        for loan in w.s.exec(select(Loan).where(Loan.event_id == e.id)).scalars():
            w.s.delete(loan)  # the loan_out event and its undo keep the story
    elif e.action == "return":
        loan = w.s.exec(
            select(Loan).where(Loan.device_id == device.id).order_by(Loan.id.desc()).limit(1)
        ).scalars().first()
        if loan is not None:
            loan.returned_at, loan.condition = None, None
            w.s.add(loan)
            device.location_id = loan.digipunt_id
    elif e.action == "media_added":
        medium = w.s.exec(select(StorageMedium).where(
            StorageMedium.device_id == device.id, StorageMedium.serial == data["serial"])).scalars().first()
        used = medium is not None and w.s.exec(select(func.count(WipeRecord.id)).where(
            WipeRecord.medium_id == medium.id)).scalar()
        if used:
            raise NotAllowed(_("medium {serial} has wipe records; it cannot be removed").format(serial=data["serial"]),
                             hint=_("ask a lead"))
        if medium is not None:
            w.s.delete(medium)
    elif e.action == "media_none":
        device.no_storage = False


# ---------------------------------------------------------------------------- reading


def iso(value):
    if value is None:
        return None
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.isoformat().replace("+00:00", "Z")


def _summary(device, batch=None, media=None, location=None):
    out = {
        "tag": device.tag,
        "state": device.state,
        "kind": device.kind,
        "make": device.make,
        "model": device.model,
        "serial": device.serial,
        "donor_tag": device.donor_tag,
        "grade": device.grade,
    }
    if batch is not None:
        out["batch"] = batch
    if media is not None:
        out["media"] = media
    if location is not None or "location" in out:
        out["location"] = location
    return out


def _media_rows(s, device_ids):
    by_device = {i: [] for i in device_ids}
    ids = list(device_ids)
    for start in range(0, len(ids), 10_000):  # SQLite caps the number of bound parameters
        chunk = ids[start:start + 10_000]
        media = s.exec(
            select(StorageMedium).where(StorageMedium.device_id.in_(chunk)).order_by(StorageMedium.id)
        ).scalars()
        for m in media:
            by_device[m.device_id].append({"serial": m.serial, "type": m.type, "size_bytes": m.size_bytes})
    return by_device


def show(ctx, code):
    with reading(ctx) as s:
        device = resolve(s, code)
        batch = s.get(Batch, device.batch_id)
        donor = s.get(Donor, batch.donor_id)
        loc = s.get(Location, device.location_id) if device.location_id else None
        media = _media_rows(s, [device.id])[device.id]
        wipes = s.exec(select(WipeRecord).where(WipeRecord.device_id == device.id).order_by(WipeRecord.id)).scalars()
        serial_of = {m.id: m.serial for m in s.exec(select(StorageMedium).where(StorageMedium.device_id == device.id)).scalars()}
        wipe_rows = [
            {"medium": serial_of.get(w.medium_id), "profile": w.profile_id, "level": w.level, "result": w.result,
             "verified": w.verified, "at": iso(w.created_at), "operator": w.operator}
            for w in wipes
        ]
        for m in media:
            m["wipes"] = [x for x in wipe_rows if x["medium"] == m["serial"]]
        events = s.exec(select(Event).where(Event.device_id == device.id).order_by(Event.id)).scalars().all()
        loan = _open_loan(s, device)
        locks = s.exec(select(Lock).where(Lock.device_id == device.id, Lock.released_at.is_(None))).scalars().all()
        out = _summary(device, batch=batch.ref, media=media, location=loc.name if loc else None)
        out.update(
            donor=donor.name,
            imei=device.imei,
            mac=device.mac,
            no_storage=device.no_storage,
            specs=json.loads(device.specs or "{}"),
            open_locks=[lk.kind for lk in locks],
            loan=({"borrower": s.get(Borrower, loan.borrower_id).ref, "due": loan.due_on.date().isoformat(),
                   "out": iso(loan.out_at)} if loan else None),
            events=[
                {"id": e.id, "action": e.action, "from_state": e.from_state, "to_state": e.to_state,
                 "operator": e.operator, "station": e.station, "at": iso(e.at), "recorded_at": iso(e.recorded_at),
                 "data": json.loads(e.data), "forced": e.forced}
                for e in events
            ],
        )
        return out


def list_devices(ctx, state=None, batch=None, limit=None):
    with reading(ctx) as s:
        query = select(Device, Batch.ref, Location.name).join(Batch, Batch.id == Device.batch_id).join(
            Location, Location.id == Device.location_id, isouter=True)
        if state:
            if state not in {str(x) for x in State}:
                raise UsageProblem(_("unknown state {state!r}").format(state=state),
                                   hint=_("states: {choices}").format(choices=", ".join(State)))
            query = query.where(Device.state == state)
        if batch:
            query = query.where(Device.batch_id == get_batch(s, batch).id)
        query = query.order_by(Device.id)
        if limit:
            query = query.limit(limit)
        rows = s.exec(query).all()
        media = _media_rows(s, [d.id for d, _b, _loc in rows])
        return [_summary(d, batch=b, media=media.get(d.id, []), location=loc) for d, b, loc in rows]


def state_counts(ctx):
    with reading(ctx) as s:
        return dict(s.exec(select(Device.state, func.count(Device.id)).group_by(Device.state)).all())


# ---------------------------------------------------------------------------- audit and backup


@dataclass
class AuditReport:
    events: int = 0
    devices: int = 0
    problems: list = field(default_factory=list)

    @property
    def ok(self):
        return not self.problems


def verify_audit(ctx):
    """Walk the whole hash chain, check every transition against the table and every device's state
    against the replay of its events.  Problems are listed, the first bad event first."""
    report = AuditReport()
    with reading(ctx) as s:
        head = s.get(ChainHead, 1)
        cols = Event.__table__.c
        prev, expected_id = GENESIS, 1
        states, steps = {}, {}
        result = s.connection().execute(select(Event.__table__).order_by(cols.id)).yield_per(5000)
        for row in result:
            e = SimpleNamespace(**row._mapping)
            report.events += 1
            if e.id != expected_id:
                report.problems.append(_("event {id}: events {first}–{last} are missing (deleted)").format(
                    id=e.id, first=expected_id, last=e.id - 1) if e.id > expected_id else
                    _("event {id}: out of order").format(id=e.id))
            if e.prev_hash != prev:
                report.problems.append(_("event {id}: does not follow the event before it (deleted or reordered)").format(id=e.id))
            if event_hash(e.prev_hash, e) != e.hash:
                report.problems.append(_("event {id}: its content was changed after it was written").format(id=e.id))
            if e.device_id is not None and e.to_state is not None:
                before = states.get(e.device_id)
                recent = steps.setdefault(e.device_id, deque(maxlen=32))
                if e.action == "undo":
                    undone = next((x for x in recent if x[0] == json.loads(e.data).get("undoes")), None)
                    legal = undone is not None and (undone[1], undone[2]) == (e.to_state, e.from_state)
                else:
                    legal = lifecycle.is_legal(e.action, e.from_state, e.to_state)
                if (e.from_state or None) != before or not legal:
                    report.problems.append(_("event {id}: {action} from {src} to {dst} is not a legal step here").format(
                        id=e.id, action=e.action, src=e.from_state, dst=e.to_state))
                states[e.device_id] = e.to_state
                recent.append((e.id, e.from_state, e.to_state))
            prev, expected_id = e.hash, e.id + 1
        if head is not None and (head.hash != prev or head.count != report.events):
            report.problems.append(_("the newest events are missing: the chain head expects {n} events ending in {h}…").format(
                n=head.count, h=head.hash[:12]))
        for device_id, tag, state in s.exec(select(Device.id, Device.tag, Device.state)).all():
            report.devices += 1
            if states.get(device_id) != state:
                report.problems.append(_("device {tag}: state {state} but its events replay to {replay}").format(
                    tag=tag, state=state, replay=states.get(device_id)))
    return report


def backup(ctx, dest):
    """A consistent copy while stations keep writing: SQLite's online backup, pg_dump for PostgreSQL."""
    dest = Path(dest)
    if dest.exists():
        raise Conflict(_("{file} exists already").format(file=dest), hint=_("choose a new file name"))
    _ready(ctx)
    url = db.normalise_url(ctx.url)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if db.is_sqlite(url):
        import sqlite3

        source = url.split(":///", 1)[1]
        src = sqlite3.connect(source)
        tmp = dest.with_name(dest.name + ".part")
        try:
            out = sqlite3.connect(tmp)
            with out:
                src.backup(out)
            out.close()
            tmp.replace(dest)
        finally:
            src.close()
            tmp.unlink(missing_ok=True)
    else:
        import shutil
        import subprocess

        from sqlalchemy.engine import make_url

        if not shutil.which("pg_dump"):
            from .errors import HardwareUnavailable

            raise HardwareUnavailable(_("pg_dump is not installed"), hint=_("install postgresql-client"))
        u = make_url(url)
        plain = u.set(drivername="postgresql").render_as_string(hide_password=False)
        command = ["pg_dump", "--format=custom", "--file", str(tmp := dest.with_name(dest.name + ".part"))]
        options = u.query.get("options", "")
        if "search_path=" in options:  # refurb lives in one schema of a shared database: dump only that one
            command += ["--schema", options.split("search_path=", 1)[1].split(",")[0].split()[0]]
        run = subprocess.run([*command, plain], capture_output=True, text=True)
        if run.returncode:
            tmp.unlink(missing_ok=True)
            reason = (run.stderr.strip().splitlines() or ["?"])[-1]
            raise RefurbError(_("pg_dump failed: {reason}").format(reason=reason),
                              hint=_("check the database URL and permissions"), code="backup-failed")
        tmp.replace(dest)
    return {"file": str(dest), "size": dest.stat().st_size,
            "sha256": hashlib.sha256(dest.read_bytes()).hexdigest()}


def restore(ctx, source, replace=False):
    """Bring a backup (`db backup`) back into the configured database, then verify its history.

    A database that holds events is replaced only with `replace`, by a lead, and after a safety copy of
    it is written beside the backup (nothing is ever lost by a restore)."""
    import shutil
    import subprocess

    source = Path(source)
    try:
        head = source.open("rb").read(16)
    except OSError as exc:
        raise NotFound(_("{file}: cannot read: {reason}").format(file=source, reason=exc.strerror),
                       hint=_("give the file `refurb db backup` wrote")) from None
    url = db.normalise_url(ctx.url)
    sqlite = db.is_sqlite(url)
    if head[:16] != b"SQLite format 3\x00" if sqlite else head[:5] != b"PGDMP":
        raise UsageProblem(_("{file} is not a backup of a {kind} database").format(
            file=source, kind="SQLite" if sqlite else "PostgreSQL"), hint=_("give the file `refurb db backup` wrote"),
            code="not-a-backup")
    events = _existing_events(ctx)
    safety = None
    if events:
        if not replace:
            raise Conflict(_("the database holds {n} events; restoring would replace them").format(n=events),
                           hint=_("add --replace (a lead; a safety copy of the current database is written first)"))
        with reading(ctx) as s:
            op = s.exec(select(Operator).where(Operator.name == (ctx.who or ""))).scalars().first()
            if op is None or op.role not in ("lead", "admin"):
                raise NotAllowed(_("replacing the database needs a lead"), hint=_("give --operator with a lead's name"))
        safety = source.with_name(f"{source.name}.before-restore-{now():%Y%m%dT%H%M%SZ}")
        backup(ctx, safety)
    db.dispose_all()
    _checked.discard(ctx.url)
    if sqlite:
        import sqlite3

        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            if src.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise UsageProblem(_("{file} is damaged (integrity check failed)").format(file=source),
                                   hint=_("use another backup"), code="not-a-backup")
            target = Path(url.split(":///", 1)[1])
            target.parent.mkdir(parents=True, exist_ok=True)
            dest = sqlite3.connect(target, timeout=60)
            try:
                src.backup(dest)  # one step, under the target's lock: readers see the old or the new database
            finally:
                dest.close()
        finally:
            src.close()
    else:
        from sqlalchemy.engine import make_url

        if not shutil.which("pg_restore"):
            from .errors import HardwareUnavailable

            raise HardwareUnavailable(_("pg_restore is not installed"), hint=_("install postgresql-client"))
        plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        run = subprocess.run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction",
                              "--dbname", plain, str(source)], capture_output=True, text=True)
        if run.returncode:
            reason = (run.stderr.strip().splitlines() or ["?"])[-1]
            raise RefurbError(_("pg_restore failed: {reason}").format(reason=reason),
                              hint=_("check the database URL and permissions"), code="restore-failed")
    db.dispose_all()
    report = verify_audit(ctx)
    return {"file": str(source), "events": report.events, "devices": report.devices, "ok": report.ok,
            "problems": report.problems, "safety_copy": str(safety) if safety else None}


def _existing_events(ctx):
    """How many events the target database holds (0 when it has no refurb schema yet)."""
    try:
        _ready(ctx)
    except RefurbError:
        return 0
    with reading(ctx) as s:
        head = s.get(ChainHead, 1)
        return head.count if head is not None else 0


# ---------------------------------------------------------------------------- PostgreSQL roles

ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,40}")


def database_roles(ctx, prefix="refurb", logins=()):
    """Set up PostgreSQL group roles `<prefix>_volunteer` and `<prefix>_lead` on refurb's schema (SPEC §10):
    both may read and add what the workbench writes, neither may UPDATE, DELETE or TRUNCATE an event (the
    append-only triggers refuse it too), and a volunteer cannot read borrower references.  `logins` are
    (name, role) pairs made LOGIN members of a group (their password is set by the database administrator).
    Idempotent: run it again after an upgrade to grant on new tables."""
    url = db.normalise_url(ctx.url)
    if db.is_sqlite(url):
        raise UsageProblem(_("database roles are a PostgreSQL feature"),
                           hint=_("on SQLite, the file's permissions decide who may write"), code="not-postgres")
    names = [prefix, *(name for name, _role in logins)]
    bad = [n for n in names if not ROLE_NAME.fullmatch(n)]
    if bad:
        raise UsageProblem(_("{name!r} is not a usable role name").format(name=bad[0]),
                           hint=_("lower-case letters, digits and _"))
    for _name, role in logins:
        if role not in ("volunteer", "lead"):
            raise UsageProblem(_("role must be volunteer or lead"), hint="--login NAME:volunteer|lead")
    _ready(ctx)
    from sqlalchemy import text

    volunteer, lead = f"{prefix}_volunteer", f"{prefix}_lead"
    with db.engine_for(url).begin() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar()
        tables = [t for t in conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")).scalars()]
        for role in (volunteer, lead):
            if not conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first():
                conn.execute(text(f'CREATE ROLE "{role}" NOLOGIN'))
            conn.execute(text(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"'))
            conn.execute(text(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "{schema}" TO "{role}"'))
            for table in tables:
                q = f'"{schema}"."{table}"'
                conn.execute(text(f'REVOKE ALL ON {q} FROM "{role}"'))
                if table == "event":
                    conn.execute(text(f'GRANT SELECT, INSERT ON {q} TO "{role}"'))
                elif table == "borrower" and role == volunteer:
                    continue  # a volunteer's login never reads borrower references
                elif table == "alembic_version":
                    conn.execute(text(f'GRANT SELECT ON {q} TO "{role}"'))
                else:  # DELETE: undo removes the loan or medium it had added
                    conn.execute(text(f'GRANT SELECT, INSERT, UPDATE, DELETE ON {q} TO "{role}"'))
        made = []
        for name, role in logins:
            if not conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": name}).first():
                conn.execute(text(f'CREATE ROLE "{name}" LOGIN'))
            conn.execute(text(f'GRANT "{prefix}_{role}" TO "{name}"'))
            made.append({"login": name, "role": role})
    return {"schema": schema, "roles": [volunteer, lead], "tables": len(tables), "logins": made}


# ---------------------------------------------------------------------------- bulk writes

EVENT_COLUMNS = ("id", "device_id", "action", "from_state", "to_state", "operator", "station", "at", "recorded_at",
                 "data", "forced", "prev_hash", "hash")


class BulkChain:
    """Events hash-chained exactly as Writer.event chains them (event_hash over the same canonical JSON),
    built as rows for one bulk INSERT (bulk_insert): manifest imports, label runs.  They share one time."""

    def __init__(self, w, t, dialect):
        self.w = w
        self.prev = w.head.hash
        self.next_id = (w.head.last_event_id or 0) + 1
        self.count = 0
        self.rows = []
        self.operator, self.station = w.operator.name, w.station.name
        self.at = bound(Event.__table__.c.at, t, dialect)
        stamp = encode_basestring(t.isoformat())
        self.middle = f",{encode_basestring(self.operator)},{encode_basestring(self.station)},{stamp},{stamp},"

    def add(self, device_id, action, from_state, to_state, data):
        """Chain one event; `data` is its canonical JSON text (services.canonical)."""
        event_id = self.next_id
        payload = (f"[{event_id},{device_id},{encode_basestring(action)},"
                   f"{'null' if from_state is None else encode_basestring(from_state)},"
                   f"{'null' if to_state is None else encode_basestring(to_state)}"
                   f"{self.middle}{encode_basestring(data)},null]")
        digest = hashlib.sha256((self.prev + payload).encode("utf-8")).hexdigest()
        self.rows.append((event_id, device_id, action, from_state, to_state, self.operator, self.station, self.at,
                          self.at, data, None, self.prev, digest))
        self.prev = digest
        self.next_id += 1
        self.count += 1
        return event_id

    def take(self):
        rows, self.rows = self.rows, []
        return rows

    def close(self):
        """Move the chain head to the last event written, as Writer.event does event by event."""
        if self.count:
            head = self.w.head
            head.hash, head.count, head.last_event_id = self.prev, head.count + self.count, self.next_id - 1
            self.w.s.add(head)
            self.w.s.flush()


def bound(column, value, dialect):
    """A value as the column's type hands it to the driver (SQLite: text), processed once for all rows."""
    process = column.type.dialect_impl(dialect).bind_processor(dialect)
    return process(value) if process else value


def bulk_insert(conn, table, columns, rows):
    """Many rows in one go, in the current transaction: COPY on PostgreSQL (row-by-row INSERTs over the
    network took 25 s for 100 000 devices), executemany of one prepared INSERT on SQLite."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        with conn.connection.dbapi_connection.cursor() as cursor:
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        return
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    conn.exec_driver_sql(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})",
                         rows)
