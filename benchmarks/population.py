"""A database with N devices waiting in `wiped`, each with one NVMe drive and a passing, verified wipe.

Two ways to fill it:

- "services": every device goes through refurb.services (register, add the medium, record the wipe):
  the real path, about 13 ms a device on SQLite and 30 ms on PostgreSQL.
- "clone" (default): one template device goes through refurb.services, then its rows (device,
  medium, wipe record, events) are copied N-1 times with new ids, tags and serials, in bulk.  The
  copied events are hash-chained exactly as refurb chains them, so `refurb audit verify` accepts
  the result (the benchmark runs it and stops if it does not).
"""

import random
from types import SimpleNamespace

from refurb import config, db, i18n, services, tags

TEMPLATE_SERIAL = "BENCH-SERIAL-TEMPLATE"
TEMPLATE_MEDIUM = "BENCH-MEDIUM-TEMPLATE"
BATCH = "BENCH-1"
DIGIPUNT = "Bench digipunt"
CHUNK = 2000


def context(url, home):
    i18n.setup("en")
    settings = config.load(environ={"REFURB_HOME": str(home)}).with_options(database_url=url)
    ctx = services.Context(settings, operator="Bench", station="bench-1")
    services.init(ctx)
    services.bootstrap_lead(ctx, "Bench")
    services.add_donor(ctx, "Bench donor")
    services.add_batch(ctx, "Bench donor", BATCH)
    services.add_digipunt(ctx, DIGIPUNT, 28)
    return ctx


def one_device(ctx, serial, medium):
    tag = services.register_device(ctx, BATCH, "laptop", "Lenovo", "ThinkPad T480", serial)["tag"]
    services.add_medium(ctx, tag, "nvme", medium, 512 * 10**9)
    services.record_wipe(ctx, tag, medium, "nvme-sanitize", "pass")
    return tag


def populate(ctx, n, method="clone", progress=None, make=None):
    """Fill the database; returns the tags of the devices, in order.  `make(ctx, serial, medium)` makes one
    device (default: one_device); with "clone" the others copy whatever it has."""
    make = make or one_device
    if method == "services" or n <= 1:
        out = []
        for i in range(n):
            out.append(make(ctx, f"BENCH-SN-{i:07d}", f"BENCH-MS-{i:07d}"))
            if progress and (i + 1) % 500 == 0:
                progress(i + 1, n)
        return out
    template = make(ctx, TEMPLATE_SERIAL, TEMPLATE_MEDIUM)
    return [template] + _clone(ctx, template, n - 1, progress)


def _clone(ctx, template_tag, count, progress):
    from sqlalchemy import func, insert, select, text, update

    from refurb.models import ChainHead, Device, Event, StorageMedium, TagCounter, WipeRecord

    device_t, medium_t, wipe_t, event_t = (m.__table__ for m in (Device, StorageMedium, WipeRecord, Event))
    with db.session(ctx.url) as s:
        conn = s.connection()
        device = dict(conn.execute(select(device_t).where(device_t.c.tag == template_tag)).mappings().one())
        media = [dict(r) for r in conn.execute(select(medium_t).where(medium_t.c.device_id == device["id"])
                                               .order_by(medium_t.c.id)).mappings()]
        wipes = [dict(r) for r in conn.execute(select(wipe_t).where(wipe_t.c.device_id == device["id"])
                                               .order_by(wipe_t.c.id)).mappings()]
        events = [dict(r) for r in conn.execute(select(event_t).where(event_t.c.device_id == device["id"])
                                                .order_by(event_t.c.id)).mappings()]
    prefix = ctx.settings.tag_prefix.upper()
    made = []
    for start in range(0, count, CHUNK):
        size = min(CHUNK, count - start)
        with db.session(ctx.url, write=True) as s:
            conn = s.connection()
            head = dict(conn.execute(select(ChainHead.__table__)).mappings().one())
            counter = conn.execute(select(TagCounter.__table__.c.next_seq).where(TagCounter.__table__.c.prefix == prefix)
                                   ).scalar()
            next_id = {t: (conn.execute(select(func.max(t.c.id))).scalar() or 0) + 1 for t in (device_t, medium_t, wipe_t)}
            rows = {device_t: [], medium_t: [], wipe_t: [], event_t: []}
            prev, event_id = head["hash"], head["last_event_id"]
            for i in range(start, start + size):
                number = tags.next_number(prefix, counter)
                counter = number + 1
                tag = tags.make(prefix, number)
                swap = {template_tag: tag, TEMPLATE_SERIAL: f"BENCH-SN-{i:07d}", TEMPLATE_MEDIUM: f"BENCH-MS-{i:07d}"}
                ids = {"device": {device["id"]: next_id[device_t]}, "medium": {}, "event": {}}
                next_id[device_t] += 1
                for e in events:
                    event_id += 1
                    ids["event"][e["id"]] = event_id
                for m in media:
                    ids["medium"][m["id"]] = next_id[medium_t]
                    next_id[medium_t] += 1
                new_events = []
                for e in events:
                    row = _copy(e, swap, ids, "event")
                    row["prev_hash"] = prev
                    row["hash"] = prev = services.event_hash(prev, SimpleNamespace(**row))
                    new_events.append(row)
                rows[event_t] += new_events
                dev = _copy(device, swap, ids, "device")
                dev["last_event_id"] = new_events[-1]["id"]
                rows[device_t].append(dev)
                rows[medium_t] += [_copy(m, swap, ids, "medium") for m in media]
                for w in wipes:
                    row = _copy(w, swap, ids)
                    row["id"] = next_id[wipe_t]
                    next_id[wipe_t] += 1
                    rows[wipe_t].append(row)
                made.append(tag)
            # parents first: events point at devices, wipe records at media
            for table in (device_t, medium_t, wipe_t, event_t):
                conn.execute(insert(table), rows[table])
            conn.execute(update(ChainHead.__table__).where(ChainHead.__table__.c.id == head["id"]).values(
                hash=prev, last_event_id=event_id, count=head["count"] + len(rows[event_t])))
            conn.execute(update(TagCounter.__table__).where(TagCounter.__table__.c.prefix == prefix).values(
                next_seq=counter))
            if not db.is_sqlite(db.normalise_url(ctx.url)):
                for table in (device_t, medium_t, wipe_t):
                    conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                      f"(SELECT max(id) FROM {table.name}))"))
        if progress:
            progress(start + size + 1, count + 1)
    return made


def _copy(row, swap, ids, kind=None):
    """A template row for a clone: ids remapped, the template's tag and serials swapped in every text."""
    out = {}
    for key, value in row.items():
        if key == "id":
            value = ids[kind][value] if kind else value
        elif key == "device_id" and value is not None:
            value = ids["device"][value]
        elif key == "medium_id":
            value = ids["medium"][value]
        elif (key == "event_id" or key.endswith("_event_id")) and value is not None:
            value = ids["event"].get(value, value)
        elif isinstance(value, str):
            for old, new in swap.items():
                value = value.replace(old, new)
        out[key] = value
    return out


def sample(tag_list, k, seed=12):
    """k tags spread over the whole database (fixed seed: the same devices every run)."""
    return random.Random(seed).sample(tag_list, min(k, len(tag_list)))
