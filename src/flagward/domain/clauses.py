"""Clauses, shared by flag rules and segment rules: shape checks and normalization."""

from __future__ import annotations

from typing import Any

from flagward.domain.errors import InvalidRequest
from flagward.domain.flags import Clause
from flagward.domain.ids import new_uuid

OPERATORS = frozenset(
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
        "segmentMatch",
        "semVerEqual",
        "semVerLessThan",
        "semVerGreaterThan",
    }
)


def parse_clause(raw: object, where: str, *, keep_id: bool = True) -> Clause:
    """A clause from its LaunchDarkly JSON (``op`` as LaunchDarkly spells it, ``values`` a list).

    A missing ``_id`` gets a new UUID; ``where`` names the clause in error messages. Raises
    InvalidRequest.
    """
    if not isinstance(raw, dict):
        raise InvalidRequest(f"{where} must be an object")
    op = raw.get("op")
    if op not in OPERATORS:
        raise InvalidRequest(f"{where}.op '{op}' is not a known operator")
    attribute = raw.get("attribute", "" if op == "segmentMatch" else None)
    if not isinstance(attribute, str) or (op != "segmentMatch" and not attribute):
        raise InvalidRequest(f"{where}.attribute is required")
    values = raw.get("values")
    if not isinstance(values, list):
        raise InvalidRequest(f"{where}.values must be a list")
    if op == "segmentMatch" and not all(isinstance(v, str) for v in values):
        raise InvalidRequest(f"{where}.values of a segmentMatch clause must be segment keys")
    negate = raw.get("negate", False)
    if not isinstance(negate, bool):
        raise InvalidRequest(f"{where}.negate must be a boolean")
    clause_id = raw.get("_id") if keep_id else None
    if clause_id is not None and not isinstance(clause_id, str):
        raise InvalidRequest(f"{where}._id must be a string")
    clause: Clause = {
        "_id": clause_id or new_uuid(),
        "attribute": attribute,
        "op": op,
        "values": list(values),
        "negate": negate,
    }
    context_kind: Any = raw.get("contextKind")
    if context_kind is not None:
        if not isinstance(context_kind, str) or not context_kind:
            raise InvalidRequest(f"{where}.contextKind must be a non-empty string")
        clause["contextKind"] = context_kind
    return clause


def segment_keys(clauses: list[Clause]) -> list[str]:
    """The segment keys named by the segmentMatch clauses among ``clauses``."""
    return [str(v) for c in clauses if c["op"] == "segmentMatch" for v in c["values"]]
