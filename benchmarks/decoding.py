"""(d) Barcodes from pictures: refurb.decoding on the zxing-cpp sample images, against each engine alone."""

import os
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .report import Figure
from .stats import median, ms

ROOT = Path(__file__).resolve().parent.parent.parent / "shared" / "external" / "zxing-samples"
SETS = {"Code 128 + QR": ("code128", "qrcode"), "EAN-13": ("ean13",), "DataMatrix": ("datamatrix",)}
ROTATIONS = (0, 90, 180, 270)
BUDGET_0, BUDGET_ALL, BUDGET_MEDIAN_MS = 151, 600, 2.0
SECOND_SYMBOL = {("qrcode-2", "16")}  # MANIFEST.md: "the outer symbol of the nested QR in 16"
# Where a returned text differs from the expected file and the picture itself says why.
CORPUS_REMARKS = {
    "ean13-2/23.webp": "the digits printed under its bars are 9784872348880, the text read; its .txt names "
                       "another book (9780804816632)",
}
IMAGE_SUFFIXES = (".png", ".webp", ".jpg", ".jpeg")
HOW = (
    "the corpus is ../shared/external/zxing-samples (its MANIFEST.md): one folder per symbology, `<stem>.txt` the "
    "expected text (`<stem>.bin` the expected bytes). A picture is read when a code of the folder's symbology has "
    "exactly the expected text; a wrong text is any text returned that is not the expected one, except the outer "
    "symbol of the nested QR code in qrcode-2/16, which MANIFEST.md lists as a second real symbol in that picture. "
    "Each picture is decoded already loaded (file reading is not timed) and turned clockwise with cv2.rotate, on one "
    "core: the process pinned to one CPU, OpenCV to one thread. The floors run on the same pictures, interleaved: "
    "zxing-cpp alone (`zxingcpp.read_barcodes` with its default options on the colour picture, plain text mode) and "
    "pyzbar alone (`pyzbar.decode` on the grey picture, grey conversion included)."
)


@dataclass
class Sample:
    folder: str
    path: Path
    expected: str | bytes

    @property
    def symbology(self):
        return self.folder.split("-")[0]

    @property
    def label(self):
        return f"{self.folder}/{self.path.name}"

    def matches(self, text):
        if isinstance(self.expected, bytes):
            return any(_encoded(text, enc) == self.expected for enc in ("utf-8", "latin-1"))
        return text == self.expected

    def passes(self, codes):
        """codes: (text, format) pairs."""
        return any(fmt == self.symbology and self.matches(text) for text, fmt in codes)

    def wrong(self, codes):
        """Texts returned that are not the expected one (the documented second symbol aside)."""
        wrong = [(text, fmt) for text, fmt in codes if not self.matches(text)]
        if (self.folder, self.path.stem) in SECOND_SYMBOL:
            extra = [c for c in wrong if c[1] == "qrcode"][:1]
            wrong = [c for c in wrong if c not in extra]
        return wrong


def _encoded(text, encoding):
    try:
        return text.encode(encoding)
    except UnicodeEncodeError:
        return None


def samples(root, prefixes):
    found = []
    for folder in sorted(p for p in Path(root).iterdir() if p.is_dir() and p.name.startswith(prefixes)):
        for image in sorted(folder.iterdir()):
            if image.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            txt, raw = image.with_suffix(".txt"), image.with_suffix(".bin")
            if txt.exists():
                found.append(Sample(folder.name, image, txt.read_bytes().decode("utf-8")))
            elif raw.exists():
                found.append(Sample(folder.name, image, raw.read_bytes()))
    return found


class OneCore:
    """Pin this process to one CPU and OpenCV to one thread; undo on exit."""

    def __enter__(self):
        import cv2

        self.threads = cv2.getNumThreads()
        cv2.setNumThreads(1)
        self.cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
        if self.cpus:
            os.sched_setaffinity(0, {max(self.cpus)})
        return self

    def __exit__(self, *exc):
        import cv2

        cv2.setNumThreads(self.threads)
        if self.cpus:
            os.sched_setaffinity(0, self.cpus)


def _timed(fn, arg):
    wall, cpu = time.perf_counter(), time.thread_time()
    result = fn(arg)
    return time.perf_counter() - wall, time.thread_time() - cpu, result


def measure(root=ROOT, sets=SETS, rotations=ROTATIONS, progress=None):
    """Per set and rotation: reads, wrong texts and times of refurb.decoding, zxing-cpp alone, pyzbar alone."""
    import cv2
    import zxingcpp
    from pyzbar import pyzbar

    from refurb import decoding

    turn = {0: None, 90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}
    def ours(img):
        codes, attempt = decoding.cascade(img)
        return [(c.text, c.format) for c in codes], attempt

    engines = {
        "refurb": ours,
        "zxing-cpp": lambda img: ([(b.text, b.format.name.lower())
                                   for b in zxingcpp.read_barcodes(img, text_mode=zxingcpp.TextMode.Plain)], None),
        "pyzbar": lambda img: ([(s.data.decode("utf-8", "replace"), s.type.lower())
                                for s in pyzbar.decode(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY))], None),
    }
    results = {}
    with OneCore():
        for set_name, prefixes in sets.items():
            pictures = [(s, cv2.imread(str(s.path))) for s in samples(root, prefixes)]
            for engine in engines.values():  # warm up: imports, first allocations
                engine(pictures[0][1])
            for rotation in rotations:
                if progress:
                    progress(f"decoding: {set_name} at {rotation}°, {len(pictures)} images × 3 engines …")
                row = results[(set_name, rotation)] = {
                    name: {"pass": 0, "wrong": [], "wall": [], "cpu": []} for name in engines}
                row["images"] = len(pictures)
                row["attempts"] = Counter()
                for sample, picture in pictures:
                    image = picture if turn[rotation] is None else cv2.rotate(picture, turn[rotation])
                    for name, engine in engines.items():
                        wall, cpu, (codes, attempt) = _timed(engine, image)
                        r = row[name]
                        r["wall"].append(wall)
                        r["cpu"].append(cpu)
                        r["pass"] += sample.passes(codes)
                        r["wrong"] += [(sample.label, rotation, text) for text, _fmt in sample.wrong(codes)]
                        if name == "refurb":
                            row["attempts"][attempt if sample.passes(codes) else None] += 1
    return results


def summary(results, name, set_name, rotations=ROTATIONS):
    """Totals over the given rotations for one engine and one set."""
    rows = [results[(set_name, r)] for r in rotations if (set_name, r) in results]
    return {
        "pass": sum(r[name]["pass"] for r in rows),
        "images": sum(r["images"] for r in rows),
        "wrong": [w for r in rows for w in r[name]["wrong"]],
        "wall": median([t for r in rows for t in r[name]["wall"]]),
        "cpu": median([t for r in rows for t in r[name]["cpu"]]),
    }


def report(results):
    """(figures, sections, notes) for benchmarks/RESULTS.md."""
    engines = ("refurb", "zxing-cpp", "pyzbar")
    main = "Code 128 + QR"
    at0 = {e: summary(results, e, main, (0,)) for e in engines}
    every = {e: summary(results, e, main) for e in engines}
    figures = [
        Figure(f"Decoding {main}: exact at 0° (of {at0['refurb']['images']})", at0["refurb"]["pass"], BUDGET_0,
               at0["zxing-cpp"]["pass"], unit="n", at_least=True,
               note=f"floor: zxing-cpp alone; pyzbar alone read {at0['pyzbar']['pass']}"),
        Figure(f"Decoding {main}: exact over 0/90/180/270° (of {every['refurb']['images']})", every["refurb"]["pass"],
               BUDGET_ALL, every["zxing-cpp"]["pass"], unit="n", at_least=True,
               note=f"floor: zxing-cpp alone; pyzbar alone read {every['pyzbar']['pass']}"),
        Figure(f"Decoding {main}: wrong texts, all rotations", len(every["refurb"]["wrong"]), 0, None, unit="n",
               note=f"zxing-cpp alone returned {len(every['zxing-cpp']['wrong'])}, pyzbar alone "
               f"{len(every['pyzbar']['wrong'])} (character sets guessed for QR byte data, Code 128 FNC4 dropped)"),
        Figure(f"Decoding {main}: median per image, one core", ms(every["refurb"]["wall"]), BUDGET_MEDIAN_MS,
               ms(every["zxing-cpp"]["wall"]),
               note=f"{every['refurb']['images']} pictures (4 rotations); CPU time median "
               f"{ms(every['refurb']['cpu']):.2f} ms; floor: zxing-cpp alone; pyzbar alone "
               f"{ms(every['pyzbar']['wall']):.2f} ms"),
    ]
    for name in ("EAN-13", "DataMatrix"):
        ours, floor = summary(results, "refurb", name, (0,)), summary(results, "zxing-cpp", name, (0,))
        turned = summary(results, "refurb", name)
        figures.append(Figure(
            f"Decoding {name}: exact at 0° (of {ours['images']})", ours["pass"], None, floor["pass"], unit="n",
            note=f"over 0/90/180/270°: {turned['pass']} of {turned['images']}; texts that differ from the expected "
            f"file: {len(turned['wrong'])}; floor: zxing-cpp alone"))
    rows = [[set_name, f"{rotation}°", row["images"]]
            + [f"{row[e]['pass']} / {len(row[e]['wrong'])}" for e in engines]
            + [f"{ms(median(row[e]['wall'])):.2f} ms" for e in engines]
            for (set_name, rotation), row in results.items()]
    attempts = sum((row["attempts"] for row in results.values()), start=Counter())
    sections = [
        ("Decoding per set and rotation",
         ["set", "rotation", "images"] + [f"{e}: read / wrong" for e in engines] + [f"{e}: median" for e in engines],
         rows, "read: the expected text among the codes of the folder's symbology; wrong: texts returned that are "
         "not the expected one."),
        ("Decoding: which attempt of the cascade read the picture", ["attempt", "pictures (all sets, rotations)"],
         [[a or "(not read)", n] for a, n in attempts.most_common()], ""),
    ]
    notes = ["Decoding: " + HOW]
    wrong = [w for set_name in SETS for w in summary(results, "refurb", set_name)["wrong"]]
    if wrong:
        notes.append("Decoding, texts refurb returned that differ from the expected file: " + "; ".join(
            f"{label} at {rotation}°: {text[:40]!r}" for label, rotation, text in wrong))
        notes += [f"{label}: {why}." for label, why in CORPUS_REMARKS.items() if any(w[0] == label for w in wrong)]
    return figures, sections, notes
