"""What the flag pages show, arranged for their templates. The words are the domain's
(``domain.describe``, ``domain.diff``); this module only groups them and keeps the ids forms need."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flagward.domain.audit import AuditEntry
from flagward.domain.describe import (
    FlagLookup,
    describe_clauses,
    describe_instructions,
    describe_serve,
    describe_variation,
)
from flagward.domain.diff import PARTS, config_lines
from flagward.domain.flags import Flag
from flagward.services.flag_overview import FlagOverview, FlagRow


@dataclass(frozen=True)
class ListRow:
    flag: Flag
    on: bool | None  # None: no configuration in the chosen environment
    serves: str
    extras: list[str]
    evaluations: int
    last_requested: int | None


def _count(n: int, one: str) -> str:
    return f"{n} {one}{'' if n == 1 else 's'}"


def list_row(row: FlagRow, env_key: str) -> ListRow:
    flag = row.flag
    config: Any = flag.environments.get(env_key)
    if not isinstance(config, Mapping):
        return ListRow(flag, None, "Not configured here", [], row.evaluations, row.last_requested)
    if not config["on"]:
        off = config["offVariation"]
        serves = "the application's fallback value" if off is None else describe_variation(flag, off)
        return ListRow(flag, False, f"Serves {serves}", [], row.evaluations, row.last_requested)
    keys = sum(len(t["values"]) for t in [*config["targets"], *config["contextTargets"]])
    extras = [_count(len(config["rules"]), "rule")] if config["rules"] else []
    extras += [_count(keys, "target")] if keys else []
    serves = f"Serves {describe_serve(flag, config['fallthrough'])}"
    return ListRow(flag, True, serves + (" by default" if extras else ""), extras, row.evaluations, row.last_requested)


@dataclass(frozen=True)
class EnvColumn:
    key: str
    name: str
    on: bool
    approval_required: bool
    critical: bool


def everywhere(overview: FlagOverview) -> tuple[list[EnvColumn], list[tuple[str, list[list[str]]]]]:
    """Every environment's targeting side by side: the columns, and per part its lines in each."""
    flag = overview.flag
    columns = [
        EnvColumn(e.key, e.name, flag.environments[e.key]["on"], e.key in overview.approval_required, e.critical)
        for e in overview.environments
    ]
    lines = [config_lines(flag, c.key, get_flag=overview.get_flag) for c in columns]
    return columns, [(title, [cell[part] for cell in lines]) for part, title in PARTS if part != "on"]


@dataclass(frozen=True)
class VariationChoice:
    id: str
    index: int
    label: str


@dataclass(frozen=True)
class TargetGroup:
    variation: VariationChoice
    kind: str
    keys: list[str]


@dataclass(frozen=True)
class RuleView:
    id: str
    number: int
    description: str
    conditions: str
    serves: str
    variation_id: str | None  # None: a percentage rollout
    disabled: bool


@dataclass(frozen=True)
class Serve:
    text: str
    variation_id: str | None
    percents: dict[str, str]  # variation id -> percentage, for a rollout


@dataclass(frozen=True)
class Targeting:
    on: bool
    variations: list[VariationChoice]
    targets: list[TargetGroup]
    rules: list[RuleView]
    fallthrough: Serve
    off_variation_id: str | None
    off: str
    prerequisites: list[str]


def _serve(flag: Flag, holder: Mapping[str, Any], choices: list[VariationChoice]) -> Serve:
    rollout = holder.get("rollout")
    percents: dict[str, str] = {}
    if isinstance(rollout, Mapping):
        for weighted in rollout.get("variations", []):
            index = weighted.get("variation")
            if isinstance(index, int) and 0 <= index < len(choices):
                percents[choices[index].id] = f"{weighted.get('weight', 0) / 1000:g}"
    index = holder.get("variation")
    chosen = choices[index].id if isinstance(index, int) and 0 <= index < len(choices) else None
    return Serve(describe_serve(flag, holder), None if percents else chosen, percents)


def targeting(flag: Flag, env_key: str, get_flag: FlagLookup) -> Targeting:
    config: Any = flag.environments[env_key]
    choices = [VariationChoice(v["_id"], i, describe_variation(flag, i)) for i, v in enumerate(flag.variations)]
    groups: dict[tuple[int, str], list[str]] = {}
    for target in [*config["targets"], *config["contextTargets"]]:
        if target["values"] and 0 <= target["variation"] < len(choices):
            slot = (target["variation"], target.get("contextKind") or "user")
            groups.setdefault(slot, []).extend(target["values"])
    targets = [TargetGroup(choices[v], kind, sorted(set(keys))) for (v, kind), keys in sorted(groups.items())]
    rules = [
        RuleView(
            id=rule["_id"],
            number=n,
            description=rule.get("description") or "",
            conditions=describe_clauses(rule["clauses"]),
            serves=describe_serve(flag, rule),
            variation_id=_serve(flag, rule, choices).variation_id,
            disabled=bool(rule.get("disabled")),
        )
        for n, rule in enumerate(config["rules"], 1)
    ]
    off = config["offVariation"]
    lines = config_lines(flag, env_key, get_flag=get_flag)
    return Targeting(
        on=config["on"],
        variations=choices,
        targets=targets,
        rules=rules,
        fallthrough=_serve(flag, config["fallthrough"], choices),
        off_variation_id=choices[off].id if isinstance(off, int) and 0 <= off < len(choices) else None,
        off=lines["offVariation"][0],
        prerequisites=[] if config["prerequisites"] == [] else lines["prerequisites"],
    )


@dataclass(frozen=True)
class HistoryItem:
    entry: AuditEntry
    who: str
    environment: str | None  # the environment's name, for a change to one environment
    sentences: list[str]  # what the change did, in plain language; empty: use the entry's description


def history(overview: FlagOverview) -> list[HistoryItem]:
    """The flag's audit entries, each semantic patch described instruction by instruction (read against
    the flag as it is now: a rule since removed is named by its id)."""
    names = {e.key: e.name for e in overview.environments}
    items = []
    for entry in overview.history:
        actor = entry.actor
        who = overview.people.get(actor.member_id or "") or actor.member_email or actor.token_name or "flagward"
        delta: Any = entry.delta
        env_key = delta.get("environmentKey") if isinstance(delta, Mapping) else None
        instructions = delta.get("instructions") if isinstance(delta, Mapping) else None
        sentences = (
            describe_instructions(instructions, overview.flag, env_key, get_flag=overview.get_flag)
            if isinstance(instructions, list) and instructions
            else []
        )
        environment = names.get(env_key, env_key) if isinstance(env_key, str) else None
        items.append(HistoryItem(entry, who, environment, sentences))
    return items
