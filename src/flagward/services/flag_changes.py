"""The one write path for flag changes. PATCH (semantic, JSON and merge patch), copy between
environments, approval apply and scheduled execution all end in ``commit_flag_change``, which gates,
versions, persists, audits and publishes — in the caller's transaction."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from flagward.domain import resources
from flagward.domain.accounts import Actor
from flagward.domain.audit import AuditAction, flag_spec
from flagward.domain.authorization import authorize
from flagward.domain.changes import describe_changes
from flagward.domain.conflicts import replay
from flagward.domain.errors import InstructionError, InvalidRequest
from flagward.domain.events import ItemKind, SdkItemChanged
from flagward.domain.flag_documents import check_patch_paths, flag_from_document
from flagward.domain.flag_validation import check_required_variations, validate_flag
from flagward.domain.flags import Flag
from flagward.domain.governance import PreApproved, stamp_versions
from flagward.domain.instructions import FlagChange, FlagChangeContext, apply_flag_instructions
from flagward.domain.projects import Environment
from flagward.domain.representations import flag_document
from flagward.domain.scheduled_changes import KINDS as SCHEDULE_KINDS
from flagward.domain.triggers import KINDS as TRIGGER_KINDS
from flagward.services import flags as flags_service
from flagward.services._common import load_flag, record_audit, require_project_lock, shares_project_locks
from flagward.services.flag_gate import authorize_flag_write, check_flag_write
from flagward.services.patching import patch_document
from flagward.services.ports import Clock, Deps, UnitOfWork

# Project-level fields that are part of what SDKs receive: changing them is a new version in every
# environment, or SDKs would ignore the update. (An archived flag is served to SDKs as deleted.)
_SDK_VISIBLE_ACTIONS = {
    AuditAction.UPDATE_VARIATIONS,
    AuditAction.UPDATE_CLIENT_SIDE_AVAILABILITY,
    AuditAction.ARCHIVE_FLAG,
}
_FLAG_WRITABLE = (
    "name",
    "description",
    "variations",
    "temporary",
    "tags",
    "maintainerId",
    "maintainerTeamKey",
    "clientSideAvailability",
    "includeInSnippet",
    "customProperties",
    "archived",
    "deprecated",
    "defaults",
    "environments",
)
_FLAG_TESTABLE = ("_version", "key", "kind", "creationDate")


@dataclass(frozen=True)
class FlagPatch:
    kind: str  # "semantic" | "json" | "merge"
    operations: Any
    comment: str | None = None
    environment_key: str | None = None

    def delta(self) -> Any:
        """The request body without its comment: what the audit entry records as ``delta``."""
        if self.kind == "semantic":
            env = {"environmentKey": self.environment_key} if self.environment_key else {}
            return {**env, "instructions": self.operations}
        if self.kind == "merge":
            return {"merge": self.operations}
        return self.operations


def change_context(uow: UnitOfWork, clock: Clock, flag: Flag) -> FlagChangeContext:
    """Lookups the domain needs, resolved lazily inside the caller's transaction. Those that read other
    rows of the project first ``require_project_lock``: what they find is kept still by its exclusive lock."""
    project_key = flag.project_key

    @cache
    def get_flag(key: str) -> Flag | None:
        if key == flag.key:
            return None
        require_project_lock(uow, project_key)
        return uow.flags.get(project_key, key)

    @cache
    def segment_keys(env_key: str) -> frozenset[str]:
        require_project_lock(uow, project_key)
        return frozenset(uow.segments.keys(project_key, env_key))

    def dependents_of(key: str) -> list[tuple[str, str, int]]:
        require_project_lock(uow, project_key)
        return [
            (other.key, env_key, p["variation"])
            for other in uow.flags.list_all(project_key)
            if other.key != key
            for env_key, config in other.environments.items()
            for p in config["prerequisites"]
            if p["key"] == key
        ]

    return FlagChangeContext(
        now=clock.now_ms(),
        environment_keys=frozenset(flag.environments),
        get_flag=get_flag,
        segment_exists=lambda env_key, key: key in segment_keys(env_key),
        member_exists=lambda member_id: uow.members.get(member_id) is not None,
        team_exists=lambda team_key: uow.teams.get(team_key) is not None,
        dependents_of=dependents_of,
    )


def compute_change(flag: Flag, patch: FlagPatch, context: FlagChangeContext) -> FlagChange:
    """What ``patch`` does to ``flag``; raises InvalidRequest / InstructionError / OptimisticLockError."""
    if patch.kind == "semantic":
        return apply_flag_instructions(flag, patch.operations, environment_key=patch.environment_key, context=context)
    document = flag_document(flag)
    patched = patch_document(
        document,
        patch.kind,
        patch.operations,
        writable=_FLAG_WRITABLE,
        testable=_FLAG_TESTABLE,
        check_paths=check_patch_paths,
    )
    after = flag_from_document(patched, flag, now=context.now)
    for field, exists in (("maintainerId", context.member_exists), ("maintainerTeamKey", context.team_exists)):
        value = patched.get(field)
        if value is not None and value != document.get(field) and not exists(value):
            raise InvalidRequest(f"{field} '{value}' does not exist")
    validate_flag(after, context)
    check_required_variations(flag, after, context.dependents_of)
    return describe_changes(flag, after)


def commit_flag_change(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    *,
    before: Flag,
    change: FlagChange,
    comment: str | None,
    approval_request_id: str | None = None,
    approved_environment: str | None = None,
    extra_actions: dict[str, list[str]] | None = None,
    persist: bool = True,
    delta: Any = None,
    pre_approved: PreApproved | None = None,
    effect_authorized: bool = False,
    environments: list[Environment] | None = None,
) -> Flag:
    """Gate, version, persist, audit and publish ``change``. The caller owns the transaction.

    ``approval_request_id`` marks a change made by applying an approved request in
    ``approved_environment``: it satisfies the gate there (not elsewhere) and is recorded on the audit
    entry. ``pre_approved``: a flag trigger's action (``services.triggers`` only). ``effect_authorized``:
    the caller authorized the change otherwise (``check_flag_write``). ``environments``: the project's,
    read in this transaction under the project's lock (else read here). Raises Forbidden, ApprovalRequired.
    """
    found = environments if environments is not None else uow.environments.find(before.project_key)[0]
    check_flag_write(
        uow,
        actor,
        before=before,
        after=change.flag,
        environments=found,
        approved_environment=approved_environment,
        pre_approved=pre_approved,
        effect_authorized=effect_authorized,
    )
    by_key = {e.key: e for e in found}
    after = change.flag
    stamped = list(change.environment_actions)
    if _SDK_VISIBLE_ACTIONS & set(change.flag_actions):
        stamped = list(after.environments)
    stamp_versions(after, stamped, now=clock.now_ms(), changed=change.changed)
    if not persist or not change.changed:
        return after
    uow.flags.update(after, environments=stamped)
    _audit(uow, clock, actor, before, after, change, comment, approval_request_id, extra_actions or {}, delta)
    for env_key in stamped:
        env = by_key[env_key]
        uow.publish(SdkItemChanged(env.id, ItemKind.FLAG, after.key, after.environments[env_key]["version"]))
    return after


def _audit(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    before: Flag,
    after: Flag,
    change: FlagChange,
    comment: str | None,
    approval_request_id: str | None,
    extra_actions: dict[str, list[str]],
    delta: Any,
) -> None:
    accesses: list[tuple[str, str]] = []
    for env_key, actions in change.environment_actions.items():
        resource = flag_spec(after.project_key, after.key, env_key)
        accesses += [(a, resource) for a in [*extra_actions.get(env_key, []), *actions]]
    project_resource = flag_spec(after.project_key, after.key)
    accesses += [(a, project_resource) for a in change.flag_actions]
    resources = list(dict.fromkeys(r for _, r in accesses))
    envs = ", ".join(change.environment_actions) or "all environments"
    record_audit(
        uow,
        clock,
        actor,
        kind="flag",
        name=after.name,
        actions=[],
        accesses=accesses,
        resource=resources[0],
        description=f"Updated flag {after.name} ({after.key}) in {envs}: "
        + ", ".join(dict.fromkeys(a for a, _ in accesses)),
        title_verb="updated",
        comment=comment,
        previous=flag_document(before, list(change.environment_actions)),
        current=flag_document(after, list(change.environment_actions)),
        approval_request_id=approval_request_id,
        extra_resources=resources[1:],
        delta=delta,
    )


def flag_step(context: FlagChangeContext, env_key: str) -> Callable[[Flag, dict[str, Any]], tuple[Flag, bool]]:
    """Apply one instruction; for replaying a request instruction by instruction."""

    def step(flag: Flag, instruction: dict[str, Any]) -> tuple[Flag, bool]:
        if instruction.get("kind") in SCHEDULE_KINDS:
            return flag, False  # acts on a scheduled change, not (yet) on the flag
        if instruction.get("kind") in TRIGGER_KINDS:
            return flag, False  # sets a trigger up: the flag changes only when it fires
        if instruction.get("kind") == "deleteFlag":
            check_deletable(flag, context)
            return flag, True
        change = apply_flag_instructions(flag, [instruction], environment_key=env_key, context=context)
        return change.flag, change.changed

    return step


def check_patch_conflicts(uow: UnitOfWork, clock: Clock, before: Flag, after: Flag) -> None:
    """Refuse (400) a direct change after which an instruction of a pending or scheduled request, or of a
    pending scheduled change, would fail where it applies cleanly today. Those that already conflict
    are not the change's fault."""
    contexts = (change_context(uow, clock, before), change_context(uow, clock, after))
    pending = [
        (f"{r.status} approval request {r.id} ('{r.description}')", r.environment_key, r.instructions)
        for r in uow.approvals.open_for(before.project_key, None, "flag", before.key)
    ] + [
        (f"scheduled change {c.id} (in {c.environment_key})", c.environment_key, c.instructions)
        for c in uow.scheduled_changes.for_flag(before.project_key, None, before.key, pending_only=True)
    ]
    for label, env_key, instructions in pending:
        step_before, step_after = (flag_step(c, env_key) for c in contexts)
        failing_before = {
            json.dumps(c.instruction, sort_keys=True) for c in replay(before, instructions, step_before).conflicts
        }
        for conflict in replay(after, instructions, step_after).conflicts:
            if json.dumps(conflict.instruction, sort_keys=True) not in failing_before:
                raise InvalidRequest(
                    f"This change would make {label} fail: {conflict.reason}. "
                    "Pass ignoreConflicts=true to make it anyway."
                )


@shares_project_locks
def update_flag(
    deps: Deps,
    *,
    actor: Actor,
    project_key: str,
    key: str,
    patch: FlagPatch,
    dry_run: bool = False,
    ignore_conflicts: bool = False,
) -> tuple[Flag, list[Environment]]:
    """PATCH /api/v2/flags/{projectKey}/{featureFlagKey}: all or nothing.

    With ``dry_run`` the flag is returned as it would be and nothing is stored. Raises Forbidden,
    NotFound, InvalidRequest (InstructionError), OptimisticLockError, ApprovalRequired. The change is
    authorized by its effect (``flag_gate.authorize_flag_write``), before its conflicts are looked for.
    """
    authorize(actor, "viewProject", resources.project(project_key))
    if patch.kind == "semantic" and deletes(patch.operations):
        return _delete_flag(deps, actor=actor, project_key=project_key, key=key, dry_run=dry_run)
    with deps.uow() as uow:
        flag = load_flag(uow, project_key, key, for_update=not dry_run)
        change = compute_change(flag, patch, change_context(uow, deps.clock, flag))
        authorize_flag_write(actor, before=flag, after=change.flag, environments=uow.environments.find(project_key)[0])
        if not ignore_conflicts and change.changed:
            check_patch_conflicts(uow, deps.clock, flag, change.flag)
        after = commit_flag_change(
            uow,
            deps.clock,
            actor,
            before=flag,
            change=change,
            comment=patch.comment,
            persist=not dry_run,
            delta=patch.delta(),
        )
        environments = uow.environments.find(project_key)[0]
        if not dry_run:
            uow.commit()
    return after, environments


def check_deletable(flag: Flag, context: FlagChangeContext) -> None:
    """InvalidRequest while other flags use ``flag`` as a prerequisite (they would lose it silently)."""
    dependents = sorted({key for key, _, _ in context.dependents_of(flag.key)})
    if dependents:
        raise InvalidRequest(
            f"Flag '{flag.key}' is a prerequisite of {', '.join(dependents)}; remove those prerequisites first"
        )


def deletes(instructions: object) -> bool:
    """Whether a semantic patch is LaunchDarkly's ``deleteFlag``, which must come alone: deleting is not
    a change that other instructions could follow or be undone with. Raises InstructionError."""
    if not isinstance(instructions, list):
        return False
    kinds = [i.get("kind") if isinstance(i, dict) else None for i in instructions]
    if "deleteFlag" not in kinds:
        return False
    if len(kinds) > 1:
        raise InstructionError(kinds.index("deleteFlag"), "deleteFlag", "deleteFlag must be the only instruction")
    return True


def _delete_flag(
    deps: Deps, *, actor: Actor, project_key: str, key: str, dry_run: bool
) -> tuple[Flag, list[Environment]]:
    """The ``deleteFlag`` instruction: the flag as it was, deleted like DELETE deletes it (gated like
    every write, refused while another flag uses it as a prerequisite)."""
    flag = flags_service.delete_flag(deps, actor=actor, project_key=project_key, key=key, dry_run=dry_run)
    with deps.uow(write=False) as uow:
        environments = uow.environments.find(project_key)[0]
    return flag, environments
