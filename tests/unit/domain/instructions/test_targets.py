"""Individual targets: user kinds in ``targets``, others in ``contextTargets`` with user placeholders."""

from __future__ import annotations

from typing import Any

import pytest

from flagward.domain.flags import Flag
from flagward.domain.instructions.targets import normalize_targets
from tests.unit.domain.instructions.factories import apply, make_flag, refusal


def user(variation: int, *values: str) -> dict[str, Any]:
    return {"contextKind": "user", "variation": variation, "values": list(values)}


def kind(name: str, variation: int, *values: str) -> dict[str, Any]:
    return {"contextKind": name, "variation": variation, "values": list(values)}


def targets_of(flag: Flag, env: str = "production") -> tuple[list[Any], list[Any]]:
    config = flag.environments[env]
    return config["targets"], config["contextTargets"]


def add(values: list[str], variation: int = 0, context_kind: str | None = None, **extra: Any) -> dict[str, Any]:
    instruction = {"kind": "addTargets", "values": values, "variationId": f"flag:v{variation}", **extra}
    if context_kind:
        instruction["contextKind"] = context_kind
    return instruction


def test_user_targets_go_to_targets_with_the_default_kind() -> None:
    change = apply(make_flag(), add(["a", "b"]))
    assert targets_of(change.flag) == ([user(0, "a", "b")], [])
    assert change.environment_actions == {"production": ["updateTargets"]}


def test_adding_to_an_existing_variation_appends_without_duplicates() -> None:
    flag = apply(make_flag(), add(["a"])).flag
    change = apply(flag, add(["a", "b", "b"]))
    assert targets_of(change.flag) == ([user(0, "a", "b")], [])


def test_adding_keys_already_there_is_a_no_op() -> None:
    flag = apply(make_flag(), add(["a"])).flag
    assert not apply(flag, add(["a"])).changed


def test_other_kinds_go_to_context_targets_with_placeholders_for_user_entries_first() -> None:
    flag = apply(make_flag(), add(["a"], 1)).flag
    change = apply(flag, add(["acme"], 0, "org"))
    assert targets_of(change.flag) == ([user(1, "a")], [user(1), kind("org", 0, "acme")])


def test_a_new_user_variation_gets_its_placeholder_once_other_kinds_are_targeted() -> None:
    flag = apply(make_flag(), add(["acme"], 0, "org")).flag
    change = apply(flag, add(["a"], 1))
    assert targets_of(change.flag) == ([user(1, "a")], [user(1), kind("org", 0, "acme")])


def test_placeholders_go_when_no_other_kind_is_targeted() -> None:
    flag = apply(make_flag(), add(["a"]), add(["acme"], 1, "org")).flag
    change = apply(flag, {"kind": "removeTargets", "values": ["acme"], "variationId": "flag:v1", "contextKind": "org"})
    assert targets_of(change.flag) == ([user(0, "a")], [])


def test_placeholders_go_with_their_user_entries() -> None:
    flag = apply(make_flag(), add(["a"]), add(["acme"], 1, "org")).flag
    change = apply(flag, {"kind": "removeUserTargets", "values": ["a"], "variationId": "flag:v0"})
    assert targets_of(change.flag) == ([], [kind("org", 1, "acme")])


def test_a_key_served_another_variation_for_the_same_kind_is_refused() -> None:
    flag = apply(make_flag(), add(["a"], 1)).flag
    error = refusal(flag, add(["a"], 0))
    assert error.reason == (
        "context key 'a' (kind 'user') is already targeted by variation 1 ('flag:v1'); remove it there first"
    )


def test_the_same_key_may_be_targeted_in_different_kinds() -> None:
    change = apply(make_flag(), add(["k"], 0), add(["k"], 1, "org"))
    assert targets_of(change.flag) == ([user(0, "k")], [user(0), kind("org", 1, "k")])


def test_removing_keys_of_another_variation_or_kind_is_a_no_op() -> None:
    flag = apply(make_flag(), add(["a"])).flag
    assert not apply(flag, {"kind": "removeTargets", "values": ["a"], "variationId": "flag:v1"}).changed
    assert not apply(
        flag, {"kind": "removeTargets", "values": ["a"], "variationId": "flag:v0", "contextKind": "org"}
    ).changed


def test_removing_the_last_key_removes_the_entry() -> None:
    flag = apply(make_flag(), add(["a"])).flag
    change = apply(flag, {"kind": "removeTargets", "values": ["a"], "variationId": "flag:v0"})
    assert targets_of(change.flag) == ([], [])


def test_clear_targets_clears_every_kind_of_one_variation() -> None:
    flag = apply(make_flag(), add(["a"]), add(["acme"], 0, "org"), add(["b"], 1), add(["beta"], 1, "org")).flag
    change = apply(flag, {"kind": "clearTargets", "variationId": "flag:v0"})
    assert targets_of(change.flag) == ([user(1, "b")], [user(1), kind("org", 1, "beta")])


def test_clear_user_targets_keeps_other_kinds() -> None:
    flag = apply(make_flag(), add(["a"]), add(["acme"], 0, "org")).flag
    change = apply(flag, {"kind": "clearUserTargets", "variationId": "flag:v0"})
    assert targets_of(change.flag) == ([], [kind("org", 0, "acme")])


def test_user_target_instructions_only_touch_user_targets() -> None:
    change = apply(make_flag(), {"kind": "addUserTargets", "values": ["a"], "variationId": "flag:v1"})
    assert targets_of(change.flag) == ([user(1, "a")], [])


def test_replace_targets_replaces_every_kind() -> None:
    flag = apply(make_flag(), add(["old"]), add(["acme"], 0, "org")).flag
    change = apply(
        flag,
        {
            "kind": "replaceTargets",
            "targets": [
                {"variationId": "flag:v1", "values": ["u"]},
                {"contextKind": "device", "variationId": "flag:v0", "values": ["d"]},
            ],
        },
    )
    assert targets_of(change.flag) == ([user(1, "u")], [user(1), kind("device", 0, "d")])


def test_replace_targets_with_the_same_keys_in_another_order_is_a_no_op() -> None:
    flag = apply(make_flag(), add(["a", "b"]), add(["acme"], 1, "org")).flag
    change = apply(
        flag,
        {
            "kind": "replaceTargets",
            "targets": [
                {"contextKind": "org", "variationId": "flag:v1", "values": ["acme"]},
                {"variationId": "flag:v0", "values": ["b", "a"]},
            ],
        },
    )
    assert not change.changed


def test_replace_targets_refuses_a_key_listed_for_two_variations() -> None:
    error = refusal(
        make_flag(),
        {
            "kind": "replaceTargets",
            "targets": [
                {"variationId": "flag:v0", "values": ["a"]},
                {"variationId": "flag:v1", "values": ["a"]},
            ],
        },
    )
    assert error.reason == "targets[1]: context key 'a' (kind 'user') is listed for two variations"


def test_replace_user_targets_needs_every_variation_and_keeps_other_kinds() -> None:
    flag = apply(make_flag(), add(["acme"], 0, "org")).flag
    error = refusal(flag, {"kind": "replaceUserTargets", "targets": [{"variationId": "flag:v0", "values": ["a"]}]})
    assert "missing variationId 'flag:v1'" in error.reason
    change = apply(
        flag,
        {
            "kind": "replaceUserTargets",
            "targets": [{"variationId": "flag:v0", "values": ["a"]}, {"variationId": "flag:v1", "values": []}],
        },
    )
    assert targets_of(change.flag) == ([user(0, "a")], [user(0), kind("org", 0, "acme")])


@pytest.mark.parametrize(
    ("instruction", "reason"),
    [
        (add([]), "values must not be empty"),
        (add(["a", ""]), "values[1] must be a non-empty string"),
        ({"kind": "addTargets", "values": "a", "variationId": "flag:v0"}, "values must be a list"),
        ({"kind": "addTargets", "values": ["a"]}, "variationId is required"),
        ({**add(["a"]), "contextKind": 3}, "contextKind must be a non-empty string"),
        (
            {"kind": "replaceTargets", "targets": [{"variationId": "x", "values": []}]},
            "targets[0].variationId 'x' is not a variation of flag 'flag' (its variations: 'flag:v0', 'flag:v1')",
        ),
        ({"kind": "replaceTargets", "targets": ["a"]}, "targets[0] must be an object"),
    ],
)
def test_malformed_target_instructions_are_refused(instruction: dict[str, Any], reason: str) -> None:
    assert refusal(make_flag(), instruction).reason == reason


def test_normalize_merges_duplicate_entries_and_keeps_malformed_ones_for_validation() -> None:
    config = make_flag().environments["production"]
    config["targets"] = [
        {"variation": 0, "values": ["a"]},
        {"variation": 1, "values": []},
        {"variation": 0, "values": ["b", "a"]},
        {"variation": "x", "values": ["c"]},  # type: ignore[typeddict-item]
    ]
    config["contextTargets"] = [kind("org", 1, "o"), user(5), kind("org", 1, "p")]
    normalize_targets(config)
    assert config["targets"] == [user(0, "a", "b"), {"variation": "x", "values": ["c"]}]
    assert config["contextTargets"] == [user(0), kind("org", 1, "o", "p")]
