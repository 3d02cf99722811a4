"""The console's approval settings form as the JSON patch it amounts to, required reviewer teams included."""

from __future__ import annotations

from flagward.domain.accounts import Team
from flagward.domain.projects import ApprovalSettings
from flagward.domain.review_policy import TeamRequirement
from flagward.http.console.pages_settings import approval_patch, team_rows

FORM = {"mode": "all", "tags": "", "min_approvals": "2", "self_review": "", "apply_declined": "on"}


def _paths(patch: list[dict[str, object]]) -> dict[object, object]:
    return {op["path"]: op["value"] for op in patch}


def test_without_team_fields_the_required_teams_are_left_alone() -> None:
    assert "/approvalSettings/requiredReviewers" not in _paths(approval_patch(FORM))


def test_each_team_given_a_minimum_is_required_and_the_others_are_not() -> None:
    form = {**FORM, "team_keys": ["pay", "sre", "ops"], "team_mins": ["2", "", "1"]}
    assert _paths(approval_patch(form))["/approvalSettings/requiredReviewers"] == [
        {"teamKey": "pay", "minApprovals": 2},
        {"teamKey": "ops", "minApprovals": 1},
    ]
    cleared = {**FORM, "team_keys": ["pay"], "team_mins": [""]}
    assert _paths(approval_patch(cleared))["/approvalSettings/requiredReviewers"] == []


def test_the_form_offers_the_listed_teams_and_any_required_team_beyond_them() -> None:
    pay = Team(id="p" * 24, key="pay", name="Payments", creation_date=0, last_modified=0)
    settings = ApprovalSettings(required_reviewers=(TeamRequirement("pay", 2), TeamRequirement("far", 1)))
    assert team_rows([pay], settings) == [("pay", "Payments", 2), ("far", "far", 1)]
    assert team_rows([pay], ApprovalSettings()) == [("pay", "Payments", 0)]
