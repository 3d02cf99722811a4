"""LaunchDarkly's policy language: statements that allow or deny actions on resources, named with
resource specifiers. Webhooks filter audit entries with it today; custom roles will decide access with it.

A **resource specifier** is a path of segments joined by ``:``, each ``type/name`` (or a bare ``type``,
as ``acct``), optionally followed by ``;tag1,tag2``: ``proj/*:env/production:flag/*;mobile``.

- ``*`` in a type, a name or a tag matches any run of characters (no other glob characters exist);
- a pattern names resources of exactly its depth: ``proj/*`` matches projects, not their flags;
- tags on a pattern segment require the resource segment to carry every one of them (LaunchDarkly:
  ``flag/*;tag1,tag2`` means tagged tag1 *and* tag2; two statements make an "or"). Tags are compared
  without regard to case. Tags on a *resource* specifier are the tags that resource carries.

A **statement** has an ``effect`` (allow or deny), either ``resources`` or ``notResources``, and either
``actions`` or ``notActions`` (action patterns, with ``*`` globs: ``update*``). A policy allows an action
on a resource when some allow statement covers it and no deny statement does: deny wins, and nothing
is allowed by default.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

from flagward.domain.errors import InvalidRequest

_TYPE = re.compile(r"^[A-Za-z*][A-Za-z0-9_*-]*$")
_MAX_SPEC = 1024


class Effect(StrEnum):
    ALLOW = "allow"
    DENY = "deny"


@dataclass(frozen=True)
class Segment:
    """One ``type/name;tags`` part of a specifier (a pattern's parts may hold ``*`` globs)."""

    type: str
    name: str | None = None  # None: a bare type (``acct``)
    tags: frozenset[str] = frozenset()  # lower-cased


@dataclass(frozen=True)
class ResourceSpec:
    segments: tuple[Segment, ...]

    def __str__(self) -> str:
        return ":".join(_render(s) for s in self.segments)


def _render(segment: Segment) -> str:
    text = segment.type if segment.name is None else f"{segment.type}/{segment.name}"
    return text + (";" + ",".join(sorted(segment.tags)) if segment.tags else "")


@lru_cache(maxsize=4096)
def parse_spec(text: str) -> ResourceSpec:
    """Parse a resource specifier; raises InvalidRequest naming what is wrong."""
    if not isinstance(text, str) or not text or len(text) > _MAX_SPEC:
        raise InvalidRequest(f"'{text}' is not a resource specifier")
    segments = []
    for part in text.split(":"):
        body, semicolon, tag_text = part.partition(";")
        kind, slash, name = body.partition("/")
        if not _TYPE.match(kind) or (slash and not name):
            raise InvalidRequest(f"'{text}' is not a resource specifier: '{part}' should look like type/name")
        tags = [t.strip().lower() for t in tag_text.split(",")] if semicolon else []
        if any(not t for t in tags):
            raise InvalidRequest(f"'{text}' is not a resource specifier: empty tag in '{part}'")
        segments.append(Segment(type=kind, name=name if slash else None, tags=frozenset(tags)))
    return ResourceSpec(tuple(segments))


@lru_cache(maxsize=4096)
def _glob(pattern: str) -> re.Pattern[str]:
    """``*`` matches any run of characters; everything else is literal."""
    return re.compile("^" + ".*".join(re.escape(p) for p in pattern.split("*")) + "$", re.DOTALL)


def glob_matches(pattern: str, value: str) -> bool:
    return pattern == value or ("*" in pattern and _glob(pattern).match(value) is not None)


def _segment_matches(pattern: Segment, resource: Segment) -> bool:
    if not glob_matches(pattern.type, resource.type):
        return False
    if (pattern.name is None) != (resource.name is None):
        return False
    if pattern.name is not None and resource.name is not None and not glob_matches(pattern.name, resource.name):
        return False
    return all(any(glob_matches(tag, have) for have in resource.tags) for tag in pattern.tags)


def spec_matches(pattern: str | ResourceSpec, resource: str | ResourceSpec) -> bool:
    """Whether the pattern names the resource (both specifiers; the resource's tags are those it carries)."""
    p = parse_spec(pattern) if isinstance(pattern, str) else pattern
    r = parse_spec(resource) if isinstance(resource, str) else resource
    if len(p.segments) != len(r.segments):
        return False
    return all(_segment_matches(ps, rs) for ps, rs in zip(p.segments, r.segments, strict=True))


@dataclass(frozen=True)
class Statement:
    effect: Effect
    resources: tuple[str, ...] = ()
    not_resources: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()

    def covers(self, action: str, resource: str | ResourceSpec) -> bool:
        """Whether this statement speaks about ``action`` on ``resource`` (whatever its effect)."""
        if self.resources:
            on_resource = any(spec_matches(p, resource) for p in self.resources)
        else:
            on_resource = not any(spec_matches(p, resource) for p in self.not_resources)
        if not on_resource:
            return False
        if self.actions:
            return any(glob_matches(p, action) for p in self.actions)
        return not any(glob_matches(p, action) for p in self.not_actions)

    def document(self) -> dict[str, Any]:
        """LaunchDarkly's representation (``Statement``): only the lists in use."""
        doc: dict[str, Any] = {"effect": self.effect.value}
        for name, values in (
            ("resources", self.resources),
            ("notResources", self.not_resources),
            ("actions", self.actions),
            ("notActions", self.not_actions),
        ):
            if values:
                doc[name] = list(values)
        return doc


def allows(statements: Sequence[Statement], action: str, resource: str | ResourceSpec) -> bool:
    """Whether the policy allows ``action`` on ``resource``: an allow covers it and no deny does."""
    allowed = False
    for statement in statements:
        if statement.covers(action, resource):
            if statement.effect is Effect.DENY:
                return False
            allowed = True
    return allowed


def allows_any(statements: Sequence[Statement], accesses: Iterable[tuple[str, str | ResourceSpec]]) -> bool:
    """Whether the policy allows at least one of the ``(action, resource)`` pairs."""
    return any(allows(statements, action, resource) for action, resource in accesses)


def parse_statements(raw: object, *, field: str = "statements") -> tuple[Statement, ...]:
    """Statements from their JSON form (``StatementPost``); raises InvalidRequest naming the bad one."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise InvalidRequest(f"{field} must be a list of statements")
    return tuple(_parse_statement(item, f"{field}[{i}]") for i, item in enumerate(raw))


def _string_list(value: object, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InvalidRequest(f"{where} must be a list of non-empty strings")
    return tuple(value)


def _parse_statement(item: object, where: str) -> Statement:
    if not isinstance(item, dict):
        raise InvalidRequest(f"{where} must be an object")
    effect = item.get("effect")
    if effect not in (Effect.ALLOW.value, Effect.DENY.value):
        raise InvalidRequest(f"{where}.effect must be 'allow' or 'deny'")
    resources = _string_list(item.get("resources"), f"{where}.resources")
    not_resources = _string_list(item.get("notResources"), f"{where}.notResources")
    actions = _string_list(item.get("actions"), f"{where}.actions")
    not_actions = _string_list(item.get("notActions"), f"{where}.notActions")
    if bool(resources) == bool(not_resources):
        raise InvalidRequest(f"{where} must have either resources or notResources (not both)")
    if bool(actions) == bool(not_actions):
        raise InvalidRequest(f"{where} must have either actions or notActions (not both)")
    for spec in resources + not_resources:
        parse_spec(spec)
    return Statement(Effect(effect), resources, not_resources, actions, not_actions)
