"""Projects: create (with its environments), read, JSON-patch, delete."""

from __future__ import annotations

from dataclasses import dataclass, field

from flagward.domain import resources
from flagward.domain.accounts import Actor
from flagward.domain.audit import AuditAction, project_spec
from flagward.domain.authorization import authorize, authorize_all, authorize_kind, permits
from flagward.domain.errors import Conflict, InvalidRequest
from flagward.domain.events import EnvironmentChanged
from flagward.domain.ids import new_object_id, validate_key
from flagward.domain.projects import DEFAULT_ENVIRONMENTS, ClientSideAvailability, Environment, Project
from flagward.domain.representations import project_document
from flagward.services._common import load_project, record_audit
from flagward.services.authz import authorize_project_read, visible_environments
from flagward.services.environments import NewEnvironment, build_environment
from flagward.services.patching import apply_json_patch
from flagward.services.ports import Deps, ProjectQuery


@dataclass(frozen=True)
class NewProject:
    key: str
    name: str
    tags: list[str] = field(default_factory=list)
    include_in_snippet_by_default: bool | None = None
    default_client_side_availability: ClientSideAvailability | None = None
    environments: list[NewEnvironment] | None = None


def create_project(deps: Deps, *, actor: Actor, new: NewProject) -> tuple[Project, list[Environment]]:
    """Create a project and its environments (``production`` and ``test`` when none are given).

    Raises Forbidden, InvalidRequest, Conflict (the key is taken).
    """
    validate_key(new.key, field="key")
    authorize(actor, "createProject", resources.project(new.key))
    now = deps.clock.now_ms()
    csa = new.default_client_side_availability or ClientSideAvailability(
        using_mobile_key=True, using_environment_id=bool(new.include_in_snippet_by_default)
    )
    project = Project(
        id=new_object_id(),
        key=new.key,
        name=new.name,
        creation_date=now,
        tags=list(new.tags),
        include_in_snippet_by_default=csa.using_environment_id,
        default_client_side_availability=csa,
    )
    project.validate()
    specs = new.environments
    if specs is None:
        specs = [NewEnvironment(key=k, name=n, color=c) for k, n, c in DEFAULT_ENVIRONMENTS]
    if len({s.key for s in specs}) != len(specs):
        raise InvalidRequest("environments: keys must be unique")
    with deps.uow() as uow:
        if uow.projects.get(new.key) is not None:
            raise Conflict(f"A project with key '{new.key}' already exists")
        uow.projects.add(project)
        environments = [build_environment(project, spec, now=now + i) for i, spec in enumerate(specs)]
        for env in environments:
            uow.environments.add(env)
        record_audit(
            uow,
            deps.clock,
            actor,
            kind="project",
            name=project.name,
            actions=[AuditAction.CREATE_PROJECT],
            resource=project_spec(project.key),
            title_verb="created",
            description=f"Created project {project.name} with environments " + ", ".join(e.key for e in environments),
            current=project_document(project),
        )
        uow.commit()
    return project, environments


def get_project(deps: Deps, *, actor: Actor, key: str) -> tuple[Project, list[Environment]]:
    """The project with the environments the actor may view."""
    authorize_project_read(actor, key)
    with deps.uow(write=False) as uow:
        project = load_project(uow, key)
        environments, _ = uow.environments.find(key)
    return project, visible_environments(actor, environments)


def list_projects(
    deps: Deps, *, actor: Actor, query: ProjectQuery
) -> tuple[list[tuple[Project, list[Environment]]], int]:
    """A page of the projects, without those the actor may not view (``viewProject``); Forbidden when
    the page had some and the actor may view none of them, or when it could view no project at all."""
    authorize_kind(actor, "viewProject", "proj/*")
    with deps.uow(write=False) as uow:
        projects, total = uow.projects.find(query)
        pairs = [(p, uow.environments.find(p.key)[0]) for p in projects]
    shown = [
        (p, visible_environments(actor, e)) for p, e in pairs if permits(actor, "viewProject", resources.project(p.key))
    ]
    if pairs and not shown:
        authorize_project_read(actor, pairs[0][0].key)
    return shown, total - (len(pairs) - len(shown))


_WRITABLE = ("name", "tags", "defaultClientSideAvailability", "includeInSnippetByDefault")


def patch_project(
    deps: Deps, *, actor: Actor, key: str, patch: object, comment: str | None = None
) -> tuple[Project, list[Environment]]:
    """JSON patch on name, tags, defaultClientSideAvailability (and includeInSnippetByDefault). Each
    change is authorized as its action (``updateProjectName``, ``updateTags``, …) on the project."""
    authorize(actor, "viewProject", resources.project(key))
    with deps.uow() as uow:
        project = load_project(uow, key, for_update=True)
        before = project_document(project)
        after = apply_json_patch(before, patch, writable=_WRITABLE)
        actions = _apply_project_document(project, before, after)
        authorize_all(actor, [(a, resources.project(key)) for a in actions])
        if actions:
            project.version += 1
            uow.projects.update(project)
            record_audit(
                uow,
                deps.clock,
                actor,
                kind="project",
                name=project.name,
                actions=actions,
                resource=project_spec(key),
                title_verb="updated",
                description=f"Updated project {project.name}",
                comment=comment,
                previous=before,
                current=project_document(project),
            )
        environments, _ = uow.environments.find(key)
        uow.commit()
    return project, environments


def _apply_project_document(project: Project, before: dict[str, object], after: dict[str, object]) -> list[str]:
    removed = [name for name in _WRITABLE if name not in after]
    if removed:
        raise InvalidRequest(f"{removed[0]} cannot be removed")
    actions: list[str] = []
    if after["name"] != before["name"]:
        if not isinstance(after["name"], str):
            raise InvalidRequest("name must be a string")
        project.name = after["name"]
        actions.append(AuditAction.UPDATE_PROJECT)
    if after["tags"] != before["tags"]:
        project.tags = after["tags"]  # type: ignore[assignment]
        actions.append(AuditAction.UPDATE_PROJECT_TAGS)
    csa_changed = after["defaultClientSideAvailability"] != before["defaultClientSideAvailability"]
    snippet_changed = after["includeInSnippetByDefault"] != before["includeInSnippetByDefault"]
    if csa_changed or snippet_changed:
        project.default_client_side_availability = _parse_csa(after, prefer_csa=csa_changed)
        project.include_in_snippet_by_default = project.default_client_side_availability.using_environment_id
        actions.append(AuditAction.UPDATE_PROJECT_CLIENT_SIDE)
    project.validate()
    return actions


def _parse_csa(doc: dict[str, object], *, prefer_csa: bool) -> ClientSideAvailability:
    raw = doc["defaultClientSideAvailability"]
    if not isinstance(raw, dict) or not all(isinstance(v, bool) for v in raw.values()):
        raise InvalidRequest("defaultClientSideAvailability must be an object of booleans")
    csa = ClientSideAvailability(
        using_mobile_key=raw.get("usingMobileKey", True),
        using_environment_id=raw.get("usingEnvironmentId", False),
    )
    if not prefer_csa:
        snippet = doc["includeInSnippetByDefault"]
        if not isinstance(snippet, bool):
            raise InvalidRequest("includeInSnippetByDefault must be a boolean")
        csa = ClientSideAvailability(using_mobile_key=csa.using_mobile_key, using_environment_id=snippet)
    return csa


def delete_project(deps: Deps, *, actor: Actor, key: str) -> None:
    authorize(actor, "deleteProject", resources.project(key))
    with deps.uow() as uow:
        project = load_project(uow, key, for_update=True)
        environments, _ = uow.environments.find(key)
        uow.projects.delete(project)
        record_audit(
            uow,
            deps.clock,
            actor,
            kind="project",
            name=project.name,
            actions=[AuditAction.DELETE_PROJECT],
            resource=project_spec(key),
            title_verb="deleted",
            description=f"Deleted project {project.name}",
            previous=project_document(project),
        )
        for env in environments:
            uow.publish(EnvironmentChanged(environment_id=env.id, deleted=True))
        uow.commit()
