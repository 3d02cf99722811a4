"""approval requests decided in external approval services: when flagward last checked their status

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The integrationMetadata itself (externalId, externalUrl, externalStatus) and the request's
    # serviceKind live in the request's JSON document; lastChecked is a column so that the poller finds
    # the open requests whose status is due for a check.
    with op.batch_alter_table("approval_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("integration_checked_at", sa.BigInteger(), nullable=True))
        batch_op.create_index(
            "ix_approval_requests_integration_checked", ["status", "integration_checked_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("approval_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_approval_requests_integration_checked")
        batch_op.drop_column("integration_checked_at")
