"""approval requests: current verdicts as columns (the console's inbox filters in the store)

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-01 16:00:00.000000
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("approval_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reviewed_by", sa.Text(), nullable=False, server_default="\n"))
        batch_op.add_column(sa.Column("approval_count", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("decline_count", sa.Integer(), nullable=False, server_default="0"))
        batch_op.create_index("ix_approval_requests_status_created", ["status", "creation_date", "id"], unique=False)
    _backfill()


def _backfill() -> None:
    """Each stored request's verdicts from its reviews (as ``ApprovalRequest.current_verdicts`` does:
    a reviewer's latest approve or decline counts, comments do not)."""
    bind = op.get_bind()
    table = sa.table(
        "approval_requests",
        sa.column("id", sa.String()),
        sa.column("doc", sa.JSON()),
        sa.column("reviewed_by", sa.Text()),
        sa.column("approval_count", sa.Integer()),
        sa.column("decline_count", sa.Integer()),
    )
    for request_id, raw in bind.execute(sa.select(table.c.id, table.c.doc)).all():
        doc: Any = json.loads(raw) if isinstance(raw, str) else raw
        verdicts: dict[str, str] = {}
        for review in (doc or {}).get("reviews") or []:
            if review.get("kind") in ("approve", "decline"):
                reviewer = review.get("member_id") or f"token:{review.get('service_token_id')}"
                verdicts[reviewer] = review["kind"]
        if not verdicts:
            continue
        bind.execute(
            table.update()
            .where(table.c.id == request_id)
            .values(
                reviewed_by="\n" + "".join(f"{r}\n" for r in verdicts),
                approval_count=sum(1 for k in verdicts.values() if k == "approve"),
                decline_count=sum(1 for k in verdicts.values() if k == "decline"),
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("approval_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_approval_requests_status_created")
        batch_op.drop_column("decline_count")
        batch_op.drop_column("approval_count")
        batch_op.drop_column("reviewed_by")
