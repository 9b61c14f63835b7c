"""The calendar over HTTP: public reads, operator-loaded years, bad input."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mall.audit.models import AuditEvent
from mall.auth.models import OrgKind
from mall.jobs.models import OutboxJob


async def test_2026_schedule_is_public_and_official(client) -> None:
    response = await client.get("/api/v1/calendar/years/2026")
    assert response.status_code == 200
    body = response.json()
    assert body["official"] is True
    assert "2026-10-10" in body["workdays"] and "2026-01-04" in body["workdays"]
    assert "2026-10-01" in body["holidays"] and "2026-02-15" in body["holidays"]


async def test_unknown_year_is_not_official_but_keeps_its_statutory_holidays(client) -> None:
    body = (await client.get("/api/v1/calendar/years/2033")).json()
    assert body["official"] is False and body["workdays"] == []
    assert "2033-01-01" in body["holidays"] and "2033-10-03" in body["holidays"]
    assert len(body["holidays"]) in (12, 13) and "放假办法" in body["source"]
    new_year = await client.get(
        "/api/v1/calendar/working-days", params={"from": "2027-01-01", "to": "2027-01-01"}
    )
    assert new_year.json() == {"count": 0, "provisional": True}


async def test_deadline_endpoint(client) -> None:
    response = await client.get(
        "/api/v1/calendar/deadline",
        params={"start": "2026-09-30T10:00:00+08:00", "working_days": 1},
    )
    assert response.status_code == 200
    assert response.json()["due_at"] == "2026-10-09T00:00:00+08:00"
    assert response.json()["provisional"] is False
    utc = await client.get(
        "/api/v1/calendar/deadline", params={"start": "2026-09-29T16:30:00Z", "working_days": 1}
    )
    assert utc.json()["due_at"] == "2026-10-09T00:00:00+08:00"
    far = await client.get(
        "/api/v1/calendar/deadline",
        params={"start": "2033-03-01T10:00:00+08:00", "working_days": 2},
    )
    assert far.json() == {
        "due_at": "2033-03-04T00:00:00+08:00",
        "provisional": True,
        "last_working_day": "2033-03-03",
    }


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "2026-13-01T00:00:00+08:00", "working_days": 1}, "start"),
        ({"start": "yesterday", "working_days": 1}, "start"),
        ({"start": "2026-09-30T10:00:00", "working_days": 1}, "start"),
        ({"start": "2026-09-30T10:00:00+08:00", "working_days": -1}, "working_days"),
        ({"start": "2026-09-30T10:00:00+08:00", "working_days": 366}, "working_days"),
        ({"start": "2026-09-30T10:00:00+08:00"}, "working_days"),
    ],
)
async def test_deadline_bad_input_names_the_field(client, params, field) -> None:
    response = await client.get("/api/v1/calendar/deadline", params=params)
    assert response.status_code == 422, response.text
    assert field in [error["field"] for error in response.json()["errors"]]


async def test_working_days_endpoint(client) -> None:
    response = await client.get(
        "/api/v1/calendar/working-days", params={"from": "2026-10-01", "to": "2026-10-31"}
    )
    assert response.json() == {"count": 18, "provisional": False}
    reversed_ = await client.get(
        "/api/v1/calendar/working-days", params={"from": "2026-10-31", "to": "2026-10-01"}
    )
    assert reversed_.status_code == 422 and reversed_.json()["errors"][0]["field"] == "to"
    malformed = await client.get(
        "/api/v1/calendar/working-days", params={"from": "2026-02-30", "to": "2026-03-01"}
    )
    assert malformed.status_code == 422 and malformed.json()["errors"][0]["field"] == "from"


SCHEDULE_2034 = {
    "holidays": ["2034-01-01", "2034-01-02", "2034-10-02"],
    "workdays": ["2034-01-07"],
    "source": "测试用安排 / test schedule",
}


async def test_only_operators_load_years(client, signed_in) -> None:
    assert (await client.put("/api/v1/calendar/years/2034", json=SCHEDULE_2034)).status_code == 401
    for kind in (OrgKind.SUPPLIER, OrgKind.PURCHASER, OrgKind.REGULATOR):
        response = await client.put(
            "/api/v1/calendar/years/2034", json=SCHEDULE_2034, headers=signed_in[kind]
        )
        assert response.status_code == 403, kind


SCHEDULE_2035 = {"holidays": ["2035-01-01"], "workdays": ["2035-01-06"], "source": "test"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**SCHEDULE_2035, "holidays": ["2035-01-01", "2036-01-01"]}, "holidays[1]"),
        ({**SCHEDULE_2035, "workdays": ["2035-01-03"]}, "workdays[0]"),  # a Wednesday
        ({**SCHEDULE_2035, "holidays": ["2035-01-06"]}, "workdays"),  # both
        ({**SCHEDULE_2035, "holidays": ["2035-02-30"]}, "holidays"),
        ({**SCHEDULE_2035, "source": ""}, "source"),
        ({"holidays": [], "workdays": []}, "source"),
    ],
)
async def test_invalid_schedules_are_refused(client, signed_in, session_maker, body, field) -> None:
    response = await client.put(
        "/api/v1/calendar/years/2035", json=body, headers=signed_in[OrgKind.OPERATOR]
    )
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert any(field in (error["field"] or "") for error in errors), errors
    assert (await client.get("/api/v1/calendar/years/2035")).json()["official"] is False


async def test_operator_loads_a_year(client, signed_in, session_maker) -> None:
    headers = signed_in[OrgKind.OPERATOR]
    response = await client.put("/api/v1/calendar/years/2034", json=SCHEDULE_2034, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["official"] is True
    read = (await client.get("/api/v1/calendar/years/2034")).json()
    assert (
        read["holidays"] == SCHEDULE_2034["holidays"] and read["source"] == SCHEDULE_2034["source"]
    )
    # Jan 2, 2034 is a Monday holiday; Saturday Jan 7 is worked.
    deadline = await client.get(
        "/api/v1/calendar/deadline",
        params={"start": "2034-01-01T09:00:00+08:00", "working_days": 1},
    )
    assert deadline.json()["due_at"] == "2034-01-04T00:00:00+08:00"
    assert deadline.json()["provisional"] is False
    async with session_maker() as session:
        events = (
            await session.scalars(
                select(AuditEvent).where(
                    AuditEvent.subject_type == "calendar_year", AuditEvent.subject_id == "2034"
                )
            )
        ).all()
        jobs = (
            await session.scalars(
                select(OutboxJob).where(
                    OutboxJob.job_name == "recompute_provisional_clocks",
                    OutboxJob.kwargs["year"].as_integer() == 2034,
                )
            )
        ).all()
    assert [e.action for e in events] == ["calendar.year_loaded"]
    assert events[0].summary["before"]["official"] is False
    assert len(jobs) == 1
