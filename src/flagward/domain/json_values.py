"""What a JSON value must be for flagward to store and serve it: finite numbers, integers within the
stores' signed 64-bit range, no NUL characters, and a bounded nesting depth.

Python's ``json`` module reads ``NaN``, ``Infinity`` and ``1e400`` (as ``inf``) and integers of any size;
SQLite then stores them (and every SDK rejects the payload that carries them) while PostgreSQL fails (a
500). Deep nesting exhausts the recursion limit of code that walks values. One check, the same for both
stores, refuses all of it with a message naming the path of the offending value.
"""

from __future__ import annotations

import copy
import json
import math
from typing import Any

MAX_DEPTH = 64  # containers inside containers; LaunchDarkly documents no limit, real flag values use a few
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


class JsonRefused(ValueError):
    """A JSON text or value flagward does not accept; ``message`` names the path (e.g. ``variations[0].value``)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def loads(text: bytes | str, *, allow_nul: bool = False) -> Any:
    """Parse ``text`` and check the value (``check``). Raises JsonRefused."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise JsonRefused(f"body: JSON nested deeper than {MAX_DEPTH} levels") from None
    except ValueError:  # JSONDecodeError, UnicodeDecodeError, an integer of more than 4300 digits
        raise JsonRefused("The request body is not valid JSON") from None
    check(value, allow_nul=allow_nul)
    return value


def check(value: Any, *, root: str = "body", max_depth: int = MAX_DEPTH, allow_nul: bool = False) -> None:
    """Raise JsonRefused naming the first offending path if ``value`` has a non-finite number, an
    integer outside the signed 64-bit range, a NUL character, or nesting deeper than ``max_depth``."""
    problem = find_problem(value, max_depth=max_depth, allow_nul=allow_nul)
    if problem is not None:
        path, message = problem
        where = _join(root, path)
        raise JsonRefused(f"{where if len(where) <= 200 else where[:200] + '…'}: {message}")


def find_problem(value: Any, *, max_depth: int = MAX_DEPTH, allow_nul: bool = False) -> tuple[str, str] | None:
    """The first (path, message) that ``check`` would refuse, or None. Iterative: depth costs no stack."""
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth >= max_depth:
                return path, f"nested deeper than {max_depth} levels"
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in pairs:
                if not allow_nul and isinstance(key, str) and "\x00" in key:
                    return path, "property names must not contain NUL (U+0000) characters"
                stack.append((child, _child(path, key), depth + 1))
        elif (problem := _scalar_problem(item, allow_nul)) is not None:
            return path, problem
    return None


def _scalar_problem(item: Any, allow_nul: bool) -> str | None:
    if isinstance(item, bool) or item is None:
        return None
    if isinstance(item, int):
        if not INT64_MIN <= item <= INT64_MAX:
            return "integers must be within the signed 64-bit range"
    elif isinstance(item, float):
        if not math.isfinite(item):
            return "numbers must be finite (NaN and Infinity are not JSON)"
    elif isinstance(item, str) and not allow_nul and "\x00" in item:
        return "strings must not contain NUL (U+0000) characters"
    return None


def _child(path: str, key: object) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def _join(root: str, path: str) -> str:
    """``root`` prefixed to ``path``; fields of the body itself are named bare (``name``, not ``body.name``)."""
    if not path:
        return root
    if path.startswith("["):
        return root + path
    return path if root == "body" else f"{root}.{path}"


def copy_json(value: Any) -> Any:
    """A deep copy of a JSON value (dicts, lists and scalars), several times faster than ``copy.deepcopy``,
    which a flag's documents would otherwise pay for on every change. Anything else is deep-copied the
    ordinary way."""
    kind = type(value)
    if kind is dict:
        return {key: copy_json(item) for key, item in value.items()}
    if kind is list:
        return [copy_json(item) for item in value]
    if kind in _SCALARS:
        return value
    return copy.deepcopy(value)


_SCALARS = frozenset({str, int, float, bool, type(None)})
