"""RFC 6902 JSON patch and RFC 7386 merge patch over a resource document, with read-only fields
refused. The caller validates the patched document the same way it validates any other change."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import jsonpatch
import jsonpointer

from flagward.domain.errors import InvalidRequest, OptimisticLockError
from flagward.domain.json_values import copy_json

_OPS = {"add", "remove", "replace", "move", "copy", "test"}


def check_patch_shape(patch: object) -> list[dict[str, Any]]:
    if not isinstance(patch, list) or not all(isinstance(op, dict) for op in patch):
        raise InvalidRequest("the body must be a JSON patch: an array of operations")
    for i, op in enumerate(patch):
        if op.get("op") not in _OPS:
            raise InvalidRequest(f"patch[{i}].op must be one of {', '.join(sorted(_OPS))}")
        if not isinstance(op.get("path"), str):
            raise InvalidRequest(f"patch[{i}].path is required")
        if op["op"] in ("add", "replace", "test") and "value" not in op:
            raise InvalidRequest(f"patch[{i}].value is required for '{op['op']}'")
        if op["op"] in ("move", "copy") and not isinstance(op.get("from"), str):
            raise InvalidRequest(f"patch[{i}].from is required for '{op['op']}'")
    return patch


def _top_field(path: str) -> str:
    return jsonpointer.JsonPointer(path).parts[0] if path not in ("", "/") else ""


def apply_json_patch(
    document: dict[str, Any], patch: object, *, writable: Collection[str], testable: Collection[str] = ()
) -> dict[str, Any]:
    """Apply ``patch`` to a copy of ``document``.

    Only top-level fields in ``writable`` may be changed; ``test`` may also read ``testable`` ones (for
    optimistic locking on versions). A failing ``test`` raises OptimisticLockError (409).
    """
    ops = check_patch_shape(patch)
    for i, op in enumerate(ops):
        paths = [op["path"]] + ([op["from"]] if op["op"] == "move" else [])
        for path in paths:
            try:
                field = _top_field(path)
            except jsonpointer.JsonPointerException as exc:
                raise InvalidRequest(f"patch[{i}].path is not a JSON pointer: {exc}") from None
            allowed = writable if op["op"] != "test" else {*writable, *testable}
            if field not in allowed:
                raise InvalidRequest(f"patch[{i}]: '{path}' is read-only or unknown and cannot be patched")
    try:
        # A copy made here, not two (apply_patch deep-copies once more unless asked to patch in place).
        patched: object = jsonpatch.apply_patch(copy_json(document), ops, in_place=True)
    except jsonpatch.JsonPatchTestFailed:
        raise OptimisticLockError() from None
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
        raise InvalidRequest(f"invalid patch: {exc}") from None
    if not isinstance(patched, dict):
        raise InvalidRequest("the patch must leave an object")
    return dict(patched)


def apply_merge_patch(document: dict[str, Any], merge: object, *, writable: Collection[str]) -> dict[str, Any]:
    if not isinstance(merge, dict):
        raise InvalidRequest("merge must be a JSON object")
    for field in merge:
        if field not in writable:
            raise InvalidRequest(f"'{field}' is read-only or unknown and cannot be patched")
    merged: dict[str, Any] = _merge(copy_json(document), merge)
    return merged


def _merge(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy_json(patch)
    result = target if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge(result.get(key), value)
    return result


def patch_document(
    document: dict[str, Any],
    kind: str,
    operations: object,
    *,
    writable: Collection[str],
    testable: Collection[str] = (),
    check_paths: Callable[[list[dict[str, Any]]], None] | None = None,
) -> dict[str, Any]:
    """A JSON patch (``kind`` "json", paths first vetted by ``check_paths``) or a merge patch ("merge")
    of ``document``; the caller parses and validates the result like any other change."""
    if kind == "json":
        ops = check_patch_shape(operations)
        if check_paths is not None:
            check_paths(ops)
        return apply_json_patch(document, ops, writable=writable, testable=testable)
    if kind == "merge":
        return apply_merge_patch(document, operations, writable=writable)
    raise InvalidRequest(f"unknown patch kind {kind}")
