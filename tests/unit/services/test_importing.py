"""The import use cases on fakes: what is created, kept, refused (with path and reason) or replaced."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flagward.domain.accounts import SYSTEM_ACTOR, Actor, Role
from flagward.domain.builtin_roles import actor_access
from flagward.domain.errors import Forbidden
from flagward.domain.import_items import Outcome, Plan
from flagward.domain.policy import Effect, Statement
from flagward.services.approval_settings import get_settings, patch_settings
from flagward.services.environments import patch_environment
from flagward.services.exporting import export_environment, export_rest
from flagward.services.flags import get_flag
from flagward.services.importing import ImportOptions, import_environment, import_rest
from flagward.services.segments import get_segment
from tests.unit.services.conftest import World


def _payload() -> dict[str, Any]:
    return {
        "flags": {
            "checkout": {
                "key": "checkout",
                "version": 12,
                "on": True,
                "salt": "checkout-salt",
                "variations": [True, False],
                "offVariation": 1,
                "fallthrough": {
                    "rollout": {"variations": [{"variation": 0, "weight": 40000}, {"variation": 1, "weight": 60000}]}
                },
                "targets": [{"values": ["alice"], "variation": 0}],
                "rules": [
                    {
                        "id": "beta-rule",
                        "clauses": [{"attribute": "", "op": "segmentMatch", "values": ["beta"]}],
                        "variation": 0,
                    }
                ],
                "prerequisites": [{"key": "base", "variation": 0}],
            },
            "base": {
                "key": "base",
                "version": 3,
                "on": True,
                "salt": "s",
                "variations": ["a", "b"],
                "fallthrough": {"variation": 0},
            },
        },
        "segments": {"beta": {"key": "beta", "version": 4, "salt": "beta-salt", "included": ["bob"], "rules": []}},
    }


def _import(world: World, actor: Actor, payload: Any, env: str = "production", **options: bool) -> Plan:
    return import_environment(
        world.deps, actor=actor, project_key="shop", env_key=env, payload=payload, options=ImportOptions(**options)
    )


def _outcomes(plan: Plan) -> dict[str, str]:
    return {e.item: e.outcome.value for e in plan.entries}


def test_an_sdk_payload_is_imported_with_its_salts_ids_and_versions(world: World) -> None:
    owner = world.member(Role.OWNER)
    plan = _import(world, owner, _payload())
    assert _outcomes(plan) == {
        "projects/shop": "create",
        "segments/beta": "create",
        "flags/base": "create",
        "flags/checkout": "create",
    }
    flag, _ = get_flag(world.deps, actor=owner, project_key="shop", key="checkout")
    config = flag.environments["production"]
    assert (config["salt"], config["version"], config["rules"][0]["_id"]) == ("checkout-salt", 12, "beta-rule")
    assert flag.environments["test"]["on"] is False  # the other environments start off
    segment, _ = get_segment(world.deps, actor=owner, project_key="shop", env_key="production", key="beta")
    assert (segment.salt, segment.version, segment.included) == ("beta-salt", 4, ["bob"])
    served = export_environment(world.deps, actor=owner, project_key="shop", env_key="production")
    assert served["flags"]["checkout"]["fallthrough"] == _payload()["flags"]["checkout"]["fallthrough"]
    entries = world.uow.store.audit
    imported = [e for e in entries if e.title_verb == "imported"]
    assert {e.name for e in imported} == {"checkout", "base", "beta"}
    assert all(e.comment == "Imported (flagward import)" for e in imported)


def test_a_malformed_item_is_refused_with_its_path_and_the_rest_is_imported(world: World) -> None:
    owner = world.member(Role.OWNER)
    payload = _payload()
    payload["flags"]["base"]["rules"] = [
        {"id": "r", "clauses": [{"attribute": "a", "op": "nope", "values": []}], "variation": 0}
    ]
    plan = _import(world, owner, payload)
    refused = {r.item: (r.path, r.reason) for r in plan.refusals}
    assert refused == {
        "flags/base": ("flags.base.rules[0].clauses[0].op", "'nope' is not a known operator"),
        # its prerequisite was refused, so it names a flag that does not exist
        "flags/checkout": (
            "flags.checkout.prerequisites[0].key",
            "names flag 'base', which does not exist in this project",
        ),
    }
    assert _outcomes(plan)["segments/beta"] == "create"


def test_a_second_import_changes_nothing_and_a_different_one_needs_update(world: World) -> None:
    owner = world.member(Role.OWNER)
    _import(world, owner, _payload())
    again = _import(world, owner, _payload())
    assert set(_outcomes(again).values()) == {"unchanged"}
    changed = _payload()
    changed["flags"]["checkout"]["targets"] = [{"values": ["carol"], "variation": 1}]
    refused = _import(world, owner, changed)
    assert [(r.item, r.reason) for r in refused.refusals] == [
        ("flags/checkout", "flag 'checkout' exists and differs (in production); --update replaces it")
    ]
    flag, _ = get_flag(world.deps, actor=owner, project_key="shop", key="checkout")
    assert flag.environments["production"]["targets"][0]["values"] == ["alice"]
    updated = _import(world, owner, changed, update=True)
    assert _outcomes(updated)["flags/checkout"] == "update"
    flag, _ = get_flag(world.deps, actor=owner, project_key="shop", key="checkout")
    config = flag.environments["production"]
    assert (config["targets"][0]["values"], config["version"], config["salt"]) == (["carol"], 13, "checkout-salt")
    assert world.uow.store.audit[-1].comment == "Imported (flagward import)"


def test_another_environments_payload_fills_the_flags_untouched_configuration(world: World) -> None:
    owner = world.member(Role.OWNER)
    _import(world, owner, _payload())
    test_payload = copy.deepcopy(_payload())
    test_payload["flags"]["checkout"]["salt"] = "checkout-salt-in-test"
    plan = _import(world, owner, test_payload, env="test")
    assert _outcomes(plan)["flags/checkout"] == "update"
    flag, _ = get_flag(world.deps, actor=owner, project_key="shop", key="checkout")
    assert flag.environments["test"]["salt"] == "checkout-salt-in-test"
    assert flag.environments["production"]["salt"] == "checkout-salt"


def test_a_dry_run_plans_and_stores_nothing(world: World) -> None:
    owner = world.member(Role.OWNER)
    plan = _import(world, owner, _payload(), dry_run=True)
    assert _outcomes(plan) == {
        "projects/shop": "create",
        "segments/beta": "create",
        "flags/base": "create",
        "flags/checkout": "create",
    }
    assert world.uow.store.projects == {} and world.uow.store.audit == []


def test_only_those_who_may_import_flags_import(world: World) -> None:
    writer = world.member(Role.WRITER)
    with pytest.raises(Forbidden, match="importFlags"):
        _import(world, writer, _payload())
    assert world.uow.store.projects == {}


def test_importing_into_an_environment_that_requires_approval_needs_the_bypass_right(world: World) -> None:
    owner = world.member(Role.OWNER)
    _import(world, owner, {"flags": {}, "segments": {}})
    ops = [{"op": "replace", "path": "/approvalSettings/required", "value": True}]
    patch_environment(world.deps, actor=owner, project_key="shop", key="production", patch=ops)
    plan = _import(world, owner, _payload())  # owners and admins bypass, as in LaunchDarkly
    assert plan.refusals == [] and _outcomes(plan)["flags/checkout"] == "create"


def test_rest_representations_round_trip_with_names_tags_and_ids(world: World) -> None:
    owner = world.member(Role.OWNER)
    _import(world, owner, _payload())
    files = export_rest(world.deps, actor=owner, project_key="shop")
    source, _ = get_flag(world.deps, actor=owner, project_key="shop", key="checkout")
    other = World()
    other_owner = other.member(Role.OWNER)
    plan = import_rest(other.deps, actor=other_owner, files=files, options=ImportOptions())
    assert plan.refusals == []
    assert {e.item for e in plan.items(Outcome.CREATE)} >= {"flags/shop/checkout", "segments/shop/production/beta"}
    copied, _ = get_flag(other.deps, actor=other_owner, project_key="shop", key="checkout")
    assert copied.variations == source.variations
    assert copied.environments["production"] | {"sel": ""} == source.environments["production"] | {"sel": ""}
    again = import_rest(other.deps, actor=other_owner, files=files, options=ImportOptions())
    assert {e.outcome for e in again.entries} == {Outcome.UNCHANGED}


def test_rest_representations_bring_the_segment_approval_settings_along(world: World) -> None:
    owner = world.member(Role.OWNER)
    _import(world, owner, _payload())
    body = {"environmentKey": "production", "resourceKind": "segment", "minNumApprovals": 2}
    patch_settings(world.deps, actor=owner, project_key="shop", body={**body, "requiredApprovalTags": ["gated"]})
    files = export_rest(world.deps, actor=owner, project_key="shop")
    [production] = [e for e in files["projects/shop.json"]["environments"]["items"] if e["key"] == "production"]
    assert production["resourceApprovalSettings"]["segment"]["requiredApprovalTags"] == ["gated"]
    other = World()
    assert import_rest(other.deps, actor=other.member(Role.OWNER), files=files, options=ImportOptions()).refusals == []
    copied = get_settings(other.deps, actor=owner, project_key="shop", environment_key=None, resource_kind="segment")
    source = get_settings(world.deps, actor=owner, project_key="shop", environment_key=None, resource_kind="segment")
    assert copied == source
    assert copied["segment"]["environments"]["production"]["minNumApprovals"] == 2


def _importer(world: World) -> Actor:
    """A member who may import and do anything with flags and segments but bypass required approvals."""
    member = world.member(Role.READER)
    statements = (
        Statement(Effect.ALLOW, resources=("proj/*",), actions=("*",)),
        Statement(Effect.ALLOW, resources=("proj/*:env/*",), actions=("*",)),
        Statement(Effect.ALLOW, resources=("proj/*:env/*:flag/*", "proj/*:env/*:segment/*"), actions=("*",)),
        Statement(Effect.DENY, resources=("proj/*:env/*:flag/*",), actions=("bypassRequiredApproval",)),
        Statement(Effect.DENY, resources=("proj/*:env/*:segment/*",), actions=("bypassRequiredSegmentApproval",)),
    )
    return replace(member, access=actor_access(Role.READER, (statements,), member_id=member.member_id))


def test_a_rest_import_as_requests_brings_the_segment_gate_and_names_requests_as_its_items(world: World) -> None:
    owner = world.member(Role.OWNER)
    _import(world, owner, _payload())
    body = {"environmentKey": "production", "resourceKind": "segment", "required": True, "minNumApprovals": 1}
    patch_settings(world.deps, actor=owner, project_key="shop", body=body)
    files = export_rest(world.deps, actor=owner, project_key="shop")
    other = World()
    other.member(Role.OWNER)
    importer = _importer(other)
    refused = import_rest(other.deps, actor=importer, files=files, options=ImportOptions(dry_run=True))
    assert [(r.item, r.path, r.reason) for r in refused.refusals] == [
        (
            "segments/shop/production/beta",
            "segments/shop/production/beta.json",
            "segment changes in environment 'production' require approval",
        ),
        (
            "flags/shop/checkout",  # it names the refused segment
            "flags/shop/checkout.json:environments.production.rules[0].clauses[0].values[0]",
            "names segment 'beta', which does not exist in environment 'production'",
        ),
    ]
    assert other.uow.store.projects == {}  # a dry run plans the project and its gates, and stores nothing
    plan = import_rest(other.deps, actor=importer, files=files, options=ImportOptions(as_requests=True))
    assert plan.refusals == []
    assert [(r.item, r.environment_key) for r in plan.requests] == [("segments/shop/production/beta", "production")]
    segment, _ = get_segment(other.deps, actor=owner, project_key="shop", env_key="production", key="beta")
    assert (segment.included, segment.salt) == ([], "beta-salt")  # empty until the request is applied


def test_a_rest_flag_file_with_a_bad_rule_is_refused_with_the_file_and_path(world: World) -> None:
    owner = world.member(Role.OWNER)
    _import(world, owner, _payload())
    files = export_rest(world.deps, actor=owner, project_key="shop")
    files["flags/shop/base.json"]["environments"]["test"]["rules"] = [{"clauses": [], "variation": 7}]
    other = World()
    plan = import_rest(other.deps, actor=other.member(Role.OWNER), files=files, options=ImportOptions())
    assert [(r.item, r.path) for r in plan.refusals] == [
        ("flags/shop/base", "flags/shop/base.json:environments.test.rules[0].variation"),
        # it uses base as a prerequisite
        ("flags/shop/checkout", "flags/shop/checkout.json:environments.production.prerequisites[0].key"),
    ]


_FIELDS = [
    *("key", "on", "salt", "variations", "fallthrough", "rollout", "variation", "weight", "rules", "clauses"),
    *("attribute", "op", "values", "targets", "contextTargets", "contextKind", "prerequisites", "offVariation"),
    *("included", "excludedContexts", "bucketBy", "seed", "kind", "untracked", "id", "version", "generation"),
]

_json = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 100_001) | st.text(max_size=4) | st.sampled_from(["in", "user", "s"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(_FIELDS), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=80, deadline=None, derandomize=True, database=None)
@given(
    flags=st.dictionaries(
        st.sampled_from(["a", "b", "", "x/y"]),
        _json | st.fixed_dictionaries({}, optional={k: _json for k in _FIELDS}),
        max_size=3,
    ),
    segments=st.dictionaries(st.sampled_from(["s", "t"]), _json, max_size=2),
)
def test_any_payload_is_imported_or_refused_item_by_item(flags: dict[str, Any], segments: dict[str, Any]) -> None:
    world = World()
    owner = world.member(Role.OWNER)
    plan = _import(world, owner, {"flags": flags, "segments": segments})
    assert {e.item for e in plan.entries} >= {f"flags/{k}" for k in flags} | {f"segments/{k}" for k in segments}


def test_without_the_bypass_right_a_flag_that_serves_something_is_refused_where_approval_is_required(
    world: World,
) -> None:
    # The server itself acts with an owner's rights but bypasses nothing, so the gate judges its imports.
    owner = world.member(Role.OWNER)
    _import(world, owner, {"flags": {}, "segments": {}})
    ops = [{"op": "replace", "path": "/approvalSettings/required", "value": True}]
    patch_environment(world.deps, actor=owner, project_key="shop", key="production", patch=ops)
    payload = _payload()
    payload["flags"]["off-flag"] = {
        "key": "off-flag",
        "on": False,
        "salt": "x",
        "variations": [1, 2],
        "offVariation": 0,
    }
    plan = _import(world, SYSTEM_ACTOR, payload)
    refused = {r.item: r.reason for r in plan.refusals}
    assert refused["flags/base"] == "Flag configuration updates require approval: action 'createFlag' not allowed"
    assert "flags/checkout" in refused
    assert _outcomes(plan)["flags/off-flag"] == "create"  # created off, as every new flag serves
    assert _outcomes(plan)["segments/beta"] == "create"  # segments have their own approval settings
    assert _outcomes(_import(world, SYSTEM_ACTOR, payload, env="test"))["flags/base"] == "create"
