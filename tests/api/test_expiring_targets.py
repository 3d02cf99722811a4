"""LaunchDarkly's expiring-targets API for flags (``FeatureFlagsApi``) and segments (``SegmentsApi``),
driven by the official client: adding, updating (with an optional version) and removing an expiry;
instructions that cannot apply reported in ``errors`` (200); the approval gate where it applies.
Removal at the date is in tests/integration/test_scheduled_changes_processes.py."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import launchdarkly_api
import pytest
from launchdarkly_api.api.feature_flags_api import FeatureFlagsApi
from launchdarkly_api.api.segments_api import SegmentsApi

from tests.support.approvals import PRODUCTION, SEMANTIC, STAGING, Arena, conformance_problems, refused
from tests.support.server import ServerProcess

pytestmark = pytest.mark.usefixtures("conforms")
DAY = 86_400_000


def later(ms: int = DAY) -> int:
    return int(time.time() * 1000) + ms


@pytest.fixture
def arena(server: ServerProcess) -> Iterator[Arena]:
    arena = Arena(server.url, server.admin_token)
    arena.create_project(required=True, minNumApprovals=1)
    arena.create_flag("beta")
    yield arena
    assert conformance_problems(arena.recorder) == []
    arena.close()


def flags(arena: Arena, who: Any = None) -> FeatureFlagsApi:
    return FeatureFlagsApi(arena.client(who or arena.admin_token))


def target(arena: Arena, env: str, *keys: str) -> str:
    true_id = str(arena.get_flag("beta")["variations"][0]["_id"])
    arena.change("beta", env, {"kind": "addTargets", "variationId": true_id, "values": list(keys)})
    return true_id


def patch_flag(arena: Arena, env: str, *instructions: dict[str, Any], who: Any = None) -> Any:
    body = launchdarkly_api.PatchFlagsRequest(instructions=list(instructions))
    return flags(arena, who).patch_expiring_targets(arena.project, env, "beta", body)


def test_add_update_and_remove_an_expiring_flag_target(arena: Arena) -> None:
    true_id = target(arena, STAGING, "alice")
    when = later()
    add = {
        "kind": "addExpiringTarget",
        "value": when,
        "variationId": true_id,
        "contextKey": "alice",
        "contextKind": "user",
    }
    added = patch_flag(arena, STAGING, add)
    assert (added.total_instructions, added.successful_instructions, added.failed_instructions) == (1, 1, 0)
    [item] = flags(arena).get_expiring_context_targets(arena.project, STAGING, "beta").items
    assert (item.context_key, item.context_kind, item.expiration_date, item.variation_id, item.version) == (
        "alice",
        "user",
        when,
        true_id,
        1,
    )
    assert (item.resource_id.kind, item.resource_id.flag_key, item.resource_id.environment_key) == (
        "flag",
        "beta",
        STAGING,
    )

    moved = later(2 * DAY)
    update = {**add, "kind": "updateExpiringTarget", "value": moved, "version": 1}
    stale = {**update, "version": 7}
    updated = patch_flag(arena, STAGING, update, stale)
    assert (updated.successful_instructions, updated.failed_instructions) == (1, 1)
    assert updated.errors[0].instruction_index == 1 and "version" in updated.errors[0].message
    assert [(i.expiration_date, i.version) for i in updated.items] == [(moved, 2)]

    removed = patch_flag(arena, STAGING, {"kind": "removeExpiringTarget", "contextKey": "alice", "contextKind": "user"})
    assert removed.items == [] and removed.failed_instructions == 0
    actions = [a["action"] for e in arena.audit(arena.flag_spec("beta", STAGING)) for a in e["accesses"]]
    assert actions.count("updateExpiringTargets") == 3


def test_instructions_that_cannot_apply_are_reported_one_by_one(arena: Arena) -> None:
    true_id = target(arena, STAGING, "alice")
    base = {"kind": "addExpiringTarget", "value": later(), "variationId": true_id, "contextKind": "user"}
    result = patch_flag(
        arena,
        STAGING,
        {**base, "contextKey": "nobody"},  # not targeted
        {**base, "contextKey": "alice", "value": later(-DAY)},  # in the past
        {**base, "contextKey": "alice"},
        {**base, "contextKey": "alice"},  # already expiring
        {"kind": "removeExpiringTarget", "contextKey": "bob", "contextKind": "user"},  # no expiry
    )
    assert (result.total_instructions, result.successful_instructions) == (5, 1)
    assert [e.instruction_index for e in result.errors] == [0, 1, 3, 4]
    assert [i.context_key for i in result.items] == ["alice"]
    status, body = refused(lambda: patch_flag(arena, STAGING))
    assert (status, body["code"]) == (400, "invalid_request")


def test_where_approval_is_required_only_those_who_may_bypass_it_set_expiries(arena: Arena) -> None:
    true_id = target(arena, PRODUCTION, "alice")
    writer = arena.person()
    add = {
        "kind": "addExpiringTarget",
        "value": later(),
        "variationId": true_id,
        "contextKey": "alice",
        "contextKind": "user",
    }
    status, body = refused(lambda: patch_flag(arena, PRODUCTION, add, who=writer))
    assert status == 405 and "updateExpiringTargets" in body["message"]
    assert patch_flag(arena, PRODUCTION, add).successful_instructions == 1  # the admin bypasses: pre-approved


def test_segment_expiring_targets(arena: Arena) -> None:
    segments = SegmentsApi(arena.client(arena.admin_token))
    segments.post_segment(arena.project, STAGING, launchdarkly_api.SegmentBody(name="Testers", key="testers"))
    include = {"instructions": [{"kind": "addIncludedTargets", "contextKind": "user", "values": ["carol"]}]}
    response = arena.http.patch(
        f"/api/v2/segments/{arena.project}/{STAGING}/testers", json=include, headers={"Content-Type": SEMANTIC}
    )
    assert response.status_code == 200, response.text
    when = later()
    add = {
        "kind": "addExpiringTarget",
        "targetType": "included",
        "contextKey": "carol",
        "contextKind": "user",
        "value": when,
    }
    wrong_side = {**add, "targetType": "excluded"}
    body = launchdarkly_api.PatchSegmentExpiringTargetInputRep(instructions=[add, wrong_side])
    result = segments.patch_expiring_targets_for_segment(arena.project, STAGING, "testers", body)
    assert (result.successful_instructions, result.failed_instructions) == (1, 1)
    [item] = segments.get_expiring_targets_for_segment(arena.project, STAGING, "testers").items
    assert (item.context_key, item.target_type, item.expiration_date, item.resource_id.key) == (
        "carol",
        "included",
        when,
        "testers",
    )
