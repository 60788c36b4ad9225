"""`refurb intake manifest` through the CLI: the JSON summary, the refusal, the error file (issue 5 item 1)."""

import json

import pytest

from refurb import services

CSV = ("Serienummer;Merk;Model;E-mail;Type\r\n"
       "PF1ABC23;Lenovo;ThinkPad T480;jan@acme.be;laptop\r\n"
       "5CG81234KL;HP;EliteBook 840 G5;an@acme.be;laptop\r\n"
       "6.37702E+15;Dell;Latitude 5490;x@acme.be;laptop\r\n")


@pytest.fixture
def manifest(ctx, tmp_path):
    services.add_donor(ctx, "Acme NV")
    services.add_batch(ctx, "Acme NV", "B1")
    path = tmp_path / "acme.csv"
    path.write_bytes(b"\xef\xbb\xbf" + CSV.encode("utf-8"))
    return path


def test_invalid_rows_refuse_the_import_and_are_written_out(cli, ctx, manifest, tmp_path):
    errors = tmp_path / "fouten.csv"
    r = cli("intake", "manifest", manifest, "--batch", "B1", "--errors", errors)
    assert r.exit_code == 2 and "nothing was imported" in r.stderr and "row 4" in r.stderr
    assert "6.37702E+15" in errors.read_text(encoding="utf-8-sig")
    assert services.list_devices(ctx) == []


def test_the_summary_and_a_second_import_that_changes_nothing(cli, ctx, manifest):
    r = cli("intake", "manifest", manifest, "--batch", "B1", "--skip-invalid", "--dry-run", "--json")
    assert r.exit_code == 0, r.output
    assert services.list_devices(ctx) == []
    r = cli("intake", "manifest", manifest, "--batch", "B1", "--skip-invalid", "--json")
    out = json.loads(r.stdout)
    assert {k: out[k] for k in ("rows", "imported", "updated", "unchanged", "invalid")} == {
        "rows": 3, "imported": 2, "updated": 0, "unchanged": 0, "invalid": 1}
    assert out["dropped_columns"] == ["E-mail"] and out["delimiter"] == ";"
    assert sorted(d["state"] for d in services.list_devices(ctx)) == ["expected", "expected"]
    again = json.loads(cli("intake", "manifest", manifest, "--batch", "B1", "--skip-invalid", "--json").stdout)
    assert (again["imported"], again["unchanged"]) == (0, 2)
    assert "jan@acme.be" not in json.dumps(services.show(ctx, "PF1ABC23"))
    assert services.verify_audit(ctx).ok
