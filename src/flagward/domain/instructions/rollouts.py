"""What a rule or the fallthrough serves: one variation, or a percentage rollout over several.

Instructions give ``variationId``, or ``rolloutWeights`` ``{variationId: weight}`` with the optional
``rolloutBucketBy`` and ``rolloutContextKind``; stored configurations use variation indexes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flagward.domain.errors import InvalidRequest
from flagward.domain.flag_validation import TOTAL_WEIGHT
from flagward.domain.flags import Flag, Rollout, Rule, VariationOrRollout, WeightedVariation
from flagward.domain.instructions.params import variation_index


def parse_serve(flag: Flag, params: Mapping[str, Any], where: str = "") -> VariationOrRollout:
    """Exactly one of ``variationId`` and ``rolloutWeights`` from ``params``; ``where`` prefixes the
    parameter names in errors (``rules[2].``). Raises InvalidRequest."""
    has_variation = params.get("variationId") is not None
    if has_variation == (params.get("rolloutWeights") is not None):
        raise InvalidRequest(f"give either {where}variationId or {where}rolloutWeights (not both)")
    if has_variation:
        return {"variation": variation_index(flag, params["variationId"], f"{where}variationId")}
    return {"rollout": _rollout(flag, params, where)}


def _rollout(flag: Flag, params: Mapping[str, Any], where: str) -> Rollout:
    weights = params["rolloutWeights"]
    if not isinstance(weights, dict) or not weights:
        raise InvalidRequest(f"{where}rolloutWeights must be an object mapping variationIds to weights")
    entries: list[WeightedVariation] = []
    for variation_id, weight in weights.items():
        index = variation_index(flag, variation_id, f"{where}rolloutWeights key")
        if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= TOTAL_WEIGHT:
            raise InvalidRequest(
                f"{where}rolloutWeights['{variation_id}'] must be an integer from 0 to {TOTAL_WEIGHT} "
                "(thousandths of a percent)"
            )
        entries.append({"variation": index, "weight": weight})
    total = sum(e["weight"] for e in entries)
    if total != TOTAL_WEIGHT:
        raise InvalidRequest(f"{where}rolloutWeights must sum to {TOTAL_WEIGHT} (100%), not {total}")
    rollout: Rollout = {
        "variations": sorted(entries, key=lambda e: e["variation"]),
        "contextKind": _optional_text(params, f"{where}rolloutContextKind", "rolloutContextKind") or "user",
    }
    bucket_by = _optional_text(params, f"{where}rolloutBucketBy", "rolloutBucketBy")
    if bucket_by is not None:
        rollout["bucketBy"] = bucket_by
    return rollout


def _optional_text(params: Mapping[str, Any], label: str, name: str) -> str | None:
    value = params.get(name)
    if value is not None and (not isinstance(value, str) or not value):
        raise InvalidRequest(f"{label} must be a non-empty string")
    return value


def set_serve(holder: Rule | VariationOrRollout, serve: VariationOrRollout) -> None:
    """Make ``holder`` (a rule or a fallthrough) serve ``serve``, dropping what it served before."""
    holder.pop("variation", None)
    holder.pop("rollout", None)
    if "rollout" in serve:
        holder["rollout"] = serve["rollout"]
    else:
        holder["variation"] = serve["variation"]
