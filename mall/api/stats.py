"""Statistics for regulators and operators."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, get
from litestar.params import QueryParameter

from mall.api.deps import DbSession
from mall.api.params import parse_datetime
from mall.auth.guards import operators_and_regulators
from mall.calendar.service import load_calendar
from mall.sla.stats import sla_stats
from mall.suppliers.stats import supplier_stats


class SlaKindStatsOut(msgspec.Struct):
    kind: str
    started: int
    met_on_time: int
    met_late: int
    open: int
    open_breached: int
    on_time_rate: float | None
    median_hours_to_meet: float | None
    p90_hours_to_meet: float | None


class SupplierStatsOut(msgspec.Struct):
    """Active suppliers (the shares and categories count these) and all registered ones."""

    active: int
    active_in_region: int
    active_in_region_share: float
    active_individual_business: int
    active_individual_business_share: float
    active_by_category: dict[str, int]
    registered: int
    registered_by_status: dict[str, int]


class StatsController(Controller):
    path = "/api/v1/stats"
    tags = ["statistics"]
    guards = [operators_and_regulators]

    @get("/sla", summary="Deadlines kept, per kind (clocks started in [from, to))")
    async def sla(
        self,
        db_session: DbSession,
        kind: Annotated[str | None, QueryParameter()] = None,
        from_: Annotated[str | None, QueryParameter(name="from", description="ISO 8601")] = None,
        to: Annotated[str | None, QueryParameter(description="ISO 8601, excluded")] = None,
    ) -> list[SlaKindStatsOut]:
        """For each kind of deadline, the clocks started in [from, to): kept, late, open, breached,
        and the median and p90 working hours used.
        """
        stats = await sla_stats(
            db_session,
            await load_calendar(db_session),
            kind=kind,
            started_from=parse_datetime(from_, "from"),
            started_to=parse_datetime(to, "to"),
        )
        return [
            SlaKindStatsOut(**{f: getattr(s, f) for f in SlaKindStatsOut.__struct_fields__})
            for s in stats
        ]

    @get(
        "/suppliers",
        summary="Active suppliers (in the region, individual businesses, by category); "
        "registered suppliers by status",
        description="`active` counts suppliers whose status is `active`; the `active_*` shares "
        "and categories are of these (a supplier counts in each of its categories, `*` for "
        "all categories). `registered` counts every supplier organisation, applicants "
        "included, and `registered_by_status` sums to it.",
    )
    async def suppliers(self, db_session: DbSession) -> SupplierStatsOut:
        """Supplier counts by status, in and outside the region, individual businesses, and by
        category.
        """
        stats = await supplier_stats(db_session)
        return SupplierStatsOut(
            **{f: getattr(stats, f) for f in SupplierStatsOut.__struct_fields__}
        )
