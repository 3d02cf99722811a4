"""Properties of the engine over random flags and random instructions.

1. Any sequence of instructions, valid or not, either yields a valid flag or raises InstructionError and
   leaves the input as it was.
2. For a family of instructions, the equivalent JSON patch applied to the flag's document and parsed back
   gives the same flag, and the same actions.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from flagward.domain.changes import describe_changes
from flagward.domain.errors import InstructionError
from flagward.domain.flag_documents import check_patch_paths, flag_from_document
from flagward.domain.flag_validation import validate_flag
from flagward.domain.flags import Flag
from flagward.domain.instructions import ENVIRONMENT_INSTRUCTIONS, PROJECT_INSTRUCTIONS, apply_flag_instructions
from flagward.domain.representations import flag_document
from tests.unit.domain.instructions.strategies import (
    CLAUSES,
    ENVS,
    KEYS,
    KINDS,
    Project,
    instruction_table,
    instructions,
    projects,
    weights,
)

PROPERTY_SETTINGS = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


# Hypothesis favours the first choices of a sampled list, so every kind leads a run of its own.
LEADING_KINDS = sorted(ENVIRONMENT_INSTRUCTIONS | PROJECT_INSTRUCTIONS | {"junk"})


@pytest.mark.parametrize("first", LEADING_KINDS)
@settings(PROPERTY_SETTINGS, max_examples=20)
@given(data=st.data())
def test_random_instructions_give_a_valid_flag_or_change_nothing(first: str, data: st.DataObject) -> None:
    project = data.draw(projects(), label="project")
    validate_flag(project.flag, project.context)  # the strategy builds valid flags
    env = data.draw(st.sampled_from(ENVS), label="env")
    table = instruction_table(project, env)
    assert set(table) == set(LEADING_KINDS)
    head = data.draw(table[first], label="first")
    tail = data.draw(st.lists(instructions(project, env), max_size=3), label="then")
    before = copy.deepcopy(project.flag)
    try:
        change = apply_flag_instructions(project.flag, [head, *tail], environment_key=env, context=project.context)
    except InstructionError as error:
        event(f"refused: {error.kind}")
        assert project.flag == before
        return
    event("applied, changed" if change.changed else "applied, no change")
    assert project.flag == before
    validate_flag(change.flag, project.context)
    again = describe_changes(before, change.flag)
    assert (again.environment_actions, again.flag_actions) == (change.environment_actions, change.flag_actions)
    assert set(change.environment_actions) <= {env} or "updateFlagVariations" in change.flag_actions


# -- semantic patch ≡ JSON patch -------------------------------------------------------------------


def _entry_index(config: Any, kind: str, variation: int) -> tuple[str, int | None]:
    name = "targets" if kind == "user" else "contextTargets"
    for i, target in enumerate(config[name]):
        if target.get("contextKind", "user") == kind and target["variation"] == variation and target["values"]:
            return name, i
    return name, None


def _target_ops(project: Project, env: str, instruction: dict[str, Any]) -> list[dict[str, Any]]:
    config = project.flag.environments[env]
    kind = instruction.get("contextKind") or "user"
    variation = project.variation_ids().index(instruction["variationId"])
    name, index = _entry_index(config, kind, variation)
    base = f"/environments/{env}/{name}"
    keys = list(dict.fromkeys(instruction["values"]))
    if instruction["kind"] == "removeTargets":
        values = config[name][index]["values"] if index is not None else []  # type: ignore[literal-required]
        positions = sorted((values.index(k) for k in keys if k in values), reverse=True)
        return [{"op": "remove", "path": f"{base}/{index}/values/{p}"} for p in positions]
    if index is None:
        return [
            {"op": "add", "path": f"{base}/-", "value": {"contextKind": kind, "variation": variation, "values": keys}}
        ]
    present = config[name][index]["values"]  # type: ignore[literal-required]
    return [{"op": "add", "path": f"{base}/{index}/values/-", "value": k} for k in keys if k not in present]


def _serve_json(project: Project, instruction: dict[str, Any]) -> dict[str, Any]:
    ids = project.variation_ids()
    if "variationId" in instruction:
        return {"variation": ids.index(instruction["variationId"])}
    weighted = sorted((ids.index(v), w) for v, w in instruction["rolloutWeights"].items())
    return {"rollout": {"variations": [{"variation": i, "weight": w} for i, w in weighted], "contextKind": "user"}}


def _rule_ops(project: Project, env: str, instruction: dict[str, Any]) -> list[dict[str, Any]]:
    rule_ids = project.rule_ids(env)
    base = f"/environments/{env}/rules"
    if instruction["kind"] == "removeRule":
        return [{"op": "remove", "path": f"{base}/{rule_ids.index(instruction['ruleId'])}"}]
    before = instruction.get("beforeRuleId")
    position = "-" if before is None else str(rule_ids.index(before))
    rule = {
        "_id": "json-rule",
        "clauses": [{**c, "_id": f"json-clause-{j}"} for j, c in enumerate(instruction["clauses"])],
        "trackEvents": instruction["trackEvents"],
        **_serve_json(project, instruction),
    }
    return [{"op": "add", "path": f"{base}/{position}", "value": rule}]


def equivalent_patch(project: Project, env: str, instruction: dict[str, Any]) -> list[dict[str, Any]]:
    """The JSON patch a client would send to do what ``instruction`` does, written independently."""
    kind, path = instruction["kind"], f"/environments/{env}"
    config = project.flag.environments[env]
    if kind in ("turnFlagOn", "turnFlagOff"):
        return [{"op": "replace", "path": f"{path}/on", "value": kind == "turnFlagOn"}]
    if kind in ("addTargets", "removeTargets"):
        return _target_ops(project, env, instruction)
    if kind == "updateOffVariation":
        value = project.variation_ids().index(instruction["variationId"])
        return [{"op": "add", "path": f"{path}/offVariation", "value": value}]
    if kind == "updateFallthroughVariationOrRollout":
        return [{"op": "replace", "path": f"{path}/fallthrough", "value": _serve_json(project, instruction)}]
    if kind == "addPrerequisite":
        keys = [p["key"] for p in config["prerequisites"]]
        value = {"key": "other", "variation": int(instruction["variationId"][-1])}
        return [] if "other" in keys else [{"op": "add", "path": f"{path}/prerequisites/-", "value": value}]
    if kind == "removePrerequisite":
        keys = [p["key"] for p in config["prerequisites"]]
        return [{"op": "remove", "path": f"{path}/prerequisites/{keys.index('other')}"}] if "other" in keys else []
    return _rule_ops(project, env, instruction)


FAMILIES = (
    "turnFlagOn", "turnFlagOff", "addTargets", "removeTargets", "updateOffVariation",
    "updateFallthroughVariationOrRollout", "addPrerequisite", "removePrerequisite", "addRule", "removeRule",
)  # fmt: skip


@st.composite
def equivalent_cases(draw: st.DrawFn, family: str) -> tuple[Project, str, dict[str, Any]]:
    """A project, an environment and an instruction of ``family`` that is valid for them (bar target
    conflicts and prerequisites already there with another variation)."""
    project = draw(projects())
    env = draw(st.sampled_from(ENVS))
    ids = st.sampled_from(project.variation_ids())
    serve = st.one_of(
        ids.map(lambda v: {"variationId": v}),
        st.lists(ids, min_size=1, unique=True).flatmap(
            lambda chosen: weights(len(chosen)).map(lambda w: {"rolloutWeights": dict(zip(chosen, w, strict=True))})
        ),
    )
    rule_ids = project.rule_ids(env)
    assume(family != "removeRule" or rule_ids)
    cases: dict[str, st.SearchStrategy[dict[str, Any]]] = {
        "turnFlagOn": st.just({"kind": "turnFlagOn"}),
        "turnFlagOff": st.just({"kind": "turnFlagOff"}),
        "updateOffVariation": ids.map(lambda v: {"kind": "updateOffVariation", "variationId": v}),
        "updateFallthroughVariationOrRollout": serve.map(
            lambda s: {"kind": "updateFallthroughVariationOrRollout", **s}
        ),
        "addPrerequisite": st.integers(0, 2).map(
            lambda i: {"kind": "addPrerequisite", "key": "other", "variationId": f"other:v{i}"}
        ),
        "removePrerequisite": st.just({"kind": "removePrerequisite", "key": "other"}),
        "addRule": st.builds(
            lambda s, c, b, t: {"kind": "addRule", "clauses": c, "beforeRuleId": b, "trackEvents": t, **s},
            serve,
            st.lists(st.sampled_from(CLAUSES), max_size=2),
            st.none() | st.sampled_from(rule_ids) if rule_ids else st.none(),
            st.booleans(),
        ),
        "removeRule": st.sampled_from(rule_ids or ["-"]).map(lambda r: {"kind": "removeRule", "ruleId": r}),
        **{
            kind: st.fixed_dictionaries(
                {
                    "kind": st.just(kind),
                    "values": st.lists(st.sampled_from(KEYS), min_size=1, max_size=3),
                    "variationId": ids,
                    "contextKind": st.sampled_from([None, *KINDS]),
                }
            )
            for kind in ("addTargets", "removeTargets")
        },
    }
    return project, env, draw(cases[family])


def _without_rule_ids(flag: Flag) -> dict[str, Any]:
    doc = flag_document(flag)
    for config in doc["environments"].values():
        for rule in config["rules"]:
            rule.pop("_id")
            for clause in rule["clauses"]:
                clause.pop("_id")
    return doc


@pytest.mark.parametrize("family", FAMILIES)
@settings(PROPERTY_SETTINGS, max_examples=40)
@given(data=st.data())
def test_semantic_patch_and_the_equivalent_json_patch_agree(family: str, data: st.DataObject) -> None:
    project, env, instruction = data.draw(equivalent_cases(family))
    try:
        semantic = apply_flag_instructions(project.flag, [instruction], environment_key=env, context=project.context)
    except InstructionError:
        assume(False)  # e.g. a key already served another variation: refused, nothing to compare
        raise
    ops = equivalent_patch(project, env, instruction)
    check_patch_paths(ops)
    patched = jsonpatch.apply_patch(flag_document(project.flag), ops)
    by_json = flag_from_document(patched, project.flag)
    validate_flag(by_json, project.context)
    assert _without_rule_ids(by_json) == _without_rule_ids(semantic.flag)
    if instruction["kind"] != "addRule":
        assert by_json == semantic.flag
    json_change = describe_changes(project.flag, by_json)
    assert json_change.environment_actions == semantic.environment_actions
    assert json_change.flag_actions == semantic.flag_actions == []


# -- removing a variation re-indexes without changing what anyone is served ------------------------


def _served(flag: Flag) -> dict[str, Any]:
    """Each configuration with variation indexes replaced by variation ids (0% rollout shares dropped)."""

    def ref(index: int | None) -> str | None:
        return None if index is None else flag.variations[index]["_id"]

    def serve(holder: Any) -> Any:
        if "rollout" in holder:
            return sorted((ref(w["variation"]), w["weight"]) for w in holder["rollout"]["variations"] if w["weight"])
        return ref(holder["variation"])

    return {
        "defaults": (ref(flag.defaults.on_variation), ref(flag.defaults.off_variation)),
        **{
            env: {
                "targets": sorted(
                    (t["contextKind"], ref(t["variation"]), tuple(t["values"]))
                    for t in [*config["targets"], *config["contextTargets"]]
                    if t["values"]
                ),
                "rules": [(rule["_id"], serve(rule)) for rule in config["rules"]],
                "fallthrough": serve(config["fallthrough"]),
                "off": ref(config["offVariation"]),
            }
            for env, config in flag.environments.items()
        },
    }


@settings(PROPERTY_SETTINGS, max_examples=150)
@given(project=projects(quiet=True), data=st.data())
def test_removing_a_variation_keeps_what_every_context_is_served(project: Project, data: st.DataObject) -> None:
    removed = data.draw(st.sampled_from(project.variation_ids()))
    try:
        change = apply_flag_instructions(
            project.flag,
            [{"kind": "removeVariation", "variationId": removed}],
            environment_key=None,
            context=project.context,
        )
    except InstructionError:
        event("refused")
        return
    event("removed")
    assert [v["_id"] for v in change.flag.variations] == [i for i in project.variation_ids() if i != removed]
    assert _served(change.flag) == _served(project.flag)
