"""the audit chain's head row carries its last entry's id and date

Appending an entry chains it to the previous one's hash, id and date. The head row held only the hash;
the id and date were read back from the log, and the id was kept a second time in ``meta`` (for
``verify`` to name a removed tail). The head row now holds both, so an append reads one row it locks
anyway and writes one, instead of three reads and writes more, while every writer queues on that lock.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02 01:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

_HEAD_ID = "audit_head_id"
_head = sa.table(
    "audit_head",
    sa.column("id", sa.Integer),
    sa.column("seq", sa.BigInteger),
    sa.column("last_id", sa.String),
    sa.column("last_date", sa.BigInteger),
)
_log = sa.table(
    "audit_log", sa.column("seq", sa.BigInteger), sa.column("id", sa.String), sa.column("date", sa.BigInteger)
)
_meta = sa.table("meta", sa.column("key", sa.String), sa.column("value", sa.Text))


def upgrade() -> None:
    with op.batch_alter_table("audit_head", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("last_date", sa.BigInteger(), nullable=True))
    at_head = _log.c.seq == _head.c.seq
    recorded_id = sa.select(_meta.c.value).where(_meta.c.key == _HEAD_ID).scalar_subquery()
    # The id as the log has it, or as meta recorded it when the log's last entry is gone (verify names it).
    last_id = sa.func.coalesce(sa.select(_log.c.id).where(at_head).scalar_subquery(), recorded_id)
    last_date = sa.select(_log.c.date).where(at_head).scalar_subquery()
    op.execute(sa.update(_head).values(last_id=last_id, last_date=last_date))
    op.execute(sa.delete(_meta).where(_meta.c.key == _HEAD_ID))


def downgrade() -> None:
    op.execute(
        sa.insert(_meta).from_select(
            ["key", "value"],
            sa.select(sa.literal(_HEAD_ID), _head.c.last_id).where(_head.c.last_id.is_not(None)),
        )
    )
    with op.batch_alter_table("audit_head", schema=None) as batch_op:
        batch_op.drop_column("last_date")
        batch_op.drop_column("last_id")
