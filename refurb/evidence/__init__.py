"""Evidence files written by other tools: what refurb reads in them (SPEC §5, §6; issue 4).

Each parser module lists `PARSERS`: (kind, sniff, parse) triples.  `sniff(text, name)` says whether a
file is of that kind (cheap, no exceptions); `parse(text, name)` returns a dict with as found:
`device` {make, model, serial, kind}, `media` [{serial, model, type, size_bytes, health {...}}],
`battery` {...}, `erasures` [{serial, method, passes, verification, result, start, end, level}],
`specs` {cpu, cpu_vendor, cores, arch, ram_gb, storage_gb, screen_inches, firmware, tpm, facts} (specs.py;
windows11() there turns them into a Windows 11 verdict), `warnings` [...].  A parser raises ValueError with
a one-line reason for a broken file of its kind.  Stdlib only: no database, no heavy imports.
"""

import json
from pathlib import Path

from refurb.i18n import _

PLACEHOLDER_SERIALS = {
    "", "0", "00000000", "0000000000", "000000000000", "123456789", "1234567890", "none", "n/a", "na", "null",
    "not specified", "not applicable", "not available", "default string", "to be filled by o.e.m.",
    "to be filled by oem", "system serial number", "chassis serial number", "base board serial number",
    "serial number", "invalid", "unknown", "redacted", "xxxxxxxxxx", "0123456789", "empty", "oem", "o.e.m.",
}


# Make/model strings firmware writes when it knows nothing.
PLACEHOLDER_NAMES = {
    "system manufacturer", "system product name", "system version", "chassis manufacture",
    "chassis manufacturer", "chassis version", "default string", "not specified", "not applicable",
    "to be filled by o.e.m.", "to be filled by oem", "o.e.m.", "oem", "none", "unknown", "<bad index>", "",
}


def first_battery(found, batteries, warnings):
    """Put the first battery in `found` and warn when there were more."""
    if batteries:
        found["battery"] = batteries[0]
        if len(batteries) > 1:
            warnings.append(f"{len(batteries)} batteries found; showing the first")


def real_serial(value):
    """The serial, or None when it is missing or a placeholder ("To be filled by O.E.M." …)."""
    if value is None:
        return None
    text = str(value).strip()
    if text.lower() in PLACEHOLDER_SERIALS or set(text) <= {"0", " ", "-", "."} or set(text.lower()) <= {"f", "x"}:
        return None
    return text


def _parsers():
    from . import erasure, hardware, smart

    return [*hardware.PARSERS, *smart.PARSERS, *erasure.PARSERS]


def windows11(found):
    """Whether Windows 11 may go on the machine a parse_file() result describes (see specs.windows11)."""
    from .specs import windows11 as verdict

    return verdict(found)


def parse_file(path):
    """{"file", "kind", …} for one file, or {"file", "error"}: a broken file never stops the others."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return {"file": str(path), "error": _("cannot read: {reason}").format(reason=exc.strerror)}
    text = raw.decode("utf-8", errors="replace")
    for kind, sniff, parse in _parsers():
        if sniff(text, path.name):
            try:
                found = parse(text, path.name)
            except (ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
                return {"file": str(path), "kind": kind, "error": str(exc).splitlines()[0] if str(exc) else kind}
            return {"file": str(path), "kind": kind, **found}
    return {"file": str(path), "error": _("not a kind of file refurb reads")}
