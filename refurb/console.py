"""Terminal output: the only module that imports rich.  Nothing here decides anything."""

import json
import sys
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .i18n import _
from .lifecycle import label

BRUSSELS = ZoneInfo("Europe/Brussels")
STATE_STYLE = {
    "expected": "dim", "intake": "cyan", "wipe_pending": "yellow", "wiping": "yellow", "wiped": "blue",
    "imaged": "blue", "ready": "green", "allocated": "green", "on_loan": "magenta", "returned": "yellow",
    "locked": "red", "wipe_failed": "red", "repair": "red", "parts": "dim", "recycled": "dim",
    "returned_to_donor": "dim", "lost": "red",
}

class _Lazy:
    """A rich Console bound to the current sys.stdout/sys.stderr (test runners swap them).

    Off a terminal, lines are not cut at 80 columns: scripts and logs get whole lines."""

    def __init__(self, stderr=False):
        self.stderr = stderr

    def __getattr__(self, name):
        stream = sys.stderr if self.stderr else sys.stdout
        width = None if stream.isatty() else 200
        console = Console(file=stream, highlight=False, soft_wrap=True, width=width)
        return getattr(console, name)


out = _Lazy()
err = _Lazy(stderr=True)


def emit_json(data):
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def say(message, style=None):
    out.print(Text(message, style=style) if style else Text(message))


def ok(message):
    out.print(Text("✔ ", style="green bold") + Text(message))


def note(message):
    out.print(Text(message, style="dim"))


def error(exc, debug=False):
    """pip-style: `error: <code>` / the message / context / `hint: …`, on stderr."""
    err.print(Text(_("error: {code}").format(code=exc.code), style="red bold"))
    err.print(Text("× " + exc.message))
    for line in exc.context:
        err.print(Text("  " + line))
    if exc.hint:
        err.print(Text(_("hint: {hint}").format(hint=exc.hint), style="yellow"))


def local_time(value, with_year=False):
    """ISO UTC (…Z) → dd/mm HH:MM or dd/mm/yyyy HH:MM, Europe/Brussels."""
    from datetime import datetime

    if not value:
        return ""
    t = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(BRUSSELS)
    return t.strftime("%d/%m/%Y %H:%M" if with_year else "%d/%m %H:%M")


def state_text(state):
    return Text(state or "—", style=STATE_STYLE.get(state or "", ""))


def size(n):
    if not n:
        return ""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000:
            return f"{n:.0f} {unit}"
        n /= 1000
    return f"{n:.0f} PB"


def transition(result, message):
    """One line for a write that moved a device: ✔ message · state (steps)."""
    if result.get("noop"):
        out.print(Text("• ", style="dim") + Text(message) + Text(" · " + _("nothing to do: it already is {state}").format(
            state=result["state"]), style="dim"))
        return
    steps = " → ".join(label(e["action"]) for e in result.get("events", []) if e.get("to_state"))
    line = Text("✔ ", style="green bold") + Text(message) + Text(" · ") + state_text(result["state"])
    if steps:
        line += Text(f"  ({steps})", style="dim")
    out.print(line)


def device_card(d):
    title = Text(d["tag"], style="bold") + Text("  " + " ".join(x for x in (d.get("make"), d.get("model")) if x))
    if d.get("serial"):
        title += Text(" · " + d["serial"])
    if d.get("donor_tag"):
        title += Text(" · " + _("donor tag {tag}").format(tag=d["donor_tag"]))
    title += Text(" · " + _("batch {ref} ({donor})").format(ref=d["batch"], donor=d["donor"]), style="dim")
    out.print(title)
    specs = d.get("specs") or {}
    if specs_line(specs):
        out.print(Text(specs_line(specs)))
    if specs.get("windows11") or specs.get("suggested_image"):
        out.print(Text(windows11_line(specs.get("windows11")) + (
            "  · " + _("suggested image: {image}").format(image=specs["suggested_image"])
            if specs.get("suggested_image") else ""), style="dim"))
    media = d.get("media") or []
    if media:
        parts = []
        for m in media:
            wiped = [w for w in m.get("wipes", []) if w["result"] == "pass" and w["verified"]]
            mark = f" ✔ {wiped[-1]['profile']} · {wiped[-1]['level']}" if wiped else ""
            parts.append(f"{size(m.get('size_bytes'))} {m['type']} ({m['serial']}){mark}".strip())
        out.print(Text(_("storage: ") + "; ".join(parts)))
    elif d.get("no_storage"):
        out.print(Text(_("storage: none")))
    else:
        out.print(Text(_("storage: not known yet"), style="yellow"))
    line = Text(_("state: ")) + state_text(d["state"])
    if d.get("grade"):
        line += Text(" · " + _("grade {grade}").format(grade=d["grade"]))
    if d["state"] not in ("parts", "recycled", "returned_to_donor", "lost", "expected"):
        line += Text(" · " + (d.get("location") or _("warehouse")))
    if d.get("open_locks"):
        line += Text(" · " + _("locked: {kinds}").format(kinds=", ".join(d["open_locks"])), style="red")
    if d.get("loan"):
        line += Text(" · " + _("lent to {borrower}, due {due}").format(
            borrower=d["loan"]["borrower"], due=day(d["loan"]["due"])))
    out.print(line)
    out.print()
    table = Table(box=None, show_header=False, pad_edge=False)
    for _col in range(6):
        table.add_column()
    for e in d.get("events", []):
        table.add_row(
            local_time(e["at"]), label(e["action"]), state_text(e["to_state"] or e["from_state"]),
            e["operator"], e["station"], Text(_details(e), style="dim"),
        )
    out.print(table)


def day(iso_date):
    """'2027-01-31' → '31/01/2027' (SPEC §11: dates for people are dd/mm/yyyy)."""
    y, m, d = iso_date.split("-")
    return f"{d}/{m}/{y}"


def device_words(d):
    """'RB-000001-0 PF1ABC23 Lenovo ThinkPad T480' without empty parts."""
    return " ".join(x for x in (d["tag"], d.get("serial") or d.get("donor_tag"), d.get("make"), d.get("model")) if x)


def _details(e):
    data = e.get("data") or {}
    bits = []
    for key in ("medium", "profile", "level", "result", "image", "grade", "digipunt", "borrower", "condition",
                "lock", "locks", "recycler", "serial", "type", "note"):
        value = data.get(key)
        if value not in (None, "", []):
            bits.append(", ".join(value) if isinstance(value, list) else str(value))
    if data.get("verified") is True:
        bits.append(_("verified"))
    if e.get("forced"):
        bits.append(_("FORCED: {reason}").format(reason=e["forced"]))
    return " · ".join(bits)


def device_table(rows):
    table = Table(box=None, pad_edge=False)
    for head in (_("tag"), _("state"), _("kind"), _("make / model"), _("serial"), _("batch"), _("where")):
        table.add_column(head)
    for d in rows:
        table.add_row(
            d["tag"], state_text(d["state"]), d["kind"], " ".join(x for x in (d.get("make"), d.get("model")) if x),
            d.get("serial") or "", d.get("batch") or "", d.get("location") or "",
        )
    out.print(table)


def simple_table(headers, rows):
    table = Table(box=None, pad_edge=False)
    for head in headers:
        table.add_column(head)
    for row in rows:
        table.add_row(*[r if isinstance(r, Text) else Text(str(r) if r is not None else "") for r in row])
    out.print(table)


def lifecycle_table(rows):
    table = Table(box=None, pad_edge=False)
    for head in (_("action"), _("from"), _("to"), _("guards"), _("auto")):
        table.add_column(head)
    for r in rows:
        table.add_row(r["action"], ", ".join(r["from"]) or "—", r["to"], ", ".join(r["guards"]),
                      "✔" if r["auto"] else "")
    out.print(table)


# ---------------------------------------------------------------------------- stations


def station_header(st):
    c = st.context
    bits = [st.mode, st.ctx.where, _("operator {name}").format(name=c.operator or "—")]
    for key, value in (("image", c.image), ("digipunt", c.digipunt), ("grade", c.grade), ("batch", c.batch)):
        if value:
            bits.append(f"{key} {value}")
    out.print(Text(" · ".join(bits), style="bold"))
    out.print(Text(_("scan a device or a card (UNDO · DONE · OPERATOR); u = undo; Ctrl-D or Ctrl-C to stop"),
                   style="dim"))


def scan_result(outcome, st, as_json):
    """One scan's feedback: a coloured line, the bell on a refusal; or one JSON object per line."""
    if as_json:
        sys.stdout.write(json.dumps(outcome.as_json(), ensure_ascii=False) + "\n")
        sys.stdout.flush()
        return
    if outcome.ok:
        mark, style = ("⚠ ", "yellow bold") if outcome.layout else ("✔ ", "green bold")
    else:
        mark, style = "✘ ", "red bold"
    line = Text(mark, style=style) + Text(outcome.message)
    if outcome.ok and outcome.action not in ("card", "undo"):
        line += Text(f"   #{st.ok_count}", style="dim")
    out.print(line)
    if outcome.hint and not outcome.ok:
        out.print(Text("    " + _("hint: {hint}").format(hint=outcome.hint), style="yellow"))
    if outcome.tip:
        out.print(Text("    " + _("Tip: {tip}").format(tip=outcome.tip), style="cyan"))
    if not outcome.ok and sys.stdout.isatty():
        sys.stdout.write("\a")
    sys.stdout.flush()


def station_summary(summary):
    out.print(Text(_("{ok} scans done, {refused} refused ({mode} station)").format(**summary), style="bold"))


def decoded(results):
    for r in results:
        if "error" in r:  # the message names the file already
            err.print(Text("✘ " + r["error"], style="red"))
        elif not r["codes"]:
            out.print(Text("· " + r["file"] + ": " + _("no code found"), style="dim"))
        else:
            for c in r["codes"]:
                out.print(Text(f"{r['file']}: ") + Text(c["text"], style="bold") + Text(f"  ({c['format']})", style="dim"))


def specs_line(specs):
    """Intel Core i5-8250U · 4 cores · 8 GB RAM · 256 GB · 15.6" · UEFI · TPM 2.0 · battery 88 %"""
    bits = [specs.get("cpu")]
    if specs.get("cores"):
        bits.append(_("{n} cores").format(n=specs["cores"]))
    if specs.get("ram_gb"):
        bits.append(f"{specs['ram_gb']:g} GB RAM")
    if specs.get("storage_gb"):
        bits.append(f"{specs['storage_gb']:g} GB")
    if specs.get("screen_inches"):
        bits.append(f"{specs['screen_inches']:g}\"")
    bits += [{"uefi": "UEFI", "bios": "BIOS"}.get(specs.get("firmware")),
             f"TPM {specs['tpm']}" if specs.get("tpm") else None]
    if specs.get("battery_health") is not None:
        bits.append(_("battery {pct:g} %").format(pct=specs["battery_health"]))
    return " · ".join(str(b) for b in bits if b)


def windows11_line(verdict):
    """Windows 11: not eligible (reason; reason) — the checks that are not met or not known."""
    if not verdict:
        return ""
    word = {True: _("eligible"), False: _("not eligible"), None: _("unknown")}[verdict.get("eligible")]
    why = [c["detail"] for c in verdict.get("checks", []) if c.get("ok") is not True]
    return _("Windows 11: {verdict}").format(verdict=word) + (f"  ({'; '.join(why)})" if why else "")


def evidence(results):
    """What was read in each evidence file, a few lines each."""
    for r in results:
        if "error" in r:
            err.print(Text(f"✘ {r['file']}: ", style="red") + Text(r["error"]) +
                      Text(f"  ({r['kind']})" if r.get("kind") else "", style="dim"))
            continue
        out.print(Text(f"{r['file']}", style="bold") + Text(f"  ({r['kind']})", style="dim"))
        d = r.get("device") or {}
        if d:
            out.print(Text("  " + " ".join(str(d[k]) for k in ("make", "model", "serial", "kind") if d.get(k))))
        for m in r.get("media") or []:
            health = m.get("health") or {}
            bits = [m.get("type") or "?", m.get("serial") or "?", size(m.get("size_bytes")), m.get("model") or ""]
            if health.get("smart_passed") is not None:
                bits.append("SMART " + ("ok" if health["smart_passed"] else "FAILED"))
            if health.get("power_on_hours") is not None:
                bits.append(f"{health['power_on_hours']} h")
            out.print(Text("  " + " · ".join(b for b in bits if b)))
        b = r.get("battery") or {}
        specs = {**(r.get("specs") or {}), **({"battery_health": b["health_percent"]}
                                               if b.get("health_percent") is not None else {})}
        if specs_line(specs):
            out.print(Text("  " + specs_line(specs)))
        if r.get("specs"):
            from .evidence import windows11

            out.print(Text("  " + windows11_line(windows11(r)), style="dim"))
        for e in r.get("erasures") or []:
            out.print(Text("  " + " · ".join(str(e[k]) for k in ("serial", "method", "result", "level") if e.get(k))))
        for w in r.get("warnings") or []:
            out.print(Text("  ⚠ " + w, style="yellow"))


class _Bar:
    """A progress bar on stderr for long work: update(done, total), then close()."""

    def __init__(self, description):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TimeRemainingColumn(), console=err, transient=True)
        self._task = self._progress.add_task(description, total=None)
        self._progress.start()

    def update(self, done, total):
        self._progress.update(self._task, completed=done, total=total)

    def close(self):
        self._progress.stop()


def progress(description):
    return _Bar(description)


# ---------------------------------------------------------------------------- refurb status

BAR_WIDTH = 40
BLOCKED_SHOWN = 20


def status(data):
    """`refurb status`: devices per state as bars, blocked devices and how long they have waited,
    throughput over 7 and 30 days, median time per stage, work per station (data: refurb.stats.status)."""
    out.print(Text(_("{n} devices").format(n=data["total"]), style="bold")
              + Text("  · " + local_time(data["at"], with_year=True), style="dim"))
    counts = {state: n for state, n in data["states"].items() if n}
    top = max(counts.values(), default=0)
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column()
    table.add_column()
    table.add_column(justify="right")
    for state, n in counts.items():
        table.add_row(state_text(state), Text(_bar(n, top), style=STATE_STYLE.get(state, "")), str(n))
    out.print(table)
    _blocked(data["blocked"])
    _throughput(data["throughput"])
    _stages(data["stages"])
    _stations(data["stations"])


def _bar(n, top, width=BAR_WIDTH):
    """n of top as a bar of block characters, in eighths of a character; never empty for n > 0."""
    if not n or not top:
        return ""
    eighths = max(1, round(n * width * 8 / top))
    return "█" * (eighths // 8) + ("", "▏", "▎", "▍", "▌", "▋", "▊", "▉")[eighths % 8]


def _duration(seconds):
    """A stay or an age for people: 3 d 4 h, 5 h 12 min, 8 min, 40 s."""
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return _("{days} d {hours} h").format(days=days, hours=hours)
    if hours:
        return _("{hours} h {minutes} min").format(hours=hours, minutes=minutes)
    if minutes:
        return _("{minutes} min").format(minutes=minutes)
    return _("{seconds} s").format(seconds=seconds)


def _section(title):
    out.print()
    out.print(Text(title, style="bold"))


def _blocked(blocked):
    _section(_("Blocked: {n}").format(n=len(blocked)))
    if not blocked:
        note(_("none"))
        return
    table = Table(box=None, pad_edge=False)
    for head in (_("tag"), _("state"), _("waiting"), _("since"), _("device"), _("donor · batch"), _("why")):
        table.add_column(head)
    for b in blocked[:BLOCKED_SHOWN]:
        table.add_row(b["tag"], state_text(b["state"]), _duration(b["age_seconds"]), local_time(b["since"]),
                      " ".join(x for x in (b["make"], b["model"]) if x) or b["kind"],
                      f"{b['donor']} · {b['batch']}", ", ".join(b["detail"]))
    out.print(table)
    if len(blocked) > BLOCKED_SHOWN:
        note(_("… and {n} more: refurb list --state locked|wipe_failed|repair").format(
            n=len(blocked) - BLOCKED_SHOWN))


def _throughput(rows):
    words = {"received": _("received"), "wiped": _("wiped"), "ready": _("ready"), "allocated": _("allocated"),
             "lent": _("lent out"), "returned": _("returned"), "parts": _("harvested for parts"),
             "recycled": _("recycled"), "returned_to_donor": _("returned to donor"), "lost": _("lost")}
    _section(_("Throughput"))
    table = Table(box=None, pad_edge=False)
    table.add_column("")
    table.add_column(_("7 days"), justify="right")
    table.add_column(_("30 days"), justify="right")
    for r in rows:
        if r["last_30_days"] or r["milestone"] in ("received", "ready", "lent"):
            table.add_row(words.get(r["milestone"], r["milestone"]), str(r["last_7_days"]),
                          str(r["last_30_days"]))
    out.print(table)


def _stages(rows):
    _small_table(_("Median time per stage (stays ended in the last 30 days)"),
                 [(_("state"), "left"), (_("median"), "right"), (_("stays"), "right")],
                 [(state_text(r["state"]), _duration(r["median_seconds"]), str(r["stays"])) for r in rows])


def _stations(rows):
    _small_table(_("Per station (device events)"),
                 [(_("station"), "left"), (_("7 days"), "right"), (_("30 days"), "right")],
                 [(r["station"], str(r["last_7_days"]), str(r["last_30_days"])) for r in rows])


def _small_table(title, columns, rows):
    _section(title)
    if not rows:
        note(_("none"))
        return
    table = Table(box=None, pad_edge=False)
    for name, justify in columns:
        table.add_column(name, justify=justify)
    for row in rows:
        table.add_row(*row)
    out.print(table)
