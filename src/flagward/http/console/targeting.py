"""A flag environment's targeting laid out in parts (on/off, targets, rules, default rule, off variation,
prerequisites) so the request page can put two states side by side and mark the parts that differ.

This is layout, not interpretation: the plain-language rendering of instructions and the line diff are
``flagward.domain.describe`` and ``flagward.domain.diff``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flagward.domain.flags import FlagConfig, Variation

PARTS = (
    ("on", "Targeting"),
    ("prerequisites", "Prerequisites"),
    ("targets", "Individual targets"),
    ("rules", "Rules"),
    ("fallthrough", "Default rule"),
    ("offVariation", "Off variation"),
)


@dataclass(frozen=True)
class Part:
    key: str
    title: str
    lines: list[str]
    raw: str  # what "differs" compares


def variation_label(variations: list[Variation], index: object) -> str:
    if not isinstance(index, int) or not 0 <= index < len(variations):
        return f"variation {index}"
    variation = variations[index]
    value = json.dumps(variation["value"])
    return f"{variation['name']} ({value})" if variation.get("name") else value


def _serve(variations: list[Variation], vor: Any) -> str:
    if not isinstance(vor, dict):
        return "nothing"
    if "rollout" in vor:
        weights = vor["rollout"].get("variations", [])
        parts = [f"{w['weight'] / 1000:g}% {variation_label(variations, w['variation'])}" for w in weights]
        by = vor["rollout"].get("bucketBy")
        return "a rollout: " + ", ".join(parts) + (f" (by {by})" if by else "")
    return variation_label(variations, vor.get("variation"))


def _clause(clause: Any) -> str:
    values = ", ".join(json.dumps(v) for v in clause.get("values", []))
    kind = clause.get("contextKind")
    attribute = f"{kind}.{clause['attribute']}" if kind and kind != "user" else clause["attribute"]
    op = ("not " if clause.get("negate") else "") + clause["op"]
    return f"{attribute} {op} {values}"


def _lines(key: str, config: FlagConfig, variations: list[Variation]) -> list[str]:
    if key == "on":
        return ["On" if config["on"] else "Off (serving the off variation)"]
    if key == "prerequisites":
        return [f"{p['key']} is variation {p['variation']}" for p in config["prerequisites"]] or ["None"]
    if key == "targets":
        lines = []
        for target in [*config["targets"], *config["contextTargets"]]:
            if target.get("values"):
                kind = target.get("contextKind", "user")
                who = ", ".join(target["values"])
                lines.append(f"{kind} {who} → {variation_label(variations, target['variation'])}")
        return lines or ["None"]
    if key == "rules":
        lines = []
        for number, rule in enumerate(config["rules"], start=1):
            when = " and ".join(_clause(c) for c in rule["clauses"]) or "always"
            label = f" “{rule['description']}”" if rule.get("description") else ""
            disabled = " (disabled)" if rule.get("disabled") else ""
            lines.append(f"Rule {number}{label}{disabled}: if {when} → serve {_serve(variations, rule)}")
        return lines or ["None"]
    if key == "fallthrough":
        return [f"Serve {_serve(variations, config['fallthrough'])}"]
    off = config.get("offVariation")
    return [variation_label(variations, off) if off is not None else "None (SDKs get their fallback value)"]


def _raw(key: str, config: FlagConfig) -> str:
    if key == "targets":
        return json.dumps([config["targets"], config["contextTargets"]], sort_keys=True)
    if key == "rules":  # rule ids are identity, not content
        rules: list[dict[str, Any]] = []
        for rule in config["rules"]:
            clauses = [{k: v for k, v in c.items() if k != "_id"} for c in rule["clauses"]]
            rules.append({**{k: v for k, v in rule.items() if k != "_id"}, "clauses": clauses})
        return json.dumps(rules, sort_keys=True)
    document: dict[str, Any] = dict(config)
    return json.dumps(document.get(key), sort_keys=True)


def parts(config: FlagConfig | None, variations: list[Variation]) -> list[Part]:
    if config is None:
        return []
    return [Part(key, title, _lines(key, config, variations), _raw(key, config)) for key, title in PARTS]


@dataclass(frozen=True)
class Row:
    """One part across the columns, and whether the last column differs from the one before it."""

    key: str
    title: str
    cells: list[list[str]]
    changed: bool


def side_by_side(columns: list[FlagConfig | None], variations: list[Variation]) -> list[Row]:
    laid_out = [parts(c, variations) for c in columns]
    rows = []
    for index, (key, title) in enumerate(PARTS):
        cells = [p[index].lines if p else ["—"] for p in laid_out]
        raws = [p[index].raw if p else "" for p in laid_out]
        rows.append(Row(key, title, cells, changed=len(raws) > 1 and raws[-1] != raws[-2]))
    return rows
