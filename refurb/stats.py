"""Figures for the lead, the donor and the funder (SPEC §9), as plain data.

Everything is counted by the database (GROUP BY, COUNT DISTINCT) so that `refurb status` stays quick on
100 000 devices and 1 000 000 events: Python sees aggregated rows, and for the medians a bounded sample (the
moves of the last 30 days, the latest STAGE_SAMPLE of them at most).  The time windows are ranges of
event.at: with an index on event (at, action, station, device_id) a quiet month costs milliseconds
(benchmarks/status.py).
Undone work does not count: an `undo` event and the event it reverses are both left out of every figure.

Definitions the reports print and rely on:

- *Throughput*: transitions through a milestone (received, wiped, ready …) in the last 7 and 30 days,
  rolling windows ending at `now`; a device passing a milestone twice counts twice.
- *Time per stage*: for each state, the median time devices stayed in it, over the stays that ended in the
  last 30 days.  Stays under a second are the automatic steps one command takes on the way (intake →
  wipe queue → wiping → wiped) and are not counted: nobody waited there.
- *Reused*: a device lent to a borrower at least once (a loan that was not undone), whatever happened after.
  Devices ready or waiting in a digipunt's pool are not reused yet.
- *CO2e avoided*: reused laptops × the configured factor ([report] co2e_kg_per_device, default 214 kg,
  whose source is printed beside it).  The factor is a laptop's; other kinds are listed, not counted.
- *Funder figures*: calendar days in Europe/Brussels, both ends included.  Counts from 1 to 4 are
  suppressed; see `suppress` for how a suppressed count is kept from being worked out from a total.
"""

import csv
import io
import statistics
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from . import pdfdoc, services
from .errors import UsageProblem
from .i18n import _
from .models import (
    Batch,
    Borrower,
    ChainHead,
    Device,
    Donor,
    Event,
    Loan,
    Location,
    Lock,
    StorageMedium,
    WipeRecord,
)
from .states import State

BRUSSELS = ZoneInfo("Europe/Brussels")
BLOCKED = (State.LOCKED, State.WIPE_FAILED, State.REPAIR)
WINDOWS = (7, 30)
STAGE_WINDOW = 30
STAGE_SAMPLE = 10_000  # stays for the medians at most: bounded work however busy the month was
PASS_THROUGH = timedelta(seconds=1)
# (milestone, the transitions that reach it), in the order of a device's life
MILESTONES = (
    ("received", ("register", "receive")),
    ("wiped", ("finish_wipe",)),
    ("ready", ("qc_pass",)),
    ("allocated", ("allocate",)),
    ("lent", ("loan_out",)),
    ("returned", ("return",)),
    ("parts", ("parts",)),
    ("recycled", ("recycle",)),
    ("returned_to_donor", ("return_to_donor",)),
    ("lost", ("lost",)),
)
# What became of a donor's device, by its current state.
OUTCOME_OF = {
    State.EXPECTED: "expected", State.INTAKE: "in_refurbishment", State.WIPE_PENDING: "in_refurbishment",
    State.WIPING: "in_refurbishment", State.WIPED: "in_refurbishment", State.IMAGED: "in_refurbishment",
    State.RETURNED: "in_refurbishment", State.LOCKED: "on_hold", State.WIPE_FAILED: "on_hold",
    State.REPAIR: "on_hold", State.READY: "ready", State.ALLOCATED: "at_digipunt", State.ON_LOAN: "on_loan",
    State.PARTS: "parts", State.RECYCLED: "recycled", State.RETURNED_TO_DONOR: "returned_to_donor",
    State.LOST: "lost",
}
OUTCOMES = ("on_loan", "at_digipunt", "ready", "in_refurbishment", "on_hold", "parts", "recycled",
            "returned_to_donor", "lost", "expected", "missing")
CO2E_KINDS = ("laptop",)
THRESHOLD = 5
SMALL = "<5"  # a summary figure or a total from 1 to 4
HIDDEN = "x"  # a cell of a breakdown hidden: under 5, or so that one under 5 cannot be worked out
SUMMARY = ("users_reached", "loans_started", "loans_active", "loans_returned", "loans_lost",
           "devices_received", "devices_reused", "devices_recycled", "devices_parts")
DIGIPUNT_COLUMNS = ("users_reached", "loans_started", "loans_active", "loans_returned", "loans_lost")
KIND_COLUMNS = ("devices_received", "devices_reused", "devices_recycled", "devices_parts")


# ---------------------------------------------------------------------------- shared


def _utc(value):
    """An aware UTC datetime (SQLite hands back naive UTC, PostgreSQL aware)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _undone(s, *where):
    """The ids of the events reversed by the `undo` events matching `where` (a subquery)."""
    import sqlalchemy as sa

    if s.get_bind().dialect.name == "sqlite":
        data = sa.type_coerce(Event.data, sa.JSON)
    else:
        data = sa.cast(Event.data, sa.JSON)
    undoes = data["undoes"].as_integer()
    return sa.select(undoes).where(Event.action == "undo", undoes.is_not(None), *where)


def _audit(s):
    head = s.get(ChainHead, 1)
    return {"events": head.count, "chain_head": head.hash}, head.last_event_id or 0


def _organisation(ctx):
    return {"name": ctx.settings.organisation, "address": ctx.settings.organisation_address}


# ---------------------------------------------------------------------------- refurb status


def status(ctx, now=None):
    """The warehouse at a glance: devices per state, blocked devices and how long they have waited,
    throughput and per-station work over the last 7 and 30 days, median time per stage.

    `now` (aware datetime, default: now) ends the time windows; the counts per state are always current.
    Returns {"at": ISO, "total": int, "states": {state: count, every state in lifecycle order},
    "blocked": [{"tag", "state", "kind", "make", "model", "batch", "donor", "since": ISO, "age_seconds",
    "detail": [str]}] oldest first, "throughput": [{"milestone", "last_7_days", "last_30_days"}] (MILESTONES
    order), "stages": [{"state", "median_seconds", "stays"}] (lifecycle order, states with stays only),
    "stations": [{"station", "last_7_days", "last_30_days"}] (device events, by name)}.

    Example:
        status(ctx)["states"]["ready"]
    """
    from sqlalchemy import func, select

    now = _utc(now) or services.now()
    with services.reading(ctx) as s:
        counts = dict(s.exec(select(Device.state, func.count(Device.id)).group_by(Device.state)).all())
        throughput, stations = _activity(s, now)
        return {
            "at": services.iso(now),
            "total": sum(counts.values()),
            "states": {str(state): counts.get(str(state), 0) for state in State},
            "blocked": _blocked(s, now),
            "throughput": throughput,
            "stages": _stages(s, now),
            "stations": stations,
        }


def _window(now, days):
    return Event.at >= now - timedelta(days=days), Event.at <= now


def _activity(s, now):
    """Throughput per milestone and device events per station, from one GROUP BY over the 30-day window;
    the few undone events are then taken off."""
    from sqlalchemy import case, func, select

    short, long = WINDOWS
    window = _window(now, long)
    cutoff = now - timedelta(days=short)
    recent = func.sum(case((Event.at >= cutoff, 1), else_=0))
    groups = s.exec(select(Event.action, Event.station, recent, func.count(Event.id))
                    .where(*window, Event.device_id.is_not(None)).group_by(Event.action, Event.station)).all()
    undone = s.exec(select(Event.action, Event.station, Event.at)  # an undo comes after what it undoes
                    .where(Event.id.in_(_undone(s, window[0])), *window, Event.device_id.is_not(None))).all()
    counts = {(action, station): [int(n7 or 0), n30] for action, station, n7, n30 in groups}
    for action, station, at in undone:
        c = counts[(action, station)]
        c[0] -= 1 if _utc(at) >= cutoff else 0
        c[1] -= 1
    throughput = [{"milestone": milestone,
                   "last_7_days": sum(c[0] for (a, _st), c in counts.items() if a in actions),
                   "last_30_days": sum(c[1] for (a, _st), c in counts.items() if a in actions)}
                  for milestone, actions in MILESTONES]
    per_station = {}
    for (action, station), c in counts.items():
        if action != "undo":
            total = per_station.setdefault(station, [0, 0])
            total[0] += c[0]
            total[1] += c[1]
    stations = [{"station": station, "last_7_days": n7, "last_30_days": n30}
                for station, (n7, n30) in sorted(per_station.items()) if n30]
    return throughput, stations


def _stages(s, now):
    """Median stay per state, over the stays that ended in the window (the latest STAGE_SAMPLE of them in a
    busy month).  A stay ends with a move and began with the device's move before it; undone moves and undo
    events are left out before the moves are paired, so an undone step neither ends nor starts a stay.  The
    first query reads the window through an index on event.at where there is one; only when the window holds
    more moves than the sample does the second walk back from the newest event."""
    from sqlalchemy import select

    since = now - timedelta(days=STAGE_WINDOW)
    moves = (Event.to_state.is_not(None), Event.action != "undo", Event.device_id.is_not(None))
    ending = s.exec(select(Event.id, Event.device_id, Event.at).where(*_window(now, STAGE_WINDOW), *moves)
                    .limit(STAGE_SAMPLE + 1)).all()
    if len(ending) > STAGE_SAMPLE:  # a busy month: the latest moves, found from the newest event backwards
        ending = [row for row in s.exec(select(Event.id, Event.device_id, Event.at).where(*moves)
                                        .order_by(Event.id.desc()).limit(STAGE_SAMPLE)).all()
                  if since <= _utc(row[2]) <= now]
    if not ending:
        return []
    ended = {event_id for event_id, _device, _at in ending}
    devices = sorted({device for _event, device, _at in ending})
    undone = set(s.exec(_undone(s, Event.device_id.in_(devices))).scalars())
    rows = s.exec(select(Event.id, Event.device_id, Event.from_state, Event.at)
                  .where(Event.device_id.in_(devices), *moves, Event.id <= max(ended))
                  .order_by(Event.id)).all()
    entered, stays = {}, {}
    for event_id, device, state, at in rows:
        if event_id in undone:
            continue
        at = _utc(at)
        if event_id in ended and device in entered and at - entered[device] >= PASS_THROUGH:
            stays.setdefault(state, []).append((at - entered[device]).total_seconds())
        entered[device] = at
    return [{"state": str(state), "median_seconds": statistics.median(stays[state]),
             "stays": len(stays[state])} for state in State if state in stays]


def _blocked(s, now):
    """Devices in a side state that needs a person (locked, wipe failed, repair), with the time they entered
    it and what holds them.  The entry is the newest move into the state: an undone one would have taken the
    device out again, and an `undo` that brought it back only restores the stay that began before."""
    import json

    from sqlalchemy import func, select

    states = [str(b) for b in BLOCKED]
    blocked = select(Device.id).where(Device.state.in_(states))
    entered = (select(Event.device_id, func.max(Event.id).label("event_id"))
               .join(Device, Device.id == Event.device_id)
               .where(Device.state.in_(states), Event.to_state == Device.state, Event.action != "undo")
               .group_by(Event.device_id).subquery())
    rows = s.exec(select(Device.id, Device.tag, Device.state, Device.kind, Device.make, Device.model,
                         Batch.ref, Donor.name, Event.at, Event.data)
                  .join(entered, entered.c.device_id == Device.id).join(Event, Event.id == entered.c.event_id)
                  .join(Batch, Batch.id == Device.batch_id).join(Donor, Donor.id == Batch.donor_id)).all()
    locks = {}
    for device_id, kind in s.exec(select(Lock.device_id, Lock.kind).where(
            Lock.device_id.in_(blocked), Lock.released_at.is_(None)).order_by(Lock.id)).all():
        locks.setdefault(device_id, []).append(kind)
    failed = _failed_media(s)
    out = []
    for device_id, tag, state, kind, make, model, batch, donor, at, data in rows:
        at = _utc(at)
        data = json.loads(data or "{}")
        if state == State.LOCKED:
            detail = locks.get(device_id, [])
        elif state == State.WIPE_FAILED:
            detail = failed.get(device_id, [])
        else:
            checks = data.get("checks") or {}
            detail = [k for k, v in sorted(checks.items()) if v == "fail"]
            detail += [str(data[k]) for k in ("condition", "note") if data.get(k)]
        out.append({"tag": tag, "state": state, "kind": kind, "make": make, "model": model, "batch": batch,
                    "donor": donor, "since": services.iso(at), "age_seconds": (now - at).total_seconds(),
                    "detail": detail})
    return sorted(out, key=lambda d: (d["since"], d["tag"]))


def _failed_media(s):
    """Serials of the media whose last wipe record failed, per device in wipe_failed."""
    from sqlalchemy import select

    rows = s.exec(select(WipeRecord.device_id, StorageMedium.serial, WipeRecord.result)
                  .join(StorageMedium, StorageMedium.id == WipeRecord.medium_id)
                  .join(Device, Device.id == WipeRecord.device_id)
                  .where(Device.state == str(State.WIPE_FAILED)).order_by(WipeRecord.event_id)).all()
    last = {}
    for device_id, serial, result in rows:
        last[(device_id, serial)] = result
    out = {}
    for (device_id, serial), result in last.items():
        if result == "fail":
            out.setdefault(device_id, []).append(serial)
    return out


# ---------------------------------------------------------------------------- donor report


def donor_report(ctx, batch_ref, now=None):
    """What became of a donor's batch: reconciliation with the manifest, the outcome of every device keyed
    by the donor's own serial and asset tag, and the CO2e its reuse avoided.

    Returns {"report_id", "issued_at", "organisation": {"name", "address"}, "batch": {"ref", "donor",
    "donor_ref", "received_on", "closed"}, "reconciliation": {"listed", "received", "missing": [{"serial",
    "donor_tag", "make", "model"}], "extra": [{"tag", "serial", "donor_tag", "make", "model"}]},
    "outcomes": {outcome: count} (OUTCOMES order, zero counts left out), "devices": [{"donor_tag", "serial",
    "tag", "kind", "make", "model", "state", "outcome", "listed", "loans"}] by donor tag then serial,
    "impact": {"reused", "reused_by_kind": {kind: n}, "counted_kinds": ["laptop"], "counted",
    "factor_kg", "source", "co2e_kg"}, "certificates": [{"id", "at", "sha256", "lang", "file"}],
    "audit": {"events", "chain_head"}}.  A device still expected is "missing" once the batch is closed.

    Example:
        donor_report(ctx, "ACME-2026-11")["impact"]["co2e_kg"]
    """
    from sqlalchemy import func, select

    now = _utc(now) or services.now()
    with services.reading(ctx) as s:
        batch = services.get_batch(s, batch_ref)
        donor = s.get(Donor, batch.donor_id)
        r = services.reconcile(s, batch)
        closed = batch.status == "closed"
        loans = dict(s.exec(select(Loan.device_id, func.count(Loan.id))
                            .join(Device, Device.id == Loan.device_id)
                            .where(Device.batch_id == batch.id).group_by(Loan.device_id)).all())
        listed = {d.id for d in r.listed}
        devices = []
        for d in r.devices:
            outcome = OUTCOME_OF.get(State(d.state), "in_refurbishment")
            if outcome == "expected" and closed:
                outcome = "missing"
            devices.append({"donor_tag": d.donor_tag, "serial": d.serial, "tag": d.tag, "kind": d.kind,
                            "make": d.make, "model": d.model, "state": d.state, "outcome": outcome,
                            "listed": d.id in listed, "loans": loans.get(d.id, 0)})
        devices.sort(key=lambda d: (d["donor_tag"] is None, d["donor_tag"] or "", d["serial"] or "",
                                    d["tag"]))
        outcomes = {o: n for o in OUTCOMES if (n := sum(1 for d in devices if d["outcome"] == o))}
        audit, last_event = _audit(s)
        return {
            "report_id": f"{batch.ref}-R{last_event}",
            "issued_at": services.iso(now),
            "organisation": _organisation(ctx),
            "batch": {"ref": batch.ref, "donor": donor.name, "donor_ref": batch.donor_ref,
                      "received_on": services.iso(batch.received_on), "closed": closed},
            "reconciliation": {
                "listed": len(r.listed), "received": len(r.received),
                "missing": [{"serial": d.serial, "donor_tag": d.donor_tag, "make": d.make, "model": d.model}
                            for d in r.missing],
                "extra": [{"tag": d.tag, "serial": d.serial, "donor_tag": d.donor_tag, "make": d.make,
                           "model": d.model} for d in r.extra],
            },
            "outcomes": outcomes,
            "devices": devices,
            "impact": _impact(ctx, devices),
            "certificates": _certificates(s, batch),
            "audit": audit,
        }


def _impact(ctx, devices):
    reused = [d for d in devices if d["loans"]]
    by_kind = {}
    for d in reused:
        by_kind[d["kind"]] = by_kind.get(d["kind"], 0) + 1
    counted = sum(n for kind, n in by_kind.items() if kind in CO2E_KINDS)
    factor = float(ctx.settings.co2e_kg_per_device)
    return {"reused": len(reused), "reused_by_kind": dict(sorted(by_kind.items())),
            "counted_kinds": list(CO2E_KINDS), "counted": counted, "factor_kg": factor,
            "source": ctx.settings.co2e_source, "co2e_kg": counted * factor}


def _certificates(s, batch):
    """The batch certificates issued so far (`refurb report certificate --batch`), newest last."""
    import json

    from sqlalchemy import select

    rows = s.exec(select(Event.at, Event.data).where(
        Event.action == "certificate_issued", Event.device_id.is_(None),
        Event.at >= batch.created_at).order_by(Event.id)).all()
    out = []
    for at, data in rows:
        d = json.loads(data)
        if d.get("subject") == batch.ref:
            out.append({"id": d.get("certificate"), "at": services.iso(_utc(at)), "sha256": d.get("sha256"),
                        "lang": d.get("lang"), "file": d.get("file")})
    return out


# ---------------------------------------------------------------------------- funder report


def suppress(values, total):
    """Protect the small counts of one breakdown whose total is published.

    `values`: {group: count}; `total`: their sum.  Returns ({group: count or HIDDEN}, total or SMALL).
    A count from 1 to 4 is hidden.  When exactly one count is hidden and the total is published, the total
    minus the others would give it away, so the smallest other non-zero count is hidden too.  Hidden cells
    all look alike, so nobody can tell which of them is the small one.  Zeros stay visible.
    """
    hidden = {g for g, n in values.items() if 0 < n < THRESHOLD}
    shown_total = SMALL if 0 < total < THRESHOLD else total
    if len(hidden) == 1 and shown_total != SMALL:
        others = (g for g, n in values.items() if g not in hidden and n > 0)
        partner = min(others, key=values.get, default=None)
        if partner is not None:
            hidden.add(partner)
    return {g: HIDDEN if g in hidden else n for g, n in values.items()}, shown_total


def _published(n):
    return SMALL if 0 < n < THRESHOLD else n


def brussels_days(start, end):
    """(first day, last day, UTC start, UTC end) of the Brussels calendar days `start` to `end`, both
    included; dates, datetimes or YYYY-MM-DD.  A bad date, or a period that ends before it starts, is a
    UsageProblem."""
    days = []
    for value, option in ((start, "--from"), (end, "--to")):
        if isinstance(value, datetime):
            value = value.date()
        if isinstance(value, str):
            try:
                value = date.fromisoformat(value)
            except ValueError:
                raise UsageProblem(_("{option}: {value!r} is not a date").format(option=option, value=value),
                                   hint=_("give it as YYYY-MM-DD, for example 2026-01-31")) from None
        days.append(value)
    if days[0] > days[1]:
        raise UsageProblem(_("the period ends ({to}) before it starts ({start})").format(
            to=days[1].isoformat(), start=days[0].isoformat()), hint=_("--from must not be after --to"))
    low = datetime.combine(days[0], time.min, tzinfo=BRUSSELS).astimezone(UTC)
    high = datetime.combine(days[1] + timedelta(days=1), time.min, tzinfo=BRUSSELS).astimezone(UTC)
    return days[0], days[1], low, high


def funder_report(ctx, start, end, now=None):
    """Aggregate figures for a funder over the days `start` to `end` (dates or YYYY-MM-DD, both included,
    Europe/Brussels): users reached, loans, devices received/reused/recycled.  No borrower references, no
    device tags, nothing per person; counts from 1 to 4 suppressed (see `suppress`).

    Definitions: users reached = distinct borrower references holding a device at some moment of the period;
    loans started / returned / lost in the period; loans active = open at the end of the period; devices
    received = registered or received in the period; reused = lent out in the period; recycled and harvested
    for parts in the period.

    Returns {"report_id", "issued_at", "organisation", "period": {"from", "to", "timezone"},
    "threshold": 5, "markers": {"small": "<5", "hidden": "x"}, "summary": {name: count or "<5"} (SUMMARY),
    "by_digipunt": {"columns": DIGIPUNT_COLUMNS, "rows": [{"group": name, "values": {column: count or "x"}}],
    "total": {column: count or "<5"}}, "by_kind": the same with KIND_COLUMNS and device kinds as groups,
    "pseudonymised": bool (some loans of the period lost their borrower reference to the retention policy:
    each counts as one user, so users reached is an upper bound), "audit"}.

    Example:
        funder_report(ctx, "2026-01-01", "2026-03-31")["summary"]["users_reached"]
    """
    from sqlalchemy import select

    first, last, low, high = brussels_days(start, end)
    now = _utc(now) or services.now()
    with services.reading(ctx) as s:
        names = dict(s.exec(select(Location.id, Location.name)).all())
        loans = _loan_figures(s, low, high)
        devices = _device_figures(s, low, high)
        audit, _last = _audit(s)
        by_digipunt = _breakdown(loans["by_digipunt"], DIGIPUNT_COLUMNS,
                                 lambda key: names.get(key) or "?")
        by_kind = _breakdown(devices["by_kind"], KIND_COLUMNS, lambda key: key)
        totals = {**loans["totals"], **devices["totals"]}
        return {
            "report_id": f"F-{first:%Y%m%d}-{last:%Y%m%d}",
            "issued_at": services.iso(now),
            "organisation": _organisation(ctx),
            "period": {"from": first.isoformat(), "to": last.isoformat(), "timezone": "Europe/Brussels"},
            "threshold": THRESHOLD,
            "markers": {"small": SMALL, "hidden": HIDDEN},
            "summary": {name: _published(totals[name]) for name in SUMMARY},
            "by_digipunt": by_digipunt,
            "by_kind": by_kind,
            "pseudonymised": loans["pseudonymised"],
            "audit": audit,
        }


def _breakdown(counts, columns, name_of):
    """{group key: {column: n}} → rows sorted by name, each column protected on its own (see `suppress`)."""
    groups = sorted(counts, key=lambda k: str(name_of(k)))
    rows = {g: {} for g in groups}
    total = {}
    for column in columns:
        values = {g: counts[g].get(column, 0) for g in groups}
        shown, total[column] = suppress(values, sum(values.values()))
        for g in groups:
            rows[g][column] = shown[g]
    return {"columns": list(columns), "rows": [{"group": name_of(g), "values": rows[g]} for g in groups],
            "total": total}


def _lost_at():
    """When each lost device was marked lost (one `lost` event per device: an end state)."""
    from sqlalchemy import func, select

    return (select(Event.device_id, func.max(Event.at).label("at"))
            .where(Event.action == "lost",
                   Event.device_id.in_(select(Loan.device_id).where(Loan.lost.is_(True))))
            .group_by(Event.device_id).subquery())


def _loan_figures(s, low, high):
    from sqlalchemy import and_, distinct, func, or_, select

    lost = _lost_at()

    def not_lost_before(moment):
        return or_(Loan.lost.is_(False), lost.c.at.is_(None), lost.c.at >= moment)

    held = and_(Loan.out_at < high, or_(Loan.returned_at.is_(None), Loan.returned_at >= low),
                not_lost_before(low))
    measures = {
        "loans_started": and_(Loan.out_at >= low, Loan.out_at < high),
        "loans_active": and_(Loan.out_at < high, or_(Loan.returned_at.is_(None), Loan.returned_at >= high),
                             not_lost_before(high)),
        "loans_returned": and_(Loan.returned_at >= low, Loan.returned_at < high),
        "loans_lost": and_(Loan.lost.is_(True), lost.c.at >= low, lost.c.at < high),
    }
    base = select().select_from(Loan).outerjoin(lost, lost.c.device_id == Loan.device_id)
    by_digipunt, totals = {}, {}
    for name, condition in measures.items():
        rows = s.exec(base.add_columns(Loan.digipunt_id, func.count(Loan.id)).where(condition)
                      .group_by(Loan.digipunt_id)).all()
        for digipunt, n in rows:
            by_digipunt.setdefault(digipunt, {})[name] = n
        totals[name] = sum(n for _d, n in rows)
    users = (base.add_columns(Borrower.digipunt_id, func.count(distinct(Loan.borrower_id)))
             .join(Borrower, Borrower.id == Loan.borrower_id).where(held).group_by(Borrower.digipunt_id))
    rows = s.exec(users).all()
    for digipunt, n in rows:
        by_digipunt.setdefault(digipunt, {})["users_reached"] = n
    totals["users_reached"] = sum(n for _d, n in rows)
    anonymous = s.exec(base.add_columns(func.count(Loan.id)).join(Borrower, Borrower.id == Loan.borrower_id)
                       .where(held, Borrower.ref.like("anon-%"))).scalar()
    return {"by_digipunt": by_digipunt, "totals": totals, "pseudonymised": bool(anonymous)}


def _device_figures(s, low, high):
    """Devices received, recycled and harvested for parts (one GROUP BY over the period's events; a device is
    either registered or received, never both) and reused (lent out, from the loans)."""
    from sqlalchemy import distinct, func, select

    measure_of = {"register": "devices_received", "receive": "devices_received",
                  "recycle": "devices_recycled", "parts": "devices_parts"}
    in_period = (Event.at >= low, Event.at < high)
    events = s.exec(select(Event.action, Device.kind, func.count(distinct(Event.device_id)))
                    .join(Device, Device.id == Event.device_id)
                    .where(*in_period, Event.action.in_(list(measure_of)),
                           Event.id.not_in(_undone(s, in_period[0])))
                    .group_by(Event.action, Device.kind)).all()
    lent = s.exec(select(Device.kind, func.count(distinct(Loan.device_id)))
                  .join(Device, Device.id == Loan.device_id)
                  .where(Loan.out_at >= low, Loan.out_at < high).group_by(Device.kind)).all()
    rows = [(measure_of[action], kind, n) for action, kind, n in events]
    rows += [("devices_reused", kind, n) for kind, n in lent]
    by_kind, totals = {}, dict.fromkeys(KIND_COLUMNS, 0)
    for measure, kind, n in rows:
        counts = by_kind.setdefault(kind, {})
        counts[measure] = counts.get(measure, 0) + n
        totals[measure] += n
    return {"by_kind": by_kind, "totals": totals}


def funder_csv(data, out):
    """The funder report as CSV (comma, UTF-8): one row per figure, `section,measure,group,value`.

    Keys are the same in every language (SPEC §11); suppressed values are "<5" (a summary figure or a total)
    or "x" (a cell of a breakdown).  `out` is a path (written atomically, returned as a Path) or a text
    stream."""
    rows = [("period", "from", "", data["period"]["from"]), ("period", "to", "", data["period"]["to"]),
            ("period", "timezone", "", data["period"]["timezone"]),
            ("suppression", "threshold", "", data["threshold"])]
    rows += [("summary", name, "", value) for name, value in data["summary"].items()]
    for section in ("by_digipunt", "by_kind"):
        table = data[section]
        for column in table["columns"]:
            rows += [(section, column, r["group"], r["values"][column]) for r in table["rows"]]
            rows.append((section, column, "total", table["total"][column]))
    if hasattr(out, "write"):
        _write_csv(out, rows)
        return out

    def build(handle):
        text = io.TextIOWrapper(handle, encoding="utf-8", newline="")
        _write_csv(text, rows)
        text.flush()
        text.detach()

    return pdfdoc.write(out, build)


def _write_csv(handle, rows):
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(("section", "measure", "group", "value"))
    writer.writerows(rows)
