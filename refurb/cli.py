"""The Typer app: parse options, call one function of refurb.services, render the result.

Errors become exit codes in exactly one place: RefurbGroup.invoke.  Heavy modules (the
database layer, rich) are imported inside the commands, so `refurb --help` stays fast.
"""

import os
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperGroup
from typer.exceptions import TyperException

from . import i18n
from .errors import Interrupted, RefurbError, UsageProblem
from .i18n import _, ngettext
from .states import CONDITIONS, DEVICE_KINDS, GRADES, LOCK_KINDS, MEDIA_TYPES, ROLES, State


def _peek_config_lang():
    try:
        from .config import default_home, read_config_file

        path = os.environ.get("REFURB_CONFIG") or default_home(os.environ) / "config.toml"
        return read_config_file(path).get("lang")
    except Exception:  # a broken config file is reported properly once the command runs
        return None


i18n.setup(i18n.detect(sys.argv[1:], os.environ, _peek_config_lang()))

# Typer's own parser errors (missing option, bad value …) keep their exit code 2 and wording.
PARSER_ERRORS = (TyperException, typer.Exit, typer.Abort)


class RefurbGroup(TyperGroup):
    """The one place where exceptions become messages and exit codes."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except RefurbError as exc:
            if exc.code == "pin-required" and _ask_pin(exc.data.get("operator")):
                return self.invoke(ctx)  # once more, with the PIN typed at the prompt
            _fail(ctx, exc)
        except KeyboardInterrupt:
            _fail(ctx, Interrupted(_("interrupted"), hint=_("nothing was half-written: each change is one transaction")))
        except BrokenPipeError:
            sys.stderr.close()
            raise typer.Exit(1) from None
        except PARSER_ERRORS:
            raise
        except Exception as exc:  # a bug: say so in one line, the traceback only with --debug
            if (ctx.obj or {}).get("debug"):
                raise
            _fail(ctx, RefurbError(
                _("internal error: {kind}: {message}").format(kind=type(exc).__name__, message=str(exc).splitlines()[0] if str(exc) else ""),
                hint=_("this is a bug in refurb; run again with --debug and report what it prints"),
                code="internal-error",
            ))


def _ask_pin(name):
    """At a terminal, ask for the PIN a lead action needs (never echoed) and keep it for this command."""
    if not sys.stdin.isatty() or os.environ.get("REFURB_PIN"):
        return False
    import getpass

    pin = getpass.getpass(_("PIN for {name}: ").format(name=name or "?"))
    if not pin:
        return False
    os.environ["REFURB_PIN"] = pin
    return True


def _new_pin(name):
    """A new PIN: REFURB_NEW_PIN, or typed twice at a terminal."""
    if os.environ.get("REFURB_NEW_PIN"):
        return os.environ["REFURB_NEW_PIN"]
    if not sys.stdin.isatty():
        raise UsageProblem(_("no new PIN given"), hint=_("run it at a terminal, or set REFURB_NEW_PIN"),
                           code="no-pin")
    import getpass

    first = getpass.getpass(_("new PIN for {name} (4 to 12 digits): ").format(name=name))
    if getpass.getpass(_("the same PIN again: ")) != first:
        raise UsageProblem(_("the two PINs differ"), hint=_("try again"), code="bad-pin")
    return first


def _fail(ctx, exc):
    obj = ctx.obj or {}
    if obj.get("debug"):
        raise exc
    from . import console

    console.error(exc)
    raise typer.Exit(exc.exit_code) from None


app = typer.Typer(
    cls=RefurbGroup,
    name="refurb",
    help=_(
        "refurb: the digibank refurbishment workbench.\n\n"
        "Intake donated devices, wipe, reimage and check them, lend them through digipunten, "
        "and prove per serial number that no data survives."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,  # plain help: rich's markdown stack would cost ~70 ms at every start
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _group(name, help_text):
    sub = typer.Typer(cls=RefurbGroup, help=help_text, no_args_is_help=True, pretty_exceptions_enable=False,
                      rich_markup_mode=None)
    app.add_typer(sub, name=name)
    return sub


donor_app = _group("donor", _("Donors: the companies that give devices."))
batch_app = _group("batch", _("Batches: one donation or pick-up each."))
digipunt_app = _group("digipunt", _("Digipunten: the help points that lend devices out."))
operator_app = _group("operator", _("Operators (volunteers, leads, admins)."))
intake_app = _group("intake", _("Register devices as they arrive."))
media_app = _group("media", _("Storage media: every data-bearing part of a device."))
wipe_app = _group("wipe", _("Wipe records and wipe profiles."))
loan_app = _group("loan", _("Lend devices out and take them back."))
audit_app = _group("audit", _("Check the history for tampering."))
db_app = _group("db", _("Database housekeeping."))

# ---------------------------------------------------------------------------- shared options

Json = Annotated[bool, typer.Option("--json", help=_("Print JSON instead of text."))]
OperatorOpt = Annotated[
    str | None, typer.Option("--operator", "-o", help=_("Who does this (or REFURB_OPERATOR)."), show_default=False)
]
StationOpt = Annotated[
    str | None, typer.Option("--station", help=_("Which bench (or REFURB_STATION; default: host name)."))
]
ForceOpt = Annotated[
    str | None,
    typer.Option("--force", help=_("A lead overrides failing guards, giving the reason (never the wipe guard).")),
]
Code = Annotated[
    str, typer.Argument(help=_("Asset tag, donor asset tag, serial, IMEI or MAC."), show_default=False, metavar="CODE")
]


@app.callback()
def root(
    ctx: typer.Context,
    db: Annotated[
        str | None, typer.Option("--db", help=_("Database URL or SQLite file (or REFURB_DATABASE_URL)."))
    ] = None,
    lang: Annotated[str | None, typer.Option("--lang", help=_("Language: en, nl, fr (or REFURB_LANG)."))] = None,
    config_file: Annotated[
        Path | None, typer.Option("--config", help=_("Config file (or REFURB_CONFIG)."), dir_okay=False)
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help=_("Show tracebacks."))] = False,
    version: Annotated[bool, typer.Option("--version", help=_("Print the version and exit."))] = False,
):
    if version:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as pkg_version

        try:
            typer.echo(f"refurb {pkg_version('refurb')}")
        except PackageNotFoundError:
            typer.echo("refurb (checkout)")
        raise typer.Exit(0)
    ctx.obj = {"debug": debug, "db": db, "lang": lang, "config": config_file}


def _settings(tctx):
    from . import config

    obj = tctx.find_root().obj or {}
    settings = config.load(config_file=obj.get("config")).with_options(database_url=obj.get("db"), lang=obj.get("lang"))
    i18n.setup(settings.lang or i18n.detect((), os.environ))
    return settings


def _ctx(tctx, operator=None, station=None, force=None):
    from .services import Context

    return Context(_settings(tctx), operator=operator, station=station, force=force,
                   pin=os.environ.get("REFURB_PIN") or None)


def _show(json_out, data, render):
    from . import console

    if json_out:
        console.emit_json(data)
    else:
        render(console, data)


# ---------------------------------------------------------------------------- setup


@app.command(help=_("Create the database, or upgrade it in place to this version's schema.\n\n"
                    "Example: refurb init --lead Sara"))
def init(
    tctx: typer.Context,
    lead: Annotated[str | None, typer.Option("--lead", help=_("Make this operator the first lead."))] = None,
    json_out: Json = False,
):
    from . import services

    ctx = _ctx(tctx)
    pin = None
    if lead and (os.environ.get("REFURB_NEW_PIN") or sys.stdin.isatty()):
        pin = _new_pin(lead)
    result = services.init(ctx)
    if lead:
        result["lead"] = services.bootstrap_lead(ctx, lead, pin)["name"]
        result["pin_set"] = pin is not None

    def render(c, r):
        if r["from"] == r["to"]:
            c.ok(_("database {db} is up to date (schema {rev})").format(db=r["database"], rev=r["to"]))
        elif r["from"] is None:
            c.ok(_("database {db} created (schema {rev})").format(db=r["database"], rev=r["to"]))
        else:
            c.ok(_("database {db} upgraded from schema {old} to {new}").format(db=r["database"], old=r["from"], new=r["to"]))
        if r.get("lead"):
            c.ok(_("{name} is a lead").format(name=r["lead"]))
            if not r["pin_set"]:
                c.note(_("lead actions need a PIN: refurb operator pin {name}").format(name=r["lead"]))

    _show(json_out, result, render)


@app.command(help=_("Run a sample donation from intake to a digipunt's shelf, in ./demo/.\n\n"
                    "Example: refurb demo"))
def demo(
    tctx: typer.Context,
    folder: Annotated[Path, typer.Option("--dir", help=_("Folder for the demo database."))] = Path("demo"),
):
    from . import console
    from .demo import run_demo

    obj = tctx.find_root().obj or {}
    if obj.get("lang"):
        i18n.setup(obj["lang"])
    run_demo(folder, console, database_url=obj.get("db"))


@app.command(name="lifecycle", help=_("Show the lifecycle: every state, transition and guard.\n\n"
                                       "Example: refurb lifecycle --json"))
def lifecycle_cmd(json_out: Json = False):
    from . import lifecycle

    rows = [
        {"action": t.action, "from": [str(s) for s in State if s in t.sources], "to": str(t.target),
         "guards": [g.name for g in t.guards], "auto": t.auto, "forceable": [g.name for g in t.guards if g.forceable]}
        for t in lifecycle.TABLE
    ]
    _show(json_out, rows, lambda c, r: c.lifecycle_table(r))


# ---------------------------------------------------------------------------- donors, batches, digipunten


@donor_app.command("add", help=_("Add a donor.\n\nExample: refurb donor add \"Acme NV\" --operator Sara"))
def donor_add(tctx: typer.Context, name: str, json_out: Json = False, operator: OperatorOpt = None,
              station: StationOpt = None):
    from . import services

    r = services.add_donor(_ctx(tctx, operator, station), name)
    _show(json_out, r, lambda c, r: c.ok(_("donor {name} added").format(name=r["name"])))


@donor_app.command("list", help=_("List donors.\n\nExample: refurb donor list --json"))
def donor_list(tctx: typer.Context, json_out: Json = False):
    from . import services

    rows = services.list_donors(_ctx(tctx))
    _show(json_out, rows, lambda c, r: c.simple_table([_("donor")], [[x["name"]] for x in r]))


@batch_app.command("add", help=_("Open a batch for a donation.\n\n"
                                 "Example: refurb batch add --donor \"Acme NV\" --ref ACME-2026-11"))
def batch_add(
    tctx: typer.Context,
    donor: Annotated[str, typer.Option("--donor", help=_("The donor's name."), show_default=False)],
    ref: Annotated[str | None, typer.Option("--ref", help=_("Batch reference (default: B-YEAR-NNNN)."))] = None,
    donor_ref: Annotated[str | None, typer.Option("--donor-ref", help=_("The donor's own reference."))] = None,
    json_out: Json = False, operator: OperatorOpt = None, station: StationOpt = None,
):
    from . import services

    r = services.add_batch(_ctx(tctx, operator, station), donor, ref, donor_ref)
    _show(json_out, r, lambda c, r: c.ok(_("batch {ref} opened for {donor}").format(ref=r["ref"], donor=r["donor"])))


@batch_app.command("list", help=_("List batches.\n\nExample: refurb batch list"))
def batch_list(tctx: typer.Context, json_out: Json = False):
    from . import services

    rows = services.list_batches(_ctx(tctx))
    _show(json_out, rows, lambda c, r: c.simple_table(
        [_("batch"), _("donor"), _("status"), _("devices")], [[x["ref"], x["donor"], x["status"], x["devices"]] for x in r]))


@batch_app.command("close", help=_("Close a batch and report what never arrived (missing) and what came unlisted (extra).\n\n"
                                   "Example: refurb batch close ACME-2026-11"))
def batch_close(tctx: typer.Context, ref: str, json_out: Json = False, operator: OperatorOpt = None,
                station: StationOpt = None):
    from . import services

    r = services.close_batch(_ctx(tctx, operator, station), ref)

    def render(c, r):
        c.ok(_("batch {ref} closed: {n} received, {m} missing, {x} extra").format(
            ref=r["ref"], n=r["received"], m=len(r["missing"]), x=len(r["extra"])))
        for d in r["missing"]:
            c.say("  " + _("missing: {device}").format(device=c.device_words(d)), style="yellow")
        for d in r["extra"]:
            c.say("  " + _("extra: {device}").format(device=c.device_words(d)))

    _show(json_out, r, render)


@digipunt_app.command("add", help=_("Add a digipunt with its loan policy.\n\n"
                                    "Example: refurb digipunt add \"Gent Zuid\" --loan-days 56"))
def digipunt_add(
    tctx: typer.Context, name: str,
    loan_days: Annotated[int, typer.Option("--loan-days", help=_("Default loan length in days."))] = 28,
    max_extensions: Annotated[int, typer.Option("--max-extensions", help=_("How often a loan may be extended."))] = 2,
    json_out: Json = False, operator: OperatorOpt = None, station: StationOpt = None,
):
    from . import services

    r = services.add_digipunt(_ctx(tctx, operator, station), name, loan_days, max_extensions)
    _show(json_out, r, lambda c, r: c.ok(_("digipunt {name} added (loans of {days} days)").format(
        name=r["name"], days=r["loan_days"])))


@digipunt_app.command("list", help=_("List digipunten and what they hold.\n\nExample: refurb digipunt list"))
def digipunt_list(tctx: typer.Context, json_out: Json = False):
    from . import services

    rows = services.list_digipunten(_ctx(tctx))
    _show(json_out, rows, lambda c, r: c.simple_table(
        [_("digipunt"), _("loan days"), _("allocated"), _("on loan")],
        [[x["name"], x["loan_days"], x["allocated"], x["on_loan"]] for x in r]))


@operator_app.command("add", help=_("Add an operator or change a role (roles other than volunteer need a lead).\n\n"
                                    "Example: refurb operator add Bram --role lead --operator Sara"))
def operator_add(
    tctx: typer.Context, name: str,
    role: Annotated[str, typer.Option("--role", help=_("volunteer, lead or admin."))] = "volunteer",
    json_out: Json = False, operator: OperatorOpt = None, station: StationOpt = None,
):
    from . import services

    _choice(role, ROLES, "--role")
    r = services.add_operator(_ctx(tctx, operator, station), name, role)
    _show(json_out, r, lambda c, r: c.ok(_("{name} is a {role}").format(name=r["name"], role=r["role"])))


@operator_app.command("pin", help=_(
    "Set an operator's PIN (4 to 12 digits; only a slow salted hash is stored). Lead actions ask for it. "
    "Change your own with your current PIN; a lead sets anyone's. The new PIN is typed twice, or taken from "
    "REFURB_NEW_PIN.\n\nExample: refurb operator pin Sara --operator Sara"))
def operator_pin(tctx: typer.Context, name: str, json_out: Json = False, operator: OperatorOpt = None,
                 station: StationOpt = None):
    from . import services

    r = services.set_pin(_ctx(tctx, operator, station), name, _new_pin(name))
    _show(json_out, r, lambda c, r: c.ok(_("PIN of {name} set").format(name=r["name"])))


@operator_app.command("list", help=_("List operators.\n\nExample: refurb operator list"))
def operator_list(tctx: typer.Context, json_out: Json = False):
    from . import services

    rows = services.list_operators(_ctx(tctx))
    _show(json_out, rows, lambda c, r: c.simple_table([_("operator"), _("role")], [[x["name"], x["role"]] for x in r]))


def _choice(value, choices, option):
    if value not in choices:
        raise UsageProblem(
            _("{option}: {value!r} is not one of {choices}").format(option=option, value=value, choices=", ".join(choices)),
            hint=_("see --help"),
        )


# ---------------------------------------------------------------------------- intake


def _intake(tctx, expected, batch, kind, make, model, serial, donor_tag, imei, mac, operator, station, json_out):
    from . import services

    _choice(kind, DEVICE_KINDS, "--kind")
    fn = services.expect_device if expected else services.register_device
    r = fn(_ctx(tctx, operator, station), batch, kind, make, model, serial, donor_tag, imei, mac)
    msg = _("{tag} expected in batch {batch}") if expected else _("{tag} registered in batch {batch}")
    _show(json_out, r, lambda c, r: c.ok(msg.format(tag=r["tag"], batch=r["batch"]) + "  " +
                                         " ".join(x for x in (r["make"], r["model"], r["serial"]) if x)))
    return r["tag"]


BatchOpt = Annotated[str, typer.Option("--batch", help=_("Batch reference."), show_default=False)]
KindOpt = Annotated[str, typer.Option("--kind", help=_("laptop, tablet, phone, desktop or other."))]
MakeOpt = Annotated[str | None, typer.Option("--make", help=_("Manufacturer."))]
ModelOpt = Annotated[str | None, typer.Option("--model", help=_("Model."))]
SerialOpt = Annotated[str | None, typer.Option("--serial", help=_("Manufacturer serial number."))]
DonorTagOpt = Annotated[str | None, typer.Option("--donor-tag", help=_("The donor's asset tag."))]
ImeiOpt = Annotated[str | None, typer.Option("--imei", help=_("IMEI (phones, tablets with a modem)."))]
MacOpt = Annotated[str | None, typer.Option("--mac", help=_("MAC address."))]


PrintLabelOpt = Annotated[bool, typer.Option("--print-label", help=_(
    "Print the device's label at once (label_template on printer, from the config)."))]


@intake_app.command("add", help=_("Register a device that is here now; it gets an asset tag and enters intake.\n\n"
                                  "Example: refurb intake add --batch ACME-2026-11 --kind laptop --make Lenovo "
                                  "--model \"ThinkPad T480\" --serial PF1ABC23"))
def intake_add(tctx: typer.Context, batch: BatchOpt, kind: KindOpt = "laptop", make: MakeOpt = None,
               model: ModelOpt = None, serial: SerialOpt = None, donor_tag: DonorTagOpt = None, imei: ImeiOpt = None,
               mac: MacOpt = None, print_label: PrintLabelOpt = False, json_out: Json = False,
               operator: OperatorOpt = None, station: StationOpt = None):
    if print_label:
        from . import reports

        reports.require_label_printer(_settings(tctx))
    tag = _intake(tctx, False, batch, kind, make, model, serial, donor_tag, imei, mac, operator, station, json_out)
    if print_label:
        _print_intake_label(_ctx(tctx, operator, station), tag, json_out)


def _print_intake_label(ctx, tag, json_out):
    from . import console, reports

    r = reports.intake_label(ctx, tag)
    if r is not None and not json_out:
        console.note(_("label of {tag} sent to {queue}").format(tag=tag, queue=r.get("queue")))


@intake_app.command("expect", help=_("List a device the donor announced but that has not arrived (state expected).\n\n"
                                     "Example: refurb intake expect --batch ACME-2026-11 --serial PF1ABC23 --model T480"))
def intake_expect(tctx: typer.Context, batch: BatchOpt, kind: KindOpt = "laptop", make: MakeOpt = None,
                  model: ModelOpt = None, serial: SerialOpt = None, donor_tag: DonorTagOpt = None,
                  imei: ImeiOpt = None, mac: MacOpt = None, json_out: Json = False, operator: OperatorOpt = None,
                  station: StationOpt = None):
    _intake(tctx, True, batch, kind, make, model, serial, donor_tag, imei, mac, operator, station, json_out)


def _files_left(c, r, unmatched):
    """The evidence a file command could not use: listed, never dropped."""
    for x in r["unmatched"]:
        c.say("  " + unmatched.format(**x), style="yellow")
    for x in r["errors"]:
        c.say("  " + _("not read: {file}: {error}").format(**x), style="red")


def _exit_if_left(r):
    if r["unmatched"] or r["errors"]:
        raise typer.Exit(1)


@intake_app.command("snapshot", help=_(
    "Attach hardware snapshots (lshw -json, dmidecode, smartctl --json, upower -i, eReuse Workbench) to the "
    "devices they describe, matched by serial. Each file is kept with its SHA-256 and fills make, model, specs, "
    "storage media and battery health; refurb works out Windows 11 eligibility and suggests an image.\n\n"
    "Example: refurb intake snapshot snapshots/*.json --batch ACME-2026-11 --register"))
def intake_snapshot(
    tctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(help=_("Snapshot files."), show_default=False)],
    batch: Annotated[str | None, typer.Option("--batch", help=_("Batch for devices registered from a snapshot."))] = None,
    register: Annotated[bool, typer.Option("--register", help=_(
        "Register a device no serial matches (intake mode; needs --batch)."))] = False,
    kind: Annotated[str | None, typer.Option("--kind", help=_(
        "Kind of a registered device when the snapshot does not tell."))] = None,
    json_out: Json = False, operator: OperatorOpt = None, station: StationOpt = None,
):
    from . import services

    r = services.attach_snapshots(_ctx(tctx, operator, station), files, batch, register, kind)

    def render(c, r):
        for x in r["attached"]:
            if x["noop"]:
                c.note(_("{tag}: {file} was attached before").format(**x))
                continue
            c.ok((_("{tag} registered from {file}") if x["registered"] else _("{tag}: {file} attached")).format(**x))
            bits = [m["serial"] + " (" + m["type"] + ")" for m in x["media_added"]]
            if bits:
                c.say("  " + _("storage media added: {media}").format(media=", ".join(bits)))
            for m in x["media_skipped"]:
                c.say("  " + _("medium not added: {serial}: {reason}").format(
                    serial=m.get("serial") or m.get("model") or "?", reason=m["reason"]), style="yellow")
            if c.specs_line(x["specs"]):
                c.say("  " + c.specs_line(x["specs"]))
            if x.get("windows11"):
                c.say("  " + c.windows11_line(x["windows11"]))
            if x.get("suggested_image"):
                c.say("  " + _("suggested image: {image}").format(image=x["suggested_image"]))
            for warning in x.get("warnings") or []:
                c.say("  " + warning, style="dim")
        _files_left(c, r, _("not attached: {file}: {reason}"))

    _show(json_out, r, render)
    _exit_if_left(r)


@intake_app.command("manifest", help=_(
    "Import a donor's asset list (CSV in any delimiter and encoding, or XLSX; headers in English, Dutch or French; "
    "presets for Snipe-IT, Intune, Jamf, Lansweeper, GLPI exports): each row becomes an expected device in the "
    "batch. Rows are checked first: with errors nothing is imported unless --skip-invalid, and --errors writes "
    "them (row, column, reason). Columns with staff data (names, e-mail, phone) are dropped and named. The same "
    "file twice changes nothing; an updated file updates what changed.\n\n"
    "Example: refurb intake manifest acme.csv --batch ACME-2026-11 --errors fouten.csv"))
def intake_manifest(
    tctx: typer.Context,
    file: Annotated[Path, typer.Argument(help=_("The donor's list (.csv, .txt, .xlsx)."), show_default=False)],
    batch: BatchOpt,
    dry_run: Annotated[bool, typer.Option("--dry-run", help=_("Check and report; import nothing."))] = False,
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help=_(
        "Import the valid rows even when others are invalid."))] = False,
    errors: Annotated[Path | None, typer.Option("--errors", help=_(
        "Write the invalid rows here (CSV: row, column, value, code, reason)."))] = None,
    preset: Annotated[str, typer.Option("--preset", help=_(
        "auto, snipeit, intune, jamf, lansweeper, glpi, devicehub or generic."))] = "auto",
    kind: Annotated[str, typer.Option("--kind", help=_("Kind of the devices whose row names none."))] = "laptop",
    json_out: Json = False, operator: OperatorOpt = None, station: StationOpt = None,
):
    from . import console, manifests

    progress = None
    bar = None
    if not json_out and sys.stderr.isatty():
        bar = console.progress(_("importing"))
        progress = bar.update
    try:
        r = manifests.import_manifest(_ctx(tctx, operator, station), file, batch, dry_run, skip_invalid, preset,
                                      errors, progress, kind)
    except RefurbError as exc:
        if json_out and exc.code == "manifest-invalid" and exc.data:
            console.emit_json(exc.data)
        raise
    finally:
        if bar is not None:
            bar.close()

    def render(c, r):
        for note in r.get("notes") or []:
            c.note(note)
        c.ok((_("dry run: ") if r["dry_run"] else "") + _(
            "{rows} rows: {imported} imported, {updated} updated, {unchanged} unchanged, {invalid} invalid").format(**r))
        if r.get("dropped_columns"):
            c.say("  " + _("dropped (personal data): {columns}").format(columns=", ".join(r["dropped_columns"])),
                  style="yellow")
        if r.get("ignored_columns"):
            c.say("  " + _("ignored: {columns}").format(columns=", ".join(r["ignored_columns"])), style="dim")
        for w in r.get("warnings") or []:
            c.say("  " + (_("row {row}: ").format(row=w["row"]) if w.get("row") else "") + w["reason"], style="yellow")
        if r.get("errors_file"):
            c.say("  " + _("invalid rows written to {file}").format(file=r["errors_file"]), style="yellow")

    _show(json_out, r, render)


@intake_app.command("receive", help=_("Receive an expected device (by tag, donor tag or serial): expected → intake.\n\n"
                                      "Example: refurb intake receive PF1ABC23"))
def intake_receive(tctx: typer.Context, code: Code, print_label: PrintLabelOpt = False, json_out: Json = False,
                   operator: OperatorOpt = None, station: StationOpt = None):
    from . import services

    if print_label:
        from . import reports

        reports.require_label_printer(_settings(tctx))
    r = services.receive(_ctx(tctx, operator, station), code)
    _show(json_out, r, lambda c, r: c.transition(r, _("{tag} received").format(tag=r["tag"])))
    if print_label:
        _print_intake_label(_ctx(tctx, operator, station), r["tag"], json_out)


# ---------------------------------------------------------------------------- media, wipes


def parse_size(text):
    """'512G', '512 GB', '1T', '256000000000' → bytes (decimal units, as drives are sold)."""
    if text is None:
        return None
    t = text.strip().upper().replace(" ", "").removesuffix("B")
    factors = {"K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
    try:
        if t and t[-1] in factors:
            return int(float(t[:-1]) * factors[t[-1]])
        return int(t)
    except ValueError:
        raise UsageProblem(_("--size: cannot read {value!r}").format(value=text), hint=_("e.g. 512G, 1T or bytes")) from None


@media_app.command("add", help=_("Record a storage medium of a device.\n\n"
                                 "Example: refurb media add RB-000142-J --type nvme --serial S3Z9NX0K --size 512G"))
def media_add(
    tctx: typer.Context, code: Code,
    type: Annotated[str, typer.Option("--type", help=_("hdd, sata-ssd, nvme, emmc, removable or embedded."),
                                      show_default=False)],
    serial: Annotated[str, typer.Option("--serial", help=_("The medium's own serial."), show_default=False)],
    size: Annotated[str | None, typer.Option("--size", help=_("Capacity, e.g. 512G."))] = None,
    model: Annotated[str | None, typer.Option("--model", help=_("The medium's model."))] = None,
    json_out: Json = False, operator: OperatorOpt = None, station: StationOpt = None,
):
    from . import services

    _choice(type, MEDIA_TYPES, "--type")
    r = services.add_medium(_ctx(tctx, operator, station), code, type, serial, parse_size(size), model)
    _show(json_out, r, lambda c, r: c.ok(_("{tag}: medium {serial} ({type}) recorded").format(**r)))


@media_app.command("none", help=_("State that a device has no storage of its own.\n\nExample: refurb media none RB-000150-K"))
def media_none(tctx: typer.Context, code: Code, json_out: Json = False, operator: OperatorOpt = None,
               station: StationOpt = None):
    from . import services

    r = services.no_media(_ctx(tctx, operator, station), code)
    _show(json_out, r, lambda c, r: c.ok(_("{tag}: no storage").format(tag=r["tag"])))


@wipe_app.command("record", help=_(
    "Record the wipe of one storage medium; the device moves on as far as its guards allow.\n\n"
    "Example: refurb wipe record RB-000142-J --medium S3Z9NX0K --profile nvme-sanitize --result pass "
    "--evidence nwipe.log"))
def wipe_record(
    tctx: typer.Context, code: Code,
    medium: Annotated[str, typer.Option("--medium", help=_("Serial of the medium."), show_default=False)],
    profile: Annotated[str, typer.Option("--profile", help=_("Wipe profile id (refurb wipe profiles)."),
                                         show_default=False)],
    result: Annotated[str, typer.Option("--result", help=_("pass or fail."), show_default=False)],
    evidence: Annotated[list[Path] | None, typer.Option("--evidence", help=_("Evidence file (log); repeatable."))] = None,
    unverified: Annotated[bool, typer.Option("--unverified", help=_("The result was not verified."))] = False,
    json_out: Json = False, operator: OperatorOpt = None, station: StationOpt = None,
):
    from . import services

    _choice(result, ("pass", "fail"), "--result")
    r = services.record_wipe(_ctx(tctx, operator, station), code, medium, profile, result, not unverified,
                             evidence or [])
    _show(json_out, r, lambda c, r: c.transition(r, _("{tag}: wipe of {medium} recorded ({profile}, {level}, {result})").format(
        tag=r["tag"], medium=r["medium"], profile=r["profile"], level=r["level"], result=r["result"])))


@wipe_app.command("import", help=_(
    "Turn erasure evidence (nwipe, usody, eReuse, nvme sanitize-log, hdparm) into wipe records, matched by "
    "drive serial; evidence that matches no known medium is listed, never dropped.\n\n"
    "Example: refurb wipe import nwipe.log snapshot.json"))
def wipe_import(
    tctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(help=_("Evidence files."), show_default=False)],
    json_out: Json = False, operator: OperatorOpt = None, station: StationOpt = None,
):
    from . import services

    r = services.import_wipes(_ctx(tctx, operator, station), files)

    def render(c, r):
        for x in r["imported"]:
            if x["noop"]:
                c.note(_("{tag}: {serial} from {file} was imported before").format(**x))
            else:
                c.ok(_("{tag}: wipe of {serial} imported ({profile}, {result}) → {state}").format(**x))
        _files_left(c, r, _("not imported: {file}: {reason}"))

    _show(json_out, r, render)
    _exit_if_left(r)


@wipe_app.command("run", help=_(
    "Wipe one storage medium with its profile's tool (nwipe; hdparm or nvme-cli where the drive offers "
    "sanitize) and record the result. Before writing, refurb refuses the system disk, a disk in use, a disk "
    "whose serial is not the medium's and a failed preflight (frozen, HPA/DCO, USB bridge); it plants canary "
    "blocks, and afterwards reads them and random samples back. Run as root.\n\n"
    "Example: sudo refurb wipe run RB-000123-N --medium S3P9A80F --device /dev/sdb --profile hdd-overwrite"))
def wipe_run(
    tctx: typer.Context, code: Code,
    medium: Annotated[str, typer.Option("--medium", help=_("Serial of the medium."), show_default=False)],
    device: Annotated[str, typer.Option("--device", help=_("The disk, e.g. /dev/sdb."), show_default=False)],
    profile: Annotated[str, typer.Option("--profile", help=_("Wipe profile id (refurb wipe profiles)."),
                                         show_default=False)],
    no_serial_check: Annotated[bool, typer.Option("--no-serial-check", help=_(
        "Wipe a disk that reports no serial (recorded and printed on the certificate)."))] = False,
    json_out: Json = False, operator: OperatorOpt = None, station: StationOpt = None,
):
    from . import console, services

    progress = None if json_out else (lambda message: console.note(message))
    r = services.run_wipe(_ctx(tctx, operator, station), code, medium, device, profile, not no_serial_check,
                          progress)

    def render(c, r):
        run = r["run"]
        c.transition(r, _("{tag}: {medium} wiped on {device} ({profile}, {level}): {result}").format(
            tag=r["tag"], medium=r["medium"], device=run["device"], profile=r["profile"], level=r["level"],
            result=r["result"]))
        c.say("  " + run["verification"])
        if not run["serial_checked"]:
            c.say("  " + _("the disk's serial was not checked (--no-serial-check)"), style="yellow")
        for reason in run["reasons"]:
            c.say("  " + reason, style="red")

    _show(json_out, r, render)
    if r["result"] != "pass":
        raise typer.Exit(1)


@wipe_app.command("waive", help=_(
    "Accept, as a lead, a passing verified wipe that stays below the policy's minimum level for its media "
    "type (policy.min_level). The waiver and its reason are printed on every certificate.\n\n"
    "Example: refurb wipe waive RB-000123-N --medium S3P9A80F --reason \"donor accepts Clear for HDDs\" "
    "--operator Sara"))
def wipe_waive(
    tctx: typer.Context, code: Code,
    medium: Annotated[str, typer.Option("--medium", help=_("Serial of the medium."), show_default=False)],
    reason: Annotated[str, typer.Option("--reason", help=_("Why the lower level is acceptable."),
                                        show_default=False)],
    json_out: Json = False, operator: OperatorOpt = None, station: StationOpt = None,
):
    from . import services

    r = services.waive_wipe(_ctx(tctx, operator, station), code, medium, reason)
    _show(json_out, r, lambda c, r: c.transition(r, _(
        "{tag}: {level} on medium {medium} accepted below the policy's {policy_level}").format(**r)))


@wipe_app.command("profiles", help=_("List the wipe profiles and the level each reaches per media type.\n\n"
                                     "Example: refurb wipe profiles --json"))
def wipe_profiles(tctx: typer.Context, json_out: Json = False):
    from . import services

    rows = services.list_profiles(_ctx(tctx))
    _show(json_out, rows, lambda c, r: c.simple_table(
        [_("profile"), _("standard"), _("levels"), _("tool")],
        [[x["id"], x["standard"], ", ".join(f"{m}: {lv}" for m, lv in x["level"].items()), x["tool"]] for x in r]))


# ---------------------------------------------------------------------------- reimage, QC


@app.command(help=_("Record the OS image put on a wiped device.\n\nExample: refurb reimage RB-000142-J --image linux-mint"))
def reimage(
    tctx: typer.Context, code: Code,
    image: Annotated[str, typer.Option("--image", help=_("Image id (refurb images)."), show_default=False)],
    json_out: Json = False, operator: OperatorOpt = None, station: StationOpt = None, force: ForceOpt = None,
):
    from . import services

    r = services.reimage(_ctx(tctx, operator, station, force), code, image)
    _show(json_out, r, lambda c, r: c.transition(r, _("{tag} reimaged with {image}").format(tag=r["tag"], image=r["image"])))


@app.command(help=_("List the OS image catalogue.\n\nExample: refurb images --json"))
def images(json_out: Json = False):
    from . import services

    rows = services.list_images()
    _show(json_out, rows, lambda c, r: c.simple_table(
        [_("image"), _("name"), _("licence"), _("kinds")], [[x["id"], x["name"], x["licence"], ", ".join(x["kinds"])] for x in r]))


@app.command(help=_("Record a quality check against the device kind's checklist.\n\n"
                    "--pass means every mandatory item passed (it is refused when one was recorded as failed).\n\n"
                    "Example: refurb qc RB-000142-J --pass --grade B --battery 81 --check dead-pixels=fail"))
def qc(
    tctx: typer.Context, code: Code,
    passed: Annotated[bool | None, typer.Option("--pass/--fail", help=_("The outcome."), show_default=False)] = None,
    check: Annotated[list[str] | None, typer.Option("--check", help=_("ITEM=ok|fail; repeatable."))] = None,
    grade: Annotated[str | None, typer.Option("--grade", help=_("A, B or C."))] = None,
    battery: Annotated[float | None, typer.Option("--battery", help=_("Measured battery health in %; below the "
                                                                      "checklist's minimum the battery item fails."))] = None,
    json_out: Json = False, operator: OperatorOpt = None, station: StationOpt = None, force: ForceOpt = None,
):
    from . import services

    if passed is None:
        raise UsageProblem(_("say --pass or --fail"), hint=_("see: refurb qc --help"))
    if grade is not None:
        grade = grade.upper()
        _choice(grade, GRADES, "--grade")
    checks = {}
    for item in check or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageProblem(_("--check {item!r}: expected ITEM=ok|fail").format(item=item), hint="--check battery=ok")
        checks[key.strip()] = value.strip().lower()
    r = services.record_qc(_ctx(tctx, operator, station, force), code, passed, checks, grade, battery)
    _show(json_out, r, lambda c, r: c.transition(r, _("{tag}: quality check {result}").format(tag=r["tag"], result=r["result"])))


# ---------------------------------------------------------------------------- locks, repair, ends


@app.command(help=_("Record a lock only the donor can lift (Activation Lock, MDM, BIOS password …).\n\n"
                    "Example: refurb lock RB-000143-H --kind activation-lock"))
def lock(
    tctx: typer.Context, code: Code,
    kind: Annotated[str, typer.Option("--kind", help=_("Lock kind: ") + ", ".join(LOCK_KINDS), show_default=False)],
    note: Annotated[str | None, typer.Option("--note", help=_("What was seen."))] = None,
    json_out: Json = False, operator: OperatorOpt = None, station: StationOpt = None,
):
    from . import services

    _choice(kind, LOCK_KINDS, "--kind")
    r = services.lock(_ctx(tctx, operator, station), code, kind, note)
    _show(json_out, r, lambda c, r: c.transition(r, _("{tag} locked ({kind})").format(tag=r["tag"], kind=r["lock"])))


@app.command(help=_("Lift a lock with evidence of its release (a lead).\n\n"
                    "Example: refurb unlock RB-000143-H --evidence donor-release.pdf --operator Sara"))
def unlock(
    tctx: typer.Context, code: Code,
    evidence: Annotated[Path, typer.Option("--evidence", help=_("Proof of release (file)."), show_default=False)],
    kind: Annotated[str | None, typer.Option("--kind", help=_("Only this kind of lock."))] = None,
    json_out: Json = False, operator: OperatorOpt = None, station: StationOpt = None,
):
    from . import services

    r = services.unlock(_ctx(tctx, operator, station), code, evidence, kind)
    _show(json_out, r, lambda c, r: c.transition(r, _("{tag}: lock lifted ({kinds})").format(
        tag=r["tag"], kinds=", ".join(r["released"]))))


@app.command(help=_("Send a device to repair, or take it out with --done.\n\n"
                    "Example: refurb repair RB-000144-F --note \"keyboard\"   then   refurb repair RB-000144-F --done"))
def repair(
    tctx: typer.Context, code: Code,
    done: Annotated[bool, typer.Option("--done", help=_("The repair is finished."))] = False,
    note: Annotated[str | None, typer.Option("--note", help=_("What is wrong or what was done."))] = None,
    json_out: Json = False, operator: OperatorOpt = None, station: StationOpt = None,
):
    from . import services

    r = services.repair(_ctx(tctx, operator, station), code, done, note)
    msg = _("{tag} out of repair") if done else _("{tag} sent to repair")
    _show(json_out, r, lambda c, r: c.transition(r, msg.format(tag=r["tag"])))


@app.command(help=_("Harvest a device for parts (an end state; its media must be wiped or destroyed).\n\n"
                    "Example: refurb parts RB-000145-D"))
def parts(tctx: typer.Context, code: Code, note: Annotated[str | None, typer.Option("--note")] = None,
          json_out: Json = False, operator: OperatorOpt = None, station: StationOpt = None, force: ForceOpt = None):
    from . import services

    r = services.to_parts(_ctx(tctx, operator, station, force), code, note)
    _show(json_out, r, lambda c, r: c.transition(r, _("{tag} harvested for parts").format(tag=r["tag"])))


@app.command(help=_("Hand a device to a recycler (a lead; its media must be wiped or destroyed).\n\n"
                    "Example: refurb recycle RB-000146-B --recycler \"Recupel\" --reference R-2026-118"))
def recycle(
    tctx: typer.Context, code: Code,
    recycler: Annotated[str, typer.Option("--recycler", help=_("Who takes it."), show_default=False)],
    reference: Annotated[str | None, typer.Option("--reference", help=_("The recycler's reference."))] = None,
    json_out: Json = False, operator: OperatorOpt = None, station: StationOpt = None, force: ForceOpt = None,
):
    from . import services

    r = services.recycle(_ctx(tctx, operator, station, force), code, recycler, reference)
    _show(json_out, r, lambda c, r: c.transition(r, _("{tag} recycled").format(tag=r["tag"])))


@app.command("return-to-donor", help=_("Give a device back to its donor (an end state).\n\n"
                                       "Example: refurb return-to-donor RB-000147-9 --note \"still leased\""))
def return_to_donor(tctx: typer.Context, code: Code, note: Annotated[str | None, typer.Option("--note")] = None,
                    json_out: Json = False, operator: OperatorOpt = None, station: StationOpt = None):
    from . import services

    r = services.return_to_donor(_ctx(tctx, operator, station), code, note)
    _show(json_out, r, lambda c, r: c.transition(r, _("{tag} returned to the donor").format(tag=r["tag"])))


# ---------------------------------------------------------------------------- lending


@app.command(help=_("Put a ready device in a digipunt's lending pool (or take it out with --release).\n\n"
                    "Example: refurb allocate RB-000142-J --digipunt \"Gent Zuid\""))
def allocate(
    tctx: typer.Context,
    code: Annotated[str | None, typer.Argument(help=_("Asset tag, serial or donor tag; leave out for bulk."),
                                               show_default=False)] = None,
    digipunt: Annotated[str | None, typer.Option("--digipunt", help=_("The digipunt's name."))] = None,
    release: Annotated[bool, typer.Option("--release", help=_("Take it back out of the pool."))] = False,
    batch: Annotated[str | None, typer.Option("--batch", help=_("Bulk: ready devices of this batch."))] = None,
    kind: Annotated[str | None, typer.Option("--kind", help=_("Bulk: only this kind."))] = None,
    grade: Annotated[str | None, typer.Option("--grade", help=_("Bulk: only this grade."))] = None,
    count: Annotated[int | None, typer.Option("--count", min=1, help=_("Bulk: at most this many."))] = None,
    json_out: Json = False, operator: OperatorOpt = None, station: StationOpt = None, force: ForceOpt = None,
):
    from . import services

    if not digipunt and not release:
        raise UsageProblem(_("say --digipunt NAME or --release"), hint=_("see: refurb allocate --help"))
    bulk = batch or kind or grade or count
    if code is None:
        if not bulk or release:
            raise UsageProblem(_("give a device, or a bulk filter (--batch, --kind, --grade, --count) with --digipunt"),
                               hint=_("see: refurb allocate --help"))
        r = services.allocate_many(_ctx(tctx, operator, station, force), digipunt, batch, kind, grade, count)
        _show(json_out, r, lambda c, r: c.ok(ngettext("{count} ready device allocated to {digipunt}",
                                                      "{count} ready devices allocated to {digipunt}",
                                                      r["count"]).format(**r)))
        return
    if bulk:
        raise UsageProblem(_("a device and a bulk filter do not go together"), hint=_("see: refurb allocate --help"))
    r = services.allocate(_ctx(tctx, operator, station, force), code, digipunt, release)
    msg = _("{tag} released") if release else _("{tag} allocated to {digipunt}")
    _show(json_out, r, lambda c, r: c.transition(r, msg.format(tag=r["tag"], digipunt=r.get("digipunt"))))


def _datetime(value, option):
    """--at: 'YYYY-MM-DD HH:MM' (or ISO 8601) in Brussels time unless it names its offset."""
    if value is None:
        return None
    from datetime import datetime
    from zoneinfo import ZoneInfo

    try:
        parsed = datetime.fromisoformat(value.strip().replace(" ", "T", 1))
    except ValueError:
        raise UsageProblem(_("{option}: {value!r} is not a date and time").format(option=option, value=value),
                           hint=f'{option} "2026-11-27 14:30"') from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=ZoneInfo("Europe/Brussels"))


def _date(value, option):
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageProblem(_("{option}: {value!r} is not a date").format(option=option, value=value),
                           hint=f"{option} YYYY-MM-DD") from None


AtOpt = Annotated[str | None, typer.Option("--at", help=_(
    "When it happened, for a loan or return made on paper: \"YYYY-MM-DD HH:MM\" (Brussels time)."))]


@loan_app.command("out", help=_("Lend an allocated device to a borrower (a pseudonymous reference, never a name).\n\n"
                                "Example: refurb loan out RB-000142-J --borrower GZ-0042 --accessory charger "
                                "--accessory bag"))
def loan_out(
    tctx: typer.Context, code: Code,
    borrower: Annotated[str, typer.Option("--borrower", help=_("Borrower reference from the digipunt."),
                                          show_default=False)],
    due: Annotated[str | None, typer.Option("--due", help=_("Due date YYYY-MM-DD (default: the digipunt's policy)."))] = None,
    accessory: Annotated[list[str] | None, typer.Option("--accessory", help=_("Accessory handed out; repeatable."))] = None,
    at: AtOpt = None,
    json_out: Json = False, operator: OperatorOpt = None, station: StationOpt = None, force: ForceOpt = None,
):
    from . import services

    r = services.loan_out(_ctx(tctx, operator, station, force), code, borrower, _date(due, "--due"),
                          accessory or [], _datetime(at, "--at"))
    _show(json_out, r, lambda c, r: c.transition(r, _("{tag} lent to {borrower}, due {due}").format(
        tag=r["tag"], borrower=r["borrower"], due=c.day(r["due"]))))


@loan_app.command("return", help=_("Take a device back; it goes to the wipe queue (damaged: to repair). Name the "
                                   "accessories that came back to check them against the loan.\n\n"
                                   "Example: refurb loan return RB-000142-J --condition ok --accessory charger"))
def loan_return(
    tctx: typer.Context, code: Code,
    condition: Annotated[str, typer.Option("--condition", help=_("ok, damaged or incomplete."), show_default=False)],
    accessory: Annotated[list[str] | None, typer.Option("--accessory", help=_(
        "Accessory that came back; repeatable. Missing ones make the return incomplete."))] = None,
    at: AtOpt = None,
    json_out: Json = False, operator: OperatorOpt = None, station: StationOpt = None,
):
    from . import services

    _choice(condition, CONDITIONS, "--condition")
    r = services.loan_return(_ctx(tctx, operator, station), code, condition, accessory, _datetime(at, "--at"))

    def render(c, r):
        c.transition(r, _("{tag} returned ({condition})").format(tag=r["tag"], condition=r.get("condition", "")))
        if r.get("missing_accessories"):
            c.say("  " + _("missing: {items}").format(items=", ".join(r["missing_accessories"])), style="yellow")

    _show(json_out, r, render)


@loan_app.command("extend", help=_("Extend a loan: a later due date, within the digipunt's maximum number of "
                                   "extensions.\n\nExample: refurb loan extend RB-000142-J --days 14"))
def loan_extend(
    tctx: typer.Context, code: Code,
    days: Annotated[int | None, typer.Option("--days", min=1, help=_(
        "Days to add (default: the digipunt's loan length)."))] = None,
    due: Annotated[str | None, typer.Option("--due", help=_("The new due date YYYY-MM-DD."))] = None,
    json_out: Json = False, operator: OperatorOpt = None, station: StationOpt = None, force: ForceOpt = None,
):
    from . import services

    if days and due:
        raise UsageProblem(_("give --days or --due, not both"), hint=_("see: refurb loan extend --help"))
    r = services.loan_extend(_ctx(tctx, operator, station, force), code, days, _date(due, "--due"))
    _show(json_out, r, lambda c, r: c.ok(_("{tag}: due {due} (extension {extensions} of {max_extensions})").format(
        tag=r["tag"], due=c.day(r["due"]), extensions=r["extensions"], max_extensions=r["max_extensions"])))


@loan_app.command("overdue", help=_("The loans past their due date, most overdue first: a worklist.\n\n"
                                    "Example: refurb loan overdue --digipunt \"Gent Zuid\" --json"))
def loan_overdue(
    tctx: typer.Context,
    digipunt: Annotated[str | None, typer.Option("--digipunt", help=_("Only this digipunt."))] = None,
    on: Annotated[str | None, typer.Option("--on", help=_(
        "Overdue as of this day YYYY-MM-DD, e.g. to plan calls for Friday (default: today)."))] = None,
    json_out: Json = False,
):
    from . import services

    r = services.overdue(_ctx(tctx), digipunt, _date(on, "--on"))

    def render(c, r):
        if not r:
            c.note(_("no loan is overdue"))
            return
        c.simple_table([_("tag"), _("borrower"), _("digipunt"), _("due"), _("days overdue")],
                       [[x["tag"], x["borrower"], x["digipunt"], c.day(x["due"]), x["days_overdue"]] for x in r])

    _show(json_out, r, render)


@loan_app.command("lost", help=_("Record that a lent or allocated device is lost (a lead).\n\nExample: refurb loan lost RB-000142-J"))
def loan_lost(tctx: typer.Context, code: Code, note: Annotated[str | None, typer.Option("--note")] = None,
              json_out: Json = False, operator: OperatorOpt = None, station: StationOpt = None):
    from . import services

    r = services.loan_lost(_ctx(tctx, operator, station), code, note)
    _show(json_out, r, lambda c, r: c.transition(r, _("{tag} marked lost").format(tag=r["tag"])))


# ---------------------------------------------------------------------------- reading


@app.command(help=_("Show a device's card and its whole history.\n\nExample: refurb show RB-000142-J"))
def show(tctx: typer.Context, code: Code, json_out: Json = False):
    from . import services

    r = services.show(_ctx(tctx), code)
    _show(json_out, r, lambda c, r: c.device_card(r))


@app.command("list", help=_("List devices, optionally by state or batch.\n\nExample: refurb list --state ready --json"))
def list_cmd(
    tctx: typer.Context,
    state: Annotated[str | None, typer.Option("--state", help=_("Only this state."))] = None,
    batch: Annotated[str | None, typer.Option("--batch", help=_("Only this batch."))] = None,
    json_out: Json = False,
):
    from . import services

    if state is not None:
        _choice(state, [str(s) for s in State], "--state")
    rows = services.list_devices(_ctx(tctx), state, batch)
    _show(json_out, rows, lambda c, r: c.device_table(r))


@audit_app.command("verify", help=_(
    "Check the hash chain of every event and that every device's state is the replay of its events.\n\n"
    "Exits 0 when the history is intact; otherwise names the first bad event.\n\nExample: refurb audit verify"))
def audit_verify(tctx: typer.Context, json_out: Json = False):
    from . import services
    from .errors import AuditFailed

    report = services.verify_audit(_ctx(tctx))
    data = {"ok": report.ok, "events": report.events, "devices": report.devices, "problems": report.problems}
    if json_out:
        from . import console

        console.emit_json(data)
        if not report.ok:
            raise typer.Exit(AuditFailed.exit_code)
        return
    if not report.ok:
        raise AuditFailed(
            report.problems[0], context=report.problems[1:10],
            hint=_("the history was changed behind refurb's back; restore a backup and compare"),
        )
    from . import console

    console.ok(ngettext(
        "history intact: {events} events, {devices} device, every state matches its events",
        "history intact: {events} events, {devices} devices, every state matches its events",
        report.devices,
    ).format(events=report.events, devices=report.devices))


@db_app.command("restore", help=_(
    "Bring back a backup made by refurb db backup, then verify its history. A database that holds events is "
    "replaced only with --replace, by a lead, after a safety copy of it is written beside the backup.\n\n"
    "Example: refurb db restore /media/usb/refurb-2026-11-27.db --replace --operator Sara"))
def db_restore(
    tctx: typer.Context,
    file: Annotated[Path, typer.Argument(help=_("The backup file."), show_default=False)],
    replace: Annotated[bool, typer.Option("--replace", help=_("Replace a database that holds events."))] = False,
    json_out: Json = False, operator: OperatorOpt = None,
):
    from . import services

    r = services.restore(_ctx(tctx, operator), file, replace)

    def render(c, r):
        if r["safety_copy"]:
            c.note(_("the database as it was is kept in {file}").format(file=r["safety_copy"]))
        c.ok(_("restored from {file}: {events} events, {devices} devices").format(**r))
        for problem in r["problems"]:
            c.say("  " + problem, style="red")

    _show(json_out, r, render)
    if not r["ok"]:
        raise typer.Exit(1)


@db_app.command("roles", help=_(
    "PostgreSQL: set up the group roles PREFIX_volunteer and PREFIX_lead on refurb's schema. Both may add "
    "events and never UPDATE or DELETE one; a volunteer cannot read borrower references. --login NAME:ROLE "
    "makes a database login a member (its password is yours to set). Run it again after an upgrade.\n\n"
    "Example: refurb db roles --login bench1:volunteer --login sara:lead"))
def db_roles(
    tctx: typer.Context,
    prefix: Annotated[str, typer.Option("--prefix", help=_("Prefix of the group roles."))] = "refurb",
    login: Annotated[list[str] | None, typer.Option("--login", help=_(
        "NAME:volunteer or NAME:lead; repeatable."))] = None,
    json_out: Json = False,
):
    from . import services

    logins = []
    for item in login or []:
        name, _sep, role = item.partition(":")
        if not name or not role:
            raise UsageProblem(_("--login {value!r}: give NAME:volunteer or NAME:lead").format(value=item),
                               hint="--login bench1:volunteer")
        logins.append((name, role))
    r = services.database_roles(_ctx(tctx), prefix, logins)

    def render(c, r):
        c.ok(_("roles {roles} set up on schema {schema} ({tables} tables)").format(
            roles=", ".join(r["roles"]), schema=r["schema"], tables=r["tables"]))
        for x in r["logins"]:
            c.say("  " + _("login {login} is a {role}").format(**x))

    _show(json_out, r, render)


@db_app.command("backup", help=_("Write a consistent copy of the database while stations keep working.\n\n"
                                 "Example: refurb db backup /media/usb/refurb-2026-11-27.db"))
def db_backup(tctx: typer.Context, file: Path, json_out: Json = False):
    from . import services

    r = services.backup(_ctx(tctx), file)
    _show(json_out, r, lambda c, r: c.ok(_("backup written to {file} ({size} bytes, sha256 {sha})").format(
        file=r["file"], size=r["size"], sha=r["sha256"][:16] + "…")))


# ---------------------------------------------------------------------------- scanning stations

station_app = _group("station", _("Scanning stations: one job, one scan per device, no typing."))
scan_app = _group("scan", _("Decode barcodes from photos and webcams."))

ImageCtx = Annotated[str | None, typer.Option("--image", help=_("Image id for the image station (or scan an image card)."))]
DigipuntCtx = Annotated[str | None, typer.Option("--digipunt", help=_("Digipunt for the allocate station (or scan its card)."))]
GradeCtx = Annotated[str | None, typer.Option("--grade", help=_("Grade for the qc station: A, B or C (or scan a grade card)."))]
BatchCtx = Annotated[str | None, typer.Option("--batch", help=_("Batch for devices registered at the intake station."))]


PrintLabelsCtx = Annotated[bool | None, typer.Option("--print-labels", help=_(
    "Print each received or registered device's label at once (label_template on printer, from the config)."))]


def _station_loop(tctx, mode, json_out, operator, station, image=None, digipunt=None, grade=None, batch=None,
                  print_labels=None):
    """Read scans from stdin, one per line, until EOF or Ctrl-C; exit 1 when any scan was refused."""
    from . import console
    from .station import Context as StationContext
    from .station import Station

    ctx = _ctx(tctx, operator, station)
    if print_labels:
        from . import reports

        reports.require_label_printer(ctx.settings)
    if grade is not None:
        grade = grade.upper()
        _choice(grade, GRADES, "--grade")
    person = sys.stdin.isatty()
    st = Station(ctx, mode, StationContext(image=image, digipunt=digipunt, grade=grade, batch=batch),
                 register=_registration_prompt(ctx, batch) if person else None)
    if not json_out:
        console.station_header(st)
    try:
        for raw in sys.stdin.buffer if hasattr(sys.stdin, "buffer") else sys.stdin:
            text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
            outcome = st.handle(text)
            if outcome is not None:
                console.scan_result(outcome, st, json_out)
                if print_labels and outcome.ok and outcome.action in ("receive", "register"):
                    try:
                        _print_intake_label(ctx, outcome.resolved, json_out)
                    except RefurbError as exc:  # the printer is out of labels: say so, keep scanning
                        console.error(exc)
    except KeyboardInterrupt:
        pass
    if not json_out:
        console.station_summary(st.summary())
    if st.refused_count:
        raise typer.Exit(1)


def _registration_prompt(ctx, batch):
    def ask(code):
        typer.echo(_("{code} is not known. Register it now? (empty answer: no)").format(code=code))
        b = batch or typer.prompt(_("batch"), default="", show_default=False)
        if not b:
            return None
        kind = typer.prompt(_("kind"), default="laptop")
        make = typer.prompt(_("make"), default="", show_default=False) or None
        model = typer.prompt(_("model"), default="", show_default=False) or None
        return {"batch": b, "kind": kind, "make": make, "model": model, "serial": code}

    return ask


def _make_station_command(mode, options, summary):
    # one command per mode; the shared loop above does the work
    def command(tctx: typer.Context, json_out: Json = False, operator: OperatorOpt = None,
                station: StationOpt = None, **context):
        _station_loop(tctx, mode, json_out, operator, station, **context)

    import inspect

    params = list(inspect.signature(command).parameters.values())[:-1]
    extra = {"image": ("image", ImageCtx), "digipunt": ("digipunt", DigipuntCtx), "grade": ("grade", GradeCtx),
             "batch": ("batch", BatchCtx), "print_labels": ("print_labels", PrintLabelsCtx)}
    for name in options:
        params.append(inspect.Parameter(extra[name][0], inspect.Parameter.KEYWORD_ONLY, default=None,
                                        annotation=extra[name][1]))
    command.__signature__ = inspect.Signature(params)
    command.__name__ = f"station_{mode}"
    station_app.command(mode, help=summary)(command)


STATION_MODES = (
    ("intake", ("batch", "print_labels"), _("Receive expected devices by scanning them (unknown codes: register at a terminal).\n\n"
                             "Example: refurb station intake --operator An < scans.txt")),
    ("wipe", (), _("Put scanned devices on the wipe bench (→ wiping).\n\nExample: refurb station wipe --operator Bram")),
    ("image", ("image",), _("Record the image on every scanned device.\n\n"
                            "Example: refurb station image --image linux-mint --operator Bram")),
    ("qc", ("grade",), _("Quality check per scan: the grade card and ALL OK pass, a failing-item card fails the next device.\n\n"
                         "Example: refurb station qc --grade B --operator Sara")),
    ("allocate", ("digipunt",), _("Allocate every scanned device to one digipunt.\n\n"
                                  "Example: refurb station allocate --digipunt \"Gent Zuid\" --operator Sara")),
    ("loan", (), _("Lend out: scan the device, then the borrower's card.\n\nExample: refurb station loan --operator Lies")),
    ("return", (), _("Take devices back (condition ok unless a condition card says otherwise).\n\n"
                     "Example: refurb station return --operator Lies")),
    ("lookup", (), _("Show where each scanned device is.\n\nExample: refurb station lookup")),
)
for _mode, _opts, _summary in STATION_MODES:
    _make_station_command(_mode, _opts, _summary)


@station_app.command("cards", help=_("Print the command cards and operator badges the stations understand.\n\n"
                                     "Example: refurb station cards --out cards.pdf"))
def station_cards(
    tctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help=_("PDF file to write."), show_default=False, dir_okay=False)],
    json_out: Json = False,
):
    from . import cards, scanning, services

    ctx = _ctx(tctx)
    from . import catalog

    checklist_items = sorted({i.id for kind in DEVICE_KINDS for i in catalog.load_checklist(kind).items})
    punten = services.list_digipunten(ctx)
    chosen = scanning.all_command_cards(checklist_items, list(catalog.load_images()), [(p["id"], p["name"]) for p in punten])
    rows = [(scanning.card_code(card), label, _("station card")) for card, label in chosen]
    rows += [(f"RBOP-{op['id']}", op["name"], _("operator badge ({role})").format(role=op["role"]))
             for op in services.list_operators(ctx)]
    r = cards.render_cards(rows, out)
    _show(json_out, r, lambda c, r: c.ok(_("{n} cards on {pages} pages → {file}").format(
        n=r["cards"], pages=r["pages"], file=r["file"])))


@scan_app.command("image", help=_("Decode the barcodes in image files.\n\nExample: refurb scan image label.jpg --json"))
def scan_image(files: Annotated[list[Path], typer.Argument(help=_("Image files."), show_default=False)],
               json_out: Json = False):
    from . import console, decoding

    results = []
    for f in files:
        try:
            codes = decoding.decode_file(f)
            results.append({"file": str(f), "codes": [{"text": c.text, "format": c.format} for c in codes]})
        except RefurbError as exc:
            results.append({"file": str(f), "error": exc.message})
    for w in decoding.warnings():
        console.err.print(w)
    _show(json_out, results, lambda c, r: c.decoded(r))
    if any("error" in r for r in results):
        raise typer.Exit(1)


@scan_app.command("camera", help=_("Read codes from a webcam (or a video file) and feed a station.\n\n"
                                   "Example: refurb scan camera --mode lookup --device 0"))
def scan_camera(
    tctx: typer.Context,
    mode: Annotated[str, typer.Option("--mode", help=_("Station mode for what is read."))] = "lookup",
    device: Annotated[int | None, typer.Option("--device", help=_("Camera number (default 0)."))] = None,
    video: Annotated[Path | None, typer.Option("--video", help=_("Read a video file instead of a camera."))] = None,
    image: ImageCtx = None, digipunt: DigipuntCtx = None, grade: GradeCtx = None,
    json_out: Json = False, operator: OperatorOpt = None, station: StationOpt = None,
):
    from . import console, decoding
    from .station import Context as StationContext
    from .station import Station

    ctx = _ctx(tctx, operator, station)
    st = Station(ctx, mode, StationContext(image=image, digipunt=digipunt, grade=grade.upper() if grade else None))
    capture = decoding.open_capture(device=device, video=str(video) if video else None)
    if not json_out:
        console.station_header(st)
    try:
        # a recording is debounced on its own clock, a webcam on the wall clock
        for code in decoding.scan_capture(capture, video_time=video is not None):
            outcome = st.handle(code.text)
            if outcome is not None:
                console.scan_result(outcome, st, json_out)
    except KeyboardInterrupt:
        pass
    finally:
        capture.release()
    if not json_out:
        console.station_summary(st.summary())
    if st.refused_count:
        raise typer.Exit(1)


# ---------------------------------------------------------------------------- evidence

evidence_app = _group("evidence", _("Read what hardware and erasure tools wrote (lshw, smartctl, nwipe …)."))


@evidence_app.command("parse", help=_(
    "Show what refurb reads in evidence files: lshw, smartctl, dmidecode, upower, eReuse snapshots, "
    "nwipe, nvme sanitize-log, hdparm, usody/eReuse erasure reports. No database needed.\n\n"
    "Example: refurb evidence parse smartctl.json nwipe.log --json"))
def evidence_parse(files: Annotated[list[Path], typer.Argument(help=_("Evidence files."), show_default=False)],
                   json_out: Json = False):
    from . import evidence

    results = [evidence.parse_file(f) for f in files]
    _show(json_out, results, lambda c, r: c.evidence(r))
    if any("error" in r for r in results):
        raise typer.Exit(1)


@loan_app.command("agreement", help=_(
    "Print the loan agreement of a device on loan (PDF, in Dutch), optionally followed by a French or English "
    "copy marked as a translation. The borrower signs the paper copy; their name never enters refurb.\n\n"
    "Example: refurb loan agreement RB-000142-J --translation fr --out overeenkomst.pdf"))
def loan_agreement(
    tctx: typer.Context, code: Code,
    out: Annotated[Path | None, typer.Option("--out", help=_("The PDF file (default: TAG-agreement.pdf)."))] = None,
    translation: Annotated[str | None, typer.Option("--translation", help=_("Add a copy in fr or en."))] = None,
    json_out: Json = False,
):
    from . import reports

    if translation is not None:
        _choice(translation, ("fr", "en"), "--translation")
    target = out or Path(f"{code.strip()}-agreement.pdf")
    r = reports.loan_agreement(_ctx(tctx), code, target, "nl", translation)
    _show(json_out, r, lambda c, r: c.ok(_("loan agreement {reference} written to {file}").format(**r)))


borrower_app = _group("borrower", _("Borrower references and the retention policy (GDPR)."))


@borrower_app.command("purge", help=_(
    "Apply the retention policy (a lead): loans returned more than policy.retention_loans_days ago lose their "
    "link to the borrower, and borrower references whose last loan is older than policy.retention_personal_days "
    "are removed. Says what it removed.\n\nExample: refurb borrower purge --dry-run"))
def borrower_purge(
    tctx: typer.Context,
    dry_run: Annotated[bool, typer.Option("--dry-run", help=_("Say what would be removed; change nothing."))] = False,
    json_out: Json = False, operator: OperatorOpt = None, station: StationOpt = None,
):
    from . import services

    r = services.purge_borrowers(_ctx(tctx, operator, station), dry_run)
    message = _("{loans_pseudonymised} loans detached from their borrower (returned before {loans_before}), "
                "{borrowers_removed} borrower references removed (last loan before {borrowers_before})")
    _show(json_out, r, lambda c, r: (c.note if r["dry_run"] else c.ok)(
        (_("would be: ") if r["dry_run"] else "") + message.format(**r)))


report_app = _group("report", _("Documents for donors and funders: certificates, donor and funder reports."))


@report_app.command("certificate", help=_(
    "Write the certificate of sanitization (PDF) of one device, or of a donor batch with --batch: the NIST SP "
    "800-88 fields, the level reached per medium, tool, verification, evidence hashes, operator and verifier; "
    "for a batch also the reconciliation against the manifest and the outcomes. Dutch unless --language en|fr. "
    "Issuing it is recorded with the PDF's SHA-256.\n\n"
    "Example: refurb report certificate --batch ACME-2026-11 --out acme.pdf --language en"))
def report_certificate(
    tctx: typer.Context,
    code: Annotated[str | None, typer.Argument(help=_("Asset tag, serial or donor tag of the device."),
                                               show_default=False)] = None,
    batch: Annotated[str | None, typer.Option("--batch", help=_("Certificate of a whole batch."))] = None,
    out: Annotated[Path, typer.Option("--out", help=_("The PDF file to write."), show_default=False)] = None,
    language: Annotated[str, typer.Option("--language", help=_("Language of the certificate: nl, en or fr."))] = "nl",
    verifier: Annotated[str | None, typer.Option("--verifier", help=_(
        "The person validating (an operator); default: you."))] = None,
    json_out: Json = False, operator: OperatorOpt = None, station: StationOpt = None,
):
    from . import reports

    if (code is None) == (batch is None):
        raise UsageProblem(_("give a device or --batch REF, not both"), hint=_("refurb report certificate --help"))
    if out is None:
        raise UsageProblem(_("no output file"), hint=_("give --out FILE.pdf"))
    _choice(language, ("nl", "en", "fr"), "--language")
    c = _ctx(tctx, operator, station)
    r = (reports.device_certificate(c, code, out, language, verifier) if code is not None
         else reports.batch_certificate(c, batch, out, language, verifier))
    _show(json_out, r, lambda c, r: c.ok(_("certificate {certificate} written to {file} (SHA-256 {sha256})").format(**r)))


export_app = _group("export", _("Lists for partners: the ready stock of the digipunten."))


@export_app.command("stock", help=_(
    "Write the stock list: the devices in a digipunt's pool that are not on loan (without --digipunt: every "
    "ready or allocated device). Columns: tag, serial, kind, make, model, cpu, ram_gb, storage_gb, storage_type, "
    "screen, battery_health, image, grade, accessories, location, ready_since. excel-csv is what Excel opens "
    "in Belgium (; separator, decimal commas); the PDF is a printable list per digipunt, in Dutch unless "
    "--language. No personal data and no donor in any format. Without --out, csv and json go to the terminal.\n\n"
    "Example: refurb export stock --digipunt \"Gent Zuid\" --format excel-csv --out gent-zuid.csv"))
def export_stock(
    tctx: typer.Context,
    fmt: Annotated[str, typer.Option("--format", help=_("csv, excel-csv, xlsx, pdf or json."), show_default=False)],
    digipunt: Annotated[str | None, typer.Option("--digipunt", help=_("Only the pool of this digipunt."))] = None,
    out: Annotated[Path | None, typer.Option("--out", help=_("The file to write (needed for xlsx and pdf)."))] = None,
    language: Annotated[str, typer.Option("--language", help=_("Language of the PDF: nl, en or fr."))] = "nl",
):
    from . import exports

    _choice(fmt, exports.FORMATS, "--format")
    _choice(language, ("nl", "en", "fr"), "--language")
    r = exports.write_stock(_ctx(tctx), fmt, out, digipunt, language)
    if r["file"] is not None:  # on the terminal the list itself is the output, nothing else
        _show(False, r, lambda c, r: c.ok(ngettext("{rows} device written to {file}",
                                                   "{rows} devices written to {file}", r["rows"]).format(**r)))


labels_app = _group("labels", _("Asset labels: templates, preview, print, calibrate."))


def _template_dirs(tctx):
    settings = _settings(tctx)
    return [settings.labels_dir] if settings.labels_dir else []


@labels_app.command("templates", help=_(
    "List the label templates: the shipped ones and those in labels_dir (the same id replaces a shipped one).\n\n"
    "Example: refurb labels templates --json"))
def labels_templates(tctx: typer.Context, json_out: Json = False):
    from . import labels

    rows = [labels.describe(t) for t in labels.load_templates(_template_dirs(tctx)).values()]
    _show(json_out, rows, lambda c, r: c.simple_table(
        [_("template"), _("label size"), _("per page"), _("from")],
        [[x["id"], f"{x['width_mm']:g} × {x['height_mm']:g} mm", x["per_page"] or _("roll"),
          _("shipped") if x["shipped"] else x["source"]] for x in r]))


@labels_app.command("preview", help=_(
    "Render labels of sample values with a template, without a database: to check a template.\n\n"
    "Example: refurb labels preview avery-l7163 --count 14 --out preview.pdf"))
def labels_preview(
    tctx: typer.Context,
    template: Annotated[str, typer.Argument(help=_("Template id (refurb labels templates)."), show_default=False)],
    out: Annotated[Path, typer.Option("--out", help=_("The PDF file to write."), show_default=False)],
    count: Annotated[int | None, typer.Option("--count", min=1, help=_(
        "How many labels (default: one sheet, or one label of a roll)."))] = None,
    json_out: Json = False,
):
    from . import labels

    r = labels.preview(labels.get_template(template, _template_dirs(tctx)), out, count)
    _show(json_out, r, lambda c, r: c.ok(_("{labels} labels on {pages} pages written to {file}").format(**r)))


@labels_app.command("calibrate", help=_(
    "Print a calibration page: every label's outline and printable area, rulers, and how to print it "
    "(at 100 %, no fit to page).\n\nExample: refurb labels calibrate --template avery-l7163 --out calibrate.pdf"))
def labels_calibrate(
    tctx: typer.Context,
    template: Annotated[str, typer.Option("--template", help=_("Template id."), show_default=False)],
    out: Annotated[Path | None, typer.Option("--out", help=_("The PDF file to write."))] = None,
    printer: Annotated[str | None, typer.Option("--printer", help=_("CUPS queue to print on."))] = None,
    json_out: Json = False,
):
    import tempfile

    from . import labels, printing

    printer = printer or (None if out else _settings(tctx).printer)
    if not out and not printer:
        raise UsageProblem(_("say where to: --out FILE.pdf or --printer QUEUE"), hint=_("see --help"))
    t = labels.get_template(template, _template_dirs(tctx))
    if out:
        r = labels.calibrate(t, out)
    else:
        with tempfile.TemporaryDirectory(prefix="refurb-labels-") as folder:
            r = labels.calibrate(t, Path(folder) / "calibrate.pdf")
            r.update(printing.to_cups(Path(r["file"]), printer, page=t.page, title=f"refurb calibrate {t.id}"))
            r["file"] = None
    _show(json_out, r, lambda c, r: c.ok(_("calibration page for {template} sent").format(**r) if r["file"] is None
                                         else _("calibration page for {template} written to {file}").format(**r)))


@labels_app.command("print", help=_(
    "Print the asset labels of devices (by tag, --batch, --state, or --pending: those never printed) with a "
    "template, to a PDF (--out), a CUPS queue (--printer), a Zebra (--zpl FILE) or a Brother QL (--brother "
    "MODEL --brother-out FILE|tcp://HOST|usb://…). --skip starts on a half-used sheet. A field that cannot be "
    "printed shows a placeholder; the run goes on. Printed devices are recorded, so --pending skips them.\n\n"
    "Example: refurb labels print --batch ACME-2026-11 --template avery-l7163 --skip 3 --out labels.pdf"))
def labels_print(
    tctx: typer.Context,
    codes: Annotated[list[str] | None, typer.Argument(help=_("Asset tags or serials."), show_default=False)] = None,
    template: Annotated[str | None, typer.Option("--template", help=_(
        "Template id (default: label_template from the config)."))] = None,
    batch: Annotated[str | None, typer.Option("--batch", help=_("Every device of this batch."))] = None,
    state: Annotated[str | None, typer.Option("--state", help=_("Every device in this state."))] = None,
    pending: Annotated[bool, typer.Option("--pending", help=_("The devices whose label was never printed."))] = False,
    part: Annotated[list[str] | None, typer.Option("--part", help=_(
        "One label per device and part, e.g. --part charger --part battery (parts-tag)."))] = None,
    skip: Annotated[int, typer.Option("--skip", min=0, help=_("Positions already used on the first sheet."))] = 0,
    copies: Annotated[int, typer.Option("--copies", min=1, help=_("Labels per device."))] = 1,
    out: Annotated[Path | None, typer.Option("--out", help=_("Write a PDF."))] = None,
    printer: Annotated[str | None, typer.Option("--printer", help=_("Print on this CUPS queue."))] = None,
    zpl: Annotated[Path | None, typer.Option("--zpl", help=_("Write ZPL for a Zebra printer."))] = None,
    brother: Annotated[str | None, typer.Option("--brother", help=_("Brother QL model, e.g. QL-820NWB."))] = None,
    brother_out: Annotated[str | None, typer.Option("--brother-out", help=_(
        "Where the Brother raster goes: a file, tcp://HOST or usb://…"))] = None,
    json_out: Json = False, operator: OperatorOpt = None, station: StationOpt = None,
):
    from . import reports

    settings = _settings(tctx)
    template = template or settings.label_template
    if not template:
        raise UsageProblem(_("no label template"), hint=_("give --template ID (refurb labels templates)"))
    if not (codes or batch or state or pending):
        raise UsageProblem(_("which devices? give tags, --batch, --state or --pending"), hint=_("see --help"))
    if not (out or printer or zpl or brother):
        printer = settings.printer
    chosen = [x for x in (out, printer, zpl, brother) if x]
    if len(chosen) != 1:
        raise UsageProblem(_("give one output: --out, --printer, --zpl or --brother"), hint=_("see --help"))
    if brother and not brother_out:
        raise UsageProblem(_("--brother needs --brother-out FILE|tcp://HOST|usb://…"), hint=_("see --help"))
    if skip and (zpl or brother):
        raise UsageProblem(_("--skip is for sheets (--out, --printer)"), hint=_("label printers use a roll"))
    c = _ctx(tctx, operator, station)
    records = reports.label_records(c, codes or (), batch, state, pending, part or ())
    if not records:
        _show(json_out, {"labels": 0, "devices": 0}, lambda c, r: c.note(_("no labels to print")))
        return
    r = reports.print_labels(c, records, template, out=out, printer=printer, zpl=zpl, brother=brother,
                             brother_out=brother_out, skip=skip, copies=copies)

    def render(c, r):
        where = r.get("file") or r.get("target") or r.get("queue")
        c.ok(ngettext("{labels} label ({template}) → {where}", "{labels} labels ({template}) → {where}",
                      r["labels"]).format(labels=r["labels"], template=r["template"], where=where))
        for p in r.get("placeholders") or []:
            c.say("  " + _("label {label} ({tag}): {element}: {reason}").format(**p), style="yellow")

    _show(json_out, r, render)


@app.command("status", help=_(
    "The warehouse at a glance: devices per state, blocked devices and how long they have waited, throughput "
    "over the last 7 and 30 days, median time per stage and the work of each station.\n\n"
    "Example: refurb status"))
def status_cmd(tctx: typer.Context, json_out: Json = False):
    from . import stats

    _show(json_out, stats.status(_ctx(tctx)), lambda c, r: c.status(r))


ReportLanguage = Annotated[str, typer.Option("--language", help=_("Language of the report: nl, en or fr."))]


@report_app.command("donor", help=_(
    "Write the donor report of a batch (PDF): the reconciliation with the donor's manifest (received, missing, "
    "extra), what became of every device by the donor's own serial and asset tag, and the CO2e its reuse "
    "avoided, with the factor and its source ([report] in the config file). Dutch unless --language en|fr.\n\n"
    "Example: refurb report donor --batch ACME-2026-11 --out acme-report.pdf"))
def report_donor(
    tctx: typer.Context,
    batch: Annotated[str, typer.Option("--batch", help=_("The batch reference."), show_default=False)],
    out: Annotated[Path, typer.Option("--out", help=_("The PDF file to write."), show_default=False)],
    language: ReportLanguage = "nl",
    json_out: Json = False,
):
    from . import report_pdf, stats

    _choice(language, ("nl", "en", "fr"), "--language")
    data = stats.donor_report(_ctx(tctx), batch)
    path = report_pdf.render_donor(data, out, language)
    r = {"file": str(path), "report": data["report_id"], "batch": data["batch"]["ref"], "lang": language,
         "reused": data["impact"]["reused"], "co2e_kg": data["impact"]["co2e_kg"]}
    _show(json_out, r, lambda c, r: c.ok(_("donor report {report} written to {file}").format(**r)))


@report_app.command("funder", help=_(
    "Write the funder report of a period: users reached (distinct borrower references), loans started, active, "
    "returned and lost, devices received, reused and recycled, per digipunt and per kind of device. Aggregates "
    "only: counts from 1 to 4 are hidden. PDF, or CSV when --out ends in .csv. Days in Brussels time, both "
    "included. Dutch unless --language en|fr.\n\n"
    "Example: refurb report funder --from 2026-01-01 --to 2026-03-31 --out q1.pdf"))
def report_funder(
    tctx: typer.Context,
    start: Annotated[str, typer.Option("--from", help=_("First day, YYYY-MM-DD."), show_default=False)],
    end: Annotated[str, typer.Option("--to", help=_("Last day, YYYY-MM-DD (included)."), show_default=False)],
    out: Annotated[Path, typer.Option("--out", help=_("The PDF or CSV file to write."), show_default=False)],
    language: ReportLanguage = "nl",
    json_out: Json = False,
):
    from . import report_pdf, stats

    _choice(language, ("nl", "en", "fr"), "--language")
    data = stats.funder_report(_ctx(tctx), _date(start, "--from"), _date(end, "--to"))
    if out.suffix.lower() == ".csv":
        path = stats.funder_csv(data, out)
    else:
        path = report_pdf.render_funder(data, out, language)
    r = {**data, "file": str(path)}
    _show(json_out, r, lambda c, r: c.ok(_("funder report {report} written to {file}").format(
        report=r["report_id"], file=r["file"])))


def main():
    app(prog_name="refurb")


if __name__ == "__main__":
    main()
