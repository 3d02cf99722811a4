"""Whole-flag validation: every invariant a stored flag keeps, with errors that name the offending path
(``environments.production.rules[1].clauses[0].op``).

``check_flag_shape`` needs no lookups (types, ranges, shapes); ``validate_flag`` adds what needs the
project: segments, prerequisite flags and cycles. Both accept any runtime types in the flag, since
flags parsed from patched documents arrive here before anything trusts them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, NoReturn

from flagward.domain.changes import same_json
from flagward.domain.clauses import parse_clause
from flagward.domain.errors import InvalidRequest
from flagward.domain.flags import Clause, Flag, FlagConfig, Rollout, Rule, Target, Variation, WeightedVariation
from flagward.domain.ids import check_name_length

if TYPE_CHECKING:
    from flagward.domain.instructions.context import FlagChangeContext

USER = "user"
TOTAL_WEIGHT = 100_000
FLAG_KINDS = ("boolean", "multivariate")

_CONFIG_FIELDS = frozenset(FlagConfig.__annotations__)
_RULE_FIELDS = frozenset(Rule.__annotations__)
_CLAUSE_FIELDS = frozenset(Clause.__annotations__)
_ROLLOUT_FIELDS = frozenset(Rollout.__annotations__)
_WEIGHTED_FIELDS = frozenset(WeightedVariation.__annotations__)
_TARGET_FIELDS = frozenset(Target.__annotations__)
_VARIATION_FIELDS = frozenset(Variation.__annotations__)


def validate_flag(flag: Flag, context: FlagChangeContext, *, environments: Iterable[str] | None = None) -> None:
    """Check ``flag`` and the configurations of ``environments`` (None: all of them).

    Beyond ``check_flag_shape``: segments named by segmentMatch clauses exist in their environment;
    prerequisite flags exist, their variation index is in range, and no prerequisite cycle goes through
    this flag. The maintainer is not looked up (a member may leave after being named). Raises
    InvalidRequest naming the path.
    """
    keys = _environment_keys(flag, environments)
    check_flag_shape(flag, environments=keys)
    for key in keys:
        _check_segments(flag.environments[key], key, context.segment_exists)
        _check_prerequisite_flags(flag, key, context.get_flag)


def check_required_variations(
    before: Flag, after: Flag, dependents_of: Callable[[str], list[tuple[str, str, int]]]
) -> None:
    """Other flags require this one's variations by index (their prerequisites): refuse a change of the
    variations that leaves another variation, or none, at an index they require. Looked up only when the
    variations (by ``_id``) changed. Raises InvalidRequest naming the flags to change first."""
    was = [v.get("_id") for v in before.variations]
    now = [v.get("_id") for v in after.variations]
    if was == now:
        return
    broken = sorted(
        {
            f"'{other}' (in {env_key}, variation {index})"
            for other, env_key, index in dependents_of(before.key)
            if (was[index] if index < len(was) else None) != (now[index] if index < len(now) else None)
        }
    )
    if broken:
        raise InvalidRequest(
            f"variations: flags {', '.join(broken)} have this flag as a prerequisite on a variation this "
            "change removes or moves; change those prerequisites first"
        )


def check_flag_shape(flag: Flag, *, environments: Iterable[str] | None = None) -> None:
    """Everything that needs no lookup, on the flag and on ``environments`` (None: all). Raises
    InvalidRequest naming the path."""
    _check_flag_fields(flag)
    for key in _environment_keys(flag, environments):
        _check_config(flag, key)


def find_prerequisite_cycle(flag: Flag, env_key: str, get_flag: Callable[[str], Flag | None]) -> list[str] | None:
    """A prerequisite path in ``env_key`` from ``flag`` back to itself (``[a, b, a]``), or None.

    ``flag`` stands for itself whatever ``get_flag`` returns for its key; cycles elsewhere in the
    project that do not pass through ``flag`` are not this flag's to report.
    """
    stack: list[list[str]] = [[flag.key]]
    visited = {flag.key}
    while stack:
        path = stack.pop()
        current = flag if path[-1] == flag.key else get_flag(path[-1])
        config: Any = current.environments.get(env_key) if current is not None else None
        for key in _prerequisite_keys(config):
            if key == flag.key:
                return [*path, key]
            if key not in visited:
                visited.add(key)
                stack.append([*path, key])
    return None


def _prerequisite_keys(config: Any) -> list[str]:
    if not isinstance(config, dict) or not isinstance(config.get("prerequisites"), list):
        return []
    return [p["key"] for p in config["prerequisites"] if isinstance(p, dict) and isinstance(p.get("key"), str)]


def _environment_keys(flag: Flag, environments: Iterable[str] | None) -> list[str]:
    if not isinstance(flag.environments, dict):
        _fail("environments", "must be an object")
    if environments is None:
        return list(flag.environments)
    return [key for key in environments if key in flag.environments]


# -- primitives ------------------------------------------------------------------------------------


def _fail(path: str, message: str) -> NoReturn:
    raise InvalidRequest(f"{path} {message}")


def _bool(value: Any, path: str) -> None:
    if not isinstance(value, bool):
        _fail(path, "must be a boolean")


def _int(value: Any, path: str, low: int | None = None, high: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(path, "must be an integer")
    if (low is not None and value < low) or (high is not None and value > high):
        _fail(path, f"must be between {low} and {high}")


def _text(value: Any, path: str, *, empty_ok: bool = False) -> None:
    if not isinstance(value, str) or (not value and not empty_ok):
        _fail(path, "must be a string" if empty_ok else "must be a non-empty string")


def _list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        _fail(path, "must be a list")
    return value


def _object(value: Any, path: str, fields: frozenset[str] | None = None) -> dict[str, Any]:
    if not isinstance(value, dict):
        _fail(path, "must be an object")
    unknown = sorted(str(k) for k in value if fields is not None and k not in fields)
    if unknown:
        _fail(f"{path}.{unknown[0]}", "is not a known field")
    return value


def _index(value: Any, path: str, count: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < count:
        _fail(path, f"must be the index of one of the flag's {count} variations (0 to {count - 1})")


def _optional(value: Any, path: str, check: Callable[[Any, str], object]) -> None:
    if value is not None:
        check(value, path)


# -- the flag --------------------------------------------------------------------------------------


def _check_flag_fields(flag: Flag) -> None:
    _text(flag.name, "name")
    check_name_length(flag.name)
    if flag.kind not in FLAG_KINDS:
        _fail("kind", "must be 'boolean' or 'multivariate'")
    _check_variations(flag)
    count = len(flag.variations)
    _index(flag.defaults.on_variation, "defaults.onVariation", count)
    _index(flag.defaults.off_variation, "defaults.offVariation", count)
    _text(flag.description, "description", empty_ok=True)
    _bool(flag.temporary, "temporary")
    _check_tags(flag.tags)
    _optional(flag.maintainer_id, "maintainerId", _text)
    _optional(flag.maintainer_team_key, "maintainerTeamKey", _text)
    _bool(flag.client_side_availability.using_mobile_key, "clientSideAvailability.usingMobileKey")
    _bool(flag.client_side_availability.using_environment_id, "clientSideAvailability.usingEnvironmentId")
    _bool(flag.archived, "archived")
    _optional(flag.archived_date, "archivedDate", _int)
    _bool(flag.deprecated, "deprecated")
    _optional(flag.deprecated_date, "deprecatedDate", _int)
    _check_custom_properties(flag.custom_properties)


def _check_variations(flag: Flag) -> None:
    variations = _list(flag.variations, "variations")
    if len(variations) < 2:
        _fail("variations", "must have at least two entries")
    ids: set[str] = set()
    for i, variation in enumerate(variations):
        path = f"variations[{i}]"
        _object(variation, path, _VARIATION_FIELDS)
        _text(variation.get("_id"), f"{path}._id")
        if variation["_id"] in ids:
            _fail(f"{path}._id", "duplicates another variation's _id")
        ids.add(variation["_id"])
        if variation.get("value") is None:
            _fail(f"{path}.value", "is required and must not be null")
        if any(same_json(variation["value"], other["value"]) for other in variations[:i]):
            _fail(f"{path}.value", "duplicates another variation; values must be unique")
        _optional(variation.get("name"), f"{path}.name", _string)
        _optional(variation.get("description"), f"{path}.description", _string)
    if flag.kind == "boolean" and (len(variations) != 2 or not all(isinstance(v["value"], bool) for v in variations)):
        _fail("variations", "of a boolean flag must be exactly true and false")


def _string(value: Any, path: str) -> None:
    _text(value, path, empty_ok=True)


def _check_tags(tags: Any) -> None:
    for i, tag in enumerate(_list(tags, "tags")):
        _text(tag, f"tags[{i}]")
        if tag in tags[:i]:
            _fail(f"tags[{i}]", f"duplicates tag '{tag}'")


def _check_custom_properties(properties: Any) -> None:
    for key, prop in _object(properties, "customProperties").items():
        path = f"customProperties.{key}"
        _object(prop, path, frozenset({"name", "value"}))
        _text(prop.get("name"), f"{path}.name")
        for i, value in enumerate(_list(prop.get("value"), f"{path}.value")):
            _text(value, f"{path}.value[{i}]")


# -- one environment's configuration ---------------------------------------------------------------


def _check_config(flag: Flag, key: str) -> None:
    where = f"environments.{key}"
    config = _object(flag.environments[key], where, _CONFIG_FIELDS)
    count = len(flag.variations)
    for name in ("on", "archived", "trackEvents", "trackEventsFallthrough"):
        _bool(config.get(name), f"{where}.{name}")
    for name in ("salt", "sel"):
        _text(config.get(name), f"{where}.{name}")
    for name in ("lastModified", "version"):
        _int(config.get(name), f"{where}.{name}", 0)
    _optional(config.get("_debugEventsUntilDate"), f"{where}._debugEventsUntilDate", _int)
    _optional(config.get("migrationSettings"), f"{where}.migrationSettings", _object)
    _check_targets(config, where, count)
    _check_rules(config, where, count)
    _check_serve(config.get("fallthrough"), f"{where}.fallthrough", count)
    _optional(config.get("offVariation"), f"{where}.offVariation", lambda v, p: _index(v, p, count))
    _check_prerequisite_shapes(flag, config, where)


def _check_targets(config: dict[str, Any], where: str, count: int) -> None:
    """User targets live in ``targets``, one entry per variation; other kinds in ``contextTargets``,
    one entry per (kind, variation), with an empty ``user`` placeholder for each user entry once any
    other kind is targeted (SDKs then read user keys through the placeholders only). A context key is
    targeted at most once per kind."""
    seen: dict[tuple[str, str], int] = {}
    slots: set[tuple[str, int]] = set()
    placeholders: set[int] = set()
    for list_name in ("targets", "contextTargets"):
        for i, target in enumerate(_list(config.get(list_name), f"{where}.{list_name}")):
            path = f"{where}.{list_name}[{i}]"
            kind = _check_target(target, path, count, in_targets=list_name == "targets")
            if list_name == "contextTargets" and kind == USER:
                placeholders.add(target["variation"])
                continue
            if (kind, target["variation"]) in slots:
                _fail(path, f"repeats variation {target['variation']} for context kind '{kind}'; merge the entries")
            slots.add((kind, target["variation"]))
            for j, value in enumerate(target["values"]):
                if (kind, value) in seen:
                    _fail(f"{path}.values[{j}]", f"'{value}' is already targeted (variation {seen[kind, value]})")
                seen[kind, value] = target["variation"]
    _check_placeholders(config, where, slots, placeholders)


def _check_target(target: Any, path: str, count: int, *, in_targets: bool) -> str:
    _object(target, path, _TARGET_FIELDS)
    kind = target.get("contextKind", USER)
    _text(kind, f"{path}.contextKind")
    if in_targets and kind != USER:
        _fail(f"{path}.contextKind", f"'{kind}' belongs in contextTargets; targets holds user targets")
    _index(target.get("variation"), f"{path}.variation", count)
    for j, value in enumerate(_list(target.get("values"), f"{path}.values")):
        _text(value, f"{path}.values[{j}]")
    if not in_targets and kind == USER and target["values"]:
        _fail(f"{path}.values", "must be empty: a user entry in contextTargets is a placeholder; use targets")
    return str(kind)


def _check_placeholders(
    config: dict[str, Any], where: str, slots: set[tuple[str, int]], placeholders: set[int]
) -> None:
    if not any(kind != USER for kind, _ in slots):
        return
    for i, target in enumerate(config["targets"]):
        if target["values"] and target["variation"] not in placeholders:
            _fail(
                f"{where}.contextTargets",
                f"needs a user placeholder for variation {target['variation']}, or SDKs ignore targets[{i}]",
            )


def _check_rules(config: dict[str, Any], where: str, count: int) -> None:
    ids: set[str] = set()
    for i, rule in enumerate(_list(config.get("rules"), f"{where}.rules")):
        path = f"{where}.rules[{i}]"
        _object(rule, path, _RULE_FIELDS)
        _text(rule.get("_id"), f"{path}._id")
        if rule["_id"] in ids:
            _fail(f"{path}._id", f"duplicates rule '{rule['_id']}'")
        ids.add(rule["_id"])
        clauses = _list(rule.get("clauses"), f"{path}.clauses")
        for j, clause in enumerate(clauses):
            _check_clause(clause, f"{path}.clauses[{j}]")
            if any(other["_id"] == clause["_id"] for other in clauses[:j]):
                _fail(f"{path}.clauses[{j}]._id", f"duplicates clause '{clause['_id']}'")
        _bool(rule.get("trackEvents"), f"{path}.trackEvents")
        _check_serve(rule, path, count)
        _optional(rule.get("description"), f"{path}.description", _string)
        _optional(rule.get("disabled"), f"{path}.disabled", _bool)
        _optional(rule.get("ref"), f"{path}.ref", _string)


def _check_clause(clause: Any, path: str) -> None:
    _object(clause, path, _CLAUSE_FIELDS)
    _text(clause.get("_id"), f"{path}._id")
    _bool(clause.get("negate"), f"{path}.negate")
    parse_clause(clause, path)


def _check_serve(holder: Any, path: str, count: int) -> None:
    """``holder`` (a rule or a fallthrough) serves exactly one of a variation or a rollout."""
    _object(holder, path)
    if ("variation" in holder) == ("rollout" in holder):
        _fail(path, "must have either a variation or a rollout")
    if "variation" in holder:
        _index(holder["variation"], f"{path}.variation", count)
    else:
        check_rollout(holder["rollout"], f"{path}.rollout", count)


def check_rollout(rollout: Any, path: str, count: int) -> None:
    """A percentage rollout: each variation at most once, integer weights in thousandths of a percent
    summing to 100000. Raises InvalidRequest naming ``path``."""
    _object(rollout, path, _ROLLOUT_FIELDS)
    weighted = _list(rollout.get("variations"), f"{path}.variations")
    used: set[int] = set()
    for i, entry in enumerate(weighted):
        entry_path = f"{path}.variations[{i}]"
        _object(entry, entry_path, _WEIGHTED_FIELDS)
        _index(entry.get("variation"), f"{entry_path}.variation", count)
        if entry["variation"] in used:
            _fail(f"{entry_path}.variation", f"repeats variation {entry['variation']}")
        used.add(entry["variation"])
        _int(entry.get("weight"), f"{entry_path}.weight", 0, TOTAL_WEIGHT)
        _optional(entry.get("_untracked"), f"{entry_path}._untracked", _bool)
    total = sum(entry["weight"] for entry in weighted)
    if total != TOTAL_WEIGHT:
        _fail(f"{path}.variations", f"weights must sum to {TOTAL_WEIGHT} (100%), not {total}")
    _optional(rollout.get("bucketBy"), f"{path}.bucketBy", _text)
    _optional(rollout.get("contextKind"), f"{path}.contextKind", _text)
    _optional(rollout.get("seed"), f"{path}.seed", _int)
    _optional(rollout.get("experimentAllocation"), f"{path}.experimentAllocation", _object)


def _check_prerequisite_shapes(flag: Flag, config: dict[str, Any], where: str) -> None:
    keys: set[str] = set()
    for i, prerequisite in enumerate(_list(config.get("prerequisites"), f"{where}.prerequisites")):
        path = f"{where}.prerequisites[{i}]"
        _object(prerequisite, path, frozenset({"key", "variation"}))
        _text(prerequisite.get("key"), f"{path}.key")
        _int(prerequisite.get("variation"), f"{path}.variation", 0)
        if prerequisite["key"] == flag.key:
            _fail(f"{path}.key", "names the flag itself; a flag cannot be its own prerequisite")
        if prerequisite["key"] in keys:
            _fail(f"{path}.key", f"repeats prerequisite '{prerequisite['key']}'")
        keys.add(prerequisite["key"])


# -- references ------------------------------------------------------------------------------------


def _check_segments(config: FlagConfig, env_key: str, segment_exists: Callable[[str, str], bool]) -> None:
    for i, rule in enumerate(config["rules"]):
        for j, clause in enumerate(rule["clauses"]):
            if clause["op"] != "segmentMatch":
                continue
            for k, segment in enumerate(clause["values"]):
                if not segment_exists(env_key, segment):
                    _fail(
                        f"environments.{env_key}.rules[{i}].clauses[{j}].values[{k}]",
                        f"names segment '{segment}', which does not exist in environment '{env_key}'",
                    )


def _check_prerequisite_flags(flag: Flag, env_key: str, get_flag: Callable[[str], Flag | None]) -> None:
    for i, prerequisite in enumerate(flag.environments[env_key]["prerequisites"]):
        path = f"environments.{env_key}.prerequisites[{i}]"
        other = get_flag(prerequisite["key"])
        if other is None:
            _fail(f"{path}.key", f"names flag '{prerequisite['key']}', which does not exist in this project")
        if prerequisite["variation"] >= len(other.variations):
            _fail(
                f"{path}.variation",
                f"must be the index of one of flag '{other.key}''s {len(other.variations)} variations",
            )
    cycle = find_prerequisite_cycle(flag, env_key, get_flag)
    if cycle:
        _fail(f"environments.{env_key}.prerequisites", f"form a cycle: {' → '.join(cycle)}")
