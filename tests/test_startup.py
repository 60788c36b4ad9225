"""`refurb --help` stays fast: no heavy module is imported before a command actually runs.

Each check runs in a fresh interpreter, so nothing this test process imported can hide an import.
"""

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REFURB = Path(sys.executable).with_name("refurb")
HEAVY = ("sqlmodel", "sqlalchemy", "alembic", "psycopg", "reportlab", "cv2", "zxingcpp", "pyzbar", "barcode")
# refurb.cli renders help without rich (rich_markup_mode=None); rich is imported when output is rendered
LAZY = (*HEAVY, "rich")

# argv[1]: "cli.py" to run the checkout launcher, or "refurb.cli" to call the console script's main().
# Prints {"exit": code, "modules": [...]} on the last line of stderr.
PROBE = r"""
import json, runpy, sys
target, args = sys.argv[1], sys.argv[2:]
sys.argv = ["refurb", *args]
code = None
try:
    if target == "cli.py":
        runpy.run_path("cli.py", run_name="__main__")
    else:
        from refurb.cli import main
        main()
except SystemExit as exc:
    code = exc.code
sys.stdout.flush()
print(json.dumps({"exit": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def clean_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("REFURB_")}
    env.update(REFURB_HOME=str(tmp_path), REFURB_LANG="en")
    return env


def probe(tmp_path, target, *args):
    run = subprocess.run([sys.executable, "-c", PROBE, target, *args], cwd=ROOT, capture_output=True, text=True,
                         env=clean_env(tmp_path), timeout=60)
    *err, last = run.stderr.strip().splitlines()
    report = json.loads(last)
    return report["exit"], run.stdout + "\n".join(err), set(report["modules"])


def top_level(modules):
    return {m.split(".")[0] for m in modules}


@pytest.mark.parametrize(
    "target, args, shows",
    [
        ("cli.py", ["--help"], "refurb: the digibank refurbishment workbench."),
        ("refurb.cli", ["--help"], "refurb: the digibank refurbishment workbench."),
        ("cli.py", [], "refurb: the digibank refurbishment workbench."),
        ("refurb.cli", ["init", "--help"], "Example: refurb init --lead Sara"),
        ("cli.py", ["wipe", "record", "--help"], "--profile"),
    ],
)
def test_help_imports_nothing_heavy(tmp_path, target, args, shows):
    code, shown, modules = probe(tmp_path, target, *args)
    assert code == (2 if args == [] else 0)  # bare `refurb` shows the help as a usage error
    assert shows in shown
    assert "refurb.cli" in modules  # the probe really loaded the app
    assert sorted(top_level(modules) & set(LAZY)) == []


def test_every_commands_help_imports_nothing_heavy(tmp_path):
    """All command paths of the app, each --help checked for new heavy imports right after it ran."""
    script = r"""
import json, sys
from typer.main import get_command
from refurb.cli import app

LAZY = set(sys.argv[1].split(","))
root = get_command(app)

def paths(group, prefix=()):
    for name, cmd in sorted(getattr(group, "commands", {}).items()):
        yield prefix + (name,)
        yield from paths(cmd, prefix + (name,))

found = {}
for path in paths(root):
    try:
        root.main([*path, "--help"], prog_name="refurb", standalone_mode=True)
    except SystemExit as exc:
        assert exc.code == 0, (path, exc.code)
    heavy = sorted({m.split(".")[0] for m in sys.modules} & LAZY)
    found[" ".join(path)] = heavy
print(json.dumps(found), file=sys.stderr)
"""
    run = subprocess.run([sys.executable, "-c", script, ",".join(LAZY)], cwd=ROOT, capture_output=True, text=True,
                         env=clean_env(tmp_path), timeout=120)
    found = json.loads(run.stderr.strip().splitlines()[-1])
    assert {"init", "show", "wipe record", "loan out", "audit verify", "db backup"} <= set(found)
    assert {path: heavy for path, heavy in found.items() if heavy} == {}


def test_console_script_help_imports_nothing_heavy(tmp_path):
    """The installed `refurb` script itself, observed through Python's import-time log."""
    env = clean_env(tmp_path) | {"PYTHONPROFILEIMPORTTIME": "1"}
    run = subprocess.run([str(REFURB), "--help"], capture_output=True, text=True, env=env, timeout=60)
    assert run.returncode == 0
    assert "Usage: refurb" in run.stdout
    imported = {line.rsplit("|", 1)[1].strip() for line in run.stderr.splitlines() if line.startswith("import time:")}
    assert "refurb.cli" in imported
    assert sorted(top_level(imported) & set(LAZY)) == []


def test_a_command_that_runs_does_import_the_database_layer(tmp_path):
    """The probe can see heavy imports: `refurb init` loads SQLAlchemy, SQLModel and Alembic."""
    code, shown, modules = probe(tmp_path, "refurb.cli", "--db", str(tmp_path / "x.db"), "init")
    assert code in (0, None) and "created (schema" in shown
    assert {"sqlalchemy", "sqlmodel", "alembic"} <= top_level(modules)


def test_ruff_bans_heavy_modules_at_module_level():
    with open(ROOT / "pyproject.toml", "rb") as f:
        lint = tomllib.load(f)["tool"]["ruff"]["lint"]
    assert "TID" in lint["select"] or "TID253" in lint["select"]
    banned = set(lint["flake8-tidy-imports"]["banned-module-level-imports"])
    assert set(HEAVY) <= banned
    # the modules on the --help path are not exempt from the rule
    exempt = set(lint.get("per-file-ignores", {}))
    assert {"cli.py", "refurb/cli.py", "refurb/config.py", "refurb/errors.py", "refurb/states.py",
            "refurb/i18n.py"}.isdisjoint(exempt)


def test_ruff_finds_no_module_level_heavy_import():
    ruff = Path(sys.executable).with_name("ruff")
    if not ruff.exists():
        pytest.skip("ruff is not installed in this environment (pip install -e .[dev])")
    run = subprocess.run([str(ruff), "check", "--no-cache", "--select", "TID253", "."], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert (run.returncode, run.stderr) == (0, ""), run.stdout
