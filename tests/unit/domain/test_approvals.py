"""The approval-request aggregate: review status, who may review, apply, update and delete, the
transitions, and the semantic patch of a request."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flagward.domain import approvals as domain
from flagward.domain.accounts import Actor, ActorKind, Role
from flagward.domain.approvals import ApprovalRequest, ResourceKind, Review, ReviewKind, ReviewStatus, Rights, Status
from flagward.domain.errors import Forbidden, InvalidRequest
from flagward.domain.projects import ApprovalSettings

NOW = 1_700_000_000_000
REQUESTER = Actor(kind=ActorKind.SESSION, role=Role.WRITER, member_id="a" * 24)
REVIEWER = Actor(kind=ActorKind.SESSION, role=Role.WRITER, member_id="b" * 24)
TOKEN = Actor(kind=ActorKind.SERVICE_TOKEN, role=Role.WRITER, token_id="c" * 24)
FLAG = "proj/p:env/production:flag/f"
WRITER_RIGHTS = Rights.of(REVIEWER, FLAG)
NO_RIGHTS = Rights()


def _request(**fields: object) -> ApprovalRequest:
    values: dict[str, object] = {
        "project_key": "p",
        "environment_key": "production",
        "resource_kind": ResourceKind.FLAG,
        "resource_key": "f",
        "creation_date": NOW,
        "description": "Turn it on",
        "instructions": [{"kind": "turnFlagOn"}],
        "base_version": 3,
        "requestor_id": REQUESTER.member_id,
    }
    values.update(fields)
    return domain.new_request(**values)


def _review(kind: ReviewKind, who: str, at: int = NOW) -> Review:
    return Review(id=f"r{at}", kind=kind, creation_date=at, member_id=who)


def test_a_new_request_is_pending_at_version_one_with_a_24_hex_id() -> None:
    request = _request()
    assert (request.status, request.version, request.reviews) == (Status.PENDING, 1, [])
    assert len(request.id) == 24 and int(request.id, 16) >= 0
    assert request.resource_id == "proj/p:env/production:flag/f"
    assert (
        _request(resource_kind=ResourceKind.SEGMENT, resource_key="s").resource_id == "proj/p:env/production:segment/s"
    )


@pytest.mark.parametrize("description", [None, "", " \n", "x" * 5001, 5])
def test_a_description_is_required_and_at_most_5000_characters(description: object) -> None:
    with pytest.raises(InvalidRequest, match="description"):
        _request(description=description)
    assert _request(description="x" * 5000).description == "x" * 5000


def test_rights_follow_the_role() -> None:
    assert Rights.of(Actor(kind=ActorKind.SESSION, role=Role.READER), FLAG) == Rights()
    assert Rights.of(Actor(kind=ActorKind.SESSION, role=Role.WRITER), FLAG) == Rights(True, True, True, True, True)
    assert Rights.of(Actor(kind=ActorKind.SESSION, role=Role.NO_ACCESS), FLAG) == Rights()


# -- review status -----------------------------------------------------------------------------------

VERDICTS = st.lists(st.tuples(st.sampled_from(["a", "b", "c", "d"]), st.sampled_from(list(ReviewKind))), max_size=12)


@given(VERDICTS, st.integers(min_value=1, max_value=5))
def test_review_status_counts_each_reviewers_latest_verdict(
    verdicts: list[tuple[str, ReviewKind]], needed: int
) -> None:
    request = _request(reviews=[_review(kind, who, NOW + i) for i, (who, kind) in enumerate(verdicts)])
    latest: dict[str, ReviewKind] = {}
    for who, kind in verdicts:
        if kind is not ReviewKind.COMMENT:
            latest[who] = kind
    approvals = sum(1 for k in latest.values() if k is ReviewKind.APPROVE)
    declined = any(k is ReviewKind.DECLINE for k in latest.values())
    status = request.review_status(ApprovalSettings(min_num_approvals=needed))
    if declined:
        assert status is ReviewStatus.DECLINED
    elif approvals >= needed:
        assert status is ReviewStatus.APPROVED
    else:
        assert status is ReviewStatus.PENDING
    assert (request.approvals(), request.declines()) == (
        approvals,
        sum(1 for k in latest.values() if k is ReviewKind.DECLINE),
    )


def test_a_service_tokens_reviews_count_as_one_reviewer() -> None:
    request = _request()
    settings = ApprovalSettings(min_num_approvals=2)
    domain.add_review(request, TOKEN, ReviewKind.APPROVE, None, settings=settings, rights=WRITER_RIGHTS, now=NOW)
    domain.add_review(request, TOKEN, ReviewKind.APPROVE, None, settings=settings, rights=WRITER_RIGHTS, now=NOW)
    assert request.approvals() == 1 and request.review_status(settings) is ReviewStatus.PENDING
    assert [(r.member_id, r.service_token_id) for r in request.reviews] == [(None, TOKEN.token_id)] * 2


# -- reviewing ---------------------------------------------------------------------------------------


def test_add_review_records_it_and_bumps_the_version() -> None:
    request = _request()
    review = domain.add_review(
        request, REVIEWER, ReviewKind.DECLINE, "not yet", settings=ApprovalSettings(), rights=WRITER_RIGHTS, now=NOW + 5
    )
    assert (review.kind, review.comment, review.member_id, review.creation_date) == (
        ReviewKind.DECLINE,
        "not yet",
        REVIEWER.member_id,
        NOW + 5,
    )
    assert request.reviews == [review] and request.version == 2


@pytest.mark.parametrize("kind", [ReviewKind.APPROVE, ReviewKind.DECLINE])
def test_approving_or_declining_ones_own_request_needs_the_setting(kind: ReviewKind) -> None:
    request = _request()
    with pytest.raises(Forbidden, match="own"):
        domain.add_review(request, REQUESTER, kind, None, settings=ApprovalSettings(), rights=WRITER_RIGHTS, now=NOW)
    assert request.reviews == [] and request.version == 1
    allowed = ApprovalSettings(can_review_own_request=True)
    domain.add_review(request, REQUESTER, kind, None, settings=allowed, rights=WRITER_RIGHTS, now=NOW)
    assert request.reviews[0].kind is kind


def test_without_the_review_right_only_the_requester_comments_and_only_while_they_may_request() -> None:
    request = _request()
    settings = ApprovalSettings(can_review_own_request=True)
    requester_rights = Rights(request=True)
    domain.add_review(request, REQUESTER, ReviewKind.COMMENT, "hi", settings=settings, rights=requester_rights, now=NOW)
    for who, rights in ((REQUESTER, NO_RIGHTS), (REVIEWER, requester_rights), (REVIEWER, NO_RIGHTS)):
        with pytest.raises(Forbidden, match="reviewApprovalRequest"):
            domain.add_review(request, who, ReviewKind.COMMENT, None, settings=settings, rights=rights, now=NOW)
    with pytest.raises(Forbidden, match="reviewApprovalRequest"):
        domain.add_review(
            request, REQUESTER, ReviewKind.APPROVE, None, settings=settings, rights=requester_rights, now=NOW
        )
    assert len(request.reviews) == 1


@pytest.mark.parametrize("status", [Status.COMPLETED, Status.FAILED, Status.SCHEDULED])
def test_only_a_pending_request_is_reviewed(status: Status) -> None:
    request = _request(status=status)
    with pytest.raises(InvalidRequest, match=str(status)):
        domain.add_review(
            request, REVIEWER, ReviewKind.COMMENT, None, settings=ApprovalSettings(), rights=WRITER_RIGHTS, now=NOW
        )
    with pytest.raises(Forbidden):  # the actor is refused before the request's state is told
        domain.add_review(
            request, REVIEWER, ReviewKind.COMMENT, None, settings=ApprovalSettings(), rights=NO_RIGHTS, now=NOW
        )


# -- applying ----------------------------------------------------------------------------------------


def _approved(needed: int = 1, *extra: Review) -> ApprovalRequest:
    reviews = [_review(ReviewKind.APPROVE, f"{i:024x}", NOW + i) for i in range(needed)]
    return _request(reviews=[*reviews, *extra])


def test_apply_needs_enough_approvals_and_no_standing_decline_unless_allowed() -> None:
    settings = ApprovalSettings(min_num_approvals=2, can_apply_declined_changes=False)
    domain.check_can_apply(_approved(2), REVIEWER, settings=settings, rights=WRITER_RIGHTS)
    with pytest.raises(InvalidRequest, match="needs 2 approval"):
        domain.check_can_apply(_approved(1), REVIEWER, settings=settings, rights=WRITER_RIGHTS)
    declined = _approved(2, _review(ReviewKind.DECLINE, "f" * 24, NOW + 9))
    with pytest.raises(InvalidRequest, match="declined"):
        domain.check_can_apply(declined, REVIEWER, settings=settings, rights=WRITER_RIGHTS)
    domain.check_can_apply(
        declined, REVIEWER, settings=ApprovalSettings(min_num_approvals=2), rights=WRITER_RIGHTS
    )  # LaunchDarkly's default allows it


def test_the_requester_may_apply_without_the_apply_right_while_they_may_request() -> None:
    settings = ApprovalSettings()
    domain.check_can_apply(_approved(), REQUESTER, settings=settings, rights=Rights(request=True))
    for who, rights in ((REQUESTER, NO_RIGHTS), (REVIEWER, Rights(request=True))):
        with pytest.raises(Forbidden):
            domain.check_can_apply(_approved(), who, settings=settings, rights=rights)


@pytest.mark.parametrize("status", [Status.COMPLETED, Status.FAILED, Status.SCHEDULED])
def test_a_request_is_applied_at_most_once(status: Status) -> None:
    request = _approved()
    request.status = status
    with pytest.raises(InvalidRequest, match="at most once"):
        domain.check_can_apply(request, REVIEWER, settings=ApprovalSettings(), rights=WRITER_RIGHTS)


def test_the_transitions_record_who_and_when() -> None:
    applied = _approved()
    domain.mark_applied(applied, TOKEN, now=NOW + 1)
    assert (
        applied.status,
        applied.applied_date,
        applied.applied_by_member_id,
        applied.applied_by_service_token_id,
    ) == (
        Status.COMPLETED,
        NOW + 1,
        None,
        TOKEN.token_id,
    )
    scheduled = _approved()
    scheduled.execution_date = NOW + 100
    domain.mark_scheduled(scheduled, REVIEWER, now=NOW + 2)
    assert (scheduled.status, scheduled.applied_date, scheduled.applied_by_member_id) == (
        Status.SCHEDULED,
        NOW + 2,
        REVIEWER.member_id,
    )
    domain.mark_applied(scheduled, REVIEWER, now=NOW + 100, scheduled=True)
    assert (scheduled.status, scheduled.applied_date, scheduled.version) == (Status.COMPLETED, NOW + 2, 3)
    failed = _approved()
    domain.mark_failed(failed, REVIEWER, now=NOW + 3, reason="rule r1 is gone")
    assert (failed.status, failed.failure_reason, failed.applied_date, failed.version) == (
        Status.FAILED,
        "rule r1 is gone",
        NOW + 3,
        2,
    )


# -- updating and deleting ---------------------------------------------------------------------------


@pytest.mark.parametrize("check", [domain.check_can_update, domain.check_can_delete])
def test_update_and_delete_need_the_right_or_being_the_requester_and_an_unapplied_request(check: object) -> None:
    assert callable(check)
    check(_request(), REQUESTER, rights=Rights(request=True))
    check(_request(status=Status.FAILED), REVIEWER, rights=WRITER_RIGHTS)
    check(_request(status=Status.SCHEDULED), REVIEWER, rights=WRITER_RIGHTS)
    for who, rights in ((REVIEWER, Rights(request=True, review=True, apply=True)), (REQUESTER, NO_RIGHTS)):
        with pytest.raises(Forbidden):
            check(_request(), who, rights=rights)
    with pytest.raises(InvalidRequest, match="applied"):
        check(_request(status=Status.COMPLETED), REQUESTER, rights=WRITER_RIGHTS)


def test_patch_updates_the_description_and_adds_reviewers_keeping_the_reviews() -> None:
    request = _approved(1)
    reviews = list(request.reviews)
    changed = domain.apply_request_patch(
        request,
        [
            {"kind": "updateDescription", "value": "Turn it on today"},
            {"kind": "addReviewers", "notifyMemberIds": ["m1", "m2"], "notifyTeamKeys": ["qa"]},
            {"kind": "addReviewers", "notifyMemberIds": ["m2", "m3"]},
        ],
        known_member=lambda m: m in {"m1", "m2", "m3"},
    )
    assert changed == ["description", "reviewers"]
    assert (request.description, request.notify_member_ids, request.notify_team_keys) == (
        "Turn it on today",
        ["m1", "m2", "m3"],
        ["qa"],
    )
    assert request.reviews == reviews and request.version == 2
    assert (
        domain.apply_request_patch(request, [{"kind": "addReviewers", "notifyMemberIds": ["m1"]}], known_member=bool)
        == []
    )
    assert request.version == 2


@pytest.mark.parametrize(
    ("instructions", "message"),
    [
        (None, "non-empty"),
        ([], "non-empty"),
        (["updateDescription"], "object"),
        ([{"kind": "updateDescription", "value": "ok"}, {"kind": "updateInstructions"}], "unknown kind"),
        ([{"kind": "updateDescription", "value": "ok"}, {"kind": "updateDescription", "value": ""}], "description"),
        ([{"kind": "addReviewers", "notifyMemberIds": ["m1", "ghost"]}], "ghost"),
    ],
)
def test_a_bad_patch_changes_nothing(instructions: object, message: str) -> None:
    request = _request()
    before = copy.deepcopy(request)
    with pytest.raises(InvalidRequest, match=message):
        domain.apply_request_patch(request, instructions, known_member=lambda m: m == "m1")
    assert request == before
