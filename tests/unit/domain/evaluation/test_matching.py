"""Compiled clause tests (``matching.value_test``) give exactly what the operator's general matcher gives.

A clause on a top-level attribute is compiled into one closure with the operator inlined for the common
value type (strings, in-range numbers); everything else goes through :func:`compile_matcher`. The grid
below crosses every operator with clause value lists and context values chosen around the fast paths'
edges (int/float boundaries at 2**53, NaN, infinities, booleans, arrays, unparsable versions, invalid
regexes), and checks the closure against the clause semantics written out over the general matcher.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest

from flagward.domain.evaluation import Context
from flagward.domain.evaluation.context import AttrRef
from flagward.domain.evaluation.matching import value_test
from flagward.domain.evaluation.operators import OPERATORS, compile_matcher

BIG = 2**53
CONTEXT_VALUES: list[Any] = [
    "",
    "a",
    "abc",
    "xabc",
    "ABC",
    "1.2.3",
    "2.0.0",
    "2",
    "2.0.0-rc.1",
    "v1",
    "badstring",
    "2017-12-06T07:00:00Z",
    0,
    1,
    -1,
    99,
    99.0,
    99.5,
    100,
    BIG - 1,
    BIG,
    BIG + 1,
    -BIG - 1,
    10**400,
    1e300,
    math.inf,
    -math.inf,
    math.nan,
    True,
    False,
    [],
    ["a", 99],
    ["zzz", "abc"],
    ("abc",),
    {"a": 1},
    None,
]
CLAUSE_VALUES: list[list[Any]] = [
    [],
    ["a"],
    ["abc", "x"],
    ["^a", "["],
    ["["],
    ["c$"],
    [99],
    [99, 1],
    [99.5, "abc"],
    [BIG + 1],
    [BIG],
    [10**400],
    [math.nan],
    [math.inf],
    [True],
    [1, True],
    ["1.2.3"],
    ["2", "bad"],
    ["2.0.0-rc.1", "1.0.0"],
    ["2017-12-06T07:00:00Z"],
    [1512543600000],
    [["a", 99]],
    [{"a": 1}],
]


def _expected(op: str, values: list[Any], value: Any, negate: bool, kind_present: bool) -> bool:
    if not kind_present or value is None:
        return False
    matcher = compile_matcher(op, values)
    if isinstance(value, list | tuple):
        return any(matcher(v) for v in value) != negate
    return matcher(value) != negate


@pytest.mark.parametrize("op", sorted(OPERATORS))
def test_compiled_clause_tests_agree_with_the_general_matcher(op: str) -> None:
    ref = AttrRef.literal("attr")
    mismatches = []
    for values, negate in itertools.product(CLAUSE_VALUES, (False, True)):
        test = value_test("user", ref, op, values, compile_matcher(op, values), negate)
        for value in CONTEXT_VALUES:
            for kind in ("user", "org"):
                ctx = Context(kind, "k", attributes={"attr": value})
                got = test(ctx, lambda _key: None)
                if got != _expected(op, values, value, negate, kind == "user"):
                    mismatches.append((values, negate, value, kind, got))
    assert mismatches == []
