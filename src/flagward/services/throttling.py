"""Spending rate-limit budgets: all-or-nothing, atomically, in the store shared by every process."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from flagward.domain.rate_limits import ApiLimits, Budget, Usage, retry_after_seconds
from flagward.services.ports import Deps, UnitOfWork


@dataclass(frozen=True)
class Allowance:
    """What spending some budgets gave: allowed or not, and each budget's counter."""

    allowed: bool
    usages: tuple[Usage, ...]
    now: int

    def remaining(self, name: str) -> int | None:
        """What is left of the budget ``name`` (0 once refused), or None when no such budget applies."""
        for usage in self.usages:
            if usage.budget.name == name:
                return 0 if usage.exceeded else usage.remaining
        return None

    @property
    def resets_at(self) -> int:
        """When a refused request may be retried, or when the soonest window ends."""
        if not self.allowed:
            return max(u.resets_at for u in self.usages if u.exceeded)
        return min(u.resets_at for u in self.usages)

    @property
    def retry_after_seconds(self) -> int:
        return retry_after_seconds(self.resets_at, self.now)


def spend(deps: Deps, budgets: Sequence[Budget]) -> Allowance:
    """Count one event against every budget, or against none when any of them is used up (a refused
    event spends nothing, so hammering a closed door does not keep it closed longer).

    The counts are committed before this returns, so callers doing slow work afterwards (a password
    check) cannot be overtaken by concurrent requests: N concurrent events never get past a limit."""
    now = deps.clock.now_ms()
    if not budgets:
        return Allowance(allowed=True, usages=(), now=now)
    with deps.uow() as uow:
        usages = tuple(_spend(uow, budget, now) for budget in sorted(budgets, key=lambda b: b.key))
        allowed = not any(usage.exceeded for usage in usages)
        if allowed:
            uow.commit()
    return Allowance(allowed=allowed, usages=usages, now=now)


def _spend(uow: UnitOfWork, budget: Budget, now: int) -> Usage:
    count, resets_at = uow.rate_counters.spend(budget.key, now, budget.window_ms)
    return Usage(budget=budget, count=count, resets_at=resets_at)


def spend_api_budget(deps: Deps, limits: ApiLimits, *, caller: str, route: str) -> Allowance | None:
    """One REST API request by ``caller`` (a token or a member's sessions) to ``route`` (method and URL
    pattern); None when the API rate limit is off.

    The counters are in the store, not in each process's memory: behind a load balancer in front of
    several processes on one PostgreSQL, a per-process budget would grow with the number of processes
    and depend on where requests land, so it would promise nothing. The price is one small upsert per
    REST request, paid only when the limit is configured; SDK endpoints never come here."""
    if not limits.enabled:
        return None
    return spend(deps, limits.budgets(caller, route))


def prune(deps: Deps) -> int:
    """Forget counters whose window has ended; returns how many were deleted."""
    with deps.uow() as uow:
        deleted = uow.rate_counters.prune(deps.clock.now_ms())
        uow.commit()
    return deleted
