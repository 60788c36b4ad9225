"""Ready-stock exports (SPEC §8): what a digipunt can lend, for its partners, without personal data.

The stock list of a digipunt holds the devices in its pool that are not on loan (state `allocated`, location
the digipunt); without a digipunt it holds every `ready` or `allocated` device.  One query (SQLAlchemy Core
on the session's connection) gathers every column of every device; the writers only format.

The columns are stable and machine-readable: English keys, the same in every language, in this order.

    tag             our asset tag
    serial          the manufacturer's serial number
    kind            laptop, tablet, phone, desktop, other
    make, model     as recorded at intake
    cpu             the processor, as the hardware snapshot names it
    ram_gb          memory in GB (7.5 stays 7.5, 8.0 is written 8)
    storage_gb      the device's storage media together, in decimal GB with one decimal; the snapshot's figure
                    when no medium has a recorded size
    storage_type    the media types in the order recorded, each once, joined with "+": "nvme", "hdd+sata-ssd"
    screen          the diagonal in inches
    battery_health  % of the design capacity, measured at QC (or read from the snapshot)
    image           the id of the OS image installed last (`refurb images`)
    grade           A, B or C
    accessories     joined with ", " (a list in JSON)
    location        the digipunt the device is allocated to; empty while it waits in the warehouse
    ready_since     when the device last entered `ready`

Formats (FORMATS):
    csv        RFC 4180: ",", CRLF, UTF-8 without BOM, "." decimals, ready_since as an ISO date (yyyy-mm-dd)
    excel-csv  what Excel opens correctly in Belgium: ";", UTF-8 with BOM, decimal commas, dates dd/mm/yyyy
    xlsx       one sheet, the keys as header row, numbers as numbers, ready_since a date cell (dd/mm/yyyy)
    json       {"digipunt", "generated_at", "count", "devices": [{key: value}]}, one device a line: numbers
               as numbers, accessories a list, ready_since an ISO 8601 moment in UTC
    pdf        a printable list per digipunt, headings in the document's language (Dutch by default)
CSV, excel-csv and XLSX carry the keys as their header row, so an export re-imports as a donor manifest.
Dates are calendar days in Europe/Brussels (SPEC §11).

No personal data and no donor identity: the query reads no borrower, loan, donor, batch, donor asset tag,
IMEI or MAC.

Ready since is the newest `at` among the device's events whose to_state is 'ready': a correlated subquery
that walks the device's own events through ix_event_device_id (a handful of rows per device, never a scan
of the whole history); a device that comes back from a loan and is checked again gets its new date.

Example:
    write_stock(ctx, "excel-csv", out="gent-zuid.csv", digipunt="Gent Zuid")
"""

import csv
import io
import json
import sys
from datetime import UTC, date

from . import catalog, pdfdoc, services
from .errors import UsageProblem
from .i18n import N_, _
from .states import State

COLUMNS = ("tag", "serial", "kind", "make", "model", "cpu", "ram_gb", "storage_gb", "storage_type", "screen",
           "battery_health", "image", "grade", "accessories", "location", "ready_since")
NUMBERS = ("ram_gb", "storage_gb", "screen", "battery_health")
FORMATS = ("csv", "excel-csv", "xlsx", "pdf", "json")
BINARY = frozenset({"xlsx", "pdf"})
STOCK_STATES = (State.READY.value, State.ALLOCATED.value)
BRUSSELS = "Europe/Brussels"
ACCESSORY_SEPARATOR = ", "
TYPE_SEPARATOR = "+"


# ---------------------------------------------------------------------------- the rows


def stock_rows(ctx, digipunt=None):
    """The stock list as plain data: one dict per device with the COLUMNS keys, ordered by tag.

    Numbers are int or float (None when unknown), accessories a list, ready_since an ISO 8601 moment in UTC.
    An unknown digipunt raises NotFound."""
    _name, records = _fetch(ctx, digipunt)
    return [_plain(record) for record in records]


def _plain(record):
    row = dict(zip(COLUMNS, record, strict=True))
    row["ready_since"] = services.iso(row["ready_since"])
    return row


def _fetch(ctx, digipunt):
    """(the digipunt's name or None, records): a record is a list of values in COLUMNS order, ready_since
    an aware datetime.  Lists, not dicts: the writers of 100 000 rows format a few cells and pass the rest."""
    with services.reading(ctx) as s:
        location = services.get_digipunt(s, digipunt) if digipunt is not None else None
        result = s.connection().execute(_query(location.id if location else None))
        return (location.name if location else None), _assemble(result)


def _query(location_id):
    """Every column of every stock device, one row per storage medium (a device without media: one row)."""
    from sqlalchemy import func, select

    from .models import Device, Event, ImageRecord, Location, StorageMedium

    d, m, loc = Device.__table__, StorageMedium.__table__, Location.__table__
    img, ev = ImageRecord.__table__, Event.__table__
    image = select(img.c.image_id).where(img.c.device_id == d.c.id).order_by(img.c.id.desc()).limit(1)
    ready = select(func.max(ev.c.at)).where(ev.c.device_id == d.c.id, ev.c.to_state == State.READY.value)
    query = (
        select(d.c.id, d.c.tag, d.c.serial, d.c.kind, d.c.make, d.c.model, d.c.grade, d.c.specs, loc.c.name,
               image.scalar_subquery(), ready.scalar_subquery(), m.c.type, m.c.size_bytes)
        .select_from(d.outerjoin(loc, loc.c.id == d.c.location_id).outerjoin(m, m.c.device_id == d.c.id))
        .order_by(d.c.tag, m.c.id)
    )
    if location_id is None:
        return query.where(d.c.state.in_(STOCK_STATES))
    return query.where(d.c.state == State.ALLOCATED.value, d.c.location_id == location_id)


def _assemble(result):
    """Rows of the query → one record per device; a device's media rows follow each other (ordered by tag)."""
    rows, current, media = [], None, []
    for (device_id, tag, serial, kind, make, model, grade, specs, location, image, ready,
         medium_type, size) in result:
        if current is None or current[0] != device_id:
            if current is not None:
                rows.append(_row(current, media))
            current, media = (device_id, tag, serial, kind, make, model, grade, specs, location, image, ready), []
        if medium_type is not None:
            media.append((medium_type, size))
    if current is not None:
        rows.append(_row(current, media))
    return rows


def _row(device, media):
    _id, tag, serial, kind, make, model, grade, specs, location, image, ready = device
    specs = _specs(specs)
    storage_gb, storage_type = _storage(media, specs)
    if ready is not None and ready.tzinfo is None:
        ready = ready.replace(tzinfo=UTC)  # SQLite keeps UTC moments without their zone
    return [tag, serial, kind, make, model, _text(specs.get("cpu")), _number(specs.get("ram_gb")), storage_gb,
            storage_type, _number(specs.get("screen_inches")), _number(specs.get("battery_health")), image, grade,
            _accessories(specs.get("accessories")), location, ready]


def _storage(media, specs):
    """(total GB of the media, their types joined); the snapshot's total when no medium has a size."""
    if len(media) == 1:  # most devices: one drive
        kind, size = media[0]
        return (_number(round(size / 1e9, 1)) if size else _number(specs.get("storage_gb"))), kind
    sizes = [size for _kind, size in media if size]
    total = _number(round(sum(sizes) / 1e9, 1)) if sizes else _number(specs.get("storage_gb"))
    return total, TYPE_SEPARATOR.join(dict.fromkeys(kind for kind, _size in media)) or None


def _specs(text):
    try:
        specs = json.loads(text or "{}")
    except ValueError:
        return {}
    return specs if isinstance(specs, dict) else {}


def _text(value):
    return None if value is None or value == "" else str(value)


def _number(value):
    """An int when whole (8.0 → 8), else the float; None for what is not a number."""
    kind = type(value)
    if kind is int:
        return value
    if kind is not float:
        if value is None or kind is bool:
            return None
        try:
            value = float(value)
        except (TypeError, ValueError):
            return None
    return int(value) if value.is_integer() else value


def _accessories(value):
    if isinstance(value, str):
        value = [value]
    return [str(a) for a in value if a not in (None, "")] if isinstance(value, list | tuple) else []


# ---------------------------------------------------------------------------- writing


def write_stock(ctx, fmt, out=None, digipunt=None, lang="nl", stream=None):
    """Write the stock list in format `fmt` (FORMATS) to the file `out`, or to `stream` (default stdout) for
    the text formats csv, excel-csv and json.  The file is written beside `out` and renamed into place.

    `lang` is the language of the PDF only; every other format is the same in every language.
    Returns {"rows": n, "file": str | None, "format": fmt, "digipunt": name | None}."""
    if fmt not in FORMATS:
        raise UsageProblem(_("unknown export format {format!r}").format(format=fmt),
                           hint=_("formats: {choices}").format(choices=", ".join(FORMATS)))
    if fmt in BINARY and out is None:
        raise UsageProblem(_("{format} is not written to the terminal: give --out FILE").format(format=fmt),
                           hint=f"--out stock.{fmt}")
    if fmt == "pdf":
        pdfdoc.Words(lang)  # an unknown language is refused before the query
    name, rows = _fetch(ctx, digipunt)
    writer = WRITERS[fmt]
    if out is None:
        writer(stream or sys.stdout, rows, name=name, ctx=ctx, lang=lang)
        return {"rows": len(rows), "file": None, "format": fmt, "digipunt": name}
    context = {"name": name, "ctx": ctx, "lang": lang}
    build = ((lambda handle: writer(handle, rows, **context)) if fmt in BINARY
             else _text_file(writer, rows, **context))
    return {"rows": len(rows), "file": str(pdfdoc.write(out, build)), "format": fmt, "digipunt": name}


def _text_file(writer, rows, **context):
    """`writer` of a text format, made to write into the binary file pdfdoc.write hands over."""
    def build(handle):
        text = io.TextIOWrapper(handle, encoding="utf-8", newline="")
        writer(text, rows, **context)
        text.flush()
        text.detach()  # the file is pdfdoc.write's to close

    return build


def _local_date(moment):
    """The calendar day of an aware moment in Brussels."""
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo(BRUSSELS)).date()


def _csv_values(records, decimal, day):
    """Each record as a list of cells: numbers with `decimal`, accessories joined, the day written by `day`."""
    for record in records:
        values = record.copy()
        if decimal != ".":
            for i in _NUMBER_INDEXES:
                if isinstance(values[i], float):
                    values[i] = repr(values[i]).replace(".", decimal)
        values[_ACCESSORIES] = ACCESSORY_SEPARATOR.join(values[_ACCESSORIES])
        ready = values[_READY]
        values[_READY] = day(_local_date(ready)) if ready is not None else None
        yield values


def _belgian(day):
    return day.strftime("%d/%m/%Y")


_NUMBER_INDEXES = tuple(COLUMNS.index(key) for key in NUMBERS)
_ACCESSORIES, _READY = COLUMNS.index("accessories"), COLUMNS.index("ready_since")


def _write_csv(handle, rows, **_context):
    writer = csv.writer(handle)
    writer.writerow(COLUMNS)
    writer.writerows(_csv_values(rows, ".", date.isoformat))


def _write_excel_csv(handle, rows, **_context):
    handle.write("\ufeff")  # the BOM tells Excel the file is UTF-8
    writer = csv.writer(handle, delimiter=";")
    writer.writerow(COLUMNS)
    writer.writerows(_csv_values(rows, ",", _belgian))


def _write_json(handle, rows, name=None, **_context):
    """The envelope indented, each device on a line of its own: streamed, one json.dumps per device (the C
    encoder; an indented dump of 100 000 devices runs in pure Python and holds the whole text)."""
    head = {"digipunt": name, "generated_at": services.iso(services.now()), "count": len(rows)}
    handle.write("{\n")
    for key, value in head.items():
        handle.write(f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)},\n")
    handle.write('  "devices": [')
    for i, record in enumerate(rows):
        handle.write(("\n    " if i == 0 else ",\n    ") + json.dumps(_plain(record), ensure_ascii=False))
    handle.write("\n  ]\n}\n" if rows else "]\n}\n")


def _write_xlsx(handle, rows, name=None, **_context):
    """A write-only workbook (streams the rows; openpyxl's normal mode holds every cell as an object)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    sheet = book.create_sheet(_sheet_title(name))
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for key in COLUMNS:
        cell = WriteOnlyCell(sheet, value=key)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for record in rows:
        values = record.copy()
        values[_ACCESSORIES] = ACCESSORY_SEPARATOR.join(values[_ACCESSORIES]) or None
        for i, value in enumerate(values):
            if isinstance(value, str) and value.startswith("="):
                values[i] = _literal(sheet, value)  # text, never a formula
        if values[_READY] is not None:
            cell = WriteOnlyCell(sheet, value=_local_date(values[_READY]))
            cell.number_format = "DD/MM/YYYY"
            values[_READY] = cell
        sheet.append(values)
    book.save(handle)


def _literal(sheet, value):
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"
    return cell


def _sheet_title(name):
    """Excel allows 31 characters and none of []:*?/\\ in a sheet's name."""
    title = "".join(" " if ch in "[]:*?/\\" else ch for ch in (name or "stock")).strip()[:31]
    return title or "stock"


# ---------------------------------------------------------------------------- the printable list

LANDSCAPE = (pdfdoc.PAGE_HEIGHT, pdfdoc.PAGE_WIDTH)  # A4 on its side: thirteen columns next to each other
FRAME_PADDING = 6  # platypus keeps 6 points inside each edge of a page's frame
CELL_PADDING = 2
MEDIA_NAMES = {"hdd": "HDD", "sata-ssd": "SSD", "nvme": "NVMe", "emmc": "eMMC"}  # the same in every language
# (column, heading, share of the width): the shares divide the width between the margins
PDF_COLUMNS = (
    ("tag", N_("Tag"), 60), ("serial", N_("Serial number"), 72), ("kind", N_("Kind"), 50),
    ("model", N_("Make and model"), 90), ("cpu", N_("Processor"), 82), ("ram_gb", N_("RAM"), 36),
    ("storage", N_("Storage"), 60), ("screen", N_("Screen"), 42), ("battery_health", N_("Battery"), 44),
    ("image", N_("OS"), 60), ("grade", N_("Grade"), 38), ("accessories", N_("Accessories"), 80),
    ("ready_since", N_("Ready since"), 56),
)


def _write_pdf(handle, rows, name=None, ctx=None, lang="nl"):
    """A list per digipunt, each from a new page: title, count and date, then a table whose header row
    repeats on every page; the date of the list and 'page x / y' at the top of every page."""
    from zoneinfo import ZoneInfo

    from reportlab.platypus import PageBreak

    pdf = pdfdoc.Pdf(pdfdoc.Words(lang))
    words = pdf.words
    made = services.now().astimezone(ZoneInfo(BRUSSELS)).strftime("%d/%m/%Y %H:%M")
    organisation = ctx.settings.organisation if ctx is not None else None
    story = []
    for loc, pool in _sections([dict(zip(COLUMNS, record, strict=True)) for record in rows], name):
        if story:
            story.append(PageBreak())
        story += _section(loc, pool, pdf, made)
    title = words(N_("Ready-stock list"))
    pdfdoc.build(handle, pdf, story, f"{title}: {name}" if name else title,
                 words(N_("List of {date}")).format(date=made), footer=(organisation or "", ""),
                 author=organisation, pagesize=LANDSCAPE)


def _sections(rows, name):
    """(digipunt or None, its rows): the one digipunt asked for, else each digipunt by name, then the warehouse."""
    if name is not None:
        return [(name, rows)]
    pools = {}
    for row in rows:
        pools.setdefault(row["location"], []).append(row)
    return [(loc, pools[loc]) for loc in sorted(pools, key=lambda x: (x is None, x or ""))] or [(None, [])]


def _section(loc, pool, pdf, made):
    from reportlab.platypus import LongTable, TableStyle

    words, colors = pdf.words, pdf.colors
    heading = (words(N_("Ready stock of {digipunt}")).format(digipunt=loc) if loc is not None
               else words(N_("Ready stock not yet allocated (warehouse)")))
    count = words.ngettext("{count} device, list of {date}", "{count} devices, list of {date}", len(pool))
    story = [pdf.p(heading, "title"), pdf.p(count.format(count=len(pool), date=made), "subtitle")]
    if not pool:
        return story + [pdf.p(words(N_("No devices in this list.")))]
    width = LANDSCAPE[0] - 2 * (pdfdoc.MARGIN + FRAME_PADDING)
    shares = sum(share for _key, _message, share in PDF_COLUMNS)
    columns = [(key, width * share / shares) for key, _message, share in PDF_COLUMNS]
    images = catalog.load_images()
    table = [pdf.header_row([message for _key, message, _share in PDF_COLUMNS])]
    for row in pool:
        cells = _cells(row, words, images)
        table.append([_cell(pdf, cells[key], column_width) for key, column_width in columns])
    grid = LongTable(table, colWidths=[column_width for _key, column_width in columns], repeatRows=1,
                     hAlign="LEFT")
    size = pdf.style["cell"].fontSize
    grid.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), pdfdoc.FONT, size),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), CELL_PADDING), ("RIGHTPADDING", (0, 0), (-1, -1), CELL_PADDING),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
        ("BACKGROUND", (0, 0), (-1, 0), pdf.shade),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.Color(.96, .96, .96)]),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.Color(.3, .3, .3)),
        ("LINEBELOW", (0, 1), (-1, -1), 0.25, pdf.rule),
    ]))
    return story + [grid]


def _cells(row, words, images):
    """The printed text of each PDF column, in the document's language."""
    storage = row["storage_gb"]
    kinds = "+".join(MEDIA_NAMES.get(t, t) for t in (row["storage_type"] or "").split(TYPE_SEPARATOR) if t)
    image = images.get(row["image"])

    def number(value, unit):
        if value is None:
            return ""
        text = f"{value:g}" if isinstance(value, float) else str(value)
        return (text if words.lang == "en" else text.replace(".", ",")) + unit

    return {
        "tag": row["tag"],
        "serial": row["serial"] or "",
        "kind": words.kind(row["kind"]),
        "model": " ".join(x for x in (row["make"], row["model"]) if x),
        "cpu": row["cpu"] or "",
        "ram_gb": number(row["ram_gb"], " GB"),
        "storage": " ".join(x for x in (number(storage, " GB"), kinds) if x),
        "screen": number(row["screen"], '"'),
        "battery_health": number(row["battery_health"], " %"),
        "image": image.os if image else row["image"] or "",
        "grade": row["grade"] or "",
        "accessories": ACCESSORY_SEPARATOR.join(row["accessories"]),
        "ready_since": _local_date(row["ready_since"]).strftime("%d/%m/%Y") if row["ready_since"] else "",
    }


def _cell(pdf, text, width):
    """The text itself when it fits its column, else a Paragraph that wraps it (ten times slower to lay out)."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    text = pdfdoc.printable(text, pdf.glyphs)
    if stringWidth(text, pdfdoc.FONT, pdf.style["cell"].fontSize) <= width - 2 * CELL_PADDING:
        return text
    return pdf.p(text, "cell")


WRITERS = {"csv": _write_csv, "excel-csv": _write_excel_csv, "json": _write_json, "xlsx": _write_xlsx,
           "pdf": _write_pdf}
