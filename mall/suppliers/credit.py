"""Dishonesty lists (失信名单): operators import them; suppliers on a live list
are refused at registration and suspended when a list update names them."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from mall import audit
from mall.auth.models import Organisation, OrgKind, OrgStatus
from mall.auth.principal import Principal
from mall.calendar.core import SHANGHAI
from mall.errors import InvalidError
from mall.jobs.outbox import enqueue_job
from mall.notifications.service import notify
from mall.suppliers.models import CREDIT_LIST_TYPES, CreditListEntry, OperatorCase
from mall.suppliers.uscc import normalise_uscc, uscc_problem

RECHECK_JOB = "recheck_suppliers_against_credit_lists"
COLUMNS = ("uscc", "name", "list_type", "source", "listed_on", "expires_on")
LIST_NAMES_ZH = {
    "gov_procurement_serious_violation": "政府采购严重违法失信行为记录名单",
    "dishonest_judgment_debtor": "失信被执行人名单",
    "major_tax_violation": "重大税收违法失信主体名单",
}


@dataclass
class ImportResult:
    imported: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)


def _parse_date(value: str) -> dt.date | None:
    return dt.date.fromisoformat(value) if value.strip() else None


def parse_rows(text: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Valid rows, and the invalid ones with their line numbers and reasons."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    try:
        fieldnames = reader.fieldnames or []
        lines = list(reader)
    except csv.Error as exc:
        raise InvalidError(
            f"The CSV cannot be read: {exc}.",
            code="credit.csv_unreadable",
            title="CSV 文件无法读取",
            errors=[{"field": "file", "message": str(exc)[:200], "message_zh": "CSV 文件格式错误"}],
        ) from None
    missing = [c for c in COLUMNS if c not in fieldnames and c != "expires_on"]
    if missing:
        raise InvalidError(
            f"The CSV lacks columns: {', '.join(missing)}.",
            code="credit.csv_columns",
            title="CSV 文件缺少必需的列",
            errors=[{"field": "file", "message": f"columns: {', '.join(COLUMNS)}"}],
        )
    valid, rejected = [], []
    for line, row in enumerate(lines, start=2):
        problems = []
        code = normalise_uscc(row.get("uscc") or "")
        if (problem := uscc_problem(code)) is not None:
            problems.append(f"uscc {problem}")
        if row.get("list_type") not in CREDIT_LIST_TYPES:
            problems.append(f"list_type must be one of {', '.join(CREDIT_LIST_TYPES)}")
        if not (row.get("name") or "").strip():
            problems.append("name is empty")
        if not (row.get("source") or "").strip():
            problems.append("source is empty")
        try:
            listed_on = _parse_date(row.get("listed_on") or "")
            expires_on = _parse_date(row.get("expires_on") or "")
            if listed_on is None:
                problems.append("listed_on is empty")
            elif expires_on is not None and expires_on < listed_on:
                problems.append("expires_on is before listed_on")
        except ValueError:
            problems.append("dates must be YYYY-MM-DD")
        if problems:
            rejected.append({"line": line, "uscc": row.get("uscc"), "errors": problems})
            continue
        valid.append(
            {
                "uscc": code,
                "name": row["name"].strip(),
                "list_type": row["list_type"],
                "source": row["source"].strip(),
                "listed_on": listed_on,
                "expires_on": expires_on,
            }
        )
    return valid, rejected


async def import_list(session: AsyncSession, principal: Principal, text: str) -> ImportResult:
    """Add or update entries (keyed by code, list and listing date); valid rows are kept,
    invalid ones reported; then every active supplier is re-checked (a job)."""
    valid, rejected = parse_rows(text)
    if not valid:
        raise InvalidError(
            "No valid rows in the file.",
            code="credit.csv_empty",
            title="文件中没有有效记录",
            errors=[
                {"field": f"line {r['line']}", "message": "; ".join(r["errors"])}
                for r in rejected[:50]
            ],
        )
    # One row per key: the last one in the file wins.
    by_key = {(r["uscc"], r["list_type"], r["listed_on"]): r for r in valid}
    stmt = insert(CreditListEntry).values(list(by_key.values()))
    stmt = stmt.on_conflict_do_update(
        constraint="uq_credit_list_entry",
        set_={
            "name": stmt.excluded.name,
            "source": stmt.excluded.source,
            "expires_on": stmt.excluded.expires_on,
        },
    )
    await session.execute(stmt)
    now = dt.datetime.now(dt.UTC)
    await audit.record(
        session,
        actor=audit.Actor.of(principal),
        action="credit_list.imported",
        subject_type="credit_list",
        subject_id=now.date().isoformat(),
        after={"rows": len(by_key), "rejected": len(rejected)},
    )
    await enqueue_job(session, RECHECK_JOB, key=now.isoformat())
    return ImportResult(imported=len(by_key), rejected=rejected)


async def recheck_suppliers(session: AsyncSession, today: dt.date | None = None) -> int:
    """Suspend every active supplier on a live list, open a case for each; returns how many."""
    today = today or dt.datetime.now(SHANGHAI).date()
    hits = (
        await session.execute(
            select(Organisation, CreditListEntry)
            .join(CreditListEntry, CreditListEntry.uscc == Organisation.uscc)
            .where(
                Organisation.kind == OrgKind.SUPPLIER.value,
                Organisation.status == OrgStatus.ACTIVE.value,
                CreditListEntry.listed_on <= today,
                or_(CreditListEntry.expires_on.is_(None), CreditListEntry.expires_on >= today),
            )
            .order_by(Organisation.id, CreditListEntry.listed_on)
            .with_for_update(of=Organisation)
        )
    ).all()
    seen: set[object] = set()
    for org, entry in hits:
        if org.id in seen:
            continue
        seen.add(org.id)
        list_zh = LIST_NAMES_ZH[entry.list_type]
        org.status = OrgStatus.SUSPENDED.value
        org.status_reason = f"列入{list_zh}（{entry.source}）"
        org.status_until = None  # until an operator decides
        details = {
            "list_type": entry.list_type,
            "entry_id": str(entry.id),
            "source": entry.source,
            "listed_on": entry.listed_on.isoformat(),
        }
        case = OperatorCase(
            case_type="credit_list_hit",
            subject_type="organisation",
            subject_id=str(org.id),
            summary_zh=f"{org.name} 被列入{list_zh}，已暂停交易，请核实处理",
            summary_en=(
                f"{org.name} is on the {entry.list_type} list; trading suspended pending review"
            ),
            details=details,
        )
        session.add(case)
        await session.flush()
        await audit.record(
            session,
            actor=audit.SYSTEM,
            action="supplier.suspended",
            subject_type="organisation",
            subject_id=org.id,
            before={"status": "active"},
            after={
                "status": "suspended",
                "reason": org.status_reason,
                "case_id": case.id,
                **details,
            },
        )
        await notify(
            session,
            org_id=org.id,
            kind="supplier.suspended",
            title_zh="贵单位已被暂停交易",
            title_en="Your trading has been suspended",
            body_zh=org.status_reason,
            body_en=f"Listed on {entry.list_type} ({entry.source}).",
            subject=("organisation", org.id),
        )
        for operator_id in (
            await session.scalars(
                select(Organisation.id).where(Organisation.kind == OrgKind.OPERATOR.value)
            )
        ).all():
            await notify(
                session,
                org_id=operator_id,
                kind="operator_case.opened",
                title_zh=case.summary_zh,
                title_en=case.summary_en,
                subject=("operator_case", case.id),
            )
    return len(seen)
