"""Clause operators, compiled once per clause.

:func:`compile_matcher` turns an operator and its clause values into a ``Matcher``: a function of one
context value that is true when that value matches *any* clause value. Everything that can be prepared
from the clause values alone (regexes, dates, semantic versions, numbers, lookup sets) is prepared here,
so evaluating only has to inspect the context value.

Type rules (LaunchDarkly SDK semantics): booleans are never numbers; string operators need two strings;
numeric operators need two numbers; ``before``/``after`` take Unix milliseconds (a number) or an
RFC 3339 timestamp with a time zone (a string); semver operators take strings and pad missing minor and
patch parts (``"2"`` is ``2.0.0``, ``"2.1-rc"`` is ``2.1.0-rc``); ``matches`` is Python ``re.search``
(unanchored). A value of the wrong type, or one that does not parse, never matches. Unknown operators
never match (they are not an error).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, Final

__all__ = [
    "OPERATORS",
    "Matcher",
    "SemVerKey",
    "compile_matcher",
    "json_equal",
    "parse_semver",
    "parse_semver_text",
    "parse_time_ms",
]

Matcher = Callable[[Any], bool]
# (major, minor, patch, 1 for a release / 0 for a pre-release, pre-release identifier keys); tuples of
# these order exactly as SemVer 2.0 precedence, and equal keys mean equal versions (build is ignored).
SemVerKey = tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]

OPERATORS: Final = frozenset(
    {
        "in",
        "endsWith",
        "startsWith",
        "matches",
        "contains",
        "lessThan",
        "lessThanOrEqual",
        "greaterThan",
        "greaterThanOrEqual",
        "before",
        "after",
        "semVerEqual",
        "semVerLessThan",
        "semVerGreaterThan",
    }
)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _never(_value: Any) -> bool:
    return False


def _to_float(value: int | float) -> float:
    """``float(value)`` like the SDKs (doubles), but an int too large for a double becomes +/-inf."""
    try:
        return float(value)
    except OverflowError:
        return float("inf") if value > 0 else float("-inf")


# --------------------------------------------------------------------------------------------------
# Equality


def json_equal(a: Any, b: Any) -> bool:
    """JSON value equality: ``1 == 1.0`` but a boolean never equals a number, at any depth."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_number(a):
        return _is_number(b) and bool(a == b)
    if isinstance(a, str) or a is None:
        return type(a) is type(b) and bool(a == b)
    if isinstance(a, list | tuple):
        return (
            isinstance(b, list | tuple)
            and len(a) == len(b)
            and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
        )
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(json_equal(v, b[k]) for k, v in a.items())
    return bool(a == b)


def _in_matcher(values: Sequence[Any]) -> Matcher:
    # Scalars go into per-type sets so lookups are O(1) and True can never collide with 1 (they hash alike).
    strings = frozenset(v for v in values if isinstance(v, str))
    numbers = frozenset(v for v in values if _is_number(v))
    bools = frozenset(v for v in values if isinstance(v, bool))
    others = tuple(v for v in values if not isinstance(v, str | int | float))

    def match(u: Any) -> bool:
        if isinstance(u, str):
            return u in strings
        if isinstance(u, bool):
            return u in bools
        if isinstance(u, int | float):
            return u in numbers
        return any(json_equal(u, o) for o in others)

    return match


# --------------------------------------------------------------------------------------------------
# Strings and regexes


def _string_matcher(op: str, values: Sequence[Any]) -> Matcher:
    strings = tuple(v for v in values if isinstance(v, str))
    if not strings:
        return _never
    if op == "startsWith":
        return lambda u: isinstance(u, str) and u.startswith(strings)
    if op == "endsWith":
        return lambda u: isinstance(u, str) and u.endswith(strings)
    return lambda u: isinstance(u, str) and any(s in u for s in strings)


def _regex_matcher(values: Sequence[Any]) -> Matcher:
    patterns: list[re.Pattern[str]] = []
    for v in values:
        if isinstance(v, str):
            try:
                patterns.append(re.compile(v))
            except (re.error, RecursionError, OverflowError):
                continue  # an invalid regex is a non-match, not an error
    if not patterns:
        return _never
    compiled = tuple(patterns)
    return lambda u: isinstance(u, str) and any(p.search(u) is not None for p in compiled)


# --------------------------------------------------------------------------------------------------
# Numbers and dates

_COMPARE: Final[dict[str, Callable[[float, float], bool]]] = {
    "lessThan": lambda a, b: a < b,
    "lessThanOrEqual": lambda a, b: a <= b,
    "greaterThan": lambda a, b: a > b,
    "greaterThanOrEqual": lambda a, b: a >= b,
    "before": lambda a, b: a < b,
    "after": lambda a, b: a > b,
}


def _numeric_matcher(op: str, values: Sequence[Any]) -> Matcher:
    targets = tuple(_to_float(v) for v in values if _is_number(v))
    if not targets:
        return _never
    cmp = _COMPARE[op]
    return lambda u: _is_number(u) and any(cmp(_to_float(u), t) for t in targets)


_RFC3339: Final = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))",
    re.ASCII,
)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def parse_time_ms(value: Any) -> float | None:
    """Unix milliseconds for a number, or for an RFC 3339 date-time string with a zone; else None.

    Fractional seconds beyond microseconds are truncated. The arithmetic matches the Python SDK, so
    equal instants compare equal whichever form they are written in.
    """
    if _is_number(value):
        return _to_float(value)
    if not isinstance(value, str):
        return None
    return _parse_rfc3339(value)


@lru_cache(maxsize=2048)  # context values repeat across the flags of one payload
def _parse_rfc3339(value: str) -> float | None:
    m = _RFC3339.fullmatch(value)
    if m is None:
        return None
    year, month, day, hour, minute, second, frac, zulu, sign, off_h, off_m = m.groups()
    try:
        if zulu:
            tz = UTC
        else:
            if int(off_h) > 23 or int(off_m) > 59:
                return None
            offset = timedelta(hours=int(off_h), minutes=int(off_m))
            tz = timezone(-offset if sign == "-" else offset)
        micros = int((frac or "0")[:6].ljust(6, "0"))
        dt = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micros, tz)
    except ValueError:
        return None
    return (dt - _EPOCH).total_seconds() * 1000.0


def _time_matcher(op: str, values: Sequence[Any]) -> Matcher:
    targets = tuple(t for t in (parse_time_ms(v) for v in values) if t is not None)
    if not targets:
        return _never
    cmp = _COMPARE[op]

    def match(u: Any) -> bool:
        t = parse_time_ms(u)
        return t is not None and any(cmp(t, c) for c in targets)

    return match


# --------------------------------------------------------------------------------------------------
# Semantic versions

_IDENT: Final = r"(?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)"
_SEMVER: Final = re.compile(
    rf"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
    rf"(?:-({_IDENT}(?:\.{_IDENT})*))?"
    r"(?:\+[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*)?",
    re.ASCII,
)
_LEADING_VERSION_CHARS: Final = re.compile(r"[0-9.]*")


def _semver_strict(text: str) -> SemVerKey | None:
    m = _SEMVER.fullmatch(text)
    if m is None:
        return None
    major, minor, patch, pre = m.groups()
    if pre is None:
        return (int(major), int(minor), int(patch), 1, ())
    keys = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (int(major), int(minor), int(patch), 0, keys)


def parse_semver(value: Any) -> SemVerKey | None:
    """Parse a SemVer 2.0 string, padding a missing minor/patch with ``.0``; None if it is not one."""
    if not isinstance(value, str):
        return None
    return parse_semver_text(value)


@lru_cache(maxsize=2048)  # context values repeat across the flags of one payload
def parse_semver_text(value: str) -> SemVerKey | None:
    text = value
    for _ in range(3):  # as is, then with up to two ".0" components inserted after the leading digits
        key = _semver_strict(text)
        if key is not None:
            return key
        lead = _LEADING_VERSION_CHARS.match(text)
        end = lead.end() if lead else 0
        text = f"{text[:end]}.0{text[end:]}"
    return None


def _semver_matcher(op: str, values: Sequence[Any]) -> Matcher:
    targets = tuple(k for k in (parse_semver(v) for v in values) if k is not None)
    if not targets:
        return _never
    if op == "semVerEqual":
        cmp: Callable[[SemVerKey, SemVerKey], bool] = lambda a, b: a == b  # noqa: E731
    elif op == "semVerLessThan":
        cmp = lambda a, b: a < b  # noqa: E731
    else:
        cmp = lambda a, b: a > b  # noqa: E731

    def match(u: Any) -> bool:
        k = parse_semver(u)
        return k is not None and any(cmp(k, t) for t in targets)

    return match


# --------------------------------------------------------------------------------------------------


def compile_matcher(op: str, values: Sequence[Any]) -> Matcher:
    """A function of one context value: does it match any of ``values`` under ``op``?

    ``segmentMatch`` is not an operator on values (the evaluator handles it); it and any unknown
    operator compile to a matcher that is always false.
    """
    if op == "in":
        return _in_matcher(values)
    if op in ("startsWith", "endsWith", "contains"):
        return _string_matcher(op, values)
    if op == "matches":
        return _regex_matcher(values)
    if op in ("lessThan", "lessThanOrEqual", "greaterThan", "greaterThanOrEqual"):
        return _numeric_matcher(op, values)
    if op in ("before", "after"):
        return _time_matcher(op, values)
    if op in ("semVerEqual", "semVerLessThan", "semVerGreaterThan"):
        return _semver_matcher(op, values)
    return _never
