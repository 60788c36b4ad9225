"""Donor manifests into the database (SPEC §3, §6; issue 5): every listed device `expected` in its batch.

refurb.manifest reads and checks the file; here its rows are matched against what refurb knows and
written.  A device is found by our own tag (a re-imported stock export), else within the batch by
serial, else by the donor's asset tag.  A new device gets our tag and one `expect` event; a known one
whose fields changed gets a `manifest_updated` event with the changes; an unchanged one gets nothing,
so the same file imported twice changes nothing.  A device still `expected` takes the file's values; a
device already received keeps what the bench found and only gains what it lacked.

Everything happens in one transaction: first every row is checked (against the file and against the
database: a serial that is an active device of another batch is a row error), then, if no row is
invalid or `skip_invalid` says so, all is written; a crash at any point leaves the database as it was,
and a second run does the whole import.  The manifest is kept with the batch as evidence (without the
columns of personal data), referenced by a `manifest_imported` event.

For 100 000 rows the devices and events are written in bulk through SQLAlchemy Core, with the hash
chain computed here exactly as services.Writer.event computes it (`refurb audit verify` checks it).
"""

import gc
import hashlib
import json
from contextlib import contextmanager
from json.encoder import encode_basestring

from . import manifest, services, tags
from .errors import Conflict, UsageProblem
from .i18n import N_, _
from .models import Batch, Device, Event, Evidence, TagCounter
from .states import DEVICE_KINDS, END_STATES, State

CHUNK = 5000  # rows written per statement batch (and between two progress reports)
IN_CHUNK = 5000  # values per IN (…) look-up
SQLITE_CACHE_KIB = 32768  # page cache while importing: index inserts stay in memory
_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode
DEVICE_COLUMNS = ("id", "tag", "kind", "make", "model", "serial", "donor_tag", "imei", "mac", "batch_id", "state",
                  "grade", "location_id", "no_storage", "specs", "last_event_id", "created_at", "updated_at")
ACTIVE_END = [str(s) for s in END_STATES]
EXPECTED = str(State.EXPECTED)


def import_manifest(ctx, path, batch, dry_run=False, skip_invalid=False, preset="auto", errors_path=None,
                    progress=None, kind="laptop"):
    """Import a donor manifest into `batch`; returns the report (see _report).

    `kind`: the kind of rows whose file names none.  `errors_path`: the row errors as CSV (written also when
    the import is refused).  `progress(done, total)`: called while writing.  Raises NotFound (file or batch),
    UsageProblem (not a device list, unreadable, unknown preset or kind; code manifest-invalid with the
    report in .data when rows are invalid and not `skip_invalid`), Conflict (the batch is closed)."""
    if kind not in DEVICE_KINDS:
        raise UsageProblem(_("unknown device kind {kind!r}").format(kind=kind),
                           hint=_("kinds: {choices}").format(choices=", ".join(DEVICE_KINDS)))
    with _gc_paused():
        return _import(ctx, path, batch, dry_run, skip_invalid, preset, errors_path, progress, kind)


@contextmanager
def _gc_paused():
    """No cyclic garbage collection while hundreds of thousands of rows, tuples and events are alive: each
    collection would walk them all, again and again (it doubled the import's time).  Nothing here makes
    reference cycles; the collector runs again afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _import(ctx, path, batch, dry_run, skip_invalid, preset, errors_path, progress, kind):
    m = manifest.read(path, preset=preset, default_kind=kind, keep=not dry_run)
    opener = services.reading if dry_run else services.writing
    with opener(ctx) as handle:
        s = handle if dry_run else handle.s
        b = services.get_batch(s, batch)
        if b.status == "closed":
            raise Conflict(_("batch {ref} is closed; its manifest can no longer change").format(ref=b.ref),
                           hint=_("open a new batch for these devices: refurb batch add"), code="batch-closed")
        plan = _plan(s, b, m)
        report = _report(m, b, plan, dry_run)
        report["already_imported"] = bool(_imports(s, b.ref, m.sha256))
        if errors_path:
            report["errors_file"] = manifest.write_errors(errors_path, report["errors"], m.delimiter or ",")
        if report["invalid"] and not skip_invalid:
            refused = {**report, "imported": 0, "updated": 0, "unchanged": 0, "refused": True}
            raise UsageProblem(
                _("{file}: {n} of {rows} rows are invalid; nothing was imported").format(
                    file=m.name, n=report["invalid"], rows=report["rows"]),
                hint=_("see why with --errors FILE; fix the file, or import the valid rows with --skip-invalid"),
                context=[_("row {row}, {column}: {reason}").format(row=e["row"], column=e["column"] or "-",
                                                                  reason=e["reason"])
                         for e in report["errors"][:5]],
                code="manifest-invalid", data=refused)
        if not dry_run:
            _write(handle, b, m, plan, report, progress)
    return report


def stored_manifests(ctx, batch):
    """The manifests imported into a batch, oldest first: what each import recorded (file, sha256, counts,
    dropped columns) and the evidence id of the copy kept."""
    with services.reading(ctx) as s:
        b = services.get_batch(s, batch)
        return [{**data, "at": services.iso(at), "operator": operator}
                for at, operator, data in _imports(s, b.ref)]


# ------------------------------------------------------------------------------------------ planning


class Plan:
    """What the import will do, row by row in file order: (row, device or None, changes)."""

    def __init__(self):
        self.actions = []
        self.new = 0
        self.updated = []  # {"row", "tag", "changes"}
        self.unchanged = 0
        self.errors = []
        self.invalid = 0


def _plan(s, batch, m):
    plan = Plan()
    here = _batch_devices(s, batch)
    ours = _by_tag(s, {r.tag for r in m.rows if r.tag})
    pending = []
    for row in m.rows:
        if row.tag and row.tag not in ours:  # shaped like our tag, not ours: another organisation's tag
            row.donor_tag, row.tag = row.donor_tag or row.tag, None
    if not ours and not any(here.values()):  # a first import: nothing in the batch to match
        pending = [(row, None) for row in m.rows]
    else:
        for row in m.rows:
            device, errors = _match(m, row, here, ours)
            if errors:
                plan.invalid += 1
                plan.errors += errors
            else:
                pending.append((row, device))
    taken = _taken_elsewhere(s, batch, pending)
    if not any(taken.values()) and not any(here.values()) and not ours:
        plan.new = len(pending)
        plan.actions = [(row, None, None) for row, _device in pending]
        return plan
    for row, device in pending:
        changes = _changes(device, row) if device is not None else None
        errors = _identity_conflicts(m, row, device, changes, here, taken)
        if errors:
            plan.invalid += 1
            plan.errors += errors
        elif device is None:
            plan.new += 1
            plan.actions.append((row, None, None))
        elif changes:
            plan.updated.append({"row": row.number, "tag": device["tag"], "changes": sorted(changes)})
            plan.actions.append((row, device, changes))
        else:
            plan.unchanged += 1
    return plan


DEVICE_FIELDS = (Device.id, Device.tag, Device.kind, Device.make, Device.model, Device.serial, Device.donor_tag,
                 Device.imei, Device.mac, Device.specs, Device.state, Device.batch_id)


def _batch_devices(s, batch):
    """The batch's devices, by serial, donor tag and IMEI (upper case: a file may change the case)."""
    from sqlalchemy import select

    index = {"serial": {}, "donor_tag": {}, "imei": {}}
    for r in s.execute(select(*DEVICE_FIELDS).where(Device.batch_id == batch.id)).mappings():
        d = dict(r)
        for name, found in index.items():
            if d[name]:
                found.setdefault(d[name].upper(), d)
    return index


def _by_tag(s, wanted):
    from sqlalchemy import select

    found = {}
    wanted = sorted(wanted)
    for start in range(0, len(wanted), IN_CHUNK):
        for r in s.execute(select(*DEVICE_FIELDS).where(Device.tag.in_(wanted[start:start + IN_CHUNK]))).mappings():
            found[r["tag"]] = dict(r)
    return found


def _match(m, row, here, ours):
    """(the device this row is about or None, errors): by our tag, else by serial, else by donor tag."""
    by_serial = here["serial"].get(row.serial.upper()) if row.serial else None
    by_donor = here["donor_tag"].get(row.donor_tag.upper()) if row.donor_tag else None
    device = ours.get(row.tag) if row.tag else None
    device = device or by_serial or by_donor
    if device is None:
        return None, []
    other = next((d for d in (by_serial, by_donor) if d is not None and d["id"] != device["id"]), None)
    if other is not None:
        return None, [manifest.problem(row.number, m.columns.get("donor_tag") or m.columns.get("serial"),
                                       row.donor_tag or row.serial, "conflict", _(
            "the row names two devices: {tag} and {other}").format(tag=device["tag"], other=other["tag"]))]
    if row.serial and device["serial"] and device["serial"].upper() != row.serial.upper():
        return None, [manifest.problem(row.number, m.columns.get("serial"), row.serial, "serial-mismatch", _(
            "{tag} has serial {have}, not {value}").format(tag=device["tag"], have=device["serial"],
                                                          value=row.serial))]
    return device, []


def _changes(device, row):
    """{field: [was, becomes]}: a device still expected takes the file's values, one already received only
    gains what it lacked.  An empty cell never erases anything."""
    expected = device["state"] == State.EXPECTED
    out = {}

    def offer(name, have, new, same):
        if new is not None and not same and (have is None or expected):
            out[name] = [have, new]

    offer("make", device["make"], row.make, device["make"] == row.make)
    offer("model", device["model"], row.model, device["model"] == row.model)
    offer("serial", device["serial"], row.serial, device["serial"] is not None)
    offer("donor_tag", device["donor_tag"], row.donor_tag,
          (device["donor_tag"] or "").upper() == (row.donor_tag or "").upper())
    offer("imei", device["imei"], row.imei, device["imei"] == row.imei)
    offer("mac", device["mac"], row.mac, device["mac"] == row.mac)
    if row.kind_given:
        offer("kind", device["kind"], row.kind, device["kind"] == row.kind)
    specs = json.loads(device["specs"] or "{}")
    for key, value in (row.specs or {}).items():
        offer(key, specs.get(key), value, specs.get(key) == value)
    return out


def _taken_elsewhere(s, batch, pending):
    """Active devices of other batches holding a serial, donor tag or IMEI a row brings in: {field: {VALUE: d}}.

    Looked up value by value (IN lists), or, when the other batches hold fewer devices than that, read in one
    scan: an index look-up costs about what reading a few rows costs."""
    from sqlalchemy import func, select

    others = s.execute(select(func.count(Device.id)).where(Device.batch_id != batch.id)).scalar()
    if not others:
        return {"serial": {}, "donor_tag": {}, "imei": {}}
    wanted = {}
    for name in ("serial", "donor_tag", "imei"):
        values = wanted[name] = set()
        for row, device in pending:
            value = getattr(row, name)
            if value and (device is None or (device[name] or "").upper() != value.upper()):
                values.update((value, value.upper()))
    base = (select(Device.id, Device.tag, Device.state, Batch.ref, Device.serial, Device.donor_tag, Device.imei)
            .join(Batch, Batch.id == Device.batch_id)
            .where(Device.batch_id != batch.id, Device.state.not_in(ACTIVE_END)))
    taken = {name: {} for name in wanted}
    if others <= 4 * sum(len(v) for v in wanted.values()):
        queries = [base]
    else:
        columns = {"serial": Device.serial, "donor_tag": Device.donor_tag, "imei": Device.imei}
        queries = [base.where(columns[name].in_(chunk)) for name, values in wanted.items()
                   for chunk in _chunks(sorted(values), IN_CHUNK)]
    for query in queries:
        for r in s.execute(query).mappings():
            for name, found in taken.items():
                value = r[name]
                if value and value.upper() in wanted[name]:
                    found.setdefault(value.upper(), dict(r))
    return taken


def _chunks(values, size):
    return [values[i:i + size] for i in range(0, len(values), size)]


IDENTITIES = (("serial", N_("serial")), ("donor_tag", N_("donor asset tag")), ("imei", "IMEI"))


def _identity_conflicts(m, row, device, changes, here, taken):
    """services._identity_conflicts for a row: a serial, donor tag or IMEI the row would give a device may
    not belong to another active device (code duplicate-device)."""
    errors = []
    for name, what in IDENTITIES:
        if not taken[name] and not here[name]:
            continue
        value = getattr(row, name)
        if not value or (device is not None and name not in (changes or {})):
            continue
        other = taken[name].get(value.upper())
        if other is None:
            mine = here[name].get(value.upper())
            other = mine if mine is not None and (device is None or mine["id"] != device["id"]) else None
            where = None
        else:
            where = other["ref"]
        if other is None or (device is not None and other["id"] == device["id"]):
            continue
        if where:
            reason = _("{what} {value} is already device {tag} ({state}) in batch {batch}").format(
                what=_(what), value=value, tag=other["tag"], state=other["state"], batch=where)
        else:
            reason = _("{what} {value} is already device {tag} ({state})").format(
                what=_(what), value=value, tag=other["tag"], state=other["state"])
        errors.append(manifest.problem(row.number, m.columns.get(name) or m.columns.get("tag"), value,
                                       "duplicate-device", reason))
    return errors


def _report(m, batch, plan, dry_run):
    errors = sorted(m.errors + plan.errors, key=lambda e: (e["row"] or 0))
    return {
        "batch": batch.ref,
        "file": str(m.path),
        "file_sha256": m.sha256,
        "format": m.format,
        "encoding": m.encoding,
        "delimiter": m.delimiter,
        "line_endings": m.line_endings,
        "sheet": m.sheet,
        "preset": m.preset,
        "header_row": m.header_row,
        "columns": m.columns,
        "dropped_columns": m.dropped_columns,
        "ignored_columns": m.ignored_columns,
        "notes": m.notes,
        "rows": m.total,
        "imported": plan.new,
        "updated": len(plan.updated),
        "unchanged": plan.unchanged + m.duplicates,
        "invalid": m.invalid + plan.invalid,
        "updated_devices": plan.updated,
        "errors": errors,
        "warnings": m.warnings,
        "dry_run": dry_run,
        "refused": False,
        "already_imported": False,
        "evidence_id": None,
    }


# ------------------------------------------------------------------------------------------ writing


def _write(w, batch, m, plan, report, progress):
    s = w.s
    s.flush()  # the operator or station the Writer may just have registered
    if not plan.actions and report["already_imported"]:
        return  # the same file again: nothing changes
    conn = s.connection()
    t = services.now()
    chain = services.BulkChain(w, t, conn.dialect)
    total = len(plan.actions)
    ids = iter(_device_ids(conn, plan.new))
    new_tags = iter(_issue_tags(w, plan.new))
    no_storage = services.bound(Device.__table__.c.no_storage, False, conn.dialect)
    new = _NewDevices(chain, batch, no_storage)
    if progress:
        progress(0, total)
    with _sqlite_cache(conn):
        for start in range(0, total, CHUNK):
            devices, updates = [], []
            for row, device, changes in plan.actions[start:start + CHUNK]:
                if device is None:
                    devices.append(new.row(row, next(ids), next(new_tags)))
                else:
                    updates.append(_updated_device(chain, batch, row, device, changes))
            if devices:
                services.bulk_insert(conn, "device", DEVICE_COLUMNS, devices)
            services.bulk_insert(conn, "event", services.EVENT_COLUMNS, chain.take())
            if updates:
                conn.execute(_update_statement(), [{**u, "updated_at": t} for u in updates])
            if progress:
                progress(min(start + CHUNK, total), total)
    chain.close()
    _keep(w, batch, m, report)


class _NewDevices:
    """Device rows and their `expect` events, with the data services._create_device writes (canonical JSON
    built by hand: this runs 100 000 times for a large manifest)."""

    def __init__(self, chain, batch, no_storage):
        self.chain, self.batch_id, self.no_storage = chain, batch.id, no_storage
        self.prefix = f'{{"batch":{encode_basestring(batch.ref)},"donor_tag":'
        self.specs = {}  # rows saying the same share one specs dict (refurb.manifest): its JSON, made once

    def row(self, row, device_id, tag):
        donor_tag, make, model, serial = row.donor_tag, row.make, row.model, row.serial
        data = (f'{self.prefix}{"null" if donor_tag is None else encode_basestring(donor_tag)},'
                f'"make":{"null" if make is None else encode_basestring(make)},'
                f'"model":{"null" if model is None else encode_basestring(model)},'
                f'"serial":{"null" if serial is None else encode_basestring(serial)}}}')
        event_id = self.chain.add(device_id, "expect", None, EXPECTED, data)
        known = self.specs.get(id(row.specs))
        if known is None:  # the dict is kept in the value: its id cannot be reused while this lives
            known = self.specs[id(row.specs)] = (row.specs, services.canonical(row.specs or {}))
        specs = known[1]
        at = self.chain.at
        return (device_id, tag, row.kind, make, model, serial, donor_tag, row.imei, row.mac, self.batch_id, EXPECTED,
                None, None, self.no_storage, specs, event_id, at, at)


def _updated_device(chain, batch, row, device, changes):
    event_id = chain.add(device["id"], "manifest_updated", device["state"], None,
                         _ENCODE({"batch": batch.ref, "row": row.number, "changes": changes}))
    specs = json.loads(device["specs"] or "{}")
    values = {k: device[k] for k in ("kind", "make", "model", "serial", "donor_tag", "imei", "mac")}
    for name, (_was, new) in changes.items():
        (values if name in values else specs)[name] = new
    return {"b_id": device["id"], **values, "specs": services.canonical(specs), "last_event_id": event_id}


def _update_statement():
    from sqlalchemy import bindparam, update

    table = Device.__table__
    return update(table).where(table.c.id == bindparam("b_id")).values(
        {c: bindparam(c) for c in ("kind", "make", "model", "serial", "donor_tag", "imei", "mac", "specs",
                                   "last_event_id", "updated_at")})


def _device_ids(conn, n):
    """n new device ids: the sequence's next values on PostgreSQL; after the highest id on SQLite, whose
    write lock the import holds."""
    if not n:
        return []
    from sqlalchemy import func, select

    if conn.dialect.name == "postgresql":
        return list(conn.exec_driver_sql(
            "SELECT nextval(pg_get_serial_sequence('device', 'id')) FROM generate_series(1, %s)", (n,)).scalars())
    first = (conn.execute(select(func.max(Device.id))).scalar() or 0) + 1
    return range(first, first + n)


def _issue_tags(w, n):
    """n new asset tags, as services._new_tag issues them one by one (same counter, same numbers skipped)."""
    if not n:
        return []
    first = services._new_tag(w)  # checks the prefix and moves the counter like any registration
    prefix = w.ctx.settings.tag_prefix.upper()
    counter = w.s.get(TagCounter, prefix)
    issued, counter.next_seq = bulk_tags(prefix, counter.next_seq, n - 1)
    w.s.add(counter)
    return [first, *issued]


def bulk_tags(prefix, number, n):
    """(n tags from `number` on, skipping numbers without a check character; the next number).  The same
    tags as repeated tags.next_number + tags.make, computed from two tables of digit weights (100 000 tags
    in a fraction of the time); numbers of seven digits and more go the slow way."""
    out = []
    base = sum(tags.ALPHABET.index(c) * weight for weight, c in enumerate(reversed(prefix), start=tags.WIDTH + 2))
    low = [sum(int(d) * wgt for wgt, d in zip((2, 3, 4), reversed(f"{k:03d}"), strict=True)) for k in range(1000)]
    high = [sum(int(d) * wgt for wgt, d in zip((5, 6, 7), reversed(f"{k:03d}"), strict=True)) for k in range(1000)]
    alphabet = tags.ALPHABET
    while len(out) < n and number < 10**tags.WIDTH:
        check = -(base + low[number % 1000] + high[number // 1000]) % tags.MODULUS
        if check < len(alphabet):
            out.append(f"{prefix}-{number:06d}-{alphabet[check]}")
        number += 1
    while len(out) < n:
        number = tags.next_number(prefix, number)
        out.append(tags.make(prefix, number))
        number += 1
    return out, number


class _sqlite_cache:
    """A bigger SQLite page cache for the import's connection, put back afterwards (a pooled connection
    should not keep 32 MiB)."""

    def __init__(self, conn):
        self.conn = conn
        self.before = None

    def __enter__(self):
        if self.conn.dialect.name == "sqlite":
            self.before = self.conn.exec_driver_sql("PRAGMA cache_size").scalar()
            self.conn.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")

    def __exit__(self, *exc):
        if self.before is not None:
            self.conn.exec_driver_sql(f"PRAGMA cache_size={int(self.before)}")


def _keep(w, batch, m, report):
    """Keep the manifest with the batch (without the personal-data columns) and say so in the chain."""
    from sqlalchemy import select

    name, content = m.kept_copy()
    digest = hashlib.sha256(content).hexdigest()
    evidence = w.s.execute(select(Evidence).where(Evidence.sha256 == digest, Evidence.device_id.is_(None))
                           ).scalars().first()
    if evidence is None:
        evidence = Evidence(device_id=None, filename=name, sha256=digest, size=len(content), content=content,
                            created_at=services.now())
        w.s.add(evidence)
        w.s.flush()
    report.update(evidence_id=evidence.id, stored_file=name, stored_sha256=digest)
    w.event("manifest_imported", data={
        "batch": batch.ref, "file": m.name, "sha256": m.sha256, "stored_sha256": digest, "evidence_id": evidence.id,
        "rows": report["rows"], "imported": report["imported"], "updated": report["updated"],
        "unchanged": report["unchanged"], "invalid": report["invalid"], "dropped_columns": m.dropped_columns})


def _imports(s, batch_ref, sha256=None):
    """(at, operator, data) of the batch's manifest_imported events (events without a device: few)."""
    from sqlalchemy import select

    rows = s.execute(select(Event.at, Event.operator, Event.data)
                     .where(Event.device_id.is_(None), Event.action == "manifest_imported").order_by(Event.id))
    out = []
    for at, operator, data in rows:
        data = json.loads(data)
        if data.get("batch") == batch_ref and (sha256 is None or data.get("sha256") == sha256):
            out.append((at, operator, data))
    return out

