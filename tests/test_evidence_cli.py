"""`refurb evidence parse` over every shared evidence file: no database, no traceback, one object per file."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from refurb.cli import app

EXTERNAL = Path(__file__).resolve().parents[1].parent / "shared" / "external"
KINDS = ("lshw", "smartctl", "dmidecode", "upower", "ereuse-snapshots", "erasure")


def evidence_files():
    files = [p for k in KINDS for p in sorted((EXTERNAL / k).rglob("*")) if p.is_file() and p.name != "MANIFEST.md"]
    return files


def test_every_shared_file_is_read_without_a_database(tmp_path, monkeypatch):
    files = evidence_files()
    if not files:
        pytest.skip(f"{EXTERNAL} is not there")
    monkeypatch.setenv("REFURB_HOME", str(tmp_path))  # no database exists there, and none is needed
    r = CliRunner().invoke(app, ["evidence", "parse", "--json", *map(str, files)])
    assert "Traceback" not in r.stdout + r.stderr
    out = json.loads(r.stdout)
    assert [o["file"] for o in out] == [str(f) for f in files]
    kinds = {o.get("kind") for o in out}
    assert {"lshw", "smartctl", "dmidecode", "upower", "ereuse-snapshot", "nwipe-log"} <= kinds
    assert not (tmp_path / "refurb.db").exists()
    known = {o["file"]: o for o in out}
    nvme = known[str(next(f for f in files if "ZQMPKKX51K67R68VO2X9RNZL08JPL_snapshot.smartctl-0" in f.name))]
    assert nvme["media"][0]["serial"] == "S35ANX0J401001" and nvme["media"][0]["type"] == "nvme"
    assert r.exit_code == (1 if any("error" in o for o in out) else 0)


def test_a_file_of_no_known_kind_is_an_error_for_that_file_only(tmp_path, monkeypatch):
    files = evidence_files()
    if not files:
        pytest.skip(f"{EXTERNAL} is not there")
    junk = tmp_path / "notes.txt"
    junk.write_text("shopping list: milk, bread\n")
    smart = next(f for f in files if f.name.endswith("smartctl-0.json"))
    r = CliRunner().invoke(app, ["evidence", "parse", "--json", str(junk), str(smart)])
    out = json.loads(r.stdout)
    assert r.exit_code == 1
    assert out[0] == {"file": str(junk), "error": "not a kind of file refurb reads"}
    assert out[1]["kind"] == "smartctl" and out[1]["media"]


def test_parse_shows_the_machines_specs(tmp_path, monkeypatch):
    lshw = EXTERNAL / "lshw" / "devicehub-django" / "8ad8022b-e1d7-4c9a-bfad-e3677beb9f8d.lshw.json"
    if not lshw.exists():
        pytest.skip(f"{lshw} is not there")
    monkeypatch.setenv("REFURB_HOME", str(tmp_path))
    r = CliRunner().invoke(app, ["evidence", "parse", "--json", str(lshw)])
    assert r.exit_code == 0
    assert json.loads(r.stdout)[0]["specs"] == {
        "cpu": "Intel Core i3-7020U", "cpu_vendor": "intel", "cores": 2, "arch": "x86-64", "ram_gb": 8.0,
        "storage_gb": 240.1, "firmware": "uefi", "facts": {"x86-64": True, "uefi": True, "cpu-win11": False},
    }
