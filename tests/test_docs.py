"""The README tells the truth: every command documented with an example, the generated reference and
lifecycle table current, the walkthrough's output real, every exit code, setting and make target
that exists described.

The help texts are read in a subprocess (scripts/gen_reference.py --json) so that they are the
English ones whatever language this test process imported refurb.cli in.
"""

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SCRIPT = ROOT / "scripts" / "gen_reference.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("gen_reference", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = _load_script()


def _env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("REFURB_")}
    env["REFURB_LANG"] = "en"
    return env


def _script(*args, readme=None):
    extra = ["--readme", str(readme)] if readme else []
    return subprocess.run([sys.executable, str(SCRIPT), *args, *extra], capture_output=True, text=True,
                          env=_env(), cwd=ROOT, timeout=120)


@pytest.fixture(scope="module")
def commands():
    run = _script("--json")
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


@pytest.fixture(scope="module")
def readme():
    return README.read_text(encoding="utf-8")


def _section(text, heading):
    """The text under a `## heading` up to the next `## `."""
    m = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert m, f"README.md has no section '## {heading}'"
    return m.group(1)


# ---------------------------------------------------------------------------- commands


def test_the_tree_holds_every_command(commands):
    paths = [c["command"] for c in commands]
    # spot checks that the walk reaches the root, top-level commands, groups and subcommands
    for path in ("refurb", "refurb init", "refurb show", "refurb wipe", "refurb wipe record", "refurb loan return",
                 "refurb audit verify", "refurb db backup"):
        assert path in paths
    assert len(paths) == len(set(paths))


def test_every_command_has_help_with_an_example(commands):
    leaves = [c for c in commands if not c["group"]]
    assert len(leaves) >= 30
    missing = [c["command"] for c in leaves if "Example:" not in c["help"]]
    assert missing == [], "commands whose --help has no 'Example:'"
    # an example shows the command it belongs to
    wrong = [c["command"] for c in leaves
             if c["command"] not in c["help"].split("Example:", 1)[1].replace("\n", " ")]
    assert wrong == [], "commands whose example does not run the command itself"


TAG_IN_TEXT = re.compile(r"\b[A-Z]{1,6}-\d{4,9}-[0-9A-Z]\b")


def _bad_example_tags(text):
    from refurb import tags

    bad = []
    for tag in TAG_IN_TEXT.findall(text):
        try:
            tags.parse(tag)
        except tags.CheckMismatch:
            bad.append(tag)
    return bad


def test_asset_tags_in_help_examples_are_valid(commands):
    """An example a volunteer copies must not be a misread."""
    bad = {c["command"]: _bad_example_tags(c["help"]) for c in commands}
    assert {k: v for k, v in bad.items() if v} == {}


def test_asset_tags_in_the_readme_are_valid(readme):
    prose = readme.replace(gen.section(readme, "reference"), "")
    assert _bad_example_tags(prose.replace("RB-000001-1", "")) == []  # the walkthrough's deliberate misread


def test_every_group_has_help(commands):
    groups = [c for c in commands if c["group"]]
    assert [c["command"] for c in groups if not c["help"].strip()] == []


def test_every_command_has_a_section_in_the_reference(commands, readme):
    reference = gen.section(readme, "reference")
    assert reference is not None
    for c in commands:
        assert f"### `{c['command']}`" in reference, c["command"]
        assert c["usage"] in reference, c["command"]


def test_reference_and_lifecycle_table_are_current():
    run = _script("--check")
    assert run.returncode == 0, run.stderr + "\nrun: python scripts/gen_reference.py"


def test_check_notices_a_stale_reference(tmp_path, readme):
    stale = tmp_path / "README.md"
    stale.write_text(readme.replace("### `refurb audit verify`", "### `refurb audit check`"), encoding="utf-8")
    run = _script("--check", readme=stale)
    assert run.returncode == 1
    assert "stale section(s): reference" in run.stderr
    assert stale.read_text(encoding="utf-8") != readme  # --check writes nothing

    run = _script(readme=stale)  # without --check it repairs the section
    assert run.returncode == 0, run.stderr
    assert stale.read_text(encoding="utf-8") == readme


def test_lifecycle_table_has_every_transition(readme):
    from typer.testing import CliRunner

    from refurb.cli import app

    rows = json.loads(CliRunner().invoke(app, ["lifecycle", "--json"]).stdout)
    table = gen.section(readme, "lifecycle")
    lines = [line for line in table.splitlines() if line.startswith("| `")]
    assert len(lines) == len(rows)
    for line, row in zip(lines, rows, strict=True):
        assert line.startswith(f"| `{row['action']}` |") and f"**{row['to']}**" in line
        for guard in row["guards"]:
            assert f"`{guard}`" + ("" if guard in row["forceable"] else " †") in line


# ---------------------------------------------------------------------------- the walkthrough


def test_walkthrough_output_is_what_the_commands_print(readme, tmp_path):
    blocks = gen.walkthrough_blocks(readme)
    steps = [step for _start, _end, block in blocks for step in block]
    assert len(steps) >= 15
    outputs = gen.run_walkthrough([cmd for cmd, _expected in steps], tmp_path, in_process=True)
    for (cmd, expected), actual in zip(steps, outputs, strict=True):
        assert gen.normalise(actual) == gen.normalise(expected), (
            f"README walkthrough: `{cmd}` prints something else now; run: python scripts/gen_reference.py --walkthrough"
        )


def test_walkthrough_shows_the_lifecycle_at_work(readme):
    steps = [step for _s, _e, block in gen.walkthrough_blocks(readme) for step in block]
    text = "\n".join(f"$ {c}\n{o}" for c, o in steps)
    for needed in ("refurb intake add", "refurb wipe record", "refurb reimage", "refurb qc", "refurb allocate",
                   "refurb loan out", "refurb loan return", "refurb show", "refurb audit verify"):
        assert f"$ {needed}" in text
    assert "error: transition-refused" in text and "error: misread-tag" in text
    assert "$ echo $?\n4" in text and "$ echo $?\n3" in text


def test_normalise_masks_only_dates_and_times():
    assert gen.normalise("27/11 09:34  registered   \n") == "DD/MM HH:MM  registered"
    assert gen.normalise("due 2027-01-22 · on_loan") == "due YYYY-MM-DD · on_loan"
    assert gen.normalise("due 22/01/2027, out 27/11/2026 09:34") == "due DD/MM/YYYY, out DD/MM HH:MM"
    assert gen.normalise("batch ACME-2026-11 RB-000001-0") == "batch ACME-2026-11 RB-000001-0"


# ---------------------------------------------------------------------------- quick start, make targets


def test_quick_start_is_make_demo_and_make_test(readme):
    quick = _section(readme, "Quick start")
    assert "make demo" in quick and "make test" in quick
    assert "./demo/refurb.db" in quick
    for package in ("libzbar0", "postgresql-client", "python3-venv"):
        assert package in quick
        assert package in (ROOT / "scripts" / "system-deps.sh").read_text()


def test_every_make_target_in_the_readme_exists(readme):
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][\w-]*):", makefile, re.M))
    mentioned = set(re.findall(r"`make ([a-z][\w-]*)", readme)) | set(re.findall(r"^make ([a-z][\w-]*)", readme, re.M))
    assert {"demo", "test", "lint", "bench", "i18n"} <= mentioned
    assert mentioned - targets == set()


# ---------------------------------------------------------------------------- exit codes, errors, settings


def _error_classes():
    from refurb import errors

    found, todo = [], [errors.RefurbError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return [c for c in found if c.__module__ == errors.__name__]


def _exit_code_rows(readme):
    rows = {}
    for line in _section(readme, "Exit codes").splitlines():
        m = re.match(r"^\| (\d+) \| (.*)\|$", line)
        if m:
            rows[int(m.group(1))] = m.group(2)
    return rows


def test_every_exit_code_is_documented(readme):
    rows = _exit_code_rows(readme)
    codes = {cls.exit_code for cls in _error_classes()}
    assert {1, 2, 3, 4, 5, 6, 130} <= codes
    assert codes - rows.keys() == set()
    assert 0 in rows
    # and the table documents no code that does not exist
    assert rows.keys() - codes == {0}


def test_every_error_reference_is_in_its_exit_codes_row(readme):
    rows = _exit_code_rows(readme)
    for cls in _error_classes():
        assert f"`{cls.code}`" in rows[cls.exit_code], f"{cls.__name__} ({cls.code}, exit {cls.exit_code})"


def test_every_setting_is_documented(readme):
    from refurb import config

    section = _section(readme, "Configuration")
    for key in config.KEYS:
        assert f"{key} =" in section or f"[{key}]" in section, key
    for key in config.POLICY_KEYS:
        assert f"{key} =" in section, f"policy.{key}"
    for key in config.REPORT_KEYS:
        assert f"{key} =" in section, f"report.{key}"
    for var in [*config.ENV.values(), "REFURB_HOME", "REFURB_CONFIG"]:
        assert f"`{var}`" in section, var


def test_example_config_file_is_valid(readme, tmp_path):
    """The config file shown in the README is accepted as it stands."""
    from refurb import config

    block = re.search(r"```toml\n(.*?)```", _section(readme, "Configuration"), re.S).group(1)
    path = tmp_path / "config.toml"
    path.write_text(block, encoding="utf-8")
    data = config.read_config_file(path)
    assert set(data) == set(config.KEYS)
    assert set(data["policy"]) == set(config.POLICY_KEYS)
    assert set(data["report"]) == set(config.REPORT_KEYS)
    settings = config.load(environ={"REFURB_HOME": str(tmp_path)})
    assert settings.min_level["nvme"] == "purge"
    assert settings.battery_min_health == 60


def test_audit_verify_says_one_device_in_the_singular(cli):
    assert cli("donor", "add", "Acme NV").exit_code == 0
    assert cli("batch", "add", "--donor", "Acme NV", "--ref", "B1").exit_code == 0
    assert cli("intake", "add", "--batch", "B1", "--serial", "PF1ABC23").exit_code == 0
    r = cli("audit", "verify")
    assert r.exit_code == 0
    assert ", 1 device, " in r.stdout


def test_loan_out_shows_the_due_date_day_first(ctx, cli):
    from refurb import services

    services.add_donor(ctx, "Acme NV")
    services.add_batch(ctx, "Acme NV", "B1")
    tag = services.register_device(ctx, "B1", "laptop", "Lenovo", "T480", "PF1ABC23")["tag"]
    services.add_medium(ctx, tag, "nvme", "S3Z9NX0K", 512 * 10**9)
    services.record_wipe(ctx, tag, "S3Z9NX0K", "nvme-sanitize", "pass")
    services.reimage(ctx, tag, "linux-mint")
    services.record_qc(ctx, tag, True, {}, "B")
    services.add_digipunt(ctx, "Gent Zuid", 56)
    services.allocate(ctx, tag, "Gent Zuid")
    r = cli("loan", "out", tag, "--borrower", "GZ-0042", "--due", "2030-01-31")
    assert r.exit_code == 0, r.stderr
    assert "31/01/2030" in r.stdout


def test_skipped_tag_numbers_in_the_readme_are_real(readme):
    from refurb import tags

    section = _section(readme, "Asset tags")
    assert tags.make("RB", 9) in section and tags.make("RB", 11) in section
    assert not tags.is_issuable("RB", 10)
    assert tags.make("RB", 142) in section
