"""Printing for real: a cups-pdf queue, Brother QL raster read back by brother_ql's own reader, ZPL rendered by
an independent ZPL renderer (Zebrash, as the npm package zpl-renderer-js) — and every label decoded again.

CUPS: the tests start the scheduler and add a cups-pdf queue when needed.  Without CUPS installed (Debian
`cups printer-driver-cups-pdf`, see scripts/system-deps.sh) they are skipped, and in CI (CI=true) they fail.
The ZPL renderer is fetched from the npm registry once into ~/.cache; without node or npm that one test is
skipped (the ZPL is still parsed and its bitmaps decoded by the other tests).
"""

import os
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from refurb import labels, printing, tags
from refurb.errors import HardwareUnavailable, UsageProblem

QUEUE = "refurb-test-pdf"
ZPL_RENDERER = "zpl-renderer-js@3.4.0"


def device_records(count, first=700):
    records, number = [], first
    for i in range(count):
        number = tags.next_number("RB", number)
        records.append({"tag": tags.make("RB", number), "serial": f"SN{number:07d}", "make": "HP",
                        "model": f"EliteBook 84{i}", "ram_gb": 16, "storage_gb": 512, "org": "Digibank Gent",
                        "part": "battery"})
        number += 1
    return records


def codes(image):
    """Sorted (text, format) read by zxing-cpp from a Pillow image or numpy array."""
    import numpy as np
    import zxingcpp

    array = np.asarray(image.convert("L")) if hasattr(image, "convert") else image
    return sorted((r.text, str(r.format)) for r in zxingcpp.read_barcodes(array))


def rasterise(pdf_path, dpi):
    import numpy as np
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(pdf_path)
    try:
        return [(page.get_size(), np.asarray(page.render(scale=dpi / 72).to_pil().convert("L"))) for page in pdf]
    finally:
        pdf.close()


# ---------------------------------------------------------------------------------------------------------
# ZPL


def parse_zpl(text):
    """Each ^XA…^XZ label as {"width", "height", "copies", "bitmap"} (numpy bool, True: a printed dot),
    checking the structure on the way: every command known, ^GF's byte counts consistent."""
    import numpy as np

    found = []
    for body in re.findall(r"\^XA\n(.*?)\^XZ\n", text, re.S):
        commands = re.findall(r"\^([A-Z]{2})([^^]*)", body)
        assert [c for c, _ in commands] == ["PW", "LL", "LH", "FO", "GF", "FS", "PQ"], commands
        args = {c: a.strip() for c, a in commands}
        width, height = int(args["PW"]), int(args["LL"])
        assert args["LH"] == "0,0" and args["FO"] == "0,0"
        kind, total, field, per_row, data = args["GF"].split(",", 4)
        assert kind == "A" and total == field and int(total) == int(per_row) * height
        rows, previous = [], None
        for token in re.findall(r"[0-9A-F]*,|[0-9A-F]+|:", data):
            if token == ":":
                row = previous
            elif token.endswith(","):
                row = token[:-1].ljust(2 * int(per_row), "0")
            else:
                row = token
            assert len(row) == 2 * int(per_row), len(row)
            rows.append(row)
            previous = row
        assert len(rows) == height
        packed = np.frombuffer(bytes.fromhex("".join(rows)), np.uint8).reshape(height, int(per_row))
        found.append({"width": width, "height": height, "copies": int(args["PQ"]),
                      "bitmap": np.unpackbits(packed, axis=1)[:, :width].astype(bool)})
    assert "".join(re.findall(r"\^XA\n.*?\^XZ\n", text, re.S)) == text  # nothing outside the labels
    return found


def test_zpl_holds_each_label_as_one_graphic_of_its_dots(tmp_path):
    import numpy as np

    t = labels.get_template("zebra-2x1")
    records = device_records(3)
    images = labels.rasterise(t, records)["images"]
    out = tmp_path / "labels.zpl"
    result = printing.to_zpl(images, out)
    assert result == {"file": str(out), "labels": 3, "bytes": out.stat().st_size}
    parsed = parse_zpl(out.read_text(encoding="ascii"))
    assert len(parsed) == 3
    for label, image, record in zip(parsed, images, records, strict=True):
        assert (label["width"], label["height"], label["copies"]) == (406, 203, 1)
        assert np.array_equal(label["bitmap"], ~np.array(image, dtype=bool))  # dot for dot what was drawn
        grey = np.where(label["bitmap"], 0, 255).astype(np.uint8)
        assert codes(grey) == [(record["tag"], "Code 128"), (record["tag"], "QR Code")]
    assert result["bytes"] < 3 * 406 * 203 / 4 * 0.6  # blank row ends and repeated rows are compressed


@pytest.fixture(scope="session")
def zpl_renderer():
    """A script that renders ZPL to PNGs with Zebrash (zpl-renderer-js), or a skip."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("node and npm are needed for the ZPL renderer")
    folder = Path.home() / ".cache" / "refurb-tests" / "zpl-renderer"
    if not (folder / "node_modules" / "zpl-renderer-js").is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        run = subprocess.run([npm, "install", "--prefix", str(folder), "--no-audit", "--no-fund", ZPL_RENDERER],
                             capture_output=True, text=True, timeout=300)
        if run.returncode != 0:
            pytest.skip(f"cannot install {ZPL_RENDERER}: {run.stderr.strip().splitlines()[-1:]}")
    script = folder / "render.mjs"
    script.write_text(
        'import { ready } from "zpl-renderer-js";\nimport fs from "node:fs";\n'
        "const [,, input, prefix, w, h, dpmm] = process.argv;\nconst { api } = await ready;\n"
        'const out = await api.zplToBase64MultipleAsync(fs.readFileSync(input, "utf8"), Number(w), Number(h), '
        "Number(dpmm));\n"
        'out.forEach((b64, i) => fs.writeFileSync(`${prefix}-${i}.png`, Buffer.from(b64, "base64")));\n')
    return node, script


def test_an_independent_zpl_renderer_prints_labels_that_scan_back(tmp_path, zpl_renderer):
    from PIL import Image

    node, script = zpl_renderer
    t = labels.get_template("zebra-2x1")
    records = device_records(3)
    printing.to_zpl(labels.rasterise(t, records)["images"], tmp_path / "labels.zpl")
    subprocess.run([node, str(script), str(tmp_path / "labels.zpl"), str(tmp_path / "label"), "50.8", "25.4", "8"],
                   check=True, capture_output=True, timeout=120, cwd=script.parent)
    rendered = sorted(tmp_path.glob("label-*.png"))
    assert len(rendered) == 3
    for png, record in zip(rendered, records, strict=True):
        assert codes(Image.open(png)) == [(record["tag"], "Code 128"), (record["tag"], "QR Code")]


def test_zpl_of_nothing_is_a_usage_error(tmp_path):
    with pytest.raises(UsageProblem, match="no labels to print"):
        printing.to_zpl([], tmp_path / "x.zpl")


# ---------------------------------------------------------------------------------------------------------
# Brother QL


def read_brother(path, tmp_path):
    """The pages brother_ql's own reader finds in a raster file, as Pillow images, with the media it names."""
    from brother_ql.reader import BrotherQLReader
    from PIL import Image

    reader = BrotherQLReader(str(path))
    reader.filename_fmt = str(tmp_path / "page{counter:04d}.png")
    reader.analyse()
    return [Image.open(p) for p in sorted(tmp_path.glob("page*.png"))], (reader.mwidth, reader.mlength)


@pytest.mark.parametrize("template_id, model, size, media", [
    ("brother-dk11209", "QL-800", (696, 271), (62, 29)),  # die-cut: the printable dots exactly
    ("brother-dk22205", "QL-700", (696, 472 - 2 * 35), (62, 0)),  # continuous: the feed margins come off
    ("parts-tag", "QL-820NWB", (165, 566), (17, 54)),  # drawn 54 × 17 mm, printed across the 17 mm tape
])
def test_brother_raster_reads_back_label_for_label(tmp_path, template_id, model, size, media):
    t = labels.get_template(template_id)
    records = device_records(2)
    images = labels.rasterise(t, records)["images"]
    out = tmp_path / "labels.bin"
    result = printing.to_brother(images, label=t.brother, model=model, target=out)
    assert result == {"target": str(out), "labels": 2, "bytes": out.stat().st_size, "sent": False}
    pages, (width, length) = read_brother(out, tmp_path)
    assert (width, length // 256) == media  # the reader reports the length byte times 256
    assert len(pages) == 2
    want = {"code128", "qr"} & {e.type for e in t.elements}
    for n, (page, record) in enumerate(zip(pages, records, strict=True), start=1):
        # the reader keeps the rows of earlier pages (it forgets them only at the next ESC @): the last ones
        # are this page's; it gives the print head's whole width, of which the label takes a part
        assert page.size[1] == n * size[1] and page.size[0] >= size[0]
        page = page.crop((0, page.size[1] - size[1], page.size[0], page.size[1]))
        names = {"Code 128": "code128", "QR Code": "qr"}
        assert [(text, names[fmt]) for text, fmt in codes(page)] == sorted((record["tag"], k) for k in want)


def test_only_a_brother_template_goes_to_a_brother():
    assert labels.brother_media(labels.get_template("parts-tag")) == "17x54"
    with pytest.raises(UsageProblem, match="zebra-2x1 is not a Brother QL template") as caught:
        labels.brother_media(labels.get_template("zebra-2x1"))
    assert 'brother = "62x29"' in caught.value.hint


def test_brother_refuses_unknown_models_and_media(tmp_path):
    images = labels.rasterise(labels.get_template("brother-dk11209"), device_records(1))["images"]
    with pytest.raises(UsageProblem, match="unknown Brother printer 'QL-9000'"):
        printing.to_brother(images, label="62x29", model="QL-9000", target=tmp_path / "x.bin")
    with pytest.raises(UsageProblem, match="unknown Brother media '61x29'"):
        printing.to_brother(images, label="61x29", model="QL-800", target=tmp_path / "x.bin")
    with pytest.raises(UsageProblem, match="does not fill Brother media 62x100"):
        printing.to_brother(images, label="62x100", model="QL-800", target=tmp_path / "x.bin")
    assert not (tmp_path / "x.bin").exists()


def test_brother_to_an_unreachable_printer_is_a_hardware_problem():
    images = labels.rasterise(labels.get_template("brother-dk11209"), device_records(1))["images"]
    with pytest.raises(HardwareUnavailable, match="cannot reach the Brother printer at tcp://127.0.0.1:9"):
        printing.to_brother(images, label="62x29", model="QL-800", target="tcp://127.0.0.1:9")


# ---------------------------------------------------------------------------------------------------------
# CUPS


def _missing(reason):
    if os.environ.get("CI"):
        pytest.fail(reason + " (CI must test printing through CUPS)")
    pytest.skip(reason)


def _scheduler_running():
    run = subprocess.run(["lpstat", "-r"], capture_output=True, text=True, timeout=30)
    return "is running" in run.stdout and "not" not in run.stdout


@pytest.fixture(scope="session")
def cups_pdf():
    """A running CUPS scheduler with a cups-pdf queue; the folder where its PDFs land."""
    ppd = Path("/usr/share/ppd/cups-pdf/CUPS-PDF_opt.ppd")
    for tool in ("lp", "lpstat", "lpadmin", "cupsd"):
        if not shutil.which(tool):
            _missing(f"CUPS is not installed ({tool} missing; Debian: cups printer-driver-cups-pdf)")
    if not ppd.exists():
        _missing("cups-pdf is not installed (Debian: printer-driver-cups-pdf)")
    if not _scheduler_running():
        subprocess.run([shutil.which("cupsd")], check=True, timeout=30)  # starts in the background
        for _ in range(50):
            if _scheduler_running():
                break
            time.sleep(0.2)
        else:
            _missing("the CUPS scheduler does not start")
    if subprocess.run(["lpstat", "-p", QUEUE], capture_output=True, timeout=30).returncode != 0:
        subprocess.run(["lpadmin", "-p", QUEUE, "-E", "-v", "cups-pdf:/", "-m",
                        "lsb/usr/cups-pdf/CUPS-PDF_opt.ppd"], check=True, capture_output=True, timeout=60)
    import pwd

    out = "${HOME}/PDF"
    conf = Path("/etc/cups/cups-pdf.conf")
    for line in conf.read_text(encoding="utf-8", errors="replace").splitlines() if conf.exists() else []:
        if line.startswith("Out "):
            out = line.split(None, 1)[1].strip()
    return Path(out.replace("${HOME}", pwd.getpwuid(os.getuid()).pw_dir))


def wait_for_pdf(folder, marker, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [p for p in folder.glob("*.pdf") if marker in p.name] if folder.is_dir() else []
        if found and found[0].stat().st_size > 0:
            time.sleep(0.5)  # cups-pdf writes the file, then closes it
            return found[0]
        time.sleep(0.3)
    raise AssertionError(f"no PDF named *{marker}* appeared in {folder} within {timeout} s")


@pytest.mark.parametrize("template_id", ["brother-dk11209", "avery-l7160"])
def test_a_cups_queue_prints_the_labels_at_their_size(cups_pdf, tmp_path, template_id):
    t = labels.get_template(template_id)
    records = device_records(3)
    pdf = tmp_path / "labels.pdf"
    labels.render(t, records, pdf, skip=1 if t.media == "sheet" else 0)
    marker = "refurb" + uuid.uuid4().hex[:10]
    result = printing.to_cups(pdf, QUEUE, page=t.page, title=marker)
    assert result["queue"] == QUEUE and result["job"].startswith(QUEUE + "-")
    printed = wait_for_pdf(cups_pdf, marker)
    try:
        pages = rasterise(printed, t.dpi)
        assert len(pages) == (1 if t.media == "sheet" else 3)
        found = []
        for (width_pt, height_pt), image in pages:
            # printed at 100 % on media of the label's (or sheet's) own size
            assert abs(width_pt - t.page[0] * 72 / 25.4) < 1.5 and abs(height_pt - t.page[1] * 72 / 25.4) < 1.5
            found += codes(image)
        assert sorted(found) == sorted((r["tag"], fmt) for r in records for fmt in ("Code 128", "QR Code"))
    finally:
        printed.unlink()


def test_an_unknown_queue_is_a_hardware_problem(cups_pdf, tmp_path):
    labels.render(labels.get_template("zebra-2x1"), device_records(1), tmp_path / "one.pdf")
    with pytest.raises(HardwareUnavailable) as caught:
        printing.to_cups(tmp_path / "one.pdf", "no-such-queue-" + uuid.uuid4().hex[:6])
    assert "printing to no-such-queue-" in caught.value.message and "does not exist" in caught.value.message
    assert caught.value.exit_code == 6


def test_without_lp_printing_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(HardwareUnavailable, match="the CUPS command lp is not installed") as caught:
        printing.to_cups(tmp_path / "x.pdf", "anything")
    assert "cups-client" in caught.value.hint


@pytest.mark.parametrize("page, media", [((210, 297), "A4"), ((215.9, 279.4), "Letter"), ((62, 29), "Custom.62x29mm"),
                                         ((50.8, 25.4), "Custom.50.8x25.4mm")])
def test_the_media_asked_for_is_the_page_size(page, media):
    assert printing._media(page) == media
