"""Semantic-patch instructions and targeting in plain language, for people (console pages, e-mails).

``describe_instructions`` renders each instruction of a request as one sentence ("Turn the flag on",
"Add rule 2: users whose email ends with @example.com → serve true"); the ``describe_*`` helpers render
the pieces (values, variations, clauses, what a rule serves), which ``diff`` reuses so that both read
the same. Nothing here raises on a malformed or unknown instruction: it still gets a sentence.

Conventions:

* Values: a string is shown bare unless that would be ambiguous (empty, surrounding whitespace, or text
  that reads as another JSON value: ``"true"``, ``"3"``, ``"null"``, ``"[1]"``), then JSON-quoted;
  any other value is compact JSON (``{"x": 1}``, ``3``, ``true``).
* Variations: by value, or ``Name (value)`` when named; counted from 1 ("variation 2") like rules.
* Rules: counted from 1 in the environment's order, named ``rule 2 ("its description")`` or
  ``rule 2 (users whose …)``. Positions follow the request: an instruction after ``addRule`` sees the
  added rule. A rule the flag does not have (yet) is named by its id.
* Rollout weights are thousandths of a percent: 12345 reads "12.345%".
* Lists of context keys in sentences stop after ``KEY_LIMIT`` keys ("… and 5 more").
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flagward.domain.flags import Flag

FlagLookup = Callable[[str], Flag | None]
"""Another flag of the project by key (None if unknown): resolves prerequisite variations."""

KEY_LIMIT = 10
_NO_RULE = "everyone"

# -- values, variations ------------------------------------------------------------------------------


def describe_value(value: Any) -> str:
    """A JSON value, compactly (see the module docstring for when strings are quoted)."""
    if isinstance(value, str):
        return _json(value) if _ambiguous(value) else value
    return _json(value)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=repr)


def _ambiguous(text: str) -> bool:
    if not text or text != text.strip():
        return True
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _quoted(value: Any) -> str:
    """An identifier or free text named in a sentence: ``'key'``."""
    return f"'{value}'" if isinstance(value, str) else _json(value)


def describe_variation(flag: Flag, index: object) -> str:
    """Variation ``index`` of ``flag``: ``true``, ``b``, or ``Beta (b)`` when it has a name."""
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(flag.variations):
        return f"an unknown variation ({describe_value(index)})"
    variation = flag.variations[index]
    value = describe_value(variation.get("value"))
    name = variation.get("name")
    return f"{name} ({value})" if isinstance(name, str) and name and name != value else value


def _index_of_id(flag: Flag, variation_id: object) -> int | None:
    return next((i for i, v in enumerate(flag.variations) if v.get("_id") == variation_id), None)


def _variation_by_id(flag: Flag, variation_id: object) -> str:
    index = _index_of_id(flag, variation_id)
    return f"an unknown variation {_quoted(variation_id)}" if index is None else describe_variation(flag, index)


# -- clauses ----------------------------------------------------------------------------------------

_OPERATORS: dict[str, tuple[str, str]] = {
    "in": ("is one of", "is not one of"),
    "endsWith": ("ends with", "does not end with"),
    "startsWith": ("starts with", "does not start with"),
    "matches": ("matches the regex", "does not match the regex"),
    "contains": ("contains", "does not contain"),
    "lessThan": ("is less than", "is not less than"),
    "lessThanOrEqual": ("is at most", "is not at most"),
    "greaterThan": ("is greater than", "is not greater than"),
    "greaterThanOrEqual": ("is at least", "is not at least"),
    "before": ("is before", "is not before"),
    "after": ("is after", "is not after"),
    "semVerEqual": ("is version", "is not version"),
    "semVerLessThan": ("is a version before", "is not a version before"),
    "semVerGreaterThan": ("is a version after", "is not a version after"),
}


def _subject(kind: object) -> str:
    return "users" if kind in (None, "user") else f"{describe_value(kind)} contexts"


def _clause_parts(clause: object) -> tuple[str, str]:
    """``(subject, predicate)``: ``("users", "whose email ends with @example.com")``."""
    if not isinstance(clause, Mapping):
        return "contexts", f"matching an unreadable condition {describe_value(clause)}"
    op, negate = clause.get("op"), clause.get("negate") is True
    raw_values = clause.get("values")
    values = list(raw_values) if isinstance(raw_values, list) else [raw_values]
    if op == "segmentMatch":
        segments = ", ".join(describe_value(v) for v in values) or "no segment"
        if len(values) == 1:
            return "contexts", f"{'not ' if negate else ''}in segment {segments}"
        return "contexts", f"in {'none' if negate else 'one'} of the segments {segments}"
    attribute = describe_value(clause.get("attribute"))
    if op == "in" and len(values) == 1:
        words = "is not" if negate else "is"
    elif isinstance(op, str) and op in _OPERATORS:
        words = _OPERATORS[op][negate]
    else:
        words = f"{'does not satisfy' if negate else 'satisfies'} {describe_value(op)}"
    rendered = [_date(v) if op in ("before", "after") else describe_value(v) for v in values]
    joined = (", " if op == "in" else " or ").join(rendered) or "nothing"
    return _subject(clause.get("contextKind")), f"whose {attribute} {words} {joined}"


def _date(value: Any) -> str:
    """A millisecond timestamp as a UTC date; anything else as itself."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        except (OverflowError, OSError, ValueError):
            pass
    return describe_value(value)


def describe_clause(clause: object) -> str:
    """One condition: ``users whose email ends with @example.com``, ``contexts in segment beta``."""
    return " ".join(_clause_parts(clause))


def describe_clauses(clauses: object) -> str:
    """Conditions joined with "and" (the subject is not repeated); no condition reads "everyone"."""
    if not isinstance(clauses, list):
        return describe_value(clauses) if clauses is not None else _NO_RULE
    words: list[str] = []
    previous = None
    for clause in clauses:
        subject, predicate = _clause_parts(clause)
        words.append(predicate if subject == previous else f"{subject} {predicate}")
        previous = subject
    return " and ".join(words) or _NO_RULE


# -- what rules serve -------------------------------------------------------------------------------


def _percent(weight: object) -> str:
    if isinstance(weight, int | float) and not isinstance(weight, bool):
        try:
            return f"{weight / 1000:g}%"
        except OverflowError:  # an integer too large for a float
            pass
    return describe_value(weight)


def _rollout(entries: list[tuple[str, object]], bucket_by: object, kind: object) -> str:
    shares = ", ".join(f"{_percent(weight)} {label}" for label, weight in entries)
    attribute = describe_value(bucket_by) if bucket_by else "key"
    by = attribute if kind in (None, "", "user") else f"{describe_value(kind)} {attribute}"
    return f"a rollout: {shares} by {by}"


def describe_serve(flag: Flag, holder: object) -> str:
    """What a stored rule or fallthrough serves: ``true``, or ``a rollout: 20% true, 80% false by key``."""
    if not isinstance(holder, Mapping):
        return "nothing"
    rollout = holder.get("rollout")
    if isinstance(rollout, Mapping):
        weighted = rollout.get("variations")
        entries = [
            (describe_variation(flag, w.get("variation")), w.get("weight"))
            for w in (weighted if isinstance(weighted, list) else [])
            if isinstance(w, Mapping)
        ]
        return _rollout(entries, rollout.get("bucketBy"), rollout.get("contextKind"))
    if "variation" in holder:
        return describe_variation(flag, holder["variation"])
    return "nothing"


def _serve_params(flag: Flag, params: Mapping[str, Any]) -> str:
    """What an instruction's ``variationId`` or ``rolloutWeights`` (+ bucketing) says to serve."""
    weights = params.get("rolloutWeights")
    if isinstance(weights, Mapping) and weights:
        entries = [(_variation_by_id(flag, vid), w) for vid, w in weights.items()]
        return _rollout(entries, params.get("rolloutBucketBy"), params.get("rolloutContextKind"))
    if params.get("variationId") is not None:
        return _variation_by_id(flag, params["variationId"])
    return "an unspecified variation"


def describe_rule(flag: Flag, rule: object) -> str:
    """A rule's conditions and what it serves: ``users whose … → serve true``."""
    if not isinstance(rule, Mapping):
        return describe_value(rule)
    disabled = " (disabled)" if rule.get("disabled") is True else ""
    return f"{describe_clauses(rule.get('clauses'))} → serve {describe_serve(flag, rule)}{disabled}"


def describe_prerequisite(key: object, variation: object, *, get_flag: FlagLookup | None = None) -> str:
    """``checkout-v2 must serve true``; ``variation`` is an index of the prerequisite flag's variations."""
    other = get_flag(key) if get_flag is not None and isinstance(key, str) else None
    if other is not None:
        label = describe_variation(other, variation)
    elif isinstance(variation, int) and not isinstance(variation, bool):
        label = f"its variation {variation + 1}"
    else:
        label = f"the variation {_quoted(variation)}"
    return f"{describe_value(key)} must serve {label}"


def _prerequisite_by_id(key: object, variation_id: object, get_flag: FlagLookup | None) -> str:
    other = get_flag(key) if get_flag is not None and isinstance(key, str) else None
    index = _index_of_id(other, variation_id) if other is not None else None
    if index is None:
        return f"{describe_value(key)} must serve the variation {_quoted(variation_id)}"
    return describe_prerequisite(key, index, get_flag=get_flag)


def _keys(values: object, *, limit: int | None = KEY_LIMIT) -> str:
    keys = values if isinstance(values, list) else [values]
    shown = [describe_value(k) for k in (keys if limit is None else keys[:limit])]
    more = len(keys) - len(shown)
    return (", ".join(shown) or "nobody") + (f" … and {more} more" if more else "")


def describe_keys(kind: object, values: object, *, limit: int | None = KEY_LIMIT) -> str:
    """Targeted context keys: ``alice, bob`` for users, ``org contexts acme`` for another kind."""
    keys = _keys(values, limit=limit)
    return keys if kind in (None, "", "user") else f"{_subject(kind)} {keys}"


# -- instructions -----------------------------------------------------------------------------------


@dataclass
class _RuleSlot:
    rule_id: str | None
    rule: Mapping[str, Any] | None
    summary: str


@dataclass
class _Step:
    """One instruction being described, and the rule positions as the request has left them so far."""

    flag: Flag
    params: Mapping[str, Any]
    rules: list[_RuleSlot]
    get_flag: FlagLookup | None = None

    def get(self, name: str) -> Any:
        return self.params.get(name)

    def variation(self, name: str = "variationId") -> str:
        return _variation_by_id(self.flag, self.get(name))

    def serve(self) -> str:
        return _serve_params(self.flag, self.params)

    def position(self, rule_id: object) -> int | None:
        return next((i for i, slot in enumerate(self.rules) if rule_id is not None and slot.rule_id == rule_id), None)

    def rule_label(self, rule_id: object = None) -> str:
        rule_id = self.get("ruleId") if rule_id is None else rule_id
        position = self.position(rule_id)
        if position is None:
            return f"rule {_quoted(rule_id)}"
        return f"rule {position + 1} ({self.rules[position].summary})"

    def rule(self) -> Mapping[str, Any] | None:
        position = self.position(self.get("ruleId"))
        return None if position is None else self.rules[position].rule

    def clause(self, clause_id: object) -> str:
        """``the condition users whose …``, or ``condition 'id'`` for a clause not found."""
        rule = self.rule()
        clauses = rule.get("clauses") if rule is not None else None
        for clause in clauses if isinstance(clauses, list) else []:
            if isinstance(clause, Mapping) and clause.get("_id") == clause_id:
                return f"the condition {describe_clause(clause)}"
        return f"condition {_quoted(clause_id)}"


def _slot(rule: Mapping[str, Any], rule_id: object = None) -> _RuleSlot:
    description = rule.get("description")
    summary = (
        f'"{description}"' if isinstance(description, str) and description else describe_clauses(rule.get("clauses"))
    )
    return _RuleSlot(rule_id if isinstance(rule_id, str) else None, rule, summary)


def _rule_slots(flag: Flag, environment_key: str | None) -> list[_RuleSlot]:
    config = flag.environments.get(environment_key) if environment_key else None
    rules = config.get("rules") if isinstance(config, Mapping) else None
    return [_slot(r, r.get("_id")) for r in (rules if isinstance(rules, list) else []) if isinstance(r, Mapping)]


def _list(values: object) -> str:
    items = values if isinstance(values, list) else [values]
    return ", ".join(describe_value(v) for v in items) or "nothing"


def _plural(values: object, one: str, many: str) -> str:
    return one if isinstance(values, list) and len(values) == 1 else many


# Environment settings


def _turn_on(s: _Step) -> str:
    return "Turn the flag on"


def _turn_off(s: _Step) -> str:
    return "Turn the flag off"


def _off_variation(s: _Step) -> str:
    return f"Serve {s.variation()} when the flag is off"


def _fallthrough(s: _Step) -> str:
    return f"Serve {s.serve()} to everyone who matches no rule"


def _tracking(s: _Step) -> str:
    return "on" if s.get("trackEvents") is True else "off"


def _track_events(s: _Step) -> str:
    return f"Turn {_tracking(s)} sending full events for every evaluation"


def _track_events_fallthrough(s: _Step) -> str:
    return f"Turn {_tracking(s)} sending full events for contexts that match no rule"


# Individual targets


def _add_targets(s: _Step) -> str:
    return f"Add {describe_keys(s.get('contextKind'), s.get('values'))} to the targets served {s.variation()}"


def _add_user_targets(s: _Step) -> str:
    return f"Add {describe_keys(None, s.get('values'))} to the targets served {s.variation()}"


def _remove_targets(s: _Step) -> str:
    return f"Remove {describe_keys(s.get('contextKind'), s.get('values'))} from the targets served {s.variation()}"


def _remove_user_targets(s: _Step) -> str:
    return f"Remove {describe_keys(None, s.get('values'))} from the targets served {s.variation()}"


def _clear_targets(s: _Step) -> str:
    return f"Remove every context from the targets served {s.variation()}"


def _clear_user_targets(s: _Step) -> str:
    return f"Remove every user from the targets served {s.variation()}"


def _target_specs(s: _Step, *, users: bool) -> str:
    specs = s.get("targets")
    parts = [
        f"serve {_variation_by_id(s.flag, spec.get('variationId'))} to "
        f"{describe_keys(None if users else spec.get('contextKind'), spec.get('values'))}"
        for spec in (specs if isinstance(specs, list) else [])
        if isinstance(spec, Mapping)
    ]
    return "; ".join(parts)


def _replace_targets(s: _Step) -> str:
    specs = _target_specs(s, users=False)
    return f"Replace the targets: {specs}" if specs else "Replace the targets with none (remove every target)"


def _replace_user_targets(s: _Step) -> str:
    specs = _target_specs(s, users=True)
    return f"Replace the user targets: {specs}" if specs else "Replace the user targets with none"


# Rules


def _new_rule(s: _Step, spec: Mapping[str, Any], number: int) -> str:
    """``rule 2 ("Beta"): users whose … → serve true``."""
    description = spec.get("description")
    named = f' ("{description}")' if isinstance(description, str) and description else ""
    return f"rule {number}{named}: {describe_clauses(spec.get('clauses'))} → serve {_serve_params(s.flag, spec)}"


def _add_rule(s: _Step) -> str:
    before = s.position(s.get("beforeRuleId"))
    position = len(s.rules) if before is None else before
    s.rules.insert(position, _slot(s.params))
    return f"Add {_new_rule(s, s.params, position + 1)}"


def _remove_rule(s: _Step) -> str:
    label = s.rule_label()
    position = s.position(s.get("ruleId"))
    if position is not None:
        del s.rules[position]
    return f"Remove {label}"


def _replace_rules(s: _Step) -> str:
    specs = [r for r in (s.get("rules") if isinstance(s.get("rules"), list) else []) if isinstance(r, Mapping)]
    s.rules[:] = [_slot(r) for r in specs]
    if not specs:
        return "Replace the rules with none (remove every rule)"
    listed = "; ".join(_new_rule(s, r, i) for i, r in enumerate(specs, 1))
    return f"Replace the rules: {listed}"


def _reorder_rules(s: _Step) -> str:
    ids = s.get("ruleIds")
    order = [s.position(i) for i in (ids if isinstance(ids, list) else [])]
    if None in order or sorted(p for p in order if p is not None) != list(range(len(s.rules))):
        return f"Reorder the rules to {_list(ids)}"
    positions = [p for p in order if p is not None]
    labels = [s.rule_label(s.rules[p].rule_id) for p in positions]
    moved = _single_move(positions)
    s.rules[:] = [s.rules[p] for p in positions]
    if not positions or positions == sorted(positions):
        return "Keep the rules in their order"
    if moved is not None:
        return f"Move {labels[moved]} to position {moved + 1}"
    return f"Reorder the rules: {'; '.join(labels)}"


def _single_move(order: list[int]) -> int | None:
    """The new position of the one rule whose move gives ``order``, if one move does."""
    for new, old in enumerate(order):
        rest = order[:new] + order[new + 1 :]
        if rest == sorted(rest) and new != old:
            return new
    return None


def _add_clauses(s: _Step) -> str:
    clauses = s.get("clauses")
    return f"In {s.rule_label()}, add the {_plural(clauses, 'condition', 'conditions')} {describe_clauses(clauses)}"


def _remove_clauses(s: _Step) -> str:
    ids = s.get("clauseIds")
    listed = " and ".join(s.clause(i) for i in (ids if isinstance(ids, list) else [ids]))
    return f"In {s.rule_label()}, remove {listed}"


def _update_clause(s: _Step) -> str:
    return f"In {s.rule_label()}, change {s.clause(s.get('clauseId'))} to {describe_clause(s.get('clause'))}"


def _add_values(s: _Step) -> str:
    return f"In {s.rule_label()}, add {_list(s.get('values'))} to {s.clause(s.get('clauseId'))}"


def _remove_values(s: _Step) -> str:
    return f"In {s.rule_label()}, remove {_list(s.get('values'))} from {s.clause(s.get('clauseId'))}"


def _rule_serve(s: _Step) -> str:
    rule = s.rule()
    was = f" (instead of {describe_serve(s.flag, rule)})" if rule is not None else ""
    return f"Make {s.rule_label()} serve {s.serve()}{was}"


def _rule_description(s: _Step) -> str:
    return f"Change the description of {s.rule_label()} to {_json(s.get('description'))}"


def _rule_track_events(s: _Step) -> str:
    return f"Turn {_tracking(s)} sending full events for {s.rule_label()}"


# Prerequisites


def _add_prerequisite(s: _Step) -> str:
    return f"Add a prerequisite: {_prerequisite_by_id(s.get('key'), s.get('variationId'), s.get_flag)}"


def _update_prerequisite(s: _Step) -> str:
    return f"Change a prerequisite: {_prerequisite_by_id(s.get('key'), s.get('variationId'), s.get_flag)}"


def _remove_prerequisite(s: _Step) -> str:
    return f"Remove the prerequisite {describe_value(s.get('key'))}"


def _replace_prerequisites(s: _Step) -> str:
    specs = s.get("prerequisites")
    parts = [
        _prerequisite_by_id(p.get("key"), p.get("variationId"), s.get_flag)
        for p in (specs if isinstance(specs, list) else [])
        if isinstance(p, Mapping)
    ]
    return f"Replace the prerequisites: {'; '.join(parts)}" if parts else "Remove every prerequisite"


# Variations (every environment)


def _variation_number(s: _Step) -> str:
    index = _index_of_id(s.flag, s.get("variationId"))
    if index is None:
        return f"an unknown variation {_quoted(s.get('variationId'))}"
    return f"variation {index + 1} ({describe_variation(s.flag, index)})"


def _add_variation(s: _Step) -> str:
    extras = [f"{name} {_json(s.params[name])}" for name in ("name", "description") if s.get(name) is not None]
    suffix = f" ({', '.join(extras)})" if extras else ""
    return f"Add variation {len(s.flag.variations) + 1}: {describe_value(s.get('value'))}{suffix}"


def _remove_variation(s: _Step) -> str:
    return f"Remove {_variation_number(s)}"


def _update_variation(s: _Step) -> str:
    """``Change variation 2's value from a to b and its name to "B"; remove its description``."""
    index = _index_of_id(s.flag, s.get("variationId"))
    changes = []
    if s.get("value") is not None:
        old = describe_value(s.flag.variations[index]["value"]) if index is not None else "?"
        changes.append(f"value from {old} to {describe_value(s.get('value'))}")
    changes += [f"{name} to {_json(s.get(name))}" for name in ("name", "description") if s.get(name) is not None]
    removals = [f"remove its {name}" for name in ("name", "description") if name in s.params and s.get(name) is None]
    label = f"variation {index + 1}" if index is not None else _variation_number(s)
    sentences = [f"Change {label}'s {' and its '.join(changes)}"] if changes else []
    sentences += removals
    if not sentences:
        return f"Leave {_variation_number(s)} as it is"
    return "; ".join(sentences) if changes else f"For {label}, {'; '.join(sentences)}"


def _default_variation(s: _Step) -> str:
    on = s.get("onVariationValue") if s.get("onVariationValue") is not None else s.get("OnVariationValue")
    off = s.get("offVariationValue") if s.get("offVariationValue") is not None else s.get("OffVariationValue")
    parts = [f"{describe_value(v)} when {w}" for v, w in ((on, "on"), (off, "off")) if v is not None]
    return f"For new environments, serve {' and '.join(parts) or 'the same variations'} by default"


# Flag settings (every environment)


def _update_name(s: _Step) -> str:
    return f"Rename the flag to {_json(s.get('value'))}"


def _update_description(s: _Step) -> str:
    value = s.get("value")
    return f"Change the flag's description to {_json(value)}" if value else "Remove the flag's description"


def _add_tags(s: _Step) -> str:
    return f"Add {_plural(s.get('values'), 'tag', 'tags')} {_list(s.get('values'))}"


def _remove_tags(s: _Step) -> str:
    return f"Remove {_plural(s.get('values'), 'tag', 'tags')} {_list(s.get('values'))}"


_AVAILABILITY = {
    "usingMobileKey": "mobile SDKs (mobile key)",
    "usingEnvironmentId": "client-side SDKs (client-side ID)",
}


def _availability(s: _Step, verb: str) -> str:
    value = s.get("value")
    audience = _AVAILABILITY.get(value, f"SDKs {_quoted(value)}") if isinstance(value, str) else "SDKs"
    return f"{verb} the flag available to {audience}"


def _custom(s: _Step, verb: str, preposition: str) -> str:
    name = s.get("name") or s.get("key")
    return f"{verb} {_list(s.get('values'))} {preposition} the custom property {_json(name)}"


def _constant(text: str) -> Callable[[_Step], str]:
    return lambda _: text


_RENDERERS: dict[str, Callable[[_Step], str]] = {
    "turnFlagOn": _turn_on,
    "turnFlagOff": _turn_off,
    "updateOffVariation": _off_variation,
    "updateFallthroughVariationOrRollout": _fallthrough,
    "updateTrackEvents": _track_events,
    "updateTrackEventsFallthrough": _track_events_fallthrough,
    "addTargets": _add_targets,
    "removeTargets": _remove_targets,
    "replaceTargets": _replace_targets,
    "clearTargets": _clear_targets,
    "addUserTargets": _add_user_targets,
    "removeUserTargets": _remove_user_targets,
    "replaceUserTargets": _replace_user_targets,
    "clearUserTargets": _clear_user_targets,
    "addRule": _add_rule,
    "removeRule": _remove_rule,
    "replaceRules": _replace_rules,
    "reorderRules": _reorder_rules,
    "addClauses": _add_clauses,
    "removeClauses": _remove_clauses,
    "updateClause": _update_clause,
    "addValuesToClause": _add_values,
    "removeValuesFromClause": _remove_values,
    "updateRuleVariationOrRollout": _rule_serve,
    "updateRuleDescription": _rule_description,
    "updateRuleTrackEvents": _rule_track_events,
    "addPrerequisite": _add_prerequisite,
    "updatePrerequisite": _update_prerequisite,
    "removePrerequisite": _remove_prerequisite,
    "replacePrerequisites": _replace_prerequisites,
    "addVariation": _add_variation,
    "removeVariation": _remove_variation,
    "updateVariation": _update_variation,
    "updateDefaultVariation": _default_variation,
    "updateName": _update_name,
    "updateDescription": _update_description,
    "addTags": _add_tags,
    "removeTags": _remove_tags,
    "makeFlagTemporary": _constant("Mark the flag as temporary"),
    "makeFlagPermanent": _constant("Mark the flag as permanent"),
    "updateMaintainerMember": lambda s: f"Make member {_quoted(s.get('value'))} the flag's maintainer",
    "updateMaintainerTeam": lambda s: f"Make team {_quoted(s.get('value'))} the flag's maintainer",
    "removeMaintainer": _constant("Remove the flag's maintainer"),
    "turnOnClientSideAvailability": lambda s: _availability(s, "Make"),
    "turnOffClientSideAvailability": lambda s: _availability(s, "Stop making"),
    "archiveFlag": _constant("Archive the flag"),
    "restoreFlag": _constant("Restore the flag from the archive"),
    "deprecateFlag": _constant("Deprecate the flag"),
    "restoreDeprecatedFlag": _constant("Restore the flag from deprecation"),
    "addCustomProperties": lambda s: _custom(s, "Add", "to"),
    "removeCustomProperties": lambda s: _custom(s, "Remove", "from"),
    "replaceCustomProperties": lambda s: _custom(s, "Set", "as"),
    "deleteFlag": _constant("Delete the flag"),
}


def _mappings(value: object) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _replace_configuration(s: _Step) -> str:
    """flagward's own ``replaceFlagConfiguration`` (an import proposed for approval), in words."""
    config = s.get("configuration")
    if not isinstance(config, Mapping):
        return f"Replace the whole configuration with {_json(config)}"
    parts = [f"targeting {'on' if config.get('on') is True else 'off'}"]
    for target in [*_mappings(config.get("targets")), *_mappings(config.get("contextTargets"))]:
        if target.get("values"):
            served = describe_variation(s.flag, target.get("variation"))
            parts.append(f"{describe_keys(target.get('contextKind'), target.get('values'))} → serve {served}")
    rules = _mappings(config.get("rules"))
    parts += [f"rule {n} ({_quoted(r.get('_id'))}): {describe_rule(s.flag, r)}" for n, r in enumerate(rules, 1)]
    parts.append(f"serve {describe_serve(s.flag, config.get('fallthrough'))} to everyone who matches no rule")
    parts.append(f"serve {describe_variation(s.flag, config.get('offVariation'))} when off")
    parts += [
        f"prerequisite {describe_prerequisite(p.get('key'), p.get('variation'), get_flag=s.get_flag)}"
        for p in _mappings(config.get("prerequisites"))
    ]
    parts.append(f"salt {_quoted(config.get('salt'))} (rollout buckets kept)")
    return "Replace the whole configuration with the imported one: " + "; ".join(parts)


def _scheduled_instructions(s: _Step) -> str:
    value = s.get("value")
    if not isinstance(value, list) or not value:
        return f"no instructions ({_json(value)})"
    rules = list(s.rules)
    return "; ".join(_describe(i, s.flag, rules, s.get_flag) for i in value)


# Instructions of approval requests that act on scheduled changes (``domain.scheduled_changes``).
_RENDERERS.update(
    {
        "addScheduledChanges": lambda s: f"At {_date(s.get('executionDate'))}: {_scheduled_instructions(s)}",
        "updateScheduledChangesExecutionDate": lambda s: f"Move the scheduled change to {_date(s.get('value'))}",
        "replaceScheduledChangesInstructions": lambda s: (
            f"Make the scheduled change do instead: {_scheduled_instructions(s)}"
        ),
        "deleteScheduledChange": _constant("Cancel the scheduled change"),
        "deleteScheduledChanges": _constant("Cancel the scheduled change"),
    }
)
_RENDERERS["replaceFlagConfiguration"] = _replace_configuration

_TRIGGER_ACTIONS = {"turnFlagOn": "turn the flag on", "turnFlagOff": "turn the flag off"}


def _trigger_action(value: object) -> str:
    """What a trigger's action (``[{"kind": "turnFlagOn"}]``) does, in words."""
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], Mapping):
        action = _TRIGGER_ACTIONS.get(str(value[0].get("kind")))
        if action is not None:
            return action
    return f"apply {_json(value)}"


def _add_trigger(s: _Step) -> str:
    comment = s.get("comment")
    note = f" ({describe_value(comment)})" if isinstance(comment, str) and comment else ""
    return (
        f"Add a trigger for {_quoted(s.get('integrationKey'))}: calling its URL will "
        f"{_trigger_action(s.get('instructions'))}, without review{note}"
    )


# Instructions of approval requests that set a flag trigger up (``domain.triggers``).
_RENDERERS.update(
    {
        "addTrigger": _add_trigger,
        "enableTrigger": _constant("Enable the trigger: calling its URL will act without review"),
        "replaceTriggerActionInstructions": lambda s: (
            f"Make the trigger {_trigger_action(s.get('value'))} instead, without review"
        ),
    }
)

DESCRIBED_KINDS = frozenset(_RENDERERS)
"""Instruction kinds with a sentence of their own; any other kind gets ``describe_unknown``'s."""


def describe_unknown(instruction: object) -> str:
    """The sentence for an instruction of an unknown kind, or for something that is not an instruction."""
    if isinstance(instruction, Mapping) and isinstance(instruction.get("kind"), str):
        params = {k: v for k, v in instruction.items() if k != "kind"}
        details = f" with {_json(params)}" if params else ""
        return f"Apply a change of kind {_quoted(instruction['kind'])}{details}"
    return f"Apply an unrecognized instruction {_json(instruction)}"


def describe_instructions(
    instructions: Sequence[object], flag: Flag, environment_key: str | None, *, get_flag: FlagLookup | None = None
) -> list[str]:
    """One sentence per instruction of a request on ``flag`` (as it is before the request) in
    ``environment_key`` (None for project-level requests). ``get_flag`` resolves prerequisite flags'
    variations; without it they are named by id. Never raises."""
    rules = _rule_slots(flag, environment_key)
    return [_describe(raw, flag, rules, get_flag) for raw in instructions]


def describe_instruction(
    instruction: object, flag: Flag, *, environment_key: str | None, get_flag: FlagLookup | None = None
) -> str:
    """One instruction on its own (see ``describe_instructions``)."""
    return _describe(instruction, flag, _rule_slots(flag, environment_key), get_flag)


def _describe(raw: object, flag: Flag, rules: list[_RuleSlot], get_flag: FlagLookup | None) -> str:
    kind = raw.get("kind") if isinstance(raw, Mapping) else None
    if not isinstance(raw, Mapping) or not isinstance(kind, str) or kind not in _RENDERERS:
        return describe_unknown(raw)
    step = _Step(flag, raw, rules, get_flag)
    try:
        return _RENDERERS[kind](step)
    except Exception:  # a display must not fail on a malformed stored instruction
        return describe_unknown(raw)


def describe_segment_instructions(instructions: Sequence[object]) -> list[str]:
    """One sentence per instruction of a request on a segment: flagward's own
    ``replaceSegmentConfiguration`` (an import proposed for approval) in words, any other kind as
    ``describe_unknown`` reads it. Never raises."""
    sentences = []
    for raw in instructions:
        try:
            replaces = isinstance(raw, Mapping) and raw.get("kind") == "replaceSegmentConfiguration"
            sentences.append(_replace_segment_configuration(raw) if replaces else describe_unknown(raw))
        except Exception:  # a display must not fail on a malformed stored instruction
            sentences.append(describe_unknown(raw))
    return sentences


def _replace_segment_configuration(raw: Any) -> str:
    config = raw.get("configuration")
    if not isinstance(config, Mapping):
        return f"Replace the segment's targets and rules with {_json(config)}"
    parts: list[str] = []
    for verb, users, others in (
        ("include", "included", "includedContexts"),
        ("exclude", "excluded", "excludedContexts"),
    ):
        targets = [("user", config.get(users))] + [
            (t.get("contextKind"), t.get("values")) for t in _mappings(config.get(others))
        ]
        parts += [f"{verb} {describe_keys(kind, values)}" for kind, values in targets if values]
    for number, rule in enumerate(_mappings(config.get("rules")), 1):
        text = f"rule {number} ({_quoted(rule.get('_id'))}): {describe_clauses(rule.get('clauses'))}"
        if "weight" in rule:
            kind = rule.get("rolloutContextKind")
            attribute = describe_value(rule.get("bucketBy")) if rule.get("bucketBy") else "key"
            by = attribute if kind in (None, "", "user") else f"{describe_value(kind)} {attribute}"
            text += f", {_percent(rule.get('weight'))} of them by {by}"
        parts.append(text)
    if len(parts) == 0:
        parts.append("nobody in it")
    parts.append(f"salt {_quoted(config.get('salt'))} (rollout buckets kept)")
    return "Replace the segment's targets and rules with the imported ones: " + "; ".join(parts)
