"""The whole governed-change workflow, end to end with the official client on both stores: production
requires two approvals; a copy request brings staging's targeting to production without its on/off
state; the requester cannot approve it; one approval leaves it pending, a second approves it; applying
it makes production match staging in everything but ``on``; every step is in the audit log; and every
response validates against LaunchDarkly's OpenAPI document."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import launchdarkly_api
import pytest
from launchdarkly_api.api.environments_api import EnvironmentsApi
from launchdarkly_api.api.feature_flags_api import FeatureFlagsApi

from tests.support.approvals import (
    PRODUCTION,
    STAGING,
    Arena,
    conformance_problems,
    email_rule,
    refused,
    variation_ids,
)
from tests.support.server import ServerProcess

FLAG = "checkout"
# What differs between two environments' configurations by nature, not by targeting.
PER_ENVIRONMENT = {"on", "version", "lastModified", "salt", "sel", "_site", "_environmentName", "_summary"}


@pytest.fixture
def arena(server: ServerProcess) -> Iterator[Arena]:
    arena = Arena(server.url, server.admin_token)
    yield arena
    arena.close()
    problems = conformance_problems(arena.recorder)
    assert problems == [], "\n".join(problems)


def _targeting(config: dict[str, Any]) -> dict[str, Any]:
    """A configuration without what is per environment, and without rule and clause ids (a copy makes
    new ones)."""
    result = {k: v for k, v in config.items() if k not in PER_ENVIRONMENT}
    result["rules"] = [
        {
            **{k: v for k, v in rule.items() if k != "_id"},
            "clauses": [{k: v for k, v in c.items() if k != "_id"} for c in rule["clauses"]],
        }
        for rule in config["rules"]
    ]
    return result


def _arrange_staging(arena: Arena) -> dict[str, Any]:
    """Staging: on, individual targets of two context kinds, a rule, a percentage rollout, an off
    variation and a prerequisite."""
    gate = arena.create_flag("gate")
    arena.create_flag(FLAG)
    flag = arena.get_flag(FLAG)
    on_id, off_id = variation_ids(flag)
    return arena.change(
        FLAG,
        STAGING,
        {"kind": "turnFlagOn"},
        {"kind": "addTargets", "values": ["ann", "bob"], "variationId": on_id},
        {"kind": "addTargets", "contextKind": "org", "values": ["acme"], "variationId": off_id},
        email_rule(on_id),
        {"kind": "updateFallthroughVariationOrRollout", "rolloutWeights": {on_id: 30000, off_id: 70000}},
        {"kind": "updateOffVariation", "variationId": on_id},
        {"kind": "addPrerequisite", "key": "gate", "variationId": gate.variations[0].id},
    )


def test_a_copy_to_production_needs_two_approvals_and_then_matches_staging(arena: Arena) -> None:
    arena.create_project(required=True, minNumApprovals=2, canReviewOwnRequest=False, canApplyDeclinedChanges=False)
    settings = EnvironmentsApi(arena.admin).get_environment(arena.project, PRODUCTION).approval_settings
    assert (settings.required, settings.min_num_approvals, settings.can_review_own_request) == (True, 2, False)
    staged = _arrange_staging(arena)
    requester, first, second = arena.person(), arena.person(), arena.person()

    # Production is governed: the requester cannot change it directly.
    direct = arena.semantic(FLAG, PRODUCTION, {"kind": "turnFlagOn"}, token=requester.token)
    assert (direct.status_code, direct.json()["code"]) == (405, "method_not_allowed")

    # The copy request: instructions materialised, source echoed, nothing changed yet.
    staging_version = staged["environments"][STAGING]["version"]
    body = launchdarkly_api.CreateCopyFlagConfigApprovalRequestRequest(
        description="Bring production up to staging",
        source=launchdarkly_api.SourceFlag(key=STAGING, version=staging_version),
        excluded_actions=["updateOn"],
        notify_member_ids=[first.id, second.id],
        comment="ready for production",
    )
    as_requester = arena.approvals(requester)
    created = as_requester.post_flag_copy_config_approval_request_with_http_info(arena.project, FLAG, PRODUCTION, body)
    assert created.status_code == 201
    request = created.data
    assert (request.status, request.review_status, request.version) == ("pending", "pending", 1)
    assert (request.source.key, request.source.version) == (STAGING, staging_version)
    assert (request.requestor_id, request.notify_member_ids) == (requester.id, [first.id, second.id])
    assert [i["kind"] for i in request.instructions] == [
        "replaceTargets",
        "replaceRules",
        "updateFallthroughVariationOrRollout",
        "updateOffVariation",
        "replacePrerequisites",
    ]
    assert request.conflicts == [] and request.all_reviews == []
    base = f"/api/v2/projects/{arena.project}/flags/{FLAG}/environments/{PRODUCTION}/approval-requests"
    assert request.links["self"]["href"] == f"{base}/{request.id}"
    assert request.links["parent"]["href"] == base
    assert arena.get_flag(FLAG)["environments"][PRODUCTION]["on"] is False

    # The requester may not approve their own request.
    status, error = refused(
        lambda: as_requester.post_approval_request_review_for_flag(
            arena.project,
            FLAG,
            PRODUCTION,
            request.id,
            launchdarkly_api.PostApprovalRequestReviewRequest(kind="approve"),
        )
    )
    assert (status, error["code"]) == (403, "forbidden")

    # One approval leaves it pending; the second approves it.
    approve = launchdarkly_api.PostApprovalRequestReviewRequest(kind="approve", comment="looks right")
    once = arena.approvals(first).post_approval_request_review_for_flag(
        arena.project, FLAG, PRODUCTION, request.id, approve
    )
    assert (once.review_status, once.status, once.version) == ("pending", "pending", 2)
    twice = arena.approvals(second).post_approval_request_review_for_flag(
        arena.project, FLAG, PRODUCTION, request.id, approve
    )
    assert (twice.review_status, twice.version) == ("approved", 3)
    assert [(r.kind, r.member_id, r.comment) for r in twice.all_reviews] == [
        ("approve", first.id, "looks right"),
        ("approve", second.id, "looks right"),
    ]

    # Apply: production now matches staging in everything but on.
    before = arena.get_flag(FLAG)
    apply = launchdarkly_api.PostApprovalRequestApplyRequest(comment="shipping")
    applied = as_requester.post_approval_request_apply_for_flag(arena.project, FLAG, PRODUCTION, request.id, apply)
    assert (applied.status, applied.review_status, applied.applied_by_member_id) == (
        "completed",
        "approved",
        requester.id,
    )
    assert applied.applied_date is not None and applied.applied_date >= applied.creation_date
    assert applied.version == 4
    assert FeatureFlagsApi(arena.admin).get_feature_flag(arena.project, FLAG).environments[PRODUCTION].on is False
    after = arena.get_flag(FLAG)
    production, staging = after["environments"][PRODUCTION], after["environments"][STAGING]
    assert (production["on"], staging["on"]) == (False, True)
    assert _targeting(production) == _targeting(staging)
    assert set(_targeting(production)) >= {
        "targets",
        "contextTargets",
        "rules",
        "fallthrough",
        "offVariation",
        "prerequisites",
    }
    assert production["rules"][0]["clauses"][0]["values"] == ["@example.com"]
    assert production["fallthrough"]["rollout"]["variations"][0]["weight"] == 30000
    assert production["version"] == before["environments"][PRODUCTION]["version"] + 1
    assert after["_version"] == before["_version"] + 1
    assert staging == before["environments"][STAGING]

    # Applied once only; and the request reads back as applied.
    status, _ = refused(
        lambda: as_requester.post_approval_request_apply_for_flag(arena.project, FLAG, PRODUCTION, request.id, apply)
    )
    assert status == 400
    fetched = arena.approvals(first).get_approval_for_flag(arena.project, FLAG, PRODUCTION, request.id)
    assert (fetched.status, fetched.version, fetched.conflicts) == ("completed", 4, [])

    # Every step is in the audit log, on the flag in production; the flag change carries the request.
    entries = list(reversed(list(arena.audit(arena.flag_spec(FLAG)))))
    steps = [(e["accesses"][0]["action"], e.get("approvalRequestId"), e.get("member", {}).get("_id")) for e in entries]
    assert steps[-5:] == [
        ("createApprovalRequest", request.id, requester.id),
        ("reviewApprovalRequest", request.id, first.id),
        ("reviewApprovalRequest", request.id, second.id),
        ("updateTargets", request.id, requester.id),
        ("applyApprovalRequest", request.id, requester.id),
    ]
    flag_entry = entries[-2]
    assert flag_entry["kind"] == "flag" and flag_entry["comment"] == "shipping"
    assert {a["action"] for a in flag_entry["accesses"]} == {
        "updateTargets",
        "updateRules",
        "updateFallthrough",
        "updateOffVariation",
        "updatePrerequisites",
    }
    assert {a["resource"] for a in flag_entry["accesses"]} == {arena.flag_spec(FLAG)}
    assert [e["comment"] for e in entries[-5:-3]] == ["ready for production", "looks right"]
