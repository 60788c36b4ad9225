"""Labels (SPEC §12): 10 000 labels with Code 128 and QR to a PDF in ≤ 5 s.

The figure: refurb.labels.render() of 10 000 device records with the avery-l7163 template (organisation,
tag, make and model, CPU, memory, serial as text; Code 128 and QR of the tag) to a PDF file, in this process.
The floor: bare reportlab on the same 14-up sheet grid, one Code 128 per label with reportlab's own widget
(reportlab.graphics.barcode.code128.Code128.drawOn), no QR and no text, saved the same way (Flate, no
ASCII85).  Reportlab's own QR widget is timed on a few hundred labels, for comparison only: at ~110
labels/s it could not make the budget.  Runs alternate after one warm-up run of each; the median counts.

    python -m benchmarks.labels [--labels 10000] [--runs 3]
"""

import argparse
import tempfile
import time
from pathlib import Path

from refurb import labels, tags

from .stats import median

BUDGET_S = 5.0
LABELS = 10_000
RUNS = 3
TEMPLATE = "avery-l7163"


def records(count):
    """`count` distinct devices with valid tags."""
    out, number = [], 1
    for i in range(count):
        number = tags.next_number("RB", number)
        out.append({"tag": tags.make("RB", number), "serial": f"PF{number:07d}", "make": "Lenovo",
                    "model": ("ThinkPad T480", "ThinkPad X270", "Latitude 7490")[i % 3], "cpu": "Intel Core i5-8350U",
                    "ram_gb": (8, 16)[i % 2], "storage_gb": 256, "org": "Digibank Gent"})
        number += 1
    return out


def figure(template, rows, out):
    start = time.perf_counter()
    result = labels.render(template, rows, out)
    return time.perf_counter() - start, result["pages"]


def floor(template, rows, out, qr=False):
    """Bare reportlab: its Code 128 widget (or its QR widget) drawn at each label's place on the grid."""
    from reportlab import rl_config
    from reportlab.graphics.barcode.code128 import Code128
    from reportlab.graphics.barcode.qr import QrCodeWidget
    from reportlab.graphics.shapes import Drawing
    from reportlab.pdfgen.canvas import Canvas

    mm = labels.MM
    start = time.perf_counter()
    canvas = Canvas(str(out), pagesize=(template.page[0] * mm, template.page[1] * mm), invariant=1,
                    pageCompression=1)
    for n, row in enumerate(rows):
        page, x, y = template.slot(n)
        if n and n % template.per_page == 0:
            canvas.showPage()
        left, bottom = (x + 3) * mm, (template.page[1] - y - 35) * mm
        if qr:
            widget = QrCodeWidget(row["tag"], barLevel="M")
            drawing = Drawing(30 * mm, 30 * mm)
            drawing.add(widget)
            drawing.drawOn(canvas, left + 63 * mm, bottom + 2 * mm)
        else:
            Code128(row["tag"], barWidth=0.339 * mm, barHeight=11 * mm, humanReadable=0).drawOn(canvas, left, bottom)
    canvas.showPage()
    use_a85, rl_config.useA85 = rl_config.useA85, 0
    try:
        canvas.save()
    finally:
        rl_config.useA85 = use_a85
    return time.perf_counter() - start


def run(args):
    """The figures: {"labels", "pages", "render_s", "floor_s" (medians), "ratio", "budget_s",
    "labels_per_s", "floor_labels_per_s", "reportlab_qr_labels_per_s"}."""
    count = getattr(args, "labels", None) or LABELS
    runs = getattr(args, "label_runs", None) or RUNS
    template = labels.get_template(TEMPLATE)
    rows = records(count)
    rendered, floored = [], []
    with tempfile.TemporaryDirectory(prefix="refurb-bench-labels-") as folder:
        out = Path(folder) / "labels.pdf"
        figure(template, rows[:500], out)  # warm-up: imports, fonts, caches
        floor(template, rows[:500], out)
        for _run in range(runs):
            seconds, pages = figure(template, rows, out)
            rendered.append(seconds)
            floored.append(floor(template, rows, out))
        sample = rows[:300]
        qr_s = floor(template, sample, out, qr=True)
    render_s, floor_s = median(rendered), median(floored)
    return {"labels": count, "pages": pages, "render_s": render_s, "floor_s": floor_s, "ratio": render_s / floor_s,
            "budget_s": BUDGET_S, "labels_per_s": count / render_s, "floor_labels_per_s": count / floor_s,
            "reportlab_qr_labels_per_s": len(sample) / qr_s}


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.labels", description=__doc__.splitlines()[0])
    p.add_argument("--labels", type=int, default=LABELS, help=f"labels to print (default {LABELS})")
    p.add_argument("--runs", dest="label_runs", type=int, default=RUNS, help=f"timed runs of each (default {RUNS})")
    r = run(p.parse_args(argv))
    print(f"{r['labels']} labels ({r['pages']} pages of {TEMPLATE}): {r['render_s']:.2f} s "
          f"({r['labels_per_s']:.0f}/s), budget {r['budget_s']:.0f} s: {'within' if r['render_s'] <= BUDGET_S else 'OVER'}")
    print(f"floor, bare reportlab Code 128 only: {r['floor_s']:.2f} s ({r['floor_labels_per_s']:.0f}/s); "
          f"ratio {r['ratio']:.2f}×")
    print(f"reportlab's own QR widget: {r['reportlab_qr_labels_per_s']:.0f} labels/s")


if __name__ == "__main__":
    main()
