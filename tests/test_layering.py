"""The architecture, checked on the source: each module imports only the layers beneath it.

The domain never imports the terminal (typer, rich, refurb.cli, refurb.console); errors.py imports
nothing; console.py is the only home of rich; nothing but the CLI ends the process.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "refurb"

# A module may import refurb modules of a lower layer only.  A new module gets a place here.
LAYERS = {
    "errors": 0, "i18n": 0,
    "states": 1, "tags": 1, "scanning": 1, "cards": 4, "decoding": 1,
    "config": 2, "catalog": 2, "lifecycle": 2, "models": 2, "db": 2,
    "services": 3,
    "reports": 4, "certificate": 3, "wiperun": 2, "pdfdoc": 2, "exports": 4, "manifest": 2, "manifests": 4,
    "labels": 3, "printing": 2, "stats": 4, "report_pdf": 3, "agreement": 3, "pins": 1,
    "console": 4, "station": 4,
    "demo": 5,
    "cli": 6,
}
DOMAIN = ("errors", "states", "tags", "lifecycle", "catalog", "config", "models", "db", "services", "i18n",
          "scanning", "cards", "station", "reports", "certificate", "wiperun", "pdfdoc", "exports",
          "manifest", "manifests", "labels", "printing", "stats", "report_pdf", "agreement", "pins")
TERMINAL = {"typer", "rich", "click", "refurb.cli", "refurb.console"}
EXITS = {"sys.exit", "exit", "quit", "os._exit", "os.abort"}


def source_files():
    files = sorted(PACKAGE.rglob("*.py")) + [ROOT / "cli.py"]
    assert len(files) > 10
    return files


def module_name(path):
    rel = path.relative_to(ROOT).with_suffix("")
    return ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)


def imports(path):
    """Every module a file imports, anywhere in it (also inside functions), as absolute names.

    `from . import db` gives refurb.db; `from .errors import X` gives refurb.errors."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module_name(path).rpartition(".")[0] if path.name != "__init__.py" else module_name(path)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(base + ([node.module] if node.module else []))
            else:
                base = node.module
            found.add(base)
            # `from . import db` / `from refurb import console` import submodules
            found.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return found


def refurb_modules(names):
    """refurb.x.y -> x, for modules that exist in the package."""
    out = set()
    for name in names:
        parts = name.split(".")
        if parts[0] == "refurb" and len(parts) > 1 and (PACKAGE / f"{parts[1]}.py").exists():
            out.add(parts[1])
    return out


def top_level_modules():
    return sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")


def test_the_import_reader_sees_relative_and_nested_imports():
    found = imports(PACKAGE / "cli.py")
    assert {"typer", "refurb.errors", "refurb.services", "refurb.console"} <= found  # `from . import services` in a function
    assert refurb_modules({"refurb.console", "refurb.errors.X", "refurb", "typer"}) == {"console", "errors"}


def test_every_module_has_a_layer():
    assert sorted(set(top_level_modules()) - set(LAYERS)) == [], "give the new module a place in LAYERS"


@pytest.mark.parametrize("name", top_level_modules())
def test_a_module_imports_only_lower_layers(name):
    used = refurb_modules(imports(PACKAGE / f"{name}.py")) - {name}
    upward = sorted(m for m in used if LAYERS.get(m, 99) >= LAYERS.get(name, -1))
    assert upward == [], f"refurb/{name}.py imports {upward} from its own layer or above"


@pytest.mark.parametrize("name", DOMAIN)
def test_the_domain_never_imports_the_terminal(name):
    found = imports(PACKAGE / f"{name}.py")
    hits = sorted(m for m in found if any(m == t or m.startswith(t + ".") for t in TERMINAL))
    assert hits == []


def test_errors_imports_nothing():
    tree = ast.parse((PACKAGE / "errors.py").read_text(encoding="utf-8"))
    assert [ast.unparse(n) for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)] == []


def test_only_console_imports_rich():
    users = sorted(
        str(p.relative_to(ROOT)) for p in source_files()
        if any(m == "rich" or m.startswith("rich.") for m in imports(p))
    )
    assert users == ["refurb/console.py"]


def test_migrations_do_not_import_the_models():
    """A migration is frozen history: it must not change meaning when models.py changes."""
    for path in sorted((PACKAGE / "migrations" / "versions").glob("*.py")):
        assert {m for m in imports(path) if m.startswith("refurb")} == set(), path.name


def _exits(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    hits = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and ast.unparse(node.func) in EXITS:
            hits.append((node.lineno, f"{ast.unparse(node.func)}()"))
        elif isinstance(node, ast.Raise) and node.exc is not None:
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if ast.unparse(exc) in ("SystemExit", "typer.Exit", "typer.Abort"):
                hits.append((node.lineno, f"raise {ast.unparse(exc)}"))
        elif isinstance(node, ast.ImportFrom) and node.module in ("sys", "os"):
            hits += [(node.lineno, f"from {node.module} import {a.name}")
                     for a in node.names if a.name in ("exit", "_exit", "abort")]
    return [f"{path.name}:{line} {what}" for line, what in sorted(hits)]


def test_the_exit_finder_finds_exits(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import sys\nfrom os import _exit\ndef f():\n    sys.exit(3)\n    raise SystemExit(2)\n")
    assert _exits(probe) == ["probe.py:2 from os import _exit", "probe.py:4 sys.exit()", "probe.py:5 raise SystemExit"]
    assert any("raise typer.Exit" in h for h in _exits(PACKAGE / "cli.py"))  # where exits do belong


def test_nothing_but_the_cli_ends_the_process():
    hits = [h for p in source_files() if p != PACKAGE / "cli.py" for h in _exits(p)]
    assert hits == []


def test_importing_the_domain_loads_no_terminal_library():
    """Transitively too: a script using refurb as a library does not pay for typer or rich."""
    code = (
        "import sys\n"
        + "".join(f"import refurb.{m}\n" for m in DOMAIN)
        + "print(sorted({m.split('.')[0] for m in sys.modules} & {'typer', 'rich', 'click'}))\n"
        + "print(sorted(m for m in sys.modules if m in ('refurb.cli', 'refurb.console')))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert (run.returncode, run.stderr) == (0, "")
    assert run.stdout == "[]\n[]\n"


def test_the_evidence_parsers_use_the_bottom_layer_and_the_stdlib_only():
    """Parsers read other tools' files: no database, no terminal, nothing to install."""
    import sys

    allowed = ("refurb.i18n", "refurb.errors", "refurb.evidence")
    files = sorted((PACKAGE / "evidence").glob("*.py"))
    assert files
    for path in files:
        for m in imports(path):
            if m.startswith("refurb"):
                assert m.startswith(allowed), f"{path.name} imports {m}"
            else:
                assert m.split(".")[0] in sys.stdlib_module_names, f"{path.name} imports {m}"
