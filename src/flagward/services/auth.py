"""Who is calling: access tokens, sign-in sessions, and the first start's owner and admin token."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from flagward.domain import resources
from flagward.domain.access import Access, Policy
from flagward.domain.accounts import (
    AccessToken,
    Actor,
    ActorKind,
    Member,
    Role,
    hash_token,
    weaker,
)
from flagward.domain.audit import AuditAction
from flagward.domain.builtin_roles import actor_access
from flagward.domain.errors import RateLimited, Unauthorized
from flagward.domain.ids import new_object_id
from flagward.domain.rate_limits import SignInLimits
from flagward.domain.representations import member_document
from flagward.services import roles, throttling
from flagward.services._common import record_audit
from flagward.services.actor_cache import CachedActor
from flagward.services.ports import Deps, MemberQuery, Page, UnitOfWork
from flagward.services.tokens import NewToken, create_token, new_token_secret

INVALID_TOKEN = "Invalid access token"
SESSION_TTL_MS = 12 * 3600 * 1000
_LAST_USED_RESOLUTION_MS = 60_000


def _strip_scheme(raw: str) -> str:
    raw = raw.strip()
    return raw[7:].strip() if raw.lower().startswith("bearer ") else raw


def authenticate_token(deps: Deps, raw: str | None) -> Actor:
    """The actor behind an ``Authorization`` header value. SDK keys, mobile keys and client-side IDs
    are not access tokens and get Unauthorized like any unknown value.

    The accounts generation is read first: an actor this process made under the same generation is
    still exact (``services.actor_cache``). Otherwise the token is read in one transaction with the
    generation it is cached under."""
    if not raw:
        raise Unauthorized(INVALID_TOKEN)
    digest = hash_token(_strip_scheme(raw))
    cached = deps.actors.get(digest, deps.uow.accounts_generation())
    if cached is not None:
        token, actor = cached.token, cached.actor
    else:
        with deps.uow(write=False) as uow:
            generation = uow.meta.accounts_generation()
            token, actor = _token_actor(uow, digest)
        deps.actors.put(digest, generation, CachedActor(actor, token))
    _touch(deps, token)
    return actor


def _token_actor(uow: UnitOfWork, digest: str) -> tuple[AccessToken, Actor]:
    token = uow.tokens.get_by_hash(digest)
    if token is None:
        raise Unauthorized(INVALID_TOKEN)
    member = uow.members.get(token.member_id) if token.member_id else None
    if token.member_id and member is None:
        raise Unauthorized(INVALID_TOKEN)
    own_policies = roles.token_policies(uow, token)
    ceiling_policies = roles.member_policies(uow, member) if member is not None else ()
    creator = None
    if token.service_token and own_policies is not None and token.owner_id:
        creator = uow.members.get(token.owner_id)
        ceiling_policies = roles.member_policies(uow, creator) if creator is not None else ()
    actor = token_actor(token, member, token_policies=own_policies, member_policies=ceiling_policies, creator=creator)
    return token, actor


def member_access(member: Member, custom_policies: tuple[Policy, ...] = ()) -> Access:
    """A member's effective access: its base role's built-in policy and ``custom_policies``, the policies
    of its custom roles and its teams' (``services.roles.member_policies(uow, member)``)."""
    return actor_access(member.role, custom_policies, member_id=member.id)


def token_actor(
    token: AccessToken,
    member: Member | None,
    *,
    token_policies: tuple[Policy, ...] | None = None,
    member_policies: tuple[Policy, ...] = (),
    creator: Member | None = None,
) -> Actor:
    """The actor a token acts as. ``token_policies``: the policies of the token's custom roles and inline
    role (``services.roles.token_policies``; None: it has none); a token that has them acts with them alone
    (as LaunchDarkly's: with none left, its roles deleted, it may do nothing), else with its built-in ``role``.
    ``member_policies``: its member's custom roles, which with the member's role bound a personal token
    (the ceiling). A service token with its built-in role acts as itself, without a ceiling: it outlives
    its creator's role. A service token with custom roles or an inline role never has more than the member
    who made it: while that member (``creator``, with ``member_policies`` its custom roles) exists, the
    ceiling is the member's current access; once the member is gone, the token's built-in ``role`` (which
    its creator could grant: ``services.tokens``)."""
    base = Role.NO_ACCESS if token_policies is not None else token.role
    if token.service_token or member is None:
        ceiling = None
        if token_policies is not None:
            ceiling = member_access(creator, member_policies) if creator is not None else actor_access(token.role)
        return Actor(
            kind=ActorKind.SERVICE_TOKEN,
            role=token.role,
            access=actor_access(base, token_policies or (), ceiling=ceiling),
            token_id=token.id,
            token_name=token.name,
            token_ending=token.last4,
            owner_id=token.owner_id,
            default_api_version=token.default_api_version,
        )
    return Actor(
        kind=ActorKind.PERSONAL_TOKEN,
        role=weaker(token.role, member.role),
        access=actor_access(
            base, token_policies or (), member_id=member.id, ceiling=member_access(member, member_policies)
        ),
        member_id=member.id,
        member_email=member.email,
        token_id=token.id,
        token_name=token.name,
        token_ending=token.last4,
        default_api_version=token.default_api_version,
    )


def _touch(deps: Deps, token: AccessToken) -> None:
    # lastUsed is informative; writing it at most once a minute keeps reads from becoming writes.
    now = deps.clock.now_ms()
    if token.last_used is not None and now - token.last_used < _LAST_USED_RESOLUTION_MS:
        return
    with deps.uow() as uow:
        current = uow.tokens.get(token.id)
        if current is not None:
            current.last_used = now
            uow.tokens.update(current)
            uow.commit()


@dataclass(frozen=True)
class SignedIn:
    member: Member
    session_secret: str
    expires: int


def login(deps: Deps, limits: SignInLimits, *, email: str, password: str, address: str) -> SignedIn:
    """Check an email and password from ``address``; a good pair opens a session. Always costs one
    password hash check, so a wrong email and a wrong password take the same time.

    Each attempt is counted as a failure before the (slow) password check, so concurrent guesses can
    never outrun the limits; a success takes its attempt back and clears the failures of this email
    from this address. Raises RateLimited (with Retry-After) once a limit is reached."""
    budgets = limits.budgets(email, address)
    allowance = throttling.spend(deps, budgets)
    if not allowance.allowed:
        raise RateLimited(
            retry_after_seconds=allowance.retry_after_seconds,
            message="Too many failed sign-ins. Try again later.",
        )
    with deps.uow(write=False) as uow:
        member = uow.members.get_by_email(email) if isinstance(email, str) else None
    ok = deps.passwords.verify(member.password_hash if member else None, password)
    if member is None or not ok or member.role is Role.NO_ACCESS:
        raise Unauthorized("Invalid email or password")
    now = deps.clock.now_ms()
    secret = secrets.token_urlsafe(32)
    expires = now + SESSION_TTL_MS
    with deps.uow() as uow:
        for budget in sorted(budgets, key=lambda b: b.key):  # key order, as spend() locks them
            if budget.name == "account":
                uow.rate_counters.clear(budget.key)
            else:
                uow.rate_counters.refund(budget.key)
        uow.sessions.add(hash_token(secret), member.id, expires)
        current = uow.members.get(member.id)
        if current is not None:
            current.last_seen = now
            uow.members.update(current)
        uow.commit()
    return SignedIn(member=member, session_secret=secret, expires=expires)


def authenticate_session(deps: Deps, secret: str) -> Actor:
    with deps.uow(write=False) as uow:
        member_id = uow.sessions.get_member_id(hash_token(secret), deps.clock.now_ms())
        member = uow.members.get(member_id) if member_id else None
        custom_policies = roles.member_policies(uow, member) if member is not None else ()
    if member is None:
        raise Unauthorized("Your session has expired; sign in again")
    return session_actor(member, custom_policies)


def session_actor(member: Member, custom_policies: tuple[Policy, ...] = ()) -> Actor:
    """The actor a signed-in member acts as; ``custom_policies`` as for ``member_access``."""
    return Actor(
        kind=ActorKind.SESSION,
        role=member.role,
        member_id=member.id,
        member_email=member.email,
        access=member_access(member, custom_policies),
    )


def logout(deps: Deps, secret: str) -> None:
    with deps.uow() as uow:
        uow.sessions.delete(hash_token(secret))
        uow.commit()


@dataclass(frozen=True)
class FirstStart:
    owner: Member
    admin_token_secret: str | None  # set only when a token was generated and must be shown once
    restored: bool = False  # the account existed but had no owner; ``owner`` is its owner again


_STARTUP = Actor(kind=ActorKind.SYSTEM, role=Role.OWNER, token_name="flagward serve")


def ensure_owner_and_admin_token(deps: Deps, *, owner_email: str, admin_token: str | None) -> FirstStart | None:
    """Make sure the account has an owner and, with ``admin_token``, a token of exactly that value
    (role admin, owned by an owner). Safe to run by every starting process, several at once: the
    account's owner set is locked, so one of them does the work and the others find it done.

    An empty store gets the owner ``owner_email`` and, without ``admin_token``, an admin token to show
    once. An account whose owners are all gone gets ``owner_email`` as its owner again (that member
    promoted, or added), audited. An account with an owner keeps it, whatever ``owner_email`` says.
    Returns what was created, or None when there was nothing to do."""
    now = deps.clock.now_ms()
    with deps.uow() as uow:
        uow.members.lock_owners()
        uow.meta.account_id()
        owners, _ = uow.members.find(_owner_query())
        restored = not owners and uow.members.find(MemberQuery(page=Page(limit=1)))[1] > 0
        owner = owners[0] if owners else _make_owner(uow, deps, owner_email, now, audited=restored)
        secret: str | None = None
        if admin_token is not None:
            if uow.tokens.get_by_hash(hash_token(admin_token)) is None:
                uow.tokens.add(_admin_token(owner, admin_token, now, name="FLAGWARD_ADMIN_TOKEN"))
            elif owners:
                return None
        elif not owners:
            secret = new_token_secret()
            uow.tokens.add(_admin_token(owner, secret, now, name="first-start admin token"))
        else:
            return None
        uow.commit()
    return FirstStart(owner=owner, admin_token_secret=secret, restored=restored)


def _make_owner(uow: UnitOfWork, deps: Deps, email: str, now: int, *, audited: bool) -> Member:
    """``email`` becomes the owner: the member with that email is promoted, or a new member added.
    ``audited``: record it (not on the first start, where the account itself is being made)."""
    member = uow.members.get_by_email(email)
    before = member_document(member) if member else None
    if member is None:
        member = Member(id=new_object_id(), email=email, role=Role.OWNER, creation_date=now)
        uow.members.add(member)
    else:
        member.role = Role.OWNER
        member.version += 1
        uow.members.update(member)
    if audited:
        record_audit(
            uow,
            deps.clock,
            _STARTUP,
            kind="member",
            name=member.email,
            actions=[AuditAction.UPDATE_MEMBER_ROLE if before else AuditAction.CREATE_MEMBER],
            resource=resources.member(member.id),
            title_verb="updated" if before else "added",
            description=f"Made {member.email} the account's owner at startup: the account had no owner",
            previous=before,
            current=member_document(member),
        )
    return member


def _owner_query() -> MemberQuery:
    return MemberQuery(roles=(Role.OWNER.value,), page=Page(limit=1))


def _admin_token(owner: Member, secret: str, now: int, *, name: str) -> AccessToken:
    return AccessToken(
        id=new_object_id(),
        owner_id=owner.id,
        member_id=owner.id,
        name=name,
        role=Role.ADMIN,
        service_token=False,
        token_hash=hash_token(secret),
        last4=secret[-4:],
        creation_date=now,
        last_modified=now,
    )


def create_token_for_member(deps: Deps, *, email: str, role: Role, name: str | None) -> tuple[AccessToken, str]:
    """The CLI's ``tokens create``: a personal token for a member, run on the server host."""
    with deps.uow(write=False) as uow:
        member = uow.members.get_by_email(email)
    if member is None:
        raise Unauthorized(f"No member has the email '{email}'")
    actor = session_actor(member)
    return create_token(deps, actor=actor, new=NewToken(name=name, role=role))


def anyone_can_sign_in(deps: Deps) -> bool:
    """Whether any member with access has a password (the console shows its first-run page until one
    does). Members are few; they are read a page at a time."""
    offset = 0
    with deps.uow(write=False) as uow:
        while True:
            members, total = uow.members.find(MemberQuery(page=Page(limit=200, offset=offset)))
            if any(m.password_hash and m.role is not Role.NO_ACCESS for m in members):
                return True
            offset += len(members)
            if not members or offset >= total:
                return False


def owner_email(deps: Deps) -> str | None:
    """An owner's email, for the first-run page's instructions."""
    with deps.uow(write=False) as uow:
        owners, _ = uow.members.find(_owner_query())
    return owners[0].email if owners else None
