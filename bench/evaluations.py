"""Benchmark 4: evaluations per second of flagward's evaluator and of ``ldclient``'s, on the same flags
and contexts (in process, no network, no events).

The flags cover what real targeting uses: individual targets, rules over several operators (string,
numeric, semver, date, regex), segment matches, percentage rollouts and prerequisites. Each evaluator
gets the same JSON; both are checked to agree on every result before timing.

    python -m bench.evaluations [--flags 200] [--contexts 500] [--repeat 3]
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from typing import Any

from ldclient import Context as LdContext
from ldclient.impl.evaluator import Evaluator as LdEvaluator
from ldclient.impl.events.types import EventFactory
from ldclient.impl.model import FeatureFlag, Segment

from bench._common import report
from flagward.domain.evaluation import Context, Evaluator, compile_flag, compile_segment

PLANS = ["free", "pro", "enterprise"]


def _clause(rng: random.Random, segments: int) -> dict[str, Any]:
    choice = rng.randrange(6)
    if choice == 0:
        return {"attribute": "email", "op": "endsWith", "values": ["@example.com", "@test.org"], "negate": False}
    if choice == 1:
        return {"attribute": "age", "op": "greaterThan", "values": [rng.randrange(18, 60)], "negate": False}
    if choice == 2:
        return {"attribute": "version", "op": "semVerGreaterThan", "values": ["2.3.0"], "negate": False}
    if choice == 3:
        return {"attribute": "plan", "op": "in", "values": rng.sample(PLANS, 2), "negate": rng.random() < 0.3}
    if choice == 4:
        return {"attribute": "name", "op": "matches", "values": ["^[a-m]"], "negate": False}
    return {"attribute": "", "op": "segmentMatch", "values": [f"segment-{rng.randrange(segments)}"], "negate": False}


def _rollout(rng: random.Random) -> dict[str, Any]:
    first = rng.randrange(0, 100001)
    return {"variations": [{"variation": 0, "weight": first}, {"variation": 1, "weight": 100000 - first}]}


def build(flag_count: int, segment_count: int, seed: int = 7) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rng = random.Random(seed)
    segments = [
        {
            "key": f"segment-{i}",
            "version": 1,
            "included": [f"user-{rng.randrange(1000)}" for _ in range(20)],
            "excluded": [],
            "rules": [
                {
                    "id": f"sr{i}",
                    "clauses": [{"attribute": "plan", "op": "in", "values": [rng.choice(PLANS)], "negate": False}],
                }
            ],
            "salt": f"salt-{i}",
        }
        for i in range(segment_count)
    ]
    flags = []
    for i in range(flag_count):
        rules = []
        for r in range(rng.randrange(1, 5)):
            rule: dict[str, Any] = {
                "id": f"r{i}-{r}",
                "clauses": [_clause(rng, segment_count) for _ in range(rng.randrange(1, 3))],
            }
            if rng.random() < 0.3:
                rule["rollout"] = _rollout(rng)
            else:
                rule["variation"] = rng.randrange(2)
            rules.append(rule)
        flag: dict[str, Any] = {
            "key": f"flag-{i}",
            "version": 1,
            "on": rng.random() < 0.9,
            "variations": [True, False],
            "offVariation": 1,
            "fallthrough": _rollout(rng) if rng.random() < 0.5 else {"variation": 0},
            "targets": [{"variation": 0, "values": [f"user-{rng.randrange(1000)}" for _ in range(10)]}],
            "contextTargets": [],
            "rules": rules,
            "prerequisites": [{"key": f"flag-{i - 1}", "variation": 0}] if i and rng.random() < 0.2 else [],
            "salt": f"salt-{i}",
            "deleted": False,
        }
        flags.append(flag)
    return flags, segments


def contexts(count: int, seed: int = 11) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [
        {
            "kind": "user",
            "key": f"user-{rng.randrange(1000)}",
            "name": rng.choice(["alice", "bob", "nora", "zed"]),
            "email": rng.choice(["a@example.com", "b@test.org", "c@other.net"]),
            "age": rng.randrange(12, 80),
            "version": rng.choice(["1.9.0", "2.3.1", "3.0.0"]),
            "plan": rng.choice(PLANS),
        }
        for _ in range(count)
    ]


def _interleaved(runs: list[Callable[[], float]], repeat: int) -> list[float]:
    """The best of ``repeat`` rounds that alternate between the runs (so a busy machine slows both alike)."""
    best = [0.0] * len(runs)
    for _ in range(repeat):
        for i, run in enumerate(runs):
            best[i] = max(best[i], run())
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flags", type=int, default=200)
    parser.add_argument("--segments", type=int, default=20)
    parser.add_argument("--contexts", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    flags, segments = build(args.flags, args.segments)
    ctx_dicts = contexts(args.contexts)

    ours_flags = {f["key"]: compile_flag(f) for f in flags}
    ours_segments = {s["key"]: compile_segment(s) for s in segments}
    ours = Evaluator(ours_flags.get, ours_segments.get)
    ours_contexts = [Context.from_dict(c) for c in ctx_dicts]

    ld_flags = {f["key"]: FeatureFlag(f) for f in flags}
    ld_segments = {s["key"]: Segment(s) for s in segments}
    ld = LdEvaluator(ld_flags.get, ld_segments.get, lambda _key: (None, "NOT_CONFIGURED"))
    ld_contexts = [LdContext.from_dict(c) for c in ctx_dicts]
    events = EventFactory(False)

    for flag in flags:  # the same results, before anything is timed
        for ours_ctx, ld_ctx in zip(ours_contexts, ld_contexts, strict=True):
            mine = ours.evaluate(ours_flags[flag["key"]], ours_ctx)
            theirs = ld.evaluate(ld_flags[flag["key"]], ld_ctx, events).detail
            assert (mine.value, mine.variation_index, mine.reason) == (
                theirs.value,
                theirs.variation_index,
                theirs.reason,
            )

    # Each run evaluates every flag for each context, as an SDK's all-flags call or a client-side SDK's
    # evaluation request does, on contexts parsed afresh (outside the timing): nothing carries over between
    # runs. Rates are per CPU-second of this process (time spent waiting for a core is left out).
    def run_ours() -> float:
        fresh = [Context.from_dict(c) for c in ctx_dicts]
        started = time.process_time()
        for ctx in fresh:
            for compiled in ours_flags.values():
                ours.evaluate(compiled, ctx)
        return len(ours_flags) * len(fresh) / (time.process_time() - started)

    def run_ld() -> float:
        fresh = [LdContext.from_dict(c) for c in ctx_dicts]
        started = time.process_time()
        for ctx in fresh:
            for flag in ld_flags.values():
                ld.evaluate(flag, ctx, events)
        return len(ld_flags) * len(fresh) / (time.process_time() - started)

    flagward_rate, ldclient_rate = _interleaved([run_ours, run_ld], args.repeat)
    report(
        "evaluations",
        {
            "flags": args.flags,
            "segments": args.segments,
            "contexts": args.contexts,
            "evaluations_per_run": args.flags * args.contexts,
            "flagward_evaluations_per_second": round(flagward_rate),
            "ldclient_evaluations_per_second": round(ldclient_rate),
            "ratio": round(flagward_rate / ldclient_rate, 2),
            "note": "best of --repeat interleaved rounds, per CPU-second, one thread, contexts parsed afresh each "
            "round (untimed); ldclient.impl.evaluator.Evaluator, no events",
        },
    )


if __name__ == "__main__":
    main()
