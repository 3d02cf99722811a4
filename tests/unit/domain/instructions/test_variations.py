"""Variations and defaults: project-level, but removing one re-indexes every environment."""

from __future__ import annotations

from typing import Any

import pytest

from flagward.domain.flags import Defaults, Flag
from tests.unit.domain.instructions.factories import apply, make_context, make_flag, refusal


def multivariate(**fields: Any) -> Flag:
    return make_flag(values=["a", "b", "c", "d"], **fields)


def remove(index: int) -> dict[str, str]:
    return {"kind": "removeVariation", "variationId": f"flag:v{index}"}


def test_add_variation() -> None:
    change = apply(multivariate(), {"kind": "addVariation", "value": "e", "name": "Echo", "description": "5th"})
    added = change.flag.variations[-1]
    assert {k: v for k, v in added.items() if k != "_id"} == {"value": "e", "name": "Echo", "description": "5th"}
    assert change.flag_actions == ["updateFlagVariations"]
    assert change.environment_actions == {}


@pytest.mark.parametrize(
    ("instruction", "reason"),
    [
        ({"kind": "addVariation", "value": "a"}, "value \"a\" is already variation 0 ('flag:v0')"),
        ({"kind": "addVariation"}, "value is required"),
        ({"kind": "addVariation", "value": 1, "name": 2}, "name must be a string"),
        ({"kind": "updateVariation", "variationId": "flag:v1", "value": "c"}, 'value "c" is already variation 2'),
        ({"kind": "updateDefaultVariation"}, "give onVariationValue, offVariationValue or both"),
        (
            {"kind": "updateDefaultVariation", "onVariationValue": "z"},
            "no variation of flag 'flag' has the value \"z\"",
        ),
    ],
)
def test_variation_instructions_refuse_bad_input(instruction: dict[str, Any], reason: str) -> None:
    assert refusal(multivariate(), instruction).reason.startswith(reason)


def test_json_equality_tells_true_from_one() -> None:
    flag = make_flag(values=[1, 2])
    assert apply(flag, {"kind": "addVariation", "value": True}).flag.variations[-1]["value"] is True


def test_boolean_flags_keep_true_and_false() -> None:
    flag = make_flag()
    for instruction in (
        {"kind": "addVariation", "value": "maybe"},
        remove(0),
        {"kind": "updateVariation", "variationId": "flag:v0", "value": "yes"},
    ):
        assert refusal(flag, instruction).reason.startswith("boolean flags have exactly two variations")
    renamed = apply(flag, {"kind": "updateVariation", "variationId": "flag:v0", "name": "On", "value": True})
    assert renamed.flag.variations[0] == {"_id": "flag:v0", "value": True, "name": "On"}


def test_update_variation_sets_and_clears_texts() -> None:
    flag = apply(multivariate(), {"kind": "updateVariation", "variationId": "flag:v1", "value": "B", "name": "Bee"})
    assert flag.flag.variations[1] == {"_id": "flag:v1", "value": "B", "name": "Bee"}
    cleared = apply(flag.flag, {"kind": "updateVariation", "variationId": "flag:v1", "name": None})
    assert cleared.flag.variations[1] == {"_id": "flag:v1", "value": "B"}


@pytest.mark.parametrize("spelling", ["onVariationValue", "OnVariationValue"])
def test_update_default_variation_by_value_in_either_spelling(spelling: str) -> None:
    change = apply(multivariate(), {"kind": "updateDefaultVariation", spelling: "c", "OffVariationValue": "b"})
    assert change.flag.defaults == Defaults(on_variation=2, off_variation=1)
    assert change.flag_actions == ["updateFlagDefaultVariations"]


def test_remove_an_unused_variation_re_indexes_every_environment() -> None:
    flag = multivariate(defaults=Defaults(0, 3))
    flag.environments["production"].update(
        targets=[{"contextKind": "user", "variation": 3, "values": ["u"]}],
        contextTargets=[
            {"contextKind": "user", "variation": 3, "values": []},
            {"contextKind": "org", "variation": 2, "values": ["o"]},
        ],
        fallthrough={"rollout": {"variations": [{"variation": 1, "weight": 0}, {"variation": 3, "weight": 100000}]}},
        offVariation=3,
    )
    flag.environments["test"].update(fallthrough={"variation": 0}, offVariation=0)
    change = apply(flag, remove(1))
    assert [v["_id"] for v in change.flag.variations] == ["flag:v0", "flag:v2", "flag:v3"]
    assert change.flag.defaults == Defaults(0, 2)
    production = change.flag.environments["production"]
    assert production["targets"] == [{"contextKind": "user", "variation": 2, "values": ["u"]}]
    assert [t["variation"] for t in production["contextTargets"]] == [2, 1]
    assert production["fallthrough"] == {"rollout": {"variations": [{"variation": 2, "weight": 100000}]}}
    assert production["offVariation"] == 2
    assert change.environment_actions == {"production": ["updateTargets", "updateFallthrough", "updateOffVariation"]}
    assert change.flag_actions == ["updateFlagVariations", "updateFlagDefaultVariations"]


def test_a_variation_in_use_cannot_be_removed_and_the_error_says_where() -> None:
    flag = multivariate(defaults=Defaults(0, 3))
    flag.environments["production"]["targets"] = [{"contextKind": "user", "variation": 1, "values": ["u"]}]
    flag.environments["test"]["fallthrough"] = {"variation": 1}
    flag.environments["test"]["offVariation"] = 1
    reason = refusal(flag, remove(1)).reason
    assert reason == (
        "variation 1 ('flag:v1') is in use: environment 'production' serves it in individual targets; "
        "environment 'test' serves it in the default rule (fallthrough); "
        "environment 'test' serves it in the off variation"
    )
    assert "default on variation" in refusal(multivariate(), remove(0)).reason


def test_a_variation_another_flag_depends_on_cannot_be_removed_nor_one_before_it() -> None:
    flag = multivariate(defaults=Defaults(0, 0))
    for config in flag.environments.values():
        config.update(fallthrough={"variation": 0}, offVariation=0)
    dependent = make_flag("dependent")
    dependent.environments["test"]["prerequisites"] = [{"key": "flag", "variation": 2}]
    context = make_context(flag, dependent)
    for index in (1, 2):
        reason = refusal(flag, remove(index), context=context).reason
        assert "flag 'dependent' has this flag as a prerequisite in environment 'test' on variation 2" in reason
    assert apply(flag, remove(3), context=context).flag_actions == ["updateFlagVariations"]


def test_a_flag_keeps_two_variations() -> None:
    flag = make_flag(values=["a", "b"])
    assert refusal(flag, remove(1)).reason == "a flag keeps at least two variations"
