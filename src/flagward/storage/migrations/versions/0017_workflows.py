"""workflows and workflow templates

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-12 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "workflows",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("project_id", sa.String(length=24), nullable=False),
        sa.Column("environment_id", sa.String(length=24), nullable=False),
        sa.Column("flag_key", sa.String(length=256), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("wake_at", sa.BigInteger(), nullable=True),
        sa.Column("creation_date", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("doc", _JSON, nullable=False),
        sa.ForeignKeyConstraint(["environment_id"], ["environments.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("workflows", schema=None) as batch_op:
        batch_op.create_index("ix_workflows_flag", ["environment_id", "flag_key", "creation_date"], unique=False)
        batch_op.create_index("ix_workflows_due", ["status", "wake_at"], unique=False)
    op.create_table(
        "workflow_templates",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("key", sa.String(length=256), nullable=False),
        sa.Column("creation_date", sa.BigInteger(), nullable=False),
        sa.Column("doc", _JSON, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("workflow_templates")
    with op.batch_alter_table("workflows", schema=None) as batch_op:
        batch_op.drop_index("ix_workflows_due")
        batch_op.drop_index("ix_workflows_flag")
    op.drop_table("workflows")
