"""Translations through gettext.

`_` looks the message up in the catalogue chosen at the moment of the call, so messages
built while a command runs follow `--lang`.  Help texts are built when refurb.cli is
imported; refurb.cli therefore calls `setup(detect(...))` before it defines its commands.
"""

import gettext
import os
from pathlib import Path

DOMAIN = "refurb"
LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = ("en", "nl", "fr")

_current = gettext.NullTranslations()
_lang = "en"


def normalise(value):
    """'nl_BE.UTF-8' -> 'nl'; unknown or empty -> None."""
    if not value:
        return None
    code = value.replace("-", "_").split(".")[0].split("_")[0].lower()
    return code if code in LANGUAGES else None


def detect(argv=(), environ=None, configured=None):
    """Language from `--lang X` in argv, REFURB_LANG, the config file, then the system locale."""
    environ = os.environ if environ is None else environ
    argv = list(argv)
    for i, arg in enumerate(argv):
        if arg == "--lang" and i + 1 < len(argv):
            return normalise(argv[i + 1]) or "en"
        if arg.startswith("--lang="):
            return normalise(arg.split("=", 1)[1]) or "en"
    for value in (environ.get("REFURB_LANG"), configured):
        if value:
            return normalise(value) or "en"
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        lang = normalise(environ.get(var))
        if lang:
            return lang
    return "en"


def setup(lang):
    """Switch every later `_()` to `lang` ('en', 'nl', 'fr'); returns the language in force."""
    global _current, _lang
    lang = normalise(lang) or "en"
    _current = gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang], fallback=True)
    _lang = lang
    return lang


def current():
    return _lang


def translation(lang):
    """The catalogue of `lang` without switching the session's language: for documents printed in a
    language of their own (certificates in Dutch by default, whatever the operator's --lang)."""
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[normalise(lang) or "en"], fallback=True)


def _(message):
    return _current.gettext(message)


def ngettext(singular, plural, n):
    return _current.ngettext(singular, plural, n)


def N_(message):
    """Mark a string for extraction without translating it now."""
    return message
