"""Export (``flagward export``, ``flagward backup`` for PostgreSQL without pg_dump): what a project holds,
in LaunchDarkly's SDK payload and REST formats (``flagward.domain.export``). Read-only; one read
transaction per project, so each project's files are consistent with themselves."""

from __future__ import annotations

from typing import Any

from flagward.domain import resources
from flagward.domain.accounts import Actor
from flagward.domain.authorization import authorize
from flagward.domain.export import rest_files, sdk_payload
from flagward.services._common import load_environment, load_project
from flagward.services.ports import Deps, Page, ProjectQuery


def project_keys(deps: Deps, *, actor: Actor) -> list[str]:
    """Every project's key, for exporting everything."""
    keys: list[str] = []
    with deps.uow(write=False) as uow:
        while True:
            found, total = uow.projects.find(ProjectQuery(page=Page(limit=100, offset=len(keys))))
            keys += [p.key for p in found]
            if not found or len(keys) >= total:
                break
    for key in keys:
        authorize(actor, "viewProject", resources.project(key))
    return keys


def environment_keys(deps: Deps, *, actor: Actor, project_key: str) -> list[str]:
    authorize(actor, "viewProject", resources.project(project_key))
    with deps.uow(write=False) as uow:
        load_project(uow, project_key)
        return [e.key for e in uow.environments.find(project_key)[0]]


def export_environment(deps: Deps, *, actor: Actor, project_key: str, env_key: str) -> dict[str, Any]:
    """One environment's SDK payload. Raises NotFound, Forbidden."""
    authorize(actor, "viewProject", resources.project(project_key))
    with deps.uow(write=False) as uow:
        load_environment(uow, project_key, env_key)
        flags = uow.flags.list_all(project_key)
        segments, _ = uow.segments.find(project_key, env_key, None, None)
    return sdk_payload(flags, segments, env_key)


def export_rest(deps: Deps, *, actor: Actor, project_key: str) -> dict[str, dict[str, Any]]:
    """The project's REST documents by relative path (``flagward.domain.export.rest_files``)."""
    authorize(actor, "viewProject", resources.project(project_key))
    with deps.uow(write=False) as uow:
        project = load_project(uow, project_key)
        environments, _ = uow.environments.find(project_key)
        flags = uow.flags.list_all(project_key)
        segments = {e.key: uow.segments.find(project_key, e.key, None, None)[0] for e in environments}
    return rest_files(project, environments, flags, segments)
