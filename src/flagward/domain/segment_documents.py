"""A segment as LaunchDarkly's ``UserSegment`` document, and back.

The document is what JSON patch and merge patch operate on and what the audit log records; the HTTP
edge adds ``_links``, ``_flags`` and ``_access``. ``segment_from_document`` reads a patched document
back, refusing changes to read-only fields; it checks shapes, and ``validate_segment`` checks the rest.
"""

from __future__ import annotations

import copy
from typing import Any

from flagward.domain.clauses import parse_clause
from flagward.domain.errors import InvalidRequest
from flagward.domain.flags import Clause
from flagward.domain.ids import new_uuid
from flagward.domain.segment_validation import (
    USER_KIND,
    check_context_kind,
    check_rule_options,
    check_strings,
    same_json,
)
from flagward.domain.segments import Segment, SegmentRule, SegmentTarget

# Top-level fields a JSON or merge patch may change; everything else in the document is read-only.
SEGMENT_WRITABLE_FIELDS = (
    "name",
    "description",
    "tags",
    "included",
    "excluded",
    "includedContexts",
    "excludedContexts",
    "rules",
)
READ_ONLY_FIELDS = (
    "key",
    "version",
    "creationDate",
    "lastModifiedDate",
    "salt",
    "generation",
    "unbounded",
    "unboundedContextKind",
    "deleted",
)
_KNOWN_FIELDS = frozenset({*SEGMENT_WRITABLE_FIELDS, *READ_ONLY_FIELDS})
_RULE_FIELDS = frozenset({"_id", "clauses", "weight", "bucketBy", "rolloutContextKind", "description"})


def segment_document(segment: Segment) -> dict[str, Any]:
    """The segment as LaunchDarkly's ``UserSegment``, without ``_links``, ``_flags`` and ``_access``.

    ``description`` is always present (an empty string when unset) so that a JSON patch ``replace`` of
    it works; ``salt`` is not in LaunchDarkly's schema but SDK payloads need it and clients ignore it.
    """
    doc: dict[str, Any] = {
        "key": segment.key,
        "name": segment.name,
        "description": segment.description,
        "tags": list(segment.tags),
        "creationDate": segment.creation_date,
        "lastModifiedDate": segment.last_modified,
        "included": list(segment.included),
        "excluded": list(segment.excluded),
        "includedContexts": copy.deepcopy(segment.included_contexts),
        "excludedContexts": copy.deepcopy(segment.excluded_contexts),
        "rules": copy.deepcopy(segment.rules),
        "version": segment.version,
        "deleted": False,
        "unbounded": segment.unbounded,
        "generation": segment.generation,
        "salt": segment.salt,
    }
    if segment.unbounded_context_kind is not None:
        doc["unboundedContextKind"] = segment.unbounded_context_kind
    return doc


def segment_from_document(doc: dict[str, Any], original: Segment) -> Segment:
    """A new segment: ``original`` with the writable fields of ``doc`` (a patched ``segment_document``).

    Missing writable fields take their empty value (a merge patch ``null`` removes a field); duplicate
    keys are dropped and empty ``*Contexts`` entries removed, as the instructions do. Read-only fields
    (key, version, creationDate, lastModifiedDate, salt, generation, unbounded, unboundedContextKind,
    deleted) may be absent but not changed. Underscore-prefixed fields are edge decorations and ignored.
    Rules keep their ``_id``s; a rule or clause without one gets a new UUID. Raises InvalidRequest.
    """
    if not isinstance(doc, dict):
        raise InvalidRequest("the patched segment must be an object")
    _check_read_only(doc, original)
    for name in doc:
        if not name.startswith("_") and name not in _KNOWN_FIELDS:
            raise InvalidRequest(f"'{name}' is not a segment field")
    result = original.clone()
    result.name = _string(doc.get("name"), "name", required=True)
    result.description = _string(doc.get("description"), "description")
    result.tags = _unique(check_strings(doc.get("tags", []), "tags"))
    result.included = _unique(check_strings(doc.get("included", []), "included"))
    result.excluded = _unique(check_strings(doc.get("excluded", []), "excluded"))
    result.included_contexts = _context_targets(doc.get("includedContexts", []), "includedContexts")
    result.excluded_contexts = _context_targets(doc.get("excludedContexts", []), "excludedContexts")
    result.rules = parse_new_segment_rules(doc.get("rules", []), keep_ids=True)
    return result


def _read_only_values(segment: Segment) -> dict[str, object]:
    return {
        "key": segment.key,
        "version": segment.version,
        "creationDate": segment.creation_date,
        "lastModifiedDate": segment.last_modified,
        "salt": segment.salt,
        "generation": segment.generation,
        "unbounded": segment.unbounded,
        "unboundedContextKind": segment.unbounded_context_kind,
        "deleted": False,
    }


def _check_read_only(doc: dict[str, Any], original: Segment) -> None:
    for name, value in _read_only_values(original).items():
        if name in doc and not same_json(doc[name], value):
            raise InvalidRequest(f"{name} is read-only")


def _string(value: object, where: str, *, required: bool = False) -> str:
    if value is None and not required:
        return ""
    if required and (not isinstance(value, str) or not value.strip()):
        raise InvalidRequest(f"{where} is required and must be a non-empty string")
    if not isinstance(value, str):
        raise InvalidRequest(f"{where} must be a string")
    return value


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _context_targets(raw: object, where: str) -> list[SegmentTarget]:
    """Entries of ``*Contexts``: one per kind (entries of the same kind are merged), none for user."""
    if not isinstance(raw, list):
        raise InvalidRequest(f"{where} must be a list")
    merged: dict[str, list[str]] = {}
    for i, target in enumerate(raw):
        if not isinstance(target, dict):
            raise InvalidRequest(f"{where}[{i}] must be an object with contextKind and values")
        kind = check_context_kind(target.get("contextKind"), f"{where}[{i}].contextKind")
        if kind == USER_KIND:
            raise InvalidRequest(f"{where}[{i}]: user keys belong in {where.removesuffix('Contexts')}")
        values = check_strings(target.get("values"), f"{where}[{i}].values")
        merged[kind] = _unique([*merged.get(kind, []), *values])
    return [{"contextKind": kind, "values": values} for kind, values in merged.items() if values]


def parse_new_segment_rules(raw: object, *, keep_ids: bool = False) -> list[SegmentRule]:
    """Segment rules from their LaunchDarkly JSON (``UserSegmentRule``: ``clauses`` and optional
    ``weight``, ``bucketBy``, ``rolloutContextKind``, ``description``), e.g. from a create body.

    With ``keep_ids`` (patched documents) given rule and clause ``_id``s are kept, and must be distinct;
    otherwise, and where one is missing, new UUIDs are assigned. Segment references are not checked
    here: call ``validate_segment`` on the result. Raises InvalidRequest.
    """
    if not isinstance(raw, list):
        raise InvalidRequest("rules must be a list")
    rules: list[SegmentRule] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        rule = _parse_rule(item, f"rules[{i}]", keep_ids=keep_ids)
        if rule["_id"] in seen:
            raise InvalidRequest(f"rules[{i}]._id '{rule['_id']}' is used by another rule")
        seen.add(rule["_id"])
        rules.append(rule)
    return rules


def _parse_rule(raw: object, where: str, *, keep_ids: bool) -> SegmentRule:
    if not isinstance(raw, dict):
        raise InvalidRequest(f"{where} must be an object")
    unknown = sorted(set(raw) - _RULE_FIELDS)
    if unknown:
        raise InvalidRequest(f"{where}.{unknown[0]} is not a segment rule field")
    given = {name: value for name, value in raw.items() if value is not None}  # null means absent
    rule_id = given.get("_id") if keep_ids else None
    if rule_id is not None and (not isinstance(rule_id, str) or not rule_id):
        raise InvalidRequest(f"{where}._id must be a non-empty string")
    clauses = given.get("clauses")
    if not isinstance(clauses, list):
        raise InvalidRequest(f"{where}.clauses must be a list")
    check_rule_options(given, where)
    rule: SegmentRule = {"_id": rule_id or new_uuid(), "clauses": _parse_clauses(clauses, where, keep_ids)}
    if "weight" in given:
        rule["weight"] = given["weight"]
    if "bucketBy" in given:
        rule["bucketBy"] = given["bucketBy"]
    if "rolloutContextKind" in given:
        rule["rolloutContextKind"] = given["rolloutContextKind"]
    if "description" in given:
        rule["description"] = given["description"]
    return rule


def _parse_clauses(raw: list[Any], where: str, keep_ids: bool) -> list[Clause]:
    clauses: list[Clause] = []
    for j, item in enumerate(raw):
        clause = parse_clause(item, f"{where}.clauses[{j}]", keep_id=keep_ids)
        if any(c["_id"] == clause["_id"] for c in clauses):
            raise InvalidRequest(f"{where}.clauses[{j}]._id '{clause['_id']}' is used by another clause")
        clauses.append(clause)
    return clauses


def check_segment_patch_paths(ops: list[dict[str, Any]]) -> None:
    """Refuse JSON patch operations that would write a read-only part of a segment: a top-level field
    outside ``SEGMENT_WRITABLE_FIELDS``, the whole document, or any underscore-prefixed member (rule
    and clause ``_id``s). ``test`` operations may read anything. ``ops`` is a shape-checked patch."""
    for i, op in enumerate(ops):
        if op.get("op") == "test":
            continue
        pointers = [("path", op.get("path"))] + ([("from", op.get("from"))] if op.get("op") == "move" else [])
        for name, path in pointers:
            parts = _pointer(path, f"patch[{i}]: {name}")
            if not parts:
                raise InvalidRequest(f"patch[{i}]: the whole segment cannot be replaced; patch its fields")
            if parts[0] not in SEGMENT_WRITABLE_FIELDS:
                reason = "is read-only" if parts[0] in _KNOWN_FIELDS else "is not a segment field"
                raise InvalidRequest(f"patch[{i}]: '{path}' {reason}")
            if any(part.startswith("_") for part in parts):
                raise InvalidRequest(f"patch[{i}]: '{path}' is read-only")


def _pointer(path: object, where: str) -> list[str]:
    """The reference tokens of an RFC 6901 JSON pointer."""
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise InvalidRequest(f"{where} must be a JSON pointer such as '/rules/0'")
    if not path:
        return []
    parts = path[1:].split("/")
    for part in parts:
        if "~" in part.replace("~0", "").replace("~1", ""):
            raise InvalidRequest(f"{where} '{path}' has an invalid '~' escape")
    return [part.replace("~1", "/").replace("~0", "~") for part in parts]
