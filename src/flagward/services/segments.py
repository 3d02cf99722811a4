"""Segments: create, read, patch (semantic, JSON, merge), delete; per environment."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

from flagward.domain import resources
from flagward.domain.accounts import Actor
from flagward.domain.audit import AuditAction, segment_spec
from flagward.domain.authorization import authorize, authorize_all, permits
from flagward.domain.clauses import segment_keys
from flagward.domain.errors import Conflict, Forbidden, InvalidRequest, NotFound
from flagward.domain.events import ItemKind, SdkItemChanged
from flagward.domain.ids import new_object_id, new_salt, validate_key
from flagward.domain.projects import Environment
from flagward.domain.segment_changes import (
    SEGMENT_WRITABLE_FIELDS,
    SegmentChange,
    SegmentChangeContext,
    apply_segment_instructions,
    check_segment_patch_paths,
    describe_segment_changes,
    segment_document,
    segment_from_document,
    validate_segment,
)
from flagward.domain.segments import Segment
from flagward.services._common import load_environment, load_project, record_audit
from flagward.services.authz import authorize_environment_read, authorize_environment_scope, segment_resource
from flagward.services.flag_changes import FlagPatch
from flagward.services.patching import patch_document
from flagward.services.ports import Clock, Deps, Page, UnitOfWork


@dataclass(frozen=True)
class NewSegment:
    key: str
    name: str
    description: str = ""
    tags: list[str] = field(default_factory=list)
    unbounded: bool = False


def load_segment(uow: UnitOfWork, project_key: str, env_key: str, key: str, *, for_update: bool = False) -> Segment:
    """The segment; ``for_update`` locks its project first, like ``load_flag`` (a segment's checks read
    the flags and segments that use it, or that it uses)."""
    if for_update:
        load_project(uow, project_key, for_update=True)
    segment = uow.segments.get(project_key, env_key, key, for_update=for_update)
    if segment is None:
        raise NotFound(f"Unknown segment '{key}' in environment '{env_key}'")
    return segment


def segment_context(uow: UnitOfWork, clock: Clock, segment: Segment) -> SegmentChangeContext:
    project_key, env_key = segment.project_key, segment.environment_key

    @cache
    def other(key: str) -> Segment | None:
        return None if key == segment.key else uow.segments.get(project_key, env_key, key)

    def rules_of(key: str) -> list[Any]:
        found = other(key)
        return list(found.rules) if found else []

    return SegmentChangeContext(
        now=clock.now_ms(), segment_exists=lambda key: other(key) is not None, segment_rules_of=rules_of
    )


def create_segment(
    deps: Deps, *, actor: Actor, project_key: str, env_key: str, new: NewSegment
) -> tuple[Segment, Environment]:
    """Create an empty segment (not gated by approvals, as in LaunchDarkly). Raises Conflict."""
    authorize(actor, "viewProject", resources.project(project_key))
    validate_key(new.key)
    if not isinstance(new.name, str) or not new.name.strip():
        raise InvalidRequest("name is required")
    if new.unbounded:
        raise InvalidRequest("unbounded (big) segments are not supported")
    with deps.uow() as uow:
        env = load_environment(uow, project_key, env_key)
        if uow.segments.get(project_key, env_key, new.key) is not None:
            raise Conflict(f"A segment with key '{new.key}' already exists in environment '{env_key}'")
        now = deps.clock.now_ms()
        segment = Segment(
            id=new_object_id(),
            project_key=project_key,
            environment_key=env_key,
            key=new.key,
            name=new.name,
            creation_date=now,
            last_modified=now,
            salt=new_salt(),
            description=new.description or "",
            tags=list(new.tags),
            version=uow.tombstones.version(env.id, ItemKind.SEGMENT, new.key) + 1,
        )
        authorize(actor, "createSegment", segment_resource(segment, env))
        uow.segments.add(segment)
        record_audit(
            uow,
            deps.clock,
            actor,
            kind="segment",
            name=segment.name,
            actions=[AuditAction.CREATE_SEGMENT],
            resource=segment_spec(project_key, env_key, segment.key),
            title_verb="created",
            description=f"Created segment {segment.name} ({segment.key})",
            current=segment_document(segment),
        )
        uow.publish(SdkItemChanged(env.id, ItemKind.SEGMENT, segment.key, segment.version))
        uow.commit()
    return segment, env


def get_segment(deps: Deps, *, actor: Actor, project_key: str, env_key: str, key: str) -> tuple[Segment, list[str]]:
    """The segment and the keys of the flags whose rules use it in this environment."""
    authorize_environment_scope(actor, project_key, env_key)
    with deps.uow(write=False) as uow:
        authorize_environment_read(actor, load_environment(uow, project_key, env_key))
        segment = load_segment(uow, project_key, env_key, key)
        return segment, flags_using(uow, segment)


def list_segments(
    deps: Deps, *, actor: Actor, project_key: str, env_key: str, query: str | None, page: Page
) -> tuple[list[Segment], int]:
    authorize_environment_scope(actor, project_key, env_key)
    with deps.uow(write=False) as uow:
        authorize_environment_read(actor, load_environment(uow, project_key, env_key))
        return uow.segments.find(project_key, env_key, query, page)


def flags_using(uow: UnitOfWork, segment: Segment) -> list[str]:
    return sorted(
        flag.key
        for flag in uow.flags.list_all(segment.project_key)
        if segment.environment_key in flag.environments
        and any(
            segment.key in segment_keys(rule["clauses"]) for rule in flag.environments[segment.environment_key]["rules"]
        )
    )


def compute_segment_change(segment: Segment, patch: FlagPatch, context: SegmentChangeContext) -> SegmentChange:
    if patch.kind == "semantic":
        return apply_segment_instructions(segment, patch.operations, context=context)
    patched = patch_document(
        segment_document(segment),
        patch.kind,
        patch.operations,
        writable=SEGMENT_WRITABLE_FIELDS,
        testable=("version", "key"),
        check_paths=check_segment_patch_paths,
    )
    after = segment_from_document(patched, segment)
    validate_segment(after, context)
    return describe_segment_changes(segment, after)


def check_segment_gate(
    actor: Actor, env: Environment, segment: Segment, change: SegmentChange, *, approved: bool
) -> None:
    """Targeting changes to a segment in an environment whose segment approvals are required need an
    approved request, unless the actor may bypass (LaunchDarkly answers 403 'approval is required')."""
    if approved or not change.targeting_changed:
        return
    if permits(actor, "bypassRequiredSegmentApproval", segment_resource(segment, env)):
        return
    if env.segment_approval_settings.applies_to(segment.tags):
        raise Forbidden("approval is required")


def commit_segment_change(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    env: Environment,
    *,
    before: Segment,
    change: SegmentChange,
    comment: str | None,
    approval_request_id: str | None = None,
    delta: Any = None,
) -> Segment:
    """Gate, version, persist, audit and publish a segment change, in the caller's transaction.
    ``delta`` is the request body that made it, for the audit entry."""
    check_segment_gate(actor, env, before, change, approved=approval_request_id is not None)
    after = change.segment
    if not change.changed:
        return after
    after.version += 1
    after.last_modified = clock.now_ms()
    uow.segments.update(after)
    record_audit(
        uow,
        clock,
        actor,
        kind="segment",
        name=after.name,
        actions=change.actions,
        resource=segment_spec(after.project_key, after.environment_key, after.key),
        title_verb="updated",
        description=f"Updated segment {after.name} ({after.key}): " + ", ".join(change.actions),
        comment=comment,
        previous=segment_document(before),
        current=segment_document(after),
        approval_request_id=approval_request_id,
        delta=delta,
    )
    uow.publish(SdkItemChanged(env.id, ItemKind.SEGMENT, after.key, after.version))
    return after


def patch_segment(
    deps: Deps,
    *,
    actor: Actor,
    project_key: str,
    env_key: str,
    key: str,
    patch: FlagPatch,
    dry_run: bool = False,
) -> Segment:
    """Change a segment; each action the change performs (``SegmentChange.actions``) is authorized on
    the segment, with its tags before and after the change."""
    authorize(actor, "viewProject", resources.project(project_key))
    with deps.uow() as uow:
        env = load_environment(uow, project_key, env_key)
        segment = load_segment(uow, project_key, env_key, key, for_update=True)
        change = compute_segment_change(segment, patch, segment_context(uow, deps.clock, segment))
        authorize_segment_change(actor, env, segment, change)
        if dry_run:
            return change.segment
        after = commit_segment_change(
            uow, deps.clock, actor, env, before=segment, change=change, comment=patch.comment, delta=patch.delta()
        )
        uow.commit()
    return after


def authorize_segment_change(actor: Actor, env: Environment, before: Segment, change: SegmentChange) -> None:
    """Forbidden unless the actor may perform each of the change's actions on the segment as it was and
    as it will be (so a change of tags cannot carry a segment out of, or into, someone's reach)."""
    targets = dict.fromkeys([segment_resource(before, env), segment_resource(change.segment, env)])
    authorize_all(actor, [(a, r) for a in dict.fromkeys(change.actions) for r in targets])
    if not change.actions:  # a change of nothing still answers the segment: viewing it must be allowed
        authorize_environment_read(actor, env)


def delete_segment(deps: Deps, *, actor: Actor, project_key: str, env_key: str, key: str) -> None:
    """Delete a segment; refused (400, naming them) while flag rules or other segments use it."""
    authorize(actor, "viewProject", resources.project(project_key))
    with deps.uow() as uow:
        env = load_environment(uow, project_key, env_key)
        segment = load_segment(uow, project_key, env_key, key, for_update=True)
        authorize(actor, "deleteSegment", segment_resource(segment, env))
        if env.segment_approval_settings.applies_to(segment.tags) and not permits(
            actor, "bypassRequiredSegmentApproval", segment_resource(segment, env)
        ):
            # Deleting removes the segment from what SDKs are served, like any targeting change.
            raise Forbidden("approval is required")
        users = flags_using(uow, segment)
        if users:
            raise InvalidRequest(f"Segment '{key}' is used by flags {', '.join(users)}; remove those rules first")
        segments, _ = uow.segments.find(project_key, env_key, None, None)
        nesting = [
            s.key for s in segments if s.key != key and key in segment_keys([c for r in s.rules for c in r["clauses"]])
        ]
        if nesting:
            raise InvalidRequest(f"Segment '{key}' is used by segments {', '.join(nesting)}")
        uow.approvals.delete_for_resource(project_key, "segment", key)
        for expiring in uow.expiring_targets.for_resource(project_key, env_key, "segment", key):
            uow.expiring_targets.delete(expiring)
        uow.segments.delete(segment)
        uow.tombstones.record(env.id, ItemKind.SEGMENT, key, segment.version + 1)
        record_audit(
            uow,
            deps.clock,
            actor,
            kind="segment",
            name=segment.name,
            actions=[AuditAction.DELETE_SEGMENT],
            resource=segment_spec(project_key, env_key, key),
            title_verb="deleted",
            description=f"Deleted segment {segment.name} ({key})",
            previous=segment_document(segment),
        )
        uow.publish(SdkItemChanged(env.id, ItemKind.SEGMENT, key, segment.version + 1, deleted=True))
        uow.commit()
