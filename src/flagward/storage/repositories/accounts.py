"""Members, teams, access tokens, sign-in sessions and invitations (one-time password links)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, delete, func, or_, select
from sqlalchemy.orm import Session

from flagward.domain.accounts import AccessToken, Member, MemberContact, Role, Team
from flagward.services.ports import MemberQuery, Page
from flagward.storage.mappers import (
    member_from_record,
    member_to_record,
    team_from_record,
    team_to_record,
    token_from_record,
    token_to_record,
)
from flagward.storage.records import (
    CustomRoleRecord,
    InvitationRecord,
    MemberCustomRoleRecord,
    MemberRecord,
    SessionRecord,
    TeamCustomRoleRecord,
    TeamMaintainerRecord,
    TeamMemberRecord,
    TeamRecord,
    TokenRecord,
)
from flagward.storage.repositories._common import advisory_lock, contains_ci, count, paginate

# Statements of the hot paths, built once (building one per call costs more than executing it).
_CONTACTS = select(
    MemberRecord.id,
    MemberRecord.email,
    MemberRecord.first_name,
    MemberRecord.last_name,
    MemberRecord.email_notifications,
).where(MemberRecord.id.in_(bindparam("member_ids", expanding=True)))
_TOKEN_BY_HASH = select(TokenRecord).where(TokenRecord.token_hash == bindparam("token_hash"))


class SqlMemberRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def _teams(self, member_ids: list[str]) -> dict[str, dict[str, str]]:
        """Each member's teams, key -> name, in key order."""
        result: dict[str, dict[str, str]] = {member_id: {} for member_id in member_ids}
        if member_ids:
            rows = self._session.execute(
                select(TeamMemberRecord.member_id, TeamRecord.key, TeamRecord.name)
                .join(TeamRecord, TeamRecord.id == TeamMemberRecord.team_id)
                .where(TeamMemberRecord.member_id.in_(member_ids))
                .order_by(TeamRecord.key)
            )
            for member_id, team_key, team_name in rows:
                result[member_id][team_key] = team_name
        return result

    def _hydrate(self, records: list[MemberRecord]) -> list[Member]:
        teams = self._teams([r.id for r in records])
        roles = _member_role_ids(self._session, [r.id for r in records])
        maintained = _maintained_team_keys(self._session, [r.id for r in records])
        team_roles = _team_role_keys(self._session, sorted({k for t in teams.values() for k in t}))
        members = []
        for r in records:
            member = member_from_record(r, list(teams[r.id]), teams[r.id])
            member.custom_role_ids = roles.get(r.id, [])
            member.team_role_keys = {k: team_roles.get(k, []) for k in member.team_keys}
            member.maintained_team_keys = maintained.get(r.id, [])
            members.append(member)
        return members

    def get(self, member_id: str) -> Member | None:
        record = self._session.get(MemberRecord, member_id)
        return self._hydrate([record])[0] if record else None

    def contacts(self, member_ids: Sequence[str]) -> dict[str, MemberContact]:
        if not member_ids:
            return {}
        rows = self._session.execute(_CONTACTS, {"member_ids": list(member_ids)})
        return {
            r.id: MemberContact(r.id, r.email, r.first_name, r.last_name, bool(r.email_notifications)) for r in rows
        }

    def get_by_email(self, email: str) -> Member | None:
        record = self._session.scalar(
            select(MemberRecord).where(func.lower(MemberRecord.email) == email.strip().lower())
        )
        return self._hydrate([record])[0] if record else None

    def find(self, query: MemberQuery) -> tuple[list[Member], int]:
        statement = select(MemberRecord)
        if query.roles:
            statement = statement.where(MemberRecord.role.in_(query.roles))
        if query.query:
            statement = statement.where(
                or_(
                    contains_ci(MemberRecord.email, query.query),
                    contains_ci(func.coalesce(MemberRecord.first_name, ""), query.query),
                    contains_ci(func.coalesce(MemberRecord.last_name, ""), query.query),
                )
            )
        in_teams = select(TeamMemberRecord.member_id).join(TeamRecord, TeamRecord.id == TeamMemberRecord.team_id)
        if query.team_key:
            statement = statement.where(
                MemberRecord.id.in_(in_teams.where(func.lower(TeamRecord.key) == query.team_key.lower()))
            )
        if query.no_team:
            statement = statement.where(MemberRecord.id.not_in(in_teams))
        total = count(self._session, statement)
        records = list(
            self._session.scalars(paginate(statement.order_by(MemberRecord.creation_date, MemberRecord.id), query.page))
        )
        return self._hydrate(records), total

    def lock_owners(self) -> None:
        # An advisory lock, not FOR UPDATE on the owners' rows: the set may be empty (the first start),
        # and a row lock would not stop a concurrent transaction from adding to it.
        advisory_lock(self._session, "flagward:account-owners")

    def count_owners(self) -> int:
        return int(self._session.scalar(select(func.count()).where(MemberRecord.role == Role.OWNER.value)) or 0)

    def add(self, member: Member) -> None:
        self._session.add(member_to_record(member))
        self._session.flush()  # team membership rows added next reference this row
        _set_links(self._session, MemberCustomRoleRecord, "member_id", member.id, "role_id", member.custom_role_ids)

    def update(self, member: Member) -> None:
        record = self._session.get(MemberRecord, member.id)
        assert record is not None, "update() of a member that was not loaded"
        member_to_record(member, record)
        _set_links(self._session, MemberCustomRoleRecord, "member_id", member.id, "role_id", member.custom_role_ids)

    def delete(self, member: Member) -> None:
        self._session.execute(delete(TeamMemberRecord).where(TeamMemberRecord.member_id == member.id))
        self._session.execute(delete(MemberCustomRoleRecord).where(MemberCustomRoleRecord.member_id == member.id))
        self._session.execute(delete(TeamMaintainerRecord).where(TeamMaintainerRecord.member_id == member.id))
        record = self._session.get(MemberRecord, member.id)
        if record is not None:
            self._session.delete(record)


class SqlTeamRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def _member_ids(self, team_id: str) -> list[str]:
        return list(
            self._session.scalars(
                select(TeamMemberRecord.member_id)
                .where(TeamMemberRecord.team_id == team_id)
                .order_by(TeamMemberRecord.member_id)
            )
        )

    def get(self, key: str, *, for_update: bool = False) -> Team | None:
        statement = select(TeamRecord).where(TeamRecord.key == key)
        if for_update:
            # FOR NO KEY UPDATE: membership rows added meanwhile only take KEY SHARE on the team.
            statement = statement.with_for_update(key_share=True)
        record = self._session.scalar(statement)
        return self._team(record) if record else None

    def _team(self, record: TeamRecord) -> Team:
        team = team_from_record(record, self._member_ids(record.id))
        team.custom_role_keys = _team_role_keys(self._session, [record.key]).get(record.key, [])
        team.maintainer_ids = list(
            self._session.scalars(
                select(TeamMaintainerRecord.member_id)
                .where(TeamMaintainerRecord.team_id == record.id)
                .order_by(TeamMaintainerRecord.member_id)
            )
        )
        return team

    def find(self, query: str | None, page: Page) -> tuple[list[Team], int]:
        statement = select(TeamRecord)
        if query:
            statement = statement.where(or_(contains_ci(TeamRecord.name, query), contains_ci(TeamRecord.key, query)))
        total = count(self._session, statement)
        records = self._session.scalars(paginate(statement.order_by(TeamRecord.key), page))
        return [self._team(r) for r in records], total

    def add(self, team: Team) -> None:
        self._session.add(team_to_record(team))
        self._session.flush()  # the team row must exist before its membership rows reference it
        self._set_members(team)
        self._set_roles_and_maintainers(team)

    def update(self, team: Team) -> None:
        record = self._session.get(TeamRecord, team.id)
        assert record is not None, "update() of a team that was not loaded"
        team_to_record(team, record)
        self._set_members(team)
        self._set_roles_and_maintainers(team)

    def _set_roles_and_maintainers(self, team: Team) -> None:
        """Roles are given by key (the service checked they exist); rows hold role ids."""
        role_ids = list(
            self._session.scalars(select(CustomRoleRecord.id).where(CustomRoleRecord.key.in_(team.custom_role_keys)))
        )
        _set_links(self._session, TeamCustomRoleRecord, "team_id", team.id, "role_id", role_ids)
        _set_links(self._session, TeamMaintainerRecord, "team_id", team.id, "member_id", team.maintainer_ids)

    def _set_members(self, team: Team) -> None:
        current = set(self._member_ids(team.id))
        wanted = set(team.member_ids)
        if current - wanted:
            self._session.execute(
                delete(TeamMemberRecord).where(
                    TeamMemberRecord.team_id == team.id, TeamMemberRecord.member_id.in_(current - wanted)
                )
            )
        for member_id in sorted(wanted - current):
            self._session.add(TeamMemberRecord(team_id=team.id, member_id=member_id))

    def delete(self, team: Team) -> None:
        self._session.execute(delete(TeamMemberRecord).where(TeamMemberRecord.team_id == team.id))
        self._session.execute(delete(TeamCustomRoleRecord).where(TeamCustomRoleRecord.team_id == team.id))
        self._session.execute(delete(TeamMaintainerRecord).where(TeamMaintainerRecord.team_id == team.id))
        record = self._session.get(TeamRecord, team.id)
        if record is not None:
            self._session.delete(record)


_Link = type[MemberCustomRoleRecord] | type[TeamCustomRoleRecord] | type[TeamMaintainerRecord]


def _set_links(session: Session, table: _Link, owner: str, owner_id: str, other: str, wanted_ids: list[str]) -> None:
    """Make ``table``'s rows for ``owner_id`` be exactly ``wanted_ids``."""
    owner_column, other_column = getattr(table, owner), getattr(table, other)
    current = set(session.scalars(select(other_column).where(owner_column == owner_id)))
    wanted = set(wanted_ids)
    if current - wanted:
        session.execute(delete(table).where(owner_column == owner_id, other_column.in_(current - wanted)))
    for other_id in sorted(wanted - current):
        session.add(table(**{owner: owner_id, other: other_id}))


def _member_role_ids(session: Session, member_ids: list[str]) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    if member_ids:
        rows = session.execute(
            select(MemberCustomRoleRecord.member_id, MemberCustomRoleRecord.role_id)
            .where(MemberCustomRoleRecord.member_id.in_(member_ids))
            .order_by(MemberCustomRoleRecord.role_id)
        )
        for member_id, role_id in rows:
            result.setdefault(member_id, []).append(role_id)
    return result


def _maintained_team_keys(session: Session, member_ids: list[str]) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    if member_ids:
        rows = session.execute(
            select(TeamMaintainerRecord.member_id, TeamRecord.key)
            .join(TeamRecord, TeamRecord.id == TeamMaintainerRecord.team_id)
            .where(TeamMaintainerRecord.member_id.in_(member_ids))
            .order_by(TeamRecord.key)
        )
        for member_id, team_key in rows:
            result.setdefault(member_id, []).append(team_key)
    return result


def _team_role_keys(session: Session, team_keys: list[str]) -> dict[str, list[str]]:
    """Each team's custom role keys, in key order."""
    result: dict[str, list[str]] = {}
    if team_keys:
        rows = session.execute(
            select(TeamRecord.key, CustomRoleRecord.key)
            .join(TeamCustomRoleRecord, TeamCustomRoleRecord.team_id == TeamRecord.id)
            .join(CustomRoleRecord, CustomRoleRecord.id == TeamCustomRoleRecord.role_id)
            .where(TeamRecord.key.in_(team_keys))
            .order_by(CustomRoleRecord.key)
        )
        for team_key, role_key in rows:
            result.setdefault(team_key, []).append(role_key)
    return result


class SqlTokenRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, token_id: str) -> AccessToken | None:
        record = self._session.get(TokenRecord, token_id)
        return token_from_record(record) if record else None

    def get_by_hash(self, token_hash: str) -> AccessToken | None:
        record = self._session.scalar(_TOKEN_BY_HASH, {"token_hash": token_hash})
        return token_from_record(record) if record else None

    def find(self, owner_id: str | None, page: Page) -> tuple[list[AccessToken], int]:
        statement = select(TokenRecord)
        if owner_id is not None:
            statement = statement.where(TokenRecord.owner_id == owner_id)
        total = count(self._session, statement)
        records = self._session.scalars(paginate(statement.order_by(TokenRecord.creation_date, TokenRecord.id), page))
        return [token_from_record(r) for r in records], total

    def add(self, token: AccessToken) -> None:
        self._session.add(token_to_record(token))

    def update(self, token: AccessToken) -> None:
        record = self._session.get(TokenRecord, token.id)
        assert record is not None, "update() of a token that was not loaded"
        token_to_record(token, record)

    def delete(self, token: AccessToken) -> None:
        record = self._session.get(TokenRecord, token.id)
        if record is not None:
            self._session.delete(record)

    def delete_for_member(self, member_id: str) -> None:
        self._session.execute(
            delete(TokenRecord).where(TokenRecord.member_id == member_id, TokenRecord.service_token.is_(False))
        )


class SqlSessionRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, session_hash: str, member_id: str, expires: int) -> None:
        self._session.add(SessionRecord(session_hash=session_hash, member_id=member_id, expires=expires))

    def get_member_id(self, session_hash: str, now: int) -> str | None:
        record = self._session.get(SessionRecord, session_hash)
        return record.member_id if record and record.expires > now else None

    def delete(self, session_hash: str) -> None:
        self._session.execute(delete(SessionRecord).where(SessionRecord.session_hash == session_hash))

    def delete_for_member(self, member_id: str) -> None:
        self._session.execute(delete(SessionRecord).where(SessionRecord.member_id == member_id))


class SqlInvitationRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, token_hash: str, member_id: str, expires: int, created_at: int) -> None:
        self._session.add(
            InvitationRecord(token_hash=token_hash, member_id=member_id, expires=expires, created_at=created_at)
        )

    def member_id(self, token_hash: str, now: int) -> str | None:
        record = self._session.get(InvitationRecord, token_hash)
        return record.member_id if record and record.expires > now else None

    def take(self, token_hash: str, now: int) -> str | None:
        """The member of a live link, deleting it: of two concurrent uses, one gets the member."""
        record = self._session.get(InvitationRecord, token_hash)
        if record is None:
            return None
        member_id, expires = record.member_id, record.expires
        taken = self._session.execute(delete(InvitationRecord).where(InvitationRecord.token_hash == token_hash))
        return member_id if getattr(taken, "rowcount", 0) == 1 and expires > now else None

    def pending(self, now: int) -> dict[str, int]:
        rows = self._session.execute(
            select(InvitationRecord.member_id, func.max(InvitationRecord.expires))
            .where(InvitationRecord.expires > now)
            .group_by(InvitationRecord.member_id)
        )
        return {member_id: int(expires) for member_id, expires in rows}

    def delete_for_member(self, member_id: str) -> None:
        self._session.execute(delete(InvitationRecord).where(InvitationRecord.member_id == member_id))
