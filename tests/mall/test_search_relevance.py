"""The judged queries (tests/search_judgements.py) over the demo catalogue.

Other tests add listings to the same database, so each result list is
condensed to the demo catalogue's listings (judged ones) before scoring:
the standard way to score a judged set inside a larger collection.
"""

from __future__ import annotations

from statistics import mean

from search_judgements import JUDGEMENTS, ndcg_at_10, recall_at_10
from sqlalchemy import select

from catalog.demo_catalogue import DEMO_PRODUCTS
from catalog.models import ListingRevision
from mall.auth.models import OrgKind, User
from mall.search import service
from mall.seed import DEMO_ACCOUNTS, seed_demo
from review_rules.text import normalise_model

SEARCH = "/api/v1/catalog/search"


async def demo_keys(session_maker) -> dict[str, str]:
    """listing id → demo product key."""
    by_model = {normalise_model(p.model): p.key for p in DEMO_PRODUCTS}
    emails = [a.email for a in DEMO_ACCOUNTS if a.kind is OrgKind.SUPPLIER]
    async with session_maker() as session:
        rows = await session.execute(
            select(ListingRevision.listing_id, ListingRevision.model_norm)
            .join(User, User.org_id == ListingRevision.supplier_id)
            .where(User.email.in_(emails))
        )
        return {str(listing): by_model[model] for listing, model in rows if model in by_model}


async def test_the_judged_queries_score_well(client, signed_in, session_maker, settings) -> None:
    async with session_maker() as session, session.begin():
        await seed_demo(session)
    await service.sync_all(session_maker, settings)
    keys = await demo_keys(session_maker)
    assert len(set(keys.values())) == len(DEMO_PRODUCTS)
    scores: dict[str, tuple[float, float]] = {}
    for query, judged in JUDGEMENTS.items():
        response = await client.get(
            SEARCH, params={"q": query, "page_size": 100}, headers=signed_in[OrgKind.PURCHASER]
        )
        assert response.status_code == 200, (query, response.text)
        ranked = [keys[h["listing_id"]] for h in response.json()["hits"] if h["listing_id"] in keys]
        scores[query] = (ndcg_at_10(ranked, judged), recall_at_10(ranked, judged))
    ndcg = mean(s[0] for s in scores.values())
    recall = mean(s[1] for s in scores.values())
    weak = {q: s for q, s in scores.items() if s[0] < 0.5}
    for query, (q_ndcg, q_recall) in scores.items():
        if q_ndcg < 0.95:
            print(f"  {query!r}: nDCG@10 {q_ndcg:.3f}, recall@10 {q_recall:.3f}")
    print(
        f"\nrelevance over {len(scores)} queries: nDCG@10 {ndcg:.3f}, recall@10 {recall:.3f}; weak: {weak}"
    )
    assert len(JUDGEMENTS) >= 40
    assert ndcg >= 0.95 and recall >= 0.9, weak
    assert not weak, weak
