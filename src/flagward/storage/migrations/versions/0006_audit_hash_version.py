"""audit hash version

Every audit entry records the formula of its hash. Entries written before this revision hashed their
JSON document only and keep those hashes (version 1, checked against their other columns by
``flagward audit verify``); entries appended from now on hash every stored column (version 2). The log
is not re-hashed: that would bless whatever was altered before the upgrade.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hash_version", sa.SmallInteger(), server_default="1", nullable=False))


def downgrade() -> None:
    # Code from before this revision reports every entry appended since as altered.
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_column("hash_version")
