"""Shapes of PATCH bodies LaunchDarkly accepts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request

from flagward.domain.errors import InvalidRequest

SEMANTIC_PATCH = "domain-model=launchdarkly.semanticpatch"


def is_semantic_patch(request: Request) -> bool:
    return SEMANTIC_PATCH in request.headers.get("content-type", "").replace(" ", "").lower()


@dataclass(frozen=True)
class PatchBody:
    kind: str  # "json" | "merge" | "semantic"
    operations: Any
    comment: str | None = None
    environment_key: str | None = None


def comment_of(payload: dict[str, Any]) -> str | None:
    """The body's ``comment`` (it goes to the audit log): a string or absent; InvalidRequest otherwise."""
    comment = payload.get("comment")
    if comment is not None and not isinstance(comment, str):
        raise InvalidRequest("comment must be a string")
    return comment


def parse_patch(request: Request, payload: Any, *, merge: bool = False, semantic: bool = False) -> PatchBody:
    """A JSON patch (bare array or ``{comment, patch}``), a merge patch ``{comment, merge}`` where
    ``merge`` is allowed, or a semantic patch ``{comment, environmentKey, instructions}`` when the
    content type says so and ``semantic`` is allowed."""
    if semantic and is_semantic_patch(request):
        if not isinstance(payload, dict) or not isinstance(payload.get("instructions"), list):
            raise InvalidRequest("a semantic patch needs an 'instructions' array")
        env = payload.get("environmentKey")
        if env is not None and not isinstance(env, str):
            raise InvalidRequest("environmentKey must be a string")
        return PatchBody("semantic", payload["instructions"], comment_of(payload), env)
    if isinstance(payload, list):
        return PatchBody("json", payload)
    if isinstance(payload, dict) and "patch" in payload:
        return PatchBody("json", payload["patch"], comment_of(payload))
    if merge and isinstance(payload, dict) and "merge" in payload:
        return PatchBody("merge", payload["merge"], comment_of(payload))
    if isinstance(payload, dict) and "instructions" in payload:
        raise InvalidRequest(
            "this looks like a semantic patch: send Content-Type: "
            "application/json; domain-model=launchdarkly.semanticpatch"
        )
    raise InvalidRequest("the body must be a JSON patch array or {comment, patch}")


def json_patch_only(request: Request, payload: Any) -> PatchBody:
    return parse_patch(request, payload)
