"""A scanning station: one job (mode), sticky context, one committed action per scan.

`Station.handle(text)` takes one scanned line and returns an Outcome; it never raises for a
person's mistake (a refused scan is an Outcome with ok=False).  The terminal loop, colours and the
bell live in refurb.cli / refurb.console; this module knows nothing of them.
"""

from dataclasses import asdict, dataclass, field, replace

from . import scanning, services, tags
from .errors import Misread, NotFound, RefurbError, UsageProblem
from .i18n import _

MODES = ("intake", "wipe", "image", "qc", "allocate", "loan", "return", "lookup")
UNDO_KEYS = ("u", "undo")


@dataclass
class Outcome:
    input: str
    resolved: str | None
    ok: bool
    action: str
    state: str | None
    message: str
    hint: str | None = None
    code: str | None = None  # the error reference when refused
    layout: str | None = None  # the keyboard layout a scan was repaired from
    tip: str | None = None  # said once per session: how to set the scanner up

    def as_json(self):
        keys = ("input", "resolved", "ok", "action", "state", "message")
        data = asdict(self)
        out = {k: data[k] for k in keys}
        for k in ("hint", "code", "layout"):
            if data[k]:
                out[k] = data[k]
        return out


@dataclass
class Context:
    """What sticks between scans until a card or an option changes it."""

    operator: str | None = None
    image: str | None = None
    digipunt: str | None = None
    grade: str | None = None
    fail_item: str | None = None  # a failing-item card applies to the next device only
    condition: str = "ok"
    batch: str | None = None
    pending_loan: str | None = None  # loan mode: the device waiting for its borrower reference


@dataclass
class Station:
    ctx: services.Context
    mode: str
    context: Context = field(default_factory=Context)
    register: object = None  # callable(text) -> dict of intake fields, or None when no person is at the terminal
    ok_count: int = 0
    refused_count: int = 0
    last: list = field(default_factory=list)  # event ids of the last action, for undo
    last_tag: str | None = None
    told: set = field(default_factory=set)

    def __post_init__(self):
        if self.mode not in MODES:
            raise UsageProblem(_("unknown station mode {mode!r}").format(mode=self.mode),
                               hint=_("modes: {modes}").format(modes=", ".join(MODES)))
        self.context.operator = self.context.operator or self.ctx.who

    # ------------------------------------------------------------------ the one entry point

    def handle(self, raw):
        try:
            text = scanning.clean(raw)
        except ValueError as exc:
            return self._count(Outcome(_shown(raw), None, False, "rejected", None,
                                       _("not a scan: {reason}").format(reason=exc), code="bad-scan"))
        if not text:
            return None
        if text.lower() in UNDO_KEYS:
            return self._count(self._undo(text))
        card = scanning.parse_card(text)
        if card is not None:
            return self._count(self._card(text, card))
        for layout, repaired in scanning.layout_repairs(text):  # cards come first, mangled or not
            card = scanning.parse_card(repaired)
            if card is not None:
                return self._count(self._repaired(self._card(text, card, layout), repaired, layout))
        if scanning.looks_like_card(text):  # a card of another site or version: never a device
            return self._count(Outcome(text, None, False, "card", None, _("{code}: unknown card").format(code=text),
                                       _("print this station's cards: refurb station cards"), "unknown-card"))
        outcome = self._device(text, text)
        if outcome.ok or outcome.code not in ("not-found",):
            return self._count(outcome)
        repaired = self._repair(text)
        return self._count(repaired or outcome)

    def summary(self):
        return {"mode": self.mode, "ok": self.ok_count, "refused": self.refused_count,
                "scans": self.ok_count + self.refused_count}

    # ------------------------------------------------------------------ cards

    def _card(self, text, card, layout=None):
        try:
            return self._apply_card(text, card, layout)
        except RefurbError as exc:  # an unknown badge or digipunt number: refused, the session goes on
            return Outcome(text, None, False, "card", None, exc.message, exc.hint, exc.code, layout)

    def _apply_card(self, text, card, layout=None):
        c = self.context
        word, arg = card.word, card.arg
        note = None
        if word == "UNDO":
            return self._undo(text)
        if word == "OPERATOR":
            name, _role = services.operator_by_id(self.ctx, int(arg))
            c.operator = name
            note = _("operator: {name}").format(name=name)
        elif word == "MODE":
            self.mode = arg.lower()
            c.pending_loan = None
            note = _("mode: {mode}").format(mode=self.mode)
        elif word == "IMAGE":
            c.image = arg.lower()
            note = _("image: {image}").format(image=c.image)
        elif word == "DIGIPUNT":
            c.digipunt = services.digipunt_by_id(self.ctx, int(arg))
            note = _("digipunt: {name}").format(name=c.digipunt)
        elif word == "GRADE":
            c.grade = arg
            note = _("grade: {grade}").format(grade=arg)
        elif word == "ALLOK":
            c.fail_item = None
            note = _("quality check: all items OK")
        elif word == "FAIL":
            c.fail_item = arg.lower()
            note = _("quality check: {item} fails (for the next device)").format(item=c.fail_item)
        elif word == "COND":
            c.condition = arg.lower()
            note = _("return condition: {condition}").format(condition=c.condition)
        elif word == "DONE":
            c.pending_loan = None
            note = _("done")
        else:  # SETUP cards are reminders for the scanner's manual
            note = scanning.setup_hint(card.arg and card.arg.lower())
        return Outcome(text, None, True, "card", None, note, layout=layout)

    # ------------------------------------------------------------------ devices

    def _device(self, shown, text, layout=None):
        c = self.context
        if self.mode == "loan" and c.pending_loan and not tags.looks_like_tag(text):
            return self._lend(shown, text)
        try:
            ctx = replace(self.ctx, operator=c.operator)
            result = self._act(ctx, text)
        except Misread as exc:
            return Outcome(shown, None, False, "misread", None, exc.message, exc.hint, exc.code, layout)
        except NotFound as exc:
            if self.mode == "intake" and exc.code == "not-found":
                return self._unknown(shown, text, exc)
            return Outcome(shown, None, False, self.mode, None, exc.message, exc.hint, exc.code, layout)
        except RefurbError as exc:
            details = "; ".join(line.splitlines()[0] for line in exc.context)
            message = exc.message + (": " + details if details else "")
            return Outcome(shown, _tag_of(text), False, self.mode, exc.data.get("state"), message, exc.hint,
                           exc.code, layout)
        if result.get("events"):
            self.last, self.last_tag = [e["id"] for e in result["events"]], result["tag"]
        elif result.get("tag") != self.last_tag:  # undo reverses the last scan, never an older device's
            self.last = []
        what = " ".join(x for x in (result.get("make"), result.get("model")) if x)
        message = result.get("message", "")
        if result.get("noop"):
            message = _("nothing to do: it already is {state}").format(state=result["state"])
        return Outcome(shown, result["tag"], True, result.get("action", self.mode), result["state"],
                       f"{result['tag']}  {what}  {message}".strip(), layout=layout)

    def _act(self, ctx, text):
        c, mode = self.context, self.mode
        if mode == "lookup":
            d = services.show(ctx, text)
            where = d.get("location") or ""
            return {**d, "events": [], "action": "lookup", "message": f"· {d['state']} {where}".strip()}
        if not ctx.who:
            raise UsageProblem(_("scan your operator badge first"), hint=_("or start with --operator NAME"),
                               code="no-operator")
        if mode == "intake":
            r = services.receive(ctx, text)
            return {**r, "action": "receive", "message": _("received") if r["events"] else _("already received")}
        if mode == "wipe":
            r = services.start_wipe(ctx, text)
            return {**r, "action": "start_wipe", "message": _("on the wipe bench")}
        if mode == "image":
            if not c.image:
                raise UsageProblem(_("no image chosen"), hint=_("scan an image card or start with --image ID"),
                                   code="no-context")
            r = services.reimage(ctx, text, c.image)
            return {**r, "action": "reimage", "message": c.image}
        if mode == "qc":
            item = c.fail_item
            if item:
                r = services.record_qc(ctx, text, False, {item: "fail"})
                c.fail_item = None  # used up by the device it failed, not by a misread or an unknown code
                return {**r, "action": "qc_fail", "message": _("{item} fails → repair").format(item=item)}
            if not c.grade:
                raise UsageProblem(_("no grade chosen"), hint=_("scan a grade card or start with --grade A|B|C"),
                                   code="no-context")
            r = services.record_qc(ctx, text, True, {}, c.grade)
            return {**r, "action": "qc_pass", "message": _("passed, grade {grade}").format(grade=c.grade)}
        if mode == "allocate":
            if not c.digipunt:
                raise UsageProblem(_("no digipunt chosen"), hint=_("scan a digipunt card or start with --digipunt NAME"),
                                   code="no-context")
            r = services.allocate(ctx, text, c.digipunt)
            return {**r, "action": "allocate", "message": _("→ {name}").format(name=c.digipunt)}
        if mode == "return":
            r = services.loan_return(ctx, text, c.condition)
            return {**r, "action": "return", "message": _("returned ({condition})").format(condition=c.condition)}
        if mode == "loan":
            d = services.show(ctx, text)
            if d["state"] != "allocated":
                from .errors import TransitionRefused

                raise TransitionRefused(_("{tag} cannot be lent out: it is in {state}").format(
                    tag=d["tag"], state=d["state"]), hint=_("only allocated devices can be lent out"),
                    data={"state": d["state"]})
            c.pending_loan = d["tag"]
            return {**d, "events": [], "action": "loan_pending", "message": _("now scan the borrower's card")}
        raise AssertionError(mode)

    def _lend(self, shown, borrower):
        c = self.context
        tag, c.pending_loan = c.pending_loan, None
        try:
            r = services.loan_out(replace(self.ctx, operator=c.operator), tag, borrower)
        except RefurbError as exc:
            return Outcome(shown, tag, False, "loan_out", exc.data.get("state"), exc.message, exc.hint, exc.code)
        self.last = [e["id"] for e in r["events"]]
        return Outcome(shown, tag, True, "loan_out", r["state"],
                       _("{tag} lent to {borrower}, due {due}").format(tag=tag, borrower=borrower, due=r["due"]))

    def _unknown(self, shown, text, exc):
        if self.register is None:
            return Outcome(shown, None, False, "intake", None,
                           _("{code}: unknown; with piped input no registration is started").format(code=text),
                           _("register it: refurb intake add --batch … --serial {code}").format(code=text), "not-found")
        fields = self.register(text)
        if not fields:
            return Outcome(shown, None, False, "intake", None, _("registration cancelled"), None, "cancelled")
        try:
            r = services.register_device(replace(self.ctx, operator=self.context.operator), **fields)
        except RefurbError as exc:
            return Outcome(shown, None, False, "register", None, exc.message, exc.hint, exc.code)
        self.last = []  # a registration cannot be undone
        return Outcome(shown, r["tag"], True, "register", r["state"], _("{tag} registered").format(tag=r["tag"]))

    def _repair(self, text):
        """A scan that matched nothing, tried through the keyboard layouts: accepted only when the repaired
        text is one of our tags or cards, or matches a device."""
        for layout, repaired in scanning.layout_repairs(text):
            if not (tags.looks_like_tag(repaired) or _matches(self.ctx, repaired)):
                continue
            outcome = self._device(text, repaired, layout)
            if outcome.code in ("not-found", "misread-tag"):
                continue
            return self._repaired(outcome, repaired, layout)
        return None

    def _repaired(self, outcome, repaired, layout):
        outcome.message = _("read as {text} (scanner typed US keys on a {layout} keyboard)").format(
            text=repaired, layout=layout) + " · " + outcome.message
        if layout not in self.told:
            self.told.add(layout)
            outcome.tip = scanning.setup_hint(layout)
        return outcome

    def _undo(self, shown):
        pending, self.context.pending_loan = self.context.pending_loan, None
        if pending:  # the last scan was a device waiting for its borrower: nothing was written yet
            return Outcome(shown, pending, True, "undo", "allocated",
                           _("{tag}: loan cancelled before it was made").format(tag=pending))
        if not self.last:
            return Outcome(shown, None, False, "undo", None, _("nothing to undo"),
                           _("undo reverses the last scan of this session"), "nothing-to-undo")
        try:
            r = services.undo(replace(self.ctx, operator=self.context.operator), self.last)
        except RefurbError as exc:
            return Outcome(shown, None, False, "undo", None, exc.message, exc.hint, exc.code)
        self.last = []
        self.ok_count = max(0, self.ok_count - 1)
        return Outcome(shown, r["tag"], True, "undo", r["state"],
                       _("{tag}: undone ({actions})").format(tag=r["tag"], actions=", ".join(r["undone"])))

    def _count(self, outcome):
        if outcome is None:
            return None
        if outcome.ok:
            if outcome.action != "undo":
                self.ok_count += 1
        else:
            self.refused_count += 1
        return outcome


def _matches(ctx, text):
    try:
        services.show(ctx, text)
        return True
    except RefurbError:
        return False


def _tag_of(text):
    try:
        return tags.parse(text)[2]
    except (tags.TagError, tags.CheckMismatch):
        return None


def _shown(raw):
    """A rejected line as it may be echoed: printable, and not 10 MB long."""
    text = "".join(ch if ch.isprintable() else "?" for ch in str(raw)[:80])
    return text + ("…" if len(str(raw)) > 80 else "")
