"""The flag page's forms as LaunchDarkly semantic-patch instructions.

Each form names an ``action``; ``instructions_for`` turns its fields into the instructions a REST
client would send, and nothing else: whether they apply (a key already targeted, a rule that is gone)
is decided by the domain when the service applies them, and whether they need approval by the gate.
Raises InvalidRequest for fields a person must correct (no keys given, a weight that is not a number).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flagward.domain.errors import InvalidRequest
from flagward.domain.flags import Flag


@dataclass(frozen=True)
class Operator:
    op: str
    label: str
    numeric: bool = False


OPERATORS = (
    Operator("in", "is one of"),
    Operator("endsWith", "ends with"),
    Operator("startsWith", "starts with"),
    Operator("contains", "contains"),
    Operator("matches", "matches the regular expression"),
    Operator("lessThan", "is less than", numeric=True),
    Operator("greaterThan", "is greater than", numeric=True),
    Operator("semVerEqual", "is the version"),
    Operator("semVerLessThan", "is a version before"),
    Operator("semVerGreaterThan", "is a version after"),
    Operator("segmentMatch", "is in the segment"),
)
_BY_OP = {o.op: o for o in OPERATORS}
_SPLIT = re.compile(r"[\n,]+")
PERCENT_SCALE = 1000  # rollout weights are thousandths of a percent
FULL = 100 * PERCENT_SCALE


def _text(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def _values(raw: str) -> list[str]:
    """Keys or clause values: one per line or separated by commas."""
    return list(dict.fromkeys(v.strip() for v in _SPLIT.split(raw) if v.strip()))


def _variation_id(flag: Flag, form: Mapping[str, Any], name: str = "variation") -> str:
    chosen = _text(form, name)
    if chosen not in {v["_id"] for v in flag.variations}:
        raise InvalidRequest("Choose one of the flag's variations")
    return chosen


def _kind(form: Mapping[str, Any]) -> str:
    return _text(form, "context_kind") or "user"


def _number(value: str) -> int | float:
    try:
        number = float(value)
    except ValueError:
        raise InvalidRequest(f"'{value}' is not a number") from None
    return int(number) if number.is_integer() else number


def _serve(flag: Flag, form: Mapping[str, Any]) -> dict[str, Any]:
    """``variationId``, or ``rolloutWeights`` from ``weight_<variation id>`` percentages summing to 100."""
    if _text(form, "serve") != "rollout":
        return {"variationId": _variation_id(flag, form, "serve")}
    weights: dict[str, int] = {}
    for variation in flag.variations:
        raw = _text(form, f"weight_{variation['_id']}") or "0"
        percent = _number(raw)
        if percent < 0:
            raise InvalidRequest("Rollout percentages cannot be negative")
        weights[variation["_id"]] = round(percent * PERCENT_SCALE)
    if sum(weights.values()) != FULL:
        total = sum(weights.values()) / PERCENT_SCALE
        raise InvalidRequest(f"Rollout percentages must add up to 100 (they add up to {total:g})")
    return {"rolloutWeights": weights}


def _rule_ids(flag: Flag, env_key: str) -> list[str]:
    config = flag.environments.get(env_key)
    return [r["_id"] for r in config["rules"]] if config else []


def _clause(form: Mapping[str, Any]) -> dict[str, Any]:
    operator = _BY_OP.get(_text(form, "op"))
    if operator is None:
        raise InvalidRequest("Choose how the attribute is compared")
    values: list[Any] = _values(_text(form, "values"))
    if not values:
        raise InvalidRequest("Give at least one value for the rule to match")
    if operator.numeric:
        values = [_number(v) for v in values]
    clause: dict[str, Any] = {"op": operator.op, "values": values, "negate": form.get("negate") == "true"}
    if operator.op != "segmentMatch":
        attribute = _text(form, "attribute")
        if not attribute:
            raise InvalidRequest("Name the attribute the rule looks at (for example email or country)")
        clause |= {"attribute": attribute, "contextKind": _kind(form)}
    return clause


def _add_rule(flag: Flag, form: Mapping[str, Any]) -> list[dict[str, Any]]:
    rule = {"kind": "addRule", "clauses": [_clause(form)], **_serve(flag, form)}
    description = _text(form, "description")
    return [rule | {"description": description}] if description else [rule]


def _move_rule(flag: Flag, env_key: str, form: Mapping[str, Any]) -> list[dict[str, Any]]:
    ids = _rule_ids(flag, env_key)
    rule_id = _text(form, "rule_id")
    if rule_id not in ids:
        raise InvalidRequest("That rule is no longer in this environment; reload the page")
    i = ids.index(rule_id)
    j = i - 1 if _text(form, "direction") == "up" else i + 1
    if not 0 <= j < len(ids):
        return []
    ids[i], ids[j] = ids[j], ids[i]
    return [{"kind": "reorderRules", "ruleIds": ids}]


def _targets(flag: Flag, form: Mapping[str, Any], kind: str) -> list[dict[str, Any]]:
    keys = _values(_text(form, "keys"))
    if not keys:
        raise InvalidRequest("Give at least one context key")
    return [{"kind": kind, "contextKind": _kind(form), "variationId": _variation_id(flag, form), "values": keys}]


def instructions_for(flag: Flag, env_key: str, form: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The instructions the submitted form stands for (``action`` names the form). Raises InvalidRequest."""
    action = _text(form, "action")
    if action == "turn-on":
        return [{"kind": "turnFlagOn"}]
    if action == "turn-off":
        return [{"kind": "turnFlagOff"}]
    if action == "fallthrough":
        return [{"kind": "updateFallthroughVariationOrRollout", **_serve(flag, form)}]
    if action == "off-variation":
        return [{"kind": "updateOffVariation", "variationId": _variation_id(flag, form)}]
    if action == "add-targets":
        return _targets(flag, form, "addTargets")
    if action == "remove-targets":
        return _targets(flag, form, "removeTargets")
    if action == "add-rule":
        return _add_rule(flag, form)
    if action == "remove-rule":
        return [{"kind": "removeRule", "ruleId": _text(form, "rule_id")}]
    if action == "rule-serve":
        return [{"kind": "updateRuleVariationOrRollout", "ruleId": _text(form, "rule_id"), **_serve(flag, form)}]
    if action == "move-rule":
        return _move_rule(flag, env_key, form)
    raise InvalidRequest("Unknown change; reload the page and try again")
