"""A small world for the approval-request service tests: project ``shop`` with ``production`` (whose
approval settings each test chooses) and ``staging``, a boolean flag ``checkout`` and a segment ``beta``
in both environments, and members made on demand."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flagward.domain.accounts import Actor, ActorKind, Role
from flagward.domain.approvals import ApprovalRequest
from flagward.domain.audit import AuditEntry
from flagward.domain.flags import Flag, FlagConfig
from flagward.domain.projects import ApprovalSettings
from flagward.services import approvals, flag_changes, flags, projects, segments
from flagward.services.approvals import NewRequest
from flagward.services.environments import NewEnvironment
from flagward.services.flag_changes import FlagPatch
from flagward.services.flags import NewFlag
from flagward.services.projects import NewProject
from flagward.services.segments import NewSegment
from tests.unit.services.conftest import World

PROJECT, FLAG, SEGMENT = "shop", "checkout", "beta"
PRODUCTION, STAGING = "production", "staging"
SETTING_NAMES = {
    "required": "required",
    "min_num_approvals": "minNumApprovals",
    "can_review_own_request": "canReviewOwnRequest",
    "can_apply_declined_changes": "canApplyDeclinedChanges",
}


class Shop:
    """The arranged world; ``admin`` arranges, tests act as the members they make."""

    def __init__(self, world: World, **production_settings: Any) -> None:
        self.world = world
        self.deps = world.deps
        self.admin = world.member(Role.ADMIN)
        envs = [NewEnvironment(key=k, name=k.title(), color="00aa00") for k in (PRODUCTION, STAGING)]
        projects.create_project(
            self.deps, actor=self.admin, new=NewProject(key=PROJECT, name="Shop", environments=envs)
        )
        flags.create_flag(self.deps, actor=self.admin, project_key=PROJECT, new=NewFlag(key=FLAG, name="Checkout"))
        for env in (PRODUCTION, STAGING):
            segments.create_segment(
                self.deps, actor=self.admin, project_key=PROJECT, env_key=env, new=NewSegment(key=SEGMENT, name="Beta")
            )
        self.settings(**production_settings)

    # -- arranging ---------------------------------------------------------------------------------

    def settings(self, env: str = PRODUCTION, *, segment: bool = False, **values: Any) -> None:
        """Set approval settings straight in the store (the settings services have their own tests)."""
        store = self.world.uow.store
        (found,) = [e for e in store.environments.values() if e.key == env]
        attr = "segment_approval_settings" if segment else "approval_settings"
        current: ApprovalSettings = getattr(found, attr)
        store.environments[found.id] = replace(found, **{attr: current.with_changes(**values)})

    def member(self, role: Role = Role.WRITER) -> Actor:
        return self.world.member(role)

    def service_token(self, role: Role = Role.WRITER, token_id: str = "5e7a1c0de5e7a1c0de5e7a1c") -> Actor:
        return Actor(kind=ActorKind.SERVICE_TOKEN, role=role, token_id=token_id, token_name="ci", owner_id=None)

    def change(self, actor: Actor, *instructions: dict[str, Any], env: str = STAGING, **kwargs: Any) -> Flag:
        """A direct semantic patch of the flag (admins bypass approvals)."""
        patch = FlagPatch("semantic", list(instructions), environment_key=env)
        flag, _ = flag_changes.update_flag(self.deps, actor=actor, project_key=PROJECT, key=FLAG, patch=patch, **kwargs)
        return flag

    def request(
        self, actor: Actor, *instructions: dict[str, Any], env: str = PRODUCTION, **fields: Any
    ) -> ApprovalRequest:
        new = NewRequest(
            description=fields.pop("description", "Turn checkout on"), instructions=list(instructions), **fields
        )
        return approvals.create_flag_request(
            self.deps, actor=actor, project_key=PROJECT, flag_key=FLAG, env_key=env, new=new
        )

    def approve(self, request: ApprovalRequest, *reviewers: Actor) -> ApprovalRequest:
        for reviewer in reviewers:
            request = approvals.review(self.deps, actor=reviewer, request_id=request.id, kind="approve", comment=None)
        return request

    # -- observing ---------------------------------------------------------------------------------

    def flag(self) -> Flag:
        return self.world.uow.store.flags[PROJECT, FLAG]

    def config(self, env: str = PRODUCTION) -> FlagConfig:
        return self.flag().environments[env]

    def stored(self, request_id: str) -> ApprovalRequest:
        return self.world.uow.store.approvals[request_id]

    def audit(self) -> list[AuditEntry]:
        return list(self.world.uow.store.audit)

    def audit_actions(self, since: int = 0) -> list[str]:
        """The first access action of each audit entry after the first ``since`` entries."""
        return [e.accesses[0].action for e in self.audit()[since:]]

    def rule_id(self, env: str = PRODUCTION, index: int = 0) -> str:
        return self.config(env)["rules"][index]["_id"]

    def variation_id(self, index: int) -> str:
        return self.flag().variations[index]["_id"]


def demoted(actor: Actor, role: Role) -> Actor:
    """The same member acting with another role (a member whose role changed since)."""
    return replace(actor, role=role)


def email_rule(variation_id: str, domain: str = "@example.com") -> dict[str, Any]:
    return {
        "kind": "addRule",
        "variationId": variation_id,
        "clauses": [
            {"contextKind": "user", "attribute": "email", "op": "endsWith", "negate": False, "values": [domain]}
        ],
    }
