"""approval requests

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 02:35:11.582461
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "approval_requests",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("project_id", sa.String(length=24), nullable=False),
        sa.Column("environment_id", sa.String(length=24), nullable=False),
        sa.Column("resource_kind", sa.String(length=16), nullable=False),
        sa.Column("resource_key", sa.String(length=256), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requestor_id", sa.String(length=24), nullable=True),
        sa.Column("notify", sa.Text(), nullable=False),
        sa.Column("creation_date", sa.BigInteger(), nullable=False),
        sa.Column("execution_date", sa.BigInteger(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "doc",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["environment_id"], ["environments.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("approval_requests", schema=None) as batch_op:
        batch_op.create_index("ix_approval_requests_created", ["creation_date"], unique=False)
        batch_op.create_index("ix_approval_requests_due", ["status", "execution_date"], unique=False)
        batch_op.create_index(
            "ix_approval_requests_resource",
            ["environment_id", "resource_kind", "resource_key", "status"],
            unique=False,
        )


def downgrade() -> None:

    with op.batch_alter_table("approval_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_approval_requests_resource")
        batch_op.drop_index("ix_approval_requests_due")
        batch_op.drop_index("ix_approval_requests_created")

    op.drop_table("approval_requests")
