"""The engine: routing, all-or-nothing, no-ops, and the actions it reports."""

from __future__ import annotations

import copy

import pytest

from flagward.domain.errors import InstructionError, InvalidRequest
from flagward.domain.instructions import ENVIRONMENT_INSTRUCTIONS, PROJECT_INSTRUCTIONS, apply_flag_instructions
from tests.unit.domain.instructions.factories import apply, make_context, make_flag, refusal

# Approvals reference §4.3, every flag instruction but deleteFlag.
SPEC_ENVIRONMENT = {
    "turnFlagOn", "turnFlagOff", "addTargets", "removeTargets", "addUserTargets", "removeUserTargets",
    "clearTargets", "clearUserTargets", "replaceTargets", "replaceUserTargets", "addRule", "removeRule",
    "replaceRules", "reorderRules", "addClauses", "removeClauses", "updateClause", "addValuesToClause",
    "removeValuesFromClause", "updateRuleVariationOrRollout", "updateRuleDescription", "updateRuleTrackEvents",
    "updateFallthroughVariationOrRollout", "updateOffVariation", "addPrerequisite", "removePrerequisite",
    "updatePrerequisite", "replacePrerequisites", "updateTrackEvents", "updateTrackEventsFallthrough",
}  # fmt: skip
SPEC_PROJECT = {
    "addVariation", "removeVariation", "updateVariation", "updateDefaultVariation", "addTags", "removeTags",
    "addCustomProperties", "removeCustomProperties", "replaceCustomProperties", "makeFlagPermanent",
    "makeFlagTemporary", "removeMaintainer", "updateMaintainerMember", "updateMaintainerTeam", "updateName",
    "updateDescription", "turnOnClientSideAvailability", "turnOffClientSideAvailability", "archiveFlag",
    "restoreFlag", "deprecateFlag", "restoreDeprecatedFlag",
}  # fmt: skip


def test_every_flag_instruction_of_the_reference_is_supported() -> None:
    assert ENVIRONMENT_INSTRUCTIONS == SPEC_ENVIRONMENT
    assert PROJECT_INSTRUCTIONS == SPEC_PROJECT


def test_the_input_flag_is_never_modified_and_the_result_is_a_new_object() -> None:
    flag = make_flag()
    before = copy.deepcopy(flag)
    change = apply(flag, {"kind": "turnFlagOn"}, {"kind": "updateName", "value": "Renamed"})
    assert flag == before
    assert change.flag is not flag
    assert change.flag.environments["production"]["on"] is True
    assert change.flag.name == "Renamed"


def test_versions_and_last_modified_are_left_to_the_service() -> None:
    flag = make_flag()
    change = apply(flag, {"kind": "turnFlagOn"})
    assert change.flag.version == flag.version
    assert change.flag.environments["production"]["version"] == 1
    assert change.flag.environments["production"]["lastModified"] == flag.environments["production"]["lastModified"]


def test_one_invalid_instruction_applies_nothing_and_names_its_index() -> None:
    flag = make_flag()
    error = refusal(flag, {"kind": "turnFlagOn"}, {"kind": "updateOffVariation", "variationId": "nope"})
    assert (error.index, error.kind) == (1, "updateOffVariation")
    assert "variationId 'nope' is not a variation of flag 'flag'" in error.reason
    assert error.message.startswith("instruction 1 (updateOffVariation): ")


def test_a_request_of_only_no_ops_is_not_a_change() -> None:
    flag = make_flag()
    change = apply(
        flag,
        {"kind": "turnFlagOff"},
        {"kind": "removeTargets", "values": ["nobody"], "variationId": "flag:v0"},
        {"kind": "removeRule", "ruleId": "missing"},
        {"kind": "removePrerequisite", "key": "absent"},
        {"kind": "makeFlagPermanent"},
        {"kind": "restoreFlag"},
    )
    assert not change.changed
    assert change.environment_actions == {}
    assert change.flag_actions == []


def test_actions_follow_field_order_whatever_the_instruction_order() -> None:
    flag = make_flag()
    change = apply(
        flag,
        {"kind": "updateTrackEvents", "trackEvents": True},
        {"kind": "addTags", "values": ["x"]},
        {"kind": "addTargets", "values": ["u"], "variationId": "flag:v0"},
        {"kind": "turnFlagOn"},
        {"kind": "updateName", "value": "N"},
    )
    assert change.environment_actions == {"production": ["updateOn", "updateTargets", "updateTrackEvents"]}
    assert change.flag_actions == ["updateName", "updateTags"]


@pytest.mark.parametrize("env", [None, ""])
def test_environment_instructions_need_an_environment_key(env: str | None) -> None:
    error = refusal(make_flag(), {"kind": "turnFlagOn"}, env=env)
    assert error.reason == "environmentKey is required for this instruction"


def test_an_unknown_environment_is_refused() -> None:
    error = refusal(make_flag(), {"kind": "turnFlagOn"}, env="staging")
    assert error.reason == "unknown environment 'staging'"


def test_project_instructions_ignore_the_environment_key() -> None:
    change = apply(make_flag(), {"kind": "updateName", "value": "N"}, env="staging")
    assert change.flag_actions == ["updateName"]


@pytest.mark.parametrize(
    ("instruction", "reason"),
    [
        ({"kind": "frobnicate"}, "unknown instruction kind for a flag"),
        ({"kind": "deleteFlag"}, "delete the flag with DELETE /api/v2/flags/{projectKey}/{featureFlagKey}"),
        ({"no": "kind"}, "each instruction must be an object with a string 'kind'"),
    ],
)
def test_unknown_instructions_are_refused(instruction: dict[str, object], reason: str) -> None:
    assert refusal(make_flag(), instruction).reason == reason


def test_a_non_object_instruction_is_refused() -> None:
    flag = make_flag()
    with pytest.raises(InstructionError, match="must be an object"):
        apply_flag_instructions(flag, ["turnFlagOn"], environment_key="production", context=make_context(flag))


@pytest.mark.parametrize("instructions", [[], {"kind": "turnFlagOn"}])
def test_instructions_must_be_a_non_empty_list(instructions: object) -> None:
    flag = make_flag()
    with pytest.raises(InvalidRequest, match="non-empty list"):
        apply_flag_instructions(flag, instructions, environment_key="production", context=make_context(flag))  # type: ignore[arg-type]


def test_instructions_apply_in_order_and_see_earlier_effects() -> None:
    flag = make_flag()
    change = apply(
        flag,
        {"kind": "addTargets", "values": ["u"], "variationId": "flag:v0"},
        {"kind": "removeTargets", "values": ["u"], "variationId": "flag:v0"},
        {"kind": "addTargets", "values": ["u"], "variationId": "flag:v1"},
    )
    assert change.flag.environments["production"]["targets"] == [
        {"contextKind": "user", "variation": 1, "values": ["u"]}
    ]


def test_a_change_that_keeps_an_invalid_stored_configuration_is_refused_with_its_path() -> None:
    flag = make_flag()
    flag.environments["production"]["offVariation"] = 7  # stored data gone bad
    with pytest.raises(InvalidRequest, match=r"environments\.production\.offVariation must be the index"):
        apply(flag, {"kind": "turnFlagOn"})
    # ... but fixing it in the same request works, and other environments are not re-checked
    assert apply(flag, {"kind": "updateOffVariation", "variationId": "flag:v0"}).changed
    assert apply(flag, {"kind": "turnFlagOn"}, env="test").changed


def test_instruction_parameters_are_copied_not_shared() -> None:
    flag = make_flag(values=["a", "b"])
    value = {"nested": [1]}
    change = apply(flag, {"kind": "addVariation", "value": value})
    value["nested"].append(2)
    assert change.flag.variations[2]["value"] == {"nested": [1]}
