"""What a scan says: cleaning a scanned line, station cards, keyboard-layout repair, identity forms.

Pure text, standard library only: no database, no images.  The station loop (refurb.station /
refurb.services) resolves scans with these functions in the order of SPEC §4.

Keyboard layouts
----------------
A keyboard-wedge scanner does not send characters, it presses keys.  Configured for US QWERTY, it
presses the key that carries a character on a US keyboard; the PC turns that key into whatever its
own layout puts there.  `type_as(layout, text)` is that forward mapping, `layout_repairs(text)` its
inverse for each layout in LAYOUTS.  Only the unshifted and shifted levels matter (a scanner never
presses AltGr).  Dead keys (^ ¨ on AZERTY, ^ ´ ` on QWERTZ) behave as on Windows: followed by a letter
they compose (ê), otherwise the accent itself is typed before the next character.

Sources: the layouts are xkeyboard-config's `symbols/be`, `fr`, `de`, `gb` (basic variants, with
`latin` and `latin(type4)` they include; xkb-data 2.35.1 under /usr/share/X11/xkb/symbols), checked
against Wikipedia's "AZERTY" article (Belgian/French differences) and the AIX Belgian translate table.
The one Linux/Windows difference on levels 1–2: French shift+² gives `~` on Linux and nothing on
Windows (we follow Linux).  The US `\\` key is the ISO key left of Enter (µ £ on BE, * µ on FR, # ' on
DE, # ~ on UK): USB scanners send the HID backslash usage, which both systems map there.

Which of our formats survive a layout unchanged (so need no repair):

- uk-qwerty: all of them.  UK differs from US only on `" @ # ~ £ ¬ \\`, none of which we use.
- de-qwertz: letters other than Y and Z, and digits; `-` becomes `ß`.  So a dash-less tag
  (`RB0001420J`) without Y/Z survives, a dashed tag or a card (`RBCMD-…`) does not.
- be-azerty, fr-azerty: only letters other than A Q Z W M; digits come out as `à&é"'(…` and `-`
  as `)`.  No tag survives (it has digits); every tag and card repairs back exactly.

Every tag (refurb.tags) and every card repairs back from every layout (tested with hypothesis).

Identity forms
--------------
`serial_forms` lists the serial numbers a vendor label may stand for (Lenovo `1S<MTM><serial>`,
Dell express service codes, `S/N:` prefixes, GS1 AI 21); `normalise_imei` / `is_imei` check IMEIs
with Luhn; `normalise_mac` accepts the usual MAC address spellings.
"""

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from .i18n import N_, _

MAX_LENGTH = 256

# ---------------------------------------------------------------------------------------------- clean

# Kept inside a line: the GS1 / ISO 15434 data separators.  A GS (FNC1 in GS1-128 and GS1 DataMatrix)
# ends a variable-length field; dropping it would glue the next field onto the serial number.
_SEPARATORS = {"\x1c", "\x1d", "\x1e"}


def clean(raw):
    """A scanned line as we resolve it; raises ValueError (with a reason) for what cannot be a scan.

    - the ends lose whitespace, CR/LF, and the framing characters scanners add (STX, ETX, EOT, TAB…);
    - inside the line, FS/GS/RS (GS1 and ISO 15434 separators) are kept: `serial_forms` reads GS1
      element strings with them.  A TAB becomes a space; other control characters (C0, DEL, C1) and
      invisible format characters (zero-width space, byte order mark) are dropped;
    - NFC normalisation, so `e` + combining acute and `é` are the same scan;
    - rejected: NUL (binary junk, not a scan), text that was not valid UTF-8 (lone surrogates from
      `surrogateescape`, U+FFFD), unassigned and private-use code points, a line break inside the
      line, and more than 256 characters.

    An empty or blank line gives "" (a double Enter is not an error; the station skips it).

    Example: clean("RB-000142-J\\r\\n") == "RB-000142-J"
    """
    if len(raw) > 16 * MAX_LENGTH:  # a 10 MB line is junk: say so before looking at every character
        raise ValueError(_("it is longer than {limit} characters ({length})").format(
            limit=MAX_LENGTH, length=len(raw)))
    if "\x00" in raw:
        raise ValueError(_("it contains a NUL character: not text from a scanner"))
    if any(ch == "\ufffd" or unicodedata.category(ch) in ("Cs", "Cn", "Co") for ch in raw):
        raise ValueError(_("it is not valid text (bytes that are not UTF-8, or unassigned characters)"))
    text = unicodedata.normalize("NFC", raw)
    text = _strip_ends(text)
    if "\n" in text or "\r" in text:
        raise ValueError(_("it holds more than one line"))
    kept = []
    for ch in text:
        if ch == "\t":
            kept.append(" ")
        elif ch in _SEPARATORS:
            kept.append(ch)
        elif unicodedata.category(ch) in ("Cc", "Cf"):
            continue
        else:
            kept.append(ch)
    text = _strip_ends("".join(kept))
    if len(text) > MAX_LENGTH:
        raise ValueError(_("it is longer than {limit} characters ({length})").format(
            limit=MAX_LENGTH, length=len(text)))
    return text


def _strip_ends(text):
    start, end = 0, len(text)
    while start < end and _junk_at_end(text[start]):
        start += 1
    while end > start and _junk_at_end(text[end - 1]):
        end -= 1
    return text[start:end]


def _junk_at_end(ch):
    return ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf")


# ---------------------------------------------------------------------------------------------- cards

COMMAND_PREFIX = "RBCMD-"
BADGE_PREFIX = "RBOP-"
MODES = ("INTAKE", "WIPE", "IMAGE", "QC", "ALLOCATE", "LOAN", "RETURN", "LOOKUP")
GRADES = ("A", "B", "C")
CONDITIONS = ("OK", "DAMAGED", "INCOMPLETE")
SETUP_LAYOUTS = {"BE": "be-azerty", "FR": "fr-azerty", "DE": "de-qwertz", "UK": "uk-qwerty"}
PLAIN_WORDS = ("UNDO", "DONE", "ALLOK")

_SLUG = r"[A-Z0-9]+(?:-[A-Z0-9]+)*"
_NUMBER = r"[1-9][0-9]{0,9}"
# word → the pattern of its argument (None: the word takes no argument)
_ARGUMENTS = {
    "UNDO": None, "DONE": None, "ALLOK": None,
    "FAIL": _SLUG,
    "GRADE": "|".join(GRADES),
    "MODE": "|".join(MODES),
    "IMAGE": _SLUG,
    "DIGIPUNT": _NUMBER,
    "COND": "|".join(CONDITIONS),
    "SETUP": "|".join(SETUP_LAYOUTS),
}
_COMMAND = re.compile(r"RBCMD-(?P<word>[A-Z]+)(?:-(?P<arg>[A-Z0-9-]+))?")
_BADGE = re.compile(rf"RBOP-(?P<id>{_NUMBER})")


@dataclass(frozen=True)
class Card:
    """A station card: kind "command" (word UNDO, FAIL, GRADE, …) or "badge" (word OPERATOR, arg the id)."""

    kind: str
    word: str
    arg: str | None = None


def parse_card(text):
    """The card a scan is, or None.  Case-insensitive (a scanner with Caps Lock on sends lowercase).

    RBCMD-UNDO | RBCMD-DONE | RBCMD-ALLOK | RBCMD-FAIL-<item> | RBCMD-GRADE-A|B|C | RBCMD-MODE-<mode> |
    RBCMD-IMAGE-<image> | RBCMD-DIGIPUNT-<location id> | RBCMD-COND-OK|DAMAGED|INCOMPLETE |
    RBCMD-SETUP-BE|FR|DE|UK, and badges RBOP-<operator id>.  Item and image ids are the catalogue ids
    uppercased (dead-pixels → DEAD-PIXELS); numbers have no leading zero.  Unknown words, missing or
    unexpected arguments give None.

    Example: parse_card("RBCMD-FAIL-DEAD-PIXELS") == Card("command", "FAIL", "DEAD-PIXELS")
    """
    text = text.strip().upper()
    m = _BADGE.fullmatch(text)
    if m:
        return Card("badge", "OPERATOR", m["id"])
    m = _COMMAND.fullmatch(text)
    if not m or m["word"] not in _ARGUMENTS:
        return None
    word, arg = m["word"], m["arg"]
    pattern = _ARGUMENTS[word]
    if pattern is None:
        return Card("command", word) if arg is None else None
    if arg is None or not re.fullmatch(pattern, arg):
        return None
    return Card("command", word, arg)


def looks_like_card(text):
    """Shaped like one of our cards (RBCMD-… or RBOP-…), known or not: never look it up as a device."""
    return text.strip().upper().startswith((COMMAND_PREFIX, BADGE_PREFIX))


def card_code(card):
    """The text printed in a card's barcode; the inverse of parse_card.  ValueError for a card no station
    understands.

    Example: card_code(Card("command", "GRADE", "B")) == "RBCMD-GRADE-B"
    """
    if card.kind == "badge" and card.word == "OPERATOR":
        code = f"{BADGE_PREFIX}{card.arg}"
    elif card.kind == "command":
        code = f"{COMMAND_PREFIX}{card.word}" + (f"-{card.arg}" if card.arg is not None else "")
    else:
        code = None
    if code is None or parse_card(code) != card:
        raise ValueError(_("not a station card: {card}").format(card=card))
    return code


def badge(operator_id):
    """The badge card of an operator."""
    return Card("badge", "OPERATOR", str(int(operator_id)))


_CONDITION_LABELS = {"OK": N_("OK"), "DAMAGED": N_("damaged"), "INCOMPLETE": N_("incomplete")}
LAYOUT_NAMES = {
    "be-azerty": N_("Belgian AZERTY"),
    "fr-azerty": N_("French AZERTY"),
    "de-qwertz": N_("German QWERTZ"),
    "uk-qwerty": N_("UK QWERTY"),
}


def all_command_cards(checklist_items=(), images=(), digipunten=()):
    """Every command card a station understands, with its label, for the printable card sheet.

    checklist_items: catalog.ChecklistItem objects (or item ids); images: catalog.Image objects, or
    load_images()'s mapping (or ids); digipunten: Location rows (or (id, name) pairs).  Duplicates
    (an item in several checklists) give one card.  Labels are in the language in force (refurb.i18n).

    Example: all_command_cards()[0] == (Card("command", "MODE", "INTAKE"), "Station mode: intake")
    """
    cards = [(Card("command", "MODE", m), _("Station mode: {mode}").format(mode=m.lower())) for m in MODES]
    cards += [
        (Card("command", "UNDO"), _("Undo the last scan")),
        (Card("command", "DONE"), _("Done with this device")),
        (Card("command", "ALLOK"), _("Every checklist item passes")),
    ]
    cards += [(Card("command", "GRADE", g), _("Grade {grade}").format(grade=g)) for g in GRADES]
    cards += [(Card("command", "COND", c), _("Condition: {condition}").format(condition=_(_CONDITION_LABELS[c])))
              for c in CONDITIONS]
    checklist_items, images, digipunten = (
        list(x.values()) if isinstance(x, Mapping) else list(x) for x in (checklist_items, images, digipunten))
    for item in checklist_items:
        item_id, label = _id_and_label(item, "label")
        cards.append((Card("command", "FAIL", item_id.upper()), _("Fails: {item}").format(item=label)))
    for image in images:
        image_id, name = _id_and_label(image, "name")
        cards.append((Card("command", "IMAGE", image_id.upper()), _("Image: {image}").format(image=name)))
    for place in digipunten:
        place_id, name = _id_and_label(place, "name")
        cards.append((Card("command", "DIGIPUNT", str(int(place_id))),
                      _("Digipunt: {digipunt}").format(digipunt=name)))
    for code, layout in SETUP_LAYOUTS.items():
        cards.append((Card("command", "SETUP", code),
                      _("Scanner set-up reminder: {layout}").format(layout=_(LAYOUT_NAMES[layout]))))
    unique, seen = [], set()
    for card, label in cards:
        card_code(card)  # a malformed id fails here, not on the printed sheet
        if card not in seen:
            seen.add(card)
            unique.append((card, label))
    return unique


def _id_and_label(thing, attribute):
    if isinstance(thing, str | int):
        return str(thing), str(thing)
    if isinstance(thing, tuple):
        return str(thing[0]), str(thing[1])
    return str(thing.id), str(getattr(thing, attribute, thing.id))


# ---------------------------------------------------------------------------------------------- layouts

LAYOUTS = ("be-azerty", "fr-azerty", "de-qwertz", "uk-qwerty")

# The keys a US QWERTY scanner presses, row by row (the US `\` key closes the top letter row).  Each
# layout below lists what the same keys give, unshifted and shifted, in the same order.  A combining
# character marks a dead key.
_US = (
    ("`1234567890-=", "~!@#$%^&*()_+"),
    ("qwertyuiop[]\\", "QWERTYUIOP{}|"),
    ("asdfghjkl;'", 'ASDFGHJKL:"'),
    ("zxcvbnm,./", "ZXCVBNM<>?"),
)
_CIRCUMFLEX, _DIAERESIS, _ACUTE, _GRAVE = "\u0302", "\u0308", "\u0301", "\u0300"
_SPACING = {_CIRCUMFLEX: "^", _DIAERESIS: "¨", _ACUTE: "´", _GRAVE: "`"}
_LAYOUT_ROWS = {
    "be-azerty": (
        ("²&é\"'(§è!çà)-", "³1234567890°_"),
        ("azertyuiop" + _CIRCUMFLEX + "$µ", "AZERTYUIOP" + _DIAERESIS + "*£"),
        ("qsdfghjklmù", "QSDFGHJKLM%"),
        ("wxcvbn,;:=", "WXCVBN?./+"),
    ),
    "fr-azerty": (
        ("²&é\"'(-è_çà)=", "~1234567890°+"),
        ("azertyuiop" + _CIRCUMFLEX + "$*", "AZERTYUIOP" + _DIAERESIS + "£µ"),
        ("qsdfghjklmù", "QSDFGHJKLM%"),
        ("wxcvbn,;:!", "WXCVBN?./§"),
    ),
    "de-qwertz": (
        (_CIRCUMFLEX + "1234567890ß" + _ACUTE, "°!\"§$%&/()=?" + _GRAVE),
        ("qwertzuiopü+#", "QWERTZUIOPÜ*'"),
        ("asdfghjklöä", "ASDFGHJKLÖÄ"),
        ("yxcvbnm,.-", "YXCVBNM;:_"),
    ),
    "uk-qwerty": (
        ("`1234567890-=", "¬!\"£$%^&*()_+"),
        ("qwertyuiop[]#", "QWERTYUIOP{}~"),
        ("asdfghjkl;'", "ASDFGHJKL:@"),
        ("zxcvbnm,./", "ZXCVBNM<>?"),
    ),
}


def _key_table(layout):
    """{US character: what the PC types for that key} for one layout (space is space everywhere)."""
    table = {" ": " "}
    for (us_plain, us_shift), (plain, shift) in zip(_US, _LAYOUT_ROWS[layout], strict=True):
        assert len(us_plain) == len(plain) and len(us_shift) == len(shift), layout
        table.update(zip(us_plain + us_shift, plain + shift, strict=True))
    return table


_FORWARD = {layout: _key_table(layout) for layout in LAYOUTS}


def _inverse(layout):
    """{character on screen: the US keys that typed it}; dead keys by their accent and composed letters."""
    forward = _FORWARD[layout]
    keys = {}
    for us, out in forward.items():
        assert out not in keys, (layout, out)  # a layout types each character with one key only
        keys[out] = us
    inverse = {out: us for out, us in keys.items() if out not in _SPACING}
    for mark, us_dead in ((out, us) for out, us in keys.items() if out in _SPACING):
        assert _SPACING[mark] not in keys, (layout, mark)
        inverse[_SPACING[mark]] = us_dead
        for out, us in keys.items():
            composed = unicodedata.normalize("NFC", out + mark)
            if len(composed) == 1 and out != " ":
                assert composed not in keys, (layout, composed)
                inverse[composed] = us_dead + us
    return inverse


_BACKWARD = {layout: _inverse(layout) for layout in LAYOUTS}


def type_as(layout, text):
    """What a scanner set to US QWERTY types into a PC set to `layout`.

    Only what a US keyboard has (printable ASCII): anything else raises ValueError.

    Example: type_as("be-azerty", "0013748911") == 'àà&"è\\'!ç&&'
    """
    keys = _FORWARD[_check_layout(layout)]
    out, pending = [], None
    for ch in text:
        if ch not in keys:
            raise ValueError(_("a US keyboard cannot type {char!r}").format(char=ch))
        typed = keys[ch]
        if pending is not None:
            composed = unicodedata.normalize("NFC", typed + pending)
            if typed == " ":
                out.append(_SPACING[pending])
                pending = None
                continue
            if len(composed) == 1:
                out.append(composed)
                pending = None
                continue
            out.append(_SPACING[pending])
            pending = None
        if typed in _SPACING:
            pending = typed
        else:
            out.append(typed)
    if pending is not None:
        out.append(_SPACING[pending])
    return "".join(out)


def repair(layout, text):
    """What a US QWERTY scanner meant when `layout` typed `text`, or None when that layout cannot have
    typed it (a character none of its keys gives without AltGr)."""
    inverse = _BACKWARD[_check_layout(layout)]
    try:
        return "".join(inverse[ch] for ch in text)
    except KeyError:
        return None


def layout_repairs(text):
    """[(layout, repaired text), …] in LAYOUTS order: for each layout, what the scanner meant if it was
    set to US QWERTY while the PC used that layout.  Only repairs that change the text, each repaired
    text once (the first layout that gives it).  Accept one only when it is a valid tag or known code.

    Example: layout_repairs('àà&"è\\'!ç&&')[0] == ("be-azerty", "0013748911")
    """
    found, seen = [], {text}
    for layout in LAYOUTS:
        repaired = repair(layout, text)
        if repaired is not None and repaired not in seen:
            seen.add(repaired)
            found.append((layout, repaired))
    return found


def _check_layout(layout):
    if layout not in _FORWARD:
        raise ValueError(_("unknown keyboard layout {layout!r} (known: {known})").format(
            layout=layout, known=", ".join(LAYOUTS)))
    return layout


def setup_layout_card(layout):
    """The SETUP-… reminder card of a layout."""
    code = {v: k for k, v in SETUP_LAYOUTS.items()}[_check_layout(layout)]
    return Card("command", "SETUP", code)


def setup_hint(layout):
    """How to set the scanner up when its scans needed repair from `layout` (said once per session).

    Example: setup_hint("be-azerty") starts with "The scanner types as a US QWERTY keyboard"
    """
    name = _(LAYOUT_NAMES[_check_layout(layout)])
    return _(
        "The scanner types as a US QWERTY keyboard but this PC uses {layout}; refurb repaired the scan. "
        "To fix it for good, scan the \"{layout}\" keyboard-country code in the scanner's manual "
        "(or switch the scanner to Alt+keypad emulation). The card {card} is a reminder of this."
    ).format(layout=name, card=card_code(setup_layout_card(layout)))


# ---------------------------------------------------------------------------------------------- identities

_SERIAL_PREFIX = re.compile(
    r"(?:S/N|(?:SERIAL\s*NUMBER|SERIAL\s*NO\.?|SERIAL|SERVICE\s*TAG|SVC\s*TAG|SER|SN)(?=\s*[:#]|\s))"
    r"\s*[:#]?\s*(?P<rest>\S.*)",
    re.IGNORECASE,
)
_LENOVO = re.compile(r"1S(?P<rest>[A-Z0-9]{11,20})")
_DIGITS_WITH_DASHES = re.compile(r"[0-9]+(?:[- ][0-9]+)*")
# GS1 application identifiers that may precede a serial (21), with their fixed data lengths (None: variable,
# ended by GS).  Enough for the labels on device boxes; an unknown AI stops the reading.
_GS1_AIS = {"00": 18, "01": 14, "02": 14, "10": None, "11": 6, "12": 6, "13": 6, "15": 6, "16": 6,
            "17": 6, "20": 2, "21": None, "22": None, "240": None, "241": None, "250": None}


def serial_forms(text):
    """Manufacturer serial numbers a scanned label may stand for, most likely first, no duplicates.

    - the text itself, then uppercased (service tags are uppercase; Caps Lock is not);
    - a prefix as printed on labels: `S/N:`, `SN:`, `Serial No.`, `Service Tag:` (HP, Dell, …);
    - Lenovo `1S<machine type model><serial>`: since 2013 a 10-character MTM (type 4 + model 6, 20L5CTO1WW)
      and an 8-character serial (PF1ABC23), before that 7 + 7 (2516CTO + R8ABCDE).  Other lengths: the
      last 8, then 7 characters, when at least a 4-character machine type remains;
    - a Dell express service code (7–11 digits, dashes allowed): the decimal form of the base-36
      service tag (12542331601 → 5RFDP01); for values below 36⁵ the 5-character tag first;
    - GS1 element strings: the serial of application identifier 21, as `(01)…(21)SERIAL`, or raw (with
      GS separators, or starting with 01 and a GTIN whose check digit holds).

    Example: serial_forms("1S20L5CTO1WWPF1ABC23") == ["1S20L5CTO1WWPF1ABC23", "PF1ABC23"]
    """
    forms = []

    def add(form):
        form = form.strip()
        if form and form not in forms:
            forms.append(form)

    text = text.strip()
    add(text)
    add(text.upper())
    m = _SERIAL_PREFIX.fullmatch(text)
    if m:
        add(m["rest"])
        add(m["rest"].upper())
    for form in list(forms):
        upper = form.upper()
        m = _LENOVO.fullmatch(upper)
        if m:
            for serial in _lenovo_serials(m["rest"]):
                add(serial)
        if _DIGITS_WITH_DASHES.fullmatch(form):
            for tag in dell_service_tags(form):
                add(tag)
        gs1 = gs1_serial(form)
        if gs1:
            add(gs1)
    return forms


def _lenovo_serials(rest):
    standard = [rest[-n:] for n in (8, 7) if len(rest) - n in (10, 7)]
    if standard:
        return standard
    return [rest[-n:] for n in (8, 7) if 4 <= len(rest) - n <= 10]


def dell_service_tags(express_code):
    """The Dell service tag(s) of an express service code, or [] when it is not one (7–11 digits)."""
    digits = express_code.replace("-", "").replace(" ", "")
    if not digits.isdigit() or not 7 <= len(digits) <= 11:
        return []
    value = int(digits)
    if value >= 36**7:
        return []
    tag = _base36(value)
    return [tag.rjust(5, "0"), tag.rjust(7, "0")] if value < 36**5 else [tag.rjust(7, "0")]


def dell_express_code(service_tag):
    """The express service code of a Dell service tag (base 36 → decimal): 5RFDP01 → "12542331601"."""
    if not re.fullmatch(r"[0-9A-Za-z]{5}|[0-9A-Za-z]{7}", service_tag):
        raise ValueError(_("not a Dell service tag: {tag}").format(tag=service_tag))
    return str(int(service_tag, 36))


def _base36(value):
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = ""
    while True:
        value, r = divmod(value, 36)
        out = digits[r] + out
        if not value:
            return out


def gs1_serial(text):
    """The serial number (AI 21) of a GS1 element string, or None."""
    if text.startswith("("):
        fields = dict(re.findall(r"\((\d{2,4})\)([^(]*)", text))
        return fields.get("21") or None
    for symbology in ("]d2", "]C1", "]Q3", "]e0"):
        if text.startswith(symbology):
            text = text[3:]
            break
    else:
        if "\x1d" not in text and not (re.match(r"01\d{14}", text) and _gtin_ok(text[2:16])):
            return None
    while text:
        text = text.lstrip("\x1d")  # FNC1 at the start, or after a fixed-length field (allowed)
        ai = next((a for a in (text[:2], text[:3]) if a in _GS1_AIS), None)
        if ai is None:
            return None
        length, text = _GS1_AIS[ai], text[len(ai):]
        if length is None:
            value, _sep, text = text.partition("\x1d")
        else:
            value, text = text[:length], text[length:]
            if len(value) < length:
                return None
        if ai == "21":
            return value or None
    return None


def _gtin_ok(digits):
    """The GS1 mod-10 check digit (weights 3, 1, 3 … from the right, the check digit excluded)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits[:-1])))
    return (10 - total % 10) % 10 == int(digits[-1])


_IMEI_PREFIX = re.compile(r"IMEI(?P<sv>\s*/?\s*SV)?(?:\s*[12](?=\s*[:#]|\s+\d))?\s*[:#]?\s*", re.IGNORECASE)


def luhn_ok(digits):
    """The Luhn check (ISO/IEC 7812) over a string of digits, its check digit last."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _luhn_digit(body):
    return next(str(d) for d in range(10) if luhn_ok(body + str(d)))


def _imei_digits(text):
    """The digits of an IMEI-shaped scan (prefix and separators gone), or None."""
    text = text.strip()
    m = _IMEI_PREFIX.match(text)
    if m:
        text = text[m.end():]
    if not _DIGITS_WITH_DASHES.fullmatch(text):
        return None
    return text.replace("-", "").replace(" ", "")


def normalise_imei(text):
    """The 15-digit IMEI a scan stands for, or None.

    Accepts an `IMEI:` / `IMEI 1:` / `IMEISV:` prefix and spaces or dashes between the digits
    (35-209900-176148-1).  15 digits must pass Luhn.  16 digits are an IMEISV (the 14 IMEI digits and
    2 software-version digits, no check digit): the IMEI is those 14 digits with their Luhn digit.

    Example: normalise_imei("IMEI: 49-015420-323751-8") == "490154203237518"
    """
    digits = _imei_digits(text)
    if digits is None:
        return None
    if len(digits) == 15:
        return digits if luhn_ok(digits) else None
    if len(digits) == 16:
        return digits[:14] + _luhn_digit(digits[:14])
    return None


def is_imei(text):
    """15 digits with a valid Luhn check digit (an `IMEI:` prefix and separators allowed).  An IMEISV
    is not an IMEI; normalise_imei converts it."""
    digits = _imei_digits(text)
    return digits is not None and len(digits) == 15 and luhn_ok(digits)


_MAC_PREFIX = re.compile(r"(?:[A-Z][A-Z-]*\s+)?MAC(?:\s*ADDR(?:ESS)?)?\s*[:#]?\s*", re.IGNORECASE)
_MAC_FORMS = (
    re.compile(r"[0-9A-F]{2}(?::[0-9A-F]{2}){5}", re.IGNORECASE),
    re.compile(r"[0-9A-F]{2}(?:-[0-9A-F]{2}){5}", re.IGNORECASE),
    re.compile(r"[0-9A-F]{4}(?:\.[0-9A-F]{4}){2}", re.IGNORECASE),
    re.compile(r"[0-9A-F]{12}", re.IGNORECASE),
)


def normalise_mac(text):
    """AA:BB:CC:DD:EE:FF for a MAC address written aa:bb:…, AA-BB-…, aabb.ccdd.eeff or as 12 hex digits
    (a `MAC:` / `WLAN MAC:` prefix allowed), else None.  All zeros and the broadcast address are not a
    device's address: None.

    Example: normalise_mac("a4bb.6d01.2f3c") == "A4:BB:6D:01:2F:3C"
    """
    text = text.strip()
    m = _MAC_PREFIX.match(text)
    if m and m.end() < len(text):
        text = text[m.end():]
    if not any(form.fullmatch(text) for form in _MAC_FORMS):
        return None
    hexdigits = re.sub(r"[^0-9A-Fa-f]", "", text).upper()
    if hexdigits in ("000000000000", "FFFFFFFFFFFF"):
        return None
    return ":".join(hexdigits[i:i + 2] for i in range(0, 12, 2))
