"""The hash-chained, append-only audit trail."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import os
import subprocess
import sys

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from mall import audit
from mall.audit import checkpoints
from mall.auth.models import OrgKind


async def _append(session_maker, n: int, tag: str) -> None:
    for i in range(n):
        async with session_maker() as session, session.begin():
            await audit.record(
                session,
                actor=audit.SYSTEM,
                action="test.event",
                subject_type="test",
                subject_id=f"{tag}-{i}",
                after={"i": i, "price": "12.30", "名称": "得力 A4 复印纸"},
            )


async def _verify(engine) -> audit.VerifyResult:
    async with engine.connect() as connection:
        return await audit.verify(connection)


async def test_concurrent_writers_do_not_fork_the_chain(session_maker, engine) -> None:
    await asyncio.gather(*(_append(session_maker, 20, f"w{w}") for w in range(8)))
    result = await _verify(engine)
    assert result.ok and result.first_broken_id is None
    async with engine.connect() as connection:
        forks = await connection.scalar(
            text(
                "SELECT count(*) FROM (SELECT prev_hash FROM audit_event GROUP BY prev_hash HAVING count(*) > 1) f"
            )
        )
    assert forks == 0
    assert result.checked >= 160


async def test_database_refuses_update_delete_truncate(session_maker) -> None:
    await _append(session_maker, 1, "immutable")
    for statement in (
        "UPDATE audit_event SET action = 'x' WHERE id = (SELECT max(id) FROM audit_event)",
        "DELETE FROM audit_event WHERE id = (SELECT max(id) FROM audit_event)",
        "TRUNCATE audit_event",
    ):
        async with session_maker() as session:
            with pytest.raises(DBAPIError, match="append-only"):
                await session.execute(text(statement))
            await session.rollback()


async def _tamper(engine, *statements: str) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            text("ALTER TABLE audit_event DISABLE TRIGGER audit_event_no_update_delete")
        )
        for statement in statements:
            await connection.execute(text(statement))
        await connection.execute(
            text("ALTER TABLE audit_event ENABLE TRIGGER audit_event_no_update_delete")
        )


async def test_verify_names_an_edited_row(
    session_maker, engine, client, signed_in, database_url
) -> None:
    await _append(session_maker, 3, "edit")
    async with engine.connect() as connection:
        target = await connection.scalar(
            text("SELECT id FROM audit_event WHERE subject_id = 'edit-1'")
        )
        original = await connection.scalar(
            text("SELECT summary::text FROM audit_event WHERE id = :id"), {"id": target}
        )
    await _tamper(
        engine, f'UPDATE audit_event SET summary = \'{{"after": {{"i": 99}}}}\' WHERE id = {target}'
    )
    try:
        result = await _verify(engine)
        assert not result.ok and result.first_broken_id == target

        api = await client.get("/api/v1/audit/verify", headers=signed_in[OrgKind.REGULATOR])
        assert api.json() | {"checkpoint_id": None} == {
            "ok": False,
            "checked": result.checked,
            "first_broken_id": target,
            "checkpoint_id": None,
            "reason": "row_changed",
        }

        env = {**os.environ, "DATABASE_URL": database_url}
        cli = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "mall", "audit", "verify"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert cli.returncode == 1, cli.stderr
        assert json.loads(cli.stdout)["first_broken_id"] == target
    finally:
        await _tamper(
            engine, f"UPDATE audit_event SET summary = '{original}'::jsonb WHERE id = {target}"
        )
    assert (await _verify(engine)).ok


async def test_verify_names_the_row_after_a_deleted_one(session_maker, engine) -> None:
    await _append(session_maker, 3, "delete")
    async with engine.connect() as connection:
        ids = (
            await connection.scalars(
                text(
                    "SELECT id FROM audit_event WHERE subject_type = 'test' AND subject_id LIKE 'delete-%' ORDER BY id"
                )
            )
        ).all()
        saved = (
            (
                await connection.execute(
                    text("SELECT * FROM audit_event WHERE id = :id"), {"id": ids[1]}
                )
            )
            .mappings()
            .one()
        )
    await _tamper(engine, f"DELETE FROM audit_event WHERE id = {ids[1]}")
    try:
        result = await _verify(engine)
        assert not result.ok and result.first_broken_id == ids[2]
    finally:
        async with engine.begin() as connection:
            columns = ", ".join(saved.keys())
            values = ", ".join(f":{key}" for key in saved)
            await connection.execute(
                text(f"INSERT INTO audit_event ({columns}) VALUES ({values})").bindparams(),
                {**saved, "summary": json.dumps(saved["summary"])},
            )
    assert (await _verify(engine)).ok


async def test_events_for_one_subject(client, signed_in, make_account) -> None:
    account = await make_account(OrgKind.SUPPLIER)
    response = await client.get(
        "/api/v1/audit/events",
        params={"subject_type": "user", "subject_id": str(account.user.id)},
        headers=signed_in[OrgKind.OPERATOR],
    )
    assert response.status_code == 200
    events = response.json()["items"]
    assert [e["action"] for e in events] == ["user.created"]
    assert events[0]["summary"]["after"]["email"] == account.email
    assert len(events[0]["hash"]) == 64

    bad = await client.get(
        "/api/v1/audit/events", params={"page_size": 0}, headers=signed_in[OrgKind.OPERATOR]
    )
    assert bad.status_code in (400, 422)


def _cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mall", "audit", *args],
        check=False,
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_checkpoints_are_signed_and_published(
    session_maker, client, database_url, settings
) -> None:
    await _append(session_maker, 1, "checkpoint")
    made = await asyncio.to_thread(_cli, database_url, "checkpoint")
    assert made.returncode == 0, made.stderr
    created = json.loads(made.stdout)
    async with session_maker() as session:
        head = (
            await session.execute(text("SELECT id, hash FROM audit_event ORDER BY id DESC LIMIT 1"))
        ).one()
    assert (created["audit_event_id"], created["event_hash"]) == (head.id, head.hash)

    response = await client.get("/api/v1/public/audit/checkpoints", params={"page_size": 5})
    assert response.status_code == 200
    body = response.json()
    assert body["algorithm"] == "Ed25519"
    newest = body["items"][0]
    assert newest["id"] == created["id"] and body["page"] == 1
    # Anyone can check it with the published key and message format alone.
    public_key = Ed25519PublicKey.from_public_bytes(base64.b64decode(body["public_key"]))
    created_at = dt.datetime.fromisoformat(newest["created_at"].replace("Z", "+00:00"))
    message = body["message_format"].format(
        audit_event_id=newest["audit_event_id"],
        event_hash=newest["event_hash"],
        created_at=created_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    )
    public_key.verify(base64.b64decode(newest["signature"]), message.encode())
    forged = message.replace(newest["event_hash"], "0" * 64).encode()
    with pytest.raises(InvalidSignature):
        public_key.verify(base64.b64decode(newest["signature"]), forged)


async def test_a_deleted_newest_row_is_detected_by_the_checkpoint(
    session_maker, engine, client, signed_in, database_url, settings
) -> None:
    await _append(session_maker, 2, "newest")
    key = checkpoints.CheckpointKey.from_secret(settings.auth.secret_key)
    async with session_maker() as session, session.begin():
        checkpoint = await checkpoints.create(session, key)
    assert checkpoint is not None
    async with engine.connect() as connection:
        saved = (
            (
                await connection.execute(
                    text("SELECT * FROM audit_event WHERE id = :id"),
                    {"id": checkpoint.audit_event_id},
                )
            )
            .mappings()
            .one()
        )
    await _tamper(engine, f"DELETE FROM audit_event WHERE id = {checkpoint.audit_event_id}")
    try:
        # The chain alone still holds: the newest row left no trace in it.
        assert (await _verify(engine)).ok
        async with engine.connect() as connection:
            result = await checkpoints.verify_chain(connection, key)
        assert not result.ok
        assert result.reason == "checkpoint_row_missing"
        assert result.first_broken_id == checkpoint.audit_event_id
        assert result.checkpoint_id == checkpoint.id

        api = await client.get("/api/v1/audit/verify", headers=signed_in[OrgKind.REGULATOR])
        assert api.json()["ok"] is False
        assert api.json()["reason"] == "checkpoint_row_missing"
        cli = await asyncio.to_thread(_cli, database_url, "verify")
        assert cli.returncode == 1, cli.stderr
        assert json.loads(cli.stdout)["reason"] == "checkpoint_row_missing"
    finally:
        async with engine.begin() as connection:
            columns = ", ".join(saved.keys())
            values = ", ".join(f":{key}" for key in saved)
            await connection.execute(
                text(f"INSERT INTO audit_event ({columns}) VALUES ({values})"),
                {**saved, "summary": json.dumps(saved["summary"])},
            )
    async with engine.connect() as connection:
        assert (await checkpoints.verify_chain(connection, key)).ok


async def test_a_changed_head_or_a_forged_checkpoint_is_detected(
    session_maker, engine, settings
) -> None:
    await _append(session_maker, 1, "forged")
    key = checkpoints.CheckpointKey.from_secret(settings.auth.secret_key)
    async with session_maker() as session, session.begin():
        checkpoint = await checkpoints.create(session, key)
    assert checkpoint is not None
    async with engine.connect() as connection:
        wrong_hash = await audit.verify(
            connection,
            head=audit.SignedHead(checkpoint.id, checkpoint.audit_event_id, "f" * 64, True),
        )
        assert wrong_hash.reason == "checkpoint_hash_mismatch"
    await _tamper(
        engine, f"UPDATE audit_checkpoint SET event_hash = '{'e' * 64}' WHERE id = {checkpoint.id}"
    )
    async with engine.connect() as connection:
        forged = await checkpoints.verify_chain(connection, key)
    assert not forged.ok and forged.reason == "checkpoint_signature_invalid"
    async with engine.begin() as connection:
        await connection.execute(
            text("DELETE FROM audit_checkpoint WHERE id = :id"), {"id": checkpoint.id}
        )
