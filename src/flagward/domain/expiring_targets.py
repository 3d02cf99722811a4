"""Expiring targets: a context that a flag targets individually (or a segment includes or excludes)
until a date, when the server removes it (LaunchDarkly's ``ExpiringTarget``).

Decisions (where LaunchDarkly documents only intent):

- The flag must already target the context with that variation (the segment must already include or
  exclude it); one expiry per context and flag (per context, segment and target type).
- Removal at the date goes through the write path like any change (audit entry, SDK update, approval
  gate). Where the environment requires approval, setting an expiry is refused unless one may bypass
  the approval there, so an expiry set there is ``approved``: its removal at the date is pre-approved
  (as LaunchDarkly treats it). An expiry set where no approval was required is not; if approval is
  required by its date, the removal is refused and recorded as failed with the reason.
- A target already gone by its date (or whose flag or segment is gone) is simply forgotten; a removal
  that fails is kept as ``failed`` (``failureReason``) with an audit entry, and is not retried.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flagward.domain.errors import InvalidRequest
from flagward.domain.ids import new_object_id
from flagward.domain.json_values import INT64_MAX

FLAG = "flag"
SEGMENT = "segment"
TARGET_TYPES = ("included", "excluded")


@dataclass
class ExpiringTarget:
    id: str
    project_key: str
    environment_key: str
    resource_kind: str  # flag | segment
    resource_key: str
    context_kind: str
    context_key: str
    expiration_date: int
    creation_date: int
    variation_id: str | None = None  # flags
    target_type: str | None = None  # segments: included | excluded
    approved: bool = False
    failure_reason: str | None = None
    version: int = 1

    @property
    def slot(self) -> tuple[str, str, str | None]:
        """What identifies an expiry on its resource (flags: one per context; segments: per target type)."""
        return (self.context_kind, self.context_key, self.target_type)

    def document(self) -> dict[str, Any]:
        resource: dict[str, Any] = {
            "kind": self.resource_kind,
            "projectKey": self.project_key,
            "environmentKey": self.environment_key,
        }
        if self.resource_kind == FLAG:
            resource["flagKey"] = self.resource_key
        else:
            resource["key"] = self.resource_key
        doc: dict[str, Any] = {
            "_id": self.id,
            "_version": self.version,
            "expirationDate": self.expiration_date,
            "contextKind": self.context_kind,
            "contextKey": self.context_key,
            "_resourceId": resource,
        }
        if self.variation_id is not None:
            doc["variationId"] = self.variation_id
        if self.target_type is not None:
            doc["targetType"] = self.target_type
        if self.failure_reason is not None:
            doc["failureReason"] = self.failure_reason  # flagward: the removal failed, and why
        return doc


def new_expiring_target(**fields: Any) -> ExpiringTarget:
    return ExpiringTarget(id=new_object_id(), **fields)


@dataclass(frozen=True)
class ExpiryInstruction:
    kind: str  # addExpiringTarget | updateExpiringTarget | removeExpiringTarget
    context_kind: str
    context_key: str
    value: int | None
    variation_id: str | None
    target_type: str | None
    version: int | None


KINDS = ("addExpiringTarget", "updateExpiringTarget", "removeExpiringTarget")


def parse_instruction(raw: object, *, segment: bool, now: int) -> ExpiryInstruction:
    """One instruction of LaunchDarkly's expiring-targets PATCH. Raises InvalidRequest."""
    if not isinstance(raw, dict):
        raise InvalidRequest("each instruction must be an object")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise InvalidRequest(f"unknown kind '{kind}'; use {', '.join(KINDS)}")
    context_key, context_kind = raw.get("contextKey"), raw.get("contextKind", "user")
    if not isinstance(context_key, str) or not context_key:
        raise InvalidRequest("contextKey is required")
    if not isinstance(context_kind, str) or not context_kind:
        raise InvalidRequest("contextKind must be a string")
    value = raw.get("value")
    if kind != "removeExpiringTarget":
        if not isinstance(value, int) or isinstance(value, bool):
            raise InvalidRequest("value must be a timestamp in milliseconds")
        if value <= now:
            raise InvalidRequest("value must be in the future")
        if value > INT64_MAX:
            raise InvalidRequest("value must be a 64-bit timestamp in milliseconds")
    variation_id, target_type = raw.get("variationId"), raw.get("targetType")
    if segment:
        if target_type not in TARGET_TYPES:
            raise InvalidRequest("targetType must be included or excluded")
        variation_id = None
    else:
        if kind == "addExpiringTarget" and not isinstance(variation_id, str):
            raise InvalidRequest("variationId is required")
        target_type = None
    version = raw.get("version")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
        raise InvalidRequest("version must be an integer")
    return ExpiryInstruction(
        kind=str(kind),
        context_kind=context_kind,
        context_key=context_key,
        value=value if isinstance(value, int) else None,
        variation_id=variation_id if isinstance(variation_id, str) else None,
        target_type=target_type if isinstance(target_type, str) else None,
        version=version,
    )
