"""Expiring targets of flags and segments (LaunchDarkly's ``expiring-targets`` API) and their removal
at their date by the scheduler, through the write path. The rules are in ``domain.expiring_targets``.

A PATCH follows LaunchDarkly: each instruction succeeds or is reported in ``errors`` (200 either way);
the successful ones are stored together, in one transaction, with one audit entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flagward.domain import expiring_targets as domain
from flagward.domain import resources
from flagward.domain.accounts import Actor, ActorKind, Role
from flagward.domain.audit import flag_spec, segment_spec
from flagward.domain.authorization import authorize, permits
from flagward.domain.errors import (
    ApprovalRequired,
    DomainError,
    Forbidden,
    InvalidRequest,
    NotFound,
)
from flagward.domain.expiring_targets import ExpiringTarget, ExpiryInstruction
from flagward.domain.flags import Flag
from flagward.domain.instructions import apply_flag_instructions
from flagward.domain.projects import Environment
from flagward.domain.segment_changes import apply_segment_instructions
from flagward.domain.segment_validation import target_keys
from flagward.domain.segments import Segment
from flagward.services._common import load_environment, load_flag, record_audit, run_each
from flagward.services.authz import authorize_environment_read
from flagward.services.flag_changes import change_context, commit_flag_change
from flagward.services.flag_gate import approval_required_in, can_bypass_approval
from flagward.services.ports import Deps, UnitOfWork
from flagward.services.segments import commit_segment_change, load_segment, segment_context

ACTION = "updateExpiringTargets"


@dataclass
class PatchResult:
    items: list[ExpiringTarget]
    total: int
    errors: list[tuple[int, str]] = field(default_factory=list)


@dataclass(frozen=True)
class _Subject:
    """The flag or segment whose targets expire, in one environment."""

    kind: str
    project_key: str
    env_key: str
    key: str


def _flag_variation_ids(flag: Flag) -> dict[str, int]:
    return {v["_id"]: i for i, v in enumerate(flag.variations)}


def _flag_targets(flag: Flag, env_key: str, context_kind: str, variation: int) -> list[str]:
    config = flag.environments[env_key]
    entries = config["targets"] if context_kind == "user" else config["contextTargets"]
    return [
        key
        for t in entries
        if t.get("contextKind", "user") == context_kind and t["variation"] == variation
        for key in t["values"]
    ]


def _check_targeted_flag(flag: Flag, env_key: str, step: ExpiryInstruction) -> None:
    variation = _flag_variation_ids(flag).get(step.variation_id or "")
    if variation is None:
        raise InvalidRequest(f"unknown variationId '{step.variation_id}'")
    if step.context_key not in _flag_targets(flag, env_key, step.context_kind, variation):
        raise InvalidRequest(
            f"the flag does not target {step.context_kind} '{step.context_key}' with that variation; "
            "add the target first"
        )


def _check_targeted_segment(segment: Segment, step: ExpiryInstruction) -> None:
    if step.context_key not in target_keys(segment, str(step.target_type), step.context_kind):
        raise InvalidRequest(
            f"the segment's {step.target_type} targets do not have {step.context_kind} '{step.context_key}'"
        )


def _apply(
    existing: list[ExpiringTarget], step: ExpiryInstruction, subject: _Subject, *, now: int, approved: bool
) -> tuple[ExpiringTarget | None, ExpiringTarget | None]:
    """(added or updated, removed). Raises InvalidRequest."""
    found = next(
        (
            t
            for t in existing
            if (t.context_kind, t.context_key) == (step.context_kind, step.context_key)
            and (subject.kind == domain.FLAG or t.target_type == step.target_type)
        ),
        None,
    )
    if step.kind == "addExpiringTarget":
        if found is not None:
            raise InvalidRequest(
                f"{step.context_kind} '{step.context_key}' already has an expiry; use updateExpiringTarget"
            )
        return domain.new_expiring_target(
            project_key=subject.project_key,
            environment_key=subject.env_key,
            resource_kind=subject.kind,
            resource_key=subject.key,
            context_kind=step.context_kind,
            context_key=step.context_key,
            expiration_date=int(step.value or 0),
            creation_date=now,
            variation_id=step.variation_id,
            target_type=step.target_type,
            approved=approved,
        ), None
    if found is None:
        raise InvalidRequest(f"{step.context_kind} '{step.context_key}' has no expiry")
    if step.version is not None and step.version != found.version:
        raise InvalidRequest(f"the expiry is at version {found.version}, not {step.version}")
    if step.kind == "removeExpiringTarget":
        return None, found
    found.expiration_date = int(step.value or 0)
    found.variation_id = step.variation_id or found.variation_id
    found.approved, found.failure_reason = approved, None
    found.version += 1
    return found, None


def _load_subject(uow: UnitOfWork, subject: _Subject, *, for_update: bool) -> tuple[Environment, Flag | Segment]:
    env = load_environment(uow, subject.project_key, subject.env_key)
    if subject.kind == domain.FLAG:
        flag = load_flag(uow, subject.project_key, subject.key, for_update=for_update)
        if env.key not in flag.environments:
            raise NotFound(f"Unknown environment '{env.key}' for flag '{flag.key}'")
        return env, flag
    return env, load_segment(uow, subject.project_key, subject.env_key, subject.key, for_update=for_update)


def _resource(env: Environment, target: Flag | Segment) -> str:
    if isinstance(target, Flag):
        return resources.flag(target.project_key, target.key, target.tags, env_key=env.key, env_tags=env.tags)
    return resources.segment(target.project_key, env.key, target.key, target.tags, env_tags=env.tags)


def _gated(uow: UnitOfWork, actor: Actor, env: Environment, target: Flag | Segment) -> bool:
    """Whether approval is required here (then only those who may bypass it set expiries, so an expiry
    set here is pre-approved). Raises ApprovalRequired (flags, 405) / Forbidden (segments, 403)."""
    if isinstance(target, Flag):
        if env.key not in approval_required_in(uow, target, uow.environments.find(target.project_key)[0]):
            return False
        if not can_bypass_approval(actor, target, env):
            raise ApprovalRequired(f"Flag configuration updates require approval: action '{ACTION}' not allowed")
        return True
    if not env.segment_approval_settings.applies_to(target.tags):
        return False
    if not permits(actor, "bypassRequiredSegmentApproval", _resource(env, target)):
        raise Forbidden("approval is required")
    return True


def get_expiring(
    deps: Deps, *, actor: Actor, kind: str, project_key: str, key: str, env_key: str
) -> list[ExpiringTarget]:
    """GET …/expiring-targets/{env}: soonest first. Raises NotFound, Forbidden."""
    subject = _Subject(kind, project_key, env_key, key)
    authorize(actor, "viewProject", resources.project(project_key))
    with deps.uow(write=False) as uow:
        env, _ = _load_subject(uow, subject, for_update=False)
        authorize_environment_read(actor, env)
        return uow.expiring_targets.for_resource(project_key, env_key, kind, key)


def patch_expiring(
    deps: Deps,
    *,
    actor: Actor,
    kind: str,
    project_key: str,
    key: str,
    env_key: str,
    instructions: object,
    comment: str | None = None,
) -> PatchResult:
    """PATCH …/expiring-targets/{env}. Raises NotFound, Forbidden, ApprovalRequired, InvalidRequest (not a
    non-empty list of instructions); each instruction that cannot apply is in ``errors``."""
    if not isinstance(instructions, list) or not instructions:
        raise InvalidRequest("instructions must be a non-empty list")
    subject = _Subject(kind, project_key, env_key, key)
    now = deps.clock.now_ms()
    with deps.uow() as uow:
        env, target = _load_subject(uow, subject, for_update=True)
        authorize(actor, ACTION, _resource(env, target))
        approved = _gated(uow, actor, env, target)
        existing = uow.expiring_targets.for_resource(project_key, env_key, kind, key)
        errors: list[tuple[int, str]] = []
        changed: list[str] = []
        for index, raw in enumerate(instructions):
            try:
                step = domain.parse_instruction(raw, segment=kind == domain.SEGMENT, now=now)
                if step.kind != "removeExpiringTarget":
                    if isinstance(target, Flag):
                        _check_targeted_flag(target, env_key, step)
                    else:
                        _check_targeted_segment(target, step)
                saved, removed = _apply(existing, step, subject, now=now, approved=approved)
            except InvalidRequest as exc:
                errors.append((index, exc.message))
                continue
            if removed is not None:
                existing.remove(removed)
                uow.expiring_targets.delete(removed)
            elif saved is not None and saved not in existing:
                existing.append(saved)
                uow.expiring_targets.add(saved)
            elif saved is not None:
                uow.expiring_targets.update(saved)
            changed.append(step.kind)
        if changed:
            _audit(uow, deps, actor, subject, target, changed, comment)
        uow.commit()
    items = sorted(existing, key=lambda t: (t.expiration_date, t.id))
    return PatchResult(items=items, total=len(instructions), errors=errors)


def _audit(
    uow: UnitOfWork,
    deps: Deps,
    actor: Actor,
    subject: _Subject,
    target: Flag | Segment,
    kinds: list[str],
    comment: str | None,
) -> None:
    spec = (
        flag_spec(subject.project_key, subject.key, subject.env_key)
        if subject.kind == domain.FLAG
        else segment_spec(subject.project_key, subject.env_key, subject.key)
    )
    record_audit(
        uow,
        deps.clock,
        actor,
        kind=subject.kind,
        name=target.name,
        actions=[ACTION],
        resource=spec,
        description=f"Updated the expiring targets of {subject.kind} {target.name} ({subject.key}) in "
        f"{subject.env_key}: {', '.join(dict.fromkeys(kinds))}",
        title_verb="updated the expiring targets of",
        comment=comment,
    )


# --- removal at the date --------------------------------------------------------------------------


def _scheduler() -> Actor:
    return Actor(kind=ActorKind.SYSTEM, role=Role.OWNER, token_name="scheduler")


def run_due(deps: Deps, *, limit: int = 20) -> list[str]:
    """Remove the targets whose expiry has come, each in its own transaction and exactly once across
    processes (the row is locked, and gone or failed once handled). Returns the ids handled here."""
    # Only ids: each is locked and re-checked in a transaction of its own. A read transaction, so the
    # scheduler's polls never queue for SQLite's writer lock.
    with deps.uow(write=False) as uow:
        due = uow.expiring_targets.due(deps.clock.now_ms(), limit)
    return run_each(due, lambda target_id: _run_one(deps, target_id))


def _run_one(deps: Deps, target_id: str) -> bool:
    with deps.uow() as uow:
        expiring = uow.expiring_targets.get(target_id, for_update=True)
        if expiring is None or expiring.failure_reason or expiring.expiration_date > deps.clock.now_ms():
            return False  # another process got there first, or it was removed or postponed
        try:
            _remove(uow, deps, expiring)
        except NotFound:
            pass  # the flag or segment is gone, and its targets with it: forget the expiry
        except (InvalidRequest, ApprovalRequired, Forbidden) as exc:
            _fail(uow, deps, expiring, exc)
            uow.commit()
            return True
        uow.expiring_targets.delete(expiring)
        uow.commit()
    return True


def _remove(uow: UnitOfWork, deps: Deps, expiring: ExpiringTarget) -> None:
    """Remove the target through the write path (gate, version, audit, SDK update). A target already
    gone is simply forgotten (nothing changes, so nothing is written)."""
    actor = _scheduler()
    comment = f"Expiring target: {expiring.context_kind} '{expiring.context_key}' expired"
    if expiring.resource_kind == domain.FLAG:
        flag = load_flag(uow, expiring.project_key, expiring.resource_key, for_update=True)
        instruction = {
            "kind": "removeTargets",
            "contextKind": expiring.context_kind,
            "variationId": expiring.variation_id,
            "values": [expiring.context_key],
        }
        change = apply_flag_instructions(
            flag, [instruction], environment_key=expiring.environment_key, context=change_context(uow, deps.clock, flag)
        )
        commit_flag_change(
            uow,
            deps.clock,
            actor,
            before=flag,
            change=change,
            comment=comment,
            approved_environment=expiring.environment_key if expiring.approved else None,
            extra_actions={expiring.environment_key: [ACTION]},
            delta={"expiringTargetId": expiring.id, "instructions": [instruction]},
        )
        return
    env = load_environment(uow, expiring.project_key, expiring.environment_key)
    segment = load_segment(uow, expiring.project_key, expiring.environment_key, expiring.resource_key, for_update=True)
    if not expiring.approved and env.segment_approval_settings.applies_to(segment.tags):
        raise Forbidden("approval is required")  # the scheduler bypasses nothing it was not approved for
    side = "Included" if expiring.target_type == "included" else "Excluded"
    instruction = {
        "kind": f"remove{side}Targets",
        "contextKind": expiring.context_kind,
        "values": [expiring.context_key],
    }
    removal = apply_segment_instructions(segment, [instruction], context=segment_context(uow, deps.clock, segment))
    commit_segment_change(
        uow,
        deps.clock,
        actor,
        env,
        before=segment,
        change=removal,
        comment=comment,
        delta={"expiringTargetId": expiring.id, "instructions": [instruction]},
    )


def _fail(uow: UnitOfWork, deps: Deps, expiring: ExpiringTarget, exc: DomainError) -> None:
    expiring.failure_reason = exc.message
    uow.expiring_targets.update(expiring)
    spec = (
        flag_spec(expiring.project_key, expiring.resource_key, expiring.environment_key)
        if expiring.resource_kind == domain.FLAG
        else segment_spec(expiring.project_key, expiring.environment_key, expiring.resource_key)
    )
    record_audit(
        uow,
        deps.clock,
        _scheduler(),
        kind=expiring.resource_kind,
        name=expiring.resource_key,
        actions=[ACTION],
        resource=spec,
        description=f"Removing expired {expiring.context_kind} '{expiring.context_key}' from "
        f"{expiring.resource_kind} {expiring.resource_key} in {expiring.environment_key} failed: {exc.message}",
        title_verb="failed to remove an expiring target of",
        comment=exc.message,
    )
