"""flag triggers remember whether their action was set up with approval

A trigger set up where no approval was required is not pre-approved once approval becomes required
(``domain.triggers``). Triggers stored before this revision are not known to have been approved: they
start unapproved, so where approval is required now their firing is refused until an approved request
(or someone with the bypass right) sets their action up again.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 21:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("flag_triggers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("approved", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("flag_triggers", schema=None) as batch_op:
        batch_op.drop_column("approved")
