"""Prerequisites: existing flags, their own variations, no cycles."""

from __future__ import annotations

from flagward.domain.flags import Flag
from tests.unit.domain.instructions.factories import apply, make_context, make_flag, refusal


def add(key: str = "other", variation: str = "other:v1") -> dict[str, str]:
    return {"kind": "addPrerequisite", "key": key, "variationId": variation}


def with_prerequisite(flag: Flag, key: str, variation: int = 0, env: str = "production") -> Flag:
    flag.environments[env]["prerequisites"].append({"key": key, "variation": variation})
    return flag


def test_add_prerequisite_uses_the_index_of_the_other_flags_variation() -> None:
    flag, other = make_flag(), make_flag("other", values=["a", "b", "c"])
    change = apply(flag, add(), context=make_context(flag, other))
    assert change.flag.environments["production"]["prerequisites"] == [{"key": "other", "variation": 1}]
    assert change.environment_actions == {"production": ["updatePrerequisites"]}


def test_adding_the_same_prerequisite_again_is_a_no_op_but_another_variation_is_refused() -> None:
    other = make_flag("other", values=["a", "b", "c"])
    flag = with_prerequisite(make_flag(), "other", 1)
    context = make_context(flag, other)
    assert not apply(flag, add(), context=context).changed
    reason = refusal(flag, add(variation="other:v2"), context=context).reason
    assert reason == "flag 'other' is already a prerequisite; use updatePrerequisite to change it"


def test_the_prerequisite_must_exist_differ_and_be_named_by_its_own_variation() -> None:
    flag, other = make_flag(), make_flag("other")
    context = make_context(flag, other)
    assert refusal(flag, add("ghost"), context=context).reason == "key: flag 'ghost' does not exist in project 'proj'"
    assert refusal(flag, add("flag", "flag:v0"), context=context).reason == (
        "key: a flag cannot be its own prerequisite"
    )
    assert refusal(flag, add("other", "flag:v0"), context=context).reason.startswith(
        "variationId 'flag:v0' is not a variation of flag 'other'"
    )


def test_an_archived_flag_cannot_become_a_prerequisite() -> None:
    flag, other = make_flag(), make_flag("other", archived=True)
    reason = refusal(flag, add(), context=make_context(flag, other)).reason
    assert reason == "key: flag 'other' is archived; restore it before making it a prerequisite"


def test_a_prerequisite_cycle_is_refused_in_its_environment_only() -> None:
    a = make_flag("a")
    b = with_prerequisite(make_flag("b"), "c")
    c = with_prerequisite(make_flag("c"), "a")
    context = make_context(a, b, c)
    reason = refusal(a, add("b", "b:v0"), context=context).reason
    assert reason == "this would make a prerequisite cycle in environment 'production': a → b → c → a"
    assert apply(a, add("b", "b:v0"), env="test", context=context).changed


def test_remove_update_and_replace_prerequisites() -> None:
    other, third = make_flag("other"), make_flag("third", values=[1, 2, 3])
    flag = with_prerequisite(make_flag(), "other", 0)
    context = make_context(flag, other, third)
    updated = apply(flag, {"kind": "updatePrerequisite", "key": "other", "variationId": "other:v1"}, context=context)
    assert updated.flag.environments["production"]["prerequisites"] == [{"key": "other", "variation": 1}]
    missing = {"kind": "updatePrerequisite", "key": "third", "variationId": "third:v0"}
    assert refusal(flag, missing, context=context).reason == (
        "flag 'third' is not a prerequisite in environment 'production'; use addPrerequisite"
    )
    removed = apply(flag, {"kind": "removePrerequisite", "key": "other"}, context=context)
    assert removed.flag.environments["production"]["prerequisites"] == []
    replaced = apply(
        flag,
        {"kind": "replacePrerequisites", "prerequisites": [{"key": "third", "variationId": "third:v2"}]},
        context=context,
    )
    assert replaced.flag.environments["production"]["prerequisites"] == [{"key": "third", "variation": 2}]
    twice = [{"key": "third", "variationId": "third:v2"}, {"key": "third", "variationId": "third:v1"}]
    reason = refusal(flag, {"kind": "replacePrerequisites", "prerequisites": twice}, context=context).reason
    assert reason == "prerequisites[1].key: flag 'third' is listed twice"


def test_replace_prerequisites_checks_cycles() -> None:
    a, b = make_flag("a"), with_prerequisite(make_flag("b"), "a")
    instruction = {"kind": "replacePrerequisites", "prerequisites": [{"key": "b", "variationId": "b:v0"}]}
    reason = refusal(a, instruction, context=make_context(a, b)).reason
    assert reason.endswith("a → b → a")
