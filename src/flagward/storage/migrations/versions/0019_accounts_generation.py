"""the accounts generation: a value every change to who may do what replaces

Every transaction that writes members, teams, their memberships and maintainers, tokens or custom roles
also writes a new value into ``meta.accounts_generation`` (``storage.accounts_generation``). A process may
then keep the actor it authenticated a token as, and serve it again for as long as the generation it
read first is still the current one: one small read instead of five, and never a revoked token or a
withdrawn role served from memory.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 01:00:00.000000
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_META = sa.table("meta", sa.column("key", sa.String), sa.column("value", sa.Text))


def upgrade() -> None:
    op.execute(sa.insert(_META).values(key="accounts_generation", value=secrets.token_hex(12)))


def downgrade() -> None:
    op.execute(sa.delete(_META).where(_META.c.key == "accounts_generation"))
