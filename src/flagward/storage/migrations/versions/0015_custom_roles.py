"""custom roles, and their assignments to members, teams and tokens; team maintainers

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-12 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "custom_roles",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("key", sa.String(length=256), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("policy", _JSON, nullable=False),
        sa.Column("base_permissions", sa.String(length=16), nullable=True),
        sa.Column("creation_date", sa.BigInteger(), nullable=False),
        sa.Column("last_modified", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    for table, owner, owner_table, other, other_table in (
        ("member_custom_roles", "member_id", "members", "role_id", "custom_roles"),
        ("team_custom_roles", "team_id", "teams", "role_id", "custom_roles"),
        ("team_maintainers", "team_id", "teams", "member_id", "members"),
    ):
        op.create_table(
            table,
            sa.Column(owner, sa.String(length=24), nullable=False),
            sa.Column(other, sa.String(length=24), nullable=False),
            sa.ForeignKeyConstraint([owner], [f"{owner_table}.id"], ondelete="CASCADE"),
            sa.ForeignKeyConstraint([other], [f"{other_table}.id"], ondelete="CASCADE"),
            sa.PrimaryKeyConstraint(owner, other),
        )
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(batch_op.f(f"ix_{table}_{other}"), [other], unique=False)
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        # Existing tokens use their base role: no custom roles, no inline role.
        batch_op.add_column(sa.Column("custom_role_ids", _JSON, nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("inline_role", _JSON, nullable=True))
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.alter_column("custom_role_ids", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.drop_column("inline_role")
        batch_op.drop_column("custom_role_ids")
    for table, other in (
        ("team_maintainers", "member_id"),
        ("team_custom_roles", "role_id"),
        ("member_custom_roles", "role_id"),
    ):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{table}_{other}"))
        op.drop_table(table)
    op.drop_table("custom_roles")
