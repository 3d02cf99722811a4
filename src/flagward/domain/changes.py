"""What a flag change did, in LaunchDarkly's action names, found by diffing the flag before and after.

Semantic patch, JSON patch, merge patch and copy all report their actions through ``describe_changes``,
so the approval gate, the audit log and the version stamps see the same names whatever the route.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flagward.domain.audit import AuditAction
from flagward.domain.flags import Flag

# Environment configuration fields, in FlagConfig order, and the action that changing each one is.
# ``archived``, ``sel``, ``lastModified`` and ``version`` are not changes a request can make.
_ENVIRONMENT_FIELDS: tuple[tuple[str, AuditAction], ...] = (
    ("on", AuditAction.UPDATE_ON),
    ("salt", AuditAction.UPDATE_FLAG_SALT),
    ("targets", AuditAction.UPDATE_TARGETS),
    ("contextTargets", AuditAction.UPDATE_TARGETS),
    ("rules", AuditAction.UPDATE_RULES),
    ("fallthrough", AuditAction.UPDATE_FALLTHROUGH),
    ("offVariation", AuditAction.UPDATE_OFF_VARIATION),
    ("prerequisites", AuditAction.UPDATE_PREREQUISITES),
    ("trackEvents", AuditAction.UPDATE_TRACK_EVENTS),
    ("trackEventsFallthrough", AuditAction.UPDATE_FALLTHROUGH_TRACK_EVENTS),
    ("_debugEventsUntilDate", AuditAction.UPDATE_DEBUG_EVENTS),
    ("migrationSettings", AuditAction.UPDATE_MIGRATION_SETTINGS),
)

# Project-level fields, in Flag field order. ``id``, ``key``, ``kind``, ``creation_date`` and
# ``version`` never change through a request.
_FLAG_FIELDS: tuple[tuple[Callable[[Flag], Any], AuditAction], ...] = (
    (lambda f: f.name, AuditAction.UPDATE_NAME),
    (lambda f: f.variations, AuditAction.UPDATE_VARIATIONS),
    (lambda f: (f.defaults.on_variation, f.defaults.off_variation), AuditAction.UPDATE_DEFAULT_VARIATIONS),
    (lambda f: f.description, AuditAction.UPDATE_DESCRIPTION),
    (lambda f: f.temporary, AuditAction.UPDATE_TEMPORARY),
    (lambda f: f.tags, AuditAction.UPDATE_TAGS),
    (lambda f: (f.maintainer_id, f.maintainer_team_key), AuditAction.UPDATE_MAINTAINER),
    (
        lambda f: (f.client_side_availability.using_mobile_key, f.client_side_availability.using_environment_id),
        AuditAction.UPDATE_CLIENT_SIDE_AVAILABILITY,
    ),
    (lambda f: (f.archived, f.archived_date), AuditAction.ARCHIVE_FLAG),
    (lambda f: (f.deprecated, f.deprecated_date), AuditAction.DEPRECATE_FLAG),
    (lambda f: f.custom_properties, AuditAction.UPDATE_CUSTOM_PROPERTIES),
)

_MISSING = object()


@dataclass
class FlagChange:
    """The result of a change: the new flag (a new object) and what changed, as action names.

    ``environment_actions`` has an entry only for environments whose configuration changed;
    ``flag_actions`` lists project-level actions. Versions are not bumped here: the service stamps them.
    """

    flag: Flag
    environment_actions: dict[str, list[str]] = field(default_factory=dict)
    flag_actions: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.environment_actions or self.flag_actions)


def describe_changes(before: Flag, after: Flag) -> FlagChange:
    """``after`` with the actions that turn ``before`` into it, in a deterministic order (fields in
    FlagConfig / Flag order, environments in ``after``'s order). Neither flag is modified."""
    environment_actions: dict[str, list[str]] = {}
    for key, config in after.environments.items():
        actions = _environment_actions(before.environments.get(key, {}), config)
        if actions:
            environment_actions[key] = actions
    flag_actions = [action.value for get, action in _FLAG_FIELDS if not same_json(get(before), get(after))]
    return FlagChange(flag=after, environment_actions=environment_actions, flag_actions=flag_actions)


def _environment_actions(before: Any, after: Any) -> list[str]:
    changed = (
        action.value
        for name, action in _ENVIRONMENT_FIELDS
        if not same_json(before.get(name, _MISSING), after.get(name, _MISSING))
    )
    return list(dict.fromkeys(changed))


def same_json(a: Any, b: Any) -> bool:
    """Equality as JSON sees it: ``true`` is not ``1``, ``1`` is ``1.0``, tuples compare like lists."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) or isinstance(b, dict):
        return (
            isinstance(a, dict)
            and isinstance(b, dict)
            and a.keys() == b.keys()
            and all(same_json(a[k], b[k]) for k in a)
        )
    if isinstance(a, list | tuple) or isinstance(b, list | tuple):
        return (
            isinstance(a, list | tuple)
            and isinstance(b, list | tuple)
            and len(a) == len(b)
            and all(same_json(x, y) for x, y in zip(a, b, strict=True))
        )
    return bool(a == b)
