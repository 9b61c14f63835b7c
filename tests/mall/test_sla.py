"""SLA clocks: start, pause and resume, meet, the breach sweep, recomputation, statistics."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select

from mall import audit
from mall.audit.models import AuditEvent
from mall.auth.models import OrgKind
from mall.calendar.core import SHANGHAI
from mall.calendar.service import load_calendar
from mall.notifications.models import Notification
from mall.sla import service
from mall.sla.models import SlaClock


def local(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


async def _start(
    session_maker,
    settings,
    started: str,
    kind: str = "supplier_verification",
    org_id=None,
    days=None,
):
    subject = uuid.uuid4().hex
    async with session_maker() as session, session.begin():
        clock = await service.start(
            session,
            await load_calendar(session),
            settings.sla,
            subject_type="test_subject",
            subject_id=subject,
            kind=kind,
            responsible_org_id=org_id,
            started_at=local(started),
            working_days=days,
        )
    return subject, clock


async def test_start_uses_the_default_length_and_the_calendar(session_maker, settings) -> None:
    _subject, clock = await _start(session_maker, settings, "2026-09-30 10:00:00")
    assert clock.working_days == 2
    assert clock.due_at == local("2026-10-10 00:00:00")  # Oct 8, 9
    assert not clock.provisional


async def test_pause_and_resume_move_the_due_time(session_maker, settings) -> None:
    subject, clock = await _start(session_maker, settings, "2026-03-02 10:00:00")
    actor = audit.SYSTEM
    async with session_maker() as session, session.begin():
        await service.pause(
            session,
            subject_type="test_subject",
            subject_id=subject,
            kind="supplier_verification",
            reason="more information requested",
            actor=actor,
            at=local("2026-03-02 15:00:00"),
        )
    # While paused, a sweep long after the old due time breaches nothing.
    async with session_maker() as session, session.begin():
        await service.sweep(session, now=local("2026-03-06 12:00:00"))
        assert (await session.get(SlaClock, clock.id)).breached_at is None
    async with session_maker() as session, session.begin():
        resumed = await service.resume(
            session,
            await load_calendar(session),
            subject_type="test_subject",
            subject_id=subject,
            kind="supplier_verification",
            actor=actor,
            at=local("2026-03-05 09:00:00"),
        )
        assert resumed.due_at == local("2026-03-10 00:00:00")
        assert resumed.paused_working_days == 3 and resumed.paused_since is None
    async with session_maker() as session:
        actions = (
            await session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.subject_id == subject)
                .order_by(AuditEvent.id)
            )
        ).all()
    assert actions == ["sla.paused", "sla.resumed"]


async def test_sweep_breaches_once_and_notifies(session_maker, settings, make_account) -> None:
    supplier = await make_account(OrgKind.SUPPLIER)
    operator = await make_account(OrgKind.OPERATOR)
    late, late_clock = await _start(
        session_maker, settings, "2026-03-02 10:00:00", org_id=supplier.user.org_id
    )
    kept, kept_clock = await _start(
        session_maker, settings, "2026-03-02 10:00:00", org_id=supplier.user.org_id
    )
    async with session_maker() as session, session.begin():
        await service.meet(
            session,
            subject_type="test_subject",
            subject_id=kept,
            kind="supplier_verification",
            at=local("2026-03-03 10:00:00"),
        )
    sweep_time = local("2026-03-05 00:00:01")
    async with session_maker() as session, session.begin():
        first = await service.sweep(session, now=sweep_time)
    async with session_maker() as session, session.begin():
        second = await service.sweep(session, now=sweep_time + dt.timedelta(minutes=1))
    assert first.breached >= 1
    async with session_maker() as session:
        assert (await session.get(SlaClock, late_clock.id)).breached_at == sweep_time
        assert (await session.get(SlaClock, kept_clock.id)).breached_at is None
        sweeps = (
            await session.scalars(
                select(AuditEvent).where(
                    AuditEvent.subject_type == "sla_sweep", AuditEvent.action == "sla.breached"
                )
            )
        ).all()
        [event] = [e for e in sweeps if e.subject_id == sweep_time.isoformat()]
        after = event.summary["after"]
        assert after["by_kind"]["supplier_verification"] >= 1
        # The event pins down which clocks were breached, and only those.
        count, digest = await service.breached_ids_digest(session, sweep_time)
        assert (after["breached"], after["clock_ids_sha256"]) == (count, digest)
        assert count == first.breached
        supplier_notes = (
            await session.scalars(
                select(Notification).where(
                    Notification.org_id == supplier.user.org_id, Notification.kind == "sla.breached"
                )
            )
        ).all()
        operator_notes = (
            await session.scalars(
                select(Notification).where(
                    Notification.org_id == operator.user.org_id,
                    Notification.kind == "sla.escalation",
                )
            )
        ).all()
    assert len(supplier_notes) == 1 and late in supplier_notes[0].body_en
    assert supplier_notes[0].title_zh == "1 项办理时限已超期"
    assert "供应商入驻审核" in supplier_notes[0].body_zh
    # The Chinese body names the subject in Chinese, the English one in English.
    assert "test_subject" not in supplier_notes[0].body_zh
    assert "supplier verification (test subject" in supplier_notes[0].body_en
    assert len(operator_notes) >= 1
    # The second sweep left the breached clock alone (other tests' clocks may still breach).
    assert second.breached <= first.breached


async def test_met_late_is_recorded_as_late(session_maker, settings) -> None:
    subject, _clock = await _start(session_maker, settings, "2026-03-02 10:00:00")
    async with session_maker() as session, session.begin():
        met = await service.meet(
            session,
            subject_type="test_subject",
            subject_id=subject,
            kind="supplier_verification",
            at=local("2026-03-06 10:00:00"),
        )
        again = await service.meet(
            session,
            subject_type="test_subject",
            subject_id=subject,
            kind="supplier_verification",
            at=local("2026-03-07 10:00:00"),
        )
    assert met.met_at == local("2026-03-06 10:00:00") == again.met_at
    assert met.met_at > met.due_at


async def test_loading_next_year_recomputes_provisional_clocks(
    session_maker, settings, client, signed_in
) -> None:
    _subject, clock = await _start(
        session_maker, settings, "2026-12-30 10:00:00", kind="payment", days=3
    )
    # Dec 31, Jan 4, Jan 5: statutory 元旦 is off even before the schedule is loaded.
    assert clock.provisional and clock.due_at == local("2027-01-06 00:00:00")
    response = await client.put(
        "/api/v1/calendar/years/2027",
        json={
            "holidays": ["2027-01-01"],
            "workdays": ["2027-01-02"],
            "source": "test",
        },
        headers=signed_in[OrgKind.OPERATOR],
    )
    assert response.status_code == 200
    from mall.sla.jobs import recompute_provisional_clocks

    changed = await recompute_provisional_clocks({"session_maker": session_maker}, year=2027)
    assert changed >= 1
    async with session_maker() as session:
        exact = await session.get(SlaClock, clock.id)
        recomputed = (
            await session.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == "sla.recomputed", AuditEvent.subject_id == "2027"
                )
            )
        ).all()
    assert not exact.provisional
    assert exact.due_at == local("2027-01-05 00:00:00")  # Dec 31, make-up Jan 2, Jan 4
    assert len(recomputed) == 1


async def test_stats_for_regulators(client, signed_in, session_maker, settings) -> None:
    kind = f"stat_{uuid.uuid4().hex[:6]}"
    settings.sla.working_days[kind] = 2
    # met on time (26 working hours), met late (120), and two left open
    on_time, _ = await _start(session_maker, settings, "2026-03-02 10:00:00", kind=kind)
    late, _ = await _start(session_maker, settings, "2026-03-02 10:00:00", kind=kind)
    await _start(session_maker, settings, "2026-03-02 10:00:00", kind=kind)
    await _start(session_maker, settings, "2026-03-02 10:00:00", kind=kind)
    async with session_maker() as session, session.begin():
        await service.meet(
            session,
            subject_type="test_subject",
            subject_id=on_time,
            kind=kind,
            at=local("2026-03-03 12:00:00"),
        )
        await service.meet(
            session,
            subject_type="test_subject",
            subject_id=late,
            kind=kind,
            at=local("2026-03-09 10:00:00"),
        )
    async with session_maker() as session, session.begin():
        await service.sweep(session, now=local("2026-03-06 00:00:00"))
    for kind_ in (OrgKind.SUPPLIER, OrgKind.PURCHASER):
        assert (await client.get("/api/v1/stats/sla", headers=signed_in[kind_])).status_code == 403
    response = await client.get(
        "/api/v1/stats/sla", params={"kind": kind}, headers=signed_in[OrgKind.REGULATOR]
    )
    assert response.status_code == 200
    [row] = response.json()
    assert row["kind"] == kind and row["started"] == 4
    assert (row["met_on_time"], row["met_late"], row["open"]) == (1, 1, 2)
    assert row["open_breached"] == 2  # both open clocks were past due when swept
    assert row["on_time_rate"] == round(100 * 1 / 4, 2)
    # working hours: Mar 2 10:00 -> Mar 3 12:00 = 26 h; Mar 2 10:00 -> Mar 9 10:00 = 5 working days = 120 h
    assert row["median_hours_to_meet"] == 73.0
