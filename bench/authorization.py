"""The cost policy evaluation adds to a request: an actor with 50 custom roles of 20 statements each.

A "request" here is what one API call asks of ``domain.authorization``: its effective access is built
(``actor_access``: the base role and the 50 role policies, whose statements are the same objects from
request to request, as a role cache would hand them out) and then asked what a flag PATCH asks: the
project read, the environment reads of a flag representation (5 environments), and the effect of the
change (3 actions on the flag in one environment, with its tags before and after) — 12 decisions on
resources no earlier request asked about (fresh flag keys and tags), so no decision is remembered.

    .venv/bin/python -m bench.authorization [--requests 5000]
"""

from __future__ import annotations

import argparse
import gc
import random
import time
from typing import Any

from bench._common import percentile, report
from flagward.domain.access import Access, Policy
from flagward.domain.accounts import Actor, ActorKind, Role
from flagward.domain.authorization import permits
from flagward.domain.builtin_roles import actor_access
from flagward.domain.policy import Effect, Statement

ROLES = 50
STATEMENTS = 20
ENVIRONMENTS = ["production", "staging", "test", "qa", "dev"]
FLAG_ACTIONS = [
    "updateOn",
    "updateRules",
    "updateTargets",
    "updateFallthrough",
    "updateOffVariation",
    "updatePrerequisites",
    "createApprovalRequest",
    "reviewApprovalRequest",
    "applyApprovalRequest",
    "bypassRequiredApproval",
    "copyFlagConfigTo",
]
TAGS = [f"team-{i}" for i in range(30)]


def _statement(rng: random.Random, projects: list[str], untagged: float) -> Statement:
    """A realistic statement: mostly flags (by environment and tag), some segments, projects, members."""
    kind = rng.random()
    env = rng.choice([*ENVIRONMENTS, "*", "*;critical"])
    project = rng.choice(projects)
    if kind < 0.6:
        tag = rng.choice(TAGS)
        resource = f"proj/{project}:env/{env}:flag/*" + ("" if rng.random() < untagged else f";{tag}")
        actions: tuple[str, ...] = tuple(rng.sample(FLAG_ACTIONS, rng.randint(1, 4)))
        if rng.random() < 0.15:
            actions = ("update*",)
    elif kind < 0.75:
        resource = f"proj/{project}:env/{env}:segment/*"
        actions = ("updateIncluded", "updateRules")
    elif kind < 0.9:
        resource = f"proj/shop-{rng.randint(0, 9)}"
        actions = ("viewProject",)
    else:
        resource = f"proj/{project}:env/{env}"
        actions = ("viewEnvironment", "viewSdkKey")
    effect = Effect.DENY if rng.random() < 0.1 else Effect.ALLOW
    if effect is Effect.ALLOW and rng.random() < 0.05:
        return Statement(effect, resources=(resource,), not_actions=("bypass*",))
    return Statement(effect, resources=(resource,), actions=actions)


def _roles(rng: random.Random, projects: list[str], untagged: float) -> tuple[Policy, ...]:
    return tuple(tuple(_statement(rng, projects, untagged) for _ in range(STATEMENTS)) for _ in range(ROLES))


# (projects the roles name, share of flag statements without a tag, tags of the flags asked about)
# "mixed": roles over every project (flag decisions allowed: an allow ends the search early);
# "other_projects": roles over other projects only (refused by the prefilter, one regex);
# "other_tags": roles over every project, all tag-scoped, flags tagged otherwise (refused after every
#   policy was asked: the worst case).
SCENARIOS: dict[str, tuple[list[str], float, list[str]]] = {
    "mixed": (["*", *(f"shop-{i}" for i in range(10))], 0.2, TAGS),
    "other_projects": ([f"shop-{i}" for i in range(2, 10)], 0.2, TAGS),
    "other_tags": (["*", *(f"shop-{i}" for i in range(10))], 0.0, [f"other-{i}" for i in range(30)]),
}


def _request(roles: tuple[Policy, ...], rng: random.Random, n: int, tags: list[str]) -> tuple[float, float, int]:
    """One request's authorization work: (wall seconds, CPU seconds of this thread, decisions allowed)."""
    flag = f"flag-{n}"
    before = rng.sample(tags, 2)
    after = [*before[:1], rng.choice(tags)]
    env = rng.choice(ENVIRONMENTS)
    started, cpu = time.perf_counter(), time.thread_time()
    access = actor_access(Role.NO_ACCESS, roles, member_id="a" * 24)
    actor = Actor(kind=ActorKind.SESSION, role=Role.NO_ACCESS, member_id="a" * 24, access=access)
    allowed = int(permits(actor, "viewProject", "proj/shop-1"))
    for other in ENVIRONMENTS:
        allowed += permits(actor, "viewEnvironment", f"proj/shop-1:env/{other}")
    for action in ("updateOn", "updateRules", "updateTargets"):
        for flag_tags in (before, after):
            allowed += permits(actor, action, f"proj/shop-1:env/{env}:flag/{flag};{','.join(sorted(flag_tags))}")
    return time.perf_counter() - started, time.thread_time() - cpu, allowed


def run(requests: int, projects: list[str], untagged: float, tags: list[str]) -> dict[str, Any]:
    rng = random.Random(11)
    roles = _roles(rng, projects, untagged)
    started = time.perf_counter()
    Access(policies=roles)  # the first request compiles the 50 policies (then cached by content)
    first = time.perf_counter() - started
    for n in range(200):  # warm the specifier parse cache for the fixed resources
        _request(roles, rng, -n, tags)
    gc.collect()
    gc.freeze()  # as ``flagward serve`` does once started: long-lived objects leave the collector's walk
    runs = [_request(roles, rng, n, tags) for n in range(requests)]
    ms = [wall * 1000 for wall, _, _ in runs]
    cpu_ms = [cpu * 1000 for _, cpu, _ in runs]
    return {
        "roles": ROLES,
        "statements_per_role": STATEMENTS,
        "decisions_per_request": 12,
        "requests": requests,
        "first_compile_ms": round(first * 1000, 3),
        "p50_ms": round(percentile(ms, 50), 4),
        "p99_ms": round(percentile(ms, 99), 4),
        "max_ms": round(max(ms), 4),
        "cpu_p50_ms": round(percentile(cpu_ms, 50), 4),
        "cpu_p99_ms": round(percentile(cpu_ms, 99), 4),
        "decisions_allowed": round(sum(a for _, _, a in runs) / (12 * requests), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=5000)
    args = parser.parse_args()
    results = {name: run(args.requests, *scenario) for name, scenario in SCENARIOS.items()}
    report("authorization", results)


if __name__ == "__main__":
    main()
