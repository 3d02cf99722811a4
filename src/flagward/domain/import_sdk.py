"""LaunchDarkly's SDK payload (``{"flags": {...}, "segments": {...}}``, as ``/sdk/latest-all``, the SDKs'
file data source and Relay Proxy archives hold it) -> flagward's flags and segments, item by item. Pure.

Everything that decides a context's variation and bucket is kept: variation order and values, rule ids,
clauses, targets, context targets, prerequisites, rollouts (bucketBy, contextKind, seed, experiment
kind, untracked variations), salts, track-events settings, client-side availability and versions.
What the SDK shape lacks is made up where it cannot change a result: variation, clause and missing
rule ids are new UUIDs, the name is the key, and a missing salt is a fresh one unless something buckets
by it (then the item is refused: its buckets could not be reproduced).

The inverse is ``flagward.domain.sdk_items``; a flag parsed here and served again is the same SDK item.
"""

from __future__ import annotations

from typing import Any, cast

from flagward.domain.errors import InvalidRequest
from flagward.domain.flag_validation import check_flag_shape
from flagward.domain.flags import Defaults, Flag, FlagConfig, Variation
from flagward.domain.ids import new_object_id, new_salt, new_uuid, validate_key
from flagward.domain.import_items import ItemRefused, ParsedEnvironment, refusal_from
from flagward.domain.instructions.targets import normalize_targets
from flagward.domain.projects import ClientSideAvailability
from flagward.domain.segment_documents import parse_new_segment_rules
from flagward.domain.segment_validation import check_context_targets, check_strings
from flagward.domain.segments import Segment, SegmentRule

EXPERIMENT_ALLOCATION = {"defaultVariation": 0, "canReshuffle": False}


def parse_payload(payload: Any, *, project_key: str, env_key: str, now: int) -> ParsedEnvironment:
    """Every flag and segment of ``payload``; a malformed one is a Refusal, the others are parsed.
    Raises InvalidRequest only when the payload itself is not ``{"flags": {...}, "segments": {...}}``."""
    if not isinstance(payload, dict) or set(payload) - {"flags", "segments"}:
        raise InvalidRequest('an SDK payload must be an object {"flags": {...}, "segments": {...}}')
    parsed = ParsedEnvironment()
    for kind in ("flags", "segments"):
        if not isinstance(payload.get(kind, {}), dict):
            raise InvalidRequest(f"{kind} must be an object keyed by {kind[:-1]} key")
    for key, raw in (payload.get("segments") or {}).items():
        if isinstance(raw, dict) and raw.get("deleted") is True:
            parsed.skipped.append(f"segments/{key}")
            continue
        try:
            parsed.segments[key] = segment_from_sdk(key, raw, project_key=project_key, env_key=env_key, now=now)
        except InvalidRequest as error:
            parsed.refusals.append(refusal_from(error, f"segments/{key}", f"segments.{key}"))
    for key, raw in (payload.get("flags") or {}).items():
        if isinstance(raw, dict) and raw.get("deleted") is True:
            parsed.skipped.append(f"flags/{key}")
            continue
        try:
            parsed.flags[key] = flag_from_sdk(key, raw, project_key=project_key, env_key=env_key, now=now)
        except InvalidRequest as error:
            parsed.refusals.append(refusal_from(error, f"flags/{key}", f"flags.{key}", _flag_path(env_key)))
    return parsed


def _flag_path(env_key: str) -> Any:
    """flagward's path in a flag -> the path in the SDK item (one environment, bare variation values)."""
    prefix = f"environments.{env_key}."

    def translate(path: str) -> str:
        if path.startswith(prefix):
            path = path[len(prefix) :]
        if path.startswith("variations[") and path.endswith("].value"):
            path = path[: -len(".value")]
        return path.replace("._untracked", ".untracked")

    return translate


# -- flags -----------------------------------------------------------------------------------------


def flag_from_sdk(key: str, raw: Any, *, project_key: str, env_key: str, now: int) -> Flag:
    """A Flag with one configuration (``env_key``) from an SDK flag item. Raises InvalidRequest
    (an ItemRefused, or a validation error naming flagward's path)."""
    where = f"flags.{key}"
    check_key(key, where)
    if not isinstance(raw, dict):
        raise ItemRefused(where, "must be an object")
    if raw.get("key", key) != key:
        raise ItemRefused(f"{where}.key", f"is '{raw.get('key')}' but the item is listed as '{key}'")
    values = raw.get("variations")
    if not isinstance(values, list):
        raise ItemRefused(f"{where}.variations", "must be a list")
    variations: list[Variation] = [{"_id": new_uuid(), "value": v} for v in values]
    config = _config(raw, where, now)
    flag = Flag(
        id=new_object_id(),
        project_key=project_key,
        key=key,
        name=key,
        kind=_kind(values),
        variations=variations,
        creation_date=now,
        defaults=_defaults(config, len(values)),
        temporary=False,
        client_side_availability=_availability(raw),
        environments={env_key: config},
    )
    check_flag_shape(flag)
    return flag


def _kind(values: list[Any]) -> str:
    return "boolean" if len(values) == 2 and all(isinstance(v, bool) for v in values) else "multivariate"


def _defaults(config: FlagConfig, count: int) -> Defaults:
    """The variations new environments serve: those of this one (its fallthrough and off variation)."""
    on = config["fallthrough"].get("variation") if isinstance(config["fallthrough"], dict) else None
    off = config["offVariation"]
    valid = range(count)
    return Defaults(
        on_variation=on if isinstance(on, int) and not isinstance(on, bool) and on in valid else 0,
        off_variation=off if isinstance(off, int) and not isinstance(off, bool) and off in valid else max(count - 1, 0),
    )


def _availability(raw: dict[str, Any]) -> ClientSideAvailability:
    csa = raw.get("clientSideAvailability")
    if isinstance(csa, dict):
        return ClientSideAvailability(
            using_mobile_key=csa.get("usingMobileKey", False), using_environment_id=csa.get("usingEnvironmentId", False)
        )
    return ClientSideAvailability(using_mobile_key=False, using_environment_id=raw.get("clientSide", False))


def _config(raw: dict[str, Any], where: str, now: int) -> FlagConfig:
    version = raw.get("version", 1)
    config: dict[str, Any] = {
        "on": raw.get("on", False),
        "archived": False,
        "salt": raw.get("salt") or "",
        "sel": new_salt(),
        "lastModified": now,
        "version": version,
        "targets": [_target(t) for t in _list(raw, "targets")],
        "contextTargets": [_target(t, context=True) for t in _list(raw, "contextTargets")],
        "rules": [_rule(r) for r in _list(raw, "rules")],
        "fallthrough": _serve(raw.get("fallthrough")),
        "offVariation": raw.get("offVariation"),
        "prerequisites": _list(raw, "prerequisites"),
        "trackEvents": raw.get("trackEvents", False),
        "trackEventsFallthrough": raw.get("trackEventsFallthrough", False),
    }
    if raw.get("debugEventsUntilDate") is not None:
        config["_debugEventsUntilDate"] = raw["debugEventsUntilDate"]
    if isinstance(raw.get("migration"), dict):
        config["migrationSettings"] = dict(raw["migration"])
    if config["fallthrough"] == {} and config["on"] is False:
        # An off flag never reaches its fallthrough; flagward (like LaunchDarkly's REST API) needs one.
        off = config["offVariation"]
        config["fallthrough"] = {"variation": off if isinstance(off, int) and not isinstance(off, bool) else 0}
    if not config["salt"]:
        if buckets_by_salt(config):
            raise ItemRefused(
                f"{where}.salt",
                "is missing or empty, and a rollout buckets by it without a seed: its buckets cannot be reproduced",
            )
        config["salt"] = new_salt()  # nothing buckets by it, so any salt gives the same results
    if isinstance(config["targets"], list) and isinstance(config["contextTargets"], list):
        normalize_targets(cast(FlagConfig, config))
    return cast(FlagConfig, config)


def buckets_by_salt(config: Any) -> bool:
    rules = config.get("rules")
    serves = [config.get("fallthrough"), *(rules if isinstance(rules, list) else [])]
    return any(
        isinstance(s, dict) and isinstance(s.get("rollout"), dict) and s["rollout"].get("seed") is None for s in serves
    )


def _list(raw: dict[str, Any], name: str) -> Any:
    value = raw.get(name)
    return [] if value is None else value


def _target(raw: Any, *, context: bool = False) -> Any:
    if not isinstance(raw, dict):
        return raw
    out = dict(raw)
    if context:
        out.setdefault("contextKind", "user")
    return out


def _clause(raw: Any) -> Any:
    if not isinstance(raw, dict):
        return raw
    out = {"_id": new_uuid(), **raw}
    out.setdefault("negate", False)
    out.setdefault("values", [])
    return out


def _rollout(raw: Any) -> Any:
    if not isinstance(raw, dict):
        return raw
    out = {k: v for k, v in raw.items() if k != "kind"}
    if isinstance(raw.get("variations"), list):
        out["variations"] = [_weighted(w) for w in raw["variations"]]
    if out.get("seed") is None:
        out.pop("seed", None)
    if raw.get("kind") == "experiment":
        out["experimentAllocation"] = dict(EXPERIMENT_ALLOCATION)
    elif raw.get("kind") not in (None, "rollout"):
        out["kind"] = raw["kind"]  # named by validation as an unknown field
    return out


def _weighted(raw: Any) -> Any:
    if not isinstance(raw, dict):
        return raw
    out = {k: v for k, v in raw.items() if k != "untracked"}
    if raw.get("untracked") not in (None, False):
        out["_untracked"] = raw["untracked"]  # anything but a boolean is named by validation
    return out


def _serve(raw: Any) -> Any:
    if not isinstance(raw, dict):
        return raw if raw is not None else {}
    out = {k: v for k, v in raw.items() if k not in ("rollout", "variation")}
    if raw.get("rollout") is not None:
        out["rollout"] = _rollout(raw["rollout"])
    elif raw.get("variation") is not None:
        out["variation"] = raw["variation"]
    return out


def _rule(raw: Any) -> Any:
    if not isinstance(raw, dict):
        return raw
    out = {k: v for k, v in raw.items() if k not in ("id", "clauses", "rollout", "variation")}
    out["_id"] = raw.get("id") or new_uuid()
    out["clauses"] = (
        [_clause(c) for c in raw["clauses"]] if isinstance(raw.get("clauses"), list) else raw.get("clauses")
    )
    out.setdefault("trackEvents", False)
    served = _serve(raw)
    out.update({k: served[k] for k in ("rollout", "variation") if k in served})
    return out


# -- segments --------------------------------------------------------------------------------------


def segment_from_sdk(key: str, raw: Any, *, project_key: str, env_key: str, now: int) -> Segment:
    """A Segment from an SDK segment item, salt and version included. Raises InvalidRequest naming the
    path (segment references are checked when it is stored: ``validate_segment``)."""
    where = f"segments.{key}"
    check_key(key, where)
    if not isinstance(raw, dict):
        raise ItemRefused(where, "must be an object")
    if raw.get("key", key) != key:
        raise ItemRefused(f"{where}.key", f"is '{raw.get('key')}' but the item is listed as '{key}'")
    if raw.get("unbounded"):
        raise ItemRefused(f"{where}.unbounded", "big (unbounded) segments are not supported by flagward")
    rules = _segment_rules(raw.get("rules") or [], where)
    salt = raw.get("salt") or ""
    if not isinstance(salt, str):
        raise ItemRefused(f"{where}.salt", "must be a string")
    if not salt:
        if any("weight" in rule for rule in rules):
            raise ItemRefused(f"{where}.salt", "is missing or empty, and a weighted rule buckets by it")
        salt = new_salt()
    version = raw.get("version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise ItemRefused(f"{where}.version", "must be a non-negative integer")
    segment = Segment(
        id=new_object_id(),
        project_key=project_key,
        environment_key=env_key,
        key=key,
        name=key,
        creation_date=now,
        last_modified=now,
        salt=salt,
        included=_strings(raw, "included", where),
        excluded=_strings(raw, "excluded", where),
        included_contexts=_contexts(raw, "includedContexts", where),
        excluded_contexts=_contexts(raw, "excludedContexts", where),
        rules=rules,
        generation=_generation(raw.get("generation"), where),
        version=max(version, 1),
    )
    return segment


def check_key(key: str, where: str) -> None:
    """An item's key as flagward's keys must be (LaunchDarkly's rules): refused at ``where`` otherwise."""
    try:
        validate_key(key)
    except InvalidRequest as error:
        raise ItemRefused(where, f"has a key flagward cannot store: {error.message}") from None


def _generation(value: Any, where: str) -> int:
    if value is None:
        return 1
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ItemRefused(f"{where}.generation", "must be a non-negative integer")
    return value or 1


def _strings(raw: dict[str, Any], name: str, where: str) -> list[str]:
    try:
        return list(dict.fromkeys(check_strings(raw.get(name) or [], name)))
    except InvalidRequest as error:
        raise ItemRefused(f"{where}.{name}", error.message.removeprefix(name).strip()) from None


def _contexts(raw: dict[str, Any], name: str, where: str) -> Any:
    value = raw.get(name) or []
    try:
        check_context_targets(value, name)
    except InvalidRequest as error:
        head, _, reason = error.message.partition(" ")
        raise ItemRefused(f"{where}.{head}", reason) from None
    return [{"contextKind": t["contextKind"], "values": list(dict.fromkeys(t["values"]))} for t in value if t["values"]]


def _segment_rules(raw: Any, where: str) -> list[SegmentRule]:
    if not isinstance(raw, list):
        raise ItemRefused(f"{where}.rules", "must be a list")
    rest: list[Any] = []
    for rule in raw:
        if not isinstance(rule, dict):
            rest.append(rule)
            continue
        out = {k: v for k, v in rule.items() if k not in ("id", "clauses")}
        out["_id"] = rule.get("id") or new_uuid()
        clauses = rule.get("clauses")
        out["clauses"] = [_clause(c) for c in clauses] if isinstance(clauses, list) else clauses
        rest.append(out)
    try:
        return parse_new_segment_rules(rest, keep_ids=True)
    except InvalidRequest as error:
        head, _, reason = error.message.partition(" ")
        if head.startswith("rules"):
            raise ItemRefused(f"{where}.{head}", reason) from None
        raise ItemRefused(where, error.message) from None
