"""scheduled changes and expiring targets

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-12 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "scheduled_changes",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("environment_id", sa.String(length=24), nullable=False),
        sa.Column("flag_key", sa.String(length=256), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("execution_date", sa.BigInteger(), nullable=False),
        sa.Column("creation_date", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("doc", _JSON, nullable=False),
        sa.ForeignKeyConstraint(["environment_id"], ["environments.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("scheduled_changes", schema=None) as batch_op:
        batch_op.create_index("ix_scheduled_changes_flag", ["environment_id", "flag_key"], unique=False)
        batch_op.create_index("ix_scheduled_changes_due", ["status", "execution_date"], unique=False)
    op.create_table(
        "expiring_targets",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("environment_id", sa.String(length=24), nullable=False),
        sa.Column("resource_kind", sa.String(length=16), nullable=False),
        sa.Column("resource_key", sa.String(length=256), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("expiration_date", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("doc", _JSON, nullable=False),
        sa.ForeignKeyConstraint(["environment_id"], ["environments.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("expiring_targets", schema=None) as batch_op:
        batch_op.create_index(
            "ix_expiring_targets_resource", ["environment_id", "resource_kind", "resource_key"], unique=False
        )
        batch_op.create_index("ix_expiring_targets_due", ["status", "expiration_date"], unique=False)


def downgrade() -> None:
    op.drop_table("expiring_targets")
    op.drop_table("scheduled_changes")
