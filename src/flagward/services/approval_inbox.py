"""The reviewer's inbox: approval requests by tab (waiting for my review, my requests, all), filtered,
counted per tab and paged, with the names of the people they mention.

"Waiting for my review" is decided by the domain's own rule: a pending request whose reviewers include
me (named, or through a team when it was made or later added), on which I have no current approve or
decline, and which ``review_refusal`` would let me approve (``waiting_for``). The store does the
filtering (``ApprovalQuery``'s review filters, with each environment's settings as ``ReviewScope``s), so
a page costs the same with 10,000 pending requests as with ten; ``tests/integration/test_approval_inbox_query.py``
holds the store's answer equal to ``waiting_for``. The review right itself depends on the request's flag or
segment and their tags (a reviewer of flags tagged ``payments``): the store's answer for "waiting for my
review" (pending requests naming me that I have not reviewed yet) is judged request by request in memory.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum

from flagward.domain.accounts import Actor, Member
from flagward.domain.approvals import (
    ApprovalRequest,
    ResourceKind,
    ReviewKind,
    ReviewStatus,
    Rights,
    Status,
    review_refusal,
)
from flagward.domain.authorization import authorize, may_view_any
from flagward.domain.projects import ApprovalSettings, Environment
from flagward.domain.resources import ACCOUNT
from flagward.services._approvals import settings_for
from flagward.services.authz import request_resource
from flagward.services.ports import ApprovalQuery, Deps, Page, ProjectQuery, ReviewScope, UnitOfWork


class InboxTab(StrEnum):
    WAITING = "waiting"
    MINE = "mine"
    ALL = "all"


@dataclass(frozen=True)
class InboxFilter:
    project_key: str | None = None
    environment_key: str | None = None
    statuses: tuple[str, ...] = ()
    review_statuses: tuple[str, ...] = ()


@dataclass(frozen=True)
class InboxRow:
    request: ApprovalRequest
    review_status: ReviewStatus
    settings: ApprovalSettings


@dataclass
class Inbox:
    rows: list[InboxRow]
    total: int  # matching rows in the chosen tab
    counts: dict[InboxTab, int]  # matching rows in each tab
    people: dict[str, str] = field(default_factory=dict)  # member id -> display name


def display_name(member: Member) -> str:
    full = " ".join(p for p in (member.first_name, member.last_name) if p)
    return full or member.email


def people(uow: UnitOfWork, member_ids: Iterable[str | None]) -> dict[str, str]:
    """Display names of the members with these ids (unknown or removed members are left out)."""
    result: dict[str, str] = {}
    for member_id in dict.fromkeys(m for m in member_ids if m):
        member = uow.members.get(member_id)
        if member is not None:
            result[member_id] = display_name(member)
    return result


class _Settings:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self._envs: dict[tuple[str, str], Environment | None] = {}

    def __call__(self, request: ApprovalRequest) -> ApprovalSettings:
        key = (request.project_key, request.environment_key)
        if key not in self._envs:
            self._envs[key] = self.uow.environments.get(*key)
        env = self._envs[key]
        return settings_for(env, request.resource_kind) if env else ApprovalSettings()


def waiting_for(
    actor: Actor, request: ApprovalRequest, settings: ApprovalSettings, resource: str | None = None
) -> bool:
    """Whether ``request`` waits for ``actor``'s review (see the module docstring). ``resource``: the
    request's flag or segment with its and its environment's tags (``services.authz.request_resource``),
    on which the review right is judged (default: without tags)."""
    if request.status is not Status.PENDING or actor.member_id is None:
        return False
    if actor.member_id not in request.notify_member_ids:
        return False
    if actor.member_id in request.current_verdicts():
        return False
    return (
        review_refusal(
            request,
            actor,
            ReviewKind.APPROVE,
            settings=settings,
            rights=Rights.of(actor, resource or request.resource_id),
        )
        is None
    )


def review_scopes(uow: UnitOfWork) -> tuple[ReviewScope, ...]:
    """Every environment's approval settings that differ from the defaults, for the store's filters."""
    projects, _ = uow.projects.find(ProjectQuery(page=Page(limit=10_000)))
    scopes = []
    for project in projects:
        for env in uow.environments.find(project.key)[0]:
            for kind in ResourceKind:
                settings = settings_for(env, kind)
                if settings.min_num_approvals != 1 or settings.can_review_own_request:
                    scopes.append(
                        ReviewScope(
                            project.key,
                            env.key,
                            kind.value,
                            min_approvals=settings.min_num_approvals,
                            own_review=settings.can_review_own_request,
                        )
                    )
    return tuple(scopes)


def _may_review_some(actor: Actor) -> bool:
    """Whether the actor could review some flag's or segment's request (whatever their tags)."""
    return any(
        may_view_any(actor, "reviewApprovalRequest", kind) for kind in ("proj/*:env/*:flag/*", "proj/*:env/*:segment/*")
    )


def _query(tab: InboxTab, actor: Actor, filter: InboxFilter, scopes: tuple[ReviewScope, ...]) -> ApprovalQuery | None:
    """``waiting_for`` and the filters as one store query (None: nothing can match)."""
    statuses = filter.statuses
    me = actor.member_id or "-"
    if tab is InboxTab.WAITING:
        if (statuses and Status.PENDING.value not in statuses) or not _may_review_some(actor):
            return None
        statuses = (Status.PENDING.value,)
    waiting = tab is InboxTab.WAITING
    return ApprovalQuery(
        project_key=filter.project_key,
        environment_key=filter.environment_key,
        statuses=statuses,
        requestor_id=me if tab is InboxTab.MINE else None,
        notify_member_ids=(me,) if waiting else (),
        unreviewed_by=me if waiting else None,
        reviewable_by=me if waiting else None,
        review_statuses=filter.review_statuses,
        scopes=scopes,
    )


def _matching(
    uow: UnitOfWork,
    settings: _Settings,
    actor: Actor,
    tab: InboxTab,
    filter: InboxFilter,
    page: Page | None,
    scopes: tuple[ReviewScope, ...],
) -> tuple[list[InboxRow], int]:
    query = _query(tab, actor, filter, scopes)
    if query is None:
        return [], 0
    if tab is InboxTab.WAITING:
        # The review right depends on each request's flag or segment and their tags, which the store does
        # not know: its answer (pending requests naming me that I have not reviewed) is judged here.
        found, _ = uow.approvals.find(replace(query, page=Page(limit=1_000_000)))
        mine = [r for r in found if Rights.of(actor, request_resource(uow, r)).review]
        shown = mine[page.offset : page.offset + page.limit] if page else []
        return [_row(r, settings(r)) for r in shown], len(mine)
    # Without a page only the count is wanted: a page of no rows still counts every match.
    requests, total = uow.approvals.find(replace(query, page=page or Page(limit=0)))
    return [_row(r, settings(r)) for r in requests] if page else [], total


def _row(request: ApprovalRequest, settings: ApprovalSettings) -> InboxRow:
    return InboxRow(request=request, review_status=request.review_status(settings), settings=settings)


def inbox(deps: Deps, *, actor: Actor, tab: InboxTab, filter: InboxFilter, page: Page) -> Inbox:
    """The page ``page`` of ``tab``, newest first, and how many requests match in every tab."""
    # The inbox lists requests across projects; reading it is flagward's ``viewApprovalInbox`` on the account.
    authorize(actor, "viewApprovalInbox", ACCOUNT)
    with deps.uow(write=False) as uow:
        settings = _Settings(uow)
        scopes = review_scopes(uow)
        rows, total = _matching(uow, settings, actor, tab, filter, page, scopes)
        counts = {
            other: total if other is tab else _matching(uow, settings, actor, other, filter, None, scopes)[1]
            for other in InboxTab
        }
        mentioned = [m for row in rows for m in (row.request.requestor_id, *row.request.notify_member_ids)]
        return Inbox(rows=rows, total=total, counts=counts, people=people(uow, mentioned))
