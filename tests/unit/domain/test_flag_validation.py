"""Whole-flag validation: each invariant, with the path it names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from flagward.domain.errors import InvalidRequest
from flagward.domain.flag_validation import check_required_variations, find_prerequisite_cycle, validate_flag
from flagward.domain.flags import Defaults, Flag
from tests.unit.domain.instructions.factories import clause, make_context, make_flag

Breaker = Callable[[Flag], Any]


def production(flag: Flag) -> Any:
    return flag.environments["production"]


def rule(**fields: Any) -> dict[str, Any]:
    return {"_id": "r1", "clauses": [{**clause(), "_id": "c1"}], "trackEvents": False, "variation": 0, **fields}


def test_a_fresh_flag_is_valid() -> None:
    flag = make_flag()
    validate_flag(flag, make_context(flag))


CASES: list[tuple[str, Breaker, str]] = [
    ("name", lambda f: setattr(f, "name", ""), "name must be a non-empty string"),
    ("kind", lambda f: setattr(f, "kind", "json"), "kind must be 'boolean' or 'multivariate'"),
    ("one variation", lambda f: f.variations.pop(), "variations must have at least two entries"),
    (
        "null value",
        lambda f: f.variations[1].update(value=None),
        "variations[1].value is required and must not be null",
    ),
    (
        "duplicate value",
        lambda f: (setattr(f, "kind", "multivariate"), f.variations[1].update(value=True)),
        "variations[1].value duplicates another variation",
    ),
    ("duplicate id", lambda f: f.variations[1].update(_id="flag:v0"), "variations[1]._id duplicates"),
    ("boolean kind", lambda f: f.variations[1].update(value="no"), "variations of a boolean flag must be exactly"),
    ("unknown field", lambda f: f.variations[0].update(colour="red"), "variations[0].colour is not a known field"),
    ("defaults", lambda f: setattr(f, "defaults", Defaults(0, 2)), "defaults.offVariation must be the index"),
    ("defaults bool", lambda f: setattr(f, "defaults", Defaults(True, 1)), "defaults.onVariation must be the index"),
    ("temporary", lambda f: setattr(f, "temporary", 1), "temporary must be a boolean"),
    ("tags", lambda f: setattr(f, "tags", "a"), "tags must be a list"),
    ("tag dup", lambda f: setattr(f, "tags", ["a", "a"]), "tags[1] duplicates tag 'a'"),
    ("archived date", lambda f: setattr(f, "archived_date", "x"), "archivedDate must be an integer"),
    (
        "custom properties",
        lambda f: setattr(f, "custom_properties", {"jira": {"name": "J", "value": "A-1"}}),
        "customProperties.jira.value must be a list",
    ),
    ("on", lambda f: production(f).update(on="yes"), "environments.production.on must be a boolean"),
    ("version", lambda f: production(f).update(version=True), "environments.production.version must be an integer"),
    ("unknown config field", lambda f: production(f).update(colour=1), "environments.production.colour is not a known"),
    ("off variation", lambda f: production(f).update(offVariation=2), "environments.production.offVariation must be"),
    (
        "fallthrough",
        lambda f: production(f).update(fallthrough={}),
        "environments.production.fallthrough must have either a variation or a rollout",
    ),
    (
        "rollout sum",
        lambda f: production(f).update(
            fallthrough={
                "rollout": {"variations": [{"variation": 0, "weight": 60000}, {"variation": 1, "weight": 30000}]}
            }
        ),
        "environments.production.fallthrough.rollout.variations weights must sum to 100000 (100%), not 90000",
    ),
    (
        "rollout weight type",
        lambda f: production(f).update(fallthrough={"rollout": {"variations": [{"variation": 0, "weight": 1e5}]}}),
        "environments.production.fallthrough.rollout.variations[0].weight must be an integer",
    ),
    (
        "rollout repeats",
        lambda f: production(f).update(
            fallthrough={"rollout": {"variations": [{"variation": 0, "weight": 0}, {"variation": 0, "weight": 100000}]}}
        ),
        "environments.production.fallthrough.rollout.variations[1].variation repeats variation 0",
    ),
    (
        "targets list",
        lambda f: production(f).update(targets={}),
        "environments.production.targets must be a list",
    ),
    (
        "target kind",
        lambda f: production(f).update(targets=[{"contextKind": "org", "variation": 0, "values": ["a"]}]),
        "environments.production.targets[0].contextKind 'org' belongs in contextTargets",
    ),
    (
        "target key twice",
        lambda f: production(f).update(
            targets=[
                {"contextKind": "user", "variation": 0, "values": ["a"]},
                {"contextKind": "user", "variation": 1, "values": ["b", "a"]},
            ]
        ),
        "environments.production.targets[1].values[1] 'a' is already targeted (variation 0)",
    ),
    (
        "user values in contextTargets",
        lambda f: production(f).update(contextTargets=[{"contextKind": "user", "variation": 0, "values": ["a"]}]),
        "environments.production.contextTargets[0].values must be empty",
    ),
    (
        "missing placeholder",
        lambda f: production(f).update(
            targets=[{"contextKind": "user", "variation": 0, "values": ["a"]}],
            contextTargets=[{"contextKind": "org", "variation": 1, "values": ["o"]}],
        ),
        "environments.production.contextTargets needs a user placeholder for variation 0",
    ),
    (
        "rule id",
        lambda f: production(f).update(rules=[rule(), rule()]),
        "environments.production.rules[1]._id duplicates rule 'r1'",
    ),
    (
        "clause op",
        lambda f: production(f).update(rules=[rule(clauses=[{**clause(op="like"), "_id": "c"}])]),
        "environments.production.rules[0].clauses[0].op 'like' is not a known operator",
    ),
    (
        "clause id",
        lambda f: production(f).update(rules=[rule(clauses=[{**clause(), "_id": "c"}, {**clause(), "_id": "c"}])]),
        "environments.production.rules[0].clauses[1]._id duplicates clause 'c'",
    ),
    (
        "clause negate",
        lambda f: production(f).update(rules=[rule(clauses=[{**clause(negate=None), "_id": "c"}])]),
        "environments.production.rules[0].clauses[0].negate must be a boolean",
    ),
    (
        "rule serves both",
        lambda f: production(f).update(rules=[rule(rollout={"variations": [{"variation": 0, "weight": 100000}]})]),
        "environments.production.rules[0] must have either a variation or a rollout",
    ),
    (
        "rule track events",
        lambda f: production(f).update(rules=[rule(trackEvents=None)]),
        "environments.production.rules[0].trackEvents must be a boolean",
    ),
    (
        "segment",
        lambda f: production(f).update(
            rules=[
                rule(
                    clauses=[{"_id": "c", "attribute": "", "op": "segmentMatch", "values": ["ghost"], "negate": False}]
                )
            ]
        ),
        "environments.production.rules[0].clauses[0].values[0] names segment 'ghost', which does not exist",
    ),
    (
        "self prerequisite",
        lambda f: production(f).update(prerequisites=[{"key": "flag", "variation": 0}]),
        "environments.production.prerequisites[0].key names the flag itself",
    ),
    (
        "missing prerequisite",
        lambda f: production(f).update(prerequisites=[{"key": "ghost", "variation": 0}]),
        "environments.production.prerequisites[0].key names flag 'ghost', which does not exist",
    ),
    (
        "prerequisite index",
        lambda f: production(f).update(prerequisites=[{"key": "other", "variation": 2}]),
        "environments.production.prerequisites[0].variation must be the index of one of flag 'other''s 2 variations",
    ),
    (
        "prerequisite twice",
        lambda f: production(f).update(
            prerequisites=[{"key": "other", "variation": 0}, {"key": "other", "variation": 1}]
        ),
        "environments.production.prerequisites[1].key repeats prerequisite 'other'",
    ),
]


@pytest.mark.parametrize(("breaker", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_invariant_is_checked_and_names_its_path(breaker: Breaker, message: str) -> None:
    flag = make_flag()
    breaker(flag)
    with pytest.raises(InvalidRequest) as caught:
        validate_flag(flag, make_context(flag, make_flag("other")))
    assert caught.value.message.startswith(message)


def test_only_the_given_environments_are_checked() -> None:
    flag = make_flag()
    production(flag)["on"] = "yes"
    validate_flag(flag, make_context(flag), environments=["test"])
    with pytest.raises(InvalidRequest):
        validate_flag(flag, make_context(flag), environments=["production", "test"])


def test_prerequisite_cycles_are_found_through_this_flag_only() -> None:
    a, b, c = make_flag("a"), make_flag("b"), make_flag("c")
    production(a)["prerequisites"] = [{"key": "b", "variation": 0}]
    production(b)["prerequisites"] = [{"key": "c", "variation": 0}]
    production(c)["prerequisites"] = [{"key": "b", "variation": 0}]  # b ⇄ c: not a's cycle
    assert find_prerequisite_cycle(a, "production", {"b": b, "c": c}.get) is None
    production(c)["prerequisites"].append({"key": "a", "variation": 0})
    assert find_prerequisite_cycle(a, "production", {"b": b, "c": c}.get) == ["a", "b", "c", "a"]
    with pytest.raises(InvalidRequest, match=r"environments\.production\.prerequisites form a cycle: a → b → c → a"):
        validate_flag(a, make_context(a, b, c))


def test_a_stale_maintainer_does_not_make_a_flag_invalid() -> None:
    flag = make_flag(maintainer_id="left-the-company")
    validate_flag(flag, make_context(flag, members=()))


def test_a_variation_change_is_refused_only_where_a_dependent_requires_the_index() -> None:
    before = make_flag("paint", values=["red", "green", "blue"])
    red, green, blue = before.variations
    dependents = [("door", "production", 1)]  # door requires green (index 1)
    asked: list[str] = []

    def dependents_of(key: str) -> list[tuple[str, str, int]]:
        asked.append(key)
        return dependents

    def after(*variations: Any) -> Flag:
        changed = make_flag("paint", values=["red", "green", "blue"])
        changed.variations = list(variations)
        return changed

    check_required_variations(before, after(red, green, blue), dependents_of)
    assert asked == []  # unchanged variations: nobody is looked up
    check_required_variations(before, after(red, green), dependents_of)  # blue goes, green stays at 1
    check_required_variations(before, after(red, {**green, "name": "Green"}, blue), dependents_of)
    for variations in ((red, blue), (green, red, blue), (red,)):
        with pytest.raises(InvalidRequest, match="'door' \\(in production, variation 1\\)"):
            check_required_variations(before, after(*variations), dependents_of)
