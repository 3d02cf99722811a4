"""Comparing two environments of a project, flag by flag and part by part (the console's compare page),
and previewing what a copy of the chosen parts would do.

Read side only: bringing parts over goes through ``approvals.create_copy_request`` or
``copy.copy_flag_config``, the services of the REST API's copy routes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flagward.domain import resources
from flagward.domain.accounts import Actor
from flagward.domain.authorization import permits
from flagward.domain.copy import CopyAction, plan_copy
from flagward.domain.diff import PartDiff, diff_configs
from flagward.domain.errors import InvalidRequest, NotFound
from flagward.domain.flags import Flag
from flagward.domain.projects import Environment, Project
from flagward.services._common import load_environment, load_flag, load_project
from flagward.services.authz import (
    authorize_environment_read,
    authorize_project_read,
    flag_resource,
)
from flagward.services.flag_changes import change_context
from flagward.services.ports import Deps


@dataclass(frozen=True)
class FlagComparison:
    """One flag: each part as the source has it (``after``) beside the target now (``before``)."""

    flag: Flag
    parts: list[PartDiff]
    needs_approval: bool  # a change to this flag in the target requires an approval request

    @property
    def differs(self) -> bool:
        return any(p.differs for p in self.parts)


@dataclass(frozen=True)
class Comparison:
    project: Project
    source: Environment
    target: Environment
    flags: list[FlagComparison]  # the chosen flag, or every flag of the project that differs
    may_request: bool  # the actor may create approval requests
    may_write: bool  # the actor may change flag configurations directly
    flag_keys: list[tuple[str, str]]  # every flag of the project, (key, name), for choosing one


def compare_environments(
    deps: Deps, *, actor: Actor, project_key: str, source_key: str, target_key: str, flag_key: str | None = None
) -> Comparison:
    """Compare ``source_key`` with ``target_key`` for one flag, or for every flag of the project (then
    only the flags that differ are listed). Raises NotFound, InvalidRequest (the same environment).
    ``may_request`` / ``may_write``: ``createApprovalRequest`` / ``copyFlagConfigTo`` on the chosen flag
    in the target (any flag, untagged, when none is chosen)."""
    authorize_project_read(actor, project_key)
    if source_key == target_key:
        raise InvalidRequest("Choose two different environments")
    with deps.uow(write=False) as uow:
        project = load_project(uow, project_key)
        source = load_environment(uow, project_key, source_key)
        target = load_environment(uow, project_key, target_key)
        authorize_environment_read(actor, source)
        authorize_environment_read(actor, target)
        flags = [load_flag(uow, project_key, flag_key)] if flag_key else uow.flags.list_all(project_key)
        every = uow.flags.list_all(project_key)
        lookup = {f.key: f for f in every}
        compared = [
            FlagComparison(
                flag=flag,
                parts=diff_configs(
                    flag, flag, before_environment=target_key, after_environment=source_key, get_flag=lookup.get
                ),
                needs_approval=target.approval_settings.applies_to(flag.tags),
            )
            for flag in sorted(flags, key=lambda f: f.key)
            if not flag.archived or flag_key
        ]
    if not flag_key:
        compared = [c for c in compared if c.differs]
    return Comparison(
        project=project,
        source=source,
        target=target,
        flags=compared,
        may_request=permits(actor, "createApprovalRequest", _target_resource(compared, target)),
        may_write=permits(actor, "copyFlagConfigTo", _target_resource(compared, target)),
        flag_keys=sorted((f.key, f.name) for f in every if not f.archived),
    )


def _target_resource(compared: list[FlagComparison], target: Environment) -> str:
    if len(compared) == 1:
        return flag_resource(compared[0].flag, target)
    return resources.flag(target.project_key, "*", env_key=target.key, env_tags=target.tags)


def preview_copy(
    deps: Deps,
    *,
    actor: Actor,
    project_key: str,
    flag_key: str,
    source_key: str,
    target_key: str,
    actions: list[CopyAction],
) -> tuple[Flag, list[dict[str, Any]]]:
    """The flag and the instructions a copy of ``actions`` would request now (as ``create_copy_request``
    plans them). Raises NotFound, InvalidRequest (a segment the target lacks, the same environment)."""
    authorize_project_read(actor, project_key)
    with deps.uow(write=False) as uow:
        flag = load_flag(uow, project_key, flag_key)
        for env in uow.environments.find(project_key)[0]:
            if env.key in (source_key, target_key):
                authorize_environment_read(actor, env)
        for key in (source_key, target_key):
            if key not in flag.environments:
                raise NotFound(f"Unknown environment '{key}'")
        context = change_context(uow, deps.clock, flag)
        plan = plan_copy(
            flag, source_key, target_key, actions, segment_exists=context.segment_exists, get_flag=context.get_flag
        )
        return flag, plan
