"""Copying a flag's configuration between two environments of its project, as semantic instructions.

The plan names variations by ``_id`` (as instructions do), so the approvals workflow can show reviewers
exactly what applying it will do, and apply replays it through the one write path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Any

from flagward.domain.errors import InvalidRequest
from flagward.domain.flags import Flag, FlagConfig, Rollout, VariationOrRollout


class CopyAction(StrEnum):
    UPDATE_ON = "updateOn"
    UPDATE_RULES = "updateRules"
    UPDATE_FALLTHROUGH = "updateFallthrough"
    UPDATE_OFF_VARIATION = "updateOffVariation"
    UPDATE_PREREQUISITES = "updatePrerequisites"
    UPDATE_TARGETS = "updateTargets"
    UPDATE_MIGRATION_SETTINGS = "updateFlagConfigMigrationSettings"


APPROVAL_COPY_ACTIONS = tuple(a for a in CopyAction if a is not CopyAction.UPDATE_MIGRATION_SETTINGS)

PART_ACTIONS: dict[str, CopyAction] = {
    "on": CopyAction.UPDATE_ON,
    "targets": CopyAction.UPDATE_TARGETS,
    "rules": CopyAction.UPDATE_RULES,
    "fallthrough": CopyAction.UPDATE_FALLTHROUGH,
    "offVariation": CopyAction.UPDATE_OFF_VARIATION,
    "prerequisites": CopyAction.UPDATE_PREREQUISITES,
}
"""The copy action that brings over each part of ``flagward.domain.diff.PARTS``."""


def parse_actions(raw: object, field: str, allowed: Iterable[CopyAction]) -> list[CopyAction]:
    allowed_set = set(allowed)
    if not isinstance(raw, list):
        raise InvalidRequest(f"{field} must be a list")
    result: list[CopyAction] = []
    for value in raw:
        try:
            action = CopyAction(value)
        except ValueError:
            action = None
        if action is None or action not in allowed_set:
            names = ", ".join(a.value for a in CopyAction if a in allowed_set)
            raise InvalidRequest(f"{field}: unknown action '{value}'; allowed: {names}")
        result.append(action)
    return result


def chosen_actions(
    included: list[CopyAction] | None, excluded: list[CopyAction] | None, allowed: Iterable[CopyAction]
) -> list[CopyAction]:
    """Both lists given is an error; neither means every allowed action."""
    if included is not None and excluded is not None:
        raise InvalidRequest("includedActions and excludedActions cannot both be given")
    if included is not None:
        return [a for a in allowed if a in included]
    return [a for a in allowed if a not in (excluded or [])]


def _vor(flag: Flag, value: VariationOrRollout) -> dict[str, Any]:
    if "rollout" in value:
        rollout: Rollout = value["rollout"]
        result: dict[str, Any] = {
            "rolloutWeights": {flag.variations[w["variation"]]["_id"]: w["weight"] for w in rollout["variations"]}
        }
        if "bucketBy" in rollout:
            result["rolloutBucketBy"] = rollout["bucketBy"]
        if "contextKind" in rollout:
            result["rolloutContextKind"] = rollout["contextKind"]
        return result
    return {"variationId": flag.variations[value["variation"]]["_id"]}


def _rules(flag: Flag, config: FlagConfig) -> list[dict[str, Any]]:
    rules = []
    for rule in config["rules"]:
        spec: dict[str, Any] = {
            "clauses": [{k: v for k, v in c.items() if k != "_id"} for c in rule["clauses"]],
            "trackEvents": rule["trackEvents"],
            **_vor(flag, rule),
        }
        if "description" in rule:
            spec["description"] = rule["description"]
        rules.append(spec)
    return rules


def _targets(flag: Flag, config: FlagConfig) -> list[dict[str, Any]]:
    targets = [
        {
            "contextKind": t.get("contextKind", "user"),
            "variationId": flag.variations[t["variation"]]["_id"],
            "values": list(t["values"]),
        }
        for t in [*config["targets"], *config["contextTargets"]]
        if t["values"]
    ]
    return targets


def plan_copy(
    flag: Flag,
    source_key: str,
    target_key: str,
    actions: list[CopyAction],
    *,
    segment_exists: Callable[[str, str], bool],
    get_flag: Callable[[str], Flag | None],
) -> list[dict[str, Any]]:
    """The instructions that make ``target``'s configuration match ``source``'s for ``actions``.

    Only parts that differ are planned (an identical part would be a no-op). Raises InvalidRequest when
    the source's rules use a segment the target environment lacks, naming the segment.
    """
    if source_key == target_key:
        raise InvalidRequest("source and target must be different environments")
    source, target = flag.config(source_key), flag.config(target_key)
    plan: list[dict[str, Any]] = []
    if CopyAction.UPDATE_ON in actions and source["on"] != target["on"]:
        plan.append({"kind": "turnFlagOn" if source["on"] else "turnFlagOff"})
    if CopyAction.UPDATE_TARGETS in actions and _target_sets(source) != _target_sets(target):
        plan.append({"kind": "replaceTargets", "targets": _targets(flag, source)})
    if CopyAction.UPDATE_RULES in actions and _strip_ids(source["rules"]) != _strip_ids(target["rules"]):
        missing = [
            key
            for rule in source["rules"]
            for clause in rule["clauses"]
            if clause["op"] == "segmentMatch"
            for key in clause["values"]
            if not segment_exists(target_key, str(key))
        ]
        if missing:
            raise InvalidRequest(
                f"cannot copy rules: segment '{missing[0]}' does not exist in environment '{target_key}'"
            )
        plan.append({"kind": "replaceRules", "rules": _rules(flag, source)})
    if CopyAction.UPDATE_FALLTHROUGH in actions and source["fallthrough"] != target["fallthrough"]:
        plan.append({"kind": "updateFallthroughVariationOrRollout", **_vor(flag, source["fallthrough"])})
    off = source["offVariation"]
    if CopyAction.UPDATE_OFF_VARIATION in actions and off is not None and off != target["offVariation"]:
        plan.append({"kind": "updateOffVariation", "variationId": flag.variations[off]["_id"]})
    if CopyAction.UPDATE_PREREQUISITES in actions and source["prerequisites"] != target["prerequisites"]:
        plan.append({"kind": "replacePrerequisites", "prerequisites": _prerequisites(source, get_flag)})
    return plan


def _prerequisites(config: FlagConfig, get_flag: Callable[[str], Flag | None]) -> list[dict[str, Any]]:
    result = []
    for prerequisite in config["prerequisites"]:
        other = get_flag(prerequisite["key"])
        if other is None or prerequisite["variation"] >= len(other.variations):
            raise InvalidRequest(f"cannot copy prerequisites: flag '{prerequisite['key']}' is missing")
        result.append({"key": prerequisite["key"], "variationId": other.variations[prerequisite["variation"]]["_id"]})
    return result


def _target_sets(config: FlagConfig) -> set[tuple[str, int, frozenset[str]]]:
    return {
        (t.get("contextKind", "user"), t["variation"], frozenset(t["values"]))
        for t in [*config["targets"], *config["contextTargets"]]
        if t["values"]
    }


def _strip_ids(rules: list[Any]) -> list[Any]:
    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if k not in ("_id", "ref")}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    return [clean(rule) for rule in rules]
