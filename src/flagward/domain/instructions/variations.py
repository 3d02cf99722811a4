"""Variations and the defaults for new environments (project-level).

Configurations name variations by index, so removing one re-indexes every environment; it is refused
while anything serves it, or while another flag's prerequisite names it or a later index (which would
silently shift). Boolean flags keep exactly their true and false variations.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any, Literal

from flagward.domain.changes import same_json
from flagward.domain.errors import InvalidRequest
from flagward.domain.flags import Flag, FlagConfig, Rule, Variation, VariationOrRollout
from flagward.domain.ids import new_uuid
from flagward.domain.instructions.params import Handler, Step, variation_label

_BOOLEAN = "boolean flags have exactly two variations, true and false; only their names and descriptions change"


def _check_value(flag: Flag, value: Any, *, skip: int | None = None) -> None:
    for i, other in enumerate(flag.variations):
        if i != skip and same_json(other["value"], value):
            raise InvalidRequest(f"value {json.dumps(value)} is already {variation_label(flag, i)}")


def _set_text(step: Step, variation: Variation, name: Literal["name", "description"]) -> None:
    """Set ``name``/``description`` when given; null removes it."""
    if name not in step.params:
        return
    value = step.params[name]
    if value is None:
        variation.pop(name, None)
    elif isinstance(value, str):
        variation[name] = value
    else:
        raise InvalidRequest(f"{name} must be a string")


def _add_variation(step: Step) -> None:
    if step.flag.kind == "boolean":
        raise InvalidRequest(_BOOLEAN)
    value = step.value("value")
    _check_value(step.flag, value)
    variation: Variation = {"_id": new_uuid(), "value": value}
    _set_text(step, variation, "name")
    _set_text(step, variation, "description")
    step.flag.variations.append(variation)


def _update_variation(step: Step) -> None:
    index = step.variation()
    variation = step.flag.variations[index]
    if step.params.get("value") is not None and not same_json(step.params["value"], variation["value"]):
        if step.flag.kind == "boolean":
            raise InvalidRequest(_BOOLEAN)
        _check_value(step.flag, step.params["value"], skip=index)
        variation["value"] = step.params["value"]
    _set_text(step, variation, "name")
    _set_text(step, variation, "description")


def _update_default_variation(step: Step) -> None:
    on = _either(step, "onVariationValue", "OnVariationValue")
    off = _either(step, "offVariationValue", "OffVariationValue")
    if on is None and off is None:
        raise InvalidRequest("give onVariationValue, offVariationValue or both")
    defaults = step.flag.defaults
    if on is not None:
        defaults = replace(defaults, on_variation=_index_of_value(step.flag, on))
    if off is not None:
        defaults = replace(defaults, off_variation=_index_of_value(step.flag, off))
    step.flag.defaults = defaults


def _either(step: Step, *names: str) -> Any:
    return next((step.params[n] for n in names if step.params.get(n) is not None), None)


def _index_of_value(flag: Flag, value: Any) -> int:
    for i, variation in enumerate(flag.variations):
        if same_json(variation["value"], value):
            return i
    raise InvalidRequest(f"no variation of flag '{flag.key}' has the value {json.dumps(value)}")


def _remove_variation(step: Step) -> None:
    flag = step.flag
    index = step.variation()
    if flag.kind == "boolean":
        raise InvalidRequest(_BOOLEAN)
    if len(flag.variations) <= 2:
        raise InvalidRequest("a flag keeps at least two variations")
    uses = _uses(step, index)
    if uses:
        raise InvalidRequest(f"{variation_label(flag, index)} is in use: {'; '.join(uses)}")
    del flag.variations[index]
    flag.defaults = replace(
        flag.defaults,
        on_variation=_shift(flag.defaults.on_variation, index),
        off_variation=_shift(flag.defaults.off_variation, index),
    )
    for config in flag.environments.values():
        _reindex(config, index)


def _uses(step: Step, index: int) -> list[str]:
    """Where variation ``index`` is served or would be shifted under someone: human-readable."""
    flag = step.flag
    uses = [
        f"it is the flag's default {name} variation"
        for name, default in (("on", flag.defaults.on_variation), ("off", flag.defaults.off_variation))
        if default == index
    ]
    for env_key, config in flag.environments.items():
        uses += [f"environment '{env_key}' serves it in {where}" for where in _config_uses(config, index)]
    uses += [
        f"flag '{other}' has this flag as a prerequisite in environment '{env_key}' on variation {variation}, "
        "whose index would change"
        for other, env_key, variation in step.context.dependents_of(flag.key)
        if variation >= index
    ]
    return uses


def _config_uses(config: FlagConfig, index: int) -> list[str]:
    uses = []
    if any(t["variation"] == index and t["values"] for t in [*config["targets"], *config["contextTargets"]]):
        uses.append("individual targets")
    uses += [f"rules[{i}]" for i, rule in enumerate(config["rules"]) if _serves(rule, index)]
    if _serves(config["fallthrough"], index):
        uses.append("the default rule (fallthrough)")
    if config["offVariation"] == index:
        uses.append("the off variation")
    return uses


def _serves(holder: Rule | VariationOrRollout, index: int) -> bool:
    if "rollout" in holder:
        return any(w["variation"] == index and w["weight"] > 0 for w in holder["rollout"]["variations"])
    return holder.get("variation") == index


def _shift(value: int, removed: int) -> int:
    return value - 1 if value > removed else value


def _reindex(config: FlagConfig, removed: int) -> None:
    """Indexes after ``removed`` move down by one; empty placeholders and 0% rollout entries for the
    removed variation go (``_uses`` has ruled out anything else)."""
    for name in ("targets", "contextTargets"):
        kept = [t for t in config[name] if t["variation"] != removed]
        for target in kept:
            target["variation"] = _shift(target["variation"], removed)
        config[name] = kept
    for holder in [*config["rules"], config["fallthrough"]]:
        if "rollout" in holder:
            weighted = [w for w in holder["rollout"]["variations"] if w["variation"] != removed]
            for entry in weighted:
                entry["variation"] = _shift(entry["variation"], removed)
            holder["rollout"]["variations"] = weighted
        elif "variation" in holder:
            holder["variation"] = _shift(holder["variation"], removed)
    if config["offVariation"] is not None:
        config["offVariation"] = _shift(config["offVariation"], removed)


HANDLERS: dict[str, Handler] = {
    "addVariation": _add_variation,
    "removeVariation": _remove_variation,
    "updateVariation": _update_variation,
    "updateDefaultVariation": _update_default_variation,
}
