"""Environment configurations compared part by part, in describe's words."""

from __future__ import annotations

from typing import Any

from flagward.domain.diff import MISSING, PARTS, config_lines, diff_configs, diff_three_way
from flagward.domain.flags import Flag
from tests.unit.domain.instructions.factories import apply, clause, make_context, make_flag


def configured() -> Flag:
    """Production: on, targets of two kinds, one rule, a rollout fallthrough, a prerequisite on 'other'."""
    flag = make_flag()
    config = flag.environments["production"]
    config["on"] = True
    config["targets"] = [{"contextKind": "user", "variation": 0, "values": ["bob", "alice"]}]
    config["contextTargets"] = [
        {"contextKind": "user", "variation": 0, "values": []},
        {"contextKind": "org", "variation": 1, "values": ["acme"]},
    ]
    config["rules"] = [
        {"_id": "r1", "clauses": [{**clause(), "_id": "c1"}], "trackEvents": False, "variation": 0},  # type: ignore[typeddict-item]
    ]
    config["fallthrough"] = {
        "rollout": {"variations": [{"variation": 0, "weight": 25_000}, {"variation": 1, "weight": 75_000}]}
    }
    config["prerequisites"] = [{"key": "other", "variation": 2}]
    return flag


OTHER = make_flag("other", values=["x", "y", "z"])


def change(flag: Flag, *instructions: dict[str, Any]) -> Flag:
    """``flag`` after ``instructions`` in production (its prerequisite 'other' exists)."""
    return apply(flag, *instructions, context=make_context(flag, OTHER)).flag


def test_a_configuration_reads_part_by_part() -> None:
    assert config_lines(configured(), "production", get_flag={"other": OTHER}.get) == {
        "on": ["Targeting is on"],
        "targets": ["Serve true to alice, bob", "Serve false to org contexts acme"],
        "rules": ["Rule 1: users whose email ends with @example.com → serve true"],
        "fallthrough": ["Serve a rollout: 25% true, 75% false by key"],
        "offVariation": ["Serve false"],
        "prerequisites": ["other must serve z"],
    }
    assert config_lines(make_flag(), "test") == {
        "on": ["Targeting is off"],
        "targets": ["No individual targets"],
        "rules": ["No rules"],
        "fallthrough": ["Serve true"],
        "offVariation": ["Serve false"],
        "prerequisites": ["No prerequisites"],
    }
    assert all(lines == [MISSING] for lines in config_lines(make_flag(), "ghost").values())


def test_comparing_two_environments_marks_the_parts_that_differ() -> None:
    flag = configured()
    parts = diff_configs(flag, flag, before_environment="production", after_environment="test")
    assert [p.part for p in parts] == [part for part, _ in PARTS]
    assert {p.part: p.differs for p in parts} == {
        "on": True,
        "targets": True,
        "rules": True,
        "fallthrough": True,
        "offVariation": False,
        "prerequisites": True,
    }
    rules = next(p for p in parts if p.part == "rules")
    assert (rules.title, rules.before, rules.after) == (
        "Rules",
        ["Rule 1: users whose email ends with @example.com → serve true"],
        ["No rules"],
    )


def test_parts_that_read_the_same_are_the_same() -> None:
    """Rule ids, target order and user placeholders are storage detail, not a difference."""
    flag = configured()
    test = flag.environments["test"]
    production = flag.environments["production"]
    test.update(
        on=True,
        targets=[{"contextKind": "user", "variation": 0, "values": ["alice", "bob"]}],
        contextTargets=[{"contextKind": "org", "variation": 1, "values": ["acme"]}],
        rules=[{**production["rules"][0], "_id": "other-id"}],
        fallthrough=production["fallthrough"],
        prerequisites=production["prerequisites"],
    )
    assert not any(
        p.differs for p in diff_configs(flag, flag, before_environment="production", after_environment="test")
    )


def test_a_requests_effect_is_before_and_after_in_one_environment() -> None:
    flag = configured()
    proposed = change(flag, {"kind": "turnFlagOff"}, {"kind": "updateOffVariation", "variationId": "flag:v0"})
    parts = {p.part: p for p in diff_configs(flag, proposed, before_environment="production")}
    assert (parts["on"].before, parts["on"].after) == (["Targeting is on"], ["Targeting is off"])
    assert (parts["offVariation"].before, parts["offVariation"].after) == (["Serve false"], ["Serve true"])
    assert [p for p, d in parts.items() if d.differs] == ["on", "offVariation"]


def test_three_way_tells_the_requests_changes_from_changes_made_meanwhile() -> None:
    base = configured()
    current = change(base, {"kind": "turnFlagOff"}, {"kind": "updateOffVariation", "variationId": "flag:v0"})
    proposed = change(
        base,
        {"kind": "turnFlagOff"},
        {"kind": "removeRule", "ruleId": "r1"},
        {"kind": "updateOffVariation", "variationId": "flag:v0"},
    )
    proposed = change(proposed, {"kind": "updateFallthroughVariationOrRollout", "variationId": "flag:v1"})
    current = change(current, {"kind": "updateFallthroughVariationOrRollout", "variationId": "flag:v0"})
    parts = {p.part: p for p in diff_three_way(base, current, proposed, environment_key="production")}
    assert (parts["on"].changed_by_request, parts["on"].changed_meanwhile, parts["on"].conflicting) == (
        True,
        True,
        False,  # both made the same change
    )
    assert (parts["rules"].changed_by_request, parts["rules"].changed_meanwhile) == (True, False)
    assert parts["fallthrough"].conflicting
    assert parts["fallthrough"].base == ["Serve a rollout: 25% true, 75% false by key"]
    assert (parts["fallthrough"].current, parts["fallthrough"].proposed) == (["Serve true"], ["Serve false"])
    assert not any(parts[p].changed_by_request or parts[p].changed_meanwhile for p in ("targets", "prerequisites"))


def test_variations_renamed_in_the_proposal_show_on_the_after_side() -> None:
    flag = make_flag(values=["a", "b"])
    proposed = change(flag, {"kind": "updateVariation", "variationId": "flag:v0", "name": "Alpha"})
    parts = {p.part: p for p in diff_configs(flag, proposed, before_environment="production")}
    assert (parts["fallthrough"].before, parts["fallthrough"].after) == (["Serve a"], ["Serve Alpha (a)"])
    assert parts["fallthrough"].differs
