"""Barcodes from pictures and webcams (SPEC §4): zxing-cpp first, zbar second, OpenCV around them.

`decode_image` runs a cascade of attempts, cheapest first, and stops at the first good read: zxing-cpp on
the picture as it is (grey), zxing-cpp trying harder (rotations, inverted), a second binariser, zbar,
then OpenCV preprocessing (downscale, blur, upscale, contrast, sharpen, thresholds), 1D barcodes cut out
and turned upright where OpenCV's barcode detector finds them, and zbar on the picture turned by
90/180/270° (zxing-cpp searches every orientation itself).  Not used: OpenCV's curved-QR straightening
(QRCodeDetector.decodeCurved), which corrupts the heap in OpenCV 5.0.0 and kills the process.

Zero wrong texts is worth more than one more read:
- zbar is trusted for QR codes only, and only when the text is printable ASCII: zbar guesses the character
  set of QR byte data (Shift-JIS text comes out wrong), and it drops Code 128's FNC4.
- Symbologies whose check is weak (EAN/UPC: one mod-10 digit; Code 39: none) are accepted only when two
  independent attempts read the same text there and no other text at the same place is read as often.

`FrameReader` debounces the frames of a webcam (`open_capture`, `frames`).  Heavy libraries (cv2, numpy,
zxingcpp, pyzbar) are imported inside functions: `refurb --help` must stay fast.
"""

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import HardwareUnavailable, NotFound, UsageProblem
from .i18n import _


@dataclass(frozen=True)
class Code:
    """One barcode read from a picture: its text and a stable lowercase symbology name."""

    text: str
    format: str  # "code128", "qrcode", "ean13", "datamatrix", …, whichever engine read it


# zxing-cpp's format names → ours.  Anything else: its name in lowercase.
_ZXING_NAMES = {
    "Code39Std": "code39", "Code39Ext": "code39", "QRCodeModel1": "qrcode", "QRCodeModel2": "qrcode",
    "CompactPDF417": "pdf417", "AztecCode": "aztec",
}
# What we ask zxing-cpp for.  Left out: ITF, Codabar and DataBar (no device label uses them, and without a
# mandatory check they are where misreads come from), and the exotic ones.
_ZXING_FORMATS = "Code128,Code39,Code93,EAN13,EAN8,UPCA,UPCE,QRCode,MicroQRCode,DataMatrix,PDF417,Aztec"
# zbar only for QR codes (Reed-Solomon checked).  On the sample images it read no Code 128 that zxing-cpp
# missed, and it drops Code 128's FNC4 without a trace ("óóóó1234" comes out "ssss1234"): a wrong text.
_ZBAR_TRUSTED = {"QRCODE": "qrcode"}
# A weak check: a misread can pass it.  Such a text needs two independent attempts that agree.
WEAK = frozenset({"ean13", "ean8", "upca", "upce", "code39"})
_VOTES_NEEDED = 2


# ---------------------------------------------------------------------------- engines


class _Engines:
    """zxing-cpp (required) and zbar (optional), loaded on first use."""

    def __init__(self):
        self.reset()

    def reset(self):
        self._zxing = None
        self._zbar = None
        self._zbar_tried = False
        self.zbar_problem = None

    @property
    def zxing(self):
        if self._zxing is None:
            try:
                import zxingcpp
            except ImportError as exc:
                raise HardwareUnavailable(
                    _("the barcode decoder zxing-cpp cannot be loaded: {reason}").format(reason=exc),
                    hint=_("reinstall refurb with its dependencies (pip install zxing-cpp)"),
                ) from exc
            self._zxing = zxingcpp
            self.zxing_formats = zxingcpp.barcode_formats_from_str(_ZXING_FORMATS)
        return self._zxing

    @property
    def zbar(self):
        """The pyzbar module, or None when libzbar cannot be loaded (the reason in zbar_problem)."""
        if not self._zbar_tried:
            self._zbar_tried = True
            try:
                self._zbar = _load_zbar()
            except (ImportError, OSError) as exc:
                self.zbar_problem = str(exc) or type(exc).__name__
        return self._zbar


def _load_zbar():
    from pyzbar import pyzbar, wrapper

    wrapper.load_libzbar()  # pyzbar loads libzbar lazily; a missing library must show up here, not mid-scan
    return pyzbar


_engines = _Engines()


def engines():
    """The decoding engines available, in the order they are tried: ["zxing-cpp", "zbar"]."""
    names = ["zxing-cpp"] if _engines.zxing else []  # raises HardwareUnavailable when it cannot be loaded
    return names + (["zbar"] if _engines.zbar is not None else [])


def warnings():
    """What a person should know about decoding here: a message when libzbar cannot be loaded."""
    if _engines.zbar is None:
        return [_("zbar is not available ({reason}): decoding with zxing-cpp alone").format(
            reason=_engines.zbar_problem)]
    return []


# ---------------------------------------------------------------------------- reads and attempts


@dataclass
class _Read:
    code: Code
    box: tuple  # (x0, y0, x1, y1) in the coordinates of the original picture


@dataclass
class _Attempt:
    """One try of the cascade: an engine on one variant of the picture."""

    name: str
    voter: str  # attempts with the same voter would repeat each other's misreads: one vote between them
    run: object  # () -> list[_Read]


def _zxing_reads(image, to_original, *, binarizer="local", quick=False):
    zx = _engines.zxing
    options = {"try_rotate": False, "try_invert": False} if quick else {}
    found = zx.read_barcodes(
        image, formats=_engines.zxing_formats, text_mode=zx.TextMode.Plain,
        binarizer=zx.Binarizer.GlobalHistogram if binarizer == "global" else zx.Binarizer.LocalAverage, **options)
    reads = []
    for b in found:
        if not b.valid or not b.text:
            continue
        name = b.format.name
        p = b.position
        corners = [(p.top_left.x, p.top_left.y), (p.top_right.x, p.top_right.y),
                   (p.bottom_right.x, p.bottom_right.y), (p.bottom_left.x, p.bottom_left.y)]
        reads.append(_Read(Code(b.text, _ZXING_NAMES.get(name, name.lower())), _box(corners, to_original)))
    return reads


def _zbar_reads(image, to_original):
    zb = _engines.zbar
    if zb is None:
        return []
    symbols = [zb.ZBarSymbol[name] for name in _ZBAR_TRUSTED]
    reads = []
    for symbol in zb.decode(image, symbols=symbols):
        name = _ZBAR_TRUSTED.get(symbol.type)
        if name is None or not _printable_ascii(symbol.data):
            continue
        r = symbol.rect
        corners = [(r.left, r.top), (r.left + r.width, r.top + r.height)]
        reads.append(_Read(Code(symbol.data.decode("ascii"), name), _box(corners, to_original)))
    return reads


def _printable_ascii(data):
    return bool(data) and all(32 <= c < 127 or c in (9, 10, 13) for c in data)


def _box(corners, to_original):
    pts = [to_original(x, y) for x, y in corners]
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    return (min(xs), min(ys), max(xs), max(ys))


def _scaled(factor):
    return lambda x, y: (x / factor, y / factor)


def _same(x, y):
    return (x, y)


_WORK_SIDE = 1600  # the preprocessing attempts work on a copy no longer than this: a 12 MP photo costs seconds


def _attempts(gray, thorough):
    """The cascade, cheapest and most fruitful first.  Each variant is computed only when its turn comes."""
    import cv2
    import numpy as np

    yield _Attempt("zxing", "grey", lambda: _zxing_reads(gray, _same, quick=True))
    yield _Attempt("zxing, harder", "grey", lambda: _zxing_reads(gray, _same))
    f = min(1.0, _WORK_SIDE / max(gray.shape))
    work = gray if f == 1 else cv2.resize(gray, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    h, w = work.shape
    yield _Attempt("zxing, global binariser", "grey/global", lambda: _zxing_reads(work, _scaled(f), binarizer="global"))
    yield _Attempt("zbar", "zbar", lambda: _zbar_reads(work, _scaled(f)))
    half = None
    if min(h, w) >= 160:
        half = cv2.resize(work, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
        yield _Attempt("downscaled, global binariser", "half/global",
                       lambda: _zxing_reads(half, _scaled(f / 2), binarizer="global"))
    if not thorough:
        return
    if half is not None:
        yield _Attempt("downscaled", "half", lambda: _zxing_reads(half, _scaled(f / 2)))
    blurred = cv2.GaussianBlur(work, (3, 3), 0)
    yield _Attempt("blurred, global binariser", "blur/global",
                   lambda: _zxing_reads(blurred, _scaled(f), binarizer="global"))
    yield _Attempt("blurred", "blur", lambda: _zxing_reads(blurred, _scaled(f)))
    if max(h, w) <= 1200:
        big = cv2.resize(work, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
        yield _Attempt("upscaled", "up", lambda: _zxing_reads(big, _scaled(2 * f)))
        yield _Attempt("upscaled, global binariser", "up/global",
                       lambda: _zxing_reads(big, _scaled(2 * f), binarizer="global"))
    contrast = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(work)
    yield _Attempt("contrast, global binariser", "clahe/global",
                   lambda: _zxing_reads(contrast, _scaled(f), binarizer="global"))
    sharp = cv2.addWeighted(work, 1.5, cv2.GaussianBlur(work, (0, 0), 3), -0.5, 0)
    yield _Attempt("sharpened", "sharp", lambda: _zxing_reads(sharp, _scaled(f)))
    otsu = cv2.threshold(work, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)[1]
    yield _Attempt("Otsu threshold", "otsu", lambda: _zxing_reads(otsu, _scaled(f)))
    adaptive = cv2.adaptiveThreshold(work, 255, cv2.ADAPTIVE_THRESH_GAUSSIAN_C, cv2.THRESH_BINARY, 31, 5)
    yield _Attempt("adaptive threshold", "adaptive", lambda: _zxing_reads(adaptive, _scaled(f)))
    yield _Attempt("barcode regions", "regions", lambda: _region_reads(gray, cv2, np))
    if half is not None:
        yield _Attempt("zbar, downscaled", "zbar/half", lambda: _zbar_reads(half, _scaled(f / 2)))
    yield _Attempt("zbar, blurred", "zbar/blur", lambda: _zbar_reads(blurred, _scaled(f)))
    # zxing-cpp searches every orientation itself (try_rotate); zbar's QR finder does not quite
    for turn, back in ((cv2.ROTATE_90_CLOCKWISE, lambda x, y: (y / f, (h - 1 - x) / f)),
                       (cv2.ROTATE_180, lambda x, y: ((w - 1 - x) / f, (h - 1 - y) / f)),
                       (cv2.ROTATE_90_COUNTERCLOCKWISE, lambda x, y: ((w - 1 - y) / f, x / f))):
        yield _Attempt("zbar, turned", f"zbar/turn{turn}",
                       lambda turn=turn, back=back: _zbar_reads(cv2.rotate(work, turn), back))


def _region_reads(gray, cv2, np):
    """1D barcodes at any angle: OpenCV's gradient-based detector finds them (it scales big pictures down
    itself), we cut each out and turn it upright."""
    try:
        ok, boxes = cv2.barcode.BarcodeDetector().detectMulti(gray)
    except (AttributeError, cv2.error):
        return []
    if not ok or boxes is None:
        return []
    reads = []
    for quad in boxes.reshape(-1, 4, 2)[:8]:
        (cx, cy), (bw, bh), angle = cv2.minAreaRect(quad.astype(np.float32))
        if bw < bh:  # the long side along x: bars upright
            bw, bh, angle = bh, bw, angle + 90
        bw, bh = bw * 1.2 + 16, bh * 1.2 + 16  # quiet zones
        if bw < 20 or bh < 8:
            continue
        scale = min(3.0, max(600 / bw, 0.25))
        m = cv2.getRotationMatrix2D((cx, cy), angle, scale)
        m[0, 2] += bw * scale / 2 - cx
        m[1, 2] += bh * scale / 2 - cy
        crop = cv2.warpAffine(gray, m, (int(bw * scale), int(bh * scale)), flags=cv2.INTER_CUBIC,
                              borderMode=cv2.BORDER_REPLICATE)
        back = cv2.invertAffineTransform(m)

        def to_original(x, y, back=back):
            return (back[0, 0] * x + back[0, 1] * y + back[0, 2], back[1, 0] * x + back[1, 1] * y + back[1, 2])

        reads += _zxing_reads(crop, to_original)
    return reads


# ---------------------------------------------------------------------------- the cascade


def _overlap(a, b):
    margin = 0.1 * max(a[2] - a[0], a[3] - a[1], b[2] - b[0], b[3] - b[1])
    return a[0] - margin <= b[2] and b[0] - margin <= a[2] and a[1] - margin <= b[3] and b[1] - margin <= a[3]


class _Ballot:
    """Weak-check reads, gathered per place until one text there has enough independent votes."""

    def __init__(self):
        self.places = []  # each: {"box": box, "votes": {code: set(voters)}}

    def add(self, read, voter):
        place = next((p for p in self.places if _overlap(p["box"], read.box)), None)
        if place is None:
            place = {"box": read.box, "votes": {}}
            self.places.append(place)
        place["votes"].setdefault(read.code, set()).add(voter)

    def decided(self):
        """(accepted codes, whether a place is still open)."""
        accepted, open_ = [], False
        for place in self.places:
            ranked = sorted(place["votes"].items(), key=lambda kv: len(kv[1]), reverse=True)
            best, votes = ranked[0]
            runner_up = len(ranked[1][1]) if len(ranked) > 1 else 0
            if len(votes) >= _VOTES_NEEDED and len(votes) > runner_up:
                accepted.append(best)
            else:
                open_ = True
        return accepted, open_


def cascade(image, *, thorough=True):
    """(codes, name of the attempt that read them or None): decode_image, telling which attempt succeeded."""
    gray = _grey(image)
    ballot, strong, winner = _Ballot(), [], None
    for attempt in _attempts(gray, thorough):
        reads = attempt.run()
        if not strong:
            strong = [r.code for r in reads if r.code.format not in WEAK]
            if strong:
                winner = attempt.name
        for r in reads:
            if r.code.format in WEAK:
                ballot.add(r, attempt.voter)
        weak, open_ = ballot.decided()
        if (strong or weak) and not open_:
            return _unique(strong + weak), winner or attempt.name
    weak, _open = ballot.decided()
    return _unique(strong + weak), (winner if strong or weak else None)


def decode_image(image, *, thorough=True):
    """Every barcode read from a picture (a numpy array, BGR, BGRA or grey).

    thorough=False stops after the cheap attempts: for webcam frames, where the next frame is another chance.

    Example:
        >>> import cv2; decode_image(cv2.imread("label.png"))
        [Code(text='RB-000123-K', format='code128')]
    """
    return cascade(image, thorough=thorough)[0]


def decode_file(path):
    """Every barcode in an image file (PNG, JPEG, WebP, … whatever OpenCV reads)."""
    return decode_image(read_image(path))


def read_image(path):
    """The picture in a file as a numpy array; transparent parts become white.  One-line errors."""
    import cv2
    import numpy as np

    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise NotFound(_("{file}: no such file").format(file=path)) from None
    except OSError as exc:
        raise UsageProblem(_("{file}: cannot be read: {error}").format(file=path, error=exc.strerror or exc)) from None
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) if data else None
    if image is None:
        raise UsageProblem(_("{file}: not an image OpenCV can read").format(file=path),
                           hint=_("use a PNG, JPEG or WebP picture"))
    return image


def _grey(image):
    import cv2
    import numpy as np

    if (not isinstance(image, np.ndarray) or image.ndim not in (2, 3) or image.size == 0
            or (image.ndim == 3 and image.shape[2] not in (1, 3, 4))):
        raise UsageProblem(_("not a picture: expected an image array (height × width, grey or colour)"))
    if image.dtype != np.uint8:  # 16-bit PNGs, float or bool arrays
        image = cv2.normalize(image.astype(np.float32), None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    if image.ndim == 3:
        channels = image.shape[2]
        if channels == 4:  # transparent pixels over white, so a black-on-transparent code stays black on white
            alpha = image[:, :, 3:4].astype(np.float32) / 255
            image = (image[:, :, :3] * alpha + 255 * (1 - alpha)).astype(np.uint8)
            channels = 3
        image = image[:, :, 0] if channels == 1 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return np.ascontiguousarray(image)


def _unique(codes):
    return list(dict.fromkeys(codes))


# ---------------------------------------------------------------------------- the webcam


class FrameReader:
    """Decodes webcam frames; the same text again within `debounce_seconds` of its last sighting is one scan.

    A code held in front of the camera for a while is one scan; shown again after a pause longer than the
    window, it is a new scan.
    """

    def __init__(self, debounce_seconds=2.0, *, thorough=False):
        self.debounce_seconds = debounce_seconds
        self.thorough = thorough
        self._last_seen = {}

    def feed(self, frame, now):
        """The codes in this frame that count as new scans; `now` in seconds (time.monotonic(), video time)."""
        return self.filter(decode_image(frame, thorough=self.thorough), now)

    def filter(self, codes, now):
        new = []
        for code in codes:
            last = self._last_seen.get(code.text)
            if last is None or now - last > self.debounce_seconds:
                new.append(code)
            self._last_seen[code.text] = now
        horizon = now - self.debounce_seconds
        self._last_seen = {t: s for t, s in self._last_seen.items() if s >= horizon}
        return new


def open_capture(device=None, video=None):
    """A cv2.VideoCapture on a webcam (device number or path, default 0) or on a video file standing in for one."""
    import cv2

    if video is not None:
        path = Path(video)
        if not path.is_file():
            raise NotFound(_("{file}: no such file").format(file=path))
        capture = cv2.VideoCapture(str(path))
        if not capture.isOpened():
            capture.release()
            raise UsageProblem(_("{file}: not a video OpenCV can read").format(file=path))
        return capture
    index = 0 if device is None else int(device) if str(device).isdigit() else str(device)  # N or /dev/videoN
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # no OpenCV warnings about the missing camera
    try:
        capture = cv2.VideoCapture(index)
        opened = capture.isOpened()
    finally:
        cv2.utils.logging.setLogLevel(level)
    if not opened:
        capture.release()
        raise HardwareUnavailable(
            _("camera {device} cannot be opened").format(device=index),
            hint=_("check that a webcam is plugged in (ls /dev/video*) and that you may use it (group 'video'); "
                   "choose another with --device N, or read a recording with --video FILE"))
    return capture


def frames(capture, *, clock=time.monotonic, video_time=False):
    """(seconds, frame) pairs until the capture ends.

    The time is `clock()`, or the position in the video with video_time=True (a recording is read faster
    than it was filmed; its own clock keeps the debounce window right).
    """
    import cv2

    while True:
        ok, frame = capture.read()
        if not ok or frame is None:
            return
        now = capture.get(cv2.CAP_PROP_POS_MSEC) / 1000 if video_time else clock()
        if math.isnan(now):
            now = clock()
        yield now, frame


def scan_capture(capture, reader=None, *, video_time=False) -> Iterator[Code]:
    """Every new scan from a capture, debounced; ends with the video (a webcam goes on until interrupted)."""
    reader = reader or FrameReader()
    for now, frame in frames(capture, video_time=video_time):
        yield from reader.feed(frame, now)
