"""The device lifecycle: one declarative transition table, guards that explain themselves.

A guard looks at `Facts` (what has been recorded about one device) and returns the reasons it
fails, each with the command that fixes it.  `plan()` works out the steps a command needs —
automatic steps through the states in between, then the action itself — and either returns
them or raises TransitionRefused listing *every* failing guard.  Nothing here touches the
database: refurb.services gathers the facts and writes the events.

The table is checked when this module is imported: one set of entry states, every state
reachable, nothing leaving an end state, every guard known.
"""

from collections import deque
from dataclasses import dataclass, field
from types import MappingProxyType

from .errors import TransitionRefused
from .i18n import N_, _
from .states import END_STATES, LEVELS, MEDIA_TYPES, State

S = State

# ---------------------------------------------------------------------------- facts


@dataclass(frozen=True)
class Medium:
    serial: str
    type: str


@dataclass(frozen=True)
class Wipe:
    serial: str  # the medium's serial
    profile_id: str
    level: str | None  # level the profile reaches on this medium's type; None: profile does not fit
    result: str  # "pass" | "fail"
    verified: bool
    event_id: int


@dataclass(frozen=True)
class ImageFact:
    image_id: str
    event_id: int
    problems: tuple[str, ...] = ()  # why the image does not suit this hardware


@dataclass(frozen=True)
class QCFact:
    result: str  # "pass" | "fail"
    grade: str | None
    event_id: int
    failed: tuple[str, ...] = ()  # mandatory items recorded as failed
    missing: tuple[str, ...] = ()  # mandatory items not recorded


DEFAULT_MIN_LEVEL = MappingProxyType({m: "clear" for m in MEDIA_TYPES})


@dataclass(frozen=True)
class Facts:
    """Everything the guards may look at for one device."""

    tag: str
    state: State
    kind: str = "laptop"
    no_storage: bool = False
    media: tuple[Medium, ...] = ()
    wipes: tuple[Wipe, ...] = ()
    images: tuple[ImageFact, ...] = ()
    qcs: tuple[QCFact, ...] = ()
    open_locks: tuple[str, ...] = ()
    cycle_start: int = 0  # event id of the last registration, receipt or return
    had_loan: bool = False
    last_action: str | None = None  # the last transition the device made
    min_level: MappingProxyType = field(default_factory=lambda: DEFAULT_MIN_LEVEL)
    waived: frozenset[int] = frozenset()  # event ids of wipes a lead accepted below the policy's level

    # derived look-ups shared by several guards
    def last_wipe_event(self):
        return max((w.event_id for w in self.wipes if w.event_id > self.cycle_start), default=0)

    def image_since_wipe(self):
        floor = max(self.last_wipe_event(), self.cycle_start)
        images = [i for i in self.images if i.event_id > floor]
        return images[-1] if images else None

    def qc_since_image(self):
        image = self.image_since_wipe()
        if image is None:
            return None
        qcs = [q for q in self.qcs if q.event_id > image.event_id]
        return qcs[-1] if qcs else None


@dataclass(frozen=True)
class Failure:
    guard: str
    reason: str
    fix: str
    forceable: bool


# ---------------------------------------------------------------------------- guards


@dataclass(frozen=True)
class Guard:
    name: str
    check: object  # Callable[[Facts], list[tuple[str, str]]] → (reason, fix) pairs
    forceable: bool = True

    def failures(self, facts):
        return [Failure(self.name, reason, fix, self.forceable) for reason, fix in self.check(facts)]


def _media_known(f):
    if f.media or f.no_storage:
        return []
    return [
        (
            _("its storage media are not known"),
            _("refurb media add {tag} --type … --serial …  (or: refurb media none {tag})").format(tag=f.tag),
        )
    ]


def _wipe_verified(f):
    """Every medium has a passing, verified wipe since the last intake or return, by a profile that fits
    its type and reaches the policy's minimum level (a destruction record counts), or one below that
    level which a lead has waived (`refurb wipe waive`; the waiver is printed on every certificate)."""
    problems = _media_known(f)
    if problems:
        return problems
    out = []
    for medium in f.media:
        wipes = [w for w in f.wipes if w.serial == medium.serial and w.event_id > f.cycle_start]
        need = f.min_level.get(medium.type, "clear")
        good = [w for w in wipes if wipe_counts(w, need, f.waived)]
        if good:
            continue
        fix = _("refurb wipe record {tag} --medium {serial} --profile … --result pass").format(
            tag=f.tag, serial=medium.serial
        )
        last = wipes[-1] if wipes else None
        if last is None:
            reason = _("no verified wipe of storage medium {serial} ({type})").format(
                serial=medium.serial, type=medium.type
            )
        elif last.level is None:
            reason = _("wipe profile {profile} does not fit storage medium {serial} ({type})").format(
                profile=last.profile_id, serial=medium.serial, type=medium.type
            )
        elif last.result != "pass":
            reason = _("the last wipe of storage medium {serial} ({type}) failed").format(
                serial=medium.serial, type=medium.type
            )
        elif not last.verified:
            reason = _("the wipe of storage medium {serial} ({type}) was not verified").format(
                serial=medium.serial, type=medium.type
            )
        else:
            reason = _("the wipe of storage medium {serial} ({type}) reached {level}; the policy asks {need}").format(
                serial=medium.serial, type=medium.type, level=last.level, need=need
            )
            fix = _("a better wipe, or a lead's waiver: refurb wipe waive {tag} --medium {serial} --reason …").format(
                tag=f.tag, serial=medium.serial
            )
        out.append((reason, fix))
    return out


def wipe_counts(wipe, need, waived):
    """Whether a wipe record (result, verified, level, event_id) makes its medium count as wiped under a policy
    asking `need`: passing, verified, and at that level or above, or below it under a waiver (`waived`: the
    event ids of the wipes a lead accepted).  The guard, `wipe waive` and the certificates share this rule."""
    return (wipe.result == "pass" and bool(wipe.verified) and wipe.level in LEVELS
            and (LEVELS.index(wipe.level) >= LEVELS.index(need) or wipe.event_id in waived))


def _wipe_failed(f):
    since = [w for w in f.wipes if w.event_id > f.cycle_start]
    if any(w.result == "fail" for w in since):
        return []
    return [(_("no failed wipe is recorded"), _("refurb wipe record {tag} … --result fail").format(tag=f.tag))]


def _image_recorded(f):
    if f.image_since_wipe():
        return []
    return [(_("no OS image recorded since the last wipe"), _("refurb reimage {tag} --image …").format(tag=f.tag))]


def _image_suits(f):
    image = f.image_since_wipe()
    if image is None:
        return []
    fix = _("refurb reimage {tag} --image … (another image)").format(tag=f.tag)
    return [(problem, fix) for problem in image.problems]


def _qc_passed(f):
    fix = _("refurb qc {tag} --pass --grade A|B|C").format(tag=f.tag)
    if f.image_since_wipe() is None:
        floor = max(f.last_wipe_event(), f.cycle_start)
        if any(q.event_id > floor for q in f.qcs):
            return []  # a check done before the image: IMAGE_RECORDED names what is missing
        return [(_("no passing quality check since the last image"), fix)]
    qc = f.qc_since_image()
    if qc is None or qc.result != "pass":
        return [(_("no passing quality check since the last image"), fix)]
    out = [(_("mandatory check failed: {item}").format(item=item), fix) for item in qc.failed]
    out += [(_("mandatory check not done: {item}").format(item=item), fix) for item in qc.missing]
    if not qc.grade:
        out.append((_("no grade given"), fix))
    return out


def _qc_failed(f):
    qc = f.qc_since_image()
    if qc is not None and qc.result == "fail":
        return []
    return [(_("no failed quality check is recorded"), _("refurb qc {tag} --fail …").format(tag=f.tag))]


def _no_open_lock(f):
    fix = _("refurb unlock {tag} --evidence FILE").format(tag=f.tag)
    return [(_("open lock: {kind}").format(kind=kind), fix) for kind in f.open_locks]


def _lock_open(f):
    if f.open_locks:
        return []
    return [(_("no open lock is recorded"), _("refurb lock {tag} --kind …").format(tag=f.tag))]


def _borrower_data_erased(f):
    return _wipe_verified(f) if f.had_loan else []


MEDIA_KNOWN = Guard("media_known", _media_known)
WIPE_VERIFIED = Guard("wipe_verified", _wipe_verified, forceable=False)
WIPE_FAILED = Guard("wipe_failed", _wipe_failed)
IMAGE_RECORDED = Guard("image_recorded", _image_recorded)
IMAGE_SUITS = Guard("image_suits", _image_suits)
QC_PASSED = Guard("qc_passed", _qc_passed)
QC_FAILED = Guard("qc_failed", _qc_failed)
NO_OPEN_LOCK = Guard("no_open_lock", _no_open_lock)
LOCK_OPEN = Guard("lock_open", _lock_open)
BORROWER_DATA_ERASED = Guard("borrower_data_erased", _borrower_data_erased, forceable=False)


# ---------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset
    target: State
    guards: tuple = ()
    auto: bool = False  # may be taken on the way when a command records what a later state needs
    label: str = ""


def T(action, sources, target, guards=(), auto=False, label=""):
    sources = frozenset({sources} if sources is NEW or isinstance(sources, State) else sources)
    return Transition(action, sources, target, tuple(guards), auto, label or action)


NEW = None  # the source of the entry transitions: the device does not exist yet
WORKING = {S.INTAKE, S.WIPE_PENDING, S.WIPING, S.WIPED, S.WIPE_FAILED, S.IMAGED, S.READY, S.REPAIR}
DISPOSABLE = WORKING | {S.LOCKED, S.RETURNED}

# Where several rows share an action and a source, the first whose guards hold is taken.
TABLE = (
    T("expect", NEW, S.EXPECTED, label=N_("listed in manifest")),
    T("register", NEW, S.INTAKE, label=N_("registered")),
    T("receive", S.EXPECTED, S.INTAKE, label=N_("received")),
    T("queue_wipe", S.INTAKE, S.WIPE_PENDING, [MEDIA_KNOWN], auto=True, label=N_("wipe queued")),
    T("start_wipe", S.WIPE_PENDING, S.WIPING, [MEDIA_KNOWN], auto=True, label=N_("wipe started")),
    T("finish_wipe", S.WIPING, S.WIPED, [WIPE_VERIFIED], auto=True, label=N_("wiped")),
    T("fail_wipe", S.WIPING, S.WIPE_FAILED, [WIPE_FAILED], label=N_("wipe failed")),
    T("retry_wipe", S.WIPE_FAILED, S.WIPE_PENDING, auto=True, label=N_("wipe retried")),
    T("reimage", {S.WIPED, S.IMAGED}, S.IMAGED, [WIPE_VERIFIED, IMAGE_RECORDED, IMAGE_SUITS], auto=True,
      label=N_("reimaged")),
    T("qc_pass", S.IMAGED, S.READY, [WIPE_VERIFIED, IMAGE_RECORDED, QC_PASSED, NO_OPEN_LOCK], auto=True,
      label=N_("quality check passed")),
    T("qc_fail", S.IMAGED, S.REPAIR, [QC_FAILED], label=N_("quality check failed")),
    T("allocate", S.READY, S.ALLOCATED, [WIPE_VERIFIED, NO_OPEN_LOCK], label=N_("allocated")),
    T("release", S.ALLOCATED, S.READY, [WIPE_VERIFIED], label=N_("released from pool")),
    T("loan_out", S.ALLOCATED, S.ON_LOAN, [WIPE_VERIFIED, NO_OPEN_LOCK], label=N_("lent out")),
    T("return", S.ON_LOAN, S.RETURNED, label=N_("returned by borrower")),
    T("requeue", S.RETURNED, S.WIPE_PENDING, auto=True, label=N_("back to wipe queue")),
    T("lock", WORKING, S.LOCKED, [LOCK_OPEN], label=N_("locked")),
    T("unlock", S.LOCKED, S.IMAGED, [NO_OPEN_LOCK, WIPE_VERIFIED, IMAGE_RECORDED], label=N_("unlocked")),
    T("unlock", S.LOCKED, S.WIPED, [NO_OPEN_LOCK, WIPE_VERIFIED], label=N_("unlocked")),
    T("unlock", S.LOCKED, S.WIPE_PENDING, [NO_OPEN_LOCK, MEDIA_KNOWN], label=N_("unlocked")),
    T("unlock", S.LOCKED, S.INTAKE, [NO_OPEN_LOCK], label=N_("unlocked")),
    T("repair", WORKING - {S.REPAIR, S.WIPING} | {S.ALLOCATED, S.RETURNED}, S.REPAIR, label=N_("sent to repair")),
    T("repaired", S.REPAIR, S.IMAGED, [WIPE_VERIFIED, IMAGE_RECORDED], label=N_("repaired")),
    T("repaired", S.REPAIR, S.WIPED, [WIPE_VERIFIED], label=N_("repaired")),
    T("repaired", S.REPAIR, S.WIPE_PENDING, [MEDIA_KNOWN], label=N_("repaired")),
    T("repaired", S.REPAIR, S.INTAKE, label=N_("repaired")),
    T("parts", DISPOSABLE, S.PARTS, [WIPE_VERIFIED], label=N_("harvested for parts")),
    T("recycle", DISPOSABLE, S.RECYCLED, [WIPE_VERIFIED], label=N_("recycled")),
    T("return_to_donor", DISPOSABLE - {S.RETURNED} | {S.EXPECTED}, S.RETURNED_TO_DONOR, [BORROWER_DATA_ERASED],
      label=N_("returned to donor")),
    T("lost", {S.ALLOCATED, S.ON_LOAN}, S.LOST, label=N_("lost")),
)

ACTIONS = tuple(dict.fromkeys(t.action for t in TABLE))
ENTRY_ACTIONS = ("expect", "register")
# Events that start a new cycle: everything recorded before them no longer counts as erased.
CYCLE_ACTIONS = frozenset({"register", "receive", "return", "expect"})
# The states in which a wipe record may be added (a record in a later state would predate the QC).
WIPE_RECORDABLE = frozenset({S.INTAKE, S.WIPE_PENDING, S.WIPING, S.WIPED, S.WIPE_FAILED, S.LOCKED, S.REPAIR})


def rows(action):
    return [t for t in TABLE if t.action == action]


# Events that record something without moving the device.
RECORD_LABELS = {
    "media_added": N_("storage medium recorded"),
    "media_none": N_("no storage stated"),
    "wipe_recorded": N_("wipe recorded"),
    "wipe_waived": N_("wipe level waived"),
    "snapshot_attached": N_("hardware snapshot attached"),
    "certificate_issued": N_("certificate issued"),
    "label_printed": N_("label printed"),
    "manifest_imported": N_("donor manifest imported"),
    "manifest_updated": N_("updated from the donor manifest"),
    "loan_extended": N_("loan extended"),
    "borrowers_purged": N_("borrower data purged"),
    "lock_released": N_("lock lifted"),
    "donor_added": N_("donor added"),
    "batch_added": N_("batch opened"),
    "batch_closed": N_("batch closed"),
    "digipunt_added": N_("digipunt added"),
    "operator_set": N_("operator role set"),
    "operator_pin_set": N_("operator PIN set"),
}


def label(action):
    """The words for an event's action in the current language."""
    for t in TABLE:
        if t.action == action:
            return _(t.label)
    return _(RECORD_LABELS[action]) if action in RECORD_LABELS else action


class TableError(Exception):
    pass


def check_table(table=TABLE):
    """Raise TableError when the table is broken: run at import."""
    entry = {t.target for t in table if not t.sources or t.sources == frozenset({NEW})}
    if not entry:
        raise TableError("no entry transition")
    for t in table:
        if t.sources & END_STATES:
            raise TableError(f"{t.action} leaves an end state")
        if not isinstance(t.target, State):
            raise TableError(f"{t.action}: bad target {t.target!r}")
        for g in t.guards:
            if not isinstance(g, Guard):
                raise TableError(f"{t.action}: unknown guard {g!r}")
    seen, todo = set(entry), deque(entry)
    while todo:
        state = todo.popleft()
        for t in table:
            if state in t.sources and t.target not in seen:
                seen.add(t.target)
                todo.append(t.target)
    missing = set(State) - seen
    if missing:
        raise TableError("unreachable states: " + ", ".join(sorted(missing)))
    for state in set(State) - END_STATES:
        if not any(state in t.sources for t in table):
            raise TableError(f"{state} is a dead end but not an end state")
    return True


check_table()


# ---------------------------------------------------------------------------- planning


@dataclass
class Plan:
    steps: list = field(default_factory=list)  # transitions in order
    forced: list = field(default_factory=list)  # failures overridden by a lead
    noop: bool = False


def _auto_path(start, goals):
    """Shortest run of automatic transitions from `start` to any state in `goals`."""
    if start in goals:
        return []
    prev = {start: None}
    todo = deque([start])
    while todo:
        state = todo.popleft()
        for t in TABLE:
            if t.auto and state in t.sources and t.target not in prev:
                prev[t.target] = (state, t)
                if t.target in goals:
                    path, node = [], t.target
                    while prev[node]:
                        node, step = prev[node][0], prev[node][1]
                        path.append(step)
                    return path[::-1]
                todo.append(t.target)
    return None


def _choose(action, state, facts):
    """The row of `action` from `state` to take: the first whose guards hold, else the first."""
    candidates = [t for t in rows(action) if state in t.sources]
    for t in candidates:
        if not any(g.failures(facts) for g in t.guards):
            return t
    return candidates[0] if candidates else None


def plan(facts, action, force=None, partial=False):
    """The transitions that take the device through `action`.

    Raises TransitionRefused naming every failing guard.  With `force` (a lead's reason) the
    failures of overridable guards are accepted and returned in Plan.forced.  With `partial`
    the plan stops before the first step whose guards fail instead of refusing (commands that
    record evidence move the device as far as it may go)."""
    if action not in ACTIONS:
        raise ValueError(action)
    state = facts.state
    entry = rows(action)
    if state is not None and facts.last_action == action and any(t.target == state for t in entry):
        return Plan(noop=True)
    sources = {s for t in entry for s in t.sources}
    path = _auto_path(state, sources)
    if path is None:
        raise refused_from_state(facts, action)
    steps, failures = [], []
    for t in path + [None]:
        if t is None:
            t = _choose(action, (path[-1].target if path else state), facts)
        found = [f for g in t.guards for f in g.failures(facts)]
        if found and partial:
            return Plan(steps=steps)
        for f in found:
            same = next((i for i, x in enumerate(failures) if x.reason == f.reason), None)
            if same is None:
                failures.append(f)
            elif not f.forceable:  # the same gap seen by an unforceable guard cannot be forced either
                failures[same] = f
        steps.append(t)
    if failures:
        hard = [f for f in failures if not f.forceable]
        if force and not hard:
            return Plan(steps=steps, forced=failures)
        raise refused(facts, action, failures)
    return Plan(steps=steps)


def refused(facts, action, failures):
    context = [_("missing: {reason}").format(reason=f.reason) + "\n      → " + f.fix for f in failures]
    forceable = all(f.forceable for f in failures)
    hint = (
        _("a lead may override with --force REASON")
        if forceable
        else _("the wipe guard can never be forced; record the missing wipes first")
    )
    return TransitionRefused(
        _("{tag} cannot {action}: it is in {state}").format(tag=facts.tag, action=label_verb(action), state=facts.state),
        context=context,
        hint=hint,
        data={"failures": [f.__dict__ for f in failures], "state": str(facts.state), "action": action},
    )


def refused_from_state(facts, action):
    possible = sorted({t.action for t in TABLE if facts.state in t.sources})
    return TransitionRefused(
        _("{tag} cannot {action}: it is in {state}").format(tag=facts.tag, action=label_verb(action), state=facts.state),
        hint=(
            _("from {state} it can: {actions}").format(state=facts.state, actions=", ".join(possible))
            if possible
            else _("{state} is an end state").format(state=facts.state)
        ),
        data={"failures": [], "state": str(facts.state), "action": action},
    )


VERBS = {
    "receive": N_("be received"),
    "queue_wipe": N_("be queued for wiping"),
    "start_wipe": N_("start wiping"),
    "finish_wipe": N_("be marked wiped"),
    "fail_wipe": N_("be marked as a failed wipe"),
    "retry_wipe": N_("retry the wipe"),
    "reimage": N_("be reimaged"),
    "qc_pass": N_("pass quality check"),
    "qc_fail": N_("fail quality check"),
    "allocate": N_("be allocated"),
    "release": N_("be released from the pool"),
    "loan_out": N_("be lent out"),
    "return": N_("be returned"),
    "requeue": N_("go back to the wipe queue"),
    "lock": N_("be locked"),
    "unlock": N_("be unlocked"),
    "repair": N_("go to repair"),
    "repaired": N_("leave repair"),
    "parts": N_("be harvested for parts"),
    "recycle": N_("be recycled"),
    "return_to_donor": N_("be returned to the donor"),
    "lost": N_("be marked lost"),
    "expect": N_("be listed"),
    "register": N_("be registered"),
}


def label_verb(action):
    return _(VERBS.get(action, action))


def replay(events):
    """The state a device's events lead to: the target of its last transition event."""
    state = None
    for e in events:
        if e.to_state is not None:
            state = e.to_state
    return state


def is_legal(action, from_state, to_state):
    """Whether an event's transition is one the table allows (audit)."""
    src = None if from_state is None else State(from_state)
    return any(
        t.action == action and t.target == to_state and (src in t.sources or (src is None and NEW in t.sources))
        for t in TABLE
    )
