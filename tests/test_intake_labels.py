"""Intake prints each new device's label at once (issue 6 item 3), on a real cups-pdf queue, and the
labels module prints real devices from the database (issue 6: --pending, --skip, placeholders)."""

import json

import pytest
from test_printing import QUEUE, codes, cups_pdf, rasterise, wait_for_pdf  # noqa: F401  (cups_pdf: a fixture)

from refurb import reports, services


@pytest.fixture
def batch(ctx):
    services.add_donor(ctx, "Acme NV")
    services.add_batch(ctx, "Acme NV", "B1")
    return "B1"


def test_intake_add_and_the_intake_station_print_each_new_label(cli, ctx, batch, home, cups_pdf):  # noqa: F811
    (home / "config.toml").write_text(f'label_template = "brother-dk11209"\nprinter = "{QUEUE}"\n')
    r = cli("intake", "add", "--batch", batch, "--serial", "PF1ABC23", "--model", "T480", "--print-label", "--json")
    assert r.exit_code == 0, r.output
    tag = json.loads(r.stdout)["tag"]
    printed = wait_for_pdf(cups_pdf, tag)
    try:
        [(_size, image)] = rasterise(printed, 300)
        assert (tag, "Code 128") in codes(image)
    finally:
        printed.unlink()
    expected = services.expect_device(ctx, batch, "laptop", serial="5CG81234KL")["tag"]
    r = cli("station", "intake", "--print-labels", "--json", input="5CG81234KL\n5CG81234KL\n")
    assert r.exit_code == 0, r.output
    printed = wait_for_pdf(cups_pdf, expected)
    try:
        assert (expected, "QR Code") in codes(rasterise(printed, 300)[0][1])
    finally:
        printed.unlink()
    # each device's label went out once: the repeated scan printed nothing more
    assert reports.label_records(ctx, pending=True) == []


def test_print_label_without_a_printer_refuses_before_registering(cli, ctx, batch):
    r = cli("intake", "add", "--batch", batch, "--serial", "PF1ABC23", "--print-label")
    assert r.exit_code == 2 and "label_template and printer" in r.stderr
    assert services.list_devices(ctx) == []


def test_labels_print_pending_then_nothing_left(cli, ctx, batch, tmp_path):
    tags = [services.register_device(ctx, batch, "laptop", "HP", "ProBook", f"SN{i}")["tag"] for i in range(5)]
    out = tmp_path / "labels.pdf"
    r = cli("labels", "print", "--pending", "--template", "avery-l7160", "--skip", "4", "--out", out, "--json")
    assert r.exit_code == 0, r.output
    assert (json.loads(r.stdout)["labels"], json.loads(r.stdout)["devices"]) == (5, 5)
    [(_size, page)] = rasterise(out, 300)
    found = sorted(t for t, fmt in codes(page) if fmt == "Code 128")
    assert found == sorted(tags)
    again = cli("labels", "print", "--pending", "--template", "avery-l7160", "--out", tmp_path / "b.pdf", "--json")
    assert json.loads(again.stdout)["labels"] == 0 and not (tmp_path / "b.pdf").exists()
    assert cli("labels", "print", "--template", "avery-l7160", "--out", out).exit_code == 2  # which devices?
    assert cli("labels", "print", tags[0], "--template", "nope", "--out", out).exit_code == 3
    assert services.verify_audit(ctx).ok
