"""Donor manifests read and checked (SPEC §6, issue 5): what is in the file, before any database.

A donor's asset list arrives as whatever its asset-management tool or its spreadsheet wrote: CSV with any
delimiter, with or without a BOM, CR, LF or CRLF line endings, UTF-8 or a legacy code page; or XLSX.
`read(path)` works all of that out and says what it found (encoding, delimiter, line endings, the tool
the columns come from), maps the columns to device fields through English, Dutch and French header
aliases, and checks every row.  It returns a `Manifest`: the valid rows, the row errors (row number,
column, reason), warnings, and which columns were used, dropped and ignored.

Columns with personal data of the donor's staff (user names, e-mail addresses, phone numbers) are
dropped: never read into a row, never stored (GDPR, SPEC §10); `Manifest.kept_copy()` is the file as
refurb keeps it, without them.  A file without a serial and without an asset-tag column is not a device
list and is refused with a word on what it looks like.

No database here: refurb.manifests matches the rows against the batch and writes them.
"""

import codecs
import csv
import hashlib
import io
import itertools
import math
import operator
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from . import scanning, tags
from .errors import NotFound, UsageProblem
from .evidence import PLACEHOLDER_NAMES, PLACEHOLDER_SERIALS
from .i18n import N_, _

PRESETS = ("auto", "snipeit", "intune", "jamf", "lansweeper", "glpi", "devicehub", "generic")
PRESET_NAMES = {"snipeit": "Snipe-IT", "intune": "Microsoft Intune", "jamf": "Jamf Pro", "lansweeper": "Lansweeper",
                "glpi": "GLPI", "devicehub": "eReuse Devicehub", "refurb": "refurb stock export",
                "generic": "generic"}
# The fields a manifest can give; those after `model` go into Device.specs.
FIELDS = ("tag", "serial", "donor_tag", "imei", "mac", "kind", "make", "model", "model_number", "cpu", "ram_gb",
          "storage_gb", "storage_type", "screen_inches", "battery_health")
SPEC_FIELDS = ("model_number", "cpu", "ram_gb", "storage_gb", "storage_type", "screen_inches", "battery_health")
IDENTITY_FIELDS = ("tag", "serial", "donor_tag")
MAX_IDENTIFIER = 100
HEADER_SEARCH_ROWS = 20  # a title line or two above the header is skipped
SAMPLE_ROWS = 200  # rows looked at to recognise personal data by its content


# ------------------------------------------------------------------------------------------ headers


def norm(header, camel=True):
    """'Numéro de série' → 'numero de serie'; 'serialNumber' → 'serial number'; 'tblBIOS.SerialNumber' →
    'serial number'; 'RAM (MB)' → 'ram mb'.  Header aliases are written in this form.  `camel=False` for
    values, where 'iPad' is one word."""
    text = str(header or "").replace("\ufeff", "").strip()
    text = re.sub(r"^tbl\w+\.", "", text)
    if camel:
        text = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", text)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


def _aliases(**fields):
    return {alias: name for name, words in fields.items() for alias in words.split("|")}


# Generic aliases, English | Dutch | French, in norm() form.  The field a header names.
ALIASES = _aliases(
    tag="tag|refurb tag|our tag",
    serial="serial|serial number|serial no|serial nr|serialnumber|serial num|sn|s n|serial code|device serial number"
           "|device serial|hardware serial|system serial number|computer serial|service tag|servicetag"
           "|serienummer|serie nummer|serienr|serie nr|serial nummer"
           "|numero de serie|n de serie|no de serie|num de serie|numero serie|n serie|serie",
    donor_tag="asset tag|assettag|asset|asset number|asset no|asset nr|asset id|asset code|donor tag|donor asset tag"
              "|inventory number|inventory no|inventory nr|inventory tag|inventory id|inventory code|inventory"
              "|barcode|bar code|bar code 1|barcode 1|tag 1|property tag|property number"
              "|inventaris|inventarisnummer|inventaris nummer|inventarisnr|activanummer|assetnummer|asset nummer"
              "|etiket|numero d inventaire|n d inventaire|no d inventaire|numero inventaire|num inventaire"
              "|etiquette|etiquette d inventaire|code inventaire|numero d actif|code barre|code barres",
    imei="imei|imei number|imei 1|imei1|imei nummer|numero imei",
    mac="mac|mac address|macaddress|wi fi mac|wifi mac|wi fi mac address|wifi mac address|ethernet mac|lan mac"
        "|mac adres|adresse mac",
    kind="kind|type|device type|devicetype|asset type|equipment type|hardware type|device kind|chassis|chassis type"
         "|form factor|category|soort|toesteltype|apparaattype|type toestel|type apparaat|categorie"
         "|type d appareil|type de materiel|type d equipement",
    make="manufacturer|make|brand|maker|system manufacturer|fabrikant|merk|producent|fabricant|marque|constructeur",
    model="model|model name|modelname|device model|product|product name|system model|modelnaam|model naam|toestel"
          "|modele|nom du modele|nom modele",
    model_number="model number|model no|model nr|modelnumber|part number|part no|product number|product no|sku|mtm"
                 "|machine type|model code|modelnummer|typenummer|artikelnummer|productnummer|numero de modele"
                 "|reference|reference produit|numero de produit",
    cpu="cpu|processor|processor name|processor type|cpu model|cpu type|cpu name|processortype|processeur",
    ram_gb="ram|ram gb|ram mb|ram size|ram size gb|memory|memory gb|memory mb|memory size|total memory|physical memory"
           "|werkgeheugen|geheugen|intern geheugen|ram go|memoire|memoire vive|memoire go",
    storage_gb="storage|storage gb|storage mb|storage size|storage capacity|total storage|storage total|disk|disk size"
               "|disk gb|hdd size|ssd size|hard drive|hard disk|data storage size|data storage size mb|capacity"
               "|opslag|opslagcapaciteit|schijf|harde schijf|schijfgrootte|stockage|capacite|disque|taille disque"
               "|disque dur|capacite de stockage|stockage go",
    storage_type="storage type|disk type|drive type|opslagtype|type opslag|schijftype|type de stockage|type de disque",
    screen_inches="screen|screen size|screen inches|screen size inches|display size|scherm|schermgrootte"
                  "|schermdiagonaal|beeldscherm|ecran|taille ecran|taille d ecran|diagonale",
    battery_health="battery health|battery|battery health percent|batterij|batterijgezondheid|batterij gezondheid"
                   "|accu|batterie|sante batterie|sante de la batterie|etat batterie|etat de la batterie",
)
# Which of several kind columns speaks first: an explicit type before a chassis before a category.
KIND_PRIORITY = {"kind": 0, "device kind": 0, "type": 1, "device type": 1, "devicetype": 1, "asset type": 1,
                 "equipment type": 1, "hardware type": 1, "chassis": 2, "chassis type": 2, "form factor": 2}

# Per tool: the headers that give it away (to recognise it) and the aliases that differ from the generic ones.
PRESET_SIGNS = {
    "snipeit": {"asset tag", "model number", "checked out to username", "checked out to email", "checkout type",
                "asset eol date", "asset notes", "model notes", "item name", "model name", "supplier", "company"},
    "intune": {"device id", "azure ad device id", "primary user upn", "primary user email address",
               "primary user display name", "managed by", "enrollment date", "last check in", "compliance",
               "managed device name", "sku family", "join type", "wi fi mac", "supervised", "encrypted"},
    "jamf": {"device type", "full name", "email address", "phone number", "position", "building", "room",
             "po number", "po date", "warranty expiration", "apple care id", "life expectancy", "bar code 1",
             "bar code 2", "purchasing contact", "lease expiration"},
    "lansweeper": {"asset name", "asset unique", "ip address", "firstseen", "lastseen", "userdomain", "domain",
                   "purchase date", "warrantydate"},
    "glpi": {"inventory number", "numero d inventaire", "entity", "entite", "last update", "derniere modification",
             "statut", "lieu", "fabricant", "usager", "technician in charge", "technicien responsable"},
    "devicehub": {"chassis", "registered in", "physical state", "trading state", "allocate state", "lifecycle state",
                  "data storage size mb", "ram mb", "tag 1", "tag 2", "tag 3", "rate", "range"},
    "refurb": {"tag", "kind", "ready since", "battery health", "grade", "accessories", "storage type", "image"},
}
PRESET_ALIASES = {
    "snipeit": _aliases(model="model name|model", donor_tag="asset tag", kind="category", serial="serial"),
    "intune": _aliases(serial="serial number|serialnumber", storage_gb="total storage|storage total", mac="wi fi mac"),
    "jamf": _aliases(kind="device type", donor_tag="asset tag|bar code 1"),
    "lansweeper": _aliases(serial="serial number|serialnumber", donor_tag="bar code|barcode"),
    "glpi": _aliases(donor_tag="inventory number|numero d inventaire", kind="type"),
    "devicehub": _aliases(donor_tag="tag 1", kind="type|chassis"),
}
# Personal data of the donor's staff: words and phrases that mark a column as such (norm() form).  Device and
# host names are among them: companies name laptops after their users (LAPTOP-JPEETERS), and refurb never
# needs them.
PERSONAL_PHRASES = (
    "e mail", "email", "mail", "courriel", "upn", "user principal", "userprincipalname", "principal name",
    "phone", "telephone", "telefoon", "telefoonnummer", "gsm", "mobile number", "mobiel", "cell",
    "user", "users", "username", "user name", "userdomain", "user id", "userid", "gebruiker", "gebruikersnaam",
    "utilisateur", "usager", "full name", "first name", "last name", "display name", "given name", "surname",
    "voornaam", "achternaam", "familienaam", "volledige naam", "prenom", "nom de famille", "nom complet",
    "employee", "employe", "medewerker", "werknemer", "owner", "eigenaar", "proprietaire", "assigned to",
    "checked out to", "toegewezen aan", "attribue a", "contact", "position", "job title", "functie", "manager",
    "primary user", "assigned user", "last logged on user", "last user", "technician in charge",
    "technicien responsable", "person", "persoon", "personne",
    "device name", "managed device name", "hostname", "host name", "computer name", "computername", "asset name",
    "machine name", "apparaatnaam", "toestelnaam", "computernaam", "nom de l ordinateur", "nom du poste",
    "nom de l appareil",
)
PERSONAL_EXACT = {"name", "naam", "nom"}  # a bare name column: a person's as likely as a machine's
NOT_PERSONAL = ("location", "locatie", "site", "lieu", "type")
_PERSONAL = re.compile(r"(?:^| )(?:" + "|".join(re.escape(p) for p in PERSONAL_PHRASES) + r")(?: |$)")
_NOT_PERSONAL = re.compile(r"(?:^| )(?:" + "|".join(re.escape(p) for p in NOT_PERSONAL) + r")(?: |$)")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", re.IGNORECASE)
_PHONE = re.compile(r"(?:\+|00)\d[\d ()./-]{7,}\d")


def is_personal(header_norm):
    """Whether a column named so carries personal data of the donor's staff."""
    if header_norm in PERSONAL_EXACT:
        return True
    if _NOT_PERSONAL.search(header_norm):
        return False
    return bool(_PERSONAL.search(header_norm))


# ------------------------------------------------------------------------------------------ values

KINDS = {
    "laptop": "laptop|laptops|notebook|notebooks|netbook|netbooks|ultrabook|portable|ordinateur portable|chromebook"
              "|macbook|convertible|2 in 1|detachable|draagbare computer|laptop computer|portable computer",
    "desktop": "desktop|desktops|tower|mini tower|microtower|micro tower|midi tower|sff|small form factor|ultra small"
               "|usff|all in one|aio|workstation|mini pc|thin client|imac|desktop computer|ordinateur fixe"
               "|ordinateur de bureau|unite centrale|vaste computer|pc vast|desktop pc|lunchbox|low profile desktop",
    "tablet": "tablet|tablets|tablette|tablettes|ipad|slate",
    "phone": "phone|phones|smartphone|smartphones|mobile phone|mobile phones|iphone|gsm|telefoon|telephone"
             "|telephone portable|mobile",
}
KIND_WORDS = {w: kind for kind, words in KINDS.items() for w in words.split("|")}
GENERIC_KINDS = {"computer", "computers", "pc", "ordinateur", "ordinateurs", "computer system", "hardware", "device",
                 "devices", "toestel", "appareil"}
_EXCEL_E = re.compile(r"[+-]?\d(?:[.,]\d+)?E[+-]?\d+", re.IGNORECASE)
_EXCEL_DOT0 = re.compile(r"\d{6,}\.0+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_NUMBER = re.compile(r"[-+]?\d+(?:[.,]\d+)?")
_UNITS = {"tb": 1000.0, "to": 1000.0, "tib": 1024.0, "gb": 1.0, "go": 1.0, "gib": 1.0, "g": 1.0, "mb": 1 / 1000,
          "mo": 1 / 1000, "mib": 1 / 1024, "m": 1 / 1000}
EMPTY_VALUES = {"", "-", "--", "n/a", "na", "n.a.", "nvt", "n.v.t.", "none", "null", "nil", "unknown", "onbekend",
                "inconnu", "?", "#n/a", "#value!", "#ref!", "#name?"}


def excel_mangled(value):
    """Why a spreadsheet has destroyed this identifier, or None: scientific notation (6.37702E+15), more than
    15 digits ending in zeros (Excel keeps 15 significant digits), or a `.0` tail (a float)."""
    if _EXCEL_E.fullmatch(value):
        return _("{value} is a number Excel rewrote in scientific notation: the real digits are lost "
                 "(export the column as text)").format(value=value)
    if len(value) >= 16 and value.isdigit() and set(value[15:]) == {"0"}:
        return _("{value} has more than 15 digits ending in zeros: Excel kept only 15 "
                 "(export the column as text)").format(value=value)
    if _EXCEL_DOT0.fullmatch(value):
        return _("{value} ends in .0: a spreadsheet turned it into a number (export the column as text)").format(
            value=value)
    return None


def kind_of(value):
    """'Notebook' → 'laptop', 'Microtower' → 'desktop', 'Keyboard' → 'other'; None for a word that names no
    kind ('Computer'): the default kind applies."""
    text = norm(value, camel=False)
    if not text:
        return None
    if text in KIND_WORDS:
        return KIND_WORDS[text]
    if text in GENERIC_KINDS:
        return None
    for word in text.split():
        if word in KIND_WORDS and word not in ("mobile", "portable"):
            return KIND_WORDS[word]
    return "other"


def size_gb(value, unit_hint, binary_mb):
    """'8 GB' → 8.0, '8192 MB' → 8.0 (RAM, binary), '1 TB' → 1000.0, '256' → 256.0; 0 → None; unreadable → raises
    ValueError.  `unit_hint`: the unit the header names; without one, big numbers are megabytes."""
    text = value.strip().lower().replace("\xa0", " ")
    m = _NUMBER.search(text)
    if not m:
        raise ValueError(value)
    number = float(m.group(0).replace(",", "."))
    unit = text[m.end():].strip().split(" ")[0].rstrip(".") if text[m.end():].strip() else unit_hint
    if unit not in _UNITS:
        if unit:
            raise ValueError(value)
        unit = "mb" if number > (512 if binary_mb else 65536) else "gb"
    factor = _UNITS[unit]
    if binary_mb and unit in ("mb", "mo", "m"):
        factor = 1 / 1024
    gb = number * factor
    return None if gb <= 0 else round(gb, 1)


def screen_inches(value):
    text = value.strip().lower().replace(",", ".")
    m = _NUMBER.search(text)
    if not m:
        raise ValueError(value)
    number = float(m.group(0))
    if "cm" in text[m.end():]:
        number /= 2.54
    if not 3 <= number <= 50:
        raise ValueError(value)
    return round(number, 1)


def percent(value):
    text = value.strip().replace(",", ".").rstrip("%").strip()
    number = float(text)
    if 0 < number <= 1 and "." in text:
        number *= 100
    if not 0 <= number <= 100 or math.isnan(number):
        raise ValueError(value)
    return int(number) if float(number).is_integer() else round(number, 1)


def clean(value):
    """A cell as text: trimmed, without Excel's text markers (="0123", '0123) and invisible characters."""
    if value is None:
        return ""
    text = value.strip()
    if text and (text[0] in "='" or "\u200b" in text or "\ufeff" in text):
        text = text.replace("\u200b", "").replace("\ufeff", "").strip()
        if text.startswith('="') and text.endswith('"'):
            text = text[2:-1].strip()
        elif text.startswith("'"):
            text = text[1:].strip()
    return text


# ------------------------------------------------------------------------------------------ the result


class Row:
    """One valid row: what it says about one device.  `kind_given`: the file named the kind.  `specs` may be
    shared between rows that say the same: do not change it in place."""

    __slots__ = ("number", "tag", "serial", "donor_tag", "imei", "mac", "kind", "kind_given", "make", "model",
                 "specs")

    def __init__(self, number, tag, serial, donor_tag, imei, mac, kind, kind_given, make, model, specs):
        self.number, self.tag, self.serial, self.donor_tag, self.imei, self.mac = (number, tag, serial, donor_tag,
                                                                                    imei, mac)
        self.kind, self.kind_given, self.make, self.model, self.specs = kind, kind_given, make, model, specs

    def identity(self):
        return self.serial or self.donor_tag or self.tag

    def values(self):
        return {k: getattr(self, k) for k in self.__slots__ if k != "number"}

    def same(self, other):
        return all(getattr(self, k) == getattr(other, k) for k in self.__slots__ if k != "number")


@dataclass
class Manifest:
    path: Path
    sha256: str
    size: int
    format: str  # "csv" or "xlsx"
    encoding: str | None = None
    delimiter: str | None = None
    line_endings: str | None = None
    sheet: str | None = None
    preset: str = "generic"
    header_row: int = 1
    header: list = field(default_factory=list)
    columns: dict = field(default_factory=dict)  # field → the header name it was read from
    dropped_columns: list = field(default_factory=list)
    ignored_columns: list = field(default_factory=list)
    rows: list = field(default_factory=list)  # Row, valid only
    total: int = 0  # data rows, blank ones not counted
    invalid: int = 0
    duplicates: int = 0  # rows repeating an earlier row exactly
    errors: list = field(default_factory=list)  # {"row", "column", "value", "code", "reason"}
    warnings: list = field(default_factory=list)  # same shape; row None for the whole file
    notes: list = field(default_factory=list)  # what was detected, said in words
    plan: list = field(default_factory=list)  # (field, column indices, best first)
    dropped_index: tuple = ()
    content: bytes = b""  # the file; emptied once a copy without personal data is made
    kept: bytes | None = None  # the copy without personal data, when columns were dropped

    @property
    def name(self):
        return self.path.name

    def kept_copy(self):
        """(file name, bytes) of the manifest as refurb keeps it with the batch: the file itself, or, when
        columns with personal data were dropped, a UTF-8 CSV of every record without those columns."""
        if not self.dropped_index:
            return self.name, self.content
        if self.kept is None:
            raise ValueError("read(keep=False) made no copy")
        return f"{self.path.stem}.kept.csv", self.kept


def problem(row, column, value, code, reason):
    return {"row": row, "column": column, "value": value, "code": code, "reason": reason}


# ------------------------------------------------------------------------------------------ reading


def read(path, preset="auto", default_kind="laptop", keep=True):
    """Read and check a donor manifest in one pass.  Raises NotFound (unreadable file) and UsageProblem
    (not a table, not a device list, unknown preset); row problems are returned in `errors`, not raised.
    `keep`: also make the copy without personal data that kept_copy() returns."""
    path = Path(path)
    if preset not in PRESETS:
        raise UsageProblem(_("unknown preset {preset!r}").format(preset=preset),
                           hint=_("presets: {choices}").format(choices=", ".join(PRESETS)))
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise NotFound(_("{file}: cannot read it: {reason}").format(file=path, reason=exc.strerror or exc),
                       hint=_("check the path")) from exc
    m = Manifest(path=path, sha256=hashlib.sha256(content).hexdigest(), size=len(content), format="csv",
                 content=content)
    records = _open(m)
    head = list(itertools.islice(records, HEADER_SEARCH_ROWS + 10))
    header_at = _find_header(m, head)
    sample = head[header_at + 1:] + list(itertools.islice(records, SAMPLE_ROWS))
    _map_columns(m, head[header_at], preset, sample[:SAMPLE_ROWS])
    m.header_row = header_at + 1
    if header_at:
        m.warnings.append(problem(None, None, None, "lines-before-header", _(
            "the first {n} lines come before the header and were skipped").format(n=header_at)))
    kept = _Pieces() if keep and m.dropped_index else None
    writer = _Without(kept, m.dropped_index, m.delimiter or ",") if kept is not None else None
    if writer:
        for record in head[:header_at + 1]:
            writer.write(record)
    numbered = enumerate(itertools.chain(sample, records), start=header_at + 2)
    _check_rows(m, numbered, default_kind, writer)
    if kept is not None:
        m.kept = codecs.BOM_UTF8 + "".join(kept).encode("utf-8")
        m.content = b""  # holds personal data, and is not needed any more
    return m


class _Pieces(list):
    """Text written piece by piece (io.StringIO would hold four bytes per character)."""

    write = list.append


class _Without:
    """Writes records to the kept copy without the dropped columns (an itemgetter picks the others)."""

    def __init__(self, out, dropped, delimiter):
        self.writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
        self.dropped = set(dropped)
        self.width, self.pick = None, None

    def write(self, record):
        if len(record) != self.width:
            self.width = len(record)
            keep = [i for i in range(self.width) if i not in self.dropped]
            self.pick = (lambda r: ()) if not keep else operator.itemgetter(*keep) if len(keep) > 1 else (
                lambda r, i=keep[0]: (r[i],))
        self.writer.writerow(self.pick(record))


def _open(m):
    """An iterator over the records of the file, each a list of strings (CSV, or the fitting XLSX sheet)."""
    content = m.content
    if not content.strip():
        raise UsageProblem(_("{file} is empty").format(file=m.path), hint=_("export the device list again"),
                           code="empty-manifest")
    if content.startswith(b"PK\x03\x04"):
        if b"opendocument" in content[:200]:
            raise UsageProblem(_("{file} is an OpenDocument spreadsheet").format(file=m.path),
                               hint=_("save it as .xlsx or CSV"), code="unsupported-format")
        m.format = "xlsx"
        return _xlsx_records(m)
    if content.startswith(b"\xd0\xcf\x11\xe0"):
        raise UsageProblem(_("{file} is an old Excel .xls workbook").format(file=m.path),
                           hint=_("save it as .xlsx or CSV"), code="unsupported-format")
    text, m.encoding = _decode(content, m.path)
    if m.encoding not in ("utf-8", "utf-8-sig"):
        m.notes.append(_("not UTF-8: read as {encoding}; check the accents").format(
            encoding=ENCODING_NAMES.get(m.encoding, m.encoding)))
    text = _line_endings_and_delimiter(m, text)
    return csv.reader(_lines(text), delimiter=m.delimiter)


def _lines(text):
    """The lines of the text with their endings: CR LF, CR or LF only (str.splitlines would also split at
    characters a field may hold, and io.StringIO would hold a copy four times the size)."""
    for found in _LINE.finditer(text):
        if found.group(0):
            yield found.group(0)


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n|$)")


# ---- text: encoding, line endings, delimiter

LEGACY = ("cp1252", "mac_roman", "cp850")
ENCODING_NAMES = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8 with BOM", "utf-16": "UTF-16", "cp1252": "Windows-1252",
                  "mac_roman": "Mac Roman", "cp850": "DOS (code page 850)"}
_GOOD_SYMBOLS = set("€£°«»‘’“”–—…•©®™§·¿¡ºª")


def _decode(raw, path):
    """(text, codec): a BOM says it; else UTF-8 if it decodes; else the most plausible legacy code page."""
    if raw.startswith(codecs.BOM_UTF8):
        try:
            return raw[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise UsageProblem(_("{file}: starts with a UTF-8 mark but byte {offset} is not UTF-8").format(
                file=path, offset=exc.start + 3), hint=_("export the file again as UTF-8"),
                code="bad-encoding") from None
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16", errors="replace"), "utf-16"
    odd, even = raw[1:400:2].count(0), raw[0:400:2].count(0)
    if max(odd, even) > 60:  # UTF-16 without its mark: every other byte is zero
        encoding = "utf-16-le" if odd > even else "utf-16-be"
        return raw.decode(encoding, errors="replace"), encoding
    if b"\x00" in raw[:4096]:
        raise UsageProblem(_("{file} is not a CSV or XLSX file").format(file=path),
                           hint=_("export the device list as CSV or XLSX"), code="unsupported-format")
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    best = max(((_plausibility(raw, enc), -i, enc) for i, enc in enumerate(LEGACY)), key=lambda x: x[:2])
    return raw.decode(best[2]), best[2]


def _plausibility(raw, encoding):
    """How much a legacy decoding reads like Western European text: lower-case accented letters among
    letters score, box drawing, control characters and mixed-case oddities cost.  -inf: not decodable."""
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError:
        return float("-inf")
    score = 0
    for n, found in enumerate(re.finditer(r"[^\x00-\x7f]", text)):
        if n > 5000:
            break
        c, i = found.group(0), found.start()
        before = text[i - 1] if i else " "
        if c.isalpha():
            score += 2 if c.islower() else (-2 if before.islower() else 1)
        elif c in _GOOD_SYMBOLS:
            score += 1
        elif unicodedata.category(c).startswith("C"):
            score -= 5
        elif "\u2500" <= c <= "\u259f":
            score -= 3
        else:
            score -= 2
    return score


def _line_endings_and_delimiter(m, text):
    """Note the line endings and find the delimiter; the text without Excel's `sep=;` hint line."""
    head = text[:65536]
    crlf, cr, lf = head.count("\r\n"), head.count("\r"), head.count("\n")
    m.line_endings = ("crlf" if crlf and crlf == cr == lf else "cr" if cr and not lf else "lf" if lf and not cr
                      else "mixed" if cr or lf else None)
    if m.line_endings == "cr" and _("line endings: CR only (classic Mac)") not in m.notes:
        m.notes.append(_("line endings: CR only (classic Mac)"))
    first = re.match(r"sep=(.)[ \t]*(?:\r\n|\r|\n)", head, re.IGNORECASE)
    if first:
        m.delimiter = first.group(1)
        return text[first.end():]
    m.delimiter = _sniff_delimiter(head)
    return text


def _sniff_delimiter(head):
    """The delimiter that splits the first lines into the most columns, the same number on each line."""
    lines = [line for line in re.split(r"\r\n|\r|\n", head)[:30] if line.strip()][:20]
    best, best_score = ",", (0, 0)
    for delimiter in (",", ";", "\t", "|"):
        try:
            widths = [len(r) for r in csv.reader(lines, delimiter=delimiter)]
        except csv.Error:
            continue
        if not widths:
            continue
        common = max(set(widths), key=widths.count)
        score = (sum(1 for w in widths if w == common) if common > 1 else 0, common)
        if score > best_score:
            best, best_score = delimiter, score
    return best


# ---- XLSX


def _xlsx_records(m):
    """The records of the first sheet whose first rows hold a device-list header (else the first sheet),
    read row by row (openpyxl's read-only mode keeps memory flat)."""
    try:
        import openpyxl
    except ImportError as exc:  # pragma: no cover - a dependency of refurb
        raise UsageProblem(_("reading XLSX needs openpyxl"), hint="pip install openpyxl") from exc
    import zipfile

    try:
        wb = openpyxl.load_workbook(io.BytesIO(m.content), read_only=True, data_only=True)
        sheets = wb.worksheets
        chosen = next((ws for ws in sheets if _header_index(
            [[_cell(v) for v in row] for row in itertools.islice(ws.iter_rows(values_only=True),
                                                                 HEADER_SEARCH_ROWS + 10)]) is not None),
                      sheets[0] if sheets else None)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise UsageProblem(_("{file}: not a readable XLSX workbook ({reason})").format(
            file=m.path, reason=str(exc).splitlines()[0] if str(exc) else type(exc).__name__),
            hint=_("save it again as .xlsx or CSV"), code="unsupported-format") from None
    if chosen is None:
        wb.close()
        return iter(())
    m.sheet = chosen.title
    if len(sheets) > 1:
        m.notes.append(_("read the sheet {sheet!r}").format(sheet=m.sheet))
    return _sheet_rows(wb, chosen)


def _sheet_rows(wb, ws):
    try:
        for row in ws.iter_rows(values_only=True):
            yield [_cell(v) for v in row]
    finally:
        wb.close()


def _cell(value):
    from datetime import date, datetime

    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ") if value.time() != datetime.min.time() else value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


# ---- header and columns


def _identity_aliases(names):
    return [n for n in names if ALIASES.get(n) in IDENTITY_FIELDS or any(
        a.get(n) in IDENTITY_FIELDS for a in PRESET_ALIASES.values())]


def _header_index(records):
    """The index of the header row among the first records: the first naming an identity column, else the
    first naming two known fields; None when no row does."""
    fallback = None
    for i, record in enumerate(records[:HEADER_SEARCH_ROWS + 10]):
        names = [norm(c) for c in record]
        if _identity_aliases(names):
            return i
        if fallback is None and sum(1 for n in names if n in ALIASES) >= 2:
            fallback = i
    return fallback


def _find_header(m, records):
    blank = next((i for i, r in enumerate(records) if any(c.strip() for c in r)), None)
    if blank is None:
        raise UsageProblem(_("{file} has no rows").format(file=m.path), hint=_("export the device list again"),
                           code="empty-manifest")
    found = _header_index(records)
    return found if found is not None else blank


def _detect_preset(names):
    scores = {p: len(names & signs) for p, signs in PRESET_SIGNS.items()}
    best = max(scores, key=lambda p: scores[p])
    if best == "refurb" and {"tag", "kind"} <= names and scores[best] >= 4:
        return best
    scores.pop("refurb")
    best = max(scores, key=lambda p: scores[p])
    return best if scores[best] >= 2 else "generic"


def _map_columns(m, header, preset, sample):
    names = [norm(h) for h in header]
    m.header = [str(h).strip() for h in header]
    m.preset = _detect_preset(set(names)) if preset == "auto" else preset
    aliases = {**ALIASES, **PRESET_ALIASES.get(m.preset, {})}
    used, dropped, ignored = {}, [], []
    seen = {}
    for i, name in enumerate(names):
        shown = _one_line(m.header[i]) or _("(column {n}, no header)").format(n=i + 1)
        if name in seen and name:
            m.warnings.append(problem(None, shown, None, "duplicate-header", _(
                "the column {name!r} appears more than once (columns {first} and {n}); the first value "
                "that is filled in is used").format(name=m.header[i], first=seen[name] + 1, n=i + 1)))
        seen.setdefault(name, i)
        target = aliases.get(name)
        if target and (target in IDENTITY_FIELDS or not is_personal(name)):
            used.setdefault(target, []).append(i)
        elif is_personal(name) or _looks_personal(sample, i):
            dropped.append(i)
        elif name or any(i < len(r) and r[i].strip() for r in sample):
            ignored.append(i)
    if "kind" in used:
        used["kind"].sort(key=lambda i: KIND_PRIORITY.get(names[i], 3))
    if not (set(used) & set(IDENTITY_FIELDS)):
        raise UsageProblem(_not_a_device_list(m, names, used, dropped), hint=_(
            "a donor manifest needs a serial number or an asset tag column (e.g. 'Serial Number', 'Asset Tag', "
            "'Serienummer', 'Numéro de série')"), code="not-a-device-list")
    m.plan = [(f, tuple(used[f])) for f in FIELDS if f in used]
    m.columns = {f: m.header[cols[0]] for f, cols in m.plan}
    m.dropped_index = tuple(dropped)
    m.dropped_columns = [m.header[i] or _("(column {n}, no header)").format(n=i + 1) for i in dropped]
    m.ignored_columns = [m.header[i] or _("(column {n}, no header)").format(n=i + 1) for i in ignored]
    if m.preset != "generic":
        m.notes.append(_("columns as exported by {tool}").format(tool=PRESET_NAMES[m.preset]))


def _looks_personal(sample, i):
    """Whether most filled cells of an unnamed or unknown column are e-mail addresses or phone numbers."""
    values = [r[i].strip() for r in sample if i < len(r) and r[i].strip()]
    hits = sum(1 for v in values if _EMAIL.fullmatch(v) or _PHONE.fullmatch(v))
    return bool(values) and hits * 2 >= len(values)


def _not_a_device_list(m, names, used, dropped):
    """'FILE is not a device list: it looks like a list of models (Name, Category, …)'."""
    shown = ", ".join(_one_line(h) for h in m.header[:8] if h) + (" …" if len(m.header) > 8 else "")
    known = set(names)
    if {"model", "model name", "model number", "name"} & known and (
            {"category", "eol", "fieldset", "min qty", "requestable", "model notes"} & known or not dropped):
        looks = _("a list of models")
    elif dropped and len(dropped) * 2 >= len([n for n in names if n]):
        looks = _("a list of people")
    elif {"location", "address", "city", "adres", "adresse", "ville", "gemeente"} & known:
        looks = _("a list of locations")
    elif len([n for n in names if n]) <= 1:
        looks = _("a single column of text")
    else:
        looks = _("a table without devices")
    return _("{file} is not a device list: it has no serial and no asset tag column; it looks like {what} "
             "({columns})").format(file=m.path.name, what=looks, columns=shown)


def _one_line(text):
    """A header as a message shows it: a header cell wrapped over lines in Excel stays one line."""
    return " ".join(str(text).split())


# ---- rows

IDENT = ("tag", "serial", "donor_tag", "imei", "mac")
_SUSPECT = re.compile(r"[\d.,+Ee-]+")  # what a number Excel rewrote can look like


def _check_rows(m, numbered, default_kind, writer=None):
    """Check every data row; valid ones become Row objects in m.rows.

    The repeated columns (make, model, kind, specs) are read once per distinct combination of their cells (a
    100 000-row file has a few hundred); the identifiers are read row by row.  Written for speed: this loop
    runs once per row of the file."""
    width = len(m.header)
    plan = dict(m.plan)
    ident = [(name, plan[name]) for name in IDENT if name in plan]
    shared = sorted({c for name, cols in m.plan if name not in IDENT for c in cols})
    pick = operator.itemgetter(*shared) if len(shared) > 1 else (lambda r, c=shared[0]: (r[c],)) if shared else None
    need = max(shared) + 1 if shared else 0
    combos, caches = {}, {}
    unique = [(name, {}) for name in ("serial", "donor_tag", "imei", "tag") if name in plan or (
        name == "donor_tag" and "tag" in plan)]
    total = invalid = 0
    rows, all_errors = m.rows, m.errors
    for number, record in numbered:
        if writer is not None:
            writer.write(record)
        if not "".join(record).strip():
            continue  # a blank row
        total += 1
        errors = []
        n = len(record)
        if n > width and "".join(record[width:]).strip():
            errors.append(_too_many(m, number, n))
        found = {}
        for name, cols in ident:
            for c in cols:
                raw = record[c] if c < n else ""
                if raw:
                    value = _identifier(m, name, clean(raw), number, c, errors)
                    if value is not None:
                        found[name] = value
                        break
        if pick is not None:
            cells = pick(record) if n >= need else pick(record + [""] * (need - n))
            combo = combos.get(cells)
            if combo is None:
                combo = _combo(m, dict(zip(shared, cells, strict=True)), caches, default_kind)
                if len(combos) < 50_000:
                    combos[cells] = combo
        else:
            combo = (None, None, default_kind, False, None, ())
        if combo[5]:
            for b in combo[5]:
                (errors if b.error else m.warnings).append(problem(number, b.column, b.value, b.code, b.reason))
        tag, donor_tag = found.get("tag"), found.get("donor_tag")
        if tag.__class__ is Foreign:  # another organisation's tag: the donor's asset tag to us
            tag, donor_tag = None, donor_tag or tag.value
        serial = found.get("serial")
        row = Row(number, tag, serial, donor_tag, found.get("imei"), found.get("mac"), combo[2], combo[3],
                  combo[0], combo[1], combo[4])
        if not errors:
            if not (serial or donor_tag or tag):
                errors.append(_no_identity(m, number, record))
            else:
                keys = []
                for name, seen in unique:
                    value = getattr(row, name)
                    if value:
                        key = value.upper()
                        if key in seen:
                            keys = None
                            break
                        keys.append((seen, key))
                if keys is not None:
                    for seen, key in keys:
                        seen[key] = row
                else:
                    errors = _duplicates(m, row, unique)
                    if errors is None:  # the same row again: changes nothing
                        m.duplicates += 1
                        continue
        if errors:
            invalid += 1
            all_errors.extend(errors)
        else:
            rows.append(row)
    m.total, m.invalid = total, invalid


def _too_many(m, number, n):
    return problem(number, None, None, "too-many-values", _(
        "{n} values but the header has {m}: a value may hold an unquoted {delimiter!r}").format(
        n=n, m=len(m.header), delimiter=m.delimiter or ","))


def _combo(m, cells, caches, default_kind):
    """(make, model, kind, kind given, specs, problems) from the repeated columns' cells {column: text}.
    Rows with the same specs share one dict; each cell text is converted once per column."""
    plan = m.plan

    def first(name, convert):
        cache = caches.setdefault(name, {})
        for c in dict(plan).get(name, ()):
            raw = cells[c]
            if not raw:
                continue
            if (c, raw) not in cache:
                value = clean(raw)
                cache[c, raw] = convert(value, m.header[c]) if value else None
            if cache[c, raw] is not None:
                return cache[c, raw]
        return None

    make = first("make", _plain_value)
    model = first("model", _plain_value)
    kind, given = _kind([cells[c] for c in dict(plan).get("kind", ())], default_kind)
    specs, bad = [], []
    for name in SPEC_FIELDS:
        value = first(name, lambda v, column, name=name: _spec_value(name, v, column))
        if isinstance(value, Bad):
            bad.append(value)
        elif value is not None:
            specs.append((name, value))
    shared = caches.setdefault("specs", {(): None})
    key = tuple(specs)
    if key not in shared:
        shared[key] = dict(specs)
    return make, model, kind, given, shared[key], tuple(bad)


class Foreign:
    """A tag column's value that is not shaped like ours."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


class Bad:
    """A cell that cannot be read: an error (row invalid) or a warning (value left out)."""

    __slots__ = ("column", "value", "code", "reason", "error")

    def __init__(self, column, value, code, reason, error):
        self.column, self.value, self.code, self.reason, self.error = column, value, code, reason, error


def _plain_value(value, _column):
    return None if value.lower() in EMPTY_VALUES or value.lower() in PLACEHOLDER_NAMES else value


def _spec_value(name, value, column):
    """A spec cell read: the value, None (empty), or Bad (an Excel-ruined model number is an error, a value
    not understood a warning)."""
    if value.lower() in EMPTY_VALUES:
        return None
    if name == "model_number":
        why = excel_mangled(value) if _SUSPECT.fullmatch(value) else None
        return Bad(column, value, "excel-number", why, True) if why else value
    try:
        if name in ("ram_gb", "storage_gb"):
            words = norm(column).split()
            unit = next((u for u in ("tb", "gb", "go", "mb", "mo") if u in words), None)
            return size_gb(value, unit, binary_mb=name == "ram_gb")
        if name == "screen_inches":
            return screen_inches(value)
        if name == "battery_health":
            return percent(value)
    except ValueError:
        return Bad(column, value, "unreadable-value", _("{value!r} is not understood here; left out").format(
            value=value), False)
    return value


def _identifier(m, name, value, number, c, errors):
    """A serial, asset tag, our tag, IMEI or MAC read from a cell; None (placeholder, empty, or an error
    added to `errors`)."""
    if not value:
        return None
    column = m.header[c]
    why = excel_mangled(value) if _SUSPECT.fullmatch(value) else None
    if why:
        errors.append(problem(number, column, value, "excel-number", why))
        return None
    if len(value) > MAX_IDENTIFIER or _CONTROL.search(value):
        errors.append(problem(number, column, value, "bad-identifier", _(
            "{value!r} is not usable as an identifier (control characters, or longer than {n} characters)").format(
            value=value[:40], n=MAX_IDENTIFIER)))
        return None
    low = value.lower()
    if low in EMPTY_VALUES:
        return None
    if name == "serial":  # evidence.real_serial's rule, without building sets for every row
        return None if low in PLACEHOLDER_SERIALS or not value.strip("0 -.") or not low.strip("fx") else value
    if name == "donor_tag":
        return value
    if name == "tag":
        if not tags.looks_like_tag(value):
            return Foreign(value)
        try:
            return tags.parse(value)[2]
        except tags.CheckMismatch:
            errors.append(problem(number, column, value, "bad-tag", _(
                "{value} is shaped like a refurb tag but its check character does not match").format(value=value)))
            return None
    if name == "imei":
        imei = scanning.normalise_imei(value)
        if imei is None:
            errors.append(problem(number, column, value, "bad-imei", _(
                "IMEI {value} is not 15 digits with a valid check digit").format(value=value)))
        return imei
    mac = scanning.normalise_mac(value)
    if mac is None:
        errors.append(problem(number, column, value, "bad-mac", _("{value} is not a MAC address").format(value=value)))
    return mac


def _kind(cells, default_kind):
    """(kind, given): the first kind column (type before chassis before category) that names a kind; 'other'
    when the file names something that is no kind of ours; the default kind when it says nothing."""
    other = False
    for raw in cells:
        value = clean(raw)
        kind = kind_of(value) if value else None
        if kind == "other":
            other = True
        elif kind:
            return kind, True
    return ("other", True) if other else (default_kind, False)


def _no_identity(m, number, record):
    cols = dict(m.plan).get("serial", ())
    raw = next((clean(record[c]) for c in cols if c < len(record) and clean(record[c])), "")
    column = m.columns.get("serial") or m.columns.get("donor_tag") or m.columns.get("tag")
    if raw and raw.lower() not in EMPTY_VALUES:
        return problem(number, column, raw, "no-identity", _(
            "{value!r} is a placeholder, not a serial, and there is no asset tag").format(value=raw))
    return problem(number, column, None, "no-identity", _("no serial and no asset tag"))


DUPLICATE_LABELS = {"serial": N_("serial"), "donor_tag": N_("asset tag"), "imei": "IMEI", "tag": N_("tag")}


def _duplicates(m, row, unique):
    """The errors of a row whose serial, asset tag, IMEI or tag an earlier row has; None when it repeats that
    row exactly (it then changes nothing)."""
    errors = []
    for name, seen in unique:
        value = getattr(row, name)
        other = seen.get(value.upper()) if value else None
        if other is None:
            continue
        if other.same(row):
            m.warnings.append(problem(row.number, None, row.identity(), "duplicate-row", _(
                "the same as row {row}; counted once").format(row=other.number)))
            return None
        errors.append(problem(row.number, m.columns.get(name), value, "duplicate-in-file", _(
            "{what} {value} is on row {row} already").format(what=_(DUPLICATE_LABELS[name]), value=value,
                                                              row=other.number)))
    return errors


# ------------------------------------------------------------------------------------------ error file


def write_errors(path, errors, delimiter=","):
    """The row errors as CSV (row, column, value, code, reason), UTF-8 with a BOM so Excel reads the accents.
    Written even when there are none, so a script finds the file it asked for."""
    path = Path(path)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(["row", "column", "value", "code", "reason"])
    for e in errors:
        writer.writerow([e["row"] if e["row"] is not None else "", e["column"] or "", e.get("value") or "",
                         e["code"], e["reason"]])
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(codecs.BOM_UTF8 + out.getvalue().encode("utf-8"))
    except OSError as exc:
        raise NotFound(_("{file}: cannot write the error file: {reason}").format(
            file=path, reason=exc.strerror or exc), hint=_("check the path")) from exc
    return str(path)
