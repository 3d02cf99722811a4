"""An actor's effective access: the policies in force for a request, evaluated in LaunchDarkly's way.

- A **policy** is one role's statements (``domain.policy``): within it, a deny covering the request wins
  over any allow, and nothing is allowed by default.
- An actor holds several policies (its base role, its custom roles, its teams' roles): the request is
  allowed when **any** of them allows it (LaunchDarkly: "across multiple roles any allow wins").
- A token carries a **ceiling**, the access of the member who made it: allowed only when both allow,
  so a token never has more than its member.

Evaluation is cheap because each policy is compiled once (cached by content) into an index from action
name to the statements that speak about it, and each ``Access`` remembers its decisions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from flagward.domain.policy import Effect, Statement, glob_matches, parse_spec, spec_matches

Policy = tuple[Statement, ...]
# Per tagged segment: (its index, the exact tags it must carry, the tag globs it must carry).
_TagRule = tuple[tuple[int, frozenset[str], tuple[str, ...]], ...]


@lru_cache(maxsize=16384)
def _resource_key(resource: str) -> tuple[str, tuple[frozenset[str], ...], frozenset[str]]:
    """A resource specifier as its path without tags (what pattern regexes match), each segment's tags,
    and all its tags."""
    spec = parse_spec(resource)
    path = ":".join(s.type if s.name is None else f"{s.type}/{s.name}" for s in spec.segments)
    tags = tuple(s.tags for s in spec.segments)
    return path, tags, frozenset().union(*tags)


def _glob_regex(text: str, star: str) -> str:
    return star.join(re.escape(part) for part in text.split("*"))


@lru_cache(maxsize=16384)
def _pattern(text: str) -> tuple[str, _TagRule]:
    """A resource pattern as a regex over resource paths (``spec_matches`` without tags: same depth, each
    type and name globbed; names and types never hold ``:``) and the tags it requires per segment."""
    spec = parse_spec(text)
    parts = []
    for segment in spec.segments:
        kind = _glob_regex(segment.type, "[^:/]*")
        parts.append(kind if segment.name is None else f"{kind}/{_glob_regex(segment.name, '[^:]*')}")
    rule = tuple(
        (i, frozenset(t for t in s.tags if "*" not in t), tuple(t for t in s.tags if "*" in t))
        for i, s in enumerate(spec.segments)
        if s.tags
    )
    return ":".join(parts), rule


def _carries(tags: tuple[frozenset[str], ...], rule: _TagRule) -> bool:
    for index, exact, globs in rule:
        if index >= len(tags):
            return False  # another depth: the path regex refuses it too
        have = tags[index]
        if not exact <= have or not all(any(glob_matches(g, h) for h in have) for g in globs):
            return False
    return True


_Tagged = tuple[re.Pattern[str], _TagRule]


@dataclass(frozen=True)
class _Matcher:
    """Whether any of a set of statements covers a resource: their untagged patterns as one regex, their
    tagged patterns by one tag each requires (only those whose tag the resource carries are tried), and
    ``notResources`` statements by the plain matcher."""

    untagged: re.Pattern[str] | None
    by_tag: dict[str, tuple[_Tagged, ...]]  # patterns requiring an exact tag, by one of them
    glob_tagged: tuple[_Tagged, ...]  # patterns requiring tag globs only
    negated: tuple[Statement, ...]
    free_paths: tuple[str, ...]  # path regexes of the patterns no exact tag keys (for ``_Index``)
    paths: tuple[str, ...]  # path regexes of every pattern (for ``_Index``)
    statements: tuple[Statement, ...]

    @classmethod
    def of(cls, statements: tuple[Statement, ...]) -> _Matcher | None:
        if not statements:
            return None
        plain: list[str] = []
        paths: list[str] = []
        by_tag: dict[str, list[_Tagged]] = {}
        glob_tagged: list[_Tagged] = []
        glob_paths: list[str] = []
        for statement in statements:
            for text in statement.resources:
                regex, rule = _pattern(text)
                paths.append(regex)
                key = next((min(exact) for _, exact, _ in rule if exact), None)
                if not rule:
                    plain.append(regex)
                elif key is None:
                    glob_tagged.append((re.compile(regex + r"\Z"), rule))
                    glob_paths.append(regex)
                else:
                    by_tag.setdefault(key, []).append((re.compile(regex + r"\Z"), rule))
        untagged = re.compile("(?:" + "|".join(dict.fromkeys(plain)) + r")\Z") if plain else None
        negated = tuple(s for s in statements if not s.resources)
        free = tuple(dict.fromkeys([*plain, *glob_paths]))
        by_key = {k: tuple(v) for k, v in by_tag.items()}
        return cls(untagged, by_key, tuple(glob_tagged), negated, free, tuple(dict.fromkeys(paths)), statements)

    def covers(self, path: str, tags: tuple[frozenset[str], ...], all_tags: frozenset[str], resource: str) -> bool:
        if self.untagged is not None and self.untagged.match(path):
            return True
        if self.by_tag:
            for tag in all_tags:
                for regex, rule in self.by_tag.get(tag, ()):
                    if _carries(tags, rule) and regex.match(path):
                        return True
        for regex, rule in self.glob_tagged:
            if _carries(tags, rule) and regex.match(path):
                return True
        return any(_not_resources_cover(s, resource) for s in self.negated)


def _not_resources_cover(statement: Statement, resource: str) -> bool:
    spec = parse_spec(resource)
    return not any(spec_matches(p, spec) for p in statement.not_resources)


@dataclass(frozen=True)
class _Compiled:
    """One policy, indexed by action name. ``_loose``: statements with action globs or notActions, which
    can speak about any action; ``_exact``: the others, by the names they list. Per action, the allow and
    deny statements that speak about it are compiled into matchers once, then reused."""

    _exact: dict[str, tuple[Statement, ...]]
    _loose: tuple[Statement, ...]
    _by_action: dict[str, tuple[_Matcher | None, _Matcher | None]] = field(default_factory=dict)

    def matchers(self, action: str) -> tuple[_Matcher | None, _Matcher | None]:
        """(allow, deny) matchers of the statements that speak about ``action`` (None: there are none)."""
        found = self._by_action.get(action)
        if found is None:
            speaking = self._exact.get(action, ()) + tuple(s for s in self._loose if _action_covered(s, action))
            allow = _Matcher.of(tuple(s for s in speaking if s.effect is Effect.ALLOW))
            deny = _Matcher.of(tuple(s for s in speaking if s.effect is Effect.DENY))
            found = (allow, deny)
            if len(self._by_action) < 512:  # actions are a closed set; the bound only guards misuse
                self._by_action[action] = found
        return found

    def allows(self, action: str, resource: str) -> bool:
        allow, deny = self.matchers(action)
        return allow is not None and _allowed(allow, deny, resource, *_resource_key(resource))


def _allowed(
    allow: _Matcher,
    deny: _Matcher | None,
    resource: str,
    path: str,
    tags: tuple[frozenset[str], ...],
    all_tags: frozenset[str],
) -> bool:
    """One policy's answer: an allow covers the resource and no deny does."""
    return allow.covers(path, tags, all_tags, resource) and not (
        deny is not None and deny.covers(path, tags, all_tags, resource)
    )


def _action_covered(statement: Statement, action: str) -> bool:
    if statement.actions:
        return any(glob_matches(p, action) for p in statement.actions)
    return not any(glob_matches(p, action) for p in statement.not_actions)


@lru_cache(maxsize=4096)
def _compile(policy: Policy) -> _Compiled:
    exact: dict[str, list[Statement]] = {}
    loose: list[Statement] = []
    for statement in policy:
        for spec in statement.resources + statement.not_resources:
            parse_spec(spec)  # reject a malformed specifier now
        if statement.actions and not any("*" in a for a in statement.actions):
            for name in set(statement.actions):
                exact.setdefault(name, []).append(statement)
        else:
            loose.append(statement)
    return _Compiled({k: tuple(v) for k, v in exact.items()}, tuple(loose))


# The same policy object (a role's, handed out by a cache) is found by identity first: hashing a policy's
# statements costs more than evaluating them. The entry holds the policy, so its id is not reused.
_BY_IDENTITY: dict[int, tuple[Policy, _Compiled]] = {}


def compile_policy(policy: Policy) -> _Compiled:
    """The policy indexed by action; cached, so a role's policy is compiled once."""
    hit = _BY_IDENTITY.get(id(policy))
    if hit is not None and hit[0] is policy:
        return hit[1]
    compiled = _compile(policy)
    if len(_BY_IDENTITY) >= 4096:
        _BY_IDENTITY.clear()
    _BY_IDENTITY[id(policy)] = (policy, compiled)
    return compiled


# (every allow path, the paths no exact tag keys, the key tags, the allows of the policies without a deny
# for the action merged into one matcher, the (allow, deny) of the others)
_Filter = tuple[
    re.Pattern[str],
    re.Pattern[str] | None,
    frozenset[str],
    _Matcher | None,
    tuple[tuple[_Matcher, _Matcher | None], ...],
]


class _Index:
    """What a set of compiled policies can allow, per action: one regex of every allow pattern's path,
    one of the paths of those that require no exact tag, and the tags that key the others. A resource
    they rule out is refused without asking each policy: the common refusals ("not my project", "not my
    team's tag") cost a regex match or two and a set intersection. Then the policies that allow the action
    and deny it nowhere are asked as one (any of them allowing is their union allowing), the others one
    by one. Cached by the policies' identities."""

    def __init__(self, compiled: tuple[_Compiled, ...]) -> None:
        self.compiled = compiled
        self._filters: dict[str, _Filter | bool] = {}

    def permits(self, action: str, resource: str) -> bool:
        found = self._filters.get(action)
        if found is None:
            found = self._filter(action)
            if len(self._filters) < 512:
                self._filters[action] = found
        if found is True:
            return any(c.allows(action, resource) for c in self.compiled)
        if found is False:
            return False
        every, free, keys, merged, policies = found
        path, tags, all_tags = _resource_key(resource)
        if every.match(path) is None:
            return False
        if (free is None or free.match(path) is None) and keys.isdisjoint(all_tags):
            return False
        if merged is not None and merged.covers(path, tags, all_tags, resource):
            return True
        return any(_allowed(allow, deny, resource, path, tags, all_tags) for allow, deny in policies)

    def _filter(self, action: str) -> _Filter | bool:
        """False: nothing allows ``action``; True: cannot tell by path (a ``notResources`` allow)."""
        paths: list[str] = []
        free: list[str] = []
        keys: set[str] = set()
        unopposed: list[Statement] = []
        policies = []
        for compiled in self.compiled:
            allow, deny = compiled.matchers(action)
            if allow is None:
                continue
            if allow.negated:
                return True
            if deny is None:
                unopposed += allow.statements
            else:
                policies.append((allow, deny))
            paths += allow.paths
            free += allow.free_paths
            keys |= allow.by_tag.keys()
        if not paths:
            return False
        merged = _Matcher.of(tuple(unopposed))
        return _any_of(paths), _any_of(free) if free else None, frozenset(keys), merged, tuple(policies)


def _any_of(paths: list[str]) -> re.Pattern[str]:
    return re.compile("(?:" + "|".join(dict.fromkeys(paths)) + r")\Z")


_INDEXES: dict[tuple[int, ...], _Index] = {}


def _index(compiled: tuple[_Compiled, ...]) -> _Index:
    key = tuple(id(c) for c in compiled)
    found = _INDEXES.get(key)
    if found is None:  # a hit holds these very objects: ids are unique while their objects live
        if len(_INDEXES) >= 1024:
            _INDEXES.clear()
        found = _INDEXES[key] = _Index(compiled)  # holds the compiled policies: their ids stay theirs
    return found


@dataclass(frozen=True, eq=False)
class Access:
    """The policies in force for one actor, and for a token the ceiling set by its member's access."""

    policies: tuple[Policy, ...]
    ceiling: Access | None = None
    _compiled: tuple[_Compiled, ...] = field(init=False, repr=False)
    _index: _Index = field(init=False, repr=False)
    _decisions: dict[tuple[str, str], bool] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        compiled = tuple(compile_policy(p) for p in self.policies)
        object.__setattr__(self, "_compiled", compiled)
        object.__setattr__(self, "_index", _index(compiled))

    def permits(self, action: str, resource: str) -> bool:
        """Whether some policy allows ``action`` on ``resource`` (a specifier) and the ceiling does too."""
        key = (action, resource)
        decided = self._decisions.get(key)
        if decided is None:
            decided = self._index.permits(action, resource) and (
                self.ceiling is None or self.ceiling.permits(action, resource)
            )
            if len(self._decisions) < 1024:
                self._decisions[key] = decided
        return decided


def _could_overlap(pattern: str, kind: str) -> bool:
    """Whether some resource could match both ``pattern`` (a statement's) and ``kind`` (a specifier with
    ``*`` globs naming a kind of resource in a scope, tags ignored: any resource may carry any tags).
    Where both sides glob the same part, they are taken to overlap (an over-approximation)."""
    p, k = parse_spec(pattern), parse_spec(kind)
    if len(p.segments) != len(k.segments):
        return False
    for ps, ks in zip(p.segments, k.segments, strict=True):
        if (ps.name is None) != (ks.name is None):
            return False
        for mine, theirs in ((ps.type, ks.type), (ps.name, ks.name)):
            if mine is None or theirs is None or "*" in theirs:
                continue
            if not glob_matches(mine, theirs):
                return False
    return True


def _denies_whole(policy: Policy, action: str, kind: str) -> bool:
    """Whether a deny of ``policy`` covers ``action`` on every resource ``kind`` names (untagged deny
    patterns matching the kind's text, its globs taken literally)."""
    spec = parse_spec(kind)
    return any(
        s.effect is Effect.DENY
        and _action_covered(s, action)
        and any(not any(seg.tags for seg in parse_spec(r).segments) and spec_matches(r, spec) for r in s.resources)
        for s in policy
    )


def may_ever(access: Access, action: str, kind: str) -> bool:
    """Whether ``access`` could allow ``action`` on some resource named by ``kind`` (``webhook/*``,
    ``proj/shop``, ``proj/shop:env/*``): some allow statement speaks about the action on a resource
    pattern that could match one, in a policy whose denies do not cover the whole kind (and the same
    for a token's ceiling). False lets a door answer 403 before looking anything up, so an actor that
    can view nothing of a kind learns nothing of what exists; True does not mean a given one is allowed."""
    possible = any(
        not _denies_whole(policy, action, kind)
        and any(
            s.effect is Effect.ALLOW
            and _action_covered(s, action)
            and (not s.resources or any(_could_overlap(r, kind) for r in s.resources))
            for s in policy
        )
        for policy in access.policies
    )
    return possible and (access.ceiling is None or may_ever(access.ceiling, action, kind))
