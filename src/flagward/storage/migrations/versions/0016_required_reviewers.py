"""approval requests: how many required reviewer teams still lack their minimum (the inbox's review
status filter runs in the store)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 18:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Requests stored before required reviewer teams existed require none: 0 is their true value.
    with op.batch_alter_table("approval_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("teams_unmet", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("approval_requests", schema=None) as batch_op:
        batch_op.drop_column("teams_unmet")
