"""The built-in base roles as policies in LaunchDarkly's language, so one evaluator decides every request.

- no_access: change one's own ``emailNotifications`` (flagward's ``updateEmailNotifications``);
- reader: + every ``view*`` action on projects, environments, flags, segments, members, teams,
  webhooks, roles and the account; everything on one's own personal tokens (``member/<self>:token/*``);
- writer: + every flag action but ``bypassRequiredApproval``, every segment action but
  ``bypassRequiredSegmentApproval`` (writers do not silently bypass required approvals: flagward's decision);
- admin, owner: everything on every resource.

Writers manage no projects, environments, members, teams, webhooks, roles or other members' and service
tokens. What an owner may do beyond an admin (grant the owner role, change owners) is decided by the
role ranks in ``services.members``, not here.

The reader's view of ``view*`` includes ``viewSdkKey`` (as LaunchDarkly's reader); a webhook's secret
is shown to those who may set it (``updateSecret``).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from flagward.domain.access import Access, Policy
from flagward.domain.accounts import Role
from flagward.domain.policy import Effect, Statement

ACCOUNT = "acct"
PROJECTS = "proj/*"
ENVIRONMENTS = "proj/*:env/*"
FLAGS = "proj/*:env/*:flag/*"
SEGMENTS = "proj/*:env/*:segment/*"
MEMBERS = "member/*"
MEMBER_TOKENS = "member/*:token/*"
SERVICE_TOKENS = "service-token/*"
TEAMS = "team/*"
WEBHOOKS = "webhook/*"
ROLES = "role/*"
TEMPLATES = "template/*"  # workflow templates (``domain.resources.template``)

ALL_RESOURCES = (
    ACCOUNT,
    PROJECTS,
    ENVIRONMENTS,
    FLAGS,
    SEGMENTS,
    MEMBERS,
    MEMBER_TOKENS,
    SERVICE_TOKENS,
    TEAMS,
    WEBHOOKS,
    ROLES,
    TEMPLATES,
)
VIEWABLE = (ACCOUNT, PROJECTS, ENVIRONMENTS, FLAGS, SEGMENTS, MEMBERS, TEAMS, WEBHOOKS, ROLES, TEMPLATES)


def _allow(resources: Iterable[str], actions: Iterable[str] = (), not_actions: Iterable[str] = ()) -> Statement:
    return Statement(Effect.ALLOW, resources=tuple(resources), actions=tuple(actions), not_actions=tuple(not_actions))


def _own(member_id: str | None) -> tuple[Statement, ...]:
    if member_id is None:
        return ()
    return (_allow([f"member/{member_id}"], ["updateEmailNotifications"]),)


def reader_view() -> tuple[Statement, ...]:
    """The reader's view of everything, without a member's own tokens: what a custom role's
    ``basePermissions: reader`` adds to its policy (``domain.roles.granted_policy``)."""
    return _reader(None)


def _reader(member_id: str | None) -> tuple[Statement, ...]:
    statements = [_allow(VIEWABLE, ["view*"])]
    if member_id is not None:
        statements.append(_allow([f"member/{member_id}:token/*"], ["*"]))
    return tuple(statements)


_WRITER = (
    _allow([FLAGS], not_actions=["bypassRequiredApproval"]),
    _allow([SEGMENTS], not_actions=["bypassRequiredSegmentApproval"]),
    _allow([TEMPLATES], ["*"]),  # a workflow template is a reusable plan of flag changes
)
_ADMIN = (_allow(ALL_RESOURCES, ["*"]),)


@lru_cache(maxsize=4096)
def builtin_policy(role: Role, member_id: str | None = None) -> Policy:
    """The statements of a built-in role for the member ``member_id`` (None: a service token or the
    server itself, which have no own tokens or profile). One object per (role, member): compiled once."""
    if role is Role.NO_ACCESS:
        return _own(member_id)
    if role is Role.READER:
        return _own(member_id) + _reader(member_id)
    if role is Role.WRITER:
        return _own(member_id) + _reader(member_id) + _WRITER
    return _ADMIN


def actor_access(
    base_role: Role,
    custom_policies: tuple[Policy, ...] = (),
    *,
    member_id: str | None = None,
    ceiling: Access | None = None,
) -> Access:
    """The effective access of a member (or token) with the base role ``base_role`` and the policies of
    its custom roles (its own and its teams'; ``services.roles.member_policies``): any of them allowing
    a request allows it. ``ceiling``: for a token, its member's access, which it never exceeds."""
    return Access(policies=(builtin_policy(base_role, member_id), *custom_policies), ceiling=ceiling)
