"""The approval gate at the service edge: every write of a flag (create, update, delete) asks
``check_flag_write`` first. ``tests/unit/services/test_flag_gate_coverage.py`` checks that the flag
repository's writes are called only from modules that do, so a write path added later cannot skip it."""

from __future__ import annotations

from flagward.domain.accounts import Actor, ActorKind
from flagward.domain.authorization import authorize_all, permits
from flagward.domain.flag_access import flag_write_accesses
from flagward.domain.flags import Flag
from flagward.domain.governance import PreApproved, check_approval_gate, prerequisite_dependents, requires_approval
from flagward.domain.projects import Environment
from flagward.services._common import require_project_lock
from flagward.services.authz import flag_resource
from flagward.services.ports import UnitOfWork


def check_flag_write(
    uow: UnitOfWork,
    actor: Actor,
    *,
    before: Flag | None,
    after: Flag | None,
    environments: list[Environment],
    approved_environment: str | None = None,
    pre_approved: PreApproved | None = None,
    effect_authorized: bool = False,
) -> None:
    """Refuse a write from ``before`` to ``after`` (None: absent) that the actor may not make: Forbidden
    (403) unless its policies allow every action the write performs (``domain.flag_access``), and
    ApprovalRequired (405) when it changes what SDKs are served where approval is required
    (``flagward.domain.governance``) and the actor may not ``bypassRequiredApproval`` there.

    ``approved_environment``: the environment of the approval request being applied (whose
    ``applyApprovalRequest`` the caller authorized: the request's actions are not asked again).
    ``effect_authorized``: the caller authorized the write otherwise (a copy: ``copyFlagConfigFrom`` /
    ``copyFlagConfigTo``). The server itself (the scheduler) bypasses nothing: it carries out a request,
    whose approval covers its environment.
    ``pre_approved``: a flag trigger's action, passed only by ``services.triggers.fire_trigger`` (a unit
    test holds every caller to that); it covers exactly that on/off change in its environment."""
    subject = before or after
    if subject is None:
        return
    if approved_environment is None and not effect_authorized:
        authorize_flag_write(actor, before=before, after=after, environments=environments)
    dependent_tags = None
    if any(e.approval_settings.required_approval_tags and not e.approval_settings.required for e in environments):
        # Only tag rules make a flag's requirement depend on who uses it as a prerequisite.
        require_project_lock(uow, subject.project_key)
        dependent_tags = prerequisite_dependents(uow.flags.list_all(subject.project_key), subject.key)
    check_approval_gate(
        before,
        after,
        environments,
        can_bypass=lambda env: can_bypass_approval(actor, subject, env),
        approved_environment=approved_environment,
        dependent_tags=dependent_tags,
        pre_approved=pre_approved,
    )


def approval_required_in(uow: UnitOfWork, flag: Flag, environments: list[Environment]) -> set[str]:
    """The environments where changing what ``flag`` serves requires approval, judged as
    ``check_flag_write`` judges it (the flag's tags and, under tag rules, those of the flags that use it
    as a prerequisite there). Whether a given actor may bypass it is ``can_bypass_approval``."""
    dependent_tags: dict[str, set[str]] = {}
    if any(e.approval_settings.required_approval_tags and not e.approval_settings.required for e in environments):
        require_project_lock(uow, flag.project_key)
        dependent_tags = prerequisite_dependents(uow.flags.list_all(flag.project_key), flag.key)
    return {
        env.key
        for env in environments
        if env.key in flag.environments and requires_approval(env, [*flag.tags, *dependent_tags.get(env.key, ())])
    }


def authorize_flag_write(
    actor: Actor, *, before: Flag | None, after: Flag | None, environments: list[Environment]
) -> None:
    """Forbidden unless the actor may perform every action of the write (``flag_write_accesses``)."""
    authorize_all(actor, flag_write_accesses(before, after, environments))


def can_bypass_approval(actor: Actor, flag: Flag, env: Environment) -> bool:
    """Whether ``check_flag_write`` lets ``actor`` change ``flag`` in ``env`` where approval is required
    (``bypassRequiredApproval`` on the flag there)."""
    return actor.kind is not ActorKind.SYSTEM and permits(actor, "bypassRequiredApproval", flag_resource(flag, env))
