"""Semantic-patch instructions in plain language: one sentence each, never an exception."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flagward.domain.copy import CopyAction, plan_copy
from flagward.domain.describe import (
    DESCRIBED_KINDS,
    describe_clause,
    describe_clauses,
    describe_instruction,
    describe_instructions,
    describe_serve,
    describe_unknown,
    describe_value,
)
from flagward.domain.flags import Flag, Rule
from flagward.domain.instructions import ENVIRONMENT_INSTRUCTIONS, PROJECT_INSTRUCTIONS
from tests.unit.domain.instructions.factories import clause, make_flag
from tests.unit.domain.instructions.strategies import ENVS, instruction_table, instructions, projects

ENV = "production"


def _rule(rule_id: str, *clauses: dict[str, Any], description: str | None = None, **serve: Any) -> Rule:
    rule: dict[str, Any] = {
        "_id": rule_id,
        "clauses": [{**c, "_id": f"{rule_id}-c{i}"} for i, c in enumerate(clauses)],
        "trackEvents": False,
        **(serve or {"variation": 0}),
    }
    if description is not None:
        rule["description"] = description
    return rule  # type: ignore[return-value]


def flag_with_rules() -> Flag:
    """A boolean flag whose production has two rules: r1 (emails) serving true, r2 ("Beta") a rollout."""
    flag = make_flag("flag")
    flag.environments[ENV]["rules"] = [
        _rule("r1", clause(), variation=0),
        _rule(
            "r2",
            clause("country", "in", ["se", "no"]),
            description="Beta",
            rollout={"variations": [{"variation": 0, "weight": 20_000}, {"variation": 1, "weight": 80_000}]},
        ),
    ]
    return flag


def say(instruction: dict[str, Any], flag: Flag | None = None, **kwargs: Any) -> str:
    return describe_instruction(instruction, flag or flag_with_rules(), environment_key=ENV, **kwargs)


# -- values and pieces ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("beta", "beta"),
        ("@example.com", "@example.com"),
        ("", '""'),
        (" padded", '" padded"'),
        ("true", '"true"'),
        ("3", '"3"'),
        ("null", '"null"'),
        ("[1]", '"[1]"'),
        (True, "true"),
        (3, "3"),
        (2.5, "2.5"),
        (None, "null"),
        ({"x": 1}, '{"x": 1}'),
        ([1, "a"], '[1, "a"]'),
    ],
)
def test_values_are_compact_and_strings_are_quoted_only_when_ambiguous(value: Any, text: str) -> None:
    assert describe_value(value) == text


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (clause(), "users whose email ends with @example.com"),
        (clause(negate=True), "users whose email does not end with @example.com"),
        (clause("country", "in", ["se"]), "users whose country is se"),
        (clause("country", "in", ["se", "no"]), "users whose country is one of se, no"),
        (clause("country", "in", ["se", "no"], negate=True), "users whose country is not one of se, no"),
        (clause("email", "endsWith", ["@a.com", "@b.com"]), "users whose email ends with @a.com or @b.com"),
        (clause("name", "startsWith", ["Al"]), "users whose name starts with Al"),
        (clause("email", "matches", [".*@a\\.com"]), "users whose email matches the regex .*@a\\.com"),
        (clause("name", "contains", ["x"], negate=True), "users whose name does not contain x"),
        (clause("age", "lessThan", [18]), "users whose age is less than 18"),
        (clause("age", "lessThanOrEqual", [18]), "users whose age is at most 18"),
        (clause("age", "greaterThan", [18]), "users whose age is greater than 18"),
        (clause("age", "greaterThanOrEqual", [18]), "users whose age is at least 18"),
        (clause("joined", "before", [0]), "users whose joined is before 1970-01-01 00:00:00 UTC"),
        (clause("joined", "after", ["2024-01-01T00:00:00Z"]), "users whose joined is after 2024-01-01T00:00:00Z"),
        (clause("version", "semVerEqual", ["1.0.0"]), "users whose version is version 1.0.0"),
        (clause("version", "semVerLessThan", ["2.0.0"]), "users whose version is a version before 2.0.0"),
        (clause("version", "semVerGreaterThan", ["2.0.0"]), "users whose version is a version after 2.0.0"),
        (clause("key", "in", ["acme"], contextKind="org"), "org contexts whose key is acme"),
        (clause("tier", "in", ["3"]), 'users whose tier is "3"'),
        ({"attribute": "", "op": "segmentMatch", "values": ["beta-testers"]}, "contexts in segment beta-testers"),
        ({"op": "segmentMatch", "values": ["a", "b"]}, "contexts in one of the segments a, b"),
        ({"op": "segmentMatch", "values": ["a"], "negate": True}, "contexts not in segment a"),
        ({"op": "segmentMatch", "values": ["a", "b"], "negate": True}, "contexts in none of the segments a, b"),
        (clause(op="like"), "users whose email satisfies like @example.com"),
        ("junk", "contexts matching an unreadable condition junk"),
    ],
)
def test_a_clause_reads_as_a_condition(raw: Any, text: str) -> None:
    assert describe_clause(raw) == text


def test_clauses_join_with_and_without_repeating_the_subject() -> None:
    clauses = [
        clause(),
        clause("country", "in", ["se", "no"]),
        {"op": "segmentMatch", "values": ["beta"]},
        clause("key", "in", ["acme"], contextKind="org"),
    ]
    assert describe_clauses(clauses) == (
        "users whose email ends with @example.com and whose country is one of se, no"
        " and contexts in segment beta and org contexts whose key is acme"
    )
    assert describe_clauses([]) == "everyone"


def test_a_rollout_reads_as_percentages_and_its_bucketing() -> None:
    flag = make_flag(values=["a", "b", "c"])
    flag.variations[1]["name"] = "Beta"
    rollout = {"variations": [{"variation": 0, "weight": 12_345}, {"variation": 1, "weight": 87_655}]}
    assert describe_serve(flag, {"variation": 1}) == "Beta (b)"
    assert describe_serve(flag, {"rollout": rollout}) == "a rollout: 12.345% a, 87.655% Beta (b) by key"
    assert describe_serve(flag, {"rollout": {**rollout, "bucketBy": "email"}}).endswith("by email")
    assert describe_serve(flag, {"rollout": {**rollout, "contextKind": "org"}}).endswith("by org key")
    assert describe_serve(flag, {"variation": 7}) == "an unknown variation (7)"


# -- instructions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instruction", "text"),
    [
        ({"kind": "turnFlagOn"}, "Turn the flag on"),
        ({"kind": "turnFlagOff"}, "Turn the flag off"),
        ({"kind": "updateOffVariation", "variationId": "flag:v1"}, "Serve false when the flag is off"),
        (
            {"kind": "updateFallthroughVariationOrRollout", "variationId": "flag:v1"},
            "Serve false to everyone who matches no rule",
        ),
        (
            {"kind": "updateFallthroughVariationOrRollout", "rolloutWeights": {"flag:v0": 20_000, "flag:v1": 80_000}},
            "Serve a rollout: 20% true, 80% false by key to everyone who matches no rule",
        ),
        (
            {"kind": "updateTrackEvents", "trackEvents": True},
            "Turn on sending full events for every evaluation",
        ),
        (
            {"kind": "updateTrackEventsFallthrough", "trackEvents": False},
            "Turn off sending full events for contexts that match no rule",
        ),
        (
            {"kind": "addTargets", "values": ["alice", "bob"], "variationId": "flag:v0"},
            "Add alice, bob to the targets served true",
        ),
        (
            {"kind": "addTargets", "values": ["acme"], "variationId": "flag:v0", "contextKind": "org"},
            "Add org contexts acme to the targets served true",
        ),
        (
            {"kind": "addUserTargets", "values": ["alice"], "variationId": "flag:v1"},
            "Add alice to the targets served false",
        ),
        (
            {"kind": "removeTargets", "values": ["alice"], "variationId": "flag:v0", "contextKind": "user"},
            "Remove alice from the targets served true",
        ),
        (
            {"kind": "removeUserTargets", "values": ["bob"], "variationId": "flag:v0"},
            "Remove bob from the targets served true",
        ),
        ({"kind": "clearTargets", "variationId": "flag:v0"}, "Remove every context from the targets served true"),
        ({"kind": "clearUserTargets", "variationId": "flag:v1"}, "Remove every user from the targets served false"),
        (
            {
                "kind": "replaceTargets",
                "targets": [
                    {"variationId": "flag:v0", "values": ["alice"]},
                    {"variationId": "flag:v1", "values": ["acme"], "contextKind": "org"},
                ],
            },
            "Replace the targets: serve true to alice; serve false to org contexts acme",
        ),
        ({"kind": "replaceTargets", "targets": []}, "Replace the targets with none (remove every target)"),
        (
            {"kind": "replaceUserTargets", "targets": [{"variationId": "flag:v0", "values": ["a"]}]},
            "Replace the user targets: serve true to a",
        ),
        (
            {"kind": "addRule", "clauses": [clause()], "variationId": "flag:v0"},
            "Add rule 3: users whose email ends with @example.com → serve true",
        ),
        (
            {"kind": "addRule", "clauses": [clause()], "variationId": "flag:v1", "beforeRuleId": "r1"},
            "Add rule 1: users whose email ends with @example.com → serve false",
        ),
        (
            {
                "kind": "addRule",
                "clauses": [],
                "description": "All",
                "rolloutWeights": {"flag:v0": 50_000, "flag:v1": 50_000},
                "rolloutBucketBy": "email",
            },
            'Add rule 3 ("All"): everyone → serve a rollout: 50% true, 50% false by email',
        ),
        ({"kind": "removeRule", "ruleId": "r1"}, "Remove rule 1 (users whose email ends with @example.com)"),
        ({"kind": "removeRule", "ruleId": "r2"}, 'Remove rule 2 ("Beta")'),
        ({"kind": "removeRule", "ruleId": "gone"}, "Remove rule 'gone'"),
        ({"kind": "reorderRules", "ruleIds": ["r2", "r1"]}, 'Move rule 2 ("Beta") to position 1'),
        ({"kind": "reorderRules", "ruleIds": ["r1", "r2"]}, "Keep the rules in their order"),
        ({"kind": "reorderRules", "ruleIds": ["r2", "x"]}, "Reorder the rules to r2, x"),
        (
            {"kind": "replaceRules", "rules": [{"clauses": [clause()], "variationId": "flag:v1"}]},
            "Replace the rules: rule 1: users whose email ends with @example.com → serve false",
        ),
        ({"kind": "replaceRules", "rules": []}, "Replace the rules with none (remove every rule)"),
        (
            {"kind": "addClauses", "ruleId": "r2", "clauses": [clause("plan", "in", ["pro"])]},
            'In rule 2 ("Beta"), add the condition users whose plan is pro',
        ),
        (
            {"kind": "removeClauses", "ruleId": "r1", "clauseIds": ["r1-c0"]},
            "In rule 1 (users whose email ends with @example.com), remove the condition users whose email ends "
            "with @example.com",
        ),
        (
            {"kind": "updateClause", "ruleId": "r2", "clauseId": "r2-c0", "clause": clause("country", "in", ["fi"])},
            'In rule 2 ("Beta"), change the condition users whose country is one of se, no to users whose country'
            " is fi",
        ),
        (
            {"kind": "addValuesToClause", "ruleId": "r2", "clauseId": "r2-c0", "values": ["fi", "dk"]},
            'In rule 2 ("Beta"), add fi, dk to the condition users whose country is one of se, no',
        ),
        (
            {"kind": "removeValuesFromClause", "ruleId": "r2", "clauseId": "r2-c0", "values": ["no"]},
            'In rule 2 ("Beta"), remove no from the condition users whose country is one of se, no',
        ),
        (
            {"kind": "removeValuesFromClause", "ruleId": "r2", "clauseId": "nope", "values": ["no"]},
            "In rule 2 (\"Beta\"), remove no from condition 'nope'",
        ),
        (
            {"kind": "updateRuleVariationOrRollout", "ruleId": "r2", "variationId": "flag:v0"},
            'Make rule 2 ("Beta") serve true (instead of a rollout: 20% true, 80% false by key)',
        ),
        (
            {"kind": "updateRuleDescription", "ruleId": "r1", "description": "Staff"},
            'Change the description of rule 1 (users whose email ends with @example.com) to "Staff"',
        ),
        (
            {"kind": "updateRuleTrackEvents", "ruleId": "r2", "trackEvents": True},
            'Turn on sending full events for rule 2 ("Beta")',
        ),
        ({"kind": "removePrerequisite", "key": "checkout-v2"}, "Remove the prerequisite checkout-v2"),
        ({"kind": "replacePrerequisites", "prerequisites": []}, "Remove every prerequisite"),
        ({"kind": "archiveFlag"}, "Archive the flag"),
        ({"kind": "restoreFlag"}, "Restore the flag from the archive"),
        ({"kind": "deprecateFlag"}, "Deprecate the flag"),
        ({"kind": "restoreDeprecatedFlag"}, "Restore the flag from deprecation"),
        ({"kind": "deleteFlag"}, "Delete the flag"),
        ({"kind": "makeFlagTemporary"}, "Mark the flag as temporary"),
        ({"kind": "makeFlagPermanent"}, "Mark the flag as permanent"),
        ({"kind": "addTags", "values": ["a", "b"]}, "Add tags a, b"),
        ({"kind": "removeTags", "values": ["a"]}, "Remove tag a"),
        ({"kind": "updateName", "value": "Checkout"}, 'Rename the flag to "Checkout"'),
        ({"kind": "updateDescription", "value": "New flow"}, 'Change the flag\'s description to "New flow"'),
        ({"kind": "updateDescription", "value": None}, "Remove the flag's description"),
        ({"kind": "updateMaintainerMember", "value": "m-1"}, "Make member 'm-1' the flag's maintainer"),
        ({"kind": "updateMaintainerTeam", "value": "ops"}, "Make team 'ops' the flag's maintainer"),
        ({"kind": "removeMaintainer"}, "Remove the flag's maintainer"),
        (
            {"kind": "turnOnClientSideAvailability", "value": "usingMobileKey"},
            "Make the flag available to mobile SDKs (mobile key)",
        ),
        (
            {"kind": "turnOffClientSideAvailability", "value": "usingEnvironmentId"},
            "Stop making the flag available to client-side SDKs (client-side ID)",
        ),
        (
            {"kind": "addCustomProperties", "key": "jira", "name": "Jira", "values": ["A-1", "A-2"]},
            'Add A-1, A-2 to the custom property "Jira"',
        ),
        (
            {"kind": "removeCustomProperties", "key": "jira", "name": "Jira", "values": ["A-1"]},
            'Remove A-1 from the custom property "Jira"',
        ),
        (
            {"kind": "replaceCustomProperties", "key": "jira", "name": "Jira", "values": ["A-3"]},
            'Set A-3 as the custom property "Jira"',
        ),
        ({"kind": "explode", "force": 3}, "Apply a change of kind 'explode' with {\"force\": 3}"),
        ({"values": []}, 'Apply an unrecognized instruction {"values": []}'),
    ],
)
def test_an_instruction_reads_as_a_sentence(instruction: dict[str, Any], text: str) -> None:
    assert say(instruction) == text


@pytest.mark.parametrize(
    ("instruction", "text"),
    [
        ({"kind": "addVariation", "value": "c"}, "Add variation 3: c"),
        ({"kind": "addVariation", "value": {"x": 1}, "name": "X"}, 'Add variation 3: {"x": 1} (name "X")'),
        ({"kind": "removeVariation", "variationId": "flag:v1"}, "Remove variation 2 (Beta (b))"),
        (
            {"kind": "updateVariation", "variationId": "flag:v0", "value": "z"},
            "Change variation 1's value from a to z",
        ),
        (
            {"kind": "updateVariation", "variationId": "flag:v0", "value": "z", "name": "Zed"},
            'Change variation 1\'s value from a to z and its name to "Zed"',
        ),
        (
            {"kind": "updateVariation", "variationId": "flag:v1", "name": None},
            "For variation 2, remove its name",
        ),
        ({"kind": "updateVariation", "variationId": "flag:v1"}, "Leave variation 2 (Beta (b)) as it is"),
        (
            {"kind": "updateVariation", "variationId": "ghost", "value": 1},
            "Change an unknown variation 'ghost''s value from ? to 1",
        ),
        (
            {"kind": "updateDefaultVariation", "onVariationValue": "a", "OffVariationValue": "b"},
            "For new environments, serve a when on and b when off by default",
        ),
    ],
)
def test_variation_instructions_name_variations_from_1(instruction: dict[str, Any], text: str) -> None:
    flag = make_flag(values=["a", "b"])
    flag.variations[1]["name"] = "Beta"
    assert describe_instruction(instruction, flag, environment_key=None) == text


def test_prerequisites_read_as_the_other_flags_variation_when_it_can_be_looked_up() -> None:
    other = make_flag("checkout-v2")
    lookup = {"checkout-v2": other}.get
    add = {"kind": "addPrerequisite", "key": "checkout-v2", "variationId": "checkout-v2:v0"}
    assert say(add, get_flag=lookup) == "Add a prerequisite: checkout-v2 must serve true"
    assert say(add) == "Add a prerequisite: checkout-v2 must serve the variation 'checkout-v2:v0'"
    update = {"kind": "updatePrerequisite", "key": "checkout-v2", "variationId": "checkout-v2:v1"}
    assert say(update, get_flag=lookup) == "Change a prerequisite: checkout-v2 must serve false"
    replace = {"kind": "replacePrerequisites", "prerequisites": [add, {"key": "x", "variationId": "x:v0"}]}
    assert say(replace, get_flag=lookup) == (
        "Replace the prerequisites: checkout-v2 must serve true; x must serve the variation 'x:v0'"
    )


def test_rule_positions_follow_the_request() -> None:
    flag = flag_with_rules()
    sentences = describe_instructions(
        [
            {"kind": "addRule", "clauses": [], "variationId": "flag:v1", "beforeRuleId": "r1"},
            {"kind": "removeRule", "ruleId": "r2"},
            {"kind": "reorderRules", "ruleIds": ["r1", "added-later"]},
        ],
        flag,
        ENV,
    )
    assert sentences == [
        "Add rule 1: everyone → serve false",
        'Remove rule 3 ("Beta")',
        "Reorder the rules to r1, added-later",
    ]
    assert flag == flag_with_rules()  # describing changes nothing


def test_rules_are_named_by_id_without_an_environment() -> None:
    assert describe_instruction({"kind": "removeRule", "ruleId": "r1"}, flag_with_rules(), environment_key=None) == (
        "Remove rule 'r1'"
    )
    assert describe_instruction({"kind": "removeRule", "ruleId": "r1"}, flag_with_rules(), environment_key="nope") == (
        "Remove rule 'r1'"
    )


def test_long_key_lists_are_cut() -> None:
    keys = [f"k{i}" for i in range(13)]
    text = say({"kind": "addTargets", "values": keys, "variationId": "flag:v0"})
    assert text == "Add k0, k1, k2, k3, k4, k5, k6, k7, k8, k9 … and 3 more to the targets served true"


def test_copy_requests_read_part_by_part() -> None:
    flag = flag_with_rules()
    flag.environments[ENV]["on"] = True
    flag.environments[ENV]["targets"] = [{"contextKind": "user", "variation": 0, "values": ["alice"]}]
    plan = plan_copy(flag, ENV, "test", list(CopyAction), segment_exists=lambda *_: True, get_flag=lambda _: None)
    assert describe_instructions(plan, flag, "test") == [
        "Turn the flag on",
        "Replace the targets: serve true to alice",
        "Replace the rules: rule 1: users whose email ends with @example.com → serve true; "
        'rule 2 ("Beta"): users whose country is one of se, no → serve a rollout: 20% true, 80% false by key',
    ]


# -- every kind, any parameters -------------------------------------------------------------------

KINDS = sorted(ENVIRONMENT_INSTRUCTIONS | PROJECT_INSTRUCTIONS)
PROPERTY = settings(max_examples=8, deadline=None, derandomize=True, database=None)


def test_every_kind_the_engine_knows_has_a_sentence_of_its_own() -> None:
    assert set(KINDS) | {"deleteFlag"} <= DESCRIBED_KINDS


@pytest.mark.parametrize("kind", KINDS)
@settings(PROPERTY, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_generated_instructions_of_each_kind_get_their_specific_sentence(kind: str, data: st.DataObject) -> None:
    project = data.draw(projects(), label="project")
    env = data.draw(st.sampled_from(ENVS), label="env")
    instruction = data.draw(instruction_table(project, env)[kind], label="instruction")
    text = describe_instruction(instruction, project.flag, environment_key=env, get_flag={**project.others}.get)
    assert text and text != describe_unknown(instruction)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
PARAMS = (
    "variationId", "values", "contextKind", "targets", "ruleId", "ruleIds", "beforeRuleId", "clauses", "clause",
    "clauseId", "clauseIds", "rolloutWeights", "rolloutBucketBy", "rolloutContextKind", "rules", "description",
    "trackEvents", "key", "prerequisites", "value", "name", "onVariationValue", "OffVariationValue",
)  # fmt: skip


@st.composite
def garbled(draw: st.DrawFn, kinds: list[str]) -> dict[str, Any]:
    """An instruction of a known kind whose parameters are any JSON at all."""
    params = draw(st.dictionaries(st.sampled_from(PARAMS), JSON, max_size=4))
    return {**params, "kind": draw(st.sampled_from(kinds))}


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(garbled(sorted(DESCRIBED_KINDS)), st.sampled_from([None, ENV, "test"]))
def test_garbled_parameters_still_get_their_kinds_sentence(instruction: dict[str, Any], env: str | None) -> None:
    """Renderers cope with any parameters themselves: the generic sentence (the safety net) is not needed."""
    text = describe_instruction(instruction, flag_with_rules(), environment_key=env)
    assert text and text != describe_unknown(instruction)


@settings(PROPERTY, max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_describing_a_random_request_never_raises_nor_changes_the_flag(data: st.DataObject) -> None:
    project = data.draw(projects(), label="project")
    env = data.draw(st.sampled_from(ENVS), label="env")
    request = data.draw(st.lists(instructions(project, env), min_size=1, max_size=5), label="request")
    before = project.flag.clone()
    sentences = describe_instructions(request, project.flag, env, get_flag=project.others.get)
    assert len(sentences) == len(request)
    assert all(isinstance(s, str) and s for s in sentences)
    assert project.flag == before
