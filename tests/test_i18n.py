"""Translations: the catalogue is complete and compiled, placeholders survive, and --lang / REFURB_LANG
really change what a person reads while exit codes, error codes and JSON stay the same."""

import ast
import json
import os
import string
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "i18n.py"
LOCALE = ROOT / "refurb" / "locale"


@pytest.fixture(autouse=True)
def _back_to_english():
    """Tests here switch the process-wide language; leave English behind for the other test files."""
    yield
    from refurb import i18n

    i18n.setup("en")


def catalogue(lang):
    with open(LOCALE / lang / "LC_MESSAGES" / "refurb.po", "rb") as f:
        return read_po(f, locale=lang)


def placeholders(text):
    """{'{tag}', '{value!r}', '{pct:g}'} for a str.format string; literal {{ }} are not placeholders."""
    found = set()
    for _literal, name, spec, conversion in string.Formatter().parse(text):
        if name is not None:
            found.add("{" + name + ("!" + conversion if conversion else "") + (":" + spec if spec else "") + "}")
    return found


def clean_env(tmp_path, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REFURB_", "LC_", "LANG", "LANGUAGE"))}
    env.update(REFURB_HOME=str(tmp_path), PYTHONIOENCODING="utf-8", **extra)
    return env


# ---------------------------------------------------------------------------- the catalogue


def test_catalogue_is_complete_and_compiled():
    r = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, "run `make i18n` (scripts/i18n.py) and translate what it lists:\n" + r.stdout + r.stderr
    assert r.stdout.rstrip().endswith("i18n: up to date")


@pytest.mark.parametrize("lang", ["nl", "fr"])
def test_translations_keep_every_placeholder(lang):
    po = catalogue(lang)
    checked, wrong = 0, []
    for m in po:
        if not m.id or not m.string:
            continue
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        want = set().union(*(placeholders(i) for i in ids))
        for s in strings:
            checked += 1
            if placeholders(s) != want:
                wrong.append(f"{ids[0]!r} → {s!r}")
    assert not wrong, "placeholders differ:\n" + "\n".join(wrong)
    assert checked > (400 if lang == "nl" else 150)


# Words that are the same in Dutch; anything else identical to its msgid was probably pasted, not translated.
SAME_IN_DUTCH = {"Secure Boot", "TPM 2.0", "{file}: {key}: {problem}", "extra: {tag} {serial} {model}",
                 "types: {choices}",
                 # station feedback: a label and a name, the same words in Dutch
                 "→ {name}", "digipunt: {name}", "operator: {name}", "operator {name}", "image: {image}", "Tip: {tip}",
                 "Windows 11: {verdict}", "TPM {tpm}", "{seconds} s", "{minutes} min",
                 "label {label} ({tag}): {element}: {reason}", "pip install brother-ql-next",
                 "Per digipunt", "media: {labels}"}


def test_dutch_is_complete_and_not_a_copy_of_english():
    po = catalogue("nl")
    messages = [m for m in po if m.id]
    assert messages and all(m.string and not m.fuzzy for m in messages)
    # Commands and codes may stay as they are, but prose must be Dutch.
    same = {m.id for m in messages if m.string == m.id and " " in m.id and not m.id.startswith(("refurb ", "--"))}
    assert same <= SAME_IN_DUTCH


def test_every_lifecycle_word_is_translated():
    from refurb import i18n, lifecycle

    words = {t.label for t in lifecycle.TABLE} | set(lifecycle.VERBS.values()) | set(lifecycle.RECORD_LABELS.values())
    i18n.setup("nl")
    untranslated = sorted(w for w in words if i18n._(w) == w)
    assert untranslated == []
    assert lifecycle.label("allocate") == "toegewezen"
    assert lifecycle.label_verb("allocate") == "toegewezen worden"


def test_french_covers_the_lifecycle_and_the_error_lines():
    from refurb import i18n, lifecycle

    i18n.setup("fr")
    assert {lifecycle.label(a) for a in ("register", "finish_wipe", "loan_out")} == {"enregistré", "effacé", "prêté"}
    assert lifecycle.label_verb("allocate") == "être attribué"
    assert i18n._("error: {code}").format(code="transition-refused") == "erreur : transition-refused"
    assert i18n._("hint: {hint}").format(hint="x") == "conseil : x"


def test_messages_are_translated_before_formatting():
    """_() must get the literal template: an f-string, a concatenation or .format() inside _() is never found."""
    bad = []
    for path in sorted((ROOT / "refurb").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("_", "N_"):
                arg = node.args[0] if node.args else None
                if isinstance(arg, ast.JoinedStr | ast.BinOp) or (
                    isinstance(arg, ast.Call) and isinstance(arg.func, ast.Attribute) and arg.func.attr == "format"
                ):
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)[:80]}")
    assert bad == []


# ---------------------------------------------------------------------------- the tool itself


def _tool_repo(tmp_path, source):
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    (repo / "refurb").mkdir()
    (repo / "scripts" / "i18n.py").write_bytes(SCRIPT.read_bytes())
    (repo / "pyproject.toml").write_text('[project]\nname = "refurb"\nversion = "9.9.9"\n')
    (repo / "refurb" / "mod.py").write_text(textwrap.dedent(source))
    return repo


def _run(repo, *args):
    r = subprocess.run([sys.executable, str(repo / "scripts" / "i18n.py"), *args], capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


def _translate(repo, lang, mapping):
    from babel.messages.pofile import write_po

    path = repo / "refurb" / "locale" / lang / "LC_MESSAGES" / "refurb.po"
    with open(path, "rb") as f:
        po = read_po(f, locale=lang)
    for m in po:
        if m.id in mapping:
            m.string = mapping[m.id]
            m.flags.discard("fuzzy")
    with open(path, "wb") as f:
        write_po(f, po, include_lineno=False, width=100)
    return path


def _gettext(repo, lang, msgid):
    import gettext

    return gettext.translation("refurb", repo / "refurb" / "locale", languages=[lang]).gettext(msgid)


def test_tool_extracts_merges_compiles_and_checks(tmp_path):
    repo = _tool_repo(tmp_path, """
        from .i18n import N_, _
        LABEL = N_("wiped")
        def f(tag):
            return _("{tag} allocated to {digipunt}").format(tag=tag, digipunt="x")
    """)
    code, out = _run(repo, "--check")
    assert code == 1 and "refurb.pot is out of date" in out and "new:  'wiped'" in out

    code, out = _run(repo)
    assert code == 0
    assert "untranslated [nl]: '{tag} allocated to {digipunt}'  (refurb/mod.py)" in out
    code, out = _run(repo, "--check")
    assert code == 1 and "2 untranslated and 0 fuzzy" in out  # Dutch must be complete; French may lag

    po = _translate(repo, "nl", {"wiped": "gewist", "{tag} allocated to {digipunt}": "{tag} toegewezen aan {digipunt}"})
    code, out = _run(repo, "--check")
    assert code == 1 and "nl/LC_MESSAGES/refurb.mo is missing or differs" in out  # .po changed, .mo not rebuilt
    assert _run(repo)[0] == 0
    code, out = _run(repo, "--check")
    assert (code, out.splitlines()[-1]) == (0, "i18n: up to date"), out
    assert _gettext(repo, "nl", "wiped") == "gewist"
    assert _gettext(repo, "fr", "wiped") == "wiped"  # untranslated French falls back to English

    # A broken placeholder is caught.
    _translate(repo, "nl", {"{tag} allocated to {digipunt}": "{tag} toegewezen aan {digipnt}"})
    code, out = _run(repo, "--check")
    assert code == 1 and "placeholders differ" in out and "{digipnt}" in out
    _translate(repo, "nl", {"{tag} allocated to {digipunt}": "{tag} toegewezen aan {digipunt}"})

    # The code changes: a new message, a reworded one, a removed one.
    (repo / "refurb" / "mod.py").write_text(textwrap.dedent("""
        from .i18n import _
        def f(tag):
            return _("{tag} allocated to the digipunt {digipunt}").format(tag=tag, digipunt="x")
        def g():
            return _("brand new")
    """))
    code, out = _run(repo, "--check")
    assert code == 1 and "new:  'brand new'" in out and "gone: 'wiped'" in out
    code, out = _run(repo)
    assert "untranslated [nl]: 'brand new'" in out
    assert "fuzzy [nl]: '{tag} allocated to the digipunt {digipunt}'" in out  # old translation offered, not trusted
    text = po.read_text(encoding="utf-8")
    assert '#~ msgid "wiped"\n#~ msgstr "gewist"' in text  # kept as obsolete, not lost
    # A fuzzy translation is never used.
    assert _gettext(repo, "nl", "{tag} allocated to the digipunt {digipunt}") == "{tag} allocated to the digipunt {digipunt}"
    assert _run(repo, "--check")[0] == 1

    # Running again without changes writes nothing.
    before = {p: p.stat().st_mtime_ns for p in (repo / "refurb" / "locale").rglob("*.*")}
    code, out = _run(repo)
    assert "wrote" not in out
    assert before == {p: p.stat().st_mtime_ns for p in (repo / "refurb" / "locale").rglob("*.*")}


# ---------------------------------------------------------------------------- the CLI in Dutch


@pytest.fixture
def unwiped(ctx):
    """A laptop in intake with no media recorded, and a digipunt to allocate it to."""
    from refurb import services

    services.add_donor(ctx, "Acme NV")
    services.add_batch(ctx, "Acme NV", "ACME-1")
    services.add_digipunt(ctx, "Gent Zuid")
    return services.register_device(ctx, "ACME-1", "laptop", make="Lenovo", model="T480", serial="PF1ABC23")["tag"]


def _refusal_lines(r):
    return [line.rstrip() for line in r.stderr.splitlines()]


def test_lang_nl_translates_a_refusal_but_not_its_code_or_exit_code(cli, unwiped):
    tag = unwiped
    en = cli("allocate", tag, "--digipunt", "Gent Zuid")
    nl = cli("--lang", "nl", "allocate", tag, "--digipunt", "Gent Zuid")
    assert en.exit_code == nl.exit_code == 4
    assert _refusal_lines(en)[:2] == ["error: transition-refused", f"× {tag} cannot be allocated: it is in intake"]
    lines = _refusal_lines(nl)
    assert lines[:4] == [
        "fout: transition-refused",
        f"× {tag} kan niet toegewezen worden: de status is intake",
        "  niet voldaan: de opslagmedia zijn niet gekend",
        f"      → refurb media add {tag} --type … --serial …  (of: refurb media none {tag})",
    ]
    assert lines[-1] == "tip: de wisvoorwaarde kan nooit geforceerd worden; registreer eerst de ontbrekende wisbeurten"
    # Same refusal, same number of reasons, nothing left in English.
    assert len(lines) == len(_refusal_lines(en))
    for english in ("cannot", "missing:", "hint:", "error:", "storage media are not known"):
        assert english not in nl.stderr


def test_lang_nl_other_error_kinds(cli, unwiped):
    tag = unwiped
    misread = tag[:-1] + ("0" if tag[-1] != "0" else "1")
    r = cli("--lang", "nl", "show", misread)
    assert r.exit_code == 3
    assert _refusal_lines(r) == [
        "fout: misread-tag",
        f"× {misread}: verkeerd gelezen: het controleteken klopt niet",
        "tip: scan opnieuw, of typ het nummer zorgvuldig over",
    ]
    r = cli("--lang", "nl", "allocate", tag)
    assert r.exit_code == 2
    assert _refusal_lines(r) == ["fout: usage", "× geef --digipunt NAME of --release", "tip: zie: refurb allocate --help"]


def test_refurb_lang_environment(cli, unwiped, monkeypatch):
    tag = unwiped
    monkeypatch.setenv("REFURB_LANG", "nl_BE.UTF-8")
    r = cli("allocate", tag, "--digipunt", "Gent Zuid")
    assert r.exit_code == 4
    assert _refusal_lines(r)[:2] == ["fout: transition-refused", f"× {tag} kan niet toegewezen worden: de status is intake"]
    # --lang beats the environment.
    r = cli("--lang", "en", "allocate", tag, "--digipunt", "Gent Zuid")
    assert _refusal_lines(r)[:2] == ["error: transition-refused", f"× {tag} cannot be allocated: it is in intake"]
    # An unknown language is English, not a crash.
    monkeypatch.setenv("REFURB_LANG", "de")
    r = cli("allocate", tag, "--digipunt", "Gent Zuid")
    assert r.exit_code == 4 and r.stderr.startswith("error: transition-refused\n")


def test_system_locale_is_the_last_resort(cli, unwiped, monkeypatch):
    monkeypatch.delenv("REFURB_LANG")
    monkeypatch.setenv("LC_ALL", "")
    monkeypatch.setenv("LANG", "nl_BE.UTF-8")
    r = cli("allocate", unwiped, "--digipunt", "Gent Zuid")
    assert r.exit_code == 4 and r.stderr.startswith("fout: transition-refused\n")


def test_success_messages_and_the_card_in_dutch(cli, unwiped):
    tag = unwiped
    r = cli("--lang", "nl", "media", "add", tag, "--type", "nvme", "--serial", "S3Z9NX0K")
    assert (r.exit_code, r.stdout) == (0, f"✔ {tag}: medium S3Z9NX0K (nvme) geregistreerd\n")
    r = cli("--lang", "nl", "wipe", "record", tag, "--medium", "S3Z9NX0K", "--profile", "nvme-sanitize",
            "--result", "pass")
    assert r.exit_code == 0
    assert r.stdout == (f"✔ {tag}: wisbeurt van S3Z9NX0K geregistreerd (nvme-sanitize, purge, pass) · wiped  "
                        "(in de wiswachtrij → wissen gestart → gewist)\n")
    r = cli("--lang", "nl", "show", tag)
    assert r.exit_code == 0
    lines = r.stdout.splitlines()
    assert lines[0] == f"{tag}  Lenovo T480 · PF1ABC23 · partij ACME-1 (Acme NV)"
    assert lines[1] == "opslag: nvme (S3Z9NX0K) ✔ nvme-sanitize · purge"
    assert lines[2] == "status: wiped · magazijn"
    timeline = [line.split()[2:4] for line in lines[4:]]
    assert ["geregistreerd", "intake"] in timeline and ["gewist", "wiped"] in timeline
    assert "geverifieerd" in r.stdout and "verified" not in r.stdout


def test_json_is_the_same_in_every_language(cli, unwiped):
    tag = unwiped
    cli("media", "add", tag, "--type", "hdd", "--serial", "WD-1")
    for args in (("show", tag), ("list",), ("lifecycle",), ("wipe", "profiles"), ("images",), ("batch", "list")):
        outputs = {lang: cli("--lang", lang, *args, "--json") for lang in ("en", "nl", "fr")}
        assert {r.exit_code for r in outputs.values()} == {0}, args
        assert outputs["en"].stdout == outputs["nl"].stdout == outputs["fr"].stdout, args
        json.loads(outputs["en"].stdout)
    data = json.loads(cli("--lang", "nl", "show", tag, "--json").stdout)
    assert [e["action"] for e in data["events"]] == ["register", "media_added"]


# ---------------------------------------------------------------------------- help (built at import: subprocess)


def _help(tmp_path, *args, **env):
    r = subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], capture_output=True, text=True,
                       env=clean_env(tmp_path, **env), cwd=ROOT)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_help_in_dutch(tmp_path):
    out = _help(tmp_path, "--lang", "nl", "--help")
    assert "refurb: de werkbank van de digibank om toestellen op te knappen." in out
    assert "  donor            Schenkers: de bedrijven die toestellen geven." in out
    assert "  batch            Partijen: telkens één schenking of ophaling." in out
    assert "  --lang <str>     Taal: en, nl, fr (of REFURB_LANG)." in out
    assert "the digibank refurbishment workbench" not in out and "Donors: the companies" not in out


def test_help_language_from_environment_and_locale(tmp_path):
    english = _help(tmp_path, "--help")
    assert "Donors: the companies that give devices." in english
    assert "Schenkers:" in _help(tmp_path, "--help", REFURB_LANG="nl")
    assert "Schenkers:" in _help(tmp_path, "--help", LANG="nl_BE.UTF-8")
    assert "Donateurs : les entreprises qui donnent des appareils." in _help(tmp_path, "--lang", "fr", "--help")


def test_command_help_in_dutch_keeps_the_example_command(tmp_path):
    out = _help(tmp_path, "--lang", "nl", "allocate", "--help")
    assert "Zet een klaar toestel in de uitleenvoorraad van een digipunt" in out
    assert 'Voorbeeld: refurb allocate RB-000142-J --digipunt "Gent Zuid"' in out
    assert "--digipunt" in out and "De naam van het digipunt." in out
