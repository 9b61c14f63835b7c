"""Demo data for `make run` and `mall seed-demo`; running it twice changes nothing."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from uuid_utils import uuid7

from catalog import images as image_tools
from catalog.categories import seed_demo_categories
from catalog.demo_catalogue import DEMO_PRODUCTS, DemoProduct, certificate_no, product_image
from catalog.models import Category, Listing, ListingImage, ListingRevision
from catalog.search import sync
from mall import audit
from mall.auth.accounts import create_user
from mall.auth.models import Organisation, OrgKind, User
from mall.search import service as search
from mall.settings import get_settings
from mall.storage import FileStore
from review_rules.text import normalise, normalise_model


@dataclass(frozen=True)
class DemoAccount:
    kind: OrgKind
    org: str
    email: str
    password: str
    business_type: str | None = None
    region_code: str | None = None


DEMO_ACCOUNTS = (
    DemoAccount(
        OrgKind.OPERATOR, "包头市公共资源交易中心", "operator@emall.example.com", "Operator#2026"
    ),
    DemoAccount(OrgKind.REGULATOR, "包头市财政局", "regulator@emall.example.com", "Regulator#2026"),
    DemoAccount(OrgKind.PURCHASER, "包头市第九中学", "buyer@emall.example.com", "Buyer#2026"),
    DemoAccount(
        OrgKind.SUPPLIER,
        "内蒙古诚信办公设备有限公司",
        "supplier@emall.example.com",
        "Supplier#2026",
        business_type="enterprise",
        region_code="150203",
    ),
    DemoAccount(
        OrgKind.SUPPLIER,
        "包头市昆区鑫达电脑经营部",
        "supplier2@emall.example.com",
        "Supplier#2026",
        business_type="individual_business",
        region_code="150203",
    ),
)


async def seed_demo(session: AsyncSession) -> list[str]:
    """Create the demo accounts, categories and catalogue that are missing;
    returns the e-mails of the accounts created."""
    created = []
    for account in DEMO_ACCOUNTS:
        exists = await session.scalar(select(User.id).where(User.email == account.email))
        if exists is None:
            user = await create_user(
                session,
                kind=account.kind,
                org_name=account.org,
                email=account.email,
                password=account.password,
            )
            if account.business_type:
                org = await session.get_one(Organisation, user.org_id)
                org.business_type = account.business_type
                org.region_code = account.region_code
                prefix = get_settings().mall.region_prefix
                org.in_region = bool(account.region_code and account.region_code.startswith(prefix))
            created.append(account.email)
    await seed_demo_categories(session)
    await seed_demo_listings(session)
    return created


async def seed_demo_listings(session: AsyncSession) -> int:
    """Put the demo catalogue on sale, shared between the two demo suppliers.

    The listings are entered as approved, as an operator's migration of an
    existing catalogue would be; one audit event records it. Their search
    documents are built at once. Each obeys the mall's rules as a supplier's
    listing must: a product photo on white, and the energy-saving certificate
    number where its category requires one.
    """
    emails = [a.email for a in DEMO_ACCOUNTS if a.kind is OrgKind.SUPPLIER]
    found = dict(
        (await session.execute(select(User.email, User.org_id).where(User.email.in_(emails)))).all()
    )
    suppliers = [found[e] for e in emails if e in found]  # in the accounts' order
    if not suppliers:
        return 0
    existing = set(
        (
            await session.execute(
                select(ListingRevision.supplier_id, ListingRevision.model_norm).where(
                    ListingRevision.supplier_id.in_(suppliers)
                )
            )
        ).all()
    )
    now = dt.datetime.now(dt.UTC)
    store = FileStore(get_settings().mall.files_dir)
    needs_certificate = dict(
        (await session.execute(select(Category.code, Category.energy_cert_mandatory))).all()
    )
    added = 0
    for n, product in enumerate(DEMO_PRODUCTS):
        supplier = suppliers[n % len(suppliers)]
        if (supplier, normalise_model(product.model)) in existing:
            continue
        listing_id = uuid.UUID(str(uuid7()))
        revision_id = uuid.UUID(str(uuid7()))
        session.add(
            Listing(
                id=listing_id,
                supplier_id=supplier,
                category_code=product.category,
                status="approved",
                live_revision_id=revision_id,
                current_revision_id=revision_id,
            )
        )
        await session.flush()
        session.add(
            ListingRevision(
                id=revision_id,
                listing_id=listing_id,
                supplier_id=supplier,
                number=1,
                status="approved",
                category_code=product.category,
                brand=product.brand,
                brand_norm=normalise(product.brand).strip(),
                model=product.model,
                model_norm=normalise_model(product.model),
                title=product.title,
                attributes=product.attributes,
                price=product.amount,
                unit=product.unit,
                stock=100,
                warranty_months=12,
                after_sales="全国联保，7×24小时服务热线",
                energy_cert_no=certificate_no(product)
                if needs_certificate.get(product.category)
                else product.energy_cert_no,
                submitted_at=now,
                decided_at=now,
            )
        )
        session.add(_demo_image(store, product, listing_id, supplier))
        added += 1
    if added:
        await session.execute(
            update(Organisation).where(Organisation.id.in_(suppliers)).values(all_categories=True)
        )
        await session.flush()
        await audit.record(
            session,
            actor=audit.SYSTEM,
            action="listing.demo_seeded",
            subject_type="catalogue",
            subject_id="demo",
            after={"listings": added},
        )
        while await sync.sync_dirty(session, search.backends(session, get_settings()), 1000):
            pass
    return added


def _demo_image(
    store: FileStore, product: DemoProduct, listing_id: uuid.UUID, supplier_id: uuid.UUID
) -> ListingImage:
    """The product's photo, stored and measured as the image job would."""
    content = product_image(product)
    processed = image_tools.process(content)
    return ListingImage(
        listing_id=listing_id,
        supplier_id=supplier_id,
        position=0,
        status="ready",
        original_sha256=store.put(content),
        sha256=store.put(processed.content),
        media_type=processed.media_type,
        width=processed.width,
        height=processed.height,
        phash=processed.phash,
        border_whiteness=processed.border_whiteness,
        thumbnails={str(size): store.put(data) for size, data in processed.thumbnails.items()},
    )
