"""failed jobs, and revisions waiting for review found by index

Revision ID: 0014_jobs
Revises: 0014_security
Create Date: 2026-12-01 20:45:00+00:00

A job that fails for good (a non-transient error, its tries used up, or arq
unable to run it) leaves a ``failed_job`` row that operators list. The
worker's cron that asks again for reviews left ``submitted`` reads them by a
partial index.
"""

from __future__ import annotations

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014_jobs"
down_revision: str | None = "0014_security"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "failed_job",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(always=False, start=1, increment=1),
            nullable=False,
        ),
        sa.Column("job_id", sa.String(length=300), nullable=False),
        sa.Column("job_name", sa.String(length=100), nullable=False),
        sa.Column("kwargs", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column(
            "failed_at",
            advanced_alchemy.types.datetime.DateTimeUTC(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_failed_job")),
    )
    op.create_index("ix_failed_job_failed_at", "failed_job", ["failed_at"], unique=False)
    op.create_index("ix_failed_job_job_id", "failed_job", ["job_id"], unique=False)
    op.create_index(
        "ix_listing_revision_submitted",
        "listing_revision",
        ["updated_at"],
        unique=False,
        postgresql_where=sa.text("status = 'submitted'"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_listing_revision_submitted",
        table_name="listing_revision",
        postgresql_where=sa.text("status = 'submitted'"),
    )
    op.drop_index("ix_failed_job_job_id", table_name="failed_job")
    op.drop_index("ix_failed_job_failed_at", table_name="failed_job")
    op.drop_table("failed_job")
