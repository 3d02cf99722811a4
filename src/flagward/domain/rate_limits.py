"""Rate limits as budgets: at most ``limit`` events per fixed window, per counter key.

A window starts with the first event counted after the previous window ended, and the counter starts
over then (that is the decay). Counters live in the store, so every server process on one database
shares them; this module only names the counters and reads what a count means.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass


@dataclass(frozen=True)
class Budget:
    """``limit`` events per ``window_ms`` on the counter ``key``. ``name`` says which limit this is."""

    name: str
    key: str
    limit: int
    window_ms: int


@dataclass(frozen=True)
class Usage:
    """A budget's counter after one more event was counted."""

    budget: Budget
    count: int
    resets_at: int  # epoch ms when the window ends and the counter starts over

    @property
    def exceeded(self) -> bool:
        return self.count > self.budget.limit

    @property
    def remaining(self) -> int:
        return max(0, self.budget.limit - self.count)


def counter_key(*parts: str) -> str:
    """A fixed-length key for a counter: the store never holds the emails or addresses themselves."""
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def retry_after_seconds(resets_at: int, now: int) -> int:
    """Whole seconds to wait before the window ends (``Retry-After``), at least 1."""
    return max(1, -(-(resets_at - now) // 1000))


def address_scope(address: str) -> str:
    """The unit an address limit counts: an IPv4 address, or the /64 network of an IPv6 address (one
    host usually holds a whole /64, so counting single IPv6 addresses would be trivial to rotate)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


@dataclass(frozen=True)
class SignInLimits:
    """Failed sign-ins allowed per window.

    ``per_account_and_address`` counts failures for one email from one address: an attacker
    elsewhere never spends the owner's budget, so nobody can lock anyone out from another address.
    ``per_address`` counts failures from one address over every email (password spraying); it only
    ever holds back that address. A limit of 0 turns that limit off."""

    per_account_and_address: int = 10
    per_address: int = 50
    window_ms: int = 15 * 60 * 1000

    def budgets(self, email: str, address: str) -> list[Budget]:
        scope = address_scope(address)
        limits = [
            ("account", counter_key("sign-in", email.strip().lower(), scope), self.per_account_and_address),
            ("address", counter_key("sign-in-address", scope), self.per_address),
        ]
        return [Budget(name, key, limit, self.window_ms) for name, key, limit in limits if limit > 0]


@dataclass(frozen=True)
class ApiLimits:
    """The REST API's own rate limit, per caller (an access token, or a member's sessions):
    ``per_caller`` requests per window over every route, and ``per_route`` requests per window to one
    route (a URL pattern and method), as LaunchDarkly's global and route-level limits. 0 turns a limit
    off; both 0 (the default) turns the rate limit off."""

    per_caller: int = 0
    per_route: int = 0
    window_ms: int = 10_000

    @property
    def enabled(self) -> bool:
        return self.per_caller > 0 or self.per_route > 0

    def budgets(self, caller: str, route: str) -> list[Budget]:
        candidates = [
            Budget("global", counter_key("api", caller), self.per_caller, self.window_ms),
            Budget("route", counter_key("api-route", caller, route), self.per_route, self.window_ms),
        ]
        return [b for b in candidates if b.limit > 0]
