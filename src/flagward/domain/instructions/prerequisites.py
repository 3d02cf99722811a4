"""Prerequisites: other flags of the project that must serve a given variation first.

A prerequisite names an existing, non-archived flag other than this one, by one of ITS variations, and
may not close a cycle of prerequisites in the environment.
"""

from __future__ import annotations

from typing import Any

from flagward.domain.errors import InvalidRequest
from flagward.domain.flag_validation import find_prerequisite_cycle
from flagward.domain.flags import Prerequisite
from flagward.domain.instructions.params import Handler, Step, variation_index


def _resolve(step: Step, key: Any, variation_id: Any, *, where: str = "") -> Prerequisite:
    """``{key, variation}`` for prerequisite flag ``key`` served ``variation_id``. A flag newly made a
    prerequisite must not be archived; one already in place may stay."""
    if not isinstance(key, str) or not key:
        raise InvalidRequest(f"{where}key must be a non-empty string")
    if key == step.flag.key:
        raise InvalidRequest(f"{where}key: a flag cannot be its own prerequisite")
    other = step.context.get_flag(key)
    if other is None:
        raise InvalidRequest(f"{where}key: flag '{key}' does not exist in project '{step.flag.project_key}'")
    if other.archived and _find(step, key) is None:
        raise InvalidRequest(f"{where}key: flag '{key}' is archived; restore it before making it a prerequisite")
    return {"key": key, "variation": variation_index(other, variation_id, f"{where}variationId")}


def _find(step: Step, key: str) -> Prerequisite | None:
    return next((p for p in step.config["prerequisites"] if p["key"] == key), None)


def _check_cycle(step: Step) -> None:
    cycle = find_prerequisite_cycle(step.flag, step.environment_key, step.context.get_flag)
    if cycle:
        raise InvalidRequest(
            f"this would make a prerequisite cycle in environment '{step.environment_key}': {' → '.join(cycle)}"
        )


def _add_prerequisite(step: Step) -> None:
    new = _resolve(step, step.text("key"), step.text("variationId"))
    existing = _find(step, new["key"])
    if existing is not None and existing["variation"] != new["variation"]:
        raise InvalidRequest(f"flag '{new['key']}' is already a prerequisite; use updatePrerequisite to change it")
    if existing is None:
        step.config["prerequisites"].append(new)
        _check_cycle(step)


def _remove_prerequisite(step: Step) -> None:
    key = step.text("key")
    step.config["prerequisites"] = [p for p in step.config["prerequisites"] if p["key"] != key]


def _update_prerequisite(step: Step) -> None:
    key = step.text("key")
    existing = _find(step, key)
    if existing is None:
        raise InvalidRequest(
            f"flag '{key}' is not a prerequisite in environment '{step.environment_key}'; use addPrerequisite"
        )
    existing["variation"] = _resolve(step, key, step.text("variationId"))["variation"]


def _replace_prerequisites(step: Step) -> None:
    new: list[Prerequisite] = []
    for i, spec in enumerate(step.objects("prerequisites")):
        prerequisite = _resolve(step, spec.get("key"), spec.get("variationId"), where=f"prerequisites[{i}].")
        if any(p["key"] == prerequisite["key"] for p in new):
            raise InvalidRequest(f"prerequisites[{i}].key: flag '{prerequisite['key']}' is listed twice")
        new.append(prerequisite)
    step.config["prerequisites"] = new
    _check_cycle(step)


HANDLERS: dict[str, Handler] = {
    "addPrerequisite": _add_prerequisite,
    "removePrerequisite": _remove_prerequisite,
    "updatePrerequisite": _update_prerequisite,
    "replacePrerequisites": _replace_prerequisites,
}
