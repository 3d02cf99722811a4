"""The flag page's forms become exactly the semantic-patch instructions a REST client would send, and
those instructions apply to the flag (the domain, not the form, decides what they do)."""

from __future__ import annotations

from typing import Any

import pytest

from flagward.domain.errors import InvalidRequest
from flagward.domain.flags import Defaults, Flag, new_config, new_variations
from flagward.domain.instructions import FlagChangeContext, apply_flag_instructions
from flagward.http.console.flag_forms import instructions_for


def _flag() -> Flag:
    kind, variations = new_variations(None)
    flag = Flag(
        id="f1",
        project_key="p",
        key="checkout",
        name="Checkout",
        kind=kind,
        variations=variations,
        creation_date=0,
        defaults=Defaults(0, 1),
    )
    flag.environments["production"] = new_config(flag.defaults, now=0, track_events=False, version=1)
    return flag


def _context() -> FlagChangeContext:
    return FlagChangeContext(
        now=1,
        environment_keys=frozenset({"production"}),
        get_flag=lambda _: None,
        segment_exists=lambda _env, _key: False,
        member_exists=lambda _: True,
        team_exists=lambda _: True,
        dependents_of=lambda _: [],
    )


def _apply(flag: Flag, form: dict[str, Any]) -> Flag:
    instructions = instructions_for(flag, "production", form)
    return apply_flag_instructions(flag, instructions, environment_key="production", context=_context()).flag


def test_each_form_is_the_instructions_a_rest_client_would_send() -> None:
    flag = _flag()
    true, false = (v["_id"] for v in flag.variations)
    assert instructions_for(flag, "production", {"action": "turn-on"}) == [{"kind": "turnFlagOn"}]
    assert instructions_for(flag, "production", {"action": "fallthrough", "serve": false}) == [
        {"kind": "updateFallthroughVariationOrRollout", "variationId": false}
    ]
    rollout = {"action": "fallthrough", "serve": "rollout", f"weight_{true}": "12.5", f"weight_{false}": "87.5"}
    assert instructions_for(flag, "production", rollout) == [
        {"kind": "updateFallthroughVariationOrRollout", "rolloutWeights": {true: 12_500, false: 87_500}}
    ]
    targets = {"action": "add-targets", "variation": true, "keys": "alice, bob\ncarol,alice", "context_kind": ""}
    assert instructions_for(flag, "production", targets) == [
        {"kind": "addTargets", "contextKind": "user", "variationId": true, "values": ["alice", "bob", "carol"]}
    ]
    rule = {
        "action": "add-rule",
        "attribute": "email",
        "op": "endsWith",
        "values": "@example.com",
        "context_kind": "user",
        "serve": true,
        "description": "Staff",
    }
    assert instructions_for(flag, "production", rule) == [
        {
            "kind": "addRule",
            "clauses": [
                {
                    "op": "endsWith",
                    "values": ["@example.com"],
                    "negate": False,
                    "attribute": "email",
                    "contextKind": "user",
                }
            ],
            "variationId": true,
            "description": "Staff",
        }
    ]
    numeric = {**rule, "attribute": "age", "op": "greaterThan", "values": "18", "negate": "true", "description": ""}
    (added,) = instructions_for(flag, "production", numeric)
    assert added["clauses"][0]["values"] == [18]
    assert added["clauses"][0]["negate"] is True
    assert "description" not in added


def test_rule_forms_apply_and_move_rules_by_their_ids() -> None:
    flag = _flag()
    true, false = (v["_id"] for v in flag.variations)
    base = {"action": "add-rule", "attribute": "country", "op": "in", "context_kind": "user", "serve": true}
    flag = _apply(flag, {**base, "values": "de"})
    flag = _apply(flag, {**base, "values": "fr", "serve": false})
    first, second = (r["_id"] for r in flag.environments["production"]["rules"])
    moved = _apply(flag, {"action": "move-rule", "rule_id": second, "direction": "up"})
    assert [r["_id"] for r in moved.environments["production"]["rules"]] == [second, first]
    assert instructions_for(flag, "production", {"action": "move-rule", "rule_id": first, "direction": "up"}) == []
    served = _apply(flag, {"action": "rule-serve", "rule_id": first, "serve": false})
    assert served.environments["production"]["rules"][0]["variation"] == 1
    removed = _apply(flag, {"action": "remove-rule", "rule_id": first})
    assert [r["_id"] for r in removed.environments["production"]["rules"]] == [second]


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"action": "add-targets", "variation": "?", "keys": "a"}, "Choose one of the flag's variations"),
        ({"action": "add-targets", "variation": "TRUE", "keys": " , "}, "at least one context key"),
        ({"action": "fallthrough", "serve": "rollout", "weight_TRUE": "60", "weight_FALSE": "30"}, "add up to 100"),
        ({"action": "fallthrough", "serve": "rollout", "weight_TRUE": "lots"}, "is not a number"),
        ({"action": "add-rule", "op": "in", "values": "", "serve": "TRUE"}, "at least one value"),
        ({"action": "add-rule", "op": "in", "values": "x", "attribute": "", "serve": "TRUE"}, "Name the attribute"),
        ({"action": "add-rule", "op": "nope", "values": "x", "serve": "TRUE"}, "how the attribute is compared"),
        ({"action": "move-rule", "rule_id": "gone"}, "no longer in this environment"),
        ({"action": "delete-everything"}, "Unknown change"),
    ],
)
def test_fields_a_person_must_correct_are_refused_with_a_sentence(form: dict[str, str], message: str) -> None:
    flag = _flag()
    ids = {"TRUE": flag.variations[0]["_id"], "FALSE": flag.variations[1]["_id"]}
    resolved = {k.replace("TRUE", ids["TRUE"]).replace("FALSE", ids["FALSE"]): ids.get(v, v) for k, v in form.items()}
    with pytest.raises(InvalidRequest, match=message):
        instructions_for(flag, "production", resolved)
