"""Individual targets: add, remove, replace and clear context keys served a variation.

User targets live in ``targets``, other kinds in ``contextTargets``, as LaunchDarkly stores them. Once
any other kind is targeted, ``contextTargets`` also holds an empty ``user`` placeholder per user entry:
SDKs then read user keys only through those placeholders, so they must stay in step with ``targets``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flagward.domain.errors import InvalidRequest
from flagward.domain.flags import FlagConfig, Target
from flagward.domain.instructions.params import Handler, Step, string_list, variation_index, variation_label

USER = "user"
Slot = tuple[str, int]  # (context kind, variation index)


def normalize_targets(config: FlagConfig) -> None:
    """Put ``config``'s targets in canonical form, in place: one entry per (kind, variation), in first
    position, without duplicate or empty ones; ``contextKind`` spelled out; user placeholders exactly for
    the user entries when other kinds are targeted (missing ones first, in ``targets`` order), none
    otherwise. Malformed entries are left where they are, for validation to name."""
    config["targets"] = _merged(config["targets"], keep_placeholders=False)
    user_variations = [t["variation"] for t in config["targets"] if _well_formed(t)]
    merged = _merged(config["contextTargets"], keep_placeholders=True)
    placeholders: set[int] = set()
    context_targets: list[Target] = []
    for target in merged:
        if _is_placeholder(target):
            if target["variation"] not in user_variations or target["variation"] in placeholders:
                continue
            placeholders.add(target["variation"])
        context_targets.append(target)
    if all(_is_placeholder(t) for t in context_targets):
        config["contextTargets"] = []
        return
    missing = [v for v in user_variations if v not in placeholders]
    config["contextTargets"] = [_entry(USER, v, []) for v in missing] + context_targets


def _merged(targets: list[Any], *, keep_placeholders: bool) -> list[Target]:
    result: list[Target] = []
    slots: dict[Slot, Target] = {}
    for target in targets:
        if not _well_formed(target):
            result.append(target)
            continue
        kind = target.get("contextKind", USER)
        if keep_placeholders and _is_placeholder(target):
            result.append(_entry(USER, target["variation"], []))
            continue
        slot = (kind, target["variation"])
        if slot not in slots:
            slots[slot] = _entry(kind, target["variation"], [])
            result.append(slots[slot])
        values = slots[slot]["values"]
        values += [v for v in dict.fromkeys(target["values"]) if v not in values]
    return [t for t in result if not _well_formed(t) or t["values"] or (keep_placeholders and _is_placeholder(t))]


def _well_formed(target: Any) -> bool:
    return (
        isinstance(target, dict)
        and isinstance(target.get("contextKind", USER), str)
        and isinstance(target.get("variation"), int)
        and not isinstance(target.get("variation"), bool)
        and isinstance(target.get("values"), list)
        and all(isinstance(v, str) for v in target["values"])
    )


def _is_placeholder(target: Any) -> bool:
    return _well_formed(target) and target.get("contextKind", USER) == USER and not target["values"]


def _entry(kind: str, variation: int, values: list[str]) -> Target:
    return {"contextKind": kind, "variation": variation, "values": values}


def _entries(config: FlagConfig, kind: str) -> list[Target]:
    """The entries of ``kind`` (placeholders excluded)."""
    pool = config["targets"] if kind == USER else config["contextTargets"]
    return [t for t in pool if t.get("contextKind", USER) == kind and t["values"]]


def _target_set(targets: list[Target], context_targets: list[Target]) -> set[tuple[str, int, frozenset[str]]]:
    return {
        (t.get("contextKind", USER), t["variation"], frozenset(t["values"]))
        for t in [*targets, *context_targets]
        if t["values"]
    }


def _add(step: Step, kind: str, variation: int, keys: list[str]) -> None:
    """Serve ``variation`` to ``keys`` of ``kind``; a key served another variation is an error."""
    entries = _entries(step.config, kind)
    for key in keys:
        other = next((t["variation"] for t in entries if key in t["values"]), variation)
        if other != variation:
            raise InvalidRequest(
                f"context key '{key}' (kind '{kind}') is already targeted by {variation_label(step.flag, other)}; "
                "remove it there first"
            )
    pool = step.config["targets"] if kind == USER else step.config["contextTargets"]
    pool.append(_entry(kind, variation, keys))
    normalize_targets(step.config)


def _remove(config: FlagConfig, kinds: set[str] | None, variation: int, keys: list[str] | None) -> None:
    """Stop serving ``variation`` to ``keys`` (None: all) of ``kinds`` (None: every kind)."""
    for target in [*config["targets"], *config["contextTargets"]]:
        if target["variation"] == variation and (kinds is None or target.get("contextKind", USER) in kinds):
            target["values"] = [v for v in target["values"] if keys is not None and v not in keys]
    normalize_targets(config)


def _add_targets(step: Step) -> None:
    _add(step, step.context_kind(), step.variation(), step.strings())


def _add_user_targets(step: Step) -> None:
    _add(step, USER, step.variation(), step.strings())


def _remove_targets(step: Step) -> None:
    _remove(step.config, {step.context_kind()}, step.variation(), step.strings())


def _remove_user_targets(step: Step) -> None:
    _remove(step.config, {USER}, step.variation(), step.strings())


def _clear_targets(step: Step) -> None:
    _remove(step.config, None, step.variation(), None)


def _clear_user_targets(step: Step) -> None:
    _remove(step.config, {USER}, step.variation(), None)


def _parse_specs(step: Step, *, user_only: bool) -> dict[Slot, list[str]]:
    """``targets: [{contextKind?, variationId, values}]`` as keys per (kind, variation). A key listed
    for two variations of one kind is an error."""
    slots: dict[Slot, list[str]] = {}
    owner: dict[tuple[str, str], int] = {}
    for i, spec in enumerate(step.objects("targets")):
        kind = USER if user_only else _spec_kind(spec, i)
        variation = variation_index(step.flag, spec.get("variationId"), f"targets[{i}].variationId")
        keys = string_list(spec.get("values"), f"targets[{i}].values", allow_empty=True)
        for key in keys:
            if owner.setdefault((kind, key), variation) != variation:
                raise InvalidRequest(f"targets[{i}]: context key '{key}' (kind '{kind}') is listed for two variations")
        values = slots.setdefault((kind, variation), [])
        values += [k for k in keys if k not in values]
    return slots


def _spec_kind(spec: Mapping[str, Any], i: int) -> str:
    kind = spec.get("contextKind") or USER
    if not isinstance(kind, str):
        raise InvalidRequest(f"targets[{i}].contextKind must be a string")
    return kind


def _replace(step: Step, slots: dict[Slot, list[str]], *, user_only: bool) -> None:
    """Make ``slots`` the targets (with ``user_only``, the user targets). Targeting the same keys as
    before is a no-op that keeps the stored order."""
    config = step.config
    before = list(config["targets"]), list(config["contextTargets"])
    kept = [t for t in config["contextTargets"] if t.get("contextKind", USER) != USER] if user_only else []
    config["targets"] = [_entry(k, v, keys) for (k, v), keys in slots.items() if k == USER]
    config["contextTargets"] = kept + [_entry(k, v, keys) for (k, v), keys in slots.items() if k != USER]
    normalize_targets(config)
    if _target_set(config["targets"], config["contextTargets"]) == _target_set(*before):
        config["targets"], config["contextTargets"] = before


def _replace_targets(step: Step) -> None:
    _replace(step, _parse_specs(step, user_only=False), user_only=False)


def _replace_user_targets(step: Step) -> None:
    slots = _parse_specs(step, user_only=True)
    missing = [v["_id"] for i, v in enumerate(step.flag.variations) if (USER, i) not in slots]
    if missing:
        raise InvalidRequest(f"targets must include an entry for every variation; missing variationId '{missing[0]}'")
    _replace(step, slots, user_only=True)


HANDLERS: dict[str, Handler] = {
    "addTargets": _add_targets,
    "removeTargets": _remove_targets,
    "replaceTargets": _replace_targets,
    "clearTargets": _clear_targets,
    "addUserTargets": _add_user_targets,
    "removeUserTargets": _remove_user_targets,
    "replaceUserTargets": _replace_user_targets,
    "clearUserTargets": _clear_user_targets,
}
