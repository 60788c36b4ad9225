"""The transition table and its guards, with no database: refurb.lifecycle alone.

Facts are built per guard: `SATISFY[guard]` changes Facts so that the guard holds, `BREAK[guard]` so
that it fails.  Every row of the table is driven from each of its source states both ways.
"""

import dataclasses
import itertools
from types import SimpleNamespace

import pytest

from refurb import catalog, i18n, lifecycle
from refurb.errors import InvalidConfig, TransitionRefused
from refurb.lifecycle import (
    NEW,
    TABLE,
    Facts,
    ImageFact,
    Medium,
    QCFact,
    TableError,
    Wipe,
    check_table,
    is_legal,
    plan,
    replay,
)
from refurb.states import END_STATES, LEVELS, State

S = State
TAG = "RB-000001-X"
NVME = Medium("S3Z9NX0K", "nvme")
CYCLE = 5  # the registration event
GOOD_WIPE = Wipe(NVME.serial, "nvme-sanitize", "purge", "pass", True, 10)
FAILED_WIPE = Wipe(NVME.serial, "nvme-sanitize", "purge", "fail", True, 8)
IMAGE = ImageFact("linux-mint", 20)
QC_PASS = QCFact("pass", "A", 30)
QC_FAIL = QCFact("fail", None, 30, failed=("screen",))
FLASH = ("sata-ssd", "nvme", "emmc", "removable", "embedded")


@pytest.fixture(autouse=True)
def english():
    i18n.setup("en")


def facts(state, **changes):
    return dataclasses.replace(Facts(tag=TAG, state=state, cycle_start=CYCLE), **changes)


def _with_wipe(f, wipe):
    media = f.media or (NVME,)
    kept = tuple(w for w in f.wipes if w.serial != wipe.serial or w.result != wipe.result)
    return dataclasses.replace(f, media=media, wipes=kept + (wipe,))


SATISFY = {
    "media_known": lambda f: dataclasses.replace(f, media=f.media or (NVME,)),
    "wipe_verified": lambda f: _with_wipe(f, GOOD_WIPE),
    "wipe_failed": lambda f: _with_wipe(f, FAILED_WIPE),
    "image_recorded": lambda f: dataclasses.replace(f, images=(IMAGE,)),
    "image_suits": lambda f: f,
    "qc_passed": lambda f: dataclasses.replace(f, images=f.images or (IMAGE,), qcs=(QC_PASS,)),
    "qc_failed": lambda f: dataclasses.replace(f, images=f.images or (IMAGE,), qcs=(QC_FAIL,)),
    "no_open_lock": lambda f: dataclasses.replace(f, open_locks=()),
    "lock_open": lambda f: dataclasses.replace(f, open_locks=("mdm",)),
    "borrower_data_erased": lambda f: _with_wipe(dataclasses.replace(f, had_loan=True), GOOD_WIPE),
}
BREAK = {
    "media_known": lambda f: dataclasses.replace(f, media=(), no_storage=False, wipes=()),
    "wipe_verified": lambda f: dataclasses.replace(f, media=f.media or (NVME,),
                                                   wipes=tuple(w for w in f.wipes if w.result != "pass")),
    "wipe_failed": lambda f: dataclasses.replace(f, wipes=tuple(w for w in f.wipes if w.result != "fail")),
    "image_recorded": lambda f: dataclasses.replace(f, images=()),
    "image_suits": lambda f: dataclasses.replace(
        f, images=(ImageFact("windows-11", 20, problems=("needs TPM 2.0",)),)),
    "qc_passed": lambda f: dataclasses.replace(f, qcs=()),
    "qc_failed": lambda f: dataclasses.replace(f, qcs=(QC_PASS,)),
    "no_open_lock": lambda f: dataclasses.replace(f, open_locks=("activation-lock",)),
    "lock_open": lambda f: dataclasses.replace(f, open_locks=()),
    "borrower_data_erased": lambda f: dataclasses.replace(f, had_loan=True, media=f.media or (NVME,),
                                                          wipes=tuple(w for w in f.wipes if w.result != "pass")),
}
GUARDS = {g.name for t in TABLE for g in t.guards}


def satisfying(row, source):
    f = facts(source)
    for g in row.guards:
        f = SATISFY[g.name](f)
    return f


def failures_of(row, f):
    return [x for g in row.guards for x in g.failures(f)]


def holds(row, f):
    return not failures_of(row, f)


def cases(with_guards=False):
    out = []
    for i, row in enumerate(TABLE):
        for source in sorted(row.sources, key=lambda s: "" if s is None else str(s)):
            if with_guards:
                for g in row.guards:
                    out.append(pytest.param(row, source, g, id=f"{i}:{row.action}:{source}->{row.target}:{g.name}"))
            else:
                out.append(pytest.param(row, source, id=f"{i}:{row.action}:{source}->{row.target}"))
    return out


def assert_names_every_failure(err, expected):
    """The refusal's context carries the reason and the fix of every expected failure."""
    assert err.exit_code == 4
    assert err.code == "transition-refused"
    assert expected, "the test must expect at least one failure"
    for fail in expected:
        assert any(fail.reason in line and fail.fix in line for line in err.context), (fail, err.context)
    assert {f["reason"] for f in err.data["failures"]} == {f.reason for f in expected}


# ---------------------------------------------------------------------------- the table itself


def test_every_guard_has_a_way_to_hold_and_to_fail():
    assert GUARDS == set(SATISFY) == set(BREAK)


def test_shipped_table_is_sound():
    assert check_table(TABLE) is True


@pytest.mark.parametrize("row, source", cases())
def test_row_reaches_its_target_when_its_guards_hold(row, source):
    f = satisfying(row, source)
    assert holds(row, f), failures_of(row, f)
    p = plan(f, row.action)
    assert not p.noop and not p.forced
    assert [t.target for t in p.steps] == [row.target]
    assert p.steps[-1].action == row.action


@pytest.mark.parametrize("row, source, guard", cases(with_guards=True))
def test_row_refuses_naming_every_failing_guard(row, source, guard):
    f = BREAK[guard.name](satisfying(row, source))
    assert guard.failures(f), f"{guard.name} should fail on {f}"
    siblings = [t for t in lifecycle.rows(row.action) if source in t.sources]
    fallback = next((t for t in siblings[siblings.index(row) + 1:] if holds(t, f)), None)
    earlier = next((t for t in siblings[:siblings.index(row)] if holds(t, f)), None)
    assert earlier is None  # breaking a guard never makes an earlier (deeper) row hold
    if fallback is not None:
        # actions with several rows from one state go as far as their guards allow
        assert [t.target for t in plan(f, row.action).steps] == [fallback.target]
        assert fallback.target != row.target
        return
    with pytest.raises(TransitionRefused) as caught:
        plan(f, row.action)
    expected = failures_of(siblings[0], f)
    assert_names_every_failure(caught.value, expected)
    assert guard.name in {x["guard"] for x in caught.value.data["failures"]} | (
        {"wipe_verified"} if guard.name == "media_known" else set())
    assert caught.value.data["state"] == str(source)
    assert caught.value.data["action"] == row.action


@pytest.mark.parametrize("row, source", [c for c in cases() if len(c.values[0].guards) > 1])
def test_refusal_lists_all_guards_that_fail_at_once(row, source):
    f = satisfying(row, source)
    for g in row.guards:
        f = BREAK[g.name](f)
    siblings = [t for t in lifecycle.rows(row.action) if source in t.sources]
    fallback = next((t for t in siblings if holds(t, f)), None)
    if fallback is not None:  # a sibling row without these guards applies
        assert fallback is not row and [t.target for t in plan(f, row.action).steps] == [fallback.target]
        return
    with pytest.raises(TransitionRefused) as caught:
        plan(f, row.action)
    expected = failures_of(siblings[0], f)
    assert len({x.guard for x in expected}) >= 2
    assert_names_every_failure(caught.value, expected)


@pytest.mark.parametrize("row, source, guard", cases(with_guards=True))
def test_force_overrides_every_guard_but_the_wipe(row, source, guard):
    f = BREAK[guard.name](satisfying(row, source))
    siblings = [t for t in lifecycle.rows(row.action) if source in t.sources]
    fallback = next((t for t in siblings if holds(t, f)), None)
    if fallback is not None:
        # forcing never jumps over the row whose guards hold to a deeper one
        p = plan(f, row.action, force="donor confirmed by phone")
        assert [t.target for t in p.steps] == [fallback.target] and p.forced == []
        return
    expected = failures_of(siblings[0], f)
    if all(x.forceable for x in expected):
        p = plan(f, row.action, force="donor confirmed by phone")
        assert [t.target for t in p.steps] == [siblings[0].target]
        assert {x.reason for x in p.forced} == {x.reason for x in expected}
    else:
        with pytest.raises(TransitionRefused) as caught:
            plan(f, row.action, force="donor confirmed by phone")
        assert "never be forced" in caught.value.hint
        assert_names_every_failure(caught.value, expected)


def test_wipe_guard_is_the_one_that_cannot_be_forced():
    assert not lifecycle.WIPE_VERIFIED.forceable
    assert not lifecycle.BORROWER_DATA_ERASED.forceable
    assert all(g.forceable for t in TABLE for g in t.guards
               if g.name not in ("wipe_verified", "borrower_data_erased"))
    # a forceable gap next to the wipe gap: still refused, and the hint says why
    f = facts(S.IMAGED, media=(NVME,), images=(IMAGE,), qcs=(QC_PASS,), open_locks=("mdm",))
    with pytest.raises(TransitionRefused) as caught:
        plan(f, "qc_pass", force="lead says so")
    reasons = [x["reason"] for x in caught.value.data["failures"]]
    assert "open lock: mdm" in reasons
    assert f"no verified wipe of storage medium {NVME.serial} (nvme)" in reasons
    # the same gap without the wipe problem is forceable, and the forced reason is reported
    p = plan(_with_wipe(f, GOOD_WIPE), "qc_pass", force="lead says so")
    assert [t.target for t in p.steps] == [S.READY]
    assert [x.reason for x in p.forced] == ["open lock: mdm"]


# ---------------------------------------------------------------------------- check_table on broken copies


def _strip(table, state):
    return tuple(dataclasses.replace(t, sources=t.sources - {state}) for t in table)


def _teleports(table):
    """Entry rows into every state, so that reachability is never what breaks."""
    return table + tuple(lifecycle.T(f"teleport_{s}", NEW, s) for s in State)


@pytest.mark.parametrize("end", sorted(END_STATES))
def test_check_table_rejects_a_transition_leaving_an_end_state(end):
    broken = TABLE + (lifecycle.T("revive", end, S.INTAKE),)
    with pytest.raises(TableError, match="revive leaves an end state"):
        check_table(broken)


@pytest.mark.parametrize("state", list(State))
def test_check_table_rejects_an_unreachable_state(state):
    broken = tuple(t for t in TABLE if t.target != state)
    with pytest.raises(TableError, match="unreachable states") as caught:
        check_table(broken)
    assert str(state) in str(caught.value).split(":", 1)[1].replace(" ", "").split(",")


def test_check_table_rejects_a_table_without_entry():
    with pytest.raises(TableError, match="no entry"):
        check_table(tuple(t for t in TABLE if NEW not in t.sources))


@pytest.mark.parametrize("state", sorted(set(State) - END_STATES))
def test_check_table_rejects_a_dead_end_that_is_not_an_end_state(state):
    assert check_table(_teleports(TABLE))  # the teleports alone break nothing
    with pytest.raises(TableError, match=f"^{state} is a dead end"):
        check_table(_strip(_teleports(TABLE), state))


def test_check_table_rejects_unknown_guards_and_targets():
    with pytest.raises(TableError, match="unknown guard"):
        check_table(TABLE + (lifecycle.T("odd", S.INTAKE, S.REPAIR, guards=[lambda f: []]),))
    with pytest.raises(TableError, match="bad target"):
        check_table(TABLE + (lifecycle.Transition("odd", frozenset({S.INTAKE}), "nowhere"),))


# ---------------------------------------------------------------------------- repeats are no-ops


@pytest.mark.parametrize("row", [pytest.param(t, id=f"{t.action}->{t.target}") for t in TABLE if NEW not in t.sources])
def test_repeating_the_last_transition_is_a_noop(row):
    # bare facts: the guards would fail, yet a repeat writes nothing and refuses nothing
    p = plan(facts(row.target, last_action=row.action), row.action)
    assert p.noop and p.steps == [] and p.forced == []


def test_same_action_into_another_state_is_not_a_noop():
    f = facts(S.REPAIR, last_action="repaired")  # repaired, then sent back to repair (as data: last action)
    p = plan(f, "repaired")
    assert not p.noop and [t.target for t in p.steps] == [S.INTAKE]
    f = facts(S.WIPED, last_action="lock", open_locks=("mdm",))
    assert [t.target for t in plan(f, "lock").steps] == [S.LOCKED]


# ---------------------------------------------------------------------------- automatic paths


def test_recording_the_last_wipe_in_intake_walks_through_the_wipe_states():
    f = facts(S.INTAKE, media=(NVME,), wipes=(GOOD_WIPE,))
    p = plan(f, "finish_wipe")
    assert [(t.action, t.target) for t in p.steps] == [
        ("queue_wipe", S.WIPE_PENDING), ("start_wipe", S.WIPING), ("finish_wipe", S.WIPED)]


def test_qc_pass_from_intake_walks_the_whole_main_path():
    f = facts(S.INTAKE, media=(NVME,), wipes=(GOOD_WIPE,), images=(IMAGE,), qcs=(QC_PASS,))
    assert [t.action for t in plan(f, "qc_pass").steps] == [
        "queue_wipe", "start_wipe", "finish_wipe", "reimage", "qc_pass"]


def test_partial_plan_stops_before_the_first_failing_guard():
    f = facts(S.INTAKE, media=(NVME,))
    p = plan(f, "finish_wipe", partial=True)
    assert [t.action for t in p.steps] == ["queue_wipe", "start_wipe"]
    assert plan(facts(S.INTAKE), "finish_wipe", partial=True).steps == []


def test_a_failed_wipe_goes_to_wipe_failed_and_retries_automatically():
    f = facts(S.INTAKE, media=(NVME,), wipes=(FAILED_WIPE,))
    assert [t.target for t in plan(f, "fail_wipe").steps] == [S.WIPE_PENDING, S.WIPING, S.WIPE_FAILED]
    f = facts(S.WIPE_FAILED, media=(NVME,), wipes=(FAILED_WIPE, GOOD_WIPE))
    assert [t.action for t in plan(f, "finish_wipe").steps] == ["retry_wipe", "start_wipe", "finish_wipe"]


def test_no_storage_statement_counts_as_media_known_and_wiped():
    f = facts(S.INTAKE, no_storage=True)
    assert [t.target for t in plan(f, "finish_wipe").steps] == [S.WIPE_PENDING, S.WIPING, S.WIPED]


# ---------------------------------------------------------------------------- refusals people meet


def test_allocating_a_fresh_intake_device_names_media_image_and_qc():
    with pytest.raises(TransitionRefused) as caught:
        plan(facts(S.INTAKE), "allocate", force="please")
    err = caught.value
    assert err.exit_code == 4
    text = "\n".join(err.context)
    assert "its storage media are not known" in text
    assert f"refurb media add {TAG}" in text and f"refurb media none {TAG}" in text
    assert "no OS image recorded since the last wipe" in text and f"refurb reimage {TAG}" in text
    assert "no passing quality check since the last image" in text and f"refurb qc {TAG} --pass" in text
    assert err.message == f"{TAG} cannot be allocated: it is in intake"
    assert "never be forced" in err.hint


def test_allocating_with_media_known_names_each_unwiped_medium():
    hdd = Medium("WD-WCC4E1234567", "hdd")
    with pytest.raises(TransitionRefused) as caught:
        plan(facts(S.INTAKE, media=(NVME, hdd), wipes=(GOOD_WIPE,)), "allocate")
    reasons = [x["reason"] for x in caught.value.data["failures"]]
    assert "no verified wipe of storage medium WD-WCC4E1234567 (hdd)" in reasons
    assert not any(NVME.serial in r for r in reasons)
    assert f"refurb wipe record {TAG} --medium WD-WCC4E1234567 --profile … --result pass" in "\n".join(
        caught.value.context)


def test_a_returned_device_cannot_be_allocated_on_its_old_wipe():
    old = dict(media=(NVME,), wipes=(GOOD_WIPE,), images=(IMAGE,), qcs=(QC_PASS,), had_loan=True)
    returned = facts(S.RETURNED, cycle_start=50, **old)  # the return event came after the wipe, image, QC
    with pytest.raises(TransitionRefused) as caught:
        plan(returned, "allocate", force="it was only gone a day")
    reasons = [x["reason"] for x in caught.value.data["failures"]]
    assert f"no verified wipe of storage medium {NVME.serial} (nvme)" in reasons
    assert "no OS image recorded since the last wipe" in reasons
    # the same history without the return is allocatable: the cycle start is what refuses it
    assert [t.target for t in plan(facts(S.READY, **old), "allocate").steps] == [S.ALLOCATED]
    with pytest.raises(TransitionRefused):
        plan(facts(S.READY, cycle_start=50, **old), "allocate")
    # a fresh wipe after the return, then image and QC: allowed again
    again = dataclasses.replace(returned, wipes=(GOOD_WIPE, dataclasses.replace(GOOD_WIPE, event_id=60)),
                                images=(IMAGE, ImageFact("linux-mint", 70)), qcs=(QC_PASS, QCFact("pass", "B", 80)))
    assert [t.action for t in plan(again, "qc_pass").steps] == [
        "requeue", "start_wipe", "finish_wipe", "reimage", "qc_pass"]


def test_returned_device_cannot_go_back_to_the_donor_without_a_fresh_wipe():
    f = facts(S.RETURNED, cycle_start=50, media=(NVME,), wipes=(GOOD_WIPE,), had_loan=True)
    with pytest.raises(TransitionRefused) as caught:
        plan(f, "return_to_donor", force="donor wants it back")
    assert caught.value.data["failures"][0]["guard"] == "borrower_data_erased"
    # a device that never left us may go back to its donor unwiped (it holds only the donor's data)
    assert [t.target for t in plan(facts(S.INTAKE), "return_to_donor").steps] == [S.RETURNED_TO_DONOR]


def test_policy_minimum_level_refuses_a_clear_wipe():
    clear = Wipe(NVME.serial, "some-clear-profile", "clear", "pass", True, 10)
    f = facts(S.WIPING, media=(NVME,), wipes=(clear,), min_level={"nvme": "purge"})
    with pytest.raises(TransitionRefused) as caught:
        plan(f, "finish_wipe", force="good enough")
    assert_names_every_failure(caught.value, lifecycle.WIPE_VERIFIED.failures(f))
    assert caught.value.data["failures"][0]["reason"] == (
        f"the wipe of storage medium {NVME.serial} (nvme) reached clear; the policy asks purge")
    # the default policy accepts it, and a purge meets the stricter policy
    assert plan(dataclasses.replace(f, min_level=lifecycle.DEFAULT_MIN_LEVEL), "finish_wipe").steps
    assert plan(_with_wipe(f, GOOD_WIPE), "finish_wipe").steps[-1].target == S.WIPED


@pytest.mark.parametrize("wipe, reason", [
    (dataclasses.replace(GOOD_WIPE, result="fail"), "the last wipe of storage medium {s} (nvme) failed"),
    (dataclasses.replace(GOOD_WIPE, verified=False), "the wipe of storage medium {s} (nvme) was not verified"),
    (Wipe(NVME.serial, "hdd-overwrite", None, "pass", True, 10),
     "wipe profile hdd-overwrite does not fit storage medium {s} (nvme)"),
    (dataclasses.replace(GOOD_WIPE, event_id=CYCLE - 1), "no verified wipe of storage medium {s} (nvme)"),
    (Wipe("OTHER-DISK", "nvme-sanitize", "purge", "pass", True, 10), "no verified wipe of storage medium {s} (nvme)"),
], ids=["failed", "unverified", "wrong-profile", "before-cycle", "other-medium"])
def test_wipe_guard_explains_why_a_wipe_does_not_count(wipe, reason):
    f = facts(S.WIPING, media=(NVME,), wipes=(wipe,))
    with pytest.raises(TransitionRefused) as caught:
        plan(f, "finish_wipe", force="x")
    assert [x["reason"] for x in caught.value.data["failures"]] == [reason.format(s=NVME.serial)]


def _overwrite_on_flash():
    out = []
    for p in catalog.load_profiles().values():
        if "overwrite" in p.method.split("-"):
            for media_type in FLASH:
                out.append(pytest.param(p, media_type, id=f"{p.id}-on-{media_type}"))
    return out


@pytest.mark.parametrize("profile, media_type", _overwrite_on_flash())
def test_overwriting_flash_never_counts_as_purge(profile, media_type):
    level = profile.level_for(media_type)  # what record_wipe stores for this medium
    assert level in (None, "clear")
    medium = Medium("FLASH-1", media_type)
    wipe = Wipe(medium.serial, profile.id, level, "pass", True, 10)
    f = facts(S.WIPING, media=(medium,), wipes=(wipe,), min_level={media_type: "purge"})
    with pytest.raises(TransitionRefused) as caught:
        plan(f, "finish_wipe", force="the stick is new")
    assert [x["guard"] for x in caught.value.data["failures"]] == ["wipe_verified"]
    assert not profile.reaches(media_type, "purge")


def test_there_are_overwrite_profiles_for_flash_to_check():
    assert any(p.level_for(m) == "clear" for p in catalog.load_profiles().values()
               if "overwrite" in p.method.split("-") for m in FLASH)


def test_a_profile_claiming_purge_by_overwriting_flash_does_not_load(tmp_path):
    text = (catalog.shipped_dir("wipe_profiles") / "removable-overwrite.toml").read_text(encoding="utf-8")
    path = tmp_path / "removable-overwrite.toml"
    path.write_text(text.replace('removable = "clear"', 'removable = "purge"'), encoding="utf-8")
    with pytest.raises(InvalidConfig, match="levels.removable"):
        catalog.load_profile(path)


def test_levels_are_ordered_weakest_first():
    assert LEVELS == ("clear", "purge", "destroy")
    destroyed = Wipe(NVME.serial, "destroy", "destroy", "pass", True, 10)
    f = facts(S.WIPING, media=(NVME,), wipes=(destroyed,), min_level={"nvme": "purge"})
    assert plan(f, "finish_wipe").steps[-1].target == S.WIPED


# ---------------------------------------------------------------------------- states that cannot do it at all


@pytest.mark.parametrize("end", sorted(END_STATES))
def test_nothing_leaves_an_end_state(end):
    for action in lifecycle.ACTIONS:
        if action in lifecycle.ENTRY_ACTIONS:
            continue
        with pytest.raises(TransitionRefused) as caught:
            plan(facts(end), action, force="x")
        assert caught.value.exit_code == 4
        assert caught.value.hint == f"{end} is an end state"


def test_an_action_out_of_reach_says_what_the_state_can_do():
    with pytest.raises(TransitionRefused) as caught:
        plan(facts(S.ON_LOAN), "reimage")
    assert caught.value.message == f"{TAG} cannot be reimaged: it is in on_loan"
    assert caught.value.hint == "from on_loan it can: lost, return"


def test_unknown_action_is_a_programming_error():
    with pytest.raises(ValueError):
        plan(facts(S.INTAKE), "teleport")


# ---------------------------------------------------------------------------- is_legal, replay


LEGAL = {(t.action, s, t.target) for t in TABLE for s in t.sources}


@pytest.mark.parametrize("action", lifecycle.ACTIONS)
def test_is_legal_agrees_with_the_table(action):
    for src, dst in itertools.product([None, *State], State):
        expected = (action, src, dst) in LEGAL
        assert is_legal(action, None if src is None else str(src), str(dst)) is expected, (action, src, dst)


def test_is_legal_refuses_unknown_actions():
    assert not is_legal("media_added", "intake", "intake")
    assert not is_legal("teleport", None, "ready")


def _ev(to_state, action="x"):
    return SimpleNamespace(action=action, to_state=to_state)


def test_replay_is_the_target_of_the_last_transition():
    assert replay([]) is None
    assert replay([_ev("intake", "register")]) == "intake"
    events = [_ev("intake", "register"), _ev(None, "media_added"), _ev("wipe_pending", "queue_wipe"),
              _ev(None, "wipe_recorded")]
    assert replay(events) == "wipe_pending"


def test_replay_of_a_planned_path_ends_where_the_plan_ends():
    f = facts(S.INTAKE, media=(NVME,), wipes=(GOOD_WIPE,), images=(IMAGE,), qcs=(QC_PASS,))
    steps = plan(f, "qc_pass").steps
    events = [_ev("intake", "register")] + [_ev(str(t.target), t.action) for t in steps]
    assert replay(events) == "ready"
    state = None
    for e, t in zip(events, [None, *steps], strict=True):
        if t is not None:
            assert is_legal(t.action, state, e.to_state)
        state = e.to_state
