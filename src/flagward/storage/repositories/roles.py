"""Custom roles, and who holds them. Assignments live in ``member_custom_roles`` and
``team_custom_roles`` (written by the member and team repositories); tokens keep role ids in their row."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from flagward.domain.roles import CustomRole, RoleHolders
from flagward.services.ports import Page
from flagward.storage.mappers import role_from_record, role_to_record
from flagward.storage.records import CustomRoleRecord, MemberCustomRoleRecord, TeamCustomRoleRecord, TeamRecord
from flagward.storage.repositories._common import count, paginate


class SqlCustomRoleRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, key_or_id: str, *, for_update: bool = False) -> CustomRole | None:
        """By key first (keys and ids are both accepted, as LaunchDarkly does), then by id."""
        for column in (CustomRoleRecord.key, CustomRoleRecord.id):
            statement = select(CustomRoleRecord).where(column == key_or_id)
            if for_update:
                statement = statement.with_for_update()
            record = self._session.scalar(statement)
            if record is not None:
                return role_from_record(record)
        return None

    def resolve(self, keys_or_ids: Collection[str]) -> dict[str, CustomRole]:
        """Each of ``keys_or_ids`` that names a role (by key or id), to that role."""
        names = set(keys_or_ids)
        if not names:
            return {}
        records = self._session.scalars(
            select(CustomRoleRecord).where(or_(CustomRoleRecord.key.in_(names), CustomRoleRecord.id.in_(names)))
        )
        found: dict[str, CustomRole] = {}
        for record in records:
            role = role_from_record(record)
            for name in (role.key, role.id):
                if name in names:
                    found[name] = role
        return found

    def find(self, page: Page) -> tuple[list[CustomRole], int]:
        statement = select(CustomRoleRecord)
        total = count(self._session, statement)
        records = self._session.scalars(paginate(statement.order_by(CustomRoleRecord.key), page))
        return [role_from_record(r) for r in records], total

    def holders(self, role_id: str) -> RoleHolders:
        member_ids = self._session.scalars(
            select(MemberCustomRoleRecord.member_id)
            .where(MemberCustomRoleRecord.role_id == role_id)
            .order_by(MemberCustomRoleRecord.member_id)
        )
        team_keys = self._session.scalars(
            select(TeamRecord.key)
            .join(TeamCustomRoleRecord, TeamCustomRoleRecord.team_id == TeamRecord.id)
            .where(TeamCustomRoleRecord.role_id == role_id)
            .order_by(TeamRecord.key)
        )
        return RoleHolders(member_ids=tuple(member_ids), team_keys=tuple(team_keys))

    def add(self, role: CustomRole) -> None:
        self._session.add(role_to_record(role))

    def update(self, role: CustomRole) -> None:
        record = self._session.get(CustomRoleRecord, role.id)
        assert record is not None, "update() of a role that was not loaded"
        role_to_record(role, record)

    def delete(self, role: CustomRole) -> None:
        """The role and its assignments to members and teams (tokens keep its id: see services.roles)."""
        self._session.execute(delete(MemberCustomRoleRecord).where(MemberCustomRoleRecord.role_id == role.id))
        self._session.execute(delete(TeamCustomRoleRecord).where(TeamCustomRoleRecord.role_id == role.id))
        record = self._session.get(CustomRoleRecord, role.id)
        if record is not None:
            self._session.delete(record)
