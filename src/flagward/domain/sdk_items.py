"""Domain objects -> the flag and segment JSON that server-side SDKs parse (sdk-protocol.md §2). Pure.

This is what ``/sdk/latest-all`` and the streams carry, and what the approval gate
(``flagward.domain.governance``) compares before and after a change.

The REST shapes differ from the SDK shapes in a few places, all handled here: rules carry ``id`` (not
``_id``), clauses lose their ``_id``, weighted variations say ``untracked`` (not ``_untracked``), a
rollout with an ``experimentAllocation`` becomes ``"kind": "experiment"``, and variations are bare values.

Every required array is present, every integer is an ``int``. An archived flag is served as a tombstone
(SDKs give the application's fallback value for it, as LaunchDarkly does), with the version of its
environment configuration, which archiving increases.
"""

from __future__ import annotations

from typing import Any

from flagward.domain.flags import Clause, Flag, Rollout, Rule, Target, VariationOrRollout
from flagward.domain.segments import Segment, SegmentRule, SegmentTarget

SdkItem = dict[str, Any]

# A clause no context can match (``in`` with no values): a disabled rule keeps its position, so rule
# indexes in evaluation reasons stay those of the REST representation, and never matches.
_NEVER: dict[str, Any] = {"attribute": "key", "op": "in", "values": [], "negate": False}


def tombstone(key: str, version: int) -> SdkItem:
    """What SDKs store for a deleted item: absent for evaluation, but versioned."""
    return {"key": key, "version": version, "deleted": True}


def flag_item(flag: Flag, env_key: str) -> SdkItem:
    """The SDK flag for ``env_key``; its version is that environment configuration's version."""
    config = flag.environments[env_key]
    if flag.archived:
        return tombstone(flag.key, config["version"])
    csa = flag.client_side_availability
    item: SdkItem = {
        "key": flag.key,
        "version": config["version"],
        "on": config["on"],
        "variations": [v["value"] for v in flag.variations],
        "fallthrough": _serve(config["fallthrough"]),
        "prerequisites": [{"key": p["key"], "variation": p["variation"]} for p in config["prerequisites"]],
        "targets": [{"values": list(t["values"]), "variation": t["variation"]} for t in config["targets"]],
        "contextTargets": [_context_target(t) for t in config["contextTargets"]],
        "rules": [_rule(rule) for rule in config["rules"]],
        "salt": config["salt"],
        "trackEvents": config["trackEvents"],
        "trackEventsFallthrough": config["trackEventsFallthrough"],
        "clientSide": csa.using_environment_id,
        "clientSideAvailability": {
            "usingMobileKey": csa.using_mobile_key,
            "usingEnvironmentId": csa.using_environment_id,
        },
        "deleted": False,
    }
    if config["offVariation"] is not None:
        item["offVariation"] = config["offVariation"]
    debug_until = config.get("_debugEventsUntilDate")
    if debug_until is not None:
        item["debugEventsUntilDate"] = debug_until
    migration = config.get("migrationSettings")
    if isinstance(migration, dict) and isinstance(migration.get("checkRatio"), int):
        item["migration"] = {"checkRatio": migration["checkRatio"]}
    return item


def segment_item(segment: Segment) -> SdkItem:
    item: SdkItem = {
        "key": segment.key,
        "version": segment.version,
        "included": list(segment.included),
        "excluded": list(segment.excluded),
        "includedContexts": [_segment_target(t) for t in segment.included_contexts],
        "excludedContexts": [_segment_target(t) for t in segment.excluded_contexts],
        "rules": [_segment_rule(rule) for rule in segment.rules],
        "salt": segment.salt,
        "unbounded": segment.unbounded,
        "generation": segment.generation,
        "deleted": False,
    }
    if segment.unbounded_context_kind is not None:
        item["unboundedContextKind"] = segment.unbounded_context_kind
    return item


def _clause(clause: Clause) -> dict[str, Any]:
    result: dict[str, Any] = {
        "attribute": clause["attribute"],
        "op": clause["op"],
        "values": list(clause["values"]),
        "negate": clause["negate"],
    }
    if "contextKind" in clause:
        result["contextKind"] = clause["contextKind"]
    return result


def _rollout(rollout: Rollout) -> dict[str, Any]:
    variations = []
    for weighted in rollout["variations"]:
        entry: dict[str, Any] = {"variation": weighted["variation"], "weight": weighted["weight"]}
        if weighted.get("_untracked"):
            entry["untracked"] = True
        variations.append(entry)
    result: dict[str, Any] = {"variations": variations}
    for name in ("bucketBy", "contextKind", "seed"):
        if name in rollout:
            result[name] = rollout[name]
    if "experimentAllocation" in rollout:
        result["kind"] = "experiment"
    return result


def _serve(serve: VariationOrRollout) -> dict[str, Any]:
    if "rollout" in serve:
        return {"rollout": _rollout(serve["rollout"])}
    if "variation" in serve:
        return {"variation": serve["variation"]}
    return {}


def _rule(rule: Rule) -> dict[str, Any]:
    clauses = [_clause(c) for c in rule["clauses"]]
    if rule.get("disabled"):
        clauses.append(dict(_NEVER))
    result: dict[str, Any] = {"id": rule["_id"], "clauses": clauses, "trackEvents": rule["trackEvents"]}
    if "rollout" in rule:
        result["rollout"] = _rollout(rule["rollout"])
    elif "variation" in rule:
        result["variation"] = rule["variation"]
    return result


def _context_target(target: Target) -> dict[str, Any]:
    return {
        "contextKind": target.get("contextKind", "user"),
        "variation": target["variation"],
        "values": list(target["values"]),
    }


def _segment_target(target: SegmentTarget) -> dict[str, Any]:
    return {"contextKind": target["contextKind"], "values": list(target["values"])}


def _segment_rule(rule: SegmentRule) -> dict[str, Any]:
    result: dict[str, Any] = {"id": rule["_id"], "clauses": [_clause(c) for c in rule["clauses"]]}
    for name in ("weight", "bucketBy", "rolloutContextKind"):
        if name in rule:
            result[name] = rule[name]
    return result
