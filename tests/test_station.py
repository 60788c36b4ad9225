"""Scanning stations: piped scans through `refurb station MODE --json`, on SQLite and PostgreSQL.

Set up through refurb.services, act through the CLI, check every outcome and what the database says.
"""

import json

import pytest

from refurb import scanning, services, tags

BATCH = "ACME-1"


@pytest.fixture
def stock(ctx):
    services.add_donor(ctx, "Acme NV")
    services.add_batch(ctx, "Acme NV", BATCH)
    services.add_digipunt(ctx, "Gent Zuid")
    return ctx


def expected(ctx, serial, donor_tag=None, model="ThinkPad T480"):
    return services.expect_device(ctx, BATCH, "laptop", "Lenovo", model, serial, donor_tag)["tag"]


def ready(ctx, serial):
    tag = services.register_device(ctx, BATCH, "laptop", "Dell", "Latitude 5490", serial)["tag"]
    services.add_medium(ctx, tag, "nvme", "M-" + serial)
    services.record_wipe(ctx, tag, "M-" + serial, "nvme-sanitize", "pass")
    services.reimage(ctx, tag, "linux-mint")
    return tag


def scans(cli, mode, lines, *options):
    r = cli("station", mode, "--json", *options, input="".join(line + "\n" for line in lines))
    assert "Traceback" not in r.stdout + r.stderr
    return r, [json.loads(line) for line in r.stdout.splitlines()]


def state(ctx, tag):
    return services.show(ctx, tag)["state"]


def test_a_mixed_intake_stream_gives_exactly_the_expected_outcomes(cli, stock):
    t1 = expected(stock, "PF1ABC23")
    t2 = expected(stock, "PF1ABC24")
    t3 = expected(stock, "PF1ABC25", donor_tag="ACME-LT-0412")
    t4 = expected(stock, "PF1ABC26")
    misread = t1[:-1] + ("0" if t1[-1] != "0" else "1")
    mangled = scanning.type_as("be-azerty", t2)
    assert mangled != t2
    r, out = scans(cli, "intake", [t1, mangled, misread, "NOPE-123", "ACME-LT-0412", "pf1abc26", "undo"])
    assert r.exit_code == 1  # two scans were refused
    assert [(o["ok"], o["action"], o["resolved"], o["state"]) for o in out] == [
        (True, "receive", t1, "intake"),
        (True, "receive", t2, "intake"),
        (False, "misread", None, None),
        (False, "intake", None, None),
        (True, "receive", t3, "intake"),
        (True, "receive", t4, "intake"),
        (True, "undo", t4, "expected"),
    ]
    assert out[1]["layout"] == "be-azerty" and t2 in out[1]["message"]
    assert out[2]["code"] == "misread-tag"
    assert "piped input" in out[3]["message"]
    assert [o["input"] for o in out[:3]] == [t1, mangled, misread]
    # the database agrees
    assert [state(stock, t) for t in (t1, t2, t3, t4)] == ["intake", "intake", "intake", "expected"]
    history = services.show(stock, t4)["events"]
    assert [e["action"] for e in history] == ["expect", "receive", "undo"]
    assert history[-1]["data"]["undoes"] == history[1]["id"]
    assert services.verify_audit(stock).ok


def test_every_scan_ok_exits_0_and_the_text_view_counts(cli, stock):
    t1 = expected(stock, "S-1")
    r = cli("station", "intake", input=t1 + "\n")
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[-2].startswith(f"✔ {t1}  Lenovo ThinkPad T480  received")
    assert lines[-2].endswith("#1")
    assert lines[-1] == "1 scans done, 0 refused (intake station)"


def test_qc_station_uses_grade_and_failing_item_cards(cli, stock):
    a, b, c = ready(stock, "Q-1"), ready(stock, "Q-2"), ready(stock, "Q-3")
    r, out = scans(cli, "qc", ["RBCMD-GRADE-B", a, "RBCMD-FAIL-KEYBOARD", b, c])
    assert r.exit_code == 0, out
    assert [(o["action"], o["state"]) for o in out] == [
        ("card", None), ("qc_pass", "ready"), ("card", None), ("qc_fail", "repair"), ("qc_pass", "ready")]
    assert services.show(stock, a)["grade"] == "B"
    assert state(stock, b) == "repair"


def test_allocate_station_and_undo_by_card(cli, stock):
    a = ready(stock, "A-1")
    services.record_qc(stock, a, True, {}, "A")
    r, out = scans(cli, "allocate", [a, "RBCMD-UNDO", a], "--digipunt", "Gent Zuid")
    assert r.exit_code == 0, out
    assert [(o["action"], o["state"]) for o in out] == [("allocate", "allocated"), ("undo", "ready"),
                                                         ("allocate", "allocated")]
    assert services.show(stock, a)["location"] == "Gent Zuid"
    assert services.verify_audit(stock).ok


def test_undo_after_another_action_on_the_device_is_refused(cli, stock):
    a = ready(stock, "U-1")
    services.record_qc(stock, a, True, {}, "A")
    r, out = scans(cli, "allocate", [a], "--digipunt", "Gent Zuid")
    assert out[0]["ok"]
    # another station acts on it; this session's undo may no longer reverse anything
    services.allocate(stock, a, release=True)
    station = pytest.importorskip("refurb.station")
    st = station.Station(stock, "allocate", station.Context(digipunt="Gent Zuid"))
    assert st.handle(a).ok
    services.allocate(stock, a, release=True)
    outcome = st.handle("undo")
    assert (outcome.ok, outcome.code) == (False, "undo-too-late")
    assert state(stock, a) == "ready"


def test_scanner_garbage_is_rejected_cleanly(cli, stock):
    t1 = expected(stock, "G-1")
    garbage = ["\x00\x01\x02", "A" * 1_000_000, t1]
    r, out = scans(cli, "intake", garbage)
    assert r.exit_code == 1
    assert [o["ok"] for o in out] == [False, False, True]
    assert len(out[1]["input"]) < 100
    assert state(stock, t1) == "intake"


def test_invalid_utf8_is_rejected_not_a_traceback(cli, stock):
    t1 = expected(stock, "G-2")
    r = cli("station", "intake", "--json", input=b"\xff\xfe\xfa\n" + t1.encode() + b"\n")
    out = [json.loads(line) for line in r.stdout.splitlines()]
    assert [o["ok"] for o in out] == [False, True]
    assert r.exit_code == 1


def test_a_station_without_operator_asks_for_a_badge(cli, stock, monkeypatch):
    t1 = expected(stock, "B-1")
    monkeypatch.delenv("REFURB_OPERATOR")
    sara = next(o for o in services.list_operators(stock) if o["name"] == "Sara")
    r, out = scans(cli, "intake", [t1, f"RBOP-{sara['id']}", t1])
    assert [(o["ok"], o["action"]) for o in out] == [(False, "intake"), (True, "card"), (True, "receive")]
    assert out[0]["code"] == "no-operator"
    assert services.show(stock, t1)["events"][-1]["operator"] == "Sara"


def test_mangled_cards_are_repaired_from_every_layout(cli, stock):
    a = ready(stock, "L-1")
    for layout in scanning.LAYOUTS:
        card = scanning.type_as(layout, "RBCMD-GRADE-B")
        st = pytest.importorskip("refurb.station").Station(stock, "qc")
        outcome = st.handle(card)
        assert (outcome.ok, outcome.action) == (True, "card")
        # BE and FR AZERTY type this card identically: either name is right; UK types it unchanged
        same = {layout, "be-azerty", "fr-azerty"} if "azerty" in layout else {layout}
        assert outcome.layout in same | ({None} if card == "RBCMD-GRADE-B" else set())
        assert st.context.grade == "B"
    assert tags.looks_like_tag(a)


# ---------------------------------------------------------------------------- pictures, webcam, cards

SAMPLES = __import__("pathlib").Path(__file__).resolve().parents[1].parent / "shared" / "external" / "zxing-samples"


def test_scan_image_reads_the_shared_pictures(cli, stock):
    files = sorted((SAMPLES / "qrcode-1").glob("*.webp"))[:2] + sorted((SAMPLES / "code128-1").glob("*.webp"))[:2]
    if len(files) < 4:
        pytest.skip(f"{SAMPLES} is not there")
    r = cli("scan", "image", *files, "--json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert [o["file"] for o in out] == [str(f) for f in files]
    for o, f in zip(out, files, strict=True):
        expected_text = f.with_suffix(".txt").read_text(encoding="utf-8")
        assert expected_text in [c["text"] for c in o["codes"]], f


def test_scan_image_of_a_broken_file_is_one_line_and_exit_1(cli, stock, tmp_path):
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not a picture")
    r = cli("scan", "image", junk, "--json")
    assert r.exit_code == 1
    assert json.loads(r.stdout) == [{"file": str(junk), "error": f"{junk}: not an image OpenCV can read"}]
    assert "Traceback" not in r.stderr


def test_a_recording_feeds_the_station(cli, stock, tmp_path):
    cv2 = pytest.importorskip("cv2")
    pytest.importorskip("numpy")
    import pypdfium2
    from reportlab.graphics import renderPDF
    from reportlab.graphics.barcode import createBarcodeDrawing

    tag = expected(stock, "V-1")
    drawing = createBarcodeDrawing("Code128", value=tag, barWidth=1.0, barHeight=40)
    picture = pypdfium2.PdfDocument(renderPDF.drawToString(drawing))[0].render(scale=3).to_numpy()
    gray = cv2.cvtColor(picture, cv2.COLOR_BGRA2GRAY if picture.shape[2] == 4 else cv2.COLOR_BGR2GRAY)
    frame = cv2.copyMakeBorder(gray, 60, 60, 60, 60, cv2.BORDER_CONSTANT, value=255)
    frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    frame = cv2.resize(frame, (frame.shape[1] // 8 * 8, frame.shape[0] // 8 * 8))
    path = tmp_path / "bench.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (frame.shape[1], frame.shape[0]))
    if not writer.isOpened():
        pytest.skip("this OpenCV build cannot write MJPG videos")
    for _ in range(15):  # held in front of the camera for 1.5 s: one scan
        writer.write(frame)
    writer.release()
    r = cli("scan", "camera", "--mode", "intake", "--video", path, "--json")
    assert r.exit_code == 0, r.stdout + r.stderr
    out = [json.loads(line) for line in r.stdout.splitlines()]
    assert [(o["resolved"], o["action"], o["state"]) for o in out] == [(tag, "receive", "intake")]


def test_station_cards_scan_back(cli, stock, tmp_path):
    pdfium = pytest.importorskip("pypdfium2")
    import numpy as np
    import zxingcpp

    out = tmp_path / "cards.pdf"
    r = cli("station", "cards", "--out", out, "--json")
    assert r.exit_code == 0, r.stderr
    report = json.loads(r.stdout)
    read = set()
    pdf = pdfium.PdfDocument(str(out))
    for page in pdf:
        gray = np.array(page.render(scale=203 / 72).to_pil().convert("L"))
        read |= {b.text for b in zxingcpp.read_barcodes(gray)}
    assert len(read) == report["cards"]
    assert {"RBCMD-UNDO", "RBCMD-GRADE-B", "RBCMD-FAIL-KEYBOARD", "RBCMD-IMAGE-LINUX-MINT"} <= read
    sara = next(o for o in services.list_operators(stock) if o["name"] == "Sara")
    assert f"RBOP-{sara['id']}" in read
    punt = next(p for p in services.list_digipunten(stock) if p["name"] == "Gent Zuid")
    assert f"RBCMD-DIGIPUNT-{punt['id']}" in read
    # and every card read back is one a station understands
    assert all(scanning.parse_card(text) is not None for text in read)


def test_lookup_resolves_vendor_forms_imei_mac_and_shows_ambiguity(cli, stock):
    lenovo = services.register_device(stock, BATCH, "laptop", "Lenovo", "ThinkPad T480", "PF1ABC23")["tag"]
    dell = services.register_device(stock, BATCH, "laptop", "Dell", "Latitude", "5RFDP01")["tag"]
    phone = services.register_device(stock, BATCH, "phone", "Samsung", "A52", "R58N1", imei="490154203237518",
                                     mac="a4:5e:60:c2:11:0f")["tag"]
    twin_a = services.register_device(stock, BATCH, "laptop", "HP", "840", "X-1", donor_tag="SAME")["tag"]
    twin_b = services.register_device(stock, BATCH, "laptop", "HP", "840", "X-2")["tag"]
    services.add_donor(stock, "Other NV")
    services.add_batch(stock, "Other NV", "OTHER-1")
    # a second donor uses the same donor tag for another device: shown, never guessed
    services.register_device(stock, "OTHER-1", "laptop", "HP", "840", "X-3", donor_tag="SAME2")
    r, out = scans(cli, "lookup", ["1S20L5CTO1WWPF1ABC23", scanning.dell_express_code("5RFDP01"), "490154203237518",
                                    "A45E.60C2.110F", "SAME", twin_b.lower()])
    assert [(o["ok"], o["resolved"]) for o in out] == [
        (True, lenovo), (True, dell), (True, phone), (True, phone), (True, twin_a), (True, twin_b)]
    assert r.exit_code == 0


def test_a_code_matching_two_devices_is_shown_not_guessed(cli, stock):
    a = services.register_device(stock, BATCH, "laptop", "HP", "840", "DUP-1", donor_tag="D-9")["tag"]
    b = services.register_device(stock, BATCH, "laptop", "HP", "840", "D-9")["tag"]
    r, out = scans(cli, "lookup", ["D-9"])
    # the donor tag is looked up before the serial: resolution order decides, no ambiguity
    assert out[0]["resolved"] == a
    services.register_device(stock, BATCH, "laptop", "HP", "840", "DUP-2", donor_tag="D-10")
    services.register_device(stock, BATCH, "laptop", "HP", "840", "DUP-3")
    import sqlalchemy

    from refurb import db

    with db.engine_for(stock.url).begin() as conn:  # two devices with one donor tag (two manifests did that)
        conn.execute(sqlalchemy.text("UPDATE device SET donor_tag = 'D-10' WHERE serial = 'DUP-3'"))
    r, out = scans(cli, "lookup", ["D-10"])
    assert (out[0]["ok"], out[0]["code"]) == (False, "ambiguous")
    assert b not in out[0]["message"] and "D-10" in out[0]["message"]


def test_a_repeated_scan_is_a_no_op_and_undo_still_reverses_the_real_action(cli, stock):
    a = ready(stock, "R-1")
    services.record_qc(stock, a, True, {}, "A")
    r, out = scans(cli, "allocate", [a, a, "u"], "--digipunt", "Gent Zuid")
    assert r.exit_code == 0, out
    assert [(o["ok"], o["action"], o["state"]) for o in out] == [
        (True, "allocate", "allocated"), (True, "allocate", "allocated"), (True, "undo", "ready")]
    assert "nothing to do" in out[1]["message"]
    assert state(stock, a) == "ready"
    assert [e["action"] for e in services.show(stock, a)["events"]].count("allocate") == 1


# ---------------------------------------------------------------------------- found in review


def test_a_failing_item_card_waits_for_a_real_device(cli, stock):
    a, b = ready(stock, "F-1"), ready(stock, "F-2")
    misread = a[:-1] + ("0" if a[-1] != "0" else "1")
    r, out = scans(cli, "qc", ["RBCMD-GRADE-B", "RBCMD-FAIL-SCREEN", misread, "NOPE-1", a,
                               "RBCMD-FAIL-SCREEN", scanning.type_as("be-azerty", b)])
    assert [(o["action"], o["ok"]) for o in out] == [
        ("card", True), ("card", True), ("misread", False), ("qc", False), ("qc_fail", True),
        ("card", True), ("qc_fail", True)]
    assert state(stock, a) == state(stock, b) == "repair"


def test_an_unknown_badge_or_card_is_one_refused_scan_not_the_end(cli, stock):
    a = ready(stock, "K-1")
    services.record_qc(stock, a, True, {}, "A")
    r, out = scans(cli, "allocate", ["RBOP-999", "RBOP-9999999999", "RBCMD-DIGIPUNT-99", "RBCMD-FOO", a],
                   "--digipunt", "Gent Zuid")
    assert r.exit_code == 1
    assert [(o["ok"], o.get("code")) for o in out] == [
        (False, "not-found"), (False, "not-found"), (False, "not-found"), (False, "unknown-card"), (True, None)]
    assert state(stock, a) == "allocated"


def test_an_unknown_card_is_never_registered_as_a_device(stock):
    from refurb.station import Station

    st = Station(stock, "intake", register=lambda text: {"batch": BATCH, "kind": "laptop", "serial": text})
    outcome = st.handle("RBCMD-GRADE-D")
    assert (outcome.ok, outcome.code) == (False, "unknown-card")
    assert services.list_devices(stock) == []


def test_undo_never_reaches_back_to_another_device(stock):
    from refurb.station import Context, Station

    a, b = ready(stock, "N-1"), ready(stock, "N-2")
    for t in (a, b):
        services.record_qc(stock, t, True, {}, "B")
        services.allocate(stock, t, "Gent Zuid")
    st = Station(stock, "loan")
    assert st.handle(a).ok and st.handle("BORROWER-1").ok
    assert st.handle(b).action == "loan_pending"
    cancelled = st.handle("u")
    assert (cancelled.ok, cancelled.resolved) == (True, b)
    assert state(stock, a) == "on_loan" and state(stock, b) == "allocated"
    assert st.handle("u").code == "nothing-to-undo"
    assert state(stock, a) == "on_loan"
    c, d = ready(stock, "N-3"), ready(stock, "N-4")
    services.record_qc(stock, d, True, {}, "A")
    qc = Station(stock, "qc", Context(grade="B"))
    assert qc.handle(c).ok and qc.handle(d).ok  # d is ready already: nothing to do
    assert (qc.handle("u").code, state(stock, c)) == ("nothing-to-undo", "ready")
