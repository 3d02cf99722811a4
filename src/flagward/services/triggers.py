"""Flag triggers: LaunchDarkly's ``/api/v2/flags/{p}/{f}/triggers/{e}`` and the secret URL that fires one.

Governance: a trigger is a pre-approved automation. Creating one, changing its action or enabling it
where changing the flag requires approval needs the bypass right (``bypassRequiredApproval``; refused
with the gate's 405 otherwise) or an approval request: one on the flag in that environment whose
instructions are ``addTrigger`` or, with ``operatingOnId`` naming the trigger, ``enableTrigger`` /
``replaceTriggerActionInstructions`` (``check_request`` when it is made, ``apply_request`` when it is
applied, in the request's transaction). A trigger created so has a secret nobody was shown: whoever
needs its URL (its requester) cycles it (``cycleTriggerUrl``, never gated), which is audited.

A trigger so set up is ``approved``: firing it then acts without review, its action passing the approval
gate as ``PreApproved`` (``domain.governance``), which covers that on/off change in that environment and
nothing else; the change is audited as the trigger. A trigger set up where no approval was required (its
creation, enabling or new action) is not approved: when the environment requires approval for the flag
by the time it fires (the flag was tagged, the settings changed), the gate refuses its firing (405), as
it would the same change by anyone without the bypass right.

Firing is rate-limited per client address and per secret (counters shared by every process), and acts
at most once per window: the trigger's row is locked and its ``last_triggered_at`` re-read under the
lock, so concurrent firings on any number of processes run its action once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from flagward.domain import resources
from flagward.domain import triggers as domain
from flagward.domain.accounts import Actor, ActorKind, Role
from flagward.domain.approvals import ApprovalRequest
from flagward.domain.audit import AuditAction, flag_spec
from flagward.domain.authorization import authorize
from flagward.domain.errors import ApprovalRequired, InvalidRequest, NotFound, RateLimited
from flagward.domain.flags import Flag
from flagward.domain.ids import new_object_id
from flagward.domain.instructions import apply_flag_instructions
from flagward.domain.projects import Environment
from flagward.domain.rate_limits import Budget, address_scope, counter_key
from flagward.domain.triggers import (
    Trigger,
    TriggerEdit,
    TriggerLimits,
    TriggerSpec,
    apply_patch,
    check_comment,
    check_integration_key,
    hash_secret,
    new_trigger_secret,
    parse_actions,
    pre_approval,
    sets_up_again,
)
from flagward.services._common import load_environment, load_flag, record_audit
from flagward.services.authz import authorize_environment_read
from flagward.services.flag_changes import change_context, commit_flag_change
from flagward.services.flag_gate import approval_required_in, can_bypass_approval
from flagward.services.ports import Deps, UnitOfWork
from flagward.services.throttling import spend

_GATED_MESSAGE = (
    "Flag configuration updates require approval: action '{}' not allowed. "
    "Create an approval request with addTrigger (or enableTrigger / replaceTriggerActionInstructions "
    "with operatingOnId) instead"
)
RATE_LIMITED = "Too many trigger requests. Try again later."


@dataclass(frozen=True)
class NewTrigger:
    integration_key: object
    instructions: object
    comment: object = None


@dataclass(frozen=True)
class Created:
    trigger: Trigger
    secret: str  # shown once: the caller builds the URL from it


@dataclass(frozen=True)
class Fired:
    trigger: Trigger
    acted: bool  # False: it already acted within the window, and this firing changed nothing


@dataclass(frozen=True)
class _Scope:
    flag: Flag
    env: Environment

    def resource(self) -> str:
        return resources.flag(
            self.flag.project_key, self.flag.key, self.flag.tags, env_key=self.env.key, env_tags=self.env.tags
        )


def _scope(uow: UnitOfWork, project_key: str, flag_key: str, env_key: str) -> _Scope:
    flag = load_flag(uow, project_key, flag_key)
    env = load_environment(uow, project_key, env_key)
    return _Scope(flag, env)


def _load(uow: UnitOfWork, scope: _Scope, trigger_id: str, *, for_update: bool = False) -> Trigger:
    trigger = uow.triggers.get(trigger_id, for_update=for_update)
    where = (scope.flag.project_key, scope.flag.key, scope.env.key)
    if trigger is None or (trigger.project_key, trigger.flag_key, trigger.environment_key) != where:
        raise NotFound(f"Unknown flag trigger '{trigger_id}'")
    return trigger


def _check_pre_approval(uow: UnitOfWork, actor: Actor, scope: _Scope, action: str | None) -> bool:
    """A trigger acts without review: where the flag's changes need approval, only someone who could make
    them without it (``bypassRequiredApproval``) may set one up. Whether this set-up approves the trigger
    (approval is required here and the actor may bypass it). Raises ApprovalRequired (405) unless
    ``action`` is None (then the set-up is only not approved)."""
    environments = uow.environments.find(scope.flag.project_key)[0]
    if scope.env.key not in approval_required_in(uow, scope.flag, environments):
        return False
    if can_bypass_approval(actor, scope.flag, scope.env):
        return True
    if action is not None:
        raise ApprovalRequired(_GATED_MESSAGE.format(action))
    return False


def _audit(
    deps: Deps,
    uow: UnitOfWork,
    actor: Actor,
    scope: _Scope,
    trigger: Trigger,
    action: AuditAction,
    verb: str,
    comment: str | None = None,
    approval_request_id: str | None = None,
) -> None:
    what = f"a {trigger.integration_key} trigger ({trigger.instructions[0]['kind']})"
    record_audit(
        uow,
        deps.clock,
        actor,
        kind="flag",
        name=scope.flag.name,
        actions=[action],
        resource=flag_spec(scope.flag.project_key, scope.flag.key, scope.env.key),
        description=f"{verb.capitalize()} {what} of flag {scope.flag.name} ({scope.flag.key}) in {scope.env.key}",
        title_verb=f"{verb} a trigger of",
        comment=comment,
        current=trigger_summary(trigger),
        approval_request_id=approval_request_id,
    )


def trigger_summary(trigger: Trigger) -> dict[str, Any]:
    """What an audit entry records of a trigger: never its secret or the digest of it."""
    return {
        "_id": trigger.id,
        "_integrationKey": trigger.integration_key,
        "instructions": [dict(i) for i in trigger.instructions],
        "enabled": trigger.enabled,
        "_version": trigger.version,
    }


def list_triggers(deps: Deps, *, actor: Actor, project_key: str, flag_key: str, env_key: str) -> list[Trigger]:
    """The flag's triggers in the environment, oldest first. Raises NotFound, Forbidden."""
    with deps.uow(write=False) as uow:
        authorize(actor, "viewProject", resources.project(project_key))
        authorize_environment_read(actor, _scope(uow, project_key, flag_key, env_key).env)
        return uow.triggers.list_for(project_key, flag_key, env_key)


def get_trigger(deps: Deps, *, actor: Actor, project_key: str, flag_key: str, env_key: str, trigger_id: str) -> Trigger:
    with deps.uow(write=False) as uow:
        authorize(actor, "viewProject", resources.project(project_key))
        scope = _scope(uow, project_key, flag_key, env_key)
        authorize_environment_read(actor, scope.env)
        return _load(uow, scope, trigger_id)


def create_trigger(
    deps: Deps, *, actor: Actor, project_key: str, flag_key: str, env_key: str, new: NewTrigger
) -> Created:
    """Raises InvalidRequest (integrationKey, a single turnFlagOn/turnFlagOff instruction), NotFound,
    Forbidden (``createTriggers``), ApprovalRequired (where approval is required, without the bypass right)."""
    integration_key = check_integration_key(new.integration_key)
    actions = parse_actions(new.instructions)
    comment = check_comment(new.comment)
    secret = new_trigger_secret()
    with deps.uow() as uow:
        scope = _scope(uow, project_key, flag_key, env_key)
        authorize(actor, "createTriggers", scope.resource())
        approved = _check_pre_approval(uow, actor, scope, "createTriggers")
        spec = TriggerSpec(integration_key, actions, comment)
        maintainer_id = actor.member_id or actor.owner_id
        trigger = _new_trigger(deps, scope, spec, secret, maintainer_id=maintainer_id, approved=approved)
        uow.triggers.add(trigger)
        _audit(deps, uow, actor, scope, trigger, AuditAction.CREATE_TRIGGER, "created", comment)
        uow.commit()
    return Created(trigger=trigger, secret=secret)


def _new_trigger(
    deps: Deps, scope: _Scope, spec: TriggerSpec, secret: str, *, maintainer_id: str | None, approved: bool
) -> Trigger:
    return Trigger(
        id=new_object_id(),
        project_key=scope.flag.project_key,
        flag_key=scope.flag.key,
        environment_key=scope.env.key,
        integration_key=spec.integration_key,
        instructions=spec.instructions,
        enabled=True,
        secret_hash=hash_secret(secret),
        url_tail=secret[-4:],
        creation_date=deps.clock.now_ms(),
        maintainer_id=maintainer_id,
        comment=spec.comment,
        approved=approved,
    )


def patch_trigger(
    deps: Deps,
    *,
    actor: Actor,
    project_key: str,
    flag_key: str,
    env_key: str,
    trigger_id: str,
    instructions: object,
    comment: object = None,
) -> TriggerEdit:
    """LaunchDarkly's trigger instructions (enableTrigger, disableTrigger, replaceTriggerActionInstructions,
    cycleTriggerUrl, updateTriggerComment), all or none. Enabling a trigger or changing its action is
    setting it up again: gated like creating one, and the trigger is then approved only by this write
    (``sets_up_again``), also when it is disabled. ``comment`` goes to the audit entry. Raises InvalidRequest,
    NotFound, Forbidden, ApprovalRequired."""
    note = check_comment(comment)
    with deps.uow() as uow:
        scope = _scope(uow, project_key, flag_key, env_key)
        authorize(actor, "updateTriggers", scope.resource())
        trigger = _load(uow, scope, trigger_id, for_update=True)
        edit = apply_patch(trigger, instructions)
        if sets_up_again(trigger, edit.trigger):
            approved = _check_pre_approval(uow, actor, scope, "updateTriggers" if edit.widened else None)
            edit = replace(edit, trigger=replace(edit.trigger, approved=approved))
        if edit.changed:
            uow.triggers.update(edit.trigger)
            _audit(deps, uow, actor, scope, edit.trigger, AuditAction.UPDATE_TRIGGER, "updated", note)
            uow.commit()
    return edit


def delete_trigger(deps: Deps, *, actor: Actor, project_key: str, flag_key: str, env_key: str, trigger_id: str) -> None:
    with deps.uow() as uow:
        scope = _scope(uow, project_key, flag_key, env_key)
        authorize(actor, "deleteTriggers", scope.resource())
        trigger = _load(uow, scope, trigger_id, for_update=True)
        uow.triggers.delete(trigger)
        _audit(deps, uow, actor, scope, trigger, AuditAction.DELETE_TRIGGER, "deleted")
        uow.commit()


def trigger_actor(trigger: Trigger) -> Actor:
    """Who a firing acts as: the trigger itself (no member; audit entries name it)."""
    return Actor(
        kind=ActorKind.SYSTEM,
        role=Role.OWNER,
        token_id=trigger.id,
        token_name=f"flag trigger {trigger.id} ({trigger.integration_key})",
    )


def _budgets(secret_hash: str, address: str, limits: TriggerLimits) -> list[Budget]:
    window = limits.rate_window_ms
    candidates = [
        Budget("address", counter_key("trigger-address", address_scope(address)), limits.per_address, window),
        Budget("trigger", counter_key("trigger", secret_hash), limits.per_trigger, window),
    ]
    return [b for b in candidates if b.limit > 0]


def fire_trigger(deps: Deps, *, secret: str, address: str, limits: TriggerLimits) -> Fired:
    """POST to a trigger's URL: run its action through the flag write path, as the trigger.

    Unknown and disabled secrets are answered alike (NotFound), after the same work. Raises RateLimited
    (429), NotFound, InvalidRequest (the action cannot apply, e.g. the flag is archived)."""
    secret_hash = hash_secret(secret)
    allowance = spend(deps, _budgets(secret_hash, address, limits))
    if not allowance.allowed:
        raise RateLimited(allowance.retry_after_seconds, RATE_LIMITED)
    with deps.uow() as uow:
        trigger = uow.triggers.find_by_secret(secret_hash, for_update=True)
        if trigger is None or not trigger.enabled:
            raise NotFound("Unknown trigger")
        now = deps.clock.now_ms()
        if trigger.last_triggered_at is not None and now - trigger.last_triggered_at < limits.window_ms:
            return Fired(trigger=trigger, acted=False)
        flag = load_flag(uow, trigger.project_key, trigger.flag_key, for_update=True)
        instructions = [dict(i) for i in trigger.instructions]
        context = change_context(uow, deps.clock, flag)
        change = apply_flag_instructions(flag, instructions, environment_key=trigger.environment_key, context=context)
        commit_flag_change(
            uow,
            deps.clock,
            trigger_actor(trigger),
            before=flag,
            change=change,
            comment=f"Fired flag trigger {trigger.id} ({trigger.integration_key})",
            delta={"environmentKey": trigger.environment_key, "instructions": instructions},
            pre_approved=pre_approval(trigger),
        )
        fired = replace(trigger, trigger_count=trigger.trigger_count + 1, last_triggered_at=now)
        uow.triggers.update(fired)
        uow.commit()
    return Fired(trigger=fired, acted=True)


# --- approval requests whose instructions set a trigger up ------------------------------------------


def is_trigger_request(instructions: list[dict[str, Any]]) -> bool:
    return domain.is_trigger_request(instructions)


def _request_action(instructions: list[dict[str, Any]]) -> str:
    return "createTriggers" if domain.adds_trigger(instructions) else "updateTriggers"


def _load_request_target(uow: UnitOfWork, scope: _Scope, trigger_id: str) -> Trigger:
    try:
        return _load(uow, scope, trigger_id, for_update=True)
    except NotFound:
        raise InvalidRequest(
            f"operatingOnId: unknown flag trigger '{trigger_id}' of this flag and environment"
        ) from None


def check_request(
    uow: UnitOfWork,
    actor: Actor,
    flag: Flag,
    env: Environment,
    instructions: list[dict[str, Any]],
    operating_on_id: object,
) -> None:
    """Validate an approval request's trigger instructions as their application will, and authorize its
    requester as making the change directly would (``createTriggers`` / ``updateTriggers``): approval
    stands in for the bypass right, not for the right to set triggers up. Raises Forbidden, InvalidRequest."""
    scope = _Scope(flag, env)
    authorize(actor, _request_action(instructions), scope.resource())
    spec = domain.parse_request(instructions, operating_on_id)
    if spec is not None:
        return
    trigger = _load_request_target(uow, scope, str(operating_on_id))
    if not apply_patch(trigger, instructions).changed:
        raise InvalidRequest(f"The instructions would not change flag trigger '{trigger.id}'")


def apply_request(uow: UnitOfWork, deps: Deps, actor: Actor, request: ApprovalRequest, comment: str) -> None:
    """Carry out an approved request's trigger instructions in the caller's transaction, authorized for the
    applier (``createTriggers`` / ``updateTriggers``) and audited with the request's id.

    A trigger created (or enabled, or given its action) here is approved: its firing is pre-approved. A
    trigger created here is enabled, maintained by the requester, and its secret is shown to no one (it
    is not in any answer, e-mail or audit entry): the requester gets a working URL by cycling it
    (``cycleTriggerUrl``). Raises Forbidden, InvalidRequest, NotFound (the request fails)."""
    scope = _scope(uow, request.project_key, request.resource_key, request.environment_key)
    authorize(actor, _request_action(request.instructions), scope.resource())
    spec = domain.parse_request(request.instructions, request.operating_on_id)
    if spec is not None:
        trigger = _new_trigger(
            deps, scope, spec, new_trigger_secret(), maintainer_id=request.requestor_id, approved=True
        )
        uow.triggers.add(trigger)
        _audit(deps, uow, actor, scope, trigger, AuditAction.CREATE_TRIGGER, "created", comment, request.id)
        return
    before = _load_request_target(uow, scope, str(request.operating_on_id))
    edit = apply_patch(before, request.instructions)
    if edit.changed:
        edit = replace(edit, trigger=replace(edit.trigger, approved=True))  # its action, as approved
        uow.triggers.update(edit.trigger)
        _audit(deps, uow, actor, scope, edit.trigger, AuditAction.UPDATE_TRIGGER, "updated", comment, request.id)
