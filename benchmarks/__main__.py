"""python -m benchmarks [--devices N] [--samples M] …: measure, print the table, write RESULTS.md."""

import argparse
import os
import re
import shlex
import sys
import tempfile
import time
import uuid
from pathlib import Path

from . import report
from .stats import median, ms, p99

HERE = Path(__file__).resolve().parent
DEFAULT_PG = os.environ.get("REFURB_BENCH_PG") or os.environ.get("REFURB_TEST_PG") or \
    "postgresql://postgres@127.0.0.1:5432/test"
PARTS = ("startup", "sqlite", "postgres", "decoding", "station", "manifest", "labels", "export", "status")
SQLITE_MEDIAN_MS, SQLITE_P99_MS, PG_FACTOR = 5, 20, 3


def log(message):
    print(message, file=sys.stderr, flush=True)


def parse(argv):
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    p.add_argument("--devices", type=int, default=2000, help="devices in each benchmark database (default 2000; "
                   "the SPEC's budget is for 100000)")
    p.add_argument("--samples", type=int, default=300, help="devices timed through reimage, QC and allocate "
                   "(default 300, i.e. 900 transitions)")
    p.add_argument("--station-devices", type=int, default=100_000, help="devices in the station benchmark "
                   "(default 100000, ten events each: the SPEC's size)")
    p.add_argument("--runs", type=int, default=15, help="runs of `refurb --help` and of the floor (default 15)")
    p.add_argument("--setup", choices=("clone", "services"), default="clone",
                   help="fill the database by copying one device made through refurb.services (clone, fast) or "
                   "by making every device through refurb.services (slow)")
    p.add_argument("--pg", default=DEFAULT_PG, help="PostgreSQL server to use, in a scratch schema "
                   "(default: REFURB_BENCH_PG, REFURB_TEST_PG or the local test server)")
    p.add_argument("--zxing-samples", type=Path, default=None, help="the decoding corpus (default: "
                   "../shared/external/zxing-samples next to the checkout)")
    p.add_argument("--manifest-rows", type=int, default=100_000, help="rows in the manifest import benchmark "
                   "(default 100000: the SPEC's size)")
    p.add_argument("--labels", type=int, default=10_000, help="labels in the label benchmark (default 10000)")
    p.add_argument("--export-devices", type=int, default=100_000, help="ready devices in the stock export "
                   "benchmark (default 100000)")
    p.add_argument("--status-devices", type=int, default=100_000, help="devices in the status benchmark "
                   "(default 100000, ten events each)")
    p.add_argument("--only", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)}")
    p.add_argument("--output", type=Path, default=HERE / "RESULTS.md")
    p.add_argument("--no-write", action="store_true", help="print the table only")
    p.add_argument("--strict", action="store_true", help="exit 1 when a figure is over its budget")
    args = p.parse_args(argv)
    args.only = [x.strip() for x in args.only.split(",") if x.strip()]
    unknown = set(args.only) - set(PARTS)
    if unknown:
        p.error(f"--only: unknown {', '.join(sorted(unknown))}")
    if args.devices < 1 or args.samples < 1 or args.runs < 1:
        p.error("--devices, --samples and --runs must be at least 1")
    return args


def bench_startup(args, figures, notes):
    from . import startup

    log(f"start-up: {args.runs} runs of `refurb --help` and of `python -c pass` …")
    r = startup.measure(args.runs)
    figures.append(report.Figure("`refurb --help` (median wall time)", ms(r["help"]), startup.BUDGET_MS, ms(r["floor"]),
                                 note=f"`{Path(r['command'].split()[0]).name} --help` in a fresh process; "
                                 "floor: `python -c pass` with the same interpreter"))
    notes.append(f"Start-up: median of {r['runs']} alternating runs of each command after one warm-up run, "
                 "stdout discarded.")


def bench_decoding(args, figures, sections, notes):
    from . import decoding

    root = args.zxing_samples or decoding.ROOT
    if not root.is_dir():
        notes.append(f"Decoding: not measured, {root} is missing.")
        return
    more_figures, more_sections, more_notes = decoding.report(decoding.measure(root, progress=log))
    figures += more_figures
    sections += more_sections
    notes += more_notes


def bench_database(kind, url, home, args, figures, details, notes, run):
    from refurb import db

    from . import audit, population, transitions

    label = "SQLite" if kind == "sqlite" else "PostgreSQL"
    log(f"{label}: filling the database with {args.devices} devices ({args.setup}) …")
    start = time.perf_counter()
    ctx = population.context(url, home)
    tag_list = population.populate(ctx, args.devices, args.setup,
                                   progress=lambda n, total: log(f"  {n}/{total} devices"))
    fill = time.perf_counter() - start

    log(f"{label}: refurb audit verify …")
    verify_s, events, devices = audit.verify(ctx)
    floor_s = audit.floor(url)
    cli_s = audit.cli(url, home)
    per = 1000 / events
    figures.append(report.Figure(f"{label}: audit verify per 1 000 events", ms(verify_s) * per, None, ms(floor_s) * per,
                                 note=f"{events} events, {devices} devices: {verify_s:.2f} s in process; "
                                 f"`refurb audit verify` as a command took {cli_s:.2f} s in all"))
    run.setdefault("sizes", {})[label] = (devices, events, fill)

    chosen = population.sample(tag_list, args.samples + 5)
    log(f"{label}: timing {len(chosen)} devices × reimage, QC, allocate …")
    floor = transitions.SqliteFloor(url.split(":///", 1)[1]) if kind == "sqlite" else transitions.PostgresFloor(url)
    try:
        run["warmup"] = min(5, max(0, len(chosen) - args.samples))
        t = transitions.measure(ctx, chosen, floor, warmup=run["warmup"])
    finally:
        floor.close()
    n = len(t["all"])
    med, tail = ms(median(t["all"])), ms(p99(t["all"]))
    budget_med = SQLITE_MEDIAN_MS * (1 if kind == "sqlite" else PG_FACTOR)
    budget_p99 = SQLITE_P99_MS * (1 if kind == "sqlite" else PG_FACTOR)
    where = "the same file" if kind == "sqlite" else "the same schema"
    figures.append(report.Figure(f"{label}: transition, median", med, budget_med, ms(median(t["floor"])),
                                 note=f"{n} transitions on {devices} devices / {events} events; floor: "
                                 f"bare BEGIN{' IMMEDIATE' if kind == 'sqlite' else ''}; INSERT; COMMIT on {where}"))
    figures.append(report.Figure(f"{label}: transition, p99", tail, budget_p99, ms(p99(t["floor"]))))
    for name, _state, _fn in transitions.STEPS:
        details.append([label, name, f"{ms(median(t[name])):.2f} ms", f"{ms(p99(t[name])):.2f} ms",
                        f"{ms(median(t[name + '_cpu'])):.2f} ms", len(t[name])])
    run.setdefault("medians", {})[label] = (med, tail)
    db.dispose_all()


def bench_station(args, figures, notes, run):
    """Scan → committed action through refurb.station at the SPEC's size (100 000 devices, 1 000 000 events)."""
    from . import station

    with tempfile.TemporaryDirectory(prefix="refurb-bench-") as tmp:
        log(f"station: {args.station_devices} devices, 10 events each (SQLite) …")
        rows = [("SQLite", station.run_sqlite(args.station_devices, args.samples, tmp))]
        schema = _pg_schema(args.pg, {})
        if schema is not None:
            url, drop = schema
            drop()
            log(f"station: {args.station_devices} devices (PostgreSQL) …")
            rows.append(("PostgreSQL", station.run_postgres(args.station_devices, args.samples, tmp, args.pg)))
    run["station_medians"] = {label: r["median"] for label, r in rows}
    for label, r in rows:
        factor = 1 if label == "SQLite" else PG_FACTOR
        what = f"{r['samples']} scans in the image station on {r['devices']} devices / {r['events']} events"
        figures.append(report.Figure(f"{label}: station scan, median", ms(r["median"]), SQLITE_MEDIAN_MS * factor,
                                     ms(r["floor_median"]), note=what + "; floor: a bare write on the same database"))
        figures.append(report.Figure(f"{label}: station scan, p99", ms(r["p99"]), SQLITE_P99_MS * factor,
                                     ms(r["floor_p99"])))
    notes.append("Station: benchmarks/station.py fills the database by cloning one device with ten events "
                 "(valid hash chain), then times refurb.station.Station.handle(tag) in `image` mode: resolve, "
                 "guards, image record and event committed.")


def bench_manifest(args, figures, notes):
    from . import manifest

    log(f"manifest: import of {args.manifest_rows} rows, 3 rounds …")
    r = manifest.run(args)
    figures.append(report.Figure(
        f"Manifest import of {r['rows']} rows (SQLite)", ms(r["import_s"]), ms(r["floor_s"]) * manifest.BUDGET_RATIO,
        ms(r["floor_s"]), note=f"floor: csv + sqlite3 executemany of the same rows into refurb's device table; "
        f"into a bare one-table database {ms(r['bare_floor_s']):.0f} ms, a ratio of {r['bare_ratio']:.1f}×"))
    figures.append(report.Figure("Manifest import: peak memory (MB)", r["peak_mb"], manifest.BUDGET_MB, unit="n",
                                 note="max RSS of a fresh process importing the file once"))


def bench_labels(args, figures, notes):
    from . import labels

    log(f"labels: {args.labels} labels (Code 128 + QR) to PDF …")
    r = labels.run(args)
    figures.append(report.Figure(
        f"Labels: {r['labels']} with Code 128 + QR to PDF", ms(r["render_s"]), ms(r["budget_s"]), ms(r["floor_s"]),
        note=f"{r['labels_per_s']:.0f} labels/s; floor: bare reportlab drawing its own Code 128 widget on the same "
        f"grid ({r['floor_labels_per_s']:.0f}/s); reportlab's QR widget: {r['reportlab_qr_labels_per_s']:.0f}/s"))


def bench_export(args, figures, notes):
    from . import export

    log(f"export: {args.export_devices} ready devices …")
    args.progress = lambda done, total: done % 20000 < 2000 and log(f"  {done}/{total} devices")
    r = export.run(args)
    figures.append(report.Figure(
        f"Ready-stock export, CSV, {r['rows']} devices", ms(r["export_s"]), export.BUDGET * ms(r["floor_s"]),
        ms(r["floor_s"]), note="floor: the same columns with sqlite3 + csv.writer"))


def bench_status(args, figures, notes):
    from . import status

    log(f"status: {args.status_devices} devices …")
    r = status.run(args)
    size = f"{r['devices']} devices / {r['events']} events"
    figures.append(report.Figure("`refurb status`, every event in the window", ms(r["busy_s"]), None,
                                 ms(r["busy_floor_s"]), note=f"{size}; floor: sqlite3 GROUP BY action, station "
                                 "over the window + devices per state"))
    figures.append(report.Figure("`refurb status`, a quiet month", ms(r["quiet_s"]), None, ms(r["quiet_floor_s"])))
    figures.append(report.Figure("Funder report, this month", ms(r["funder_s"]), None, ms(r["funder_floor_s"]),
                                 note="floor: sqlite3 distinct devices received in the period"))


def main(argv=None):
    args = parse(sys.argv[1:] if argv is None else argv)
    info = report.machine()
    figures, details, notes, sections = [], [], [], []
    run = {"argv": shlex.join(sys.argv[1:] if argv is None else argv)}
    os.environ["REFURB_LANG"] = "en"
    started = time.perf_counter()

    if "startup" in args.only:
        bench_startup(args, figures, notes)

    if "sqlite" in args.only:
        with tempfile.TemporaryDirectory(prefix="refurb-bench-") as tmp:
            bench_database("sqlite", f"sqlite:///{tmp}/refurb.db", Path(tmp), args, figures, details, notes, run)

    if "postgres" in args.only:
        schema_url = _pg_schema(args.pg, run)
        if schema_url is None:
            notes.append(f"PostgreSQL: not measured, {run['pg_skip']}.")
        else:
            url, drop = schema_url
            try:
                with tempfile.TemporaryDirectory(prefix="refurb-bench-") as tmp:
                    run["pg_version"] = _pg_version(url)
                    bench_database("postgres", url, Path(tmp), args, figures, details, notes, run)
            finally:
                drop()

    if "decoding" in args.only:
        bench_decoding(args, figures, sections, notes)

    if "station" in args.only:
        bench_station(args, figures, notes, run)

    for part, bench in (("manifest", bench_manifest), ("labels", bench_labels), ("export", bench_export),
                        ("status", bench_status)):
        if part in args.only:
            bench(args, figures, notes)

    station = run.get("station_medians", {})
    if "SQLite" in station and "PostgreSQL" in station:
        figures.append(report.Figure("PostgreSQL ÷ SQLite, station scan median", station["PostgreSQL"] / station["SQLite"],
                                     PG_FACTOR, None, unit="x", note="SPEC §12: at the station's size (100 000 "
                                     "devices, 1 000 000 events), PostgreSQL on loopback within 3× of SQLite"))
    medians = run.get("medians", {})
    if "SQLite" in medians and "PostgreSQL" in medians:
        ratio = medians["PostgreSQL"][0] / medians["SQLite"][0]
        figures.append(report.Figure("PostgreSQL ÷ SQLite, transition median (small database)", ratio, None, None,
                                     unit="x", note="the same ratio on the small benchmark database; SQLite's "
                                     "transitions are cheapest there, so the ratio is larger than at the SPEC's size"))
    for label, (devices, events, fill) in run.get("sizes", {}).items():
        how = ("one device made through refurb.services, the rest copied with a valid hash chain"
               if args.setup == "clone" else "every device made through refurb.services")
        notes.append(f"{label}: {devices} devices and {events} events, filled in {fill:.1f} s ({how}). "
                     "SPEC §12's station budget is for 100 000 devices and 1 000 000 events: "
                     "`python -m benchmarks --devices 170000` gets there.")
    if run.get("sizes"):  # a database was measured
        notes.append("Transitions: each timed device goes wiped → imaged (refurb.services.reimage) → ready "
                     "(record_qc --pass) → allocated (allocate), as a station calls them: tag resolved, guards "
                     "checked, records and hash-chained events committed in one transaction. One floor write "
                     f"follows each transition; the first {run.get('warmup', 5)} devices warm up and are not "
                     "counted. p99 is nearest-rank.")
        notes.append("Audit: services.verify_audit walks the whole chain and replays every device; floor: read "
                     "every event row in id order with the bare driver and SHA-256 it. The SPEC sets no budget.")
    notes.append(f"Whole run: {time.perf_counter() - started:.0f} s.")

    end_load = os.getloadavg()[0]
    info["load_end"] = f"{end_load:.2f}"
    if end_load > (info["nproc"] or 1):
        info["busy"], info["load1"] = True, max(info["load1"], end_load)
    table = report.text_table(figures)
    print(table)
    if "PostgreSQL" not in run.get("sizes", {}) and "postgres" in args.only:
        print(f"(PostgreSQL not measured: {run.get('pg_skip', 'it failed')})")
    if not args.no_write:
        args.output.write_text(report.markdown(figures, info, run, details, notes, sections), encoding="utf-8")
        log(f"wrote {args.output}")
    over = [f.name for f in figures if f.within is False]
    if over:
        log("over budget: " + "; ".join(over))
    return 1 if over and args.strict else 0


def _pg_schema(base, run):
    """(url of a scratch schema, drop()), or None when the server is unreachable (why: run["pg_skip"])."""
    try:
        import psycopg

        conn = psycopg.connect(base, connect_timeout=3, autocommit=True)
    except Exception as exc:  # any failure to connect: no PostgreSQL figures, said so in the results
        reason = str(exc).splitlines()[0] if str(exc) else repr(exc)
        shown = re.sub(r"(//[^:/@]+):[^@/]+@", r"\1:***@", base)  # never print a password
        run["pg_skip"] = f"{shown} unreachable ({reason})"
        log(f"PostgreSQL at {run['pg_skip']}")
        return None
    schema = "bench_" + uuid.uuid4().hex[:10]
    conn.execute(f"CREATE SCHEMA {schema}")
    url = base + ("&" if "?" in base else "?") + f"options=-csearch_path%3D{schema}"

    def drop():
        from refurb import db

        db.dispose_all()
        conn.execute(f"DROP SCHEMA {schema} CASCADE")
        conn.close()

    return url, drop


def _pg_version(url):
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute("SHOW server_version").fetchone()[0].split()[0]


if __name__ == "__main__":
    sys.exit(main())
