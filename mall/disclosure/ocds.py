"""Completed orders as an OCDS 1.1 release package (Open Contracting Data Standard).

One release per completed order, describing it as it ended: the purchasing
unit's budget line (planning), the direct purchase (tender, procurement method
``direct``), the supplier's award and the contract (signed when the supplier
confirmed the order), and the payment as an implementation transaction.
Amounts are yuan (``CNY``) and stay ``Decimal`` until they are written as JSON
numbers. The quantities and amounts are those bought: units returned or
terminated before completion are not in the release.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from mall.auth.models import Organisation
from mall.disclosure.orders import CompletedOrder
from mall.orders.models import OrderLine
from mall.orders.service import remaining

__all__ = ["PackageMeta", "release", "release_package"]

VERSION = "1.1"
CURRENCY = "CNY"
# The unified social credit code (统一社会信用代码, GB 32100-2015).
USCC_SCHEME = "CN-USCC"
METHOD_DETAILS = "电子卖场直购 / e-mall direct purchase"
FUNDING = {
    "fiscal": "财政资金",
    "self_raised": "自筹资金",
    "mixed": "财政与自筹资金",
    "other": "其他资金",
}


@dataclass(frozen=True, slots=True)
class PackageMeta:
    uri: str
    published: dt.datetime
    publisher: str
    license: str
    publication_policy: str
    ocid_prefix: str
    next_uri: str | None = None


def _moment(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _value(amount: Decimal) -> dict[str, Any]:
    return {"amount": amount, "currency": CURRENCY}


def _party_id(org: Organisation) -> str:
    return f"{USCC_SCHEME}-{org.uscc}" if org.uscc else f"mall-org-{org.id}"


def _party(org: Organisation, roles: list[str]) -> dict[str, Any]:
    party: dict[str, Any] = {"id": _party_id(org), "name": org.name, "roles": roles}
    if org.uscc:
        party["identifier"] = {"scheme": USCC_SCHEME, "id": org.uscc, "legalName": org.name}
    return party


def _ref(org: Organisation) -> dict[str, str]:
    return {"id": _party_id(org), "name": org.name}


def _item(line: OrderLine) -> dict[str, Any]:
    return {
        "id": str(line.line_no),
        "description": line.title,
        "quantity": remaining(line),
        "unit": {"name": line.unit, "value": _value(line.unit_price)},
    }


def release(done: CompletedOrder, ocid_prefix: str) -> dict[str, Any]:
    """The release of one completed order."""
    order = done.order
    ocid = f"{ocid_prefix}-{order.id}"
    total = _value(order.total_amount)
    items = [_item(line) for line in done.lines]
    signed = done.confirmed_at or order.placed_at
    contract: dict[str, Any] = {
        "id": str(order.id),
        "awardID": str(order.id),
        "title": f"电子卖场订单 {order.id}",
        # OCDS 1.1: signed, in force, and now come to a close.
        "status": "terminated",
        "dateSigned": _moment(signed),
        "period": {"startDate": _moment(signed), "endDate": _moment(done.completed_at)},
        "value": total,
        "items": items,
    }
    if done.paid_at is not None:
        contract["implementation"] = {
            "transactions": [
                {
                    "id": f"{order.id}-payment",
                    "date": _moment(done.paid_at),
                    "value": _value(order.paid_amount or order.total_amount),
                    "payer": _ref(done.purchaser),
                    "payee": _ref(done.supplier),
                }
            ]
        }
    return {
        "ocid": ocid,
        "id": f"{ocid}-completed",
        "date": _moment(done.completed_at),
        "tag": ["planning", "tender", "award", "contract", "implementation"],
        "initiationType": "tender",
        "language": "zh",
        "parties": [
            _party(done.purchaser, ["buyer", "procuringEntity", "payer"]),
            _party(done.supplier, ["supplier", "tenderer", "payee"]),
        ],
        "buyer": _ref(done.purchaser),
        "planning": {
            "budget": {
                "id": order.budget_code,
                "description": (
                    f"预算项目 {order.budget_code}（{FUNDING.get(order.funding_source, '')}）"
                ),
                "amount": total,
            }
        },
        "tender": {
            "id": str(order.id),
            "title": f"电子卖场直购：{done.purchaser.name}",
            "status": "complete",
            "procuringEntity": _ref(done.purchaser),
            "items": items,
            "value": total,
            "procurementMethod": "direct",
            "procurementMethodDetails": METHOD_DETAILS,
            "mainProcurementCategory": "goods",
            "numberOfTenderers": 1,
            "tenderers": [_ref(done.supplier)],
        },
        "awards": [
            {
                "id": str(order.id),
                "status": "active",
                "date": _moment(signed),
                "value": total,
                "suppliers": [_ref(done.supplier)],
                "items": items,
            }
        ],
        "contracts": [contract],
    }


def release_package(orders: Sequence[CompletedOrder], meta: PackageMeta) -> dict[str, Any]:
    """The package: publishing metadata, the releases, and ``links.next`` when
    there is another page (the OCDS paging convention)."""
    package: dict[str, Any] = {
        "uri": meta.uri,
        "version": VERSION,
        "publishedDate": _moment(meta.published),
        "publisher": {"name": meta.publisher},
        "license": meta.license,
        "publicationPolicy": meta.publication_policy,
        "releases": [release(done, meta.ocid_prefix) for done in orders],
    }
    if meta.next_uri is not None:
        package["links"] = {"next": meta.next_uri}
    return package
