"""LaunchDarkly's REST representations (what its REST API returns, and what a script using the official
``launchdarkly-api`` client saves) -> flagward's projects, environments, flags and segments. Pure.

A directory holds (the layout ``flagward export --format rest`` writes)::

    projects/PROJECT.json                 GET /api/v2/projects/{p}?expand=environments
    flags/PROJECT/FLAG.json               GET /api/v2/flags/{p}/{f} (every environment's configuration)
    segments/PROJECT/ENV/SEGMENT.json     GET /api/v2/segments/{p}/{e}/{s}

Names, descriptions, tags, maintainers (by e-mail, ``_maintainer``) and environments' approval settings
come along. Ids, salts, rule and clause ids, versions and variation ids are kept. A segment's salt is not
in LaunchDarkly's REST representation (flagward's export adds it); without it a segment gets a new one,
which moves the buckets of its weighted rules (the plan says so: import the environment's SDK payload to
keep them).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, cast

from flagward.domain.errors import InvalidRequest
from flagward.domain.flag_validation import check_flag_shape
from flagward.domain.flags import Defaults, Flag, FlagConfig, Variation
from flagward.domain.ids import new_object_id, new_salt, new_uuid
from flagward.domain.import_items import ItemRefused
from flagward.domain.import_sdk import buckets_by_salt, check_key
from flagward.domain.instructions.targets import normalize_targets
from flagward.domain.projects import ClientSideAvailability
from flagward.domain.segment_documents import parse_new_segment_rules
from flagward.domain.segment_validation import check_context_targets
from flagward.domain.segments import Segment

# Read-only or presentation fields of LaunchDarkly's FeatureFlagConfig that flagward does not store.
_CONFIG_DROPPED = frozenset({"_site", "_access", "_environmentName", "_summary", "evaluation", "ttl"})


@dataclass
class RestFlag:
    flag: Flag  # with the configurations of the environments the document has
    maintainer_email: str | None


@dataclass
class RestSegment:
    segment: Segment
    salt_given: bool


def flag_from_rest(doc: Any, *, key: str, project_key: str, where: str, now: int) -> RestFlag:
    """A Flag from LaunchDarkly's ``FeatureFlag`` document. Raises InvalidRequest naming the path
    (``where`` is the file; flagward's paths follow it after ``:``)."""
    check_key(key, where)
    if not isinstance(doc, dict):
        raise ItemRefused(where, "must be an object")
    if doc.get("key", key) != key:
        raise ItemRefused(f"{where}:key", f"is '{doc.get('key')}' but the file is named '{key}'")
    raw_variations = doc.get("variations")
    if not isinstance(raw_variations, list):
        raise ItemRefused(f"{where}:variations", "must be a list")
    variations = [_variation(v) for v in raw_variations]
    environments = doc.get("environments") or {}
    if not isinstance(environments, dict):
        raise ItemRefused(f"{where}:environments", "must be an object keyed by environment key")
    flag = Flag(
        id=new_object_id(),
        project_key=project_key,
        key=key,
        name=doc.get("name") or key,
        kind=doc.get("kind") or "multivariate",
        variations=cast(list[Variation], variations),
        creation_date=_date(doc.get("creationDate"), now),
        defaults=_defaults(doc.get("defaults"), len(variations)),
        description=doc.get("description") or "",
        temporary=doc.get("temporary", False),
        tags=copy.deepcopy(doc.get("tags", [])),
        maintainer_team_key=doc.get("maintainerTeamKey"),
        client_side_availability=_availability(doc),
        archived=doc.get("archived", False),
        archived_date=doc.get("archivedDate"),
        deprecated=doc.get("deprecated", False),
        deprecated_date=doc.get("deprecatedDate"),
        custom_properties=copy.deepcopy(doc.get("customProperties") or {}),
        environments={k: _config(v, f"{where}:environments.{k}", now) for k, v in environments.items()},
    )
    for config in flag.environments.values():
        config["archived"] = flag.archived
    check_flag_shape(flag)
    maintainer = doc.get("_maintainer")
    email = maintainer.get("email") if isinstance(maintainer, dict) else None
    return RestFlag(flag, email if isinstance(email, str) else None)


def _date(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _variation(raw: Any) -> Any:
    if not isinstance(raw, dict):
        return raw
    return {**{k: v for k, v in raw.items() if v is not None}, "_id": raw.get("_id") or new_uuid()}


def _defaults(raw: Any, count: int) -> Defaults:
    if isinstance(raw, dict) and isinstance(raw.get("onVariation"), int) and isinstance(raw.get("offVariation"), int):
        return Defaults(on_variation=raw["onVariation"], off_variation=raw["offVariation"])
    return Defaults(on_variation=0, off_variation=max(count - 1, 0))


def _availability(doc: dict[str, Any]) -> ClientSideAvailability:
    csa = doc.get("clientSideAvailability")
    if isinstance(csa, dict):
        return ClientSideAvailability(
            using_mobile_key=csa.get("usingMobileKey", False), using_environment_id=csa.get("usingEnvironmentId", False)
        )
    return ClientSideAvailability(using_mobile_key=False, using_environment_id=doc.get("includeInSnippet", False))


def _config(raw: Any, where: str, now: int) -> FlagConfig:
    if not isinstance(raw, dict):
        raise ItemRefused(where, "must be an object")
    config: dict[str, Any] = {k: copy.deepcopy(v) for k, v in raw.items() if k not in _CONFIG_DROPPED}
    for name in ("targets", "contextTargets", "rules", "prerequisites"):
        if config.get(name) is None:
            config[name] = []
    defaults = {"on": False, "archived": False, "trackEvents": False, "trackEventsFallthrough": False, "version": 1}
    for name, value in defaults.items():
        config.setdefault(name, value)
    config.setdefault("offVariation", None)
    config.setdefault("fallthrough", {})
    config["sel"] = config.get("sel") or new_salt()
    config["lastModified"] = config.get("lastModified") or now
    if isinstance(config["rules"], list):
        config["rules"] = [_rule(r) for r in config["rules"]]
    if not config.get("salt"):
        if buckets_by_salt(config):
            raise ItemRefused(f"{where}.salt", "is missing or empty, and a rollout buckets by it without a seed")
        config["salt"] = new_salt()
    if isinstance(config["targets"], list) and isinstance(config["contextTargets"], list):
        normalize_targets(cast(FlagConfig, config))
    return cast(FlagConfig, config)


def _rule(raw: Any) -> Any:
    if not isinstance(raw, dict):
        return raw
    rule = {k: v for k, v in raw.items() if v is not None}
    rule["_id"] = raw.get("_id") or new_uuid()
    rule.setdefault("trackEvents", False)
    if isinstance(rule.get("clauses"), list):
        rule["clauses"] = [
            {**c, "_id": c.get("_id") or new_uuid(), "negate": c.get("negate", False)} if isinstance(c, dict) else c
            for c in rule["clauses"]
        ]
    return rule


def segment_from_rest(doc: Any, *, key: str, project_key: str, env_key: str, where: str, now: int) -> RestSegment:
    """A Segment from LaunchDarkly's ``UserSegment`` document (``salt`` is flagward's, optional).
    Raises InvalidRequest naming the path; references are checked when it is stored."""
    check_key(key, where)
    if not isinstance(doc, dict):
        raise ItemRefused(where, "must be an object")
    if doc.get("key", key) != key:
        raise ItemRefused(f"{where}:key", f"is '{doc.get('key')}' but the file is named '{key}'")
    for name in ("tags", "included", "excluded"):
        if not isinstance(doc.get(name) or [], list):
            raise ItemRefused(f"{where}:{name}", "must be a list of non-empty strings")
    if doc.get("unbounded"):
        raise ItemRefused(f"{where}:unbounded", "big (unbounded) segments are not supported by flagward")
    try:
        rules = parse_new_segment_rules(doc.get("rules") or [], keep_ids=True)
        for name in ("includedContexts", "excludedContexts"):
            check_context_targets(doc.get(name) or [], name)
    except InvalidRequest as error:
        head, _, reason = error.message.partition(" ")
        raise ItemRefused(f"{where}:{head.rstrip(':')}", reason) from None
    salt = doc.get("salt")
    version = doc.get("version")
    segment = Segment(
        id=new_object_id(),
        project_key=project_key,
        environment_key=env_key,
        key=key,
        name=doc.get("name") or key,
        creation_date=_date(doc.get("creationDate"), now),
        last_modified=now,
        salt=salt if isinstance(salt, str) and salt else new_salt(),
        description=doc.get("description") or "",
        tags=list(doc.get("tags") or []),
        included=list(dict.fromkeys(doc.get("included") or [])),
        excluded=list(dict.fromkeys(doc.get("excluded") or [])),
        included_contexts=[t for t in copy.deepcopy(doc.get("includedContexts") or []) if t.get("values")],
        excluded_contexts=[t for t in copy.deepcopy(doc.get("excludedContexts") or []) if t.get("values")],
        rules=rules,
        generation=doc.get("generation") or 1,
        version=version if isinstance(version, int) and not isinstance(version, bool) and version > 0 else 1,
    )
    return RestSegment(segment, salt_given=isinstance(salt, str) and bool(salt))
