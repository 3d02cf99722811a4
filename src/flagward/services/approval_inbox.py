"""The reviewer's inbox: approval requests by tab (waiting for my review, my requests, all), filtered,
counted per tab and paged, with the names of the people they mention.

"Waiting for my review" is decided by the domain's own rule: a pending request whose reviewers include
me (named, or through a team when it was made or later added), on which I have no current approve or
decline, and which ``review_refusal`` would let me approve. It is filtered in memory, after the store
narrowed the candidates to pending requests that name me.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum

from flagward.domain.accounts import Actor, Member
from flagward.domain.approvals import ApprovalRequest, ReviewKind, ReviewStatus, Rights, Status, review_refusal
from flagward.domain.permissions import Permission, require
from flagward.domain.projects import ApprovalSettings, Environment
from flagward.services._approvals import settings_for
from flagward.services.ports import ApprovalQuery, Deps, Page, UnitOfWork


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


def waiting_for(actor: Actor, request: ApprovalRequest, settings: ApprovalSettings) -> bool:
    """Whether ``request`` waits for ``actor``'s review (see the module docstring)."""
    if request.status is not Status.PENDING or actor.member_id is None:
        return False
    if actor.member_id not in request.notify_member_ids:
        return False
    if actor.member_id in request.current_verdicts():
        return False
    return review_refusal(request, actor, ReviewKind.APPROVE, settings=settings, rights=Rights.of(actor)) is None


def _query(tab: InboxTab, actor: Actor, filter: InboxFilter) -> ApprovalQuery | None:
    statuses = filter.statuses
    if tab is InboxTab.WAITING:
        if statuses and Status.PENDING.value not in statuses:
            return None
        statuses = (Status.PENDING.value,)
    return ApprovalQuery(
        project_key=filter.project_key,
        environment_key=filter.environment_key,
        statuses=statuses,
        requestor_id=(actor.member_id or "-") if tab is InboxTab.MINE else None,
        notify_member_ids=(actor.member_id or "-",) if tab is InboxTab.WAITING else (),
    )


def _matching(
    uow: UnitOfWork, settings: _Settings, actor: Actor, tab: InboxTab, filter: InboxFilter, page: Page | None
) -> tuple[list[InboxRow], int]:
    query = _query(tab, actor, filter)
    if query is None:
        return [], 0
    keep: Callable[[InboxRow], bool] | None = None
    if tab is InboxTab.WAITING or filter.review_statuses:

        def keep(row: InboxRow) -> bool:
            if filter.review_statuses and row.review_status.value not in filter.review_statuses:
                return False
            return tab is not InboxTab.WAITING or waiting_for(actor, row.request, row.settings)

    if keep is None:
        requests, total = uow.approvals.find(replace(query, page=page or Page(limit=1)))
        return [_row(r, settings(r)) for r in requests] if page else [], total
    rows = [row for row in (_row(r, settings(r)) for r in uow.approvals.find(query)[0]) if keep(row)]
    return (rows[page.offset : page.offset + page.limit] if page else []), len(rows)


def _row(request: ApprovalRequest, settings: ApprovalSettings) -> InboxRow:
    return InboxRow(request=request, review_status=request.review_status(settings), settings=settings)


def inbox(deps: Deps, *, actor: Actor, tab: InboxTab, filter: InboxFilter, page: Page) -> Inbox:
    """The page ``page`` of ``tab``, newest first, and how many requests match in every tab."""
    require(actor, Permission.READ)
    with deps.uow(write=False) as uow:
        settings = _Settings(uow)
        rows, total = _matching(uow, settings, actor, tab, filter, page)
        counts = {
            other: total if other is tab else _matching(uow, settings, actor, other, filter, None)[1]
            for other in InboxTab
        }
        mentioned = [m for row in rows for m in (row.request.requestor_id, *row.request.notify_member_ids)]
        return Inbox(rows=rows, total=total, counts=counts, people=people(uow, mentioned))
