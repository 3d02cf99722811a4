"""Flags: create (a configuration in every environment), read, list, delete.

Changes to an existing flag go through ``flagward.services.flag_changes`` (the one write path)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flagward.domain import resources
from flagward.domain.accounts import Actor
from flagward.domain.audit import AuditAction, flag_spec
from flagward.domain.authorization import authorize
from flagward.domain.errors import Conflict, InvalidRequest
from flagward.domain.events import ItemKind, SdkItemChanged
from flagward.domain.flags import Defaults, Flag, new_config, new_variations, validate_defaults
from flagward.domain.ids import new_object_id, validate_key
from flagward.domain.projects import ClientSideAvailability, Environment
from flagward.domain.representations import flag_document
from flagward.services._common import load_flag, load_project, record_audit, require_project_lock
from flagward.services.authz import authorize_project_read, without_hidden_environments
from flagward.services.flag_gate import check_flag_write
from flagward.services.ports import Clock, Deps, FlagQuery, UnitOfWork


@dataclass(frozen=True)
class NewFlag:
    key: str
    name: str
    description: str = ""
    variations: list[dict[str, Any]] | None = None
    defaults: Defaults | None = None
    temporary: bool = True
    tags: list[str] = field(default_factory=list)
    client_side_availability: ClientSideAvailability | None = None
    include_in_snippet: bool | None = None
    maintainer_id: str | None = None
    maintainer_team_key: str | None = None
    custom_properties: dict[str, Any] = field(default_factory=dict)
    is_flag_on: bool = False


def _default_defaults(kind: str, count: int) -> Defaults:
    if kind == "boolean":
        return Defaults(on_variation=0, off_variation=1)
    return Defaults(on_variation=0, off_variation=count - 1)


def create_flag(deps: Deps, *, actor: Actor, project_key: str, new: NewFlag) -> tuple[Flag, list[Environment]]:
    """Create a flag with a configuration in every environment of the project.

    Raises Forbidden, NotFound (project), InvalidRequest, Conflict (the key is taken), ApprovalRequired
    (turned on where approval is required: a writer creates flags off, as every new flag serves).
    """
    validate_key(new.key)
    authorize(actor, "createFlag", resources.flag(project_key, new.key, new.tags))
    if not isinstance(new.name, str) or not new.name.strip():
        raise InvalidRequest("name is required")
    kind, variations = new_variations(new.variations)
    defaults = new.defaults or _default_defaults(kind, len(variations))
    validate_defaults(defaults, variations)
    with deps.uow() as uow:
        # Locked: an environment created meanwhile must give this flag a configuration too.
        project = load_project(uow, project_key, for_update=True)
        if uow.flags.get(project_key, new.key) is not None:
            raise Conflict(f"A flag with key '{new.key}' already exists in project '{project_key}'")
        _check_maintainer(uow, new)
        csa = new.client_side_availability or project.default_client_side_availability
        if new.include_in_snippet is not None and new.client_side_availability is None:
            csa = ClientSideAvailability(csa.using_mobile_key, new.include_in_snippet)
        now = deps.clock.now_ms()
        environments, _ = uow.environments.find(project_key)
        flag = Flag(
            id=new_object_id(),
            project_key=project_key,
            key=new.key,
            name=new.name,
            kind=kind,
            variations=variations,
            creation_date=now,
            defaults=defaults,
            description=new.description or "",
            temporary=new.temporary,
            tags=list(new.tags),
            maintainer_id=new.maintainer_id or (None if new.maintainer_team_key else actor.member_id),
            maintainer_team_key=new.maintainer_team_key,
            client_side_availability=csa,
            custom_properties=dict(new.custom_properties),
        )
        for env in environments:
            # A key deleted earlier keeps increasing versions, or SDKs would ignore the new flag.
            version = uow.tombstones.version(env.id, ItemKind.FLAG, new.key) + 1
            config = new_config(defaults, now=now, track_events=env.default_track_events, version=version)
            config["on"] = new.is_flag_on
            flag.environments[env.key] = config
        check_flag_write(uow, actor, before=None, after=flag, environments=environments)
        uow.flags.add(flag)
        record_audit(
            uow,
            deps.clock,
            actor,
            kind="flag",
            name=flag.name,
            actions=[AuditAction.CREATE_FLAG],
            resource=flag_spec(project_key, flag.key),
            title_verb="created",
            description=f"Created flag {flag.name} ({flag.key})",
            current=flag_document(flag),
        )
        for env in environments:
            uow.publish(SdkItemChanged(env.id, ItemKind.FLAG, flag.key, flag.environments[env.key]["version"]))
        uow.commit()
    return flag, environments


def _check_maintainer(uow: UnitOfWork, new: NewFlag) -> None:
    if new.maintainer_id is not None and uow.members.get(new.maintainer_id) is None:
        raise InvalidRequest(f"maintainerId '{new.maintainer_id}' is not a member")
    if new.maintainer_team_key is not None and uow.teams.get(new.maintainer_team_key) is None:
        raise InvalidRequest(f"maintainerTeamKey '{new.maintainer_team_key}' is not a team")


def get_flag(deps: Deps, *, actor: Actor, project_key: str, key: str) -> tuple[Flag, list[Environment]]:
    """The flag with the configurations of the environments the actor may view."""
    authorize_project_read(actor, project_key)
    with deps.uow(write=False) as uow:
        flag = load_flag(uow, project_key, key)
        environments, _ = uow.environments.find(project_key)
    return without_hidden_environments(actor, flag, environments), environments


def list_flags(
    deps: Deps, *, actor: Actor, project_key: str, query: FlagQuery
) -> tuple[list[Flag], int, list[Environment]]:
    """A page of the project's flags, each with the configurations of the environments the actor may view."""
    authorize_project_read(actor, project_key)
    with deps.uow(write=False) as uow:
        load_project(uow, project_key)
        flags, total = uow.flags.find(project_key, query)
        environments, _ = uow.environments.find(project_key)
    return [without_hidden_environments(actor, f, environments) for f in flags], total, environments


def delete_flag(deps: Deps, *, actor: Actor, project_key: str, key: str, dry_run: bool = False) -> Flag:
    """Delete a flag everywhere; returns it as it was. Refused while other flags use it as a
    prerequisite (InvalidRequest), and where approval is required (ApprovalRequired). Authorized as
    ``deleteFlag`` on the flag (with its tags) by the gate, ``check_flag_write``."""
    authorize_project_read(actor, project_key)
    with deps.uow() as uow:
        flag = load_flag(uow, project_key, key, for_update=not dry_run)
        delete_loaded_flag(uow, deps.clock, actor, flag, persist=not dry_run)
        if not dry_run:
            uow.commit()
    return flag


def delete_loaded_flag(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    flag: Flag,
    *,
    approval_request_id: str | None = None,
    approved_environment: str | None = None,
    persist: bool = True,
) -> None:
    """Gate, delete, audit and publish, in the caller's transaction. Open approval requests on the
    flag are deleted with it, except ``approval_request_id``: the request whose apply deletes the flag
    stays, and is marked completed by its caller (its record and audit trail outlive the flag)."""
    project_key, key = flag.project_key, flag.key
    require_project_lock(uow, project_key)
    dependents = sorted(
        other.key
        for other in uow.flags.list_all(project_key)
        if other.key != key and any(p["key"] == key for c in other.environments.values() for p in c["prerequisites"])
    )
    if dependents:
        raise InvalidRequest(
            f"Flag '{key}' is a prerequisite of {', '.join(dependents)}; remove those prerequisites first"
        )
    environments, _ = uow.environments.find(project_key)
    check_flag_write(
        uow, actor, before=flag, after=None, environments=environments, approved_environment=approved_environment
    )
    if not persist:
        return
    for request in uow.approvals.open_for(project_key, None, "flag", key):
        if request.id != approval_request_id:
            uow.approvals.delete(request)
    # Its pending scheduled changes and expiring targets go with it (a flag made later with the same key
    # is another flag); executed and failed changes stay, as history.
    for change in uow.scheduled_changes.for_flag(project_key, None, key, pending_only=True):
        uow.scheduled_changes.delete(change)
    for env in environments:
        for expiring in uow.expiring_targets.for_resource(project_key, env.key, "flag", key):
            uow.expiring_targets.delete(expiring)
    uow.flags.delete(flag)
    record_audit(
        uow,
        clock,
        actor,
        kind="flag",
        name=flag.name,
        actions=[AuditAction.DELETE_FLAG],
        resource=flag_spec(project_key, key),
        title_verb="deleted",
        description=f"Deleted flag {flag.name} ({flag.key})",
        previous=flag_document(flag),
        approval_request_id=approval_request_id,
    )
    for env in environments:
        if env.key in flag.environments:
            version = flag.environments[env.key]["version"] + 1
            uow.tombstones.record(env.id, ItemKind.FLAG, key, version)
            uow.publish(SdkItemChanged(env.id, ItemKind.FLAG, key, version, deleted=True))
