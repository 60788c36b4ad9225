"""Random action sequences through refurb.services on a real database, with the lifecycle's invariants
checked after every step.

Each hypothesis test case gets its own database (a SQLite file in a temporary folder, or a fresh
PostgreSQL schema).  Every rule calls one use case as a lead or a volunteer, sometimes with --force;
any RefurbError is a refusal, which must leave the database exactly as it was.  After every step:

(a) no device is ready/allocated/on_loan unless its media are known and every medium has a passing,
    verified wipe by a profile that fits its type, recorded after its last register/receive/return;
(b) every device's state is the replay of its events;
(c) `services.verify_audit` finds the history intact;
plus: on_loan devices are exactly those with one open loan, and without a forced step a ready device
has an image after its last wipe and a passing QC after that image.
"""

import dataclasses
import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from refurb import catalog, config, db, i18n, lifecycle, services
from refurb import models as m
from refurb.errors import RefurbError
from refurb.states import CONDITIONS, LOCK_KINDS, MEDIA_TYPES

PG_URL = os.environ.get("REFURB_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
LEAD, VOLUNTEER = "Sara", "Vic"
BATCH, DIGIPUNT = "B-STATE", "Digipunt Gent"
MAX_DEVICES = 3  # few devices, so that a run takes some of them deep into the lifecycle
SHOWN = ("ready", "allocated", "on_loan")  # the states that promise an erased device
CYCLE_ACTIONS = ("register", "receive", "return")
PROFILES = catalog.load_profiles()
IMAGES = ("linux-mint", "windows-11", "chromeos-flex", "android-stock", "no-such-image")
# states reached by any run of the SQLite machine: checked afterwards so that invariant (a) is not vacuous
REACHED = set()
REFUSALS = []


class Lifecycle(RuleBasedStateMachine):
    """The machine; subclasses say which database a test case runs on."""

    devices = Bundle("devices")

    def __init__(self):
        super().__init__()
        i18n.setup("en")
        self.tmp = Path(tempfile.mkdtemp(prefix="refurb-stateful-"))
        self.url = self.new_database()
        environ = {"REFURB_HOME": str(self.tmp), "REFURB_LANG": "en"}
        self.settings = config.load(environ=environ).with_options(database_url=self.url, station="bench-1")
        self.ctx = services.Context(self.settings, operator=LEAD, station="bench-1", pin="2718")
        services.init(self.ctx)
        services.bootstrap_lead(self.ctx, LEAD, "2718")
        services.add_donor(self.ctx, "Acme NV")
        services.add_batch(self.ctx, "Acme NV", ref=BATCH)
        services.add_digipunt(self.ctx, DIGIPUNT)
        self.evidence = self.tmp / "unlock-proof.txt"
        self.evidence.write_text("MDM release confirmed by donor\n", encoding="utf-8")
        self.serials = 0
        self.registered = 0

    def new_database(self):
        return f"sqlite:///{self.tmp}/refurb.db"

    def drop_database(self):
        pass

    def teardown(self):
        db.dispose_all()
        services._checked.discard(self.url)
        self.drop_database()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ------------------------------------------------------------------ acting

    def as_(self, who, force):
        return dataclasses.replace(self.ctx, operator=who, force="lead override in test" if force else None)

    def attempt(self, call, *args, who=LEAD, force=False, **kwargs):
        """Run one use case; a refusal must change nothing at all."""
        before = self.snapshot()
        try:
            return call(self.as_(who, force), *args, **kwargs)
        except RefurbError as exc:
            after = self.snapshot()
            assert after == before, f"refused ({exc.code}: {exc.message}) yet the database changed"
            REFUSALS.append(exc.code)
            return None

    def snapshot(self):
        with db.session(self.url) as s:
            devices = s.exec(
                select(m.Device.tag, m.Device.state, m.Device.no_storage, m.Device.location_id, m.Device.grade,
                       m.Device.last_event_id).order_by(m.Device.id)
            ).all()
            counts = tuple(
                s.exec(select(func.count()).select_from(model)).scalar()
                for model in (m.Event, m.StorageMedium, m.WipeRecord, m.ImageRecord, m.QCRecord, m.Lock, m.Loan,
                              m.Borrower, m.Operator, m.Station, m.Evidence, m.Location, m.Batch, m.Donor)
            )
            open_locks = s.exec(select(func.count(m.Lock.id)).where(m.Lock.released_at.is_(None))).scalar()
            open_loans = s.exec(select(func.count(m.Loan.id)).where(m.Loan.returned_at.is_(None))).scalar()
            head = s.get(m.ChainHead, 1)
            counters = s.exec(select(m.TagCounter.prefix, m.TagCounter.next_seq)).all()
            return (tuple(map(tuple, devices)), counts, open_locks, open_loans, (head.count, head.hash),
                    tuple(map(tuple, counters)))

    def state_of(self, tag):
        with db.session(self.url) as s:
            return s.exec(select(m.Device.state).where(m.Device.tag == tag)).scalar()

    def media_of(self, tag):
        with db.session(self.url) as s:
            return s.exec(
                select(m.StorageMedium.serial, m.StorageMedium.type)
                .join(m.Device, m.Device.id == m.StorageMedium.device_id)
                .where(m.Device.tag == tag).order_by(m.StorageMedium.id)
            ).all()

    # ------------------------------------------------------------------ rules

    who = st.sampled_from([LEAD, LEAD, VOLUNTEER])
    force = st.sampled_from([False, False, False, True])

    def _serial(self, reuse):
        if reuse and self.serials:
            return f"SN-{self.serials:04d}"
        self.serials += 1
        return f"SN-{self.serials:04d}"

    def _added(self, out):
        if out is None:
            return multiple()
        self.registered += 1
        return out["tag"]

    @precondition(lambda self: self.registered < MAX_DEVICES)
    @rule(target=devices, kind=st.sampled_from(["laptop", "laptop", "tablet", "phone"]), reuse=st.booleans(),
          who=who)
    def register(self, kind, reuse, who):
        return self._added(self.attempt(services.register_device, BATCH, kind, make="Lenovo", model="T480",
                                        serial=self._serial(reuse), who=who))

    @precondition(lambda self: self.registered < MAX_DEVICES)
    @rule(target=devices, reuse=st.booleans())
    def expect(self, reuse):
        return self._added(self.attempt(services.expect_device, BATCH, "laptop", make="Dell", model="Latitude 7490",
                                        serial=self._serial(reuse)))

    @rule(tag=devices, by_serial=st.booleans())
    def receive(self, tag, by_serial):
        code = tag
        if by_serial:
            with db.session(self.url) as s:
                code = s.exec(select(m.Device.serial).where(m.Device.tag == tag)).scalar()
        self.attempt(services.receive, code)

    @rule(tag=devices, n=st.integers(0, 2), type=st.sampled_from(MEDIA_TYPES), who=who)
    def add_medium(self, tag, n, type, who):
        self.attempt(services.add_medium, tag, type, f"{tag}-M{n}", size_bytes=256 * 10**9, who=who)

    @rule(tag=devices)
    def media_none(self, tag):
        self.attempt(services.no_media, tag)

    @rule(tag=devices, data=st.data(), right=st.booleans(), result=st.sampled_from(["pass", "pass", "fail"]),
          verified=st.sampled_from([True, True, False]), who=who)
    def record_wipe(self, tag, data, right, result, verified, who):
        media = self.media_of(tag)
        serial, type = data.draw(st.sampled_from(media)) if media else (f"{tag}-M9", "hdd")
        fitting = sorted(p.id for p in PROFILES.values() if p.level_for(type))
        profile = data.draw(st.sampled_from(fitting if right else sorted(PROFILES)))
        self.attempt(services.record_wipe, tag, serial, profile, result, verified=verified, who=who)

    @rule(tag=devices, image=st.sampled_from(IMAGES), who=who, force=force)
    def reimage(self, tag, image, who, force):
        self.attempt(services.reimage, tag, image, who=who, force=force)

    @rule(tag=devices, passed=st.booleans(), grade=st.sampled_from([None, "A", "B", "C"]),
          failed_item=st.sampled_from([None, "power-on", "screen", "wifi", "webcam"]), who=who, force=force)
    def qc(self, tag, passed, grade, failed_item, who, force):
        checks = {failed_item: "fail"} if failed_item else {}
        self.attempt(services.record_qc, tag, passed, checks, grade, who=who, force=force)

    @rule(tag=devices, kind=st.sampled_from(LOCK_KINDS[:3]))
    def lock(self, tag, kind):
        self.attempt(services.lock, tag, kind, note="seen at intake")

    @rule(tag=devices, who=who)
    def unlock(self, tag, who):
        self.attempt(services.unlock, tag, str(self.evidence), who=who)

    @rule(tag=devices, done=st.booleans(), force=force)
    def repair(self, tag, done, force):
        self.attempt(services.repair, tag, done=done, force=force)

    @rule(tag=devices, release=st.booleans(), who=who, force=force)
    def allocate(self, tag, release, who, force):
        self.attempt(services.allocate, tag, DIGIPUNT, release=release, who=who, force=force)

    @rule(tag=devices, borrower=st.sampled_from(["DP-GENT-0001", "DP-GENT-0002"]), force=force)
    def loan_out(self, tag, borrower, force):
        self.attempt(services.loan_out, tag, borrower, force=force)

    @rule(tag=devices, condition=st.sampled_from(CONDITIONS))
    def loan_return(self, tag, condition):
        self.attempt(services.loan_return, tag, condition)

    @rule(tag=devices, who=st.sampled_from([LEAD, LEAD, LEAD, VOLUNTEER]))
    def lost(self, tag, who):
        self.attempt(services.loan_lost, tag, who=who)

    @rule(tag=devices, how=st.sampled_from(["parts", "recycle", "return_to_donor"]), who=who, force=force)
    def dispose(self, tag, how, who, force):
        if how == "recycle":
            self.attempt(services.recycle, tag, "Recupel", who=who, force=force)
        elif how == "parts":
            self.attempt(services.to_parts, tag, who=who, force=force)
        else:
            self.attempt(services.return_to_donor, tag, who=who, force=force)

    @rule(tag=devices, steps=st.integers(1, 8), lose=st.sampled_from([False, False, True]), careless=st.booleans())
    def advance(self, tag, steps, lose, careless):
        """The next steps a volunteer would take, so that random runs reach the deep states; a careless one
        skips the wipe whenever there is one to do."""
        for _ in range(steps):
            self._next_step(tag, lose, careless)
            self.check_all()  # every state passed through is checked, not only where the rule ends

    def check_all(self):
        self.shown_devices_are_erased()
        self.unforced_ready_devices_were_imaged_and_checked_after_the_last_wipe()
        self.state_is_the_replay_of_events()
        self.loans_match_states()
        self.audit_is_intact()

    @rule(tag=devices, force=force)
    def rush(self, tag, force=False):
        """A careless volunteer: image, pass and allocate a device without looking at its wipes."""
        image = {"laptop": "linux-mint", "tablet": "android-stock", "phone": "android-stock"}[self._kind(tag)]
        self.attempt(services.reimage, tag, image, force=force)
        self.attempt(services.record_qc, tag, True, {}, "B", force=force)
        self.attempt(services.allocate, tag, DIGIPUNT, force=force)

    def _next_step(self, tag, lose, careless):
        state = self.state_of(tag)
        media = self.media_of(tag)
        if state in ("intake", "wipe_pending", "wiping", "wipe_failed") and not media:
            self.attempt(services.add_medium, tag, "nvme", f"{tag}-M0")
        elif state == "expected":
            self.attempt(services.receive, tag)
        elif careless and state in ("intake", "wipe_pending", "wiping", "wipe_failed"):
            self.rush(tag)
        elif state in ("intake", "wipe_pending", "wiping", "wipe_failed", "repair"):
            for serial, type in media:
                profile = min(p.id for p in PROFILES.values() if p.level_for(type))
                self.attempt(services.record_wipe, tag, serial, profile, "pass")
            if state == "repair":
                self.attempt(services.repair, tag, done=True)
        elif state == "wiped":
            image = {"laptop": "linux-mint", "tablet": "android-stock", "phone": "android-stock"}[self._kind(tag)]
            self.attempt(services.reimage, tag, image)
        elif state == "imaged":
            self.attempt(services.record_qc, tag, True, {}, "A")
        elif state == "ready":
            self.attempt(services.allocate, tag, DIGIPUNT)
        elif state == "allocated":
            self.attempt(services.loan_out, tag, "DP-GENT-0001")
        elif state == "on_loan" and lose:
            self.attempt(services.loan_lost, tag)
        elif state == "on_loan":
            self.attempt(services.loan_return, tag, "ok")
        elif state == "locked":
            self.attempt(services.unlock, tag, str(self.evidence))

    def _kind(self, tag):
        with db.session(self.url) as s:
            return s.exec(select(m.Device.kind).where(m.Device.tag == tag)).scalar()

    # ------------------------------------------------------------------ invariants

    @invariant()
    def shown_devices_are_erased(self):
        with db.session(self.url) as s:
            for device in s.exec(select(m.Device)).scalars().all():
                REACHED.add(device.state)
                media = s.exec(select(m.StorageMedium).where(m.StorageMedium.device_id == device.id)).scalars().all()
                assert not (device.no_storage and media), f"{device.tag}: 'no storage' yet media {media}"
                if device.state not in SHOWN:
                    continue
                cycle = s.exec(select(func.max(m.Event.id)).where(
                    m.Event.device_id == device.id, m.Event.action.in_(CYCLE_ACTIONS))).scalar()
                assert cycle, f"{device.tag}: no register/receive/return event"
                assert media or device.no_storage, f"{device.tag} is {device.state} with unknown media"
                for medium in media:
                    wipes = s.exec(select(m.WipeRecord).where(
                        m.WipeRecord.medium_id == medium.id, m.WipeRecord.event_id > cycle)).scalars().all()
                    good = [w for w in wipes if w.result == "pass" and w.verified
                            and PROFILES[w.profile_id].level_for(medium.type) is not None]
                    assert good, (f"{device.tag} is {device.state} but medium {medium.serial} ({medium.type}) has "
                                  f"no verified passing wipe after event {cycle}: {wipes}")

    @invariant()
    def unforced_ready_devices_were_imaged_and_checked_after_the_last_wipe(self):
        with db.session(self.url) as s:
            for device in s.exec(select(m.Device).where(m.Device.state.in_(SHOWN))).scalars().all():
                cycle = s.exec(select(func.max(m.Event.id)).where(
                    m.Event.device_id == device.id, m.Event.action.in_(CYCLE_ACTIONS))).scalar()
                forced = s.exec(select(func.count(m.Event.id)).where(
                    m.Event.device_id == device.id, m.Event.id > cycle, m.Event.forced.is_not(None))).scalar()
                if forced:
                    continue
                last_wipe = s.exec(select(func.max(m.WipeRecord.event_id)).where(
                    m.WipeRecord.device_id == device.id)).scalar() or 0
                image = s.exec(select(func.max(m.ImageRecord.event_id)).where(
                    m.ImageRecord.device_id == device.id, m.ImageRecord.event_id > max(last_wipe, cycle))).scalar()
                assert image, f"{device.tag} is {device.state} with no image after its last wipe"
                qc = s.exec(select(m.QCRecord).where(
                    m.QCRecord.device_id == device.id, m.QCRecord.event_id > image).order_by(
                    m.QCRecord.event_id.desc())).scalars().first()
                assert qc is not None and qc.result == "pass" and qc.grade, (
                    f"{device.tag} is {device.state} without a passing, graded QC after its image")

    @invariant()
    def state_is_the_replay_of_events(self):
        with db.session(self.url) as s:
            for device in s.exec(select(m.Device)).scalars().all():
                events = s.exec(select(m.Event).where(m.Event.device_id == device.id).order_by(m.Event.id)).scalars().all()
                assert device.state == lifecycle.replay(events), [(e.action, e.to_state) for e in events]
                assert device.last_event_id == events[-1].id

    @invariant()
    def loans_match_states(self):
        with db.session(self.url) as s:
            open_loans = s.exec(select(m.Loan.device_id).where(
                m.Loan.returned_at.is_(None), m.Loan.lost.is_(False))).scalars().all()
            on_loan = s.exec(select(m.Device.id).where(m.Device.state == "on_loan")).scalars().all()
            assert sorted(open_loans) == sorted(on_loan)

    @invariant()
    def audit_is_intact(self):
        report = services.verify_audit(self.ctx)
        assert report.ok, report.problems


class PostgresLifecycle(Lifecycle):
    def new_database(self):
        self.schema = "st_" + uuid.uuid4().hex[:12]
        import psycopg

        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {self.schema}")
        return PG_URL + ("&" if "?" in PG_URL else "?") + f"options=-csearch_path%3D{self.schema}"

    def drop_database(self):
        import psycopg

        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {self.schema} CASCADE")


RUN = dict(deadline=None, suppress_health_check=list(HealthCheck), print_blob=True)


def test_random_lifecycles_keep_their_invariants_on_sqlite():
    REACHED.clear()
    REFUSALS.clear()
    run_state_machine_as_test(Lifecycle, settings=settings(max_examples=25, stateful_step_count=30, **RUN))
    # the interesting states were reached, so the invariants above were really exercised
    assert {"ready", "allocated", "on_loan"} <= REACHED, REACHED
    assert REFUSALS, "no refusal was checked"


@pytest.fixture
def postgres():
    try:
        import psycopg

        psycopg.connect(PG_URL, connect_timeout=3).close()
    except Exception as exc:  # any failure to connect means: no server to test against
        reason = f"PostgreSQL at {PG_URL} unreachable: {exc}".splitlines()[0]
        if os.environ.get("CI"):
            pytest.fail(reason + " (CI must test PostgreSQL)")
        pytest.skip(reason)


@pytest.mark.postgres
def test_random_lifecycles_keep_their_invariants_on_postgresql(postgres):
    REACHED.clear()
    REFUSALS.clear()
    run_state_machine_as_test(PostgresLifecycle, settings=settings(max_examples=6, stateful_step_count=25, **RUN))
    assert "intake" in REACHED and REFUSALS
