"""Targeting rules and their clauses.

New rules and clauses get UUID ``_id``s. Clauses without ``contextKind`` target ``user`` (segmentMatch
clauses name segments, which carry their own kinds). A segmentMatch clause may only name segments that
exist in the environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flagward.domain.changes import same_json
from flagward.domain.clauses import parse_clause, segment_keys
from flagward.domain.errors import InvalidRequest
from flagward.domain.flags import Clause, Rule
from flagward.domain.ids import new_uuid
from flagward.domain.instructions.params import Handler, Step
from flagward.domain.instructions.rollouts import parse_serve, set_serve


def _parse_clause(step: Step, raw: Any, where: str) -> Clause:
    clause = parse_clause(raw, where, keep_id=False)
    if "contextKind" not in clause and clause["op"] != "segmentMatch":
        clause["contextKind"] = "user"
    for key in segment_keys([clause]):
        if not step.context.segment_exists(step.environment_key, key):
            raise InvalidRequest(
                f"{where} names segment '{key}', which does not exist in environment '{step.environment_key}'"
            )
    return clause


def _parse_clauses(step: Step, raw: Any, where: str) -> list[Clause]:
    if not isinstance(raw, list):
        raise InvalidRequest(f"{where} must be a list of clauses")
    return [_parse_clause(step, c, f"{where}[{i}]") for i, c in enumerate(raw)]


def _build_rule(step: Step, spec: Mapping[str, Any], where: str = "") -> Rule:
    """A rule from ``{clauses, variationId | rolloutWeights…, description?, trackEvents?}``."""
    track_events = spec.get("trackEvents", False)
    if not isinstance(track_events, bool):
        raise InvalidRequest(f"{where}trackEvents must be true or false")
    rule: Rule = {
        "_id": new_uuid(),
        "clauses": _parse_clauses(step, spec.get("clauses"), f"{where}clauses"),
        "trackEvents": track_events,
    }
    set_serve(rule, parse_serve(step.flag, spec, where))
    description = spec.get("description")
    if description is not None:
        if not isinstance(description, str):
            raise InvalidRequest(f"{where}description must be a string")
        rule["description"] = description
    return rule


def _without_ids(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_ids(v) for k, v in value.items() if k not in ("_id", "ref")}
    if isinstance(value, list):
        return [_without_ids(v) for v in value]
    return value


def _add_rule(step: Step) -> None:
    rules = step.config["rules"]
    before_id = step.params.get("beforeRuleId")
    position = len(rules)
    if before_id is not None:
        position = next((i for i, r in enumerate(rules) if r["_id"] == before_id), -1)
        if position < 0:
            raise InvalidRequest(f"beforeRuleId '{before_id}' is not a rule of this flag in this environment")
    rules.insert(position, _build_rule(step, step.params))


def _remove_rule(step: Step) -> None:
    rule_id = step.text("ruleId")
    step.config["rules"] = [r for r in step.config["rules"] if r["_id"] != rule_id]


def _replace_rules(step: Step) -> None:
    """Replacing rules with the same rules (ids aside) is a no-op that keeps the ids."""
    rules = [_build_rule(step, spec, f"rules[{i}].") for i, spec in enumerate(step.objects("rules"))]
    if not same_json(_without_ids(rules), _without_ids(step.config["rules"])):
        step.config["rules"] = rules


def _reorder_rules(step: Step) -> None:
    ids = step.values("ruleIds")
    current = [r["_id"] for r in step.config["rules"]]
    if sorted(map(str, ids)) != sorted(current) or not all(isinstance(i, str) for i in ids):
        raise InvalidRequest(f"ruleIds must list every rule of the flag exactly once: {', '.join(current) or 'none'}")
    by_id = {r["_id"]: r for r in step.config["rules"]}
    step.config["rules"] = [by_id[i] for i in ids]


def _add_clauses(step: Step) -> None:
    rule = step.rule()
    rule["clauses"] += _parse_clauses(step, step.value("clauses"), "clauses")


def _remove_clauses(step: Step) -> None:
    rule = step.rule()
    ids = step.strings("clauseIds")
    unknown = [i for i in ids if i not in {c["_id"] for c in rule["clauses"]}]
    if unknown:
        raise InvalidRequest(f"clauseIds: '{unknown[0]}' is not a clause of rule '{rule['_id']}'")
    rule["clauses"] = [c for c in rule["clauses"] if c["_id"] not in ids]


def _update_clause(step: Step) -> None:
    rule = step.rule()
    old = step.clause(rule)
    new = _parse_clause(step, step.value("clause"), "clause")
    new["_id"] = old["_id"]
    rule["clauses"][rule["clauses"].index(old)] = new


def _add_values_to_clause(step: Step) -> None:
    clause = step.clause(step.rule())
    added = [v for v in step.values("values") if not any(same_json(v, c) for c in clause["values"])]
    candidate = {**clause, "values": clause["values"] + added}
    clause["values"] = _parse_clause(step, candidate, "values")["values"]


def _remove_values_from_clause(step: Step) -> None:
    clause = step.clause(step.rule())
    removed = step.values("values")
    clause["values"] = [v for v in clause["values"] if not any(same_json(v, r) for r in removed)]


def _update_rule_serve(step: Step) -> None:
    set_serve(step.rule(), parse_serve(step.flag, step.params))


def _update_rule_description(step: Step) -> None:
    rule = step.rule()
    description = step.value("description")
    if not isinstance(description, str):
        raise InvalidRequest("description must be a string")
    rule["description"] = description


def _update_rule_track_events(step: Step) -> None:
    step.rule()["trackEvents"] = step.boolean("trackEvents")


HANDLERS: dict[str, Handler] = {
    "addRule": _add_rule,
    "removeRule": _remove_rule,
    "replaceRules": _replace_rules,
    "reorderRules": _reorder_rules,
    "addClauses": _add_clauses,
    "removeClauses": _remove_clauses,
    "updateClause": _update_clause,
    "addValuesToClause": _add_values_to_clause,
    "removeValuesFromClause": _remove_values_from_clause,
    "updateRuleVariationOrRollout": _update_rule_serve,
    "updateRuleDescription": _update_rule_description,
    "updateRuleTrackEvents": _update_rule_track_events,
}
