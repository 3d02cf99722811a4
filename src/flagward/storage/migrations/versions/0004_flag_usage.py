"""flag usage

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 02:55:21.228209
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "flag_evaluation_counts",
        sa.Column("environment_id", sa.String(length=24), nullable=False),
        sa.Column("flag_key", sa.String(length=256), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("variation", sa.Integer(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["environment_id"], ["environments.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("environment_id", "flag_key", "day", "variation"),
    )
    with op.batch_alter_table("flag_evaluation_counts", schema=None) as batch_op:
        batch_op.create_index("ix_flag_evaluation_counts_day", ["day"], unique=False)

    op.create_table(
        "flag_usage",
        sa.Column("environment_id", sa.String(length=24), nullable=False),
        sa.Column("flag_key", sa.String(length=256), nullable=False),
        sa.Column("last_requested", sa.BigInteger(), nullable=False),
        sa.Column(
            "default", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True
        ),
        sa.ForeignKeyConstraint(["environment_id"], ["environments.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("environment_id", "flag_key"),
    )


def downgrade() -> None:

    op.drop_table("flag_usage")
    with op.batch_alter_table("flag_evaluation_counts", schema=None) as batch_op:
        batch_op.drop_index("ix_flag_evaluation_counts_day")

    op.drop_table("flag_evaluation_counts")
