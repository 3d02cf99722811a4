"""LaunchDarkly's ``filter=field:value,field:value`` query parameter, parsed once for every list route."""

from __future__ import annotations

from collections.abc import Collection

from flagward.domain.errors import InvalidRequest


def field_filters(raw: str | None, allowed: Collection[str]) -> dict[str, str]:
    """The ``field -> value`` pairs of ``raw``. A part without ``:`` or a field outside ``allowed`` is a
    400 naming what is allowed; values keep their own syntax (``a+b`` lists, ``a|b`` alternatives)."""
    result: dict[str, str] = {}
    for part in (raw or "").split(","):
        if not part.strip():
            continue
        field, sep, value = part.partition(":")
        field = field.strip()
        if not sep:
            raise InvalidRequest(f"filter '{part}' must be field:value")
        if field not in allowed:
            raise InvalidRequest(f"unsupported filter field '{field}'; use {', '.join(allowed)}")
        result[field] = value
    return result


def plus_list(value: str) -> tuple[str, ...]:
    """``beta+test`` (a ``+`` that arrived unencoded reads as a space)."""
    return tuple(t for t in value.replace(" ", "+").split("+") if t)
