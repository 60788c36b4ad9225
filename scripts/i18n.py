#!/usr/bin/env python3
"""Keep refurb's translations in step with the code, with babel only (no GNU gettext needed).

    python scripts/i18n.py            extract → refurb/locale/refurb.pot, update nl/fr .po, compile .mo
    python scripts/i18n.py --check    change nothing; exit 1 listing what is out of date
    python scripts/i18n.py -v         also list every untranslated French message

Messages are marked in refurb/ with _("…"), N_("…") and ngettext("…", "…", n).  Dutch must be
complete (an untranslated or fuzzy Dutch entry fails --check); French may lag behind (English is
shown instead).  The .pot and .po files carry file names but no line numbers, so moving code
around does not rewrite them.  A file is only written when its content changes.
"""

import argparse
import io
import string
import sys
import tomllib
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "refurb"
LOCALE_DIR = PACKAGE / "locale"
DOMAIN = "refurb"
POT = LOCALE_DIR / f"{DOMAIN}.pot"
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}
COMMENT_TAGS = ("TRANSLATORS:",)
LANGUAGES = ("nl", "fr")  # English is the source language
COMPLETE = ("nl",)  # languages that must be fully translated
PO_OPTIONS = {"include_lineno": False, "width": 100}
HEADER = {
    "project": DOMAIN,
    "version": tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"],
    "copyright_holder": "the refurb authors",
    "charset": "utf-8",
    "fuzzy": False,
}
LANGUAGE_NAMES = {"nl": "Dutch", "fr": "French"}


def po_path(lang):
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def mo_path(lang):
    return po_path(lang).with_suffix(".mo")


# ---------------------------------------------------------------------------- building


def extract():
    """The template as the code stands now."""
    pot = Catalog(domain=DOMAIN, header_comment="# Messages of refurb; regenerate with scripts/i18n.py.\n#",
                  **HEADER)
    for filename, lineno, message, comments, context in extract_from_dir(
        PACKAGE, method_map=[("**.py", "python")], keywords=KEYWORDS, comment_tags=COMMENT_TAGS,
        strip_comment_tags=True,
    ):
        path = (PACKAGE / filename).relative_to(ROOT).as_posix()
        pot.add(message, None, [(path, lineno)], auto_comments=comments, context=context)
    return pot


def serialise(catalog, **options):
    buf = io.BytesIO()
    write_po(buf, catalog, **PO_OPTIONS, **options)
    return buf.getvalue()


def _without_dates(data):
    return b"\n".join(
        line for line in data.split(b"\n")
        if not line.startswith((b'"POT-Creation-Date:', b'"PO-Revision-Date:'))
    )


def same_content(old, new):
    """Equal apart from the creation/revision dates babel stamps on every write."""
    return old is not None and _without_dates(old) == _without_dates(new)


def read(path, **kwargs):
    with open(path, "rb") as f:
        return read_po(f, **kwargs)


def updated_po(lang, pot):
    """The .po for `lang` merged with the template: translations kept, vanished ones obsolete."""
    path = po_path(lang)
    if path.exists():
        po = read(path, locale=lang, domain=DOMAIN)
    else:
        po = Catalog(locale=lang, domain=DOMAIN, language_team=LANGUAGE_NAMES.get(lang, lang),
                     header_comment=f"# {LANGUAGE_NAMES.get(lang, lang)} messages of refurb; "
                                    "merge with scripts/i18n.py.\n#", **HEADER)
    po.update(pot, update_header_comment=False, update_creation_date=False)
    return po


def compiled(po):
    buf = io.BytesIO()
    write_mo(buf, po, use_fuzzy=False)
    return buf.getvalue()


def current_bytes(path):
    return path.read_bytes() if path.exists() else None


# ---------------------------------------------------------------------------- checking


def fields(text):
    """The placeholders of a str.format string, e.g. {'{tag}', '{value!r}'}; literal {{ }} excluded."""
    out = set()
    try:
        for _literal, name, spec, conversion in string.Formatter().parse(text):
            if name is not None:
                out.add("{" + name + ("!" + conversion if conversion else "") + (":" + spec if spec else "") + "}")
    except ValueError:
        out.add("<unbalanced braces>")
    return out


def _ids(message):
    return message.id if isinstance(message.id, tuple) else (message.id,)


def _strings(message):
    return message.string if isinstance(message.string, tuple) else (message.string,)


def show(message):
    """One line naming a message: its msgid (shortened) and where it is used."""
    text = " | ".join(_ids(message)).replace("\n", "\\n")
    text = text if len(text) <= 100 else text[:99] + "…"
    where = ", ".join(sorted({path for path, _line in message.locations}))
    return f"{text!r}" + (f"  ({where})" if where else "")


def untranslated(po):
    return [m for m in po if m.id and not all(_strings(m))]


def fuzzy(po):
    return [m for m in po if m.id and m.fuzzy and all(_strings(m))]


def placeholder_problems(po):
    """Translations whose placeholders differ from their msgid's."""
    problems = []
    for m in po:
        if not m.id or not all(_strings(m)):
            continue
        want = set().union(*(fields(i) for i in _ids(m)))
        for s in _strings(m):
            got = fields(s)
            if got != want:
                problems.append((m, want, got))
    return problems


def message_keys(catalog):
    return {(m.id, m.context) for m in catalog if m.id}


# ---------------------------------------------------------------------------- main


def run(check=False, verbose=False, out=print):
    """Bring everything up to date (or with check=True only report); returns the number of problems."""
    problems = []
    pot = extract()

    pot_bytes = serialise(pot)
    old_pot = current_bytes(POT)
    if not same_content(old_pot, pot_bytes):
        if check:
            old = message_keys(read(POT)) if old_pot is not None else set()
            new = message_keys(pot)
            added, gone = sorted(new - old, key=str), sorted(old - new, key=str)
            problems.append(f"{POT.relative_to(ROOT)} is out of date with the code "
                            f"({len(added)} new, {len(gone)} gone messages; run scripts/i18n.py)")
            problems += [f"  new:  {_join(k[0])!r}" for k in added]
            problems += [f"  gone: {_join(k[0])!r}" for k in gone]
            if not added and not gone:
                problems.append("  (locations or comments changed)")
        else:
            POT.parent.mkdir(parents=True, exist_ok=True)
            pot.creation_date = datetime.now(UTC)
            POT.write_bytes(serialise(pot))
            out(f"wrote {POT.relative_to(ROOT)}")
    out(f"{POT.relative_to(ROOT)}: {len(pot)} messages")

    for lang in LANGUAGES:
        path, mo = po_path(lang), mo_path(lang)
        rel = path.relative_to(ROOT)
        old_po = current_bytes(path)
        po = updated_po(lang, pot)
        po_bytes = serialise(po)
        if not same_content(old_po, po_bytes):
            if check:
                problems.append(f"{rel} is not merged with the template (run scripts/i18n.py)")
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                po.revision_date = datetime.now(UTC)
                path.write_bytes(serialise(po))
                out(f"wrote {rel}")

        missing, vague = untranslated(po), fuzzy(po)
        done = len([m for m in po if m.id]) - len(missing) - len(vague)
        out(f"{rel}: {done} translated, {len(missing)} untranslated, {len(vague)} fuzzy, "
            f"{len(po.obsolete)} obsolete")
        listing = lang in COMPLETE or verbose
        if lang in COMPLETE and (missing or vague):
            problems.append(f"{rel}: {len(missing)} untranslated and {len(vague)} fuzzy messages "
                            f"({lang} must be complete)")
        if listing:
            for m in missing:
                out(f"  untranslated [{lang}]: {show(m)}")
            for m in vague:
                out(f"  fuzzy [{lang}]: {show(m)}  (check the translation, then delete the '#, fuzzy' line)")
        elif missing:
            out(f"  ({len(missing)} {LANGUAGE_NAMES.get(lang, lang)} messages fall back to English; -v lists them)")
        for m, want, got in placeholder_problems(po):
            problems.append(f"{rel}: placeholders differ in {show(m)}: "
                            f"msgid has {sorted(want)}, msgstr has {sorted(got)}")

        mo_bytes = compiled(po)
        if current_bytes(mo) != mo_bytes:
            if check:
                problems.append(f"{mo.relative_to(ROOT)} is missing or differs from {rel} (run scripts/i18n.py)")
            else:
                mo.write_bytes(mo_bytes)
                out(f"wrote {mo.relative_to(ROOT)}")

    for p in problems:
        out(p)
    if check:
        out("i18n: out of date" if problems else "i18n: up to date")
    elif problems:
        out("i18n: files written; translate what is listed above in the .po files, then run this again")
    else:
        out("i18n: done")
    return len(problems)


def _join(msgid):
    return " | ".join(msgid) if isinstance(msgid, tuple) else msgid


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when anything is out of date")
    parser.add_argument("-v", "--verbose", action="store_true", help="list the untranslated messages of every language")
    args = parser.parse_args(argv)
    failures = run(check=args.check, verbose=args.verbose)
    # Without --check an incomplete Dutch catalogue is reported but is not an error: the files are written.
    return 1 if failures and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
