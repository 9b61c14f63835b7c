"""Notifications: an organisation sees its own, marks them read; others see nothing."""

from __future__ import annotations

import datetime as dt

from mall.auth.models import OrgKind
from mall.calendar.core import SHANGHAI
from mall.notifications import service, texts


async def test_visibility_and_read(client, make_account, login, session_maker) -> None:
    owner, colleague_org = await make_account(OrgKind.SUPPLIER), None
    stranger = await make_account(OrgKind.SUPPLIER)
    async with session_maker() as session, session.begin():
        note = await service.notify(
            session,
            org_id=owner.user.org_id,
            kind="test.notice",
            title_zh="资质文件即将到期",
            title_en="A qualification document expires soon",
        )
    del colleague_org
    owner_headers, stranger_headers = await login(owner), await login(stranger)

    mine = (await client.get("/api/v1/notifications/", headers=owner_headers)).json()["items"]
    assert [n["id"] for n in mine] == [str(note.id)]
    assert mine[0]["title_zh"] == "资质文件即将到期" and mine[0]["read_at"] is None
    assert (await client.get("/api/v1/notifications/", headers=stranger_headers)).json()[
        "items"
    ] == []

    denied = await client.post(f"/api/v1/notifications/{note.id}/read", headers=stranger_headers)
    assert denied.status_code == 404
    read = await client.post(f"/api/v1/notifications/{note.id}/read", headers=owner_headers)
    assert read.status_code == 200 and read.json()["read_at"]
    unread = await client.get(
        "/api/v1/notifications/", params={"unread_only": "true"}, headers=owner_headers
    )
    assert unread.json()["items"] == []


async def test_new_api_token_notifies_the_organisation(client, make_account, login) -> None:
    headers = await login(await make_account(OrgKind.SUPPLIER))
    await client.post("/api/v1/auth/api-tokens/", json={"name": "ERP"}, headers=headers)
    kinds = [
        n["kind"]
        for n in (await client.get("/api/v1/notifications/", headers=headers)).json()["items"]
    ]
    assert kinds == ["security.api_token_created"]


def test_a_deadline_is_shown_as_its_last_day_included() -> None:
    due = dt.datetime(2026, 12, 10, tzinfo=SHANGHAI)  # 24:00 of 9 December
    assert texts.last_day(due) == dt.date(2026, 12, 9)
    assert texts.last_day(due.astimezone(dt.UTC)) == dt.date(2026, 12, 9)
    assert texts.deadline_zh(due) == "2026-12-09（含）"
    assert texts.deadline_en(due) == "2026-12-09 (inclusive)"
    assert texts.last_day(dt.datetime(2026, 12, 10, 15, 30, tzinfo=SHANGHAI)) == dt.date(
        2026, 12, 10
    )
