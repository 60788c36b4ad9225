"""`refurb demo`: one donation from the donor's list to a digipunt's shelf, on a fresh SQLite file.

Everything goes through refurb.services, exactly as the CLI does; nothing here is special-cased.
The evidence files it attaches are small text files it writes itself and says so.
"""

from pathlib import Path

from . import config, exports, reports, scanning, services
from .errors import RefurbError
from .i18n import _, ngettext
from .station import Station

# (key, kind, make, model, serial, donor tag, media [(type, serial, size)], story)
DEVICES = [
    ("t480", "laptop", "Lenovo", "ThinkPad T480", "PF1ABC23", "ACME-LT-0412", [("nvme", "S3Z9NX0K", 512 * 10**9)], "loan"),
    ("840g5", "laptop", "HP", "EliteBook 840 G5", "5CG81234KL", "ACME-LT-0413", [("sata-ssd", "S4BENG0M", 256 * 10**9)],
     "cycle"),
    ("5490", "laptop", "Dell", "Latitude 5490", "7XK2HQ2", "ACME-LT-0414", [("hdd", "WD-WX81A", 500 * 10**9)], "ready"),
    ("ipad", "tablet", "Apple", "iPad (7th gen)", "DMPZ81ABCD", "ACME-TB-0031", [("embedded", "DMPZ81ABCD-NAND", 32 * 10**9)],
     "locked"),
    ("t470", "laptop", "Lenovo", "ThinkPad T470", "PF0XYZ98", "ACME-LT-0415", [("hdd", "Z1E4K7QP", 500 * 10**9)], "retry"),
    ("probook", "laptop", "HP", "ProBook 650 G2", "5CG6123ABC", "ACME-LT-0416", [("hdd", "WCC4M1XY", 500 * 10**9)], "parts"),
    ("7480", "laptop", "Dell", "Latitude 7480", "9QK2HQ2", "ACME-LT-0417", [("nvme", "S3ABCDEF", 256 * 10**9)], "repair"),
    ("opti", "desktop", "Dell", "OptiPlex 3020", "3ZK9PQ1", "ACME-DT-0007", [("hdd", "WD-OLD0001", 250 * 10**9)],
     "recycle"),
    ("cb", "laptop", "Acer", "Chromebook 314", "NXHKDEH00123", "ACME-CB-0002", [("emmc", "EMMC-0002-A", 64 * 10**9)],
     "chromebook"),
    ("tab", "tablet", "Samsung", "Galaxy Tab A8", "R9PT3000XYZ", "ACME-TB-0032", [("embedded", "R9PT3000XYZ-UFS", 64 * 10**9)],
     "android"),
    ("missing", "laptop", "Lenovo", "ThinkPad T490", "PF2MISS01", "ACME-LT-0418", [], "missing"),
]
EXTRA = ("fujitsu", "laptop", "Fujitsu", "Lifebook E548", "DSAB012345", None, [("sata-ssd", "FJ-SSD-7781", 256 * 10**9)],
         "extra")
DEMO_PIN = "1234"  # Sara's PIN in the demo database (lead actions ask for it)
PROFILE_FOR = {"hdd": "hdd-overwrite", "sata-ssd": "sata-ssd-sanitize", "nvme": "nvme-sanitize", "emmc": "emmc-erase"}
IMAGE_FOR = {"laptop": "linux-mint", "desktop": "linux-mint", "tablet": "android-stock"}


def run_demo(folder, console, database_url=None):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if database_url is None:
        for suffix in ("", "-wal", "-shm"):
            (folder / f"refurb.db{suffix}").unlink(missing_ok=True)
        database_url = "sqlite:///" + str((folder / "refurb.db").resolve())
    evidence = folder / "evidence"
    evidence.mkdir(exist_ok=True)
    settings = config.load().with_options(database_url=database_url, tag_prefix="RB")
    base = services.Context(settings, operator="Sara", station="lead-desk", pin=DEMO_PIN)

    def as_(who, bench):
        return services.Context(settings, operator=who, station=bench, pin=DEMO_PIN if who == "Sara" else None)

    def step(message):
        console.say("")
        console.say("▸ " + message, style="bold")

    def proof(name, text):
        path = evidence / name
        path.write_text("refurb demo evidence (written by `refurb demo`, not a real tool log)\n" + text + "\n")
        return path

    step(_("Setting up a demo database in {folder}").format(folder=folder))
    services.init(base)
    services.bootstrap_lead(base, "Sara", DEMO_PIN)
    services.add_donor(base, "Acme NV")
    batch = services.add_batch(base, "Acme NV", "ACME-2026-11", donor_ref="PO-88213")["ref"]
    for name, days in (("Gent Zuid", 56), ("Antwerpen Noord", 28)):
        services.add_digipunt(base, name, days)
    console.ok(_("donor Acme NV, batch {batch}, digipunten Gent Zuid and Antwerpen Noord").format(batch=batch))

    step(_("The donor's list: {n} devices expected").format(n=len(DEVICES)))
    tag = {}
    for key, kind, make, model, serial, donor_tag, _media, _story in DEVICES:
        tag[key] = services.expect_device(base, batch, kind, make, model, serial, donor_tag)["tag"]
    console.ok(_("{n} devices listed as expected").format(n=len(DEVICES)))

    step(_("An scans the pallet at the intake station on bench-1 (one device never arrives, one arrives unlisted)"))
    an = as_("An", "bench-1")
    station = Station(an, "intake")
    scans = []
    for key, *_rest in DEVICES:
        if key == "missing":
            continue
        serial, donor_tag = DEVICES_BY_KEY[key][4], DEVICES_BY_KEY[key][5]
        if key == "5490":  # the scanner is set to US keys on a Belgian AZERTY PC: refurb repairs the scan
            scans.append(scanning.type_as("be-azerty", tag[key]))
        elif key == "ipad":  # a misread tag is refused, then scanned again
            scans += [tag[key][:-1] + ("0" if tag[key][-1] != "0" else "1"), tag[key]]
        else:
            scans.append(donor_tag if key in ("t470", "cb") else serial)
    for code in scans:
        console.scan_result(station.handle(code), station, False)
    key, kind, make, model, serial, donor_tag, _m, _s = EXTRA
    tag[key] = services.register_device(an, batch, kind, make, model, serial, donor_tag)["tag"]
    for key, *_rest in DEVICES + [EXTRA]:
        if key == "missing":
            continue
        for mtype, mserial, size in DEVICES_BY_KEY[key][6]:
            services.add_medium(an, tag[key], mtype, mserial, size)
    console.ok(_("{n} devices in intake with their storage media recorded").format(n=len(DEVICES)))

    step(_("Bram wipes at bench-2"))
    bram = as_("Bram", "bench-2")
    stories = {d[0]: d[7] for d in DEVICES + [EXTRA]}
    for key, *_rest in DEVICES:
        story = stories[key]
        if story in ("missing", "locked"):
            continue
        for mtype, mserial, _size in DEVICES_BY_KEY[key][6]:
            profile = PROFILE_FOR.get(mtype, "android-reset")
            log = proof(f"wipe-{mserial}.log", f"medium {mserial} profile {profile}")
            if story in ("retry", "parts"):
                r = services.record_wipe(bram, tag[key], mserial, profile, "fail", evidence=[log])
                console.say(f"  ✘ {tag[key]} {mserial}: " + _("wipe failed") + f" → {r['state']}", style="red")
                if story == "parts":
                    services.record_wipe(base, tag[key], mserial, "destroy", "pass",
                                         evidence=[proof(f"shred-{mserial}.txt", "drive shredded")])
                    continue
            elif story == "recycle":
                profile = "destroy"
            services.record_wipe(bram, tag[key], mserial, profile, "pass", evidence=[log])
    console.ok(_("wiped: {n} devices").format(n=services.state_counts(base).get("wiped", 0)))

    step(_("The iPad has Activation Lock: it waits for the donor"))
    services.lock(bram, tag["ipad"], "activation-lock", note="Find My iPad on, owner ACME")
    console.say("  " + _("{tag} locked (activation-lock)").format(tag=tag["ipad"]), style="red")

    step(_("Disposal: the ProBook's failed drive was shredded, its parts harvested; the old OptiPlex is recycled"))
    services.to_parts(base, tag["probook"], note="hinge broken; drive shredded")
    services.recycle(base, tag["opti"], "Recupel", reference="R-2026-118")

    step(_("Reimage and quality check at bench-3"))
    sara = as_("Sara", "bench-3")
    for key in ("t480", "840g5", "5490", "t470", "7480", "cb", "tab"):
        kind = DEVICES_BY_KEY[key][1]
        image = "chromeos-stock" if key == "cb" else IMAGE_FOR[kind]
        services.reimage(sara, tag[key], image)
    for key in ("t480", "840g5", "5490", "t470", "cb", "tab"):
        services.record_qc(sara, tag[key], True, {}, "A" if key in ("t480", "cb") else "B", battery=88 if key == "t480" else None)
    services.record_qc(sara, tag["7480"], False, {"keyboard": "fail"})
    console.say("  ✘ " + _("{tag}: keyboard fails → repair").format(tag=tag["7480"]), style="red")
    services.repair(sara, tag["7480"], done=True, note="keyboard replaced")
    services.record_qc(sara, tag["7480"], True, {}, "B")
    console.ok(_("ready: {n} devices").format(n=services.state_counts(base).get("ready", 0)))

    step(_("Sara allocates ready devices to the digipunten"))
    for key, punt in (("t480", "Gent Zuid"), ("840g5", "Gent Zuid"), ("cb", "Gent Zuid"), ("5490", "Antwerpen Noord"),
                      ("tab", "Antwerpen Noord")):
        services.allocate(base, tag[key], punt)
    console.ok(_("allocated: {n} devices").format(n=services.state_counts(base).get("allocated", 0)))

    step(_("Gent Zuid lends two laptops; one comes back and is wiped again before it may go out again"))
    desk = as_("Lies", "gent-zuid")
    services.loan_out(desk, tag["t480"], "GZ-0042", accessories=["charger", "bag"])
    agreement = reports.loan_agreement(desk, tag["t480"], folder / f"{tag['t480']}-agreement.pdf", "nl", "fr")
    console.ok(_("loan agreement {reference} written to {file}").format(**agreement))
    services.loan_out(desk, tag["840g5"], "GZ-0043")
    services.loan_return(desk, tag["840g5"], "ok")
    try:
        services.allocate(base, tag["840g5"], "Gent Zuid")
    except RefurbError as exc:
        console.say("  " + _("refused, as it should be: {message}").format(message=exc.message), style="yellow")
        for line in exc.context:
            console.say("    " + line.splitlines()[0], style="yellow")
    services.record_wipe(bram, tag["840g5"], "S4BENG0M", "sata-ssd-sanitize", "pass",
                         evidence=[proof("wipe-S4BENG0M-2.log", "second wipe after return")])
    services.reimage(sara, tag["840g5"], "linux-mint")
    services.record_qc(sara, tag["840g5"], True, {}, "B")
    services.allocate(base, tag["840g5"], "Gent Zuid")
    console.ok(_("{tag} wiped, reimaged, checked and back in the Gent Zuid pool").format(tag=tag["840g5"]))

    step(_("Closing the batch"))
    closed = services.close_batch(base, batch)
    console.ok(_("batch {ref}: {n} received, {m} missing, {x} extra").format(
        ref=batch, n=closed["received"], m=len(closed["missing"]), x=len(closed["extra"])))

    step(_("Certificates of sanitization for the donor"))
    certificates = folder / "certificates"
    certificates.mkdir(exist_ok=True)
    for r in (reports.batch_certificate(base, batch, certificates / f"{batch}.pdf", "nl"),
              reports.device_certificate(base, tag["t480"], certificates / f"{tag['t480']}-en.pdf", "en")):
        console.ok(_("certificate {certificate} written to {file} (SHA-256 {sha256})").format(**r))

    step(_("Asset labels for the batch, and the ready-stock lists for the digipunten"))
    printed = reports.print_labels(base, reports.label_records(base, batch=batch), "avery-l7163",
                                   out=folder / "labels.pdf")
    console.ok(ngettext("{labels} label ({template}) → {where}", "{labels} labels ({template}) → {where}",
                        printed["labels"]).format(labels=printed["labels"], template=printed["template"],
                                                  where=folder / "labels.pdf"))
    for punt, name in (("Gent Zuid", "gent-zuid"), ("Antwerpen Noord", "antwerpen-noord")):
        for fmt, suffix in (("excel-csv", "csv"), ("pdf", "pdf")):
            r = exports.write_stock(base, fmt, folder / f"stock-{name}.{suffix}", punt)
            console.ok(ngettext("{rows} device written to {file}", "{rows} devices written to {file}",
                                r["rows"]).format(**r))

    step(_("Where every device ended up"))
    rows = services.list_devices(base, batch=batch)
    console.device_table(rows)

    for punt in ("Gent Zuid", "Antwerpen Noord"):
        step(_("Ready-stock list for {digipunt}").format(digipunt=punt))
        stock = [r for r in rows if r.get("location") == punt and r["state"] == "allocated"]
        console.simple_table(
            [_("tag"), _("kind"), _("make / model"), _("grade")],
            [[r["tag"], r["kind"], f"{r['make']} {r['model']}", r["grade"]] for r in stock],
        )

    step(_("Checking the history"))
    report = services.verify_audit(base)
    if not report.ok:
        raise RefurbError(report.problems[0])
    console.ok(_("history intact: {events} events, {devices} devices, every state matches its events").format(
        events=report.events, devices=report.devices))
    console.say("")
    shown = folder / "refurb.db" if database_url.startswith("sqlite") else database_url
    console.say(_("Try: refurb --db {db} show {tag}").format(db=shown, tag=tag["t480"]))
    console.say(_("Sara is the demo's lead; her PIN is {pin}.").format(pin=DEMO_PIN))
    return tag


DEVICES_BY_KEY = {d[0]: d for d in DEVICES + [EXTRA]}
