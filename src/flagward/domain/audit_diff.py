"""What an audit entry changed, readable: a flag's targeting part by part per environment (``diff``'s
wording), and every other field as a short path with its value before and after (compact JSON).

Bookkeeping that changes with every write (versions, modification dates, links, salts) is left out, so
an entry shows what a person changed. Pure, and lenient: entries written by older versions, or of any
resource kind, never raise.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flagward.domain.diff import PartDiff, diff_configs
from flagward.domain.flags import Defaults, Flag

NOISE = frozenset(
    {"_links", "_version", "version", "lastModified", "_lastModified", "sel", "salt", "_site", "_summary"}
)
CONFIG_PARTS = frozenset(
    {"on", "targets", "contextTargets", "rules", "fallthrough", "offVariation", "prerequisites", "_environmentName"}
)
MAX_VALUE = 160


@dataclass(frozen=True)
class FieldChange:
    path: str  # "approvalSettings.minNumApprovals"
    before: str | None  # compact JSON; None: absent
    after: str | None


@dataclass(frozen=True)
class TargetingChange:
    environment_key: str
    environment_name: str
    parts: list[PartDiff]  # the parts that differ


@dataclass(frozen=True)
class EntryDiff:
    targeting: list[TargetingChange] = field(default_factory=list)
    fields: list[FieldChange] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.targeting and not self.fields


def diff_entry(kind: str, previous: object, current: object) -> EntryDiff:
    """``previous`` and ``current`` (an entry's representations, either may be None) compared."""
    before = previous if isinstance(previous, Mapping) else {}
    after = current if isinstance(current, Mapping) else {}
    if kind == "flag" and (before or after):
        return EntryDiff(targeting=_targeting(before, after), fields=_fields(before, after, flag=True))
    return EntryDiff(fields=_fields(before, after, flag=False))


def _display_flag(doc: Mapping[str, Any]) -> Flag:
    """Enough of a flag for ``diff``'s wording (its variations and configurations), from a document."""
    variations = doc.get("variations")
    environments = doc.get("environments")
    return Flag(
        id=str(doc.get("_id", "")),
        project_key="",
        key=str(doc.get("key", "")),
        name=str(doc.get("name", "")),
        kind=str(doc.get("kind", "")),
        variations=list(variations) if isinstance(variations, list) else [],
        creation_date=0,
        defaults=Defaults(0, 0),
        environments=dict(environments) if isinstance(environments, Mapping) else {},
    )


def _targeting(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[TargetingChange]:
    old, new = _display_flag(before), _display_flag(after)
    changes = []
    for env in sorted(set(old.environments) | set(new.environments)):
        if env not in old.environments or env not in new.environments:
            continue  # a flag created or deleted: its fields say so, the parts would all read "not configured"
        parts = [p for p in diff_configs(old, new, before_environment=env) if p.differs]
        if parts:
            config: Any = new.environments[env]
            name = config.get("_environmentName") if isinstance(config, Mapping) else None
            changes.append(TargetingChange(env, str(name or env), parts))
    return changes


def _fields(before: Mapping[str, Any], after: Mapping[str, Any], *, flag: bool) -> list[FieldChange]:
    old, new = _flatten(before, "", flag=flag), _flatten(after, "", flag=flag)
    changes = []
    for path in sorted(set(old) | set(new), key=lambda p: (p.count("."), p)):
        was, now = old.get(path), new.get(path)
        if was != now:
            changes.append(FieldChange(path, _compact(was), _compact(now)))
    return changes


def _flatten(value: Mapping[str, Any], prefix: str, *, flag: bool) -> dict[str, str]:
    """Leaf paths to canonical JSON; lists are leaves. A flag's configurations keep their non-targeting
    fields only (the targeting is compared part by part)."""
    flat: dict[str, str] = {}
    for key, item in value.items():
        if key in NOISE:
            continue
        path = f"{prefix}{key}"
        in_config = flag and prefix.startswith("environments.") and prefix.count(".") == 2
        if in_config and key in CONFIG_PARTS:
            continue
        if isinstance(item, Mapping) and item:
            flat.update(_flatten(item, f"{path}.", flag=flag))
        else:
            flat[path] = json.dumps(item, sort_keys=True, separators=(", ", ": "), ensure_ascii=False, default=str)
    return flat


def _compact(text: str | None) -> str | None:
    if text is None or len(text) <= MAX_VALUE:
        return text
    return text[: MAX_VALUE - 1] + "…"
