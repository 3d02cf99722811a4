"""flag triggers: secret URLs that turn a flag on or off in one environment

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 18:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "flag_triggers",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("flag_id", sa.String(length=24), nullable=False),
        sa.Column("environment_id", sa.String(length=24), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("url_tail", sa.String(length=8), nullable=False),
        sa.Column("integration_key", sa.String(length=256), nullable=False),
        sa.Column("instructions", _JSON, nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("maintainer_id", sa.String(length=24), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("creation_date", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("trigger_count", sa.Integer(), nullable=False),
        sa.Column("last_triggered_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["environment_id"], ["environments.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["flag_id"], ["flags.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("secret_hash"),
    )
    with op.batch_alter_table("flag_triggers", schema=None) as batch_op:
        batch_op.create_index("ix_flag_triggers_flag_env", ["flag_id", "environment_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("flag_triggers", schema=None) as batch_op:
        batch_op.drop_index("ix_flag_triggers_flag_env")
    op.drop_table("flag_triggers")
