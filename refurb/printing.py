"""Sending labels to printers (SPEC §7): a PDF to a CUPS queue, bitmaps to Zebra printers as ZPL and to
Brother QL printers as their raster language.

Rendering is refurb.labels' job (`render()` for the PDF, `rasterise()` for the bitmaps); nothing here
knows a template.  The bitmaps go out as they are, one dot per pixel: a ZPL label is one ^GF graphic, so what
the Zebra prints is exactly what refurb drew (and what the tests decode); a Brother label is cropped to the
part of the media the printer can reach.
"""

import re
import shutil
import subprocess
from pathlib import Path

from .errors import HardwareUnavailable, UsageProblem
from .i18n import _

LP_TIMEOUT = 60  # seconds for `lp` to hand the job to the scheduler
NAMED_MEDIA = {(210.0, 297.0): "A4", (215.9, 279.4): "Letter"}


# ---------------------------------------------------------------------------------------------------------
# CUPS


def to_cups(pdf, queue, *, page=None, title=None):
    """Print the PDF `pdf` on the CUPS queue `queue` with `lp`, at 100 % (never fitted to the page).

    `page` is the PDF's page size in mm, (width, height): it is asked for as the media, so a 62 × 29 mm label
    is not placed on an A4.  Copies are made by refurb.labels.render (label by label, in order), not here.
    Returns {"queue", "job"} (job: the request id, e.g. "PDF-12").

    Example:
        to_cups("labels.pdf", "QL800", page=(62, 29))
    """
    lp = shutil.which("lp")
    if lp is None:
        raise HardwareUnavailable(_("cannot print to {queue}: the CUPS command lp is not installed").format(
            queue=queue), hint=_("install CUPS (sudo apt-get install cups-client), or write a PDF with --out"))
    command = [lp, "-d", queue, "-o", "print-scaling=none"]
    if page:
        command += ["-o", f"media={_media(page)}"]
    if title:
        command += ["-t", title]
    command.append(str(pdf))
    try:
        run = subprocess.run(command, capture_output=True, text=True, timeout=LP_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise HardwareUnavailable(_("lp did not answer within {seconds} s").format(seconds=LP_TIMEOUT),
                                  hint=_("is the CUPS scheduler running? (lpstat -r)")) from None
    if run.returncode != 0:
        reason = (run.stderr or run.stdout).strip().splitlines()
        raise HardwareUnavailable(
            _("printing to {queue} failed: {reason}").format(queue=queue, reason=reason[-1] if reason else run.returncode),
            hint=_("the queues there are: lpstat -p; the scheduler: lpstat -r"))
    found = re.search(r"request id is (\S+)", run.stdout)
    return {"queue": queue, "job": found.group(1) if found else None}


def _media(page):
    width, height = (round(float(v), 1) for v in page)
    return NAMED_MEDIA.get((width, height)) or f"Custom.{width:g}x{height:g}mm"


# ---------------------------------------------------------------------------------------------------------
# ZPL


def zpl(images):
    """ZPL II for Zebra printers: one ^XA…^XZ label per bitmap (Pillow images; dark pixels print), each one
    ^GF graphic in ASCII hex with ZPL's compression of blank row ends (",") and repeated rows (":")."""
    import numpy as np

    out = []
    for image in images:
        dark = ~np.array(image.convert("1"), dtype=bool)  # a printed dot is a 1 in ZPL
        height, width = dark.shape
        packed = np.packbits(dark, axis=1)  # rows padded with blank dots to whole bytes
        per_row = packed.shape[1]
        rows, previous = [], None
        for line in packed:
            row = line.tobytes().hex().upper()
            if row == previous:
                rows.append(":")
                continue
            previous = row
            stripped = row.rstrip("0")
            rows.append(stripped + "," if len(stripped) < len(row) else row)
        total = per_row * height
        out.append(f"^XA\n^PW{width}\n^LL{height}\n^LH0,0\n^FO0,0^GFA,{total},{total},{per_row},"
                   f"{''.join(rows)}^FS\n^PQ1\n^XZ\n")
    return "".join(out)


def to_zpl(images, out):
    """Write the bitmaps as ZPL to the file `out` (send it to the printer with `lp -o raw` or to port 9100).
    Returns {"file", "labels", "bytes"}."""
    images = list(images)
    if not images:
        raise UsageProblem(_("no labels to print"))
    data = zpl(images).encode("ascii")
    _write(out, data)
    return {"file": str(out), "labels": len(images), "bytes": len(data)}


# ---------------------------------------------------------------------------------------------------------
# Brother QL


def brother_raster(images, *, label, model, cut=True):
    """The Brother QL raster instructions that print the bitmaps on `label` (brother_ql's media id, e.g.
    "62x29", "62" for continuous 62 mm tape) with printer `model` (e.g. "QL-800")."""
    try:
        from brother_ql.conversion import convert
        from brother_ql.labels import LabelsManager
        from brother_ql.models import ModelsManager
        from brother_ql.raster import BrotherQLRaster
    except ImportError as exc:
        raise HardwareUnavailable(_("Brother QL output needs brother_ql: {error}").format(error=exc),
                                  hint=_("pip install brother-ql-next")) from None

    models, media = ModelsManager().identifiers(), LabelsManager()
    if model not in models:
        raise UsageProblem(_("unknown Brother printer {model!r}").format(model=model),
                           hint=_("models: {models}").format(models=", ".join(models)))
    if label not in media.identifiers():
        raise UsageProblem(_("unknown Brother media {label!r}").format(label=label),
                           hint=_("media: {labels}").format(labels=", ".join(media.identifiers())))
    spec = media[label]
    fitted = [_fit_brother(image.convert("L"), spec) for image in images]
    qlr = BrotherQLRaster(model)
    qlr.exception_on_warning = True
    try:
        convert(qlr, fitted, label, cut=cut, rotate="auto", compress=True)
    except Exception as exc:  # brother_ql signals unsupported media/model combinations with plain exceptions
        raise UsageProblem(_("the Brother {model} cannot print on {label}: {error}").format(
            model=model, label=label, error=exc)) from None
    return qlr.data


def _fit_brother(image, spec):
    """Crop a label bitmap (the whole label, at 300 dpi) to the dots the printer reaches, centred.

    brother_ql wants exactly the printable dots of die-cut labels, the printable width of continuous tape
    (whose feed margins it adds itself), and takes a label drawn across the tape (17x54 read as 54 × 17 mm)
    turned a quarter."""
    from brother_ql.labels import FormFactor

    width, height = image.size
    printable_w, printable_h = spec.dots_printable
    if spec.form_factor == FormFactor.ENDLESS:
        margin = spec.feed_margin if height > 2 * spec.feed_margin else 0
        want = (printable_w, height - 2 * margin)
    else:
        want = (printable_w, printable_h)
        if (width > height) != (printable_w > printable_h) and printable_w != printable_h:
            want = (printable_h, printable_w)
    if width < want[0] or height < want[1]:
        raise UsageProblem(_("a label of {w} × {h} dots does not fill Brother media {label} ({pw} × {ph} dots)").format(
            w=width, h=height, label=spec.identifier, pw=want[0], ph=want[1]))
    left, top = (width - want[0]) // 2, (height - want[1]) // 2
    return image.crop((left, top, left + want[0], top + want[1]))


def to_brother(images, *, label, model, target, cut=True):
    """Print the bitmaps on a Brother QL: `target` is a file to write the raster instructions to, or a
    printer brother_ql can reach (tcp://HOST[:9100], usb://0x04f9:0x209b, file:///dev/usb/lp0).
    Returns {"target", "labels", "bytes", "sent"}.

    Example:
        to_brother(rasterise(template, records)["images"], label="62x29", model="QL-800", target="tcp://10.0.0.9")
    """
    images = list(images)
    if not images:
        raise UsageProblem(_("no labels to print"))
    data = brother_raster(images, label=label, model=model, cut=cut)
    target = str(target)
    if "://" not in target:
        _write(target, data)
        return {"target": target, "labels": len(images), "bytes": len(data), "sent": False}
    from brother_ql.backends.helpers import send

    try:
        status = send(data, target, blocking=True)
    except Exception as exc:  # the backends raise what their transport raises (OSError, usb.core errors)
        raise HardwareUnavailable(_("cannot reach the Brother printer at {target}: {error}").format(
            target=target, error=exc), hint=_("check the address, the cable and that the printer is on")) from None
    if status.get("outcome") == "error":
        raise HardwareUnavailable(_("the Brother printer at {target} reported an error: {state}").format(
            target=target, state=status.get("printer_state")))
    return {"target": target, "labels": len(images), "bytes": len(data), "sent": True}


def _write(out, data):
    path = Path(out)
    try:
        path.write_bytes(data)
    except OSError as e:
        raise UsageProblem(_("cannot write {file}: {error}").format(file=path, error=e.strerror or e)) from e
