"""What the approval-request use cases share: loading a request (within a flag's scope, when a
flag-scoped route names one), the settings that govern it, reviewers, resource ids and audit entries."""

from __future__ import annotations

from dataclasses import dataclass

from flagward.domain.accounts import Actor
from flagward.domain.approvals import ApprovalRequest, ResourceKind
from flagward.domain.audit import AuditAction, flag_spec, segment_spec
from flagward.domain.errors import InvalidRequest, NotFound
from flagward.domain.flags import Flag
from flagward.domain.projects import ApprovalSettings, Environment
from flagward.services._common import lock_project_for_flag_write, record_audit
from flagward.services.authz import LOAD, Load
from flagward.services.ports import Clock, UnitOfWork


@dataclass(frozen=True)
class Scope:
    """The flag-scoped routes name the request's flag and environment; a mismatch is a 404."""

    project_key: str
    flag_key: str
    environment_key: str


@dataclass
class Seen:
    """What a use case read of a request's environment and flag, handed back to the caller that asked
    (``seen=``) so that the view it answers with (``approval_queries.view_of``) does not read them again.
    ``flag`` is left None when the use case changed the flag (an applied request's view does not need it)."""

    environment: Environment | None = None
    flag: Flag | None = None
    # The other pending and scheduled requests on the resource in its environment, read in the use case's
    # transaction, for the view's conflicts. None: not read (the view reads them).
    others: list[ApprovalRequest] | None = None

    def note(self, environment: Environment, flag: Flag | Load | None) -> None:
        self.environment = environment
        self.flag = flag if isinstance(flag, Flag) else None

    def note_others(
        self, uow: UnitOfWork, project_key: str, env_key: str, kind: ResourceKind, key: str, *, besides: str = ""
    ) -> None:
        """Read the open requests on ``key`` in ``env_key`` but ``besides`` (the request being written)."""
        self.others = [r for r in uow.approvals.open_for(project_key, env_key, kind.value, key) if r.id != besides]


def settings_for(env: Environment, kind: ResourceKind) -> ApprovalSettings:
    return env.approval_settings if kind is ResourceKind.FLAG else env.segment_approval_settings


def resource_spec(request: ApprovalRequest) -> str:
    if request.resource_kind is ResourceKind.FLAG:
        return flag_spec(request.project_key, request.resource_key, request.environment_key)
    return segment_spec(request.project_key, request.environment_key, request.resource_key)


def parse_resource_id(resource_id: object) -> tuple[str, str, ResourceKind, str]:
    """``proj/p:env/e:flag/f`` or ``proj/p:env/e:segment/s``. Raises InvalidRequest."""
    parts = resource_id.split(":") if isinstance(resource_id, str) else []
    try:
        (proj, project), (env, env_key), (kind, key) = (p.split("/", 1) for p in parts)
        if (proj, env) != ("proj", "env") or not (project and env_key and key):
            raise ValueError
        return project, env_key, ResourceKind(kind), key
    except ValueError:
        raise InvalidRequest(
            "resourceId must be a resource specifier such as proj/my-project:env/production:flag/my-flag"
        ) from None


def load_request(
    uow: UnitOfWork, request_id: str, scope: Scope | None = None, *, for_update: bool = False
) -> ApprovalRequest:
    """Raises NotFound, also when ``scope`` names another flag or environment (or the request is a
    segment's)."""
    request = uow.approvals.get(request_id, for_update=for_update)
    matches = scope is None or (
        request is not None
        and request.resource_kind is ResourceKind.FLAG
        and (request.project_key, request.resource_key, request.environment_key)
        == (scope.project_key, scope.flag_key, scope.environment_key)
    )
    if request is None or not matches:
        raise NotFound("Unable to find approval request")
    return request


def request_flag(uow: UnitOfWork, request: ApprovalRequest) -> Flag | Load | None:
    """A flag request's flag as it is now (None: gone), read once for the checks and words of a step;
    LOAD for a segment's request (the callees load what they need)."""
    if request.resource_kind is not ResourceKind.FLAG:
        return LOAD
    return uow.flags.get(request.project_key, request.resource_key)


def locked_request_flag(uow: UnitOfWork, request: ApprovalRequest) -> Flag | Load | None:
    """``request_flag``, read under the locks that applying the request takes (its project, then the flag:
    ``_common.load_flag``'s order) so that applying it reads the flag once."""
    if request.resource_kind is not ResourceKind.FLAG:
        return LOAD
    lock_project_for_flag_write(uow, request.project_key)
    return uow.flags.get(request.project_key, request.resource_key, for_update=True)


def resolve_reviewers(uow: UnitOfWork, member_ids: object, team_keys: object) -> list[str]:
    """Member ids to notify: the given ones plus every member of the given teams, in that order and
    without repeats. Raises InvalidRequest for an unknown member id or team key."""
    if not _strings(member_ids) or not _strings(team_keys):
        raise InvalidRequest("notifyMemberIds and notifyTeamKeys must be lists of strings")
    assert isinstance(member_ids, list) and isinstance(team_keys, list)
    unknown = [m for m in member_ids if uow.members.get(m) is None]
    if unknown:
        raise InvalidRequest(f"notifyMemberIds: unknown member ids {', '.join(unknown)}")
    result = list(dict.fromkeys(member_ids))
    for key in team_keys:
        team = uow.teams.get(key)
        if team is None:
            raise InvalidRequest(f"notifyTeamKeys: unknown team '{key}'")
        result += [m for m in team.member_ids if m not in result]
    return result


def _strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def audit(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    request: ApprovalRequest,
    action: AuditAction,
    verb: str,
    comment: str | None = None,
) -> None:
    """The audit entry of one step of a request, on its resource (``proj/p:env/e:flag/f``)."""
    record_audit(
        uow,
        clock,
        actor,
        kind="approvalRequest",
        name=request.description,
        actions=[action],
        resource=resource_spec(request),
        title_verb=verb,
        description=f"{verb[0].upper()}{verb[1:]} approval request {request.id} on "
        f"{request.resource_kind} {request.resource_key} in {request.environment_key}",
        comment=comment,
        approval_request_id=request.id,
    )
