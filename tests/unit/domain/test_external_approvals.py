"""External approval services in the domain: signatures, the settings' contract, endpoint checks, and how
a reported status becomes a review (idempotent, one record per request)."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from flagward.domain.approval_services import check_endpoint, validate_service
from flagward.domain.approvals import ApprovalRequest, ResourceKind, ReviewKind, ReviewStatus, Status
from flagward.domain.errors import InvalidRequest
from flagward.domain.external_approvals import Report, add_service_review, parse_report, record_report
from flagward.domain.projects import ApprovalSettings
from flagward.domain.signing import fresh, sign, sign_timestamped, verify, verify_timestamped

GOOD = {"url": "https://approvals.example.com/changes", "secretEnv": "FLAGWARD_APPROVAL_SECRET_ITSM"}


def test_signatures_are_hex_hmac_sha256_and_checked_in_constant_time() -> None:
    body = b'{"a":1}'
    assert sign("s", body) == hmac.new(b"s", body, hashlib.sha256).hexdigest()
    assert verify("s", body, sign("s", body).upper())
    assert not verify("s", body, sign("t", body))
    assert not verify("s", body, None)
    assert sign_timestamped("s", 1700000000, body) == sign("s", b"1700000000." + body)
    assert verify_timestamped("s", "1700000000", body, sign_timestamped("s", 1700000000, body))
    assert not verify_timestamped("s", "1700000001", body, sign_timestamped("s", 1700000000, body))
    assert not verify_timestamped("s", "-1", body, sign("s", b"-1." + body))


def test_timestamps_are_fresh_within_the_window_either_way() -> None:
    now_ms = 1_700_000_000_000
    assert fresh("1700000000", now_ms=now_ms, window_seconds=300)
    assert fresh("1700000299", now_ms=now_ms, window_seconds=300)
    assert not fresh("1699999699", now_ms=now_ms, window_seconds=300)
    assert not fresh(None, now_ms=now_ms, window_seconds=300)
    assert not fresh("soon", now_ms=now_ms, window_seconds=300)


def test_an_external_service_needs_an_url_and_a_secret_variable_of_flagwards_prefix() -> None:
    settings = ApprovalSettings(service_kind="itsm", service_config=GOOD, auto_apply_approved_changes=True)
    assert settings.validated().external is not None
    assert ApprovalSettings().external is None
    for config, words in (
        ({"url": "ftp://x/y", "secretEnv": GOOD["secretEnv"]}, "serviceConfig.url"),
        ({"url": GOOD["url"]}, "secretEnv"),
        ({"url": GOOD["url"], "secretEnv": "FLAGWARD_DATABASE_URL"}, "FLAGWARD_APPROVAL_SECRET"),
        ({**GOOD, "secret": "plain"}, "unknown field"),
    ):
        with pytest.raises(InvalidRequest, match=words):
            validate_service("itsm", config)
    with pytest.raises(InvalidRequest, match="serviceKind"):
        validate_service("no spaces please", GOOD)
    with pytest.raises(InvalidRequest, match="autoApplyApprovedChanges"):
        ApprovalSettings(auto_apply_approved_changes=True).validated()


@pytest.mark.parametrize(
    "url",
    [
        "http://approvals.example.com/x",
        "https://127.0.0.1/x",
        "https://10.1.2.3/x",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/x",
        "https://[::ffff:127.0.0.1]/x",
        "https://localhost/x",
        "https://api.localhost/x",
    ],
)
def test_private_and_plain_http_endpoints_are_refused_unless_allowed(url: str) -> None:
    with pytest.raises(InvalidRequest, match="FLAGWARD_WEBHOOK_ALLOW_PRIVATE"):
        check_endpoint(url, allow_private=False)
    check_endpoint(url, allow_private=True)
    check_endpoint("https://approvals.example.com/x", allow_private=False)


def _request() -> ApprovalRequest:
    return ApprovalRequest(
        id="r1",
        project_key="p",
        environment_key="production",
        resource_kind=ResourceKind.FLAG,
        resource_key="f",
        creation_date=1,
        description="d",
        instructions=[{"kind": "turnFlagOn"}],
        base_version=1,
        service_kind="itsm",
    )


def _status(value: str, display: str | None = None) -> Report:
    body = {"externalId": "CHG1", "status": {"value": value, "display": display or value}}
    return parse_report(body, status_required=True)


def test_a_report_links_the_request_then_decides_once_per_status_change() -> None:
    request = _request()
    created = parse_report({"externalId": "CHG1", "externalUrl": "https://itsm/CHG1"}, status_required=False)
    assert record_report(request, created, now=10) is None
    assert request.integration is not None and request.integration.external_status.value == "pending"
    assert record_report(request, _status("in_review"), now=20) is None
    assert record_report(request, _status("approved", "Approved"), now=30) is ReviewKind.APPROVE
    version = request.version
    assert record_report(request, _status("approved", "Approved"), now=40) is None  # a replay
    assert request.version == version and request.integration.last_checked == 40
    assert record_report(request, _status("approved", "Approved by CAB"), now=50) is None  # words only
    with pytest.raises(InvalidRequest, match="externalId"):
        record_report(request, Report(external_id="CHG2"), now=60)


def test_the_service_counts_as_one_reviewer_and_its_latest_decision_stands() -> None:
    request = _request()
    settings = ApprovalSettings(min_num_approvals=2)
    add_service_review(request, "itsm", ReviewKind.APPROVE, None, now=1)
    add_service_review(request, "itsm", ReviewKind.APPROVE, None, now=2)
    assert request.approvals() == 1 and request.review_status(settings) is ReviewStatus.PENDING
    add_service_review(request, "itsm", ReviewKind.DECLINE, "no", now=3)
    assert request.review_status(settings) is ReviewStatus.DECLINED
    request.status = Status.COMPLETED
    with pytest.raises(InvalidRequest):
        add_service_review(request, "itsm", ReviewKind.APPROVE, None, now=4)


def test_reports_are_checked() -> None:
    for body in ({}, {"externalId": ""}, {"externalId": "x", "status": "approved"}, {"externalId": "x"}, []):
        with pytest.raises(InvalidRequest):
            parse_report(body, status_required=True)
