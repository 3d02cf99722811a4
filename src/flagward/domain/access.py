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

from dataclasses import dataclass, field
from functools import lru_cache

from flagward.domain.policy import Effect, ResourceSpec, Statement, glob_matches, parse_spec, spec_matches

Policy = tuple[Statement, ...]


@dataclass(frozen=True)
class _Compiled:
    """One policy, indexed by action name. ``_loose``: statements with action globs or notActions, which
    can speak about any action; ``_exact``: the others, by the names they list."""

    _exact: dict[str, tuple[Statement, ...]]
    _loose: tuple[Statement, ...]
    _by_action: dict[str, tuple[tuple[Statement, ...], tuple[Statement, ...]]] = field(default_factory=dict)

    def _candidates(self, action: str) -> tuple[tuple[Statement, ...], tuple[Statement, ...]]:
        """The (allow, deny) statements that speak about ``action``, remembered per action."""
        found = self._by_action.get(action)
        if found is None:
            speaking = self._exact.get(action, ()) + tuple(s for s in self._loose if _action_covered(s, action))
            allow = tuple(s for s in speaking if s.effect is Effect.ALLOW)
            deny = tuple(s for s in speaking if s.effect is Effect.DENY)
            found = (allow, deny)
            if len(self._by_action) < 512:  # actions are a closed set; the bound only guards misuse
                self._by_action[action] = found
        return found

    def allows(self, action: str, resource: ResourceSpec) -> bool:
        allow, deny = self._candidates(action)
        if not allow or not any(_resource_covered(s, resource) for s in allow):
            return False
        return not any(_resource_covered(s, resource) for s in deny)


def _action_covered(statement: Statement, action: str) -> bool:
    if statement.actions:
        return any(glob_matches(p, action) for p in statement.actions)
    return not any(glob_matches(p, action) for p in statement.not_actions)


def _resource_covered(statement: Statement, resource: ResourceSpec) -> bool:
    if statement.resources:
        return any(spec_matches(p, resource) for p in statement.resources)
    return not any(spec_matches(p, resource) for p in statement.not_resources)


@lru_cache(maxsize=4096)
def compile_policy(policy: Policy) -> _Compiled:
    """The policy indexed by action; cached by content, so a role's policy is compiled once."""
    exact: dict[str, list[Statement]] = {}
    loose: list[Statement] = []
    for statement in policy:
        for spec in statement.resources + statement.not_resources:
            parse_spec(spec)  # warm the parse cache (and reject a malformed specifier now)
        if statement.actions and not any("*" in a for a in statement.actions):
            for name in set(statement.actions):
                exact.setdefault(name, []).append(statement)
        else:
            loose.append(statement)
    return _Compiled({k: tuple(v) for k, v in exact.items()}, tuple(loose))


@dataclass(frozen=True, eq=False)
class Access:
    """The policies in force for one actor, and for a token the ceiling set by its member's access."""

    policies: tuple[Policy, ...]
    ceiling: Access | None = None
    _compiled: tuple[_Compiled, ...] = field(init=False, repr=False)
    _decisions: dict[tuple[str, str], bool] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_compiled", tuple(compile_policy(p) for p in self.policies))

    def permits(self, action: str, resource: str) -> bool:
        """Whether some policy allows ``action`` on ``resource`` (a specifier) and the ceiling does too."""
        key = (action, resource)
        decided = self._decisions.get(key)
        if decided is None:
            spec = parse_spec(resource)
            decided = any(c.allows(action, spec) for c in self._compiled) and (
                self.ceiling is None or self.ceiling.permits(action, resource)
            )
            if len(self._decisions) < 1024:
                self._decisions[key] = decided
        return decided
