"""Flags back from LaunchDarkly documents: the inverse of ``representations.flag_document`` for a
document that came out of a JSON patch or a merge patch, and the paths a JSON patch may touch.

Read-only values (the key, versions, dates, ``sel``, the set of environments) must come back unchanged;
everything else is parsed strictly, then checked by ``check_flag_shape``.
"""

from __future__ import annotations

import copy
from typing import Any, NoReturn, cast

from flagward.domain.changes import same_json
from flagward.domain.errors import InvalidRequest
from flagward.domain.flag_validation import check_flag_shape
from flagward.domain.flags import Defaults, Flag, FlagConfig, Variation
from flagward.domain.ids import new_uuid
from flagward.domain.instructions.targets import normalize_targets
from flagward.domain.projects import ClientSideAvailability
from flagward.domain.representations import flag_document

# Top-level fields that are read-only, or derived from others (the dates, the constant experiment stubs).
_READ_ONLY = ("key", "_version", "creationDate", "kind", "archivedDate", "deprecatedDate", "experiments", "goalIds")
_OPTIONAL = ("maintainerId", "maintainerTeamKey", "archivedDate", "deprecatedDate")
# Environment configuration fields a request cannot set (``archived`` follows the flag's archive state).
_CONFIG_READ_ONLY = ("version", "lastModified", "sel", "archived", "_debugEventsUntilDate")
_CONFIG_LISTS = ("targets", "contextTargets", "rules", "prerequisites")
# JSON patch: segments refused at the top level, and directly under /environments/{key}.
_PATCH_TOP = frozenset({"key", "_version", "creationDate", "kind", "version", "lastModified", "sel"})
_PATCH_CONFIG = frozenset({"version", "lastModified", "sel"})
_MISSING = object()


def _fail(path: str, message: str) -> NoReturn:
    raise InvalidRequest(f"{path} {message}")


def check_patch_paths(ops: list[dict[str, Any]]) -> None:
    """Refuse a JSON patch operation (other than ``test``, which may read anything) whose ``path`` or
    ``from`` touches a read-only field: an underscore-prefixed one (``_id``, ``_version``…), the flag's
    ``key``, ``kind`` or ``creationDate``, or a configuration's ``version``, ``lastModified`` or ``sel``.
    Free-form JSON (variation values, clause values, custom properties, migration settings) may hold any
    key. Raises InvalidRequest naming the operation."""
    for i, op in enumerate(ops):
        if op.get("op") == "test":
            continue
        for field in ("path", "from"):
            if field in op:
                _check_path(i, field, op[field])


def _check_path(i: int, field: str, path: Any) -> None:
    parts = _pointer_parts(i, field, path)
    structural = _structural(parts)
    in_config = len(parts) > 2 and parts[0] == "environments"
    for depth, part in enumerate(structural):
        if (
            part.startswith("_")
            or (depth == 0 and part in _PATCH_TOP)
            or (depth == 2 and in_config and part in _PATCH_CONFIG)
        ):
            raise InvalidRequest(f"patch[{i}].{field}: '{path}' is read-only and cannot be patched")


def _pointer_parts(i: int, field: str, path: Any) -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise InvalidRequest(f"patch[{i}].{field} must be a JSON pointer such as /environments/production/on")
    return [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]]


def _structural(parts: list[str]) -> list[str]:
    """The leading segments that name fields of the flag model, before free-form JSON starts."""
    n = len(parts)
    if parts[:1] == ["customProperties"]:
        return parts[:1]
    if parts[:1] == ["variations"] and n > 2 and parts[2] == "value":
        return parts[:3]
    if parts[:1] != ["environments"] or n < 3:
        return parts[:1] if parts[:1] == ["environments"] else parts
    # parts[1] is an environment key: data, not a field name.
    if parts[2] == "migrationSettings":
        return ["environments", "", parts[2]]
    if parts[2] in ("targets", "contextTargets") and n > 4 and parts[4] == "values":
        return ["environments", "", *parts[2:5]]
    if parts[2] == "rules" and n > 6 and parts[4] == "clauses" and parts[6] == "values":
        return ["environments", "", *parts[2:7]]
    return ["environments", "", *parts[2:]]


def flag_from_document(doc: dict[str, Any], original: Flag, *, now: int | None = None) -> Flag:
    """A new Flag from ``doc`` (a patched ``flag_document(original)``), keeping ``original``'s identity.

    Rules, clauses and variations without ``_id`` get new UUIDs; targets are put in canonical form
    (``targets.normalize_targets``). Archiving or deprecating stamps the date with ``now`` (None leaves
    it unset). Raises InvalidRequest naming the field: read-only values changed, an environment added
    or removed, an unknown field, or a value of the wrong shape (``check_flag_shape``).
    """
    if not isinstance(doc, dict):
        _fail("the document", "must be an object")
    base = flag_document(original)
    _check_fields(doc, base)
    flag = Flag(
        id=original.id,
        project_key=original.project_key,
        key=original.key,
        name=_field(doc, "name"),
        kind=original.kind,
        variations=_variations(doc.get("variations")),
        creation_date=original.creation_date,
        defaults=_defaults(doc.get("defaults")),
        description=doc.get("description") or "",
        temporary=_field(doc, "temporary"),
        tags=copy.deepcopy(_field(doc, "tags")),
        maintainer_id=doc.get("maintainerId"),
        maintainer_team_key=doc.get("maintainerTeamKey"),
        client_side_availability=_availability(doc, base),
        custom_properties=copy.deepcopy(_field(doc, "customProperties")),
        version=original.version,
        environments=_environments(doc.get("environments"), original),
    )
    _lifecycle(flag, doc, original, now)
    check_flag_shape(flag)
    return flag


def _field(doc: dict[str, Any], name: str) -> Any:
    """``doc[name]`` or None, unchecked: ``check_flag_shape`` checks the built flag."""
    return doc.get(name)


def _check_fields(doc: dict[str, Any], base: dict[str, Any]) -> None:
    for name in _READ_ONLY:
        if not same_json(doc.get(name, _MISSING), base.get(name, _MISSING)):
            _fail(name, "is read-only")
    unknown = sorted(set(doc) - set(base) - set(_OPTIONAL))
    if unknown:
        _fail(unknown[0], "is not a field of a flag")


def _lifecycle(flag: Flag, doc: dict[str, Any], original: Flag, now: int | None) -> None:
    """``archived``/``deprecated`` from the document; their dates follow them."""
    for name in ("archived", "deprecated"):
        value = doc.get(name)
        if not isinstance(value, bool):
            _fail(name, "must be a boolean")
        changed = value != getattr(original, name)
        date = (now if value else None) if changed else getattr(original, f"{name}_date")
        setattr(flag, name, value)
        setattr(flag, f"{name}_date", date)
    for config in flag.environments.values():
        config["archived"] = flag.archived  # each configuration shows the flag's archive state


def _availability(doc: dict[str, Any], base: dict[str, Any]) -> ClientSideAvailability:
    """``clientSideAvailability``, or the deprecated ``includeInSnippet`` when only that changed."""
    raw = doc.get("clientSideAvailability")
    if not isinstance(raw, dict) or set(raw) - {"usingMobileKey", "usingEnvironmentId"}:
        _fail("clientSideAvailability", "must be an object {usingMobileKey, usingEnvironmentId}")
    using_environment_id = _field(raw, "usingEnvironmentId")
    include = doc.get("includeInSnippet", base["includeInSnippet"])
    if not isinstance(include, bool):
        _fail("includeInSnippet", "must be a boolean")
    if include != base["includeInSnippet"] and same_json(
        using_environment_id, base["clientSideAvailability"]["usingEnvironmentId"]
    ):
        using_environment_id = include
    return ClientSideAvailability(
        using_mobile_key=_field(raw, "usingMobileKey"),
        using_environment_id=using_environment_id,
    )


def _defaults(raw: Any) -> Defaults:
    if not isinstance(raw, dict) or set(raw) != {"onVariation", "offVariation"}:
        _fail("defaults", "must be an object {onVariation, offVariation}")
    return Defaults(on_variation=raw["onVariation"], off_variation=raw["offVariation"])


def _variations(raw: Any) -> list[Variation]:
    if not isinstance(raw, list):
        _fail("variations", "must be a list")
    result: list[Variation] = []
    for i, variation in enumerate(raw):
        if not isinstance(variation, dict):
            _fail(f"variations[{i}]", "must be an object")
        result.append(cast(Variation, {**copy.deepcopy(variation), "_id": variation.get("_id") or new_uuid()}))
    return result


def _environments(raw: Any, original: Flag) -> dict[str, FlagConfig]:
    if not isinstance(raw, dict):
        _fail("environments", "must be an object")
    for key in original.environments:
        if key not in raw:
            _fail(f"environments.{key}", "cannot be removed: a flag has a configuration in every environment")
    for key in raw:
        if key not in original.environments:
            _fail(f"environments.{key}", "does not exist: environments are created in the project")
    return {key: _config(raw[key], original.environments[key], f"environments.{key}") for key in original.environments}


def _config(raw: Any, original: FlagConfig, where: str) -> FlagConfig:
    if not isinstance(raw, dict):
        _fail(where, "must be an object")
    for name in _CONFIG_READ_ONLY:
        if not same_json(raw.get(name, _MISSING), original.get(name, _MISSING)):
            _fail(f"{where}.{name}", "is read-only")
    config: dict[str, Any] = copy.deepcopy(raw)
    for name in _CONFIG_LISTS:
        if config.get(name) is None:
            config[name] = []
    config.setdefault("offVariation", None)
    if isinstance(config["rules"], list):
        config["rules"] = [_with_ids(rule) for rule in config["rules"]]
    if isinstance(config["targets"], list) and isinstance(config["contextTargets"], list):
        normalize_targets(cast(FlagConfig, config))
    return cast(FlagConfig, config)


def _with_ids(rule: Any) -> Any:
    """A rule (and its clauses) with ``_id``s where the document has none, and the defaults LaunchDarkly
    applies to omitted ``trackEvents`` and ``negate``."""
    if not isinstance(rule, dict):
        return rule
    rule = {**rule, "_id": rule.get("_id") or new_uuid()}
    rule.setdefault("trackEvents", False)
    if isinstance(rule.get("clauses"), list):
        rule["clauses"] = [
            {**c, "_id": c.get("_id") or new_uuid(), "negate": c.get("negate", False)} if isinstance(c, dict) else c
            for c in rule["clauses"]
        ]
    return rule
