"""Invitations: add a member with a one-time link to set their password, issue a new link, and use one
(which sets the password and opens a session). Members are added by ``members.add_member``, the core
of ``POST /api/v2/members``; passwords are stored by ``members.store_password``, the core of
``set_password``: the same checks and audit entries.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from flagward.domain import resources
from flagward.domain.accounts import Actor, ActorKind, Member, Role, hash_token
from flagward.domain.audit import AuditAction
from flagward.domain.authorization import authorize
from flagward.domain.errors import Forbidden, InvalidRequest, NotFound
from flagward.domain.invitations import INVITATION_TTL_MS, invitation_email, invitation_url
from flagward.domain.outbox import MessageKind, NewMessage
from flagward.services._common import record_audit
from flagward.services.auth import SESSION_TTL_MS, SignedIn
from flagward.services.members import NewMember, add_member, load_member, store_password, valid_email
from flagward.services.ports import Deps, MemberQuery, Page, UnitOfWork

INVALID_LINK = (
    "This link does not work: it was already used, a newer link replaced it, or it expired. Ask an admin for a new one."
)


@dataclass(frozen=True)
class Invitation:
    """A link just issued: shown once to the admin who issued it (only its hash is stored)."""

    member: Member
    url: str
    expires: int
    emailed: bool


@dataclass(frozen=True)
class MemberStatus:
    member: Member
    has_password: bool
    link_expires: int | None  # when the member's live link expires; None: no live link


def invite_member(deps: Deps, *, actor: Actor, email: str, role: Role, base_url: str) -> Invitation:
    """Add a member (as ``POST /api/v2/members`` does) and issue their link, in one transaction.

    Raises Forbidden, InvalidRequest, Conflict (email in use)."""
    authorize(actor, "createMember", resources.member("*"))
    valid_email(email)
    with deps.uow() as uow:
        member = add_member(uow, deps, actor, NewMember(email=email, role=role))
        invitation = _issue(uow, deps, actor, member, base_url, new_member=True)
        uow.commit()
    return invitation


def issue_link(deps: Deps, *, actor: Actor, member_id: str, base_url: str) -> Invitation:
    """A new link for a member (who has no password yet, or forgot it); their older link stops working.

    Raises Forbidden, NotFound, InvalidRequest (the member has no access). The action is flagward's
    ``sendMemberInvitation`` on the member."""
    authorize(actor, "sendMemberInvitation", resources.member(member_id))
    with deps.uow() as uow:
        member = load_member(uow, member_id)
        if member.role.rank > actor.role.rank:
            raise Forbidden("You cannot issue a link for a member whose role is above your own")
        if member.role is Role.NO_ACCESS:
            raise InvalidRequest(f"{member.email} has no access; give them a role first")
        invitation = _issue(uow, deps, actor, member, base_url, new_member=False)
        uow.commit()
    return invitation


def _issue(uow: UnitOfWork, deps: Deps, actor: Actor, member: Member, base_url: str, *, new_member: bool) -> Invitation:
    token = secrets.token_urlsafe(32)
    now = deps.clock.now_ms()
    expires = now + INVITATION_TTL_MS
    uow.invitations.delete_for_member(member.id)  # one live link per member
    uow.invitations.add(hash_token(token), member.id, expires, now)
    url = invitation_url(deps.notify.public_url or base_url, token)
    record_audit(
        uow,
        deps.clock,
        actor,
        kind="member",
        name=member.email,
        actions=[AuditAction.UPDATE_MEMBER],
        resource=resources.member(member.id),
        title_verb="updated",
        description=f"Issued a one-time link for member {member.email} to set their password",
    )
    emailed = deps.notify.email
    if emailed:
        mail = invitation_email(
            to=member.email,
            url=url,
            invited_by=actor.member_email or "An admin",
            role=str(member.role),
            new_member=new_member,
        )
        payload = {"to": [mail.to], "subject": mail.subject, "text": mail.text, "html": mail.html}
        uow.outbox.add(NewMessage(kind=MessageKind.EMAIL, payload=payload, target=member.id), now=now)
    return Invitation(member=member, url=url, expires=expires, emailed=emailed)


def invited_member(deps: Deps, *, token: str) -> Member:
    """The member a live link is for. Raises NotFound (unknown, used, replaced or expired)."""
    with deps.uow(write=False) as uow:
        member_id = uow.invitations.member_id(hash_token(token), deps.clock.now_ms())
        member = uow.members.get(member_id) if member_id else None
    if member is None or member.role is Role.NO_ACCESS:
        raise NotFound(INVALID_LINK)
    return member


def accept_invitation(deps: Deps, *, token: str, password: str) -> SignedIn:
    """Use a link: set the member's password (ending their other sessions) and open a session. The link
    is spent only when this succeeds. Raises NotFound (see ``invited_member``), InvalidRequest (too short)."""
    now = deps.clock.now_ms()
    with deps.uow() as uow:
        member_id = uow.invitations.take(hash_token(token), now)
        member = load_member(uow, member_id) if member_id else None
        if member is None or member.role is Role.NO_ACCESS:
            raise NotFound(INVALID_LINK)
        actor = Actor(kind=ActorKind.SESSION, role=member.role, member_id=member.id, member_email=member.email)
        member.last_seen = now
        store_password(uow, deps, actor, member, password, how=" through a one-time link")
        secret = secrets.token_urlsafe(32)
        expires = now + SESSION_TTL_MS
        uow.sessions.add(hash_token(secret), member.id, expires)
        uow.commit()
    return SignedIn(member=member, session_secret=secret, expires=expires)


def member_statuses(deps: Deps, *, actor: Actor) -> list[MemberStatus]:
    """Every member with whether they can sign in yet and their live link (read access, as the REST list)."""
    authorize(actor, "viewMember", resources.member("*"))
    with deps.uow(write=False) as uow:
        members, _ = uow.members.find(MemberQuery(page=Page(limit=1000)))
        links = uow.invitations.pending(deps.clock.now_ms())
    return [MemberStatus(m, m.password_hash is not None, links.get(m.id)) for m in members]
