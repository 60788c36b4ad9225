"""Label templates as data, and the labels they print (SPEC §7).

A template is one TOML file in millimetres: the shipped ones in labels/, the user's in the folder
Settings.labels_dir names (a user template with the id of a shipped one replaces it).  It says what it
prints on (`media`: a sheet of labels with its page and grid, die-cut labels on a roll, or a continuous roll
cut to length), the printer's resolution, and the elements of one label: text, Code 128, QR, DataMatrix, an
image, lines and boxes.  An element's `content` may hold {field} placeholders from FIELDS, each with a sample
value, so every template previews without a database.  Loading is strict: an unknown key or a bad value is an
InvalidConfig that names the file and the key (`element[#3].size`).

Rendering is kept apart from printing (refurb.printing sends the result to CUPS, a Zebra or a Brother QL):
- `render()` writes a vector PDF.  Bars and QR/DataMatrix modules are filled rectangles a whole number of
  printer dots wide, placed on the printer's dot grid, so a 203 dpi thermal head prints every bar alike.
  The elements without placeholders are drawn once, as a form every label reuses.
- `rasterise()` gives one bitmap per label at the printer's resolution, for ZPL and Brother QL raster.
A value that cannot be drawn (a serial Code 128 cannot encode, a QR too big for its box, a missing tag)
prints a visible placeholder on its label and a line in the report: the rest of the run still prints.

Heavy libraries (reportlab, zxing-cpp, numpy, Pillow) are imported inside the functions that draw.
"""

import functools
import io
import math
import string
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NamedTuple

from . import catalog, pdfdoc, tags
from .errors import InvalidConfig, NotFound, UsageProblem
from .i18n import N_, _

MM = 72 / 25.4  # PDF points per millimetre
MEDIA = ("sheet", "die-cut", "continuous")
FONTS = {  # the PDF base fonts, and the outlines reportlab ships with the same metrics (for bitmaps)
    "Helvetica": "_a______.pfb",
    "Helvetica-Bold": "_ab_____.pfb",
    "Courier": "com_____.pfb",
    "Courier-Bold": "cob_____.pfb",
}
ALIGN = ("left", "center", "right")
EC_LEVELS = ("L", "M", "Q", "H")
BASELINE = 0.75  # a text's baseline lies this many font sizes below the top of its element
MIN_DOTS = 2  # no bar or module thinner than two printer dots: one-dot lines fade on thermal heads
TOLERANCE = 1e-6


class Field(NamedTuple):
    description: str  # a msgid: translate with _() when showing it
    sample: str


# The values a label can show.  Records are dicts with these keys; a missing key or None means "unknown".
FIELDS = {
    "tag": Field(N_("our asset tag"), "RB-004217-V"),
    "serial": Field(N_("manufacturer serial number"), "PF1A2B3C"),
    "make": Field(N_("manufacturer"), "Lenovo"),
    "model": Field(N_("model"), "ThinkPad T480"),
    "kind": Field(N_("device kind"), "laptop"),
    "batch": Field(N_("donor batch reference"), "2025-014"),
    "donor": Field(N_("donor"), "Acme NV"),
    "donor_tag": Field(N_("the donor's asset tag"), "ACME-IT-00917"),
    "cpu": Field(N_("processor"), "Intel Core i5-8350U"),
    "ram_gb": Field(N_("memory in GB"), "8"),
    "storage_gb": Field(N_("storage in GB"), "256"),
    "grade": Field(N_("QC grade"), "A"),
    "image": Field(N_("installed OS image"), "linux-mint"),
    "org": Field(N_("our organisation"), "Digibank Gent"),
    "date": Field(N_("date printed (dd/mm/yyyy)"), "14/03/2025"),
    "part": Field(N_("which part a parts tag is for"), "charger"),
}

_ELEMENT_KEYS = {  # type: (required keys, optional keys)
    "text": (("x", "y", "content"), ("width", "size", "min_size", "font", "align", "grey")),
    "code128": (("x", "y", "width", "height", "content"), ("module", "min_module", "quiet", "align")),
    "qr": (("x", "y", "size", "content"), ("ec", "quiet", "module")),
    "datamatrix": (("x", "y", "size", "content"), ("quiet", "module")),
    "image": (("x", "y", "width", "height", "file"), ()),
    "line": (("x", "y", "x2", "y2"), ("thickness", "grey", "dash")),
    "box": (("x", "y", "width", "height"), ("thickness", "radius", "grey", "dash")),
}
CODES = ("code128", "qr", "datamatrix")


# ---------------------------------------------------------------------------------------------------------
# Templates


@dataclass(frozen=True)
class Element:
    """One thing drawn on a label; lengths in mm from the label's top-left corner, y downwards."""

    type: str
    x: float
    y: float
    width: float = 0.0  # qr and datamatrix: the side of their square box
    height: float = 0.0
    content: str = ""  # text or code, with {field} placeholders
    fields: tuple[str, ...] = ()
    size: float = 8.0  # text: font size in points
    min_size: float = 0.0  # text: shrink down to this before cutting with an ellipsis (0: the size)
    font: str = "Helvetica"
    align: str = "left"
    module: float = 0.0  # codes: the widest bar module wanted, mm (0: as wide as the box allows)
    min_module: float = 0.0  # code128: the narrowest acceptable module, mm
    quiet: int = 0  # codes: blank modules kept around the symbol inside its box
    ec: str = "M"  # qr: error correction level
    x2: float = 0.0  # line: the other end
    y2: float = 0.0
    thickness: float = 0.25
    radius: float = 0.0
    grey: float = 0.0  # 0 black … 1 white (PDF only: bitmaps print black)
    dash: float = 0.0  # dash length, mm (0: solid)
    file: str = ""  # image: absolute path

    @property
    def static(self):
        return not self.fields

    @functools.cached_property
    def alone(self):
        """The field, when the content is that one field and nothing else."""
        return self.fields[0] if len(self.fields) == 1 and self.content == "{" + self.fields[0] + "}" else None

    def describe(self):
        return f"{self.type} {self.content}".strip() if self.content else self.type


@dataclass(frozen=True)
class Template:
    id: str
    name: str
    media: str
    dpi: int
    width: float  # label, mm
    height: float
    elements: tuple[Element, ...]
    margin: tuple[float, float] = (1.0, 1.0)  # elements keep this far from the label's edges (x, y)
    radius: float = 0.0
    page: tuple[float, float] = (0.0, 0.0)  # the page: the label itself unless media is "sheet"
    columns: int = 1
    rows: int = 1
    left: float = 0.0  # sheet: page edge to the first column / first row
    top: float = 0.0
    pitch: tuple[float, float] = (0.0, 0.0)  # sheet: from one label to the next, across and down
    brother: str | None = None  # the brother_ql label identifier for this media
    source: str = ""
    shipped: bool = False

    @property
    def per_page(self):
        return self.columns * self.rows

    def slot(self, position):
        """(page, x, y) of the label at `position` (0-based, reading order): page 1-based, the label's
        top-left corner in mm from the page's top-left."""
        page, k = divmod(position, self.per_page)
        row, column = divmod(k, self.columns)
        return page + 1, self.left + column * self.pitch[0], self.top + row * self.pitch[1]


def load_templates(extra_dirs=()):
    """Every label template by id: the shipped ones, then those of each folder in `extra_dirs` in order (a
    later template with the same id replaces an earlier one).

    Example:
        load_templates([settings.labels_dir])["avery-l7163"].per_page  # 14
    """
    templates = {}
    folders = [(catalog.shipped_dir("labels"), True)]
    folders += [(Path(d).expanduser(), False) for d in extra_dirs if d]
    for folder, shipped in folders:
        for path in catalog._toml_files(folder, _("label template folder")):
            template = load_template(path, shipped=shipped)
            templates[template.id] = template
    return templates


def get_template(template_id, extra_dirs=()):
    """The template `template_id`; NotFound (with the ids there are) when there is none."""
    templates = load_templates(extra_dirs)
    if template_id not in templates:
        raise NotFound(
            _("no label template {id!r}").format(id=template_id),
            hint=_("templates: {ids} (see: refurb labels templates)").format(ids=", ".join(sorted(templates))),
        )
    return templates[template_id]


def describe(template):
    """What `refurb labels templates` shows of a template (JSON-ready)."""
    return {
        "id": template.id,
        "name": template.name,
        "media": template.media,
        "width_mm": template.width,
        "height_mm": template.height,
        "per_page": template.per_page if template.media == "sheet" else None,
        "dpi": template.dpi,
        "brother": template.brother,
        "source": template.source,
        "shipped": template.shipped,
    }


def load_template(path, shipped=False):
    """One template file, validated."""
    path = Path(path)
    r = catalog._Reader(str(path), catalog._read_toml(path))
    r.expect_keys(("id", "name", "media", "dpi", "label", "element"), ("page", "grid", "brother"))
    template_id = r.string("id", slug=True)
    if template_id != path.stem:
        r.fail("id", _("{value!r} does not match the file name {name!r}").format(value=template_id, name=path.name),
               hint=_("the id of a label template must equal its file name without .toml"))
    media = r.string("media", choices=MEDIA)
    dpi = r.positive_int("dpi")
    if not 100 <= dpi <= 1200:
        r.fail("dpi", _("a printer resolution between 100 and 1200 dots per inch, not {value}").format(value=dpi))

    label = r.table("label")
    label.expect_keys(("width", "height"), ("margin", "radius"))
    width, height = label.number("width", positive=True), label.number("height", positive=True)
    margin = _pair(label, "margin") if "margin" in label.data else (1.0, 1.0)
    radius = label.number("radius") if "radius" in label.data else 0.0
    if 2 * margin[0] >= width or 2 * margin[1] >= height:
        label.fail("margin", _("leaves no room on a label of {w:g} × {h:g} mm").format(w=width, h=height))

    sheet = _read_sheet(r, media, width, height)
    base = Template(id=template_id, name=r.string("name"), media=media, dpi=dpi, width=width, height=height,
                    elements=(), margin=margin, radius=radius, brother=None, source=str(path), shipped=shipped,
                    **sheet)
    if "brother" in r.data:
        if media == "sheet":
            r.fail("brother", _("a Brother QL prints on rolls, not on sheets"))
        base = replace(base, brother=r.string("brother"))
    elements = tuple(_read_element(e, base, path.parent) for e in r.table_array("element"))
    return replace(base, elements=elements)


def _pair(r, name):
    """A length given once (both ways) or as [across, down]."""
    value = r.data[name]
    if isinstance(value, list):
        ok = len(value) == 2 and all(isinstance(v, int | float) and not isinstance(v, bool) and v >= 0
                                     for v in value)
        r._expect(name, value, ok, _("a number or [across, down]"))
        return float(value[0]), float(value[1])
    number = r.number(name)
    return number, number


def _read_sheet(r, media, width, height):
    if media != "sheet":
        for name in ("page", "grid"):
            if name in r.data:
                r.fail(name, _("only a sheet has a [{name}] table; this template's media is {media!r}").format(
                    name=name, media=media))
        return {"page": (width, height)}
    for name in ("page", "grid"):
        if name not in r.data:
            r.fail(name, _("a sheet needs a [{name}] table").format(name=name))
    page = r.table("page")
    page.expect_keys(("width", "height"))
    page_w, page_h = page.number("width", positive=True), page.number("height", positive=True)
    grid = r.table("grid")
    grid.expect_keys(("columns", "rows", "left", "top", "pitch"))
    columns, rows = grid.positive_int("columns"), grid.positive_int("rows")
    left, top = grid.number("left"), grid.number("top")
    pitch = _pair(grid, "pitch")
    if (columns > 1 and pitch[0] < width - TOLERANCE) or (rows > 1 and pitch[1] < height - TOLERANCE):
        grid.fail("pitch", _("labels of {w:g} × {h:g} mm would overlap at this pitch").format(w=width, h=height))
    right = left + (columns - 1) * pitch[0] + width
    bottom = top + (rows - 1) * pitch[1] + height
    if right > page_w + TOLERANCE or bottom > page_h + TOLERANCE:
        grid.fail("pitch", _("the grid ends at {x:g} × {y:g} mm, off the {w:g} × {h:g} mm page").format(
            x=round(right, 2), y=round(bottom, 2), w=page_w, h=page_h))
    return {"page": (page_w, page_h), "columns": columns, "rows": rows, "left": left, "top": top, "pitch": pitch}


def _read_element(r, template, folder):
    if "type" not in r.data:
        r.fail("type", _("missing: one of {choices}").format(choices=", ".join(_ELEMENT_KEYS)))
    kind = r.string("type", choices=tuple(_ELEMENT_KEYS))
    required, optional = _ELEMENT_KEYS[kind]
    r.expect_keys(("type", *required), optional)
    get = {}
    for name in r.data:
        if name in ("type", "content", "font", "align", "ec", "file"):
            continue
        if name == "quiet":
            value = r.data[name]
            ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 50
            r._expect(name, value, ok, _("a whole number of modules from 0 to 50"))
            get[name] = value
        else:
            get[name] = r.number(name, positive=name in ("width", "height", "size", "module", "min_module",
                                                         "thickness"))
    if "size" in get and kind in ("qr", "datamatrix"):
        get["width"] = get["height"] = get.pop("size")
    if "grey" in get and get["grey"] > 1:
        r.fail("grey", _("0 (black) to 1 (white), not {value:g}").format(value=get["grey"]))
    element = Element(type=kind, **get)
    if kind == "text":
        element = _read_text(r, element, template)
    elif kind in CODES:
        element = _read_code(r, element)
    elif kind == "image":
        file = (folder / r.string("file")).resolve()
        if not file.is_file():
            r.fail("file", _("no such image: {file}").format(file=file))
        element = replace(element, file=str(file))
    _check_inside(r, element, template)
    return element


def _read_text(r, element, template):
    if "font" in r.data:
        element = replace(element, font=r.string("font", choices=tuple(FONTS)))
    if "align" in r.data:
        element = replace(element, align=r.string("align", choices=ALIGN))
    if not 2 <= element.size <= 144:
        r.fail("size", _("a font size between 2 and 144 points, not {value:g}").format(value=element.size))
    if element.min_size > element.size:
        r.fail("min_size", _("larger than size ({size:g})").format(size=element.size))
    if not element.width:
        element = replace(element, width=template.width - template.margin[0] - element.x)
    if element.width <= 0:
        r.fail("x", _("leaves no room for text on a label {w:g} mm wide").format(w=template.width))
    element = replace(element, height=element.size / MM)
    return _read_content(r, element)


def _read_code(r, element):
    if element.type == "code128" and "align" in r.data:
        element = replace(element, align=r.string("align", choices=ALIGN))
    if element.type == "qr" and "ec" in r.data:
        element = replace(element, ec=r.string("ec", choices=EC_LEVELS))
    if "quiet" not in r.data:
        element = replace(element, quiet={"code128": 10, "qr": 4, "datamatrix": 2}[element.type])
    if element.type == "code128":
        element = replace(element, module=element.module or 0.5, min_module=element.min_module or 0.19)
        if element.min_module > element.module:
            r.fail("min_module", _("larger than module ({module:g})").format(module=element.module))
    element = _read_content(r, element)
    if element.type == "code128" and not element.fields:
        problem = _code128_problem(element.content)
        if problem:
            r.fail("content", problem)
    return element


def _read_content(r, element):
    content = r.string("content")
    try:
        parsed = list(string.Formatter().parse(content))
    except ValueError as exc:
        r.fail("content", _("badly placed brace: {error}").format(error=exc), hint=_("write a literal brace twice"))
    fields = []
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in FIELDS or spec or conversion:
            r.fail("content", _("unknown field {{{field}}}").format(field=name + (f"!{conversion}" if conversion
                                                                                 else "") + (f":{spec}" if spec else "")),
                   hint=_("fields: {names}").format(names=", ".join(FIELDS)))
        if name not in fields:
            fields.append(name)
    return replace(element, content=content, fields=tuple(fields))


def _check_inside(r, element, template):
    """Every element stays inside the label, clear of its margins."""
    if element.type == "line":
        xs, ys = (element.x, element.x2), (element.y, element.y2)
    else:
        xs, ys = (element.x, element.x + element.width), (element.y, element.y + element.height)
    (mx, my), w, h = template.margin, template.width, template.height
    if min(xs) < mx - TOLERANCE or max(xs) > w - mx + TOLERANCE:
        r.fail("x", _("reaches from {a:g} to {b:g} mm across; the printable part of the label is {lo:g} to {hi:g}").format(
            a=round(min(xs), 3), b=round(max(xs), 3), lo=mx, hi=round(w - mx, 3)))
    if min(ys) < my - TOLERANCE or max(ys) > h - my + TOLERANCE:
        r.fail("y", _("reaches from {a:g} to {b:g} mm down; the printable part of the label is {lo:g} to {hi:g}").format(
            a=round(min(ys), 3), b=round(max(ys), 3), lo=my, hi=round(h - my, 3)))


# ---------------------------------------------------------------------------------------------------------
# Records


def sample_records(count=1):
    """`count` records of sample values, each with its own (valid) asset tag."""
    records, number = [], 4217
    for _i in range(count):
        number = tags.next_number("RB", number)
        records.append({name: f.sample for name, f in FIELDS.items()} | {"tag": tags.make("RB", number)})
        number += 1
    return records


def _value(value):
    """A record's value as label text; None when it is unknown."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = " ".join(str(value).split())
    return text or None


def _fill(element, record):
    """The element's content with the record's values, or None when one of its fields is unknown."""
    if element.static:
        return element.content
    if element.alone:
        return _value(record.get(element.alone))
    values = {}
    for name in element.fields:
        value = _value(record.get(name))
        if value is None:
            return None
        values[name] = value
    return element.content.format_map(values)


# ---------------------------------------------------------------------------------------------------------
# Symbols


# Code 128 symbol values 0-106 as bar/space widths in modules (ISO/IEC 15417 table 1); 106 is the stop.
_C128 = (
    "212222 222122 222221 121223 121322 131222 122213 122312 132212 221213 221312 231212 112232 122132 122231 "
    "113222 123122 123221 223211 221132 221231 213212 223112 312131 311222 321122 321221 312212 322112 322211 "
    "212123 212321 232121 111323 131123 131321 112313 132113 132311 211313 231113 231311 112133 112331 132131 "
    "113123 113321 133121 313121 211331 231131 213113 213311 213131 311123 311321 331121 312113 312311 332111 "
    "314111 221411 431111 111224 111422 121124 121421 141122 141221 112214 112412 122114 122411 142112 142211 "
    "241211 221114 413111 241112 134111 111242 121142 121241 114212 124112 124211 411212 421112 421211 212141 "
    "214121 412121 111143 111341 131141 114113 114311 411113 411311 113141 114131 311141 411131 211412 211214 "
    "211232 2331112"
).split()
_START_B, _START_C, _CODE_B, _CODE_C, _STOP = 104, 105, 100, 99, 106


def _code128_problem(text):
    if not text:
        return _("nothing to encode")
    bad = sorted({ch for ch in text if not 32 <= ord(ch) <= 126})
    if bad:
        return _("Code 128 cannot encode {chars}").format(chars=" ".join(repr(ch) for ch in bad))
    return None


def code128_values(text):
    """The symbol values of `text` (printable ASCII) from the start character to the check character.

    Code set B, with runs of digits in code set C (two digits per symbol) where that makes the symbol
    shorter: four or more digits at either end (all of a text of two or more), six or more in between."""
    problem = _code128_problem(text)
    if problem:
        raise ValueError(problem)
    values, mode, i, n = [], None, 0, len(text)
    while i < n:
        run = 0
        while i + run < n and text[i + run] in "0123456789":
            run += 1
        at_start, at_end = i == 0, i + run == n
        needed = 2 if at_start and at_end else 4 if at_start or at_end else 6
        if run >= needed:
            if run % 2 and not at_start:  # an odd digit goes first, in code set B
                values += [_START_B] if mode is None else []
                values.append(ord(text[i]) - 32)
                mode, i, run = "B", i + 1, run - 1
            pairs = run // 2
            values.append(_START_C if mode is None else _CODE_C)
            values += [int(text[j:j + 2]) for j in range(i, i + 2 * pairs, 2)]
            mode, i = "C", i + 2 * pairs
            continue
        if mode != "B":
            values.append(_START_B if mode is None else _CODE_B)
            mode = "B"
        values.append(ord(text[i]) - 32)
        i += 1
    check = (values[0] + sum(v * k for k, v in enumerate(values[1:], 1))) % 103
    return values + [check]


def code128_widths(text):
    """The Code 128 symbol of `text` as bar and space widths in modules, bar first, quiet zones excluded."""
    return [w for value in (*code128_values(text), _STOP) for w in _C128_WIDTHS[value]]


_C128_WIDTHS = [tuple(int(w) for w in pattern) for pattern in _C128]


def _c128_ops(widths):
    """One symbol value's bars as PDF rectangles (in modules, from its left edge), filled, then a shift to the
    next value: a Code 128 symbol is drawn without formatting a number per bar."""
    bars, offset = [], 0
    for i, w in enumerate(widths):
        if i % 2 == 0:
            bars.append(f"{offset} 0 {w} 1 re")
        offset += w
    return " ".join(bars) + f" f 1 0 0 1 {offset} 0 cm"


_C128_OPS = [_c128_ops(widths) for widths in _C128_WIDTHS]


def qr_matrix(text, ec="M"):
    """The QR code of `text` as a numpy bool array (True: dark module), quiet zone excluded; ValueError
    when it cannot be encoded."""
    import numpy as np
    import zxingcpp as zx

    symbol = zx.create_barcode(text, zx.BarcodeFormat.QRCode, ec_level=ec)
    return np.asarray(symbol.to_image(scale=1, add_quiet_zones=False)) < 128


def datamatrix_matrix(text):
    """The Data Matrix (ECC 200) of `text`, like qr_matrix."""
    import numpy as np
    import zxingcpp as zx

    symbol = zx.create_barcode(text, zx.BarcodeFormat.DataMatrix, force_square=True)  # few scanners read DMRE
    return np.asarray(symbol.to_image(scale=1, add_quiet_zones=False)) < 128


def _runs(matrix):
    """The dark runs of each row of a module matrix: flat [x, y, length, x, y, length, …]."""
    import numpy as np

    height, width = matrix.shape
    padded = np.zeros((height, width + 2), np.int8)
    padded[:, 1:-1] = matrix
    ys, xs = np.nonzero(padded[:, 1:] - padded[:, :-1])  # row by row, where a run starts, then where it ends
    out = np.empty((len(xs) // 2, 3), np.int64)
    out[:, 0], out[:, 1], out[:, 2] = xs[0::2], ys[0::2], xs[1::2] - xs[0::2]
    return out.ravel().tolist()


# ---------------------------------------------------------------------------------------------------------
# Layout: what one label shows, in mm, for either backend


class _Unprintable(Exception):
    """A value this element cannot draw; its message is the reason shown in the report."""


class Mark(NamedTuple):
    """Something to draw, in mm from the label's top-left corner (y downwards)."""

    kind: str  # text, bars, matrix, line, box, image, placeholder
    x: float
    y: float  # text: the baseline
    width: float = 0.0
    height: float = 0.0
    text: str = ""  # text, placeholder
    unit: float = 0.0  # bars, matrix: the module, mm
    runs: tuple | list = ()  # bars: Code 128 symbol values; matrix: [x, y, length, …] in modules
    element: Element | None = None
    fixed: tuple = ()  # matrix: (x, y, width, height) rectangles of modules every symbol of its size has


def _snap(value, dot):
    return round(value / dot) * dot if dot else value


class _Layout:
    """Turns elements and a record into marks.  Fitting results are cached: a run of labels repeats them."""

    def __init__(self, dpi):
        self.dot = 25.4 / dpi if dpi else None
        self.texts = {}  # (id(element), content) -> Mark: the elements live as long as this layout

    def marks(self, elements, record, problems):
        """The marks of `elements` for `record`; a value that cannot be drawn adds (element, reason) to
        `problems` and gets a placeholder."""
        out = []
        for element in elements:
            mark = self.checked(element, record, problems)
            if mark is not None:
                out.append(mark)
        return out

    def checked(self, element, record, problems):
        try:
            return self.mark(element, record)
        except _Unprintable as exc:
            problems.append((element, str(exc)))
            return Mark("placeholder", element.x, element.y, element.width, element.height,
                        text=_("(error: {what})").format(what=", ".join(element.fields) or element.type),
                        element=element)

    def mark(self, element, record):
        kind = element.type
        if kind in ("line", "box", "image"):
            return Mark(kind, element.x, element.y, element.width, element.height, element=element)
        content = _fill(element, record)
        if content is None:
            if kind == "text":
                return None  # an unknown value leaves its text out; a code without one is worth a placeholder
            raise _Unprintable(_("no value for {fields}").format(fields=", ".join(
                f for f in element.fields if _value(record.get(f)) is None)))
        if kind == "text":
            return self.text(element, content)
        if kind == "code128":
            return self.bars(element, content)
        return self.matrix(element, content)

    def text(self, element, content):
        key = (id(element), content)
        mark = self.texts.get(key)
        if mark is None:
            text, size, width = _fit(printable(content), element.font, element.size,
                                     element.min_size or element.size, element.width)
            x = element.x + {"left": 0, "center": (element.width - width) / 2,
                             "right": element.width - width}[element.align]
            mark = self.texts[key] = Mark("text", x, element.y + BASELINE * element.size / MM, width, size,
                                          text=text, element=element)
        return mark

    def bars(self, element, content):
        problem = _code128_problem(content)
        if problem:
            raise _Unprintable(problem)
        values = (*code128_values(content), _STOP)
        modules = 11 * len(values) + 2
        unit = self._module(element, modules + 2 * element.quiet)
        if unit is None:
            raise _Unprintable(_("{text!r} is too long for a Code 128 {width:g} mm wide").format(
                text=content, width=element.width))
        free = element.width - (modules + 2 * element.quiet) * unit
        x = element.x + element.quiet * unit + {"left": 0, "center": free / 2, "right": free}[element.align]
        return Mark("bars", _snap(x, self.dot), _snap(element.y, self.dot), modules * unit,
                    _snap(element.height, self.dot) or element.height, unit=unit, runs=values, element=element)

    def _module(self, element, modules):
        """The widest module (mm) that fits `modules` in the element's width, between min_module and module,
        a whole number (≥ MIN_DOTS) of printer dots; None when none does."""
        if not self.dot:
            return element.module if modules * element.module <= element.width + TOLERANCE else None
        most = math.floor(min(element.module / self.dot, element.width / (modules * self.dot)) + TOLERANCE)
        least = max(MIN_DOTS, math.ceil(element.min_module / self.dot - TOLERANCE))
        return most * self.dot if most >= least else None

    def matrix(self, element, content):
        try:
            matrix = _matrix(element.type, content, element.ec)
        except ValueError as exc:
            raise _Unprintable(str(exc).split(" (retval")[0]) from None
        side = matrix.shape[1] + 2 * element.quiet, matrix.shape[0] + 2 * element.quiet
        box = min(element.width / side[0], element.height / side[1])
        if element.module:
            box = min(box, element.module)
        dots = math.floor(box / self.dot + TOLERANCE) if self.dot else None
        if dots is not None and dots < MIN_DOTS:
            raise _Unprintable(_("{text!r} is too long for a {what} {size:g} mm wide").format(
                text=content, what="QR code" if element.type == "qr" else "Data Matrix", size=element.width))
        unit = dots * self.dot if dots else box
        width, height = matrix.shape[1] * unit, matrix.shape[0] * unit
        x = element.x + (element.width - width) / 2
        y = element.y + (element.height - height) / 2
        fixed, runs = _cached_runs(element.type, content, element.ec)
        return Mark("matrix", _snap(x, self.dot), _snap(y, self.dot), width, height, unit=unit, runs=runs,
                    fixed=fixed, element=element)


@functools.lru_cache(maxsize=256)
def _matrix(kind, content, ec):
    return qr_matrix(content, ec) if kind == "qr" else datamatrix_matrix(content)


@functools.lru_cache(maxsize=256)
def _cached_runs(kind, content, ec):
    matrix = _matrix(kind, content, ec)
    if kind != "qr":
        return (), _runs(matrix)
    # The three finder patterns are the same in every QR code: five rectangles each instead of seventeen runs.
    n = matrix.shape[0]
    data = matrix.copy()
    data[:7, :7] = data[:7, n - 7:] = data[n - 7:, :7] = False
    return _finders(n), _runs(data)


@functools.lru_cache(maxsize=64)
def _finders(n):
    """The finder patterns of a QR code n modules wide, as (x, y, width, height) rectangles."""
    rects = []
    for x, y in ((0, 0), (n - 7, 0), (0, n - 7)):
        rects += [(x, y, 7, 1), (x, y + 6, 7, 1), (x, y + 1, 1, 5), (x + 6, y + 1, 1, 5), (x + 2, y + 2, 3, 3)]
    return tuple(rects)


@functools.lru_cache(maxsize=64)
def _rects_ops(rects):
    return " ".join(f"{x} {y} {w} {h} re" for x, y, w, h in rects)


STROKED = str.maketrans("ŁłĐđĦħıŦŧ", "LlDdHhiTt")  # letters that do not decompose into base + accent


@functools.lru_cache(maxsize=4096)
def printable(text):
    """Text the PDF base fonts can show (Windows-1252): accents kept, others reduced or '?'."""
    try:
        text.encode("cp1252")
        return text
    except UnicodeEncodeError:
        pass
    out = []
    for ch in text:
        try:
            ch.encode("cp1252")
            out.append(ch)
        except UnicodeEncodeError:
            base = "".join(c for c in unicodedata.normalize("NFKD", ch.translate(STROKED))
                           if not unicodedata.combining(c))
            try:
                base.encode("cp1252")
                out.append(base or "?")
            except UnicodeEncodeError:
                out.append("?")
    return "".join(out)


@functools.lru_cache(maxsize=8)
def _font_widths(font):
    """The widths of the font's 256 characters (Windows-1252 order), in 1/1000 of the font size."""
    from reportlab.pdfbase.pdfmetrics import getFont

    return getFont(font).widths


def text_width(text, font, size):
    """The width in mm of printable `text` in a PDF base font at `size` points."""
    return sum(map(_font_widths(font).__getitem__, text.encode("cp1252"))) * size / (1000 * MM)


@functools.lru_cache(maxsize=4096)
def _fit(text, font, size, smallest, width):
    """(text, size, text width in mm) that fits `width` mm: shrink to `smallest` (in half points), then cut
    with an ellipsis."""
    per_point = text_width(text, font, 1)
    if per_point * size > width:
        size = max(smallest, math.floor(width / per_point * 2) / 2)
        if per_point * size > width:
            while text and text_width(text + "…", font, size) > width:
                text = text[:-1]
            text = text.rstrip() + "…"
            per_point = text_width(text, font, 1)
    return text, size, per_point * size


# ---------------------------------------------------------------------------------------------------------
# PDF


@dataclass(frozen=True)
class Placed:
    """Elements to draw at one place of a page: its top-left corner in mm from the page's top-left."""

    page: int  # 1-based
    x: float
    y: float
    elements: tuple[Element, ...]
    record: dict = field(default_factory=dict)
    form: str | None = None  # static elements drawn first, from write_pdf's `forms`
    label: int | None = None  # its number in the report (1-based); None: not a label


_ESCAPES = {ord("("): "\\(", ord(")"): "\\)", ord("\\"): "\\\\"}
_ESCAPES.update({ord(bytes([b]).decode("cp1252", "replace")): f"\\{b:03o}" for b in range(128, 256)})
_ESCAPES.update({c: None for c in range(32)})


def _num(value):
    return f"{value:.3f}"


class _Pdf:
    """One PDF being written: reportlab for the document's structure, raw operators for what is on the pages
    (reportlab's own drawing calls cost ten times more per label)."""

    def __init__(self, page_size, title, dpi):
        from reportlab.pdfgen.canvas import Canvas

        self.buffer = io.BytesIO()
        self.canvas = Canvas(self.buffer, pagesize=(page_size[0] * MM, page_size[1] * MM), invariant=1,
                             pageCompression=1)
        self.canvas.setCreator("refurb")
        if title:
            self.canvas.setTitle(printable(title))
        self.page_height = page_size[1]
        self.layout = _Layout(dpi)
        self.fonts = {}
        self.text_ops = {}  # (id(element), content) -> PDF operators
        self.problems = []  # (label number, record, element, reason)

    def font(self, name):
        if name not in self.fonts:  # registers the font with the document, as canvas.setFont does
            self.fonts[name] = self.canvas._doc.getInternalFontName(name)
        return self.fonts[name]

    def define_form(self, name, elements, size):
        c = self.canvas
        c.beginForm(name, 0, -size[1], size[0], 0)
        problems = []
        c.addLiteral(self.ops(self.layout.marks(elements, {}, problems)))
        self._draw_images(elements)
        c.endForm()

    def place(self, p):
        body = []
        for element in p.elements:
            if element.type == "text":  # most texts repeat from label to label: their operators are kept
                content = _fill(element, p.record)
                if content is None:
                    continue
                key = (id(element), content)
                op = self.text_ops.get(key)
                if op is None:
                    op = self.text_ops[key] = self.ops([self.layout.text(element, content)])
                body.append(op)
                continue
            problems = []
            mark = self.layout.checked(element, p.record, problems)
            self.problems += [(p.label, p.record, e, reason) for e, reason in problems]
            if mark is not None:
                body.append(self.ops([mark]))
        self.canvas.addLiteral(f"q {MM:.6f} 0 0 {MM:.6f} {p.x * MM:.3f} {(self.page_height - p.y) * MM:.3f} cm")
        if p.form:
            self.canvas.doForm(p.form)
        self.canvas.addLiteral("\n".join(body))
        self._draw_images(p.elements)
        self.canvas.addLiteral("Q")

    def _draw_images(self, elements):
        for e in elements:
            if e.type == "image":
                self.canvas.drawImage(_image_reader(e.file), e.x, -e.y - e.height, e.width, e.height,
                                      preserveAspectRatio=True, anchor="c", mask="auto")

    def ops(self, marks):
        out = []
        for m in marks:
            e = m.element
            if m.kind == "text":
                body = (f"BT {self.font(e.font)} {m.height / MM:.4f} Tf {_num(m.x)} {_num(-m.y)} Td "
                        f"({m.text.translate(_ESCAPES)}) Tj ET")
                out.append(f"q {e.grey:g} g {body} Q" if e.grey else body)
            elif m.kind == "bars":
                bars = " ".join([_C128_OPS[value] for value in m.runs])
                out.append(f"q {m.unit:.6f} 0 0 {-m.height:.4f} {_num(m.x)} {_num(-m.y)} cm {bars} Q")
            elif m.kind == "matrix":
                rects = " ".join(["%d %d %d 1 re"] * (len(m.runs) // 3)) % tuple(m.runs)
                fixed = _rects_ops(m.fixed) + " " if m.fixed else ""
                out.append(f"q {m.unit:.6f} 0 0 {-m.unit:.6f} {_num(m.x)} {_num(-m.y)} cm {fixed}{rects} f Q")
            elif m.kind in ("line", "box"):
                out.append(self._stroke(m, e))
            elif m.kind == "placeholder":
                out.append(self._placeholder(m))
        return "\n".join(out)

    def _stroke(self, m, e):
        style = f"{e.thickness:.3f} w {e.grey:g} G" + (f" [{e.dash:.3f}] 0 d" if e.dash else "")
        if m.kind == "line":
            return f"q {style} {_num(e.x)} {_num(-e.y)} m {_num(e.x2)} {_num(-e.y2)} l S Q"
        return f"q {style} {_rounded(e.x, -e.y - e.height, e.width, e.height, e.radius)} S Q"

    def _placeholder(self, m):
        size = max(3.0, min(7.0, m.height * MM * 0.6))
        text, size, _width = _fit(m.text, "Helvetica", size, 3.0, max(m.width - 1, 1.0))
        return (f"q 0.3 w [0.8] 0 d {_num(m.x)} {_num(-m.y - m.height)} {_num(m.width)} {_num(m.height)} re S "
                f"BT {self.font('Helvetica')} {size / MM:.4f} Tf {_num(m.x + 0.5)} "
                f"{_num(-m.y - m.height / 2 - BASELINE * size / MM / 2)} Td ({text.translate(_ESCAPES)}) Tj ET Q")

    def finish(self, out):
        from reportlab import rl_config

        use_a85 = rl_config.useA85
        rl_config.useA85 = 0  # ASCII85 after Flate only costs time: pure Python, a third of the whole run
        try:
            self.canvas.save()
        finally:
            rl_config.useA85 = use_a85
        _write(out, self.buffer.getvalue())


def _rounded(x, y, w, h, r):
    """A (rounded) rectangle path; x, y its lower-left corner."""
    if r <= 0:
        return f"{_num(x)} {_num(y)} {_num(w)} {_num(h)} re"
    r = min(r, w / 2, h / 2)
    k = r * 0.4477  # 1 - kappa: the control points of a quarter circle
    return (f"{_num(x + r)} {_num(y)} m {_num(x + w - r)} {_num(y)} l "
            f"{_num(x + w - k)} {_num(y)} {_num(x + w)} {_num(y + k)} {_num(x + w)} {_num(y + r)} c "
            f"{_num(x + w)} {_num(y + h - r)} l "
            f"{_num(x + w)} {_num(y + h - k)} {_num(x + w - k)} {_num(y + h)} {_num(x + w - r)} {_num(y + h)} c "
            f"{_num(x + r)} {_num(y + h)} l "
            f"{_num(x + k)} {_num(y + h)} {_num(x)} {_num(y + h - k)} {_num(x)} {_num(y + h - r)} c "
            f"{_num(x)} {_num(y + r)} l {_num(x)} {_num(y + k)} {_num(x + k)} {_num(y)} {_num(x + r)} {_num(y)} c h")


@functools.lru_cache(maxsize=32)
def _image_reader(path):
    from reportlab.lib.utils import ImageReader

    try:
        return ImageReader(path)
    except Exception as exc:  # reportlab wraps whatever Pillow raises
        raise InvalidConfig(_("{file}: not an image refurb can read: {error}").format(file=path, error=exc)) from None


def _write(out, data):
    pdfdoc.write(out, lambda handle: handle.write(data))  # atomic: a failure leaves no half file


def write_pdf(out, page_size, placements, *, title=None, dpi=None, forms=None):
    """Draw `placements` (Placed, in page order) on pages of `page_size` mm and write the PDF `out`.

    `forms` maps a form name to static elements and their box (elements, (width, height)); a Placed naming
    one draws it first.  `dpi` puts bars and modules on that printer's dot grid.  Returns {"pages",
    "placeholders"}; the same input gives the same bytes."""
    pdf = _Pdf(page_size, title, dpi)
    for name, (elements, size) in (forms or {}).items():
        pdf.define_form(name, elements, size)
    page = 1
    for p in placements:
        while page < p.page:
            pdf.canvas.showPage()
            page += 1
        pdf.place(p)
    pdf.canvas.showPage()
    pdf.finish(out)
    return {"pages": page, "placeholders": [_problem(*problem) for problem in pdf.problems]}


def _problem(label, record, element, reason):
    return {"label": label, "tag": record.get("tag"), "element": element.describe(), "reason": reason}


def _check_run(template, records, skip, copies):
    records = list(records or ())
    if not records:
        raise UsageProblem(_("no labels to print"), hint=_("name tags, a batch, a state or --pending"))
    if not isinstance(copies, int) or copies < 1:
        raise UsageProblem(_("--copies must be 1 or more, not {value}").format(value=copies))
    if not isinstance(skip, int) or skip < 0:
        raise UsageProblem(_("--skip must be 0 or more, not {value}").format(value=skip))
    if skip and template.media != "sheet":
        raise UsageProblem(_("--skip is for sheets of labels; {id} prints on a roll").format(id=template.id))
    if skip >= template.per_page:
        raise UsageProblem(
            _("--skip {skip}: a sheet of {id} holds {n} labels").format(skip=skip, id=template.id,
                                                                        n=template.per_page),
            hint=_("skip at most {n}").format(n=template.per_page - 1))
    return [record for record in records for _copy in range(copies)]


def _split(template):
    static = tuple(e for e in template.elements if e.static)
    dynamic = tuple(e for e in template.elements if not e.static)
    return static, dynamic


def render(template, records, out, *, skip=0, copies=1):
    """Print `records` (dicts of FIELDS values) with `template` as a vector PDF `out`.

    `skip` leaves the first positions of a half-used sheet empty; `copies` prints each record that many
    times in a row.  Returns {"file", "template", "pages", "labels", "skipped", "placeholders"}, where each
    placeholder is {"label" (1-based), "tag", "element", "reason"}: a value that could not be drawn.

    Example:
        render(get_template("avery-l7163"), [{"tag": "RB-004217-V", "make": "Lenovo"}], "labels.pdf", skip=3)
    """
    run = _check_run(template, records, skip, copies)
    static, dynamic = _split(template)
    form = f"label-{template.id}"
    placements = []
    for n, record in enumerate(run):
        page, x, y = template.slot(skip + n)
        placements.append(Placed(page, x, y, dynamic, record, form=form, label=n + 1))
    result = write_pdf(out, template.page, placements, title=template.name, dpi=template.dpi,
                       forms={form: (static, (template.width, template.height))})
    return {"file": str(out), "template": template.id, "pages": result["pages"], "labels": len(run),
            "skipped": skip, "placeholders": result["placeholders"]}


def preview(template, out, count=None):
    """Labels of sample values (no database): a full sheet, or one label of a roll, unless `count` says.

    Example:
        preview(get_template("zebra-2x1"), "preview.pdf", count=3)
    """
    if count is not None and (not isinstance(count, int) or count < 1):
        raise UsageProblem(_("--count must be 1 or more, not {value}").format(value=count))
    return render(template, sample_records(count or template.per_page), out)


# ---------------------------------------------------------------------------------------------------------
# Calibration


def calibrate(template, out):
    """A page to check the printer against the media: every label's outline and printable area, rulers
    from the page's edges, and how to print it (at 100 %).  Returns {"file", "template", "pages"}.

    Example:
        calibrate(get_template("avery-l7160"), "calibrate.pdf")
    """
    elements = [] if template.media != "sheet" else _sheet_guides(template)
    for position in range(template.per_page):
        _page, x, y = template.slot(position)
        elements += _label_guides(template, x, y, position)
    placements = [Placed(1, 0.0, 0.0, tuple(elements), {})]
    write_pdf(out, template.page, placements, title=_("calibration: {name}").format(name=template.name))
    return {"file": str(out), "template": template.id, "pages": 1}


def _sheet_guides(t):
    """Rulers along the top and left edges of a sheet, and how to print it."""
    width, height = t.page
    out = []
    for mm in range(0, int(width) + 1):
        out.append(Element("line", x=mm, y=0, x2=mm, y2=4 if mm % 10 == 0 else 2.5 if mm % 5 == 0 else 1.5,
                           thickness=0.15))
    for mm in range(0, int(height) + 1):
        out.append(Element("line", x=0, y=mm, x2=4 if mm % 10 == 0 else 2.5 if mm % 5 == 0 else 1.5, y2=mm,
                           thickness=0.15))
    for mm in range(10, int(width), 10):
        out.append(Element("text", x=mm + 0.4, y=4.2, width=8, content=str(mm), size=5, font="Helvetica"))
    for mm in range(10, int(height), 10):
        out.append(Element("text", x=4.4, y=mm - 0.8, width=8, content=str(mm), size=5, font="Helvetica"))
    lines = [t.name, _("Print at 100 % (not “fit to page”): each outline must fall on a label's edges."),
             _("Rulers from the paper's edges, in mm.  {id}: {n} labels of {w:g} × {h:g} mm.").format(
                 id=t.id, n=t.per_page, w=t.width, h=t.height)]
    top = max(6.0, t.top / 2 - 4)
    for i, line in enumerate(lines):
        out.append(Element("text", x=12, y=top + i * 3.2, width=width - 24, content=line,
                           size=8 if i == 0 else 6.5, font="Helvetica-Bold" if i == 0 else "Helvetica"))
    return out


def _label_guides(t, x, y, position):
    """One label's outline (solid), its printable area (dashed), a centre cross and its number."""
    w, h = t.width, t.height
    (mx, my) = t.margin
    inset = 0.15 if t.media != "sheet" else 0.0  # a roll label's own edges would fall off the page
    out = [
        Element("box", x=x + inset, y=y + inset, width=w - 2 * inset, height=h - 2 * inset, radius=t.radius,
                thickness=0.2),
        Element("box", x=x + mx, y=y + my, width=w - 2 * mx, height=h - 2 * my, thickness=0.15, dash=1.0,
                grey=0.4),
        Element("line", x=x + w / 2 - 2, y=y + h / 2, x2=x + w / 2 + 2, y2=y + h / 2, thickness=0.15),
        Element("line", x=x + w / 2, y=y + h / 2 - 2, x2=x + w / 2, y2=y + h / 2 + 2, thickness=0.15),
    ]
    room = w - 2 * mx - 1
    if t.media == "sheet":
        row, column = divmod(position, t.columns)
        text = _("row {row}, column {column}").format(row=row + 1, column=column + 1)
    else:
        text = _("{id}: print at 100 %").format(id=t.id)
    size = min(7.0, (h / 2 - my - 2.5) * MM / 1.1)
    if size >= 3:
        out.append(Element("text", x=x + mx + 0.5, y=y + h / 2 + 2.5, width=room, content=text, size=size,
                           min_size=3, align="center"))
    if t.media != "sheet":
        for mm in range(0, int(w - 2 * mx) + 1):  # a ruler along the printable area's top edge
            tick = 1.5 if mm % 10 == 0 else 1.0 if mm % 5 == 0 else 0.6
            out.append(Element("line", x=x + mx + mm, y=y + my, x2=x + mx + mm, y2=y + my + tick, thickness=0.1))
    return out


# ---------------------------------------------------------------------------------------------------------
# Bitmaps, for ZPL and Brother QL


def rasterise(template, records, *, copies=1):
    """One black-and-white bitmap per label (Pillow images, mode "1", at the template's dpi, the label's
    width across), for printers fed bitmaps.  Returns {"template", "labels", "images", "placeholders"}.

    Example:
        rasterise(get_template("zebra-2x1"), [{"tag": "RB-004217-V"}])["images"][0].size  # (406, 203)
    """
    run = _check_run(template, records, 0, copies)
    layout = _Layout(template.dpi)
    images, problems = [], []
    for n, record in enumerate(run, 1):
        found = []
        marks = layout.marks(template.elements, record, found)
        problems += [_problem(n, record, element, reason) for element, reason in found]
        images.append(_bitmap(template, marks))
    return {"template": template.id, "labels": len(run), "images": images, "placeholders": problems}


def brother_media(template):
    """The brother_ql media of a template, for Brother QL output; UsageProblem when it has none or is not drawn
    at the 300 dpi of the Brother QL's head."""
    if not template.brother:
        raise UsageProblem(_("{id} is not a Brother QL template").format(id=template.id),
                           hint=_("add brother = \"62x29\" (brother_ql's name for the media) to {file}").format(
                               file=template.source))
    if template.dpi != 300:
        raise UsageProblem(_("{id} is drawn at {dpi} dpi; a Brother QL prints at 300").format(
            id=template.id, dpi=template.dpi), hint=_("set dpi = 300 in {file}").format(file=template.source))
    return template.brother


def _bitmap(t, marks):
    import numpy as np
    from PIL import Image, ImageDraw

    scale = t.dpi / 25.4  # dots per mm
    size = (round(t.width * scale), round(t.height * scale))
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    for m in marks:
        e = m.element
        if m.kind == "text":
            draw.text((m.x * scale, m.y * scale), m.text, fill=0, anchor="ls",
                      font=_raster_font(e.font, round(m.height / 72 * t.dpi)))
        elif m.kind == "line":
            draw.line([(e.x * scale, e.y * scale), (e.x2 * scale, e.y2 * scale)], fill=0,
                      width=max(1, round(e.thickness * scale)))
        elif m.kind in ("box", "placeholder"):
            draw.rounded_rectangle([m.x * scale, m.y * scale, (m.x + m.width) * scale, (m.y + m.height) * scale],
                                   radius=(e.radius if m.kind == "box" else 0) * scale, outline=0,
                                   width=max(1, round((e.thickness if m.kind == "box" else 0.2) * scale)))
            if m.kind == "placeholder":
                font = _raster_font("Helvetica", max(8, min(24, round(m.height * scale * 0.4))))
                draw.text(((m.x + 0.5) * scale, (m.y + m.height / 2) * scale), m.text, fill=0, anchor="lm",
                          font=font)
        elif m.kind == "image":
            _paste_image(image, e, scale)
    pixels = np.array(image)
    for m in marks:
        if m.kind == "bars":
            rects, offset = [], 0
            for value in m.runs:
                for i, w in enumerate(_C128_WIDTHS[value]):
                    if i % 2 == 0:
                        rects.append((offset, 0, w, 1))
                    offset += w
            _blacken(pixels, m.x * scale, m.y * scale, m.unit * scale, m.height * scale, rects)
        elif m.kind == "matrix":
            runs = [(m.runs[i], m.runs[i + 1], m.runs[i + 2], 1) for i in range(0, len(m.runs), 3)]
            _blacken(pixels, m.x * scale, m.y * scale, m.unit * scale, m.unit * scale, [*m.fixed, *runs])
    return Image.fromarray(pixels).point(lambda v: 255 if v >= 128 else 0, mode="1")


def _blacken(pixels, left, top, across, down, rects):
    """Blacken (x, y, width, height) rectangles of modules `across` × `down` dots, from (left, top) in dots:
    whole dots, as the marks are on the dot grid."""
    for x, y, w, h in rects:
        pixels[round(top + y * down):round(top + (y + h) * down), round(left + x * across):round(left + (x + w) * across)] = 0


@functools.lru_cache(maxsize=64)
def _raster_font(name, pixels):
    import reportlab
    from PIL import ImageFont

    return ImageFont.truetype(str(Path(reportlab.__file__).parent / "fonts" / FONTS[name]), max(1, pixels))


def _paste_image(image, e, scale):
    from PIL import Image

    try:
        with Image.open(e.file) as source:
            logo = source.convert("LA")
    except OSError as exc:
        raise InvalidConfig(_("{file}: not an image refurb can read: {error}").format(file=e.file, error=exc)) from None
    box = (round(e.width * scale), round(e.height * scale))
    logo.thumbnail(box)
    white = Image.new("L", logo.size, 255)
    white.paste(logo.getchannel("L"), mask=logo.getchannel("A"))
    left = round(e.x * scale + (box[0] - logo.size[0]) / 2)
    top = round(e.y * scale + (box[1] - logo.size[1]) / 2)
    image.paste(white, (left, top))
