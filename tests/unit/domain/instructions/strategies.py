"""Hypothesis strategies: valid flags in a small project, and instructions (valid or not) for them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from flagward.domain.flags import Defaults, Flag, FlagConfig, Rollout, Rule, Target
from flagward.domain.instructions import FlagChangeContext
from flagward.domain.instructions.targets import normalize_targets
from tests.unit.domain.instructions.factories import clause, make_context, make_flag

ENVS = ("production", "test")
KEYS = ("k1", "k2", "k3", "k4")
KINDS = ("user", "org")
VALUE_POOL: tuple[Any, ...] = ("a", "b", "c", "d", 1, 2, {"x": 1}, [1])
CLAUSES = (
    clause(),
    clause("country", "in", ["se", "no"]),
    clause("tier", "greaterThan", [3], negate=True),
    {"attribute": "", "op": "segmentMatch", "values": ["beta"], "negate": False},
)
# (key, variationId) of prerequisites to add: "third" may close a cycle, "archived" is archived.
PREREQUISITES = tuple(
    {"key": k, "variationId": v}
    for k, v in (
        ("other", "other:v0"), ("other", "other:v2"), ("third", "third:v0"), ("third", "third:v1"),
        ("archived", "archived:v1"), ("flag", "flag:v0"), ("ghost", "ghost:v0"), ("other", "third:v0"),
    )
)  # fmt: skip
BAD_CLAUSES = (
    clause(op="like"),
    {"op": "segmentMatch", "values": ["ghost"]},
    clause(values="x"),
    "not a clause",
)


@dataclass
class Project:
    """A flag under test, the project around it, and the ids instructions may name."""

    flag: Flag
    context: FlagChangeContext
    others: dict[str, Flag]

    def variation_ids(self) -> list[str]:
        return [v["_id"] for v in self.flag.variations]

    def rule_ids(self, env: str) -> list[str]:
        return [r["_id"] for r in self.flag.environments[env]["rules"]]

    def clause_ids(self, env: str) -> list[tuple[str, str]]:
        return [(r["_id"], c["_id"]) for r in self.flag.environments[env]["rules"] for c in r["clauses"]]


def weights(count: int) -> st.SearchStrategy[list[int]]:
    """``count`` non-negative integers summing to 100000."""
    cuts = st.lists(st.integers(0, 100_000), min_size=count - 1, max_size=count - 1).map(sorted)
    return cuts.map(lambda c: [b - a for a, b in zip([0, *c], [*c, 100_000], strict=True)])


@st.composite
def rollouts(draw: st.DrawFn, count: int) -> Rollout:
    indexes = draw(st.lists(st.integers(0, count - 1), min_size=1, max_size=count, unique=True).map(sorted))
    shares = draw(weights(len(indexes)))
    rollout: Rollout = {"variations": [{"variation": i, "weight": w} for i, w in zip(indexes, shares, strict=True)]}
    if draw(st.booleans()):
        rollout["contextKind"] = "user"
    return rollout


@st.composite
def serves(draw: st.DrawFn, count: int) -> dict[str, Any]:
    if draw(st.booleans()):
        return {"variation": draw(st.integers(0, count - 1))}
    return {"rollout": draw(rollouts(count))}


@st.composite
def configs(draw: st.DrawFn, flag: Flag, env: str, *, quiet: bool = False) -> FlagConfig:
    count = len(flag.variations)
    config = flag.environments[env]
    config["on"] = draw(st.booleans())
    if draw(st.integers(0, 1 if quiet else 3)) == 0:  # untouched: variations beyond the defaults stay unused
        config["fallthrough"] = {"variation": flag.defaults.on_variation}
        config["offVariation"] = flag.defaults.off_variation
        return config
    config["offVariation"] = draw(st.none() | st.integers(0, count - 1))
    config["fallthrough"] = draw(serves(count))  # type: ignore[typeddict-item]
    for kind in KINDS:
        owners = draw(st.dictionaries(st.sampled_from(KEYS), st.integers(0, count - 1), max_size=3))
        entries: list[Target] = [
            {"contextKind": kind, "variation": v, "values": [k for k, o in owners.items() if o == v]}
            for v in sorted(set(owners.values()))
        ]
        config["targets" if kind == "user" else "contextTargets"] += entries
    normalize_targets(config)
    config["rules"] = [draw(rules(count, f"{env}-r{i}")) for i in range(draw(st.sampled_from([0, 1, 1, 2])))]
    if draw(st.booleans()):
        config["prerequisites"] = [{"key": "other", "variation": draw(st.integers(0, 2))}]
    config["trackEvents"] = draw(st.booleans())
    return config


@st.composite
def rules(draw: st.DrawFn, count: int, rule_id: str) -> Rule:
    raw = draw(st.lists(st.sampled_from(CLAUSES), max_size=2))
    rule: Rule = {
        "_id": rule_id,
        "clauses": [{**c, "_id": f"{rule_id}-c{j}"} for j, c in enumerate(raw)],  # type: ignore[typeddict-item]
        "trackEvents": draw(st.booleans()),
        **draw(serves(count)),  # type: ignore[typeddict-item]
    }
    if draw(st.booleans()):
        rule["description"] = "described"
    return rule


@st.composite
def projects(draw: st.DrawFn, *, quiet: bool = False) -> Project:
    """A valid flag ``flag`` with ``other`` (3 variations, a possible prerequisite), ``third`` (which
    may have ``flag`` as a prerequisite in production) and ``archived`` in its project.

    ``quiet`` projects have a multivariate flag that uses fewer of its variations, so some can go."""
    if not quiet and draw(st.booleans()):
        flag = make_flag()
    else:
        size = (3 if quiet else 2, 4)
        values = draw(st.lists(st.sampled_from(VALUE_POOL), min_size=size[0], max_size=size[1], unique_by=json.dumps))
        flag = make_flag(values=values, kind="multivariate")
    count = len(flag.variations)
    flag.defaults = Defaults(draw(st.integers(0, count - 1)), draw(st.integers(0, count - 1)))
    flag.tags = draw(st.lists(st.sampled_from(["t1", "t2"]), unique=True))
    for env in ENVS:
        draw(configs(flag, env, quiet=quiet))
    third = make_flag("third")
    if draw(st.integers(0, 3)) > (2 if quiet else 0):
        third.environments["production"]["prerequisites"] = [
            {"key": "flag", "variation": draw(st.integers(0, count - 1))}
        ]
    others = {
        "other": make_flag("other", values=["x", "y", "z"]),
        "third": third,
        "archived": make_flag("archived", archived=True),
    }
    return Project(flag, make_context(*others.values()), others)


def _maybe(values: list[Any], bogus: Any) -> st.SearchStrategy[Any]:
    """Mostly one of ``values``, sometimes ``bogus``."""
    return st.sampled_from([*values, *values, *values, bogus]) if values else st.just(bogus)


def _env_instructions(project: Project, env: str) -> dict[str, st.SearchStrategy[dict[str, Any]]]:
    ids = _maybe(project.variation_ids(), "nope")
    keys = st.lists(st.sampled_from([*KEYS, "k9"]), min_size=1, max_size=3)
    kinds = st.sampled_from([None, *KINDS])
    rule_ids = _maybe(project.rule_ids(env), "no-rule")
    clause_pairs = _maybe(project.clause_ids(env), ("no-rule", "no-clause"))
    serve = st.one_of(
        ids.map(lambda v: {"variationId": v}),
        st.lists(ids, min_size=1, unique=True).flatmap(
            lambda chosen: weights(len(chosen)).map(lambda w: {"rolloutWeights": dict(zip(chosen, w, strict=True))})
        ),
        st.dictionaries(ids, st.sampled_from([0, 25_000, 50_000, 100_000, 100_000.0, True]), min_size=1).map(
            lambda w: {"rolloutWeights": w}
        ),
        st.just({"variationId": "flag:v0", "rolloutWeights": {"flag:v0": 100_000}}),
    )
    clauses = st.lists(st.sampled_from(CLAUSES * 3 + BAD_CLAUSES), max_size=2)
    prerequisite = st.sampled_from(PREREQUISITES)

    def targeted(kind: str) -> st.SearchStrategy[dict[str, Any]]:
        return st.fixed_dictionaries({"kind": st.just(kind), "values": keys, "variationId": ids, "contextKind": kinds})

    def values_of(kind: str) -> st.SearchStrategy[dict[str, Any]]:
        values = st.lists(st.sampled_from(["se", "beta", "ghost", 3, "@example.com"]), max_size=2)
        return st.builds(
            lambda p, v: {"kind": kind, "ruleId": p[0], "clauseId": p[1], "values": v}, clause_pairs, values
        )

    track = st.booleans() | st.just("yes")
    return {
        "turnFlagOn": st.just({"kind": "turnFlagOn"}),
        "turnFlagOff": st.just({"kind": "turnFlagOff"}),
        **{k: targeted(k) for k in ("addTargets", "removeTargets", "addUserTargets", "removeUserTargets")},
        "clearTargets": ids.map(lambda v: {"kind": "clearTargets", "variationId": v}),
        "clearUserTargets": ids.map(lambda v: {"kind": "clearUserTargets", "variationId": v}),
        "replaceTargets": st.lists(
            st.fixed_dictionaries({"variationId": ids, "values": keys, "contextKind": kinds}), max_size=3
        ).map(lambda t: {"kind": "replaceTargets", "targets": t}),
        "replaceUserTargets": st.lists(st.fixed_dictionaries({"variationId": ids, "values": keys}), max_size=4).map(
            lambda t: {"kind": "replaceUserTargets", "targets": t}
        ),
        "addRule": st.builds(
            lambda s, c, b, t: {"kind": "addRule", "clauses": c, "beforeRuleId": b, "trackEvents": t, **s},
            serve,
            clauses,
            st.none() | rule_ids,
            st.booleans(),
        ),
        "removeRule": rule_ids.map(lambda r: {"kind": "removeRule", "ruleId": r}),
        "reorderRules": st.permutations(project.rule_ids(env)).map(
            lambda r: {"kind": "reorderRules", "ruleIds": list(r)}
        ),
        "replaceRules": st.lists(st.builds(lambda s, c: {"clauses": c, **s}, serve, clauses), max_size=2).map(
            lambda r: {"kind": "replaceRules", "rules": r}
        ),
        "addClauses": st.builds(lambda r, c: {"kind": "addClauses", "ruleId": r, "clauses": c}, rule_ids, clauses),
        "removeClauses": clause_pairs.map(lambda p: {"kind": "removeClauses", "ruleId": p[0], "clauseIds": [p[1]]}),
        "updateClause": st.builds(
            lambda p, c: {"kind": "updateClause", "ruleId": p[0], "clauseId": p[1], "clause": c},
            clause_pairs,
            st.sampled_from(CLAUSES + BAD_CLAUSES),
        ),
        "addValuesToClause": values_of("addValuesToClause"),
        "removeValuesFromClause": values_of("removeValuesFromClause"),
        "updateRuleVariationOrRollout": st.builds(
            lambda r, s: {"kind": "updateRuleVariationOrRollout", "ruleId": r, **s}, rule_ids, serve
        ),
        "updateRuleDescription": rule_ids.map(
            lambda r: {"kind": "updateRuleDescription", "ruleId": r, "description": "d"}
        ),
        "updateRuleTrackEvents": st.builds(
            lambda r, t: {"kind": "updateRuleTrackEvents", "ruleId": r, "trackEvents": t}, rule_ids, track
        ),
        "updateFallthroughVariationOrRollout": serve.map(
            lambda s: {"kind": "updateFallthroughVariationOrRollout", **s}
        ),
        "updateOffVariation": ids.map(lambda v: {"kind": "updateOffVariation", "variationId": v}),
        "addPrerequisite": prerequisite.map(lambda p: {"kind": "addPrerequisite", **p}),
        "updatePrerequisite": prerequisite.map(lambda p: {"kind": "updatePrerequisite", **p}),
        "removePrerequisite": prerequisite.map(lambda p: {"kind": "removePrerequisite", "key": p["key"]}),
        "replacePrerequisites": st.lists(prerequisite, max_size=2).map(
            lambda p: {"kind": "replacePrerequisites", "prerequisites": p}
        ),
        "updateTrackEvents": track.map(lambda t: {"kind": "updateTrackEvents", "trackEvents": t}),
        "updateTrackEventsFallthrough": track.map(lambda t: {"kind": "updateTrackEventsFallthrough", "trackEvents": t}),
    }


def _project_instructions(project: Project) -> dict[str, st.SearchStrategy[dict[str, Any]]]:
    ids = _maybe(project.variation_ids(), "nope")
    values = st.sampled_from((*VALUE_POOL, True, False, "e"))
    simple = (
        "makeFlagPermanent", "makeFlagTemporary", "removeMaintainer", "archiveFlag", "restoreFlag",
        "deprecateFlag", "restoreDeprecatedFlag",
    )  # fmt: skip
    custom = ("addCustomProperties", "removeCustomProperties", "replaceCustomProperties")
    tags = st.lists(st.sampled_from(["t1", "t3", ""]), max_size=2)
    availability = st.sampled_from(["usingMobileKey", "usingEnvironmentId", "other"])
    return {
        **{k: st.just({"kind": k}) for k in simple},
        "addVariation": values.map(lambda v: {"kind": "addVariation", "value": v}),
        "removeVariation": ids.map(lambda v: {"kind": "removeVariation", "variationId": v}),
        "updateVariation": st.builds(
            lambda i, v, n: {"kind": "updateVariation", "variationId": i, "value": v, "name": n},
            ids,
            st.none() | values,
            st.none() | st.just("N"),
        ),
        "updateDefaultVariation": st.builds(
            lambda a, b: {"kind": "updateDefaultVariation", "onVariationValue": a, "OffVariationValue": b},
            st.none() | values,
            st.none() | values,
        ),
        "addTags": tags.map(lambda t: {"kind": "addTags", "values": t}),
        "removeTags": tags.map(lambda t: {"kind": "removeTags", "values": t}),
        "updateName": st.sampled_from(["New", "", 3]).map(lambda v: {"kind": "updateName", "value": v}),
        "updateDescription": st.sampled_from(["d", None]).map(lambda v: {"kind": "updateDescription", "value": v}),
        "updateMaintainerMember": st.sampled_from(["member-1", "ghost"]).map(
            lambda v: {"kind": "updateMaintainerMember", "value": v}
        ),
        "updateMaintainerTeam": st.sampled_from(["team-1", "ghost"]).map(
            lambda v: {"kind": "updateMaintainerTeam", "value": v}
        ),
        "turnOnClientSideAvailability": availability.map(
            lambda v: {"kind": "turnOnClientSideAvailability", "value": v}
        ),
        "turnOffClientSideAvailability": availability.map(
            lambda v: {"kind": "turnOffClientSideAvailability", "value": v}
        ),
        **{
            k: st.lists(st.sampled_from(["A-1", "A-2"]), max_size=2).map(
                lambda v, k=k: {"kind": k, "key": "jira", "name": "Jira", "values": v}
            )
            for k in custom
        },
    }


def instruction_table(project: Project, env: str) -> dict[str, st.SearchStrategy[dict[str, Any]]]:
    """A strategy per instruction kind (valid and invalid parameters), and ``junk`` for non-instructions."""
    return {
        **_env_instructions(project, env),
        **_project_instructions(project),
        "junk": st.sampled_from([{"kind": "deleteFlag"}, {"kind": "explode"}, {"values": []}, "turnFlagOn"]),
    }


def instructions(project: Project, env: str) -> st.SearchStrategy[dict[str, Any]]:
    """Any instruction for ``project.flag`` in ``env``: valid, invalid, or not an instruction at all."""
    table = instruction_table(project, env)
    return st.sampled_from(sorted(table)).flatmap(table.__getitem__)
