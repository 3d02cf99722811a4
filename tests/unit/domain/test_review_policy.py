"""Required reviewer teams: every permutation of team membership by approvals by settings against an
oracle written from the rule (not from the code), and the settings' validation.

The rule: approved when no decline stands, approvals reach ``minNumApprovals`` and every required team
has at least its ``minApprovals`` approvals from its members; a reviewer in two teams counts for both;
the requester never counts for a team; membership is the reviewer's when they reviewed."""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from flagward.domain import approvals as domain
from flagward.domain.accounts import Actor, ActorKind, Role
from flagward.domain.approvals import ApprovalRequest, ResourceKind, ReviewKind, ReviewStatus, Rights
from flagward.domain.errors import InvalidRequest
from flagward.domain.projects import ApprovalSettings
from flagward.domain.review_policy import (
    MAX_REQUIRED_TEAMS,
    TeamRequirement,
    parse_required_reviewers,
    review_status,
    team_progress,
)

NOW = 1_700_000_000_000
TEAMS = ("pay", "sre")
REQUESTER = "r" * 24
OTHERS = ("a" * 24, "b" * 24, "c" * 24)
RIGHTS = Rights(request=True, review=True, apply=True, update=True, delete=True)
MEMBERSHIPS = [frozenset(), frozenset({"pay"}), frozenset({"sre"}), frozenset(TEAMS)]
REQUIREMENTS = [
    (),
    (TeamRequirement("pay", 1),),
    (TeamRequirement("pay", 2),),
    (TeamRequirement("pay", 1), TeamRequirement("sre", 1)),
    (TeamRequirement("pay", 2), TeamRequirement("sre", 1)),
]
SETTINGS = [(minimum, required) for minimum in (1, 2) for required in REQUIREMENTS]


def _actor(member_id: str) -> Actor:
    return Actor(kind=ActorKind.SESSION, role=Role.WRITER, member_id=member_id)


def _request(required: tuple[TeamRequirement, ...]) -> ApprovalRequest:
    return domain.new_request(
        project_key="p",
        environment_key="production",
        resource_kind=ResourceKind.FLAG,
        resource_key="f",
        creation_date=NOW,
        description="Turn it on",
        instructions=[{"kind": "turnFlagOn"}],
        base_version=1,
        requestor_id=REQUESTER,
        required_reviewers=required,
    )


def oracle(
    minimum: int,
    required: tuple[TeamRequirement, ...],
    membership: Mapping[str, frozenset[str]],
    verdicts: Mapping[str, str],
) -> tuple[str, dict[str, int]]:
    """The review status and each team's count, from the rule."""
    approvers = {who for who, verdict in verdicts.items() if verdict == "approve"}
    counts = {r.team_key: len({m for m in approvers - {REQUESTER} if r.team_key in membership[m]}) for r in required}
    if "decline" in verdicts.values():
        return "declined", counts
    met = len(approvers) >= minimum and all(counts[r.team_key] >= r.min_approvals for r in required)
    return ("approved" if met else "pending"), counts


def _settings_id(value: tuple[int, tuple[TeamRequirement, ...]]) -> str:
    minimum, required = value
    return f"min{minimum}-" + ("+".join(f"{r.team_key}{r.min_approvals}" for r in required) or "no-teams")


@pytest.mark.parametrize("setting", SETTINGS, ids=_settings_id)
def test_every_membership_and_verdict_permutation_agrees_with_the_oracle(
    setting: tuple[int, tuple[TeamRequirement, ...]],
) -> None:
    minimum, required = setting
    settings = ApprovalSettings(min_num_approvals=minimum, can_review_own_request=True)
    for memberships in itertools.product([frozenset(), frozenset(TEAMS)], *[MEMBERSHIPS] * len(OTHERS)):
        membership = dict(zip((REQUESTER, *OTHERS), memberships, strict=True))
        for kinds in itertools.product(("", "approve"), *[("", "approve", "decline")] * len(OTHERS)):
            verdicts = {who: kind for who, kind in zip((REQUESTER, *OTHERS), kinds, strict=True) if kind}
            request = _request(required)
            for who, kind in verdicts.items():
                domain.add_review(
                    request,
                    _actor(who),
                    ReviewKind(kind),
                    None,
                    settings=settings,
                    rights=RIGHTS,
                    now=NOW,
                    teams=membership[who],
                )
            status, counts = oracle(minimum, required, membership, verdicts)
            case = f"membership={membership} verdicts={verdicts}"
            assert request.review_status(settings).value == status, case
            assert {t.team_key: t.approvals for t in request.team_progress()} == counts, case
            applicable = domain.apply_refusal(request, _actor(OTHERS[0]), settings=settings, rights=RIGHTS) is None
            # canApplyDeclinedChanges is on (the default): declines aside, apply waits for the same rule.
            approvals = sum(1 for v in verdicts.values() if v == "approve")
            met = approvals >= minimum and all(counts[r.team_key] >= r.min_approvals for r in required)
            assert applicable == met, case


def test_the_latest_verdict_counts_with_the_membership_it_was_given_with() -> None:
    settings = ApprovalSettings()
    request = _request((TeamRequirement("pay", 1),))
    reviewer = _actor(OTHERS[0])

    def review(kind: ReviewKind, teams: frozenset[str]) -> ReviewStatus:
        domain.add_review(request, reviewer, kind, None, settings=settings, rights=RIGHTS, now=NOW, teams=teams)
        return request.review_status(settings)

    assert review(ReviewKind.APPROVE, frozenset()) is ReviewStatus.PENDING  # not yet in the team
    assert review(ReviewKind.APPROVE, frozenset({"pay"})) is ReviewStatus.APPROVED  # joined, approved again
    assert review(ReviewKind.COMMENT, frozenset()) is ReviewStatus.APPROVED  # a comment changes nothing
    assert review(ReviewKind.DECLINE, frozenset({"pay"})) is ReviewStatus.DECLINED
    assert request.team_progress()[0].approvals == 0


def test_only_the_required_teams_are_recorded_on_a_review_and_tokens_belong_to_none() -> None:
    settings = ApprovalSettings()
    request = _request((TeamRequirement("pay", 1),))
    member = domain.add_review(
        request,
        _actor(OTHERS[0]),
        ReviewKind.APPROVE,
        None,
        settings=settings,
        rights=RIGHTS,
        now=NOW,
        teams={"pay", "design"},
    )
    token = Actor(kind=ActorKind.SERVICE_TOKEN, role=Role.WRITER, token_id="t" * 24)
    robot = domain.add_review(
        request, token, ReviewKind.APPROVE, None, settings=settings, rights=RIGHTS, now=NOW, teams={"pay"}
    )
    assert (member.teams, robot.teams) == (("pay",), ())


def test_apply_is_refused_naming_each_team_still_short() -> None:
    settings = ApprovalSettings()
    request = _request((TeamRequirement("pay", 2), TeamRequirement("sre", 1)))
    domain.add_review(
        request,
        _actor(OTHERS[0]),
        ReviewKind.APPROVE,
        None,
        settings=settings,
        rights=RIGHTS,
        now=NOW,
        teams={"pay"},
    )
    refusal = domain.apply_refusal(request, _actor(OTHERS[1]), settings=settings, rights=RIGHTS)
    assert refusal is not None and refusal.error is InvalidRequest
    assert refusal.message == (
        "This approval request needs 2 approvals from team 'pay' (it has 1), 1 approval from team 'sre' (it has 0) "
        "before it can be applied"
    )
    assert refusal.short == "needs 2 approvals from team pay, has 1"


def test_the_pure_functions_directly() -> None:
    required = (TeamRequirement("pay", 1), TeamRequirement("sre", 2))
    progress = team_progress(required, {"x": {"pay", "sre"}, "y": {"sre"}, "me": {"pay"}}, requester="me")
    assert [t.document() for t in progress] == [
        {"teamKey": "pay", "minApprovals": 1, "approvals": 1, "satisfied": True},
        {"teamKey": "sre", "minApprovals": 2, "approvals": 2, "satisfied": True},
    ]
    assert review_status(approvals=3, declines=0, min_num_approvals=3, teams=progress) is ReviewStatus.APPROVED
    assert review_status(approvals=3, declines=1, min_num_approvals=1, teams=progress) is ReviewStatus.DECLINED
    short = team_progress(required, {"y": {"sre"}}, requester=None)
    assert [t.missing for t in short] == [1, 1]
    assert review_status(approvals=5, declines=0, min_num_approvals=1, teams=short) is ReviewStatus.PENDING


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("pay", "must be a list"),
        ([{"minApprovals": 1}], r"\[0\] must be an object with a teamKey"),
        ([{"teamKey": ""}], r"\[0\] must be an object with a teamKey"),
        ([{"teamKey": "pay", "min": 1}], r"\[0\]\.min is not a field"),
        ([{"teamKey": "pay", "minApprovals": 0}], "between 1 and 5"),
        ([{"teamKey": "pay", "minApprovals": 6}], "between 1 and 5"),
        ([{"teamKey": "pay", "minApprovals": True}], "between 1 and 5"),
        ([{"teamKey": "pay", "minApprovals": "2"}], "between 1 and 5"),
        ([{"teamKey": "pay"}, {"teamKey": "pay", "minApprovals": 2}], "names team 'pay' more than once"),
        ([{"teamKey": f"t{i}"} for i in range(MAX_REQUIRED_TEAMS + 1)], f"at most {MAX_REQUIRED_TEAMS} teams"),
    ],
)
def test_bad_required_reviewers_are_refused(raw: object, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        parse_required_reviewers(raw)


def test_required_reviewers_parse_with_a_default_minimum_and_need_flagwards_own_approvals() -> None:
    parsed = parse_required_reviewers([{"teamKey": "pay"}, {"teamKey": "sre", "minApprovals": 2}])
    assert parsed == (TeamRequirement("pay", 1), TeamRequirement("sre", 2))
    settings = ApprovalSettings(required_reviewers=parsed)
    assert settings.validated() is settings
    with pytest.raises(InvalidRequest, match="only available with flagward's own approvals"):
        ApprovalSettings(
            required_reviewers=parsed,
            service_kind="servicenow",
            service_config={"url": "https://approvals.example.com", "secretEnv": "FLAGWARD_APPROVAL_SECRET"},
        ).validated()


_EVENTS = st.lists(
    st.tuples(
        st.sampled_from((REQUESTER, *OTHERS)),
        st.sampled_from(("approve", "decline", "comment")),
        st.frozensets(st.sampled_from(TEAMS)),
    ),
    max_size=8,
)


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    events=_EVENTS,
    minimum=st.integers(1, 3),
    required=st.sampled_from(REQUIREMENTS),
)
def test_any_sequence_of_reviews_counts_each_reviewers_latest_verdict_with_its_membership(
    events: list[tuple[str, str, frozenset[str]]], minimum: int, required: tuple[TeamRequirement, ...]
) -> None:
    """Re-reviews, comments and membership that changes between reviews, in any order."""
    settings = ApprovalSettings(min_num_approvals=minimum, can_review_own_request=True)
    request = _request(required)
    latest: dict[str, tuple[str, frozenset[str]]] = {}
    for who, kind, teams in events:
        domain.add_review(
            request, _actor(who), ReviewKind(kind), None, settings=settings, rights=RIGHTS, now=NOW, teams=teams
        )
        if kind != "comment":
            latest[who] = (kind, teams)
    membership = {who: teams for who, (_, teams) in latest.items()}
    status, counts = oracle(minimum, required, membership, {who: kind for who, (kind, _) in latest.items()})
    assert request.review_status(settings).value == status
    assert {t.team_key: t.approvals for t in request.team_progress()} == counts
