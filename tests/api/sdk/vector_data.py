"""Test-vector ``sdkData`` created in flagward through its REST API, as a user would: flags and segments
are created, then their targeting is set with JSON patches. SDK shapes become REST shapes on the way
(``id`` -> ``_id``, ``untracked`` -> ``_untracked``, an experiment rollout -> ``experimentAllocation``).

What the REST API cannot express is reported, per flag or segment, instead of being forced in:
a segment's ``salt`` is chosen by the server (read-only, as in LaunchDarkly), and flagward refuses to
store some malformed flags that the vectors feed to SDKs directly (the API answers 400).
"""

from __future__ import annotations

from typing import Any

from tests.support.sdk import Env, Rest

PADDING = "flagward-vector-padding"


def _rollout(rollout: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "variations": [
            {"variation": w["variation"], "weight": w["weight"], **({"_untracked": True} if w.get("untracked") else {})}
            for w in rollout["variations"]
        ]
    }
    for name in ("bucketBy", "contextKind", "seed"):
        if name in rollout:
            out[name] = rollout[name]
    if rollout.get("kind") == "experiment":
        out["experimentAllocation"] = {"defaultVariation": 0, "canReshuffle": False}
    return out


def _serve(serve: dict[str, Any]) -> dict[str, Any]:
    if "rollout" in serve:
        return {"rollout": _rollout(serve["rollout"])}
    return {"variation": serve["variation"]} if "variation" in serve else {}


def _clause(clause: dict[str, Any]) -> dict[str, Any]:
    out = {k: clause[k] for k in ("attribute", "op", "values") if k in clause}
    out["negate"] = clause.get("negate", False)
    if "contextKind" in clause:
        out["contextKind"] = clause["contextKind"]
    return out


def _flag_rule(rule: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "clauses": [_clause(c) for c in rule["clauses"]],
        "trackEvents": rule.get("trackEvents", False),
    }
    if rule.get("id") is not None:
        out["_id"] = rule["id"]
    out.update(_serve(rule))
    return out


def _segment_rule(rule: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"clauses": [_clause(c) for c in rule["clauses"]]}
    if rule.get("id") is not None:
        out["_id"] = rule["id"]
    for name in ("weight", "bucketBy", "rolloutContextKind"):
        if name in rule:
            out[name] = rule[name]
    return out


def _referenced_variations(flag: dict[str, Any]) -> set[int]:
    serves = [flag.get("fallthrough") or {}, *flag["rules"]]
    indexes = {t["variation"] for t in [*flag["targets"], *flag["contextTargets"]]}
    indexes |= {s["variation"] for s in serves if "variation" in s}
    indexes |= {w["variation"] for s in serves if "rollout" in s for w in s["rollout"]["variations"]}
    if flag.get("offVariation") is not None:
        indexes.add(flag["offVariation"])
    return indexes


def _buckets_by_salt(flag: dict[str, Any]) -> bool:
    serves = [flag.get("fallthrough") or {}, *flag["rules"]]
    return any("rollout" in s and "seed" not in s["rollout"] for s in serves)


def _variations(flag: dict[str, Any]) -> list[Any] | None:
    """The flag's variations as REST accepts them (at least two): a one-variation flag gets a padding
    variation at index 1 when nothing refers to index 1, which leaves every result unchanged."""
    values = list(flag["variations"])
    if len(values) == 1 and 1 not in _referenced_variations(flag):
        values.append(PADDING)
    return values if len(values) >= 2 else None


def _unused_fallthrough(flag: dict[str, Any]) -> dict[str, Any]:
    """flagward requires a fallthrough; an off flag never reaches it, so any one leaves results unchanged."""
    return {} if flag.get("on") else {"variation": 0}


def _flag_ops(env_key: str, flag: dict[str, Any]) -> list[dict[str, Any]]:
    base = f"/environments/{env_key}"
    config = {
        "on": flag.get("on", False),
        "fallthrough": _serve(flag.get("fallthrough") or {}) or _unused_fallthrough(flag),
        "targets": [{"values": t["values"], "variation": t["variation"]} for t in flag["targets"]],
        "contextTargets": [
            {"contextKind": t.get("contextKind", "user"), "variation": t["variation"], "values": t["values"]}
            for t in flag["contextTargets"]
        ],
        "rules": [_flag_rule(r) for r in flag["rules"]],
        "prerequisites": [{"key": p["key"], "variation": p["variation"]} for p in flag["prerequisites"]],
        "trackEvents": flag.get("trackEvents", False),
        "trackEventsFallthrough": flag.get("trackEventsFallthrough", False),
    }
    if flag.get("salt"):
        config["salt"] = flag["salt"]  # flagward's salts are never empty; an empty one only matters to rollouts
    ops = [{"op": "replace", "path": f"{base}/{name}", "value": value} for name, value in config.items()]
    if flag.get("offVariation") is None:
        ops.append({"op": "remove", "path": f"{base}/offVariation"})
    else:
        ops.append({"op": "replace", "path": f"{base}/offVariation", "value": flag["offVariation"]})
    return ops


def create(api: Rest, env: Env, sdk_data: dict[str, dict[str, Any]], *, client_side: bool = False) -> dict[str, str]:
    """Create ``sdk_data`` in ``env``'s project; returns why each item that could not be created as
    given was left out (by ``flags/<key>`` or ``segments/<key>``). With ``client_side``, every flag is
    also available to client-side and mobile SDKs."""
    refused: dict[str, str] = {}
    segments, flags = sdk_data["segments"], sdk_data["flags"]
    for key, segment in segments.items():
        body: dict[str, Any] = {"unbounded": True} if segment.get("unbounded") else {}
        api.create_segment(env, key, **body)
        if segment.get("salt"):
            refused[f"segments/{key}"] = "a segment's salt cannot be set through the REST API"
    for key, flag in flags.items():
        if not flag.get("salt") and _buckets_by_salt(flag):
            refused[f"flags/{key}"] = "a flag's salt cannot be empty"
            continue
        variations = _variations(flag)
        if variations is None:
            refused[f"flags/{key}"] = "a flag needs at least two variations"
            continue
        body: dict[str, Any] = {"key": key, "name": key, "variations": [{"value": v} for v in variations]}
        if client_side:
            body["clientSideAvailability"] = {"usingEnvironmentId": True, "usingMobileKey": True}
        response = api.http.post(f"/api/v2/flags/{env.project}", json=body)
        if response.status_code == 400:
            refused[f"flags/{key}"] = response.json()["message"]
        else:
            assert response.status_code == 201, response.text
    for key, segment in segments.items():
        ops = [
            {"op": "replace", "path": f"/{name}", "value": segment[name]}
            for name in ("included", "excluded", "includedContexts", "excludedContexts")
        ]
        ops.append({"op": "replace", "path": "/rules", "value": [_segment_rule(r) for r in segment["rules"]]})
        response = api.http.patch(f"/api/v2/segments/{env.project}/{env.key}/{key}", json=ops)
        if response.status_code == 400:
            refused[f"segments/{key}"] = response.json()["message"]
        else:
            assert response.status_code == 200, response.text
    for key, flag in flags.items():
        if f"flags/{key}" in refused:
            continue
        response = api.http.patch(f"/api/v2/flags/{env.project}/{key}", json=_flag_ops(env.key, flag))
        if response.status_code == 400:
            refused[f"flags/{key}"] = response.json()["message"]
        else:
            assert response.status_code == 200, response.text
    return refused
