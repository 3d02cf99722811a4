"""POST /api/v2/flags/{projectKey}/{featureFlagKey}/copy: copy configuration between environments,
planned as semantic instructions and applied through the one write path."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flagward.domain import resources
from flagward.domain.accounts import Actor
from flagward.domain.audit import AuditAction
from flagward.domain.authorization import authorize, authorize_all
from flagward.domain.copy import CopyAction, chosen_actions, plan_copy
from flagward.domain.errors import NotFound, OptimisticLockError
from flagward.domain.flags import Flag
from flagward.domain.instructions import FlagChange, apply_flag_instructions
from flagward.domain.projects import Environment
from flagward.services._common import load_flag
from flagward.services.authz import flag_resource
from flagward.services.flag_changes import change_context, commit_flag_change
from flagward.services.ports import Deps


@dataclass(frozen=True)
class CopyEnd:
    key: str
    current_version: int | None = None


def check_version(flag: Flag, end: CopyEnd, side: str) -> None:
    if end.key not in flag.environments:
        raise NotFound(f"Unknown {side} environment '{end.key}'")
    version = flag.environments[end.key]["version"]
    if end.current_version is not None and end.current_version != version:
        raise OptimisticLockError(
            f"The {side} configuration is at version {version}, not {end.current_version}. Reload and retry."
        )


def copy_flag_config(
    deps: Deps,
    *,
    actor: Actor,
    project_key: str,
    key: str,
    source: CopyEnd,
    target: CopyEnd,
    included: list[CopyAction] | None = None,
    excluded: list[CopyAction] | None = None,
    comment: str | None = None,
) -> tuple[Flag, list[Environment]]:
    """Make ``target``'s configuration match ``source``'s for the chosen actions (all when neither list
    is given). Raises InvalidRequest, NotFound, OptimisticLockError (a stated version is stale),
    ApprovalRequired (the target requires approval: use an approval request instead). Authorized as
    ``copyFlagConfigFrom`` on the flag in the source and ``copyFlagConfigTo`` in the target (not as the
    actions the copy performs, as LaunchDarkly does)."""
    authorize(actor, "viewProject", resources.project(project_key))
    actions = chosen_actions(included, excluded, list(CopyAction))
    with deps.uow() as uow:
        flag = load_flag(uow, project_key, key, for_update=True)
        envs = {env.key: env for env in uow.environments.find(project_key)[0]}
        authorize_all(actor, copy_accesses(flag, envs, source.key, target.key))
        check_version(flag, source, "source")
        check_version(flag, target, "target")
        context = change_context(uow, deps.clock, flag)
        plan = plan_copy(
            flag,
            source.key,
            target.key,
            actions,
            segment_exists=context.segment_exists,
            get_flag=context.get_flag,
        )
        change = (
            apply_flag_instructions(flag, plan, environment_key=target.key, context=context)
            if plan
            else FlagChange(flag=flag.clone(), environment_actions={}, flag_actions=[])
        )
        after = commit_flag_change(
            uow,
            deps.clock,
            actor,
            before=flag,
            change=change,
            comment=comment,
            extra_actions={target.key: [AuditAction.COPY_FLAG_CONFIG_TO]},
            delta=_delta(source, target, included, excluded),
            effect_authorized=True,
        )
        environments = uow.environments.find(project_key)[0]
        uow.commit()
    return after, environments


def copy_accesses(flag: Flag, envs: dict[str, Environment], source_key: str, target_key: str) -> list[tuple[str, str]]:
    """``copyFlagConfigFrom`` on the flag in the source environment, ``copyFlagConfigTo`` in the target."""

    def where(env_key: str) -> str:
        env = envs.get(env_key)
        if env is not None:
            return flag_resource(flag, env)
        return resources.flag(flag.project_key, flag.key, flag.tags, env_key=env_key)

    return [("copyFlagConfigFrom", where(source_key)), ("copyFlagConfigTo", where(target_key))]


def _delta(
    source: CopyEnd, target: CopyEnd, included: list[CopyAction] | None, excluded: list[CopyAction] | None
) -> dict[str, Any]:
    """The copy request without its comment, as the audit entry's ``delta``."""

    def end(value: CopyEnd) -> dict[str, Any]:
        return {
            "key": value.key,
            **({} if value.current_version is None else {"currentVersion": value.current_version}),
        }

    delta: dict[str, Any] = {"source": end(source), "target": end(target)}
    if included is not None:
        delta["includedActions"] = [a.value for a in included]
    if excluded is not None:
        delta["excludedActions"] = [a.value for a in excluded]
    return delta
