"""Settings: command-line option > REFURB_* environment > config file > default, and strict config files."""

import json
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from refurb import config, db
from refurb.cli import app
from refurb.errors import InvalidConfig
from refurb.states import LEVELS, MEDIA_TYPES

# key -> (config file value, environment value, option value)
LAYERED = {
    "database_url": ("sqlite:////srv/file.db", "sqlite:////srv/env.db", "sqlite:////srv/option.db"),
    "operator": ("Fien", "Bram", "Sara"),
    "station": ("bench-file", "bench-env", "bench-option"),
    "tag_prefix": ("FI", "EN", "OP"),
    "lang": ("fr", "nl", "en"),
    "profiles_dir": ("/srv/profiles-file", "/srv/profiles-env", "/srv/profiles-option"),
}


@pytest.fixture
def run(home, monkeypatch, tmp_path):
    """The CLI in tmp_path as working directory: run(*args) -> Result."""
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    yield lambda *args: runner.invoke(app, [str(a) for a in args], prog_name="refurb")
    db.dispose_all()


def write(path, text):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def toml_line(key, value):
    return f'{key} = "{value}"\n'


def invalid(path):
    with pytest.raises(InvalidConfig) as caught:
        config.load({"REFURB_HOME": str(path.parent)}, config_file=path)
    err = caught.value
    assert (err.exit_code, err.code) == (5, "invalid-config")
    assert err.message.startswith(f"{path}: ")
    assert "\n" not in err.message and err.hint
    return err


# ---------------------------------------------------------------------------------------------- precedence


def test_defaults(tmp_path):
    s = config.load({"REFURB_HOME": str(tmp_path)})
    assert s.home == tmp_path
    assert s.config_file == tmp_path / "config.toml"
    assert s.database_url == f"sqlite:///{tmp_path}/refurb.db"
    assert (s.operator, s.lang, s.profiles_dir, s.tag_prefix) == (None, None, None, "RB")
    assert s.station == socket.gethostname()
    assert s.min_level == {m: "clear" for m in MEDIA_TYPES}
    assert s.battery_min_health is None


@pytest.mark.parametrize("key", sorted(LAYERED))
def test_option_beats_environment_beats_file_beats_default(tmp_path, key):
    in_file, in_env, in_option = LAYERED[key]
    default = getattr(config.load({"REFURB_HOME": str(tmp_path)}), key)
    assert default not in (in_file, in_env, in_option)
    write(tmp_path / "config.toml", toml_line(key, in_file))
    home = {"REFURB_HOME": str(tmp_path)}
    env = {**home, config.ENV[key]: in_env}

    assert getattr(config.load(home), key) == in_file
    assert getattr(config.load(env), key) == in_env
    assert getattr(config.load(env).with_options(**{key: in_option}), key) == in_option
    assert getattr(config.load(env).with_options(**{key: None}), key) == in_env  # an option not given
    assert getattr(config.load({**home, config.ENV[key]: ""}), key) == in_file  # an empty variable is unset


def test_every_setting_has_an_environment_variable():
    assert set(config.ENV) == set(config.KEYS) - set(config.TABLES)
    assert all(var == "REFURB_" + key.upper() for key, var in config.ENV.items())


def test_refurb_home_moves_config_and_database(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    write(a / "config.toml", toml_line("operator", "Fien"))
    s = config.load({"REFURB_HOME": str(a)})
    assert (s.config_file, s.database_url, s.operator) == (a / "config.toml", f"sqlite:///{a}/refurb.db", "Fien")
    s = config.load({"REFURB_HOME": str(b)})
    assert (s.config_file, s.database_url, s.operator) == (b / "config.toml", f"sqlite:///{b}/refurb.db", None)


def test_without_refurb_home_the_xdg_data_folder_is_used(tmp_path, monkeypatch):
    s = config.load({"XDG_DATA_HOME": str(tmp_path / "xdg")})
    assert s.home == tmp_path / "xdg" / "refurb"
    assert s.database_url == f"sqlite:///{tmp_path}/xdg/refurb/refurb.db"
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert config.load({}).home == tmp_path / "user" / ".local" / "share" / "refurb"


def test_config_file_option_beats_refurb_config_beats_home(tmp_path):
    for name in ("home", "env", "option"):
        write(tmp_path / name / "config.toml", toml_line("station", name))
    env = {"REFURB_HOME": str(tmp_path / "home")}
    assert config.load(env).station == "home"
    env["REFURB_CONFIG"] = str(tmp_path / "env" / "config.toml")
    assert config.load(env).station == "env"
    assert config.load(env, config_file=tmp_path / "option" / "config.toml").station == "option"


def test_report_and_retention_settings_from_the_config_file(tmp_path):
    path = write(tmp_path / "config.toml", '[policy]\nretention_personal_days = 365\n'
                 '[report]\nco2e_kg_per_device = 180.5\nco2e_source = "our own study"\n')
    s = config.load({"REFURB_HOME": str(tmp_path)}, config_file=path)
    assert (s.retention_personal_days, s.retention_loans_days) == (365, 90)
    assert (s.co2e_kg_per_device, s.co2e_source) == (180.5, "our own study")
    assert config.load({"REFURB_HOME": str(tmp_path / "none")}).co2e_kg_per_device == 214


def test_policy_from_the_config_file(tmp_path):
    path = write(tmp_path / "config.toml", '[policy]\nbattery_min_health = 70\n[policy.min_level]\nnvme = "purge"\n')
    s = config.load({"REFURB_HOME": str(tmp_path)}, config_file=path)
    assert s.min_level == {m: ("purge" if m == "nvme" else "clear") for m in MEDIA_TYPES}
    assert s.battery_min_health == 70


def test_a_missing_default_config_file_is_fine(tmp_path):
    assert config.read_config_file(tmp_path / "nothing-here.toml") == {}


# ---------------------------------------------------------------------------------------------- bad files


@pytest.mark.parametrize(
    "text, says",
    [
        ('tag_prefx = "X"\n', "unknown key 'tag_prefx'"),
        ('[policy]\nbattery_min = 70\n', "unknown key 'policy.battery_min'"),
        ('tag_prefix = 3\n', "tag_prefix has the wrong type"),
        ('[policy]\nbattery_min_health = true\n', "policy.battery_min_health has the wrong type"),
        ('policy = "strict"\n', "policy has the wrong type"),
        ('[report]\nco2e_kg = 1\n', "unknown key 'report.co2e_kg'"),
        ('[report]\nco2e_source = 5\n', "report.co2e_source has the wrong type"),
        ('[policy.min_level]\nnvme = "purgee"\n', "policy.min_level.nvme: 'purgee' is not one of clear, purge, destroy"),
        ('[policy.min_level]\nfloppy = "clear"\n', "policy.min_level.floppy: unknown media type"),
        ('operator = "Sara"\noperator = "Bram"\n', "not valid TOML"),
        ("lang = \n", "not valid TOML"),
    ],
)
def test_a_bad_config_file_names_the_file_and_the_key(tmp_path, text, says):
    err = invalid(write(tmp_path / "config.toml", text))
    assert says in err.message


def test_known_keys_are_listed_in_the_hint(tmp_path):
    err = invalid(write(tmp_path / "config.toml", 'databse_url = "x"\n'))
    assert all(key in err.hint for key in config.KEYS)


def test_a_config_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "config.toml"
    path.write_bytes('station = "bänk"\n'.encode("latin-1"))
    assert "not valid TOML" in invalid(path).message


def test_a_config_path_that_is_a_folder(tmp_path):
    folder = tmp_path / "config.toml"
    folder.mkdir()
    assert "cannot read" in invalid(folder).message


def test_every_level_and_media_type_is_accepted(tmp_path):
    for level in LEVELS:
        text = "[policy.min_level]\n" + "".join(f'{m} = "{level}"\n' for m in MEDIA_TYPES)
        s = config.load({"REFURB_HOME": str(tmp_path)}, config_file=write(tmp_path / "c.toml", text))
        assert s.min_level == {m: level for m in MEDIA_TYPES}


# ---------------------------------------------------------------------------------------------- the CLI


def test_cli_bad_config_option_exits_5_naming_the_file(run, tmp_path):
    write(tmp_path / "bad.toml", 'tag_prefx = "X"\n')
    r = run("--config", "bad.toml", "list")
    assert r.exit_code == 5
    assert r.stdout == ""
    assert r.stderr == (
        "error: invalid-config\n"
        "× bad.toml: unknown key 'tag_prefx'\n"
        "hint: known keys: database_url, lang, operator, station, tag_prefix, profiles_dir, organisation, organisation_address, labels_dir, label_template, printer, policy, report\n"
    )


@pytest.mark.parametrize("text", ["lang = \n", '[policy.min_level]\nnvme = "purgee"\n'])
def test_cli_bad_config_in_refurb_config_or_home_exits_5(run, home, tmp_path, monkeypatch, text):
    bad = write(tmp_path / "elsewhere" / "refurb.toml", text)
    monkeypatch.setenv("REFURB_CONFIG", str(bad))
    r = run("init")
    assert (r.exit_code, r.stdout) == (5, "")
    assert r.stderr.startswith(f"error: invalid-config\n× {bad}: ")
    assert "Traceback" not in r.stderr
    assert isinstance(r.exception, SystemExit)  # a clean exit, not an exception escaping

    monkeypatch.delenv("REFURB_CONFIG")
    write(home / "config.toml", text)
    r = run("list", "--json")
    assert r.exit_code == 5
    assert r.stderr.startswith(f"error: invalid-config\n× {home / 'config.toml'}: ")
    assert not (home / "refurb.db").exists()


def test_cli_help_works_with_a_broken_config_file(run, home):
    write(home / "config.toml", "lang = \n")
    r = run("--help")
    assert r.exit_code == 0
    assert "Usage: refurb" in r.stdout


def test_cli_config_option_naming_a_missing_file_is_an_error(run, tmp_path):
    r = run("--config", "typo.toml", "--db", tmp_path / "x.db", "init")
    assert r.exit_code == 5
    assert "typo.toml" in r.stderr


def test_cli_db_option_takes_a_bare_relative_path(run, tmp_path):
    r = run("--db", "data/site/workbench.db", "init", "--lead", "Sara")
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "data" / "site" / "workbench.db").is_file()
    # a relative path is made absolute, so the message says which file it really is
    assert r.stdout.startswith(f"✔ database sqlite:///{tmp_path}/data/site/workbench.db created (schema ")
    r = run("--db", "data/site/workbench.db", "donor", "add", "Acme NV", "--operator", "Sara")
    assert r.exit_code == 0, r.stderr
    r = run("--db", "data/site/workbench.db", "donor", "list", "--json")
    assert '"name": "Acme NV"' in r.stdout


def test_cli_db_option_takes_a_home_relative_path(run, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    r = run("--db", "~/refurb/w.db", "init")
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "user" / "refurb" / "w.db").is_file()


def test_cli_database_precedence(run, tmp_path, home, monkeypatch):
    """--db > REFURB_DATABASE_URL > database_url in the config file > REFURB_HOME/refurb.db."""
    write(home / "config.toml", toml_line("database_url", tmp_path / "file.db"))
    assert run("init", "--json").exit_code == 0
    monkeypatch.setenv("REFURB_DATABASE_URL", str(tmp_path / "env.db"))
    assert run("init", "--json").exit_code == 0
    assert run("--db", tmp_path / "option.db", "init", "--json").exit_code == 0
    assert sorted(p.name for p in tmp_path.glob("*.db")) == ["env.db", "file.db", "option.db"]
    assert not (home / "refurb.db").exists()
    (home / "config.toml").unlink()
    monkeypatch.delenv("REFURB_DATABASE_URL")
    assert run("init", "--json").exit_code == 0
    assert (home / "refurb.db").is_file()


def test_cli_operator_from_the_config_file_is_used_for_writes(run, tmp_path, home, monkeypatch):
    write(home / "config.toml", toml_line("operator", "Fien") + toml_line("station", "bench-9"))
    assert run("init", "--lead", "Sara").exit_code == 0
    assert run("donor", "add", "Acme NV").exit_code == 0  # no --operator: Fien, from the file
    monkeypatch.setenv("REFURB_OPERATOR", "Bram")
    assert run("donor", "add", "Beta BV").exit_code == 0  # the environment beats the file
    assert run("donor", "add", "Gamma", "--operator", "Jo").exit_code == 0  # the option beats both
    r = run("operator", "list", "--json")
    assert {o["name"]: o["role"] for o in json.loads(r.stdout)} == {
        "Sara": "lead", "Fien": "volunteer", "Bram": "volunteer", "Jo": "volunteer"}


def test_cli_refuses_to_write_without_an_operator(run, home):
    assert run("init").exit_code == 0
    r = run("donor", "add", "Acme NV")
    assert r.exit_code == 2
    assert r.stderr == (
        "error: no-operator\n"
        "× no operator: every change records who made it\n"
        "hint: give --operator NAME or set REFURB_OPERATOR\n"
    )
