"""`refurb loan agreement`: the Dutch agreement, with a copy marked as a translation (issue 5 item 2)."""

import pytest

from refurb import services

pdfium = pytest.importorskip("pypdfium2")


def pages(path):
    doc = pdfium.PdfDocument(str(path))
    try:
        return [page.get_textpage().get_text_range() for page in doc]
    finally:
        doc.close()


@pytest.fixture
def lent(ctx):
    from test_lending import ready_device

    services.add_donor(ctx, "Acme NV")
    services.add_batch(ctx, "Acme NV", "B1")
    services.add_digipunt(ctx, "Gent Zuid", loan_days=28, max_extensions=2)
    tag = ready_device(ctx, "PF1ABC23")
    services.allocate(ctx, tag, "Gent Zuid")
    services.loan_out(ctx, tag, "GZ-0042", accessories=["charger", "bag"])
    return tag


def test_the_agreement_is_dutch_with_a_marked_french_copy(cli, ctx, lent, tmp_path):
    out = tmp_path / "agreement.pdf"
    r = cli("loan", "agreement", lent, "--translation", "fr", "--out", out)
    assert r.exit_code == 0, r.output
    dutch, *rest = pages(out)
    french = "\n".join(rest)
    due = services.show(ctx, lent)["loan"]["due"]
    day = f"{due[8:10]}/{due[5:7]}/{due[:4]}"
    for text in ("Uitleenovereenkomst", "GZ-0042", lent, "PF1ABC23", "Gent Zuid", "bag, charger", day,
                 "hoogstens 2 verlengingen"):
        assert text in dutch, text
    assert "Traduction" not in dutch
    for text in ("Contrat de prêt", "Traduction, à titre d'information : le texte néerlandais fait foi.",
                 "GZ-0042", f"{due[8:10]}/{due[5:7]}/{due[:4]}"):
        assert text in french, text


def test_no_agreement_without_a_loan(cli, ctx, lent, tmp_path):
    services.loan_return(ctx, lent, "ok")
    r = cli("loan", "agreement", lent, "--out", tmp_path / "x.pdf")
    assert r.exit_code == 3 and "not on loan" in r.stderr
    assert not (tmp_path / "x.pdf").exists()
    assert cli("loan", "agreement", lent, "--translation", "de", "--out", tmp_path / "x.pdf").exit_code == 2
