"""API access tokens. The secret exists only in the create and reset responses; the store keeps a hash."""

from __future__ import annotations

from dataclasses import dataclass

from flagward.domain.accounts import TOKEN_ROLES, AccessToken, Actor, Role, hash_token
from flagward.domain.audit import AuditAction
from flagward.domain.authorization import authorize, authorize_all, authorize_kind, permits
from flagward.domain.errors import Forbidden, InvalidRequest, NotFound
from flagward.domain.ids import new_object_id, new_secret
from flagward.domain.policy import parse_statements
from flagward.domain.representations import token_document
from flagward.services._common import record_audit
from flagward.services.patching import apply_json_patch
from flagward.services.ports import Deps, Page, UnitOfWork
from flagward.services.roles import Policy, resolve_role_ids

API_VERSIONS = (20240415, 20220603, 20210729, 20191212, 20160426)


@dataclass(frozen=True)
class NewToken:
    name: str | None = None
    description: str | None = None
    role: Role = Role.READER
    service_token: bool = False
    default_api_version: int = 20240415
    custom_role_ids: tuple[str, ...] = ()
    inline_role: tuple[object, ...] = ()  # the statements' JSON form (``StatementPost``)


def token_spec(token: AccessToken) -> str:
    return _spec(token.owner_id, token.id, service_token=token.service_token)


def _spec(owner_id: str, token_id: str, *, service_token: bool) -> str:
    """``member/<owner>:token/<id>`` for a personal token, ``service-token/<id>`` for a service token."""
    kind = "service-token" if service_token else f"member/{owner_id}:token"
    return f"{kind}/{token_id}"


def new_token_secret() -> str:
    return new_secret("api-", 40)


def _acting_member_id(actor: Actor, *, service_token: bool) -> str:
    """The member a new token belongs to. A personal token is the acting member's own; a service token
    acts as itself, so it can create service tokens (owned by its creator) but no personal token."""
    owner = actor.member_id or (actor.owner_id if service_token else None)
    if owner is None:
        raise Forbidden("Only a member can create a personal token; a service token acts as itself")
    return owner


def _check_role(actor: Actor, role: Role) -> None:
    if role not in TOKEN_ROLES:
        raise InvalidRequest("role must be one of reader, writer, admin")
    if role.rank > actor.role.rank:
        raise Forbidden(f"You cannot create a token with role '{role}', which is above your own")


def token_roles(uow: UnitOfWork, custom_role_ids: object, inline_role: object) -> tuple[list[str], Policy | None]:
    """A token's custom roles (ids; keys are accepted too, and must name roles that exist) or its inline
    policy, which it then acts with instead of its base role (one or the other, as LaunchDarkly's
    ``AccessTokenPost`` says: inlineRole is used "in place of a role"). What a token may do never exceeds
    its member's own rights: authorization intersects the two."""
    ids = resolve_role_ids(uow, custom_role_ids or [], field="customRoleIds")
    statements = parse_statements(inline_role or [], field="inlineRole")
    if ids and statements:
        raise InvalidRequest("give a token customRoleIds or an inlineRole, not both")
    return ids, statements or None


def _check_api_version(version: object) -> int:
    if version not in API_VERSIONS:
        raise InvalidRequest(f"defaultApiVersion must be one of {', '.join(map(str, API_VERSIONS))}")
    assert isinstance(version, int)
    return version


def create_token(deps: Deps, *, actor: Actor, new: NewToken) -> tuple[AccessToken, str]:
    """Create a personal token for the acting member, or a service token. Returns (token, secret)."""
    if new.service_token:
        authorize(actor, "createAccessToken", _spec("", "*", service_token=True))
    if new.service_token or not (new.custom_role_ids or new.inline_role):
        # A personal token with custom roles or an inline role acts with them alone, bounded by its member
        # (``services.auth.token_actor``): its built-in role is not used, so a member whose own base role is
        # no_access (all its rights from custom roles) may make one.
        _check_role(actor, new.role)
    owner = _acting_member_id(actor, service_token=new.service_token)
    if not new.service_token:
        authorize(actor, "createAccessToken", _spec(owner, "*", service_token=False))
    secret = new_token_secret()
    now = deps.clock.now_ms()
    token = AccessToken(
        id=new_object_id(),
        owner_id=owner,
        member_id=None if new.service_token else owner,
        name=new.name,
        description=new.description,
        role=new.role,
        service_token=new.service_token,
        token_hash=hash_token(secret),
        last4=secret[-4:],
        default_api_version=_check_api_version(new.default_api_version),
        creation_date=now,
        last_modified=now,
    )
    with deps.uow() as uow:
        token.custom_role_ids, token.inline_role = token_roles(uow, list(new.custom_role_ids), list(new.inline_role))
        uow.tokens.add(token)
        record_audit(
            uow,
            deps.clock,
            actor,
            kind="token",
            name=token.name or token.id,
            actions=[AuditAction.CREATE_TOKEN],
            resource=token_spec(token),
            title_verb="created",
            description=f"Created {'a service' if token.service_token else 'a personal'} token",
            current=token_document(token),
        )
        uow.commit()
    return token, secret


def _load_visible(uow: UnitOfWork, actor: Actor, token_id: str, *, actions: tuple[str, ...]) -> AccessToken:
    """The token, if the actor may perform ``actions`` on it (``viewAccessToken`` to read it). Raises
    NotFound, Forbidden (the token exists: LaunchDarkly answers 403 for another member's token)."""
    token = uow.tokens.get(token_id)
    if token is None:
        raise NotFound(f"Unknown token '{token_id}'")
    authorize_all(actor, [(a, token_spec(token)) for a in actions])
    return token


def list_tokens(deps: Deps, *, actor: Actor, show_all: bool, page: Page) -> tuple[list[AccessToken], int]:
    """The caller's own tokens (a service token has none); with ``show_all``, every token (for those who
    may view every member's and every service token)."""
    if actor.member_id:
        authorize(actor, "viewAccessToken", _spec(actor.member_id, "*", service_token=False))
    # A service token owns no tokens: its own list is empty, and asks no right (nothing is shown).
    owner: str | None = actor.member_id or ""
    if (
        show_all
        and permits(actor, "viewAccessToken", "member/*:token/*")
        and permits(actor, "viewAccessToken", "service-token/*")
    ):
        owner = None
    with deps.uow(write=False) as uow:
        return uow.tokens.find(owner, page)


def get_token(deps: Deps, *, actor: Actor, token_id: str) -> AccessToken:
    authorize_kind(actor, "viewAccessToken", "member/*:token/*", "service-token/*")
    with deps.uow(write=False) as uow:
        return _load_visible(uow, actor, token_id, actions=("viewAccessToken",))


_WRITABLE = ("name", "description", "role", "defaultApiVersion", "customRoleIds", "inlineRole")


# Each writable field and its action: LaunchDarkly's names, flagward's ``updateAccessTokenApiVersion``.
_FIELD_ACTIONS = (
    ("name", "updateAccessTokenName"),
    ("description", "updateAccessTokenDescription"),
    ("role", "updateAccessTokenPolicy"),
    ("customRoleIds", "updateAccessTokenPolicy"),
    ("inlineRole", "updateAccessTokenPolicy"),
    ("defaultApiVersion", "updateAccessTokenApiVersion"),
)


def patch_token(deps: Deps, *, actor: Actor, token_id: str, patch: object) -> AccessToken:
    """JSON patch; each changed field is authorized as its action on the token."""
    with deps.uow() as uow:
        token = _load_visible(uow, actor, token_id, actions=("viewAccessToken",))
        before = token_document(token)
        # An unset description is absent from the document; present it as null so "replace" can set it.
        after = apply_json_patch({"description": None, "inlineRole": [], **before}, patch, writable=_WRITABLE)
        changed = [a for name, a in _FIELD_ACTIONS if before.get(name) != after.get(name)]
        authorize_all(actor, [(a, token_spec(token)) for a in changed])
        role = Role.parse(after.get("role"))
        _check_role(actor, role)
        for name in ("name", "description"):
            if after.get(name) is not None and not isinstance(after[name], str):
                raise InvalidRequest(f"{name} must be a string")
        token.role = role
        token.name = after.get("name")
        token.description = after.get("description")
        token.default_api_version = _check_api_version(after.get("defaultApiVersion"))
        token.custom_role_ids, token.inline_role = token_roles(uow, after.get("customRoleIds"), after.get("inlineRole"))
        token.last_modified = deps.clock.now_ms()
        uow.tokens.update(token)
        record_audit(
            uow,
            deps.clock,
            actor,
            kind="token",
            name=token.name or token.id,
            actions=[AuditAction.UPDATE_TOKEN],
            resource=token_spec(token),
            title_verb="updated",
            description="Updated token",
            previous=before,
            current=token_document(token),
        )
        uow.commit()
    return token


def reset_token(deps: Deps, *, actor: Actor, token_id: str, expiry: int | None = None) -> tuple[AccessToken, str]:
    """Replace the token's secret; the old one stops working at once."""
    if expiry is not None:
        raise InvalidRequest("expiry is not supported: the old secret stops working at once")
    secret = new_token_secret()
    with deps.uow() as uow:
        token = _load_visible(uow, actor, token_id, actions=("resetAccessToken",))
        token.token_hash = hash_token(secret)
        token.last4 = secret[-4:]
        token.last_modified = deps.clock.now_ms()
        uow.tokens.update(token)
        record_audit(
            uow,
            deps.clock,
            actor,
            kind="token",
            name=token.name or token.id,
            actions=[AuditAction.RESET_TOKEN],
            resource=token_spec(token),
            title_verb="reset",
            description="Reset token secret",
        )
        uow.commit()
    return token, secret


def delete_token(deps: Deps, *, actor: Actor, token_id: str) -> None:
    with deps.uow() as uow:
        token = _load_visible(uow, actor, token_id, actions=("deleteAccessToken",))
        uow.tokens.delete(token)
        record_audit(
            uow,
            deps.clock,
            actor,
            kind="token",
            name=token.name or token.id,
            actions=[AuditAction.DELETE_TOKEN],
            resource=token_spec(token),
            title_verb="deleted",
            description="Deleted token",
            previous=token_document(token),
        )
        uow.commit()
