"""flagward's own segment instruction ``replaceSegmentConfiguration``: a segment's targeting, verbatim.

The segment counterpart of ``replaceFlagConfiguration``. LaunchDarkly's segment instructions cannot set
rule ids or the salt, so an import into an environment whose segments require approval (``flagward
import --as-requests``) proposes the imported segment as it is: ``{"kind": "replaceSegmentConfiguration",
"configuration": {...}}`` with exactly ``SEGMENT_CONFIGURATION_FIELDS`` in the form of flagward's segment
representation (``rules`` with their ``_id``s, ``weight``, ``bucketBy``, ``rolloutContextKind``).
Applying it replaces those fields, read as a JSON patch of the segment is (``segment_from_document``),
and validates the result as the import does (``validate_segment``: overlaps, references, cycles), so
weighted rules bucket exactly as they did (salt and rule ids kept). Name, description, tags, version,
``generation`` and the big-segment fields stay the write path's (the import refuses unbounded segments).
"""

from __future__ import annotations

import copy
from typing import Any

from flagward.domain.errors import InvalidRequest
from flagward.domain.segment_documents import segment_document, segment_from_document
from flagward.domain.segment_validation import SegmentChangeContext, validate_segment
from flagward.domain.segments import Segment

KIND = "replaceSegmentConfiguration"
SEGMENT_CONFIGURATION_FIELDS = ("salt", "included", "excluded", "includedContexts", "excludedContexts", "rules")


def segment_configuration_of(segment: Segment) -> dict[str, Any]:
    """The instruction's ``configuration`` for ``segment``."""
    doc = segment_document(segment)
    return {name: copy.deepcopy(doc[name]) for name in SEGMENT_CONFIGURATION_FIELDS}


def has_targeting(configuration: dict[str, Any]) -> bool:
    """Whether a configuration puts anyone in or out of the segment (what segment approvals gate)."""
    return any(configuration[name] for name in SEGMENT_CONFIGURATION_FIELDS if name != "salt")


def replace_configuration(segment: Segment, params: dict[str, Any], context: SegmentChangeContext) -> None:
    """The handler: ``segment`` (a working copy) takes the configuration's fields. Raises InvalidRequest
    naming the path below ``configuration``."""
    raw = params.get("configuration")
    if not isinstance(raw, dict):
        raise InvalidRequest("configuration must be an object (a segment's salt, targets and rules)")
    missing = [name for name in SEGMENT_CONFIGURATION_FIELDS if name not in raw]
    unknown = sorted(set(raw) - set(SEGMENT_CONFIGURATION_FIELDS))
    if missing:
        raise InvalidRequest(f"configuration.{missing[0]} is required")
    if unknown:
        raise InvalidRequest(f"configuration.{unknown[0]} is not a field of a segment's configuration")
    salt = raw["salt"]
    if not isinstance(salt, str) or not salt:
        raise InvalidRequest("configuration.salt must be a non-empty string (weighted rules bucket by it)")
    salted = segment.clone()
    salted.salt = salt
    doc = segment_document(salted)
    doc.update({name: copy.deepcopy(raw[name]) for name in SEGMENT_CONFIGURATION_FIELDS})
    try:
        replaced = segment_from_document(doc, salted)
        validate_segment(replaced, context)
    except InvalidRequest as error:
        raise InvalidRequest(_below_configuration(error.message)) from None
    for name in ("salt", "included", "excluded", "included_contexts", "excluded_contexts", "rules"):
        setattr(segment, name, getattr(replaced, name))


def _below_configuration(message: str) -> str:
    """``rules[0].weight must …`` -> ``configuration.rules[0].weight must …``; other reasons (overlaps,
    references, cycles) -> ``configuration: …``."""
    head = message.split(" ", 1)[0].split(".", 1)[0].split("[", 1)[0].rstrip(":")
    return f"configuration.{message}" if head in SEGMENT_CONFIGURATION_FIELDS else f"configuration: {message}"
