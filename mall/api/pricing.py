"""Market observations in, baselines recomputed (the price monitor's intake)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
from litestar import Controller, Request, post

from mall import audit
from mall.api.deps import DbSession
from mall.auth.guards import current_principal, requires
from mall.auth.models import OrgKind
from mall.errors import InvalidError
from pricing_monitor import observations

MAX_IMPORT_BYTES = 20 * 1024 * 1024


class ImportOut(msgspec.Struct):
    accepted: int
    new: int
    rejected: int
    errors: list[dict[str, Any]]
    baselines_updated: int


class PricingController(Controller):
    path = "/api/v1/pricing"
    tags = ["pricing"]

    @post(
        "/observations/import",
        guards=[requires(OrgKind.OPERATOR)],
        status_code=200,
        request_max_body_size=MAX_IMPORT_BYTES,
        summary='Import market observations (JSON {"observations": [...]} or CSV); valid rows kept',
    )
    async def import_observations(self, request: Request, db_session: DbSession) -> ImportOut:
        body = await request.body()
        if request.headers.get("content-type", "").startswith("text/csv"):
            try:
                rows = observations.rows_from_csv(body.decode("utf-8"))
            except UnicodeDecodeError:
                raise InvalidError(
                    "The CSV is not UTF-8.",
                    code="pricing.csv_encoding",
                    title="文件须为 UTF-8 编码",
                    errors=[{"field": "file", "message": "not UTF-8"}],
                ) from None
        else:
            try:
                payload = msgspec.json.decode(body, type=dict[str, list[dict[str, Any]]])
                rows = payload["observations"]
            except (msgspec.DecodeError, msgspec.ValidationError, KeyError):
                raise InvalidError(
                    'Send {"observations": [...]} or a CSV file.',
                    code="pricing.import_malformed",
                    title="导入内容格式错误",
                    errors=[{"field": "observations", "message": "a list of objects"}],
                ) from None
        now = dt.datetime.now(dt.UTC)
        valid, errors = observations.validate(
            rows, await observations.load_aliases(db_session), now
        )
        new = await observations.store(db_session, valid)
        identities = {(r["brand_norm"], r["model_norm"]) for r in valid if r["model_norm"]}
        updated = await observations.recompute_baselines(db_session, identities, now)
        await audit.record(
            db_session,
            actor=audit.Actor.of(current_principal(request)),
            action="pricing.observations_imported",
            subject_type="price_observation_import",
            subject_id=now.isoformat(),
            after={
                "accepted": len(valid),
                "new": new,
                "rejected": len({e["row"] for e in errors}),
                "baselines_updated": updated,
            },
        )
        return ImportOut(
            accepted=len(valid),
            new=new,
            rejected=len({e["row"] for e in errors}),
            errors=errors,
            baselines_updated=updated,
        )
