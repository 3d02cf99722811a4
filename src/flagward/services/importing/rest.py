"""Import from LaunchDarkly's REST representations (``flagward import --rest DIR``): projects,
environments (with approval settings), segments and flags, each item through the same write path as
an SDK payload's (``flagward.services.importing.items``)."""

from __future__ import annotations

import functools
from dataclasses import replace
from typing import Any

from flagward.domain import resources
from flagward.domain.accounts import Actor
from flagward.domain.authorization import authorize
from flagward.domain.errors import InvalidRequest
from flagward.domain.flags import Flag
from flagward.domain.import_items import Outcome, Plan, Refusal, prerequisite_cycles, prerequisite_order
from flagward.domain.import_rest import flag_from_rest, segment_from_rest
from flagward.domain.projects import DEFAULT_ENVIRONMENTS, Environment, Project
from flagward.services.approval_settings import patch_settings
from flagward.services.environments import (
    NewEnvironment,
    build_environment,
    create_environment,
    parse_approval_settings,
    patch_environment,
)
from flagward.services.importing.items import (
    REFUSABLE,
    ImportOptions,
    Session,
    Where,
    import_flag,
    import_segment,
    one_item,
)
from flagward.services.importing.sdk import plan_project
from flagward.services.ports import Deps
from flagward.services.projects import NewProject, create_project


def import_rest(
    deps: Deps, *, actor: Actor, files: dict[str, Any], options: ImportOptions, only_project: str | None = None
) -> Plan:
    """Import REST representations (``flagward.domain.import_rest``: relative path -> document) into
    the projects they name, creating projects and environments (with approval settings) when missing.
    ``only_project``: the one project the files may name (``POST /api/v2/projects/{p}/import``); a file
    of another is refused. Raises Forbidden (not allowed to import into one of the projects)."""
    if only_project is not None:
        authorize(actor, "importFlags", resources.project(only_project))
    session = Session(deps, actor, options, Plan(), source="REST representations", with_metadata=True)
    by_project: dict[str, dict[str, Any]] = {}
    for path, doc in sorted(files.items()):
        parts = path.removesuffix(".json").split("/")
        if _PARTS.get(parts[0]) != len(parts):
            session.plan.refuse(Refusal(path, path, "is not projects/P.json, flags/P/F.json or segments/P/E/S.json"))
            continue
        if only_project is not None and parts[1] != only_project:
            session.plan.refuse(Refusal(path, path, f"is of project '{parts[1]}', not '{only_project}'"))
            continue
        by_project.setdefault(parts[1], {})[path] = doc
    for project_key in by_project:
        authorize(actor, "importFlags", resources.project(project_key))
    for project_key, project_files in by_project.items():
        _import_rest_project(session, project_key, project_files)
    return session.plan


_PARTS = {"projects": 2, "flags": 3, "segments": 4}  # projects/P, flags/P/F, segments/P/E/S


def _import_rest_project(session: Session, project_key: str, files: dict[str, Any]) -> None:
    now = session.deps.clock.now_ms()
    project_doc = files.get(f"projects/{project_key}.json")
    ensure_rest_project(session, project_key, project_doc)
    for path, doc in files.items():
        parts = path.removesuffix(".json").split("/")
        if parts[0] != "segments":
            continue
        env_key, key = parts[2], parts[3]
        where = Where(f"segments/{project_key}/{env_key}/{key}", path, sep=":")
        try:
            parsed = segment_from_rest(doc, key=key, project_key=project_key, env_key=env_key, where=path, now=now)
        except InvalidRequest as error:
            session.plan.refuse(where.refusal(error))
            continue
        one_item(session, where, functools.partial(import_segment, session, segment=parsed.segment))
        if not parsed.salt_given and any("weight" in r for r in parsed.segment.rules):
            session.plan.add(where.item, Outcome.UNCHANGED, _NO_SEGMENT_SALT)
    flags: dict[str, Flag] = {}
    maintainers: dict[str, str | None] = {}
    for path, doc in files.items():
        parts = path.removesuffix(".json").split("/")
        if parts[0] != "flags":
            continue
        key = parts[2]
        try:
            parsed_flag = flag_from_rest(doc, key=key, project_key=project_key, where=path, now=now)
        except InvalidRequest as error:
            session.plan.refuse(Where(f"flags/{project_key}/{key}", path, sep=":").refusal(error))
            continue
        flags[key], maintainers[key] = parsed_flag.flag, parsed_flag.maintainer_email
    for env_key in {e for f in flags.values() for e in f.environments}:
        for key, cycle in prerequisite_cycles(flags, env_key).items():
            flags.pop(key, None)
            reason = f"form a cycle: {' → '.join(cycle)}"
            path = f"flags/{project_key}/{key}.json:environments.{env_key}.prerequisites"
            session.plan.refuse(Refusal(f"flags/{project_key}/{key}", path, reason))
    for key in prerequisite_order(flags):
        where = Where(f"flags/{project_key}/{key}", f"flags/{project_key}/{key}.json", sep=":")
        work = functools.partial(import_flag, session, imported=flags[key], maintainer_email=maintainers[key])
        one_item(session, where, work)


_NO_SEGMENT_SALT = (
    "note: LaunchDarkly's REST representation has no salt; its weighted rules bucket anew "
    "(import the environment's SDK payload with --update to keep their buckets)"
)


def ensure_rest_project(session: Session, project_key: str, doc: Any) -> None:
    """The project and its environments as ``doc`` (a Project with expanded environments) describes
    them; environments created here also get the document's approval settings."""
    deps, dry_run = session.deps, session.options.dry_run
    doc = doc if isinstance(doc, dict) else {}
    envs = (doc.get("environments") or {}).get("items") if isinstance(doc.get("environments"), dict) else []
    env_docs = [e for e in envs or [] if isinstance(e, dict) and isinstance(e.get("key"), str)]
    with deps.uow(write=False) as uow:
        project = uow.projects.get(project_key)
        stored = uow.environments.find(project_key)[0] if project else []
    existing = {e.key for e in stored}
    specs = [_environment_spec(e) for e in env_docs if e["key"] not in existing]
    try:
        if project is None:
            session.plan.add(f"projects/{project_key}", Outcome.CREATE)
            new = NewProject(
                key=project_key,
                name=doc.get("name") or project_key,
                tags=list(doc.get("tags") or []),
                environments=specs or None,
            )
            if not dry_run:
                create_project(deps, actor=session.actor, new=new)
            else:
                project = plan_project(new, now=deps.clock.now_ms())
                specs = specs or [NewEnvironment(key=k, name=n, color=c) for k, n, c in DEFAULT_ENVIRONMENTS]
        else:
            for spec in specs:
                if not dry_run:
                    create_environment(deps, actor=session.actor, project_key=project_key, new=spec)
        for spec in specs:
            session.plan.add(f"environments/{project_key}/{spec.key}", Outcome.CREATE)
            env_doc = next(e for e in env_docs if e["key"] == spec.key)
            settings = env_doc.get("approvalSettings")
            if not dry_run and isinstance(settings, dict):
                _approval_settings(session, project_key, spec.key, settings)
            by_kind = env_doc.get("resourceApprovalSettings")
            segment_settings = by_kind.get("segment") if isinstance(by_kind, dict) else None
            if not dry_run and isinstance(segment_settings, dict):
                _segment_approval_settings(session, project_key, spec.key, segment_settings)
        if dry_run:  # what the items' checks will see (``Session.planned``), approval settings included
            assert project is not None
            planned = [_planned_environment(session, project, spec, env_docs) for spec in specs]
            session.planned[project_key] = stored + planned
    except REFUSABLE as error:
        session.plan.refuse(Refusal(f"projects/{project_key}", f"projects/{project_key}.json", error.message))


def _planned_environment(
    session: Session, project: Project, spec: NewEnvironment, env_docs: list[dict[str, Any]]
) -> Environment:
    """The environment a (not dry) run would create from ``spec``, with the document's approval settings."""
    env = build_environment(project, spec, now=session.deps.clock.now_ms())
    env_doc = next((e for e in env_docs if e["key"] == spec.key), {})
    settings = env_doc.get("approvalSettings")
    if isinstance(settings, dict):
        given = {name: settings[name] for name in _APPROVAL_FIELDS if name in settings}
        env = replace(env, approval_settings=parse_approval_settings(given))
    by_kind = env_doc.get("resourceApprovalSettings")
    segment_settings = by_kind.get("segment") if isinstance(by_kind, dict) else None
    if isinstance(segment_settings, dict):
        given = {name: segment_settings[name] for name in _APPROVAL_FIELDS if name in segment_settings}
        env = replace(env, segment_approval_settings=parse_approval_settings(given))
    return env


def _environment_spec(doc: dict[str, Any]) -> NewEnvironment:
    return NewEnvironment(
        key=doc["key"],
        name=doc.get("name") or doc["key"],
        color=doc.get("color") or "7B42BC",
        default_ttl=doc.get("defaultTtl") or 0,
        secure_mode=bool(doc.get("secureMode")),
        default_track_events=bool(doc.get("defaultTrackEvents")),
        confirm_changes=bool(doc.get("confirmChanges")),
        require_comments=bool(doc.get("requireComments")),
        tags=list(doc.get("tags") or []),
        critical=bool(doc.get("critical")),
    )


_APPROVAL_FIELDS = (
    "required",
    "bypassApprovalsForPendingChanges",
    "minNumApprovals",
    "canReviewOwnRequest",
    "canApplyDeclinedChanges",
    "requiredApprovalTags",
    "serviceKind",
    "serviceConfig",
)


def _segment_approval_settings(session: Session, project_key: str, env_key: str, settings: dict[str, Any]) -> None:
    """LaunchDarkly's ``resourceApprovalSettings.segment``: the environment's segment approval settings."""
    body = {name: settings[name] for name in _APPROVAL_FIELDS if name in settings}
    body.update(environmentKey=env_key, resourceKind="segment")
    patch_settings(session.deps, actor=session.actor, project_key=project_key, body=body)


def _approval_settings(session: Session, project_key: str, env_key: str, settings: dict[str, Any]) -> None:
    ops = [
        {"op": "replace", "path": f"/approvalSettings/{name}", "value": settings[name]}
        for name in _APPROVAL_FIELDS
        if name in settings
    ]
    patch_environment(session.deps, actor=session.actor, project_key=project_key, key=env_key, patch=ops)
