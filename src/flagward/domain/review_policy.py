"""Required reviewer teams (flagward's own, beyond LaunchDarkly): an environment's approval settings may
name teams whose members must approve a change, ``requiredReviewers: [{teamKey, minApprovals}]``.

Decisions (the issue names the rule; the rest is ours):

- A request is approved when no current decline stands, approvals reach ``minNumApprovals`` *and* every
  required team has at least its ``minApprovals`` approvals from its members (:func:`review_status`).
- A reviewer's latest approve or decline counts, as for the overall minimum; a reviewer in two required
  teams counts for both; the requester never counts for a team (even where ``canReviewOwnRequest``
  lets their approval count toward the overall minimum); service tokens belong to no team.
- Membership is the reviewer's when they reviewed: the review records the required teams its author
  belonged to then. Leaving a team later does not withdraw an approval; joining one later counts once
  the member reviews again. So a request's standing depends on nothing but the request.
- The requirements are snapshotted onto the request when it is made: changing the environment's
  settings later neither approves nor blocks pending requests (re-request to be judged by the new
  rules). ``minNumApprovals`` keeps flagward's earlier behaviour and is read from the current settings.
- Settings: at most :data:`MAX_REQUIRED_TEAMS` teams, each once, ``minApprovals`` between 1 and
  :data:`MAX_TEAM_APPROVALS`; only with LaunchDarkly's own approvals (an external service decides alone).
  That the teams exist (and have enough members) is checked by the service, which can look.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from flagward.domain.errors import InvalidRequest

MAX_REQUIRED_TEAMS = 10
MAX_TEAM_APPROVALS = 5


class ReviewStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"


@dataclass(frozen=True)
class TeamRequirement:
    """At least ``min_approvals`` approvals from members of team ``team_key``."""

    team_key: str
    min_approvals: int = 1

    def document(self) -> dict[str, object]:
        return {"teamKey": self.team_key, "minApprovals": self.min_approvals}


@dataclass(frozen=True)
class TeamProgress:
    """How far one requirement is met: ``approvals`` counted from the team's members."""

    team_key: str
    min_approvals: int
    approvals: int

    @property
    def satisfied(self) -> bool:
        return self.approvals >= self.min_approvals

    @property
    def missing(self) -> int:
        return max(0, self.min_approvals - self.approvals)

    def document(self) -> dict[str, object]:
        return {
            "teamKey": self.team_key,
            "minApprovals": self.min_approvals,
            "approvals": self.approvals,
            "satisfied": self.satisfied,
        }


def team_progress(
    required: Iterable[TeamRequirement], approvers: Mapping[str, Collection[str]], *, requester: str | None
) -> tuple[TeamProgress, ...]:
    """Each requirement's progress. ``approvers``: each reviewer whose current verdict is approve, with
    the teams they belonged to when they gave it; ``requester`` (a member id, or None) never counts."""
    return tuple(
        TeamProgress(
            requirement.team_key,
            requirement.min_approvals,
            sum(1 for who, teams in approvers.items() if who != requester and requirement.team_key in teams),
        )
        for requirement in required
    )


def review_status(
    *, approvals: int, declines: int, min_num_approvals: int, teams: Iterable[TeamProgress]
) -> ReviewStatus:
    """``declined`` while a decline stands, else ``approved`` once the overall minimum and every team's
    minimum are met, else ``pending``."""
    if declines:
        return ReviewStatus.DECLINED
    if approvals >= min_num_approvals and all(t.satisfied for t in teams):
        return ReviewStatus.APPROVED
    return ReviewStatus.PENDING


def parse_required_reviewers(
    raw: object, *, field: str = "approvalSettings.requiredReviewers"
) -> tuple[TeamRequirement, ...]:
    """``[{teamKey, minApprovals}]`` (``minApprovals`` defaults to 1), validated. Raises InvalidRequest."""
    if not isinstance(raw, list):
        raise InvalidRequest(f"{field} must be a list of {{teamKey, minApprovals}} objects")
    result: list[TeamRequirement] = []
    for index, entry in enumerate(raw):
        if not isinstance(entry, dict) or not isinstance(entry.get("teamKey"), str) or not entry["teamKey"]:
            raise InvalidRequest(f"{field}[{index}] must be an object with a teamKey")
        unknown = sorted(set(entry) - {"teamKey", "minApprovals"})
        if unknown:
            raise InvalidRequest(f"{field}[{index}].{unknown[0]} is not a field of a required reviewer team")
        result.append(TeamRequirement(entry["teamKey"], entry.get("minApprovals", 1)))
    validate_required_reviewers(result, field=field)
    return tuple(result)


def validate_required_reviewers(
    required: Collection[TeamRequirement], *, field: str = "approvalSettings.requiredReviewers"
) -> None:
    """At most MAX_REQUIRED_TEAMS, each team once, minApprovals an integer in 1..MAX_TEAM_APPROVALS."""
    if len(required) > MAX_REQUIRED_TEAMS:
        raise InvalidRequest(f"{field} may name at most {MAX_REQUIRED_TEAMS} teams")
    seen: set[str] = set()
    for requirement in required:
        if not isinstance(requirement, TeamRequirement) or not isinstance(requirement.team_key, str):
            raise InvalidRequest(f"{field} must be a list of {{teamKey, minApprovals}} objects")
        if requirement.team_key in seen:
            raise InvalidRequest(f"{field} names team '{requirement.team_key}' more than once")
        seen.add(requirement.team_key)
        value = requirement.min_approvals
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TEAM_APPROVALS:
            raise InvalidRequest(
                f"{field}: minApprovals of team '{requirement.team_key}' must be an integer between 1 and "
                f"{MAX_TEAM_APPROVALS}"
            )
