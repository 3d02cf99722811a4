"""Resource specifiers of loaded things, and the read rules every use case shares.

Reads are decided in two steps, consistently everywhere:
- project-scoped reads (a project, its flags' project-level fields, its lists) need LaunchDarkly's
  ``viewProject`` on ``proj/<key>``;
- environment-scoped reads (an environment, a flag's or segment's configuration there, its SDK data,
  its approval requests) need flagward's ``viewEnvironment`` on ``proj/<key>:env/<key>;<env tags>``, so
  "contractors read staging only" is a role. Where a representation spans environments (a flag, a
  project), the environments the actor may not view are left out, as LaunchDarkly's ``?env=`` filter
  would leave them out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from enum import Enum

from flagward.domain import resources
from flagward.domain.accounts import Actor
from flagward.domain.approvals import ApprovalRequest, ResourceKind, Rights
from flagward.domain.authorization import authorize, authorize_kind, permits
from flagward.domain.flags import Flag
from flagward.domain.projects import Environment, masked_key
from flagward.domain.segments import Segment
from flagward.services.ports import UnitOfWork


def environment_resource(env: Environment) -> str:
    return resources.environment(env.project_key, env.key, env.tags)


def flag_resource(flag: Flag, env: Environment | None = None, *, tags: Iterable[str] | None = None) -> str:
    """The flag in ``env`` (None: in any environment, for project-level flag actions)."""
    flag_tags = flag.tags if tags is None else tags
    if env is None:
        return resources.flag(flag.project_key, flag.key, flag_tags)
    return resources.flag(flag.project_key, flag.key, flag_tags, env_key=env.key, env_tags=env.tags)


def segment_resource(segment: Segment, env: Environment) -> str:
    return resources.segment(env.project_key, env.key, segment.key, segment.tags, env_tags=env.tags)


def authorize_project_read(actor: Actor, project_key: str) -> None:
    authorize(actor, "viewProject", resources.project(project_key))


def authorize_environment_scope(actor: Actor, project_key: str, env_key: str) -> None:
    """Before loading anything of an environment: refused (403) when the actor may not view the project
    or could view no environment of that key, whatever its tags; so a refused actor learns nothing of
    what exists there."""
    authorize_project_read(actor, project_key)
    authorize_kind(actor, "viewEnvironment", resources.environment(project_key, env_key))


def authorize_environment_read(actor: Actor, env: Environment) -> None:
    authorize(actor, "viewProject", resources.project(env.project_key))
    authorize(actor, "viewEnvironment", environment_resource(env))


def with_keys_shown_to(actor: Actor, env: Environment) -> Environment:
    """``env`` as the actor may see it: its SDK and mobile keys masked (``domain.projects.masked_key``)
    unless the actor may ``viewSdkKey`` on it. The representation keeps both fields (LaunchDarkly's
    ``Environment`` requires them)."""
    if permits(actor, "viewSdkKey", environment_resource(env)):
        return env
    return replace(env, api_key=masked_key(env.api_key), mobile_key=masked_key(env.mobile_key))


def may_view_environment(actor: Actor, env: Environment) -> bool:
    return permits(actor, "viewEnvironment", environment_resource(env))


def visible_environments(actor: Actor, environments: Iterable[Environment]) -> list[Environment]:
    """The environments whose configurations the actor may see (the others are left out)."""
    return [env for env in environments if may_view_environment(actor, env)]


def without_hidden_environments(actor: Actor, flag: Flag, environments: Iterable[Environment]) -> Flag:
    """``flag`` (a loaded copy, changed in place) with only the configurations the actor may see."""
    visible = {env.key for env in visible_environments(actor, environments)}
    if any(key not in visible for key in flag.environments):
        flag.environments = {key: config for key, config in flag.environments.items() if key in visible}
    return flag


class Load(Enum):
    """A flag the callee loads itself, unless the caller passes the one it loaded in the same transaction."""

    LOAD = "load"


LOAD = Load.LOAD


def request_resource(
    uow: UnitOfWork, request: ApprovalRequest, env: Environment | None = None, *, flag: Flag | Load | None = LOAD
) -> str:
    """The flag or segment an approval request is about, in its environment, with their tags (those of
    a flag or segment deleted since are unknown: none). ``flag``: the request's flag when the caller has
    loaded it already (None: it is gone); LOAD: load it."""
    env = env or uow.environments.get(request.project_key, request.environment_key)
    env_tags = env.tags if env is not None else []
    if request.resource_kind is ResourceKind.FLAG:
        if isinstance(flag, Load):
            flag = uow.flags.get(request.project_key, request.resource_key)
        return resources.flag(
            request.project_key,
            request.resource_key,
            flag.tags if flag else (),
            env_key=request.environment_key,
            env_tags=env_tags,
        )
    segment = uow.segments.get(request.project_key, request.environment_key, request.resource_key)
    return resources.segment(
        request.project_key,
        request.environment_key,
        request.resource_key,
        segment.tags if segment else (),
        env_tags=env_tags,
    )


def request_rights(
    uow: UnitOfWork,
    actor: Actor,
    request: ApprovalRequest,
    env: Environment | None = None,
    *,
    flag: Flag | Load | None = LOAD,
) -> Rights:
    """What the actor may do with ``request`` (``domain.approvals.Rights``), judged on its resource
    (``flag`` as for ``request_resource``)."""
    return Rights.of(actor, request_resource(uow, request, env, flag=flag))


# The environment-level actions a change of a flag's targeting may be (``domain.changes``).
FLAG_ENVIRONMENT_ACTIONS = (
    "updateOn",
    "updateTargets",
    "updateRules",
    "updateFallthrough",
    "updateOffVariation",
    "updatePrerequisites",
)


def may_change_flag_in(actor: Actor, flag: Flag, env: Environment) -> bool:
    """Whether the actor may change the flag's targeting in ``env`` directly in some way (the console
    offers its editor; each change is still authorized by its effect)."""
    resource = flag_resource(flag, env)
    return any(permits(actor, action, resource) for action in FLAG_ENVIRONMENT_ACTIONS)
