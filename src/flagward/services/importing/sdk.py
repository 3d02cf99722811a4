"""Import one environment's SDK payload (``flagward import --project P --environment E FILE``,
``POST /api/v2/projects/{p}/import``): segments first (flags name them), then flags with their
prerequisites first, each item through ``flagward.services.importing.items``."""

from __future__ import annotations

import functools
from typing import Any

from flagward.domain import resources
from flagward.domain.accounts import Actor
from flagward.domain.authorization import authorize
from flagward.domain.ids import new_object_id, validate_key
from flagward.domain.import_items import (
    Outcome,
    ParsedEnvironment,
    Plan,
    Refusal,
    prerequisite_cycles,
    prerequisite_order,
    segment_order,
)
from flagward.domain.import_sdk import parse_payload
from flagward.domain.projects import DEFAULT_ENVIRONMENTS, Project
from flagward.services.environments import NewEnvironment, build_environment, create_environment
from flagward.services.importing.items import ImportOptions, Session, Where, import_flag, import_segment, one_item
from flagward.services.ports import Deps
from flagward.services.projects import NewProject, create_project


def import_environment(
    deps: Deps, *, actor: Actor, project_key: str, env_key: str, payload: Any, options: ImportOptions
) -> Plan:
    """Import one environment's SDK payload into ``project_key``/``env_key`` (both created when
    missing). Returns the plan: each item created, updated, unchanged or refused (with path and reason).
    Raises Forbidden (not allowed to import) and InvalidRequest (not an SDK payload at all)."""
    authorize(actor, "importFlags", resources.project(project_key))
    session = Session(deps, actor, options, Plan(), source="an SDK payload")
    parsed = parse_payload(payload, project_key=project_key, env_key=env_key, now=deps.clock.now_ms())
    ensure_environment(session, project_key, env_key)
    import_parsed(session, project_key, env_key, parsed)
    return session.plan


def import_parsed(session: Session, project_key: str, env_key: str, parsed: ParsedEnvironment) -> None:
    """Segments first (flags name them), then flags with their prerequisites first."""
    for refusal in parsed.refusals:
        session.plan.refuse(refusal)
    for item in parsed.skipped:
        session.plan.add(item, Outcome.UNCHANGED, "deleted in the source: skipped")
    for key in segment_order(parsed.segments):
        segment = parsed.segments[key]
        where = Where(f"segments/{key}", f"segments.{key}")
        one_item(session, where, functools.partial(import_segment, session, segment=segment))
    for key, cycle in prerequisite_cycles(parsed.flags, env_key).items():
        del parsed.flags[key]
        reason = f"form a cycle: {' → '.join(cycle)}"
        session.plan.refuse(Refusal(f"flags/{key}", f"flags.{key}.prerequisites", reason))
    for key in prerequisite_order(parsed.flags):
        flag = parsed.flags[key]
        where = Where(f"flags/{key}", f"flags.{key}", env_key)
        one_item(session, where, functools.partial(import_flag, session, imported=flag))


def ensure_environment(session: Session, project_key: str, env_key: str) -> None:
    """Create the project (with LaunchDarkly's default environments) and the environment when missing;
    in a dry run, plan them (``Session.planned``)."""
    deps, dry_run = session.deps, session.options.dry_run
    with deps.uow(write=False) as uow:
        project = uow.projects.get(project_key)
        environments = uow.environments.find(project_key)[0] if project else []
    new_project = NewProject(key=project_key, name=project_key)
    new_env = NewEnvironment(key=env_key, name=env_key, color="7B42BC")
    if project is None:
        session.plan.add(f"projects/{project_key}", Outcome.CREATE)
        if not dry_run:
            create_project(deps, actor=session.actor, new=new_project)
            with deps.uow(write=False) as uow:
                environments = uow.environments.find(project_key)[0]
        else:
            project = plan_project(new_project, now=deps.clock.now_ms())
            specs = [NewEnvironment(key=k, name=n, color=c) for k, n, c in DEFAULT_ENVIRONMENTS]
            environments = [build_environment(project, spec, now=project.creation_date) for spec in specs]
    if env_key not in {e.key for e in environments}:
        session.plan.add(f"environments/{project_key}/{env_key}", Outcome.CREATE)
        if not dry_run:
            create_environment(deps, actor=session.actor, project_key=project_key, new=new_env)
        else:
            assert project is not None
            environments.append(build_environment(project, new_env, now=deps.clock.now_ms()))
    if dry_run:
        session.planned[project_key] = environments


def plan_project(new: NewProject, *, now: int) -> Project:
    """The project ``create_project`` would create, for a dry run's checks. Raises InvalidRequest."""
    validate_key(new.key, field="key")
    return Project(id=new_object_id(), key=new.key, name=new.name, creation_date=now, tags=list(new.tags))
