"""Required reviewer teams where they meet the store: checking the teams settings name, the members a
new request notifies, the teams a reviewer counts for, and the teams that may not be deleted.

The rules themselves are in ``flagward.domain.review_policy``; these helpers run inside the caller's
unit of work (the caller authorizes its use case)."""

from __future__ import annotations

from flagward.domain.approvals import ApprovalRequest, ResourceKind
from flagward.domain.errors import InvalidRequest
from flagward.domain.projects import ApprovalSettings
from flagward.domain.review_policy import TeamRequirement
from flagward.services.ports import Page, ProjectQuery, UnitOfWork


def check_required_teams(
    uow: UnitOfWork, before: ApprovalSettings, after: ApprovalSettings, *, field: str = "approvalSettings"
) -> None:
    """Each team ``after`` requires anew (or with a higher minimum than ``before``) exists and has at
    least ``minApprovals`` members. Requirements kept as they were are not judged again, so a team that
    shrank since does not block saving other settings. Raises InvalidRequest."""
    kept = {r.team_key: r.min_approvals for r in before.required_reviewers}
    for requirement in after.required_reviewers:
        if kept.get(requirement.team_key, 0) >= requirement.min_approvals:
            continue
        team = uow.teams.get(requirement.team_key)
        if team is None:
            raise InvalidRequest(f"{field}.requiredReviewers: unknown team '{requirement.team_key}'")
        if len(team.member_ids) < requirement.min_approvals:
            raise InvalidRequest(
                f"{field}.requiredReviewers: team '{team.key}' has {len(team.member_ids)} member(s), fewer than "
                f"the {requirement.min_approvals} approval(s) required of it"
            )


def required_team_members(uow: UnitOfWork, required: tuple[TeamRequirement, ...], *, exclude: str | None) -> list[str]:
    """The members of the required teams, in the teams' order, without repeats or ``exclude`` (the
    requester, who never counts)."""
    members: list[str] = []
    for requirement in required:
        team = uow.teams.get(requirement.team_key)
        if team is not None:
            members += [m for m in team.member_ids if m != exclude and m not in members]
    return members


def teams_of(uow: UnitOfWork, request: ApprovalRequest, member_id: str | None) -> list[str]:
    """The request's required teams ``member_id`` belongs to now (none for a token)."""
    if member_id is None:
        return []
    found = (uow.teams.get(r.team_key) for r in request.required_reviewers)
    return [team.key for team in found if team is not None and member_id in team.member_ids]


def environments_requiring(uow: UnitOfWork, team_key: str) -> list[str]:
    """``project/environment (kind)`` of every environment whose approval settings require ``team_key``."""
    projects, _ = uow.projects.find(ProjectQuery(page=Page(limit=10_000)))
    found: list[str] = []
    for project in projects:
        for env in uow.environments.find(project.key)[0]:
            for kind, settings in (
                (ResourceKind.FLAG, env.approval_settings),
                (ResourceKind.SEGMENT, env.segment_approval_settings),
            ):
                if any(r.team_key == team_key for r in settings.required_reviewers):
                    found.append(f"{project.key}/{env.key} ({kind.value})")
    return found
