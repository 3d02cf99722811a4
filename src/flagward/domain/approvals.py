"""Approval requests: the aggregate, its reviews, and the transitions that govern them.

Decisions (where LaunchDarkly documents only intent):

- Each reviewer's latest approve or decline counts; comments never count.
- ``reviewStatus`` is ``declined`` while any current decline stands, else ``approved`` once approvals
  reach the environment's ``minNumApprovals``, else ``pending``.
- Approving or declining needs the review right; one's own request only with ``canReviewOwnRequest``.
  Commenting needs the review right, or being the requester.
- Apply needs the apply right or being the requester; then ``status == pending``, approvals >=
  ``minNumApprovals`` and no current decline (unless ``canApplyDeclinedChanges``). A request is applied
  at most once; applying a request whose ``executionDate`` is in the future schedules it instead.
- The requester's privileges (comment, apply, update and delete their own request) last as long as they
  may still create approval requests: a member demoted to reader or no access loses them.
- Refusals name the actor first (Forbidden), then the request's state (InvalidRequest).
- ``updateDescription`` and ``addReviewers`` do not reset approvals; instructions cannot be edited.
- Required reviewer teams (flagward's own) add to ``minNumApprovals``: see ``domain.review_policy``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NoReturn

from flagward.domain import review_policy
from flagward.domain.accounts import Actor
from flagward.domain.authorization import permits
from flagward.domain.errors import DomainError, Forbidden, InvalidRequest
from flagward.domain.ids import new_object_id
from flagward.domain.projects import ApprovalSettings
from flagward.domain.review_policy import TeamProgress, TeamRequirement, team_progress

ReviewStatus = review_policy.ReviewStatus  # defined with the rule that decides it; named here as before

MAX_DESCRIPTION = 5000


class Status(StrEnum):
    PENDING = "pending"
    SCHEDULED = "scheduled"
    COMPLETED = "completed"
    FAILED = "failed"


class ReviewKind(StrEnum):
    APPROVE = "approve"
    DECLINE = "decline"
    COMMENT = "comment"


class ResourceKind(StrEnum):
    FLAG = "flag"
    SEGMENT = "segment"


@dataclass(frozen=True)
class Review:
    id: str
    kind: ReviewKind
    creation_date: int
    comment: str | None = None
    member_id: str | None = None
    service_token_id: str | None = None
    service_kind: str | None = None  # decided in an external approval service (neither member nor token)
    # The request's required reviewer teams its author belonged to when reviewing (review_policy).
    teams: tuple[str, ...] = ()

    @property
    def reviewer(self) -> str:
        if self.service_kind is not None:
            return f"service:{self.service_kind}"
        return self.member_id or f"token:{self.service_token_id}"


@dataclass(frozen=True)
class CopySource:
    key: str  # the source environment
    version: int | None = None


@dataclass(frozen=True)
class WorkflowMeta:
    """LaunchDarkly's ``customWorkflowMetadata``: the workflow and stage a request is the approval
    condition of (``workflow_id`` is flagward's own). Such a request is applied by its workflow when
    the stage's conditions are met, never by hand."""

    name: str
    stage_index: int
    stage_name: str
    workflow_id: str


@dataclass(frozen=True)
class Conflict:
    instruction: dict[str, Any]
    reason: str


@dataclass(frozen=True)
class ExternalStatus:
    value: str
    display: str


@dataclass
class IntegrationMetadata:
    """LaunchDarkly's ``integrationMetadata``: the record an external approval service keeps for this
    request, its status there, and when flagward last heard of it (ms)."""

    external_id: str
    external_url: str
    external_status: ExternalStatus
    last_checked: int


@dataclass(frozen=True)
class Rights:
    """What an actor's policies allow on approval requests on ``resource`` (the flag or segment in the
    request's environment, ``ApprovalRequest.resource_spec``)."""

    request: bool = False
    review: bool = False
    apply: bool = False
    update: bool = False
    delete: bool = False
    resource: str = field(default="", compare=False)  # what they were judged on, named in a refusal

    @classmethod
    def of(cls, actor: Actor, resource: str) -> Rights:
        return cls(
            resource=resource,
            request=permits(actor, "createApprovalRequest", resource),
            review=permits(actor, "reviewApprovalRequest", resource),
            apply=permits(actor, "applyApprovalRequest", resource),
            update=permits(actor, "updateApprovalRequest", resource),
            delete=permits(actor, "deleteApprovalRequest", resource),
        )


@dataclass
class ApprovalRequest:
    id: str
    project_key: str
    environment_key: str
    resource_kind: ResourceKind
    resource_key: str
    creation_date: int
    description: str
    instructions: list[dict[str, Any]]
    base_version: int  # the target configuration's version when the request was made
    requestor_id: str | None = None  # member id
    requestor_token_id: str | None = None
    comment: str | None = None
    notify_member_ids: list[str] = field(default_factory=list)
    notify_team_keys: list[str] = field(default_factory=list)  # as given; their members are in notify_member_ids
    reviews: list[Review] = field(default_factory=list)
    status: Status = Status.PENDING
    execution_date: int | None = None
    operating_on_id: str | None = None
    source: CopySource | None = None
    applied_date: int | None = None
    applied_by_member_id: str | None = None
    applied_by_service_token_id: str | None = None
    failure_reason: str | None = None
    service_kind: str = "launchdarkly"  # the approval service of the environment when it was requested
    integration: IntegrationMetadata | None = None
    # The environment's required reviewer teams when the request was made (``domain.review_policy``).
    required_reviewers: tuple[TeamRequirement, ...] = ()
    custom_workflow: WorkflowMeta | None = None
    version: int = 1

    @property
    def resource_id(self) -> str:
        return f"proj/{self.project_key}:env/{self.environment_key}:{self.resource_kind}/{self.resource_key}"

    @property
    def is_open(self) -> bool:
        return self.status is Status.PENDING

    def is_requestor(self, actor: Actor) -> bool:
        if actor.member_id is not None:
            return actor.member_id == self.requestor_id
        return actor.token_id is not None and actor.token_id == self.requestor_token_id

    def acts_as_requestor(self, actor: Actor, rights: Rights) -> bool:
        """The requester's privileges hold while they may still create requests."""
        return rights.request and self.is_requestor(actor)

    def current_verdicts(self) -> dict[str, ReviewKind]:
        """Each reviewer's latest approve or decline."""
        return {reviewer: review.kind for reviewer, review in self._current_reviews().items()}

    def _current_reviews(self) -> dict[str, Review]:
        current: dict[str, Review] = {}
        for review in self.reviews:
            if review.kind is not ReviewKind.COMMENT:
                current[review.reviewer] = review
        return current

    def team_progress(self) -> tuple[TeamProgress, ...]:
        """How far each required reviewer team's minimum is met (empty: the request names none)."""
        approvers = {
            reviewer: review.teams
            for reviewer, review in self._current_reviews().items()
            if review.kind is ReviewKind.APPROVE
        }
        return team_progress(self.required_reviewers, approvers, requester=self.requestor_id)

    def approvals(self) -> int:
        return sum(1 for kind in self.current_verdicts().values() if kind is ReviewKind.APPROVE)

    def declines(self) -> int:
        return sum(1 for kind in self.current_verdicts().values() if kind is ReviewKind.DECLINE)

    def review_status(self, settings: ApprovalSettings) -> ReviewStatus:
        return review_policy.review_status(
            approvals=self.approvals(),
            declines=self.declines(),
            min_num_approvals=settings.min_num_approvals,
            teams=self.team_progress(),
        )

    def touch(self) -> None:
        self.version += 1


def validate_description(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest("description is required")
    if len(value) > MAX_DESCRIPTION:
        raise InvalidRequest(f"description must be at most {MAX_DESCRIPTION} characters")
    return value


def new_request(**fields: Any) -> ApprovalRequest:
    fields["description"] = validate_description(fields.get("description"))
    return ApprovalRequest(id=new_object_id(), **fields)


@dataclass(frozen=True)
class Refusal:
    """Why an actor may not take a step on a request: the API's error (class and message) and a short
    reason a console shows beside the disabled control. The services raise it; the console shows it."""

    error: type[DomainError]
    message: str
    short: str

    def raise_(self) -> NoReturn:
        raise self.error(self.message)


def _state_refusal(request: ApprovalRequest, message: str) -> Refusal:
    return Refusal(InvalidRequest, message, f"this request is {request.status}")


def _denied(action: str, rights: Rights) -> str:
    """LaunchDarkly's 403 message naming the action and the resource it was refused on."""
    return f"Access to the requested resource was denied: '{action}' on '{rights.resource or '*'}' is not allowed"


def review_refusal(
    request: ApprovalRequest, actor: Actor, kind: ReviewKind, *, settings: ApprovalSettings, rights: Rights
) -> Refusal | None:
    """Why ``actor`` may not review ``request`` with ``kind`` now, or None: Forbidden without the review
    right (commenting on one's own request excepted) or approving/declining one's own request without
    ``canReviewOwnRequest``; InvalidRequest once the request is no longer open."""
    own = request.is_requestor(actor)
    if not rights.review and not (kind is ReviewKind.COMMENT and request.acts_as_requestor(actor, rights)):
        return Refusal(Forbidden, _denied("reviewApprovalRequest", rights), "your role cannot review requests")
    if own and kind is not ReviewKind.COMMENT and not settings.can_review_own_request:
        return Refusal(
            Forbidden,
            "You cannot approve or decline your own approval request in this environment",
            "you requested this change",
        )
    if request.status is not Status.PENDING:
        return _state_refusal(request, f"This approval request is {request.status} and can no longer be reviewed")
    return None


def add_review(
    request: ApprovalRequest,
    actor: Actor,
    kind: ReviewKind,
    comment: str | None,
    *,
    settings: ApprovalSettings,
    rights: Rights,
    now: int,
    teams: Collection[str] = (),
) -> Review:
    """Record a review. ``teams``: the teams the actor is a member of now; the review keeps those the
    request requires (``domain.review_policy``). Raises what ``review_refusal`` names: Forbidden or
    InvalidRequest."""
    refusal = review_refusal(request, actor, kind, settings=settings, rights=rights)
    if refusal is not None:
        refusal.raise_()
    review = Review(
        id=new_object_id(),
        kind=kind,
        creation_date=now,
        comment=comment,
        member_id=actor.member_id,
        service_token_id=actor.token_id if actor.member_id is None else None,
        teams=tuple(r.team_key for r in request.required_reviewers if r.team_key in teams)
        if actor.member_id is not None
        else (),
    )
    request.reviews.append(review)
    request.touch()
    return review


def apply_refusal(
    request: ApprovalRequest, actor: Actor, *, settings: ApprovalSettings, rights: Rights
) -> Refusal | None:
    """Why ``actor`` may not apply ``request`` now, or None: Forbidden for the actor, then InvalidRequest
    for the request's state (not pending, too few approvals, declined)."""
    if not (rights.apply or request.acts_as_requestor(actor, rights)):
        return Refusal(Forbidden, _denied("applyApprovalRequest", rights), "your role cannot apply requests")
    if request.status is not Status.PENDING:
        return _state_refusal(request, f"This approval request is {request.status}; a request is applied at most once")
    if request.custom_workflow is not None:
        return Refusal(
            InvalidRequest,
            f"This approval request is stage {request.custom_workflow.stage_index} of workflow "
            f"'{request.custom_workflow.name}': the workflow applies it once the stage's conditions are met",
            "the workflow applies it",
        )
    approvals = request.approvals()
    if approvals < settings.min_num_approvals:
        return Refusal(
            InvalidRequest,
            f"This approval request needs {settings.min_num_approvals} approval(s) before it can be applied; "
            f"it has {approvals}",
            f"needs {_approvals(settings.min_num_approvals)}, has {approvals}",
        )
    short_teams = [t for t in request.team_progress() if not t.satisfied]
    if short_teams:
        first = short_teams[0]
        return Refusal(
            InvalidRequest,
            "This approval request needs "
            + ", ".join(
                f"{_approvals(t.min_approvals)} from team '{t.team_key}' (it has {t.approvals})" for t in short_teams
            )
            + " before it can be applied",
            f"needs {_approvals(first.min_approvals)} from team {first.team_key}, has {first.approvals}",
        )
    if request.declines() and not settings.can_apply_declined_changes:
        return Refusal(
            InvalidRequest,
            "This approval request was declined and this environment does not allow applying it",
            "it was declined, and this environment does not apply declined changes",
        )
    return None


def _approvals(count: int) -> str:
    return f"{count} approval" if count == 1 else f"{count} approvals"


def check_can_apply(request: ApprovalRequest, actor: Actor, *, settings: ApprovalSettings, rights: Rights) -> None:
    """Raise what ``apply_refusal`` names."""
    refusal = apply_refusal(request, actor, settings=settings, rights=rights)
    if refusal is not None:
        refusal.raise_()


def update_refusal(request: ApprovalRequest, actor: Actor, *, rights: Rights) -> Refusal | None:
    """Patching a request: its requester or the update right, and not once it was applied."""
    if not (rights.update or request.acts_as_requestor(actor, rights)):
        return Refusal(Forbidden, _denied("updateApprovalRequest", rights), "your role cannot update requests")
    if request.status is Status.COMPLETED:
        return _state_refusal(request, "An applied approval request cannot be changed")
    return None


def check_can_update(request: ApprovalRequest, actor: Actor, *, rights: Rights) -> None:
    refusal = update_refusal(request, actor, rights=rights)
    if refusal is not None:
        refusal.raise_()


def delete_refusal(request: ApprovalRequest, actor: Actor, *, rights: Rights) -> Refusal | None:
    """Deleting (or cancelling, when scheduled) a request: its requester or the delete right, and not
    once it was applied."""
    if not (rights.delete or request.acts_as_requestor(actor, rights)):
        return Refusal(Forbidden, _denied("deleteApprovalRequest", rights), "your role cannot delete requests")
    if request.status is Status.COMPLETED:
        return _state_refusal(request, "An applied approval request cannot be deleted")
    return None


def check_can_delete(request: ApprovalRequest, actor: Actor, *, rights: Rights) -> None:
    refusal = delete_refusal(request, actor, rights=rights)
    if refusal is not None:
        refusal.raise_()


def mark_applied(request: ApprovalRequest, actor: Actor, *, now: int, scheduled: bool = False) -> None:
    if not scheduled:
        request.applied_date = now
        request.applied_by_member_id = actor.member_id
        request.applied_by_service_token_id = actor.token_id if actor.member_id is None else None
    request.status = Status.COMPLETED
    request.failure_reason = None
    request.touch()


def mark_scheduled(request: ApprovalRequest, actor: Actor, *, now: int) -> None:
    request.applied_date = now
    request.applied_by_member_id = actor.member_id
    request.applied_by_service_token_id = actor.token_id if actor.member_id is None else None
    request.status = Status.SCHEDULED
    request.touch()


def mark_failed(request: ApprovalRequest, actor: Actor, *, now: int, reason: str, scheduled: bool = False) -> None:
    if not scheduled:
        request.applied_date = now
        request.applied_by_member_id = actor.member_id
        request.applied_by_service_token_id = actor.token_id if actor.member_id is None else None
    request.status = Status.FAILED
    request.failure_reason = reason
    request.touch()


def apply_request_patch(request: ApprovalRequest, instructions: object, *, known_member: Any) -> list[str]:
    """Semantic patch of a request: ``addReviewers`` and ``updateDescription``, all or nothing. Returns
    what changed (empty: nothing did, and the version stays).

    ``known_member(id) -> bool`` and team expansion are the caller's (the service resolves team keys to
    member ids first). Approvals are not reset. Raises InvalidRequest.
    """
    if not isinstance(instructions, list) or not instructions:
        raise InvalidRequest("instructions must be a non-empty list")
    description = request.description
    members, teams = list(request.notify_member_ids), list(request.notify_team_keys)
    for index, instruction in enumerate(instructions):
        if not isinstance(instruction, dict):
            raise InvalidRequest(f"instruction {index} must be an object")
        kind = instruction.get("kind")
        if kind == "updateDescription":
            description = validate_description(instruction.get("value"))
        elif kind == "addReviewers":
            added = [m for m in instruction.get("notifyMemberIds") or [] if m not in members]
            unknown = [m for m in added if not known_member(m)]
            if unknown:
                raise InvalidRequest(f"instruction {index} (addReviewers): unknown member ids {', '.join(unknown)}")
            members += added
            teams += [t for t in instruction.get("notifyTeamKeys") or [] if t not in teams]
        else:
            raise InvalidRequest(f"instruction {index}: unknown kind '{kind}'; use addReviewers or updateDescription")
    changed = [
        name
        for name, differs in (
            ("description", description != request.description),
            ("reviewers", (members, teams) != (request.notify_member_ids, request.notify_team_keys)),
        )
        if differs
    ]
    if changed:
        request.description, request.notify_member_ids, request.notify_team_keys = description, members, teams
        request.touch()
    return changed
