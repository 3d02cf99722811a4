"""approval requests by project and resource

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 04:43:08.837784
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:

    with op.batch_alter_table("approval_requests", schema=None) as batch_op:
        batch_op.create_index(
            "ix_approval_requests_project_resource",
            ["project_id", "resource_kind", "resource_key", "status"],
            unique=False,
        )


def downgrade() -> None:

    with op.batch_alter_table("approval_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_approval_requests_project_resource")
