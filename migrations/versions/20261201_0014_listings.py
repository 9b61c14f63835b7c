"""media library, images in bulk imports, listings traced to their import

Revision ID: 0014_listings
Revises: 0014_domain
Create Date: 2026-12-01 20:40:00.000000+00:00

A supplier's media library (``media_image``); an import is the same import
only with the same sheet and the same ZIP of images; a listing remembers the
import and the row that created it.
"""

from __future__ import annotations

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014_listings"
down_revision: str | None = "0014_domain"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "media_image",
        sa.Column("id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("supplier_id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("original_sha256", sa.String(length=64), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("media_type", sa.String(length=16), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("phash", sa.String(length=16), nullable=False),
        sa.Column("border_whiteness", sa.Float(), nullable=False),
        sa.Column("thumbnails", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column(
            "created_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["supplier_id"],
            ["organisation.id"],
            name=op.f("fk_media_image_supplier_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_image")),
        sa.UniqueConstraint("supplier_id", "original_sha256", name="uq_media_image_file"),
    )
    op.add_column(
        "listing_import",
        sa.Column("images_sha256", sa.String(length=64), server_default="", nullable=False),
    )
    op.drop_constraint("uq_listing_import_file", "listing_import", type_="unique")
    op.create_unique_constraint(
        "uq_listing_import_file", "listing_import", ["supplier_id", "file_sha256", "images_sha256"]
    )
    op.add_column(
        "listing",
        sa.Column("import_id", advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    )
    op.add_column("listing", sa.Column("import_row", sa.Integer(), nullable=True))
    op.create_foreign_key(
        op.f("fk_listing_import_id_listing_import"),
        "listing",
        "listing_import",
        ["import_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_index(op.f("ix_listing_import_id"), "listing", ["import_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_listing_import_id"), table_name="listing")
    op.drop_constraint(op.f("fk_listing_import_id_listing_import"), "listing", type_="foreignkey")
    op.drop_column("listing", "import_row")
    op.drop_column("listing", "import_id")
    op.drop_constraint("uq_listing_import_file", "listing_import", type_="unique")
    op.create_unique_constraint(
        "uq_listing_import_file", "listing_import", ["supplier_id", "file_sha256"]
    )
    op.drop_column("listing_import", "images_sha256")
    op.drop_table("media_image")
