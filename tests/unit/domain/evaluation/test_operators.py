"""Clause operators: a table of the type rules, then parity with the Python SDK over a value grid."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from ldclient.impl.model.clause import _preprocess_clause_values
from ldclient.impl.operators import ops as ld_ops

from flagward.domain.evaluation.operators import OPERATORS, compile_matcher, parse_semver, parse_time_ms

DATE = "2017-12-06T07:00:00Z"
DATE_MS = 1512543600000

# (operator, context value, clause value, expected)
TABLE: list[tuple[str, Any, Any, bool]] = [
    # in: JSON equality; int == float; bool is never a number
    ("in", "a", "a", True),
    ("in", "a", "b", False),
    ("in", 99, 99.0, True),
    ("in", 99.0, 99, True),
    ("in", True, 1, False),
    ("in", 1, True, False),
    ("in", False, 0, False),
    ("in", 0.0, False, False),
    ("in", True, True, True),
    ("in", "1", 1, False),
    ("in", {"a": [1, "x"]}, {"a": [1.0, "x"]}, True),
    ("in", {"a": [True]}, {"a": [1]}, False),
    ("in", [1], [1], True),
    # string operators need two strings
    ("startsWith", "prefixabc", "prefix", True),
    ("startsWith", "Prefixabc", "prefix", False),
    ("startsWith", 99, "99", False),
    ("startsWith", "99", 99, False),
    ("endsWith", "abcsuffix", "suffix", True),
    ("endsWith", "suffixno", "suffix", False),
    ("endsWith", True, "true", False),
    ("contains", "abcsubstringxyz", "substring", True),
    ("contains", "abcSubstringxyz", "substring", False),
    ("contains", None, "null", False),
    ("contains", "x", "", True),
    # matches: Python re.search, unanchored; bad regex or non-string never matches
    ("matches", "matchThisName", "^[A-Za-z]+", True),
    ("matches", "_Don't match", "^[A-Za-z]+", False),
    ("matches", "xxabcxx", "abc", True),
    ("matches", "abc", "[", False),
    ("matches", 99, "99", False),
    ("matches", "99", 99, False),
    # numbers: both numbers, bools excluded
    ("lessThan", 99, 100, True),
    ("lessThan", 100, 100, False),
    ("lessThan", 99.5, 100, True),
    ("lessThan", "99", 100, False),
    ("lessThan", 99, "100", False),
    ("lessThan", False, 1, False),
    ("lessThanOrEqual", 100, 100.0, True),
    ("lessThanOrEqual", 100.1, 100, False),
    ("greaterThan", 100.1, 100, True),
    ("greaterThan", 100, 100, False),
    ("greaterThan", True, 0, False),
    ("greaterThanOrEqual", 100, 100, True),
    ("greaterThanOrEqual", 99, 100, False),
    # dates: Unix ms numbers or RFC 3339 strings with a zone
    ("before", DATE_MS - 1, DATE, True),
    ("before", DATE, DATE_MS + 1, True),
    ("before", DATE, DATE_MS, False),
    ("after", DATE, DATE_MS, False),
    ("after", "2017-12-06T00:00:01-07:00", DATE, True),
    ("after", "2017-12-06T07:00:00.001Z", DATE_MS, True),
    ("after", "2017-12-06t07:00:00.001z", DATE_MS, True),
    ("before", "2017-12-06", DATE_MS + 10**9, False),
    ("before", "2017-12-06T07:00:00", DATE_MS + 10**9, False),
    ("before", "1512543600000", DATE_MS + 1, False),
    ("before", "badstring", DATE_MS, False),
    ("before", True, DATE_MS, False),
    ("before", DATE_MS, None, False),
    ("after", DATE_MS + 1, {}, False),
    # semver: strings only, minor/patch padded, SemVer 2.0 precedence, build ignored
    ("semVerEqual", "2.0.0", "2.0.0", True),
    ("semVerEqual", "2", "2.0.0", True),
    ("semVerEqual", "2.0", "2.0.0", True),
    ("semVerEqual", "2-rc", "2.0.0-rc", True),
    ("semVerEqual", "2.0.0+build", "2.0.0", True),
    ("semVerEqual", "02.0.0", "2.0.0", False),
    ("semVerEqual", "v2.0.0", "2.0.0", False),
    ("semVerEqual", "2.0.0.0", "2.0.0", False),
    ("semVerEqual", 2, "2.0.0", False),
    ("semVerEqual", "2.0.0", 2, False),
    ("semVerLessThan", "2.0.0-rc", "2.0.0", True),
    ("semVerLessThan", "2.0.0-rc.1", "2.0.0-rc.2", True),
    ("semVerLessThan", "2.0.0-rc.2", "2.0.0-rc.10", True),
    ("semVerLessThan", "2.0.0-2", "2.0.0-alpha", True),
    ("semVerLessThan", "2.0.0-alpha", "2.0.0-alpha.1", True),
    ("semVerLessThan", "1.9.9", "2", True),
    ("semVerGreaterThan", "2.0.1", "2.0.0", True),
    ("semVerGreaterThan", "2.0.0", "2.0.0-rc", True),
    ("semVerGreaterThan", "2.0.0", "2.0.0", False),
    ("semVerGreaterThan", "10.0.0", "9.0.0", True),
    # unknown operators never match
    ("unknownOperator", "a", "a", False),
    ("segmentMatch", "a", "a", False),
]


@pytest.mark.parametrize(("op", "context_value", "clause_value", "expected"), TABLE)
def test_operator_table(op: str, context_value: Any, clause_value: Any, expected: bool) -> None:
    assert compile_matcher(op, [clause_value])(context_value) is expected


def test_any_clause_value_matches() -> None:
    assert compile_matcher("in", ["x", 3, True])(3)
    assert compile_matcher("startsWith", ["no", "ab"])("abc")
    assert compile_matcher("lessThan", [1, 100])(50)
    assert not compile_matcher("lessThan", [1, 10])(50)
    assert compile_matcher("semVerLessThan", ["bad", "3.0.0"])("2.9.0")
    assert not compile_matcher("matches", [])("anything")


def test_parsers() -> None:
    assert parse_time_ms("2017-12-06T00:00:00.000-07:00") == float(DATE_MS)
    assert parse_time_ms("2017-12-06T07:00:00.1234567Z") == DATE_MS + 123.456
    assert parse_time_ms("2017-12-06X00:00:00.000-07:00") is None  # RFC 3339 needs the "T"
    assert parse_time_ms("2017-12-06T07:00:00+24:00") is None
    assert parse_time_ms("2017-02-30T07:00:00Z") is None
    assert parse_time_ms(10**400) == float("inf")
    assert parse_semver("2.1-beta") == parse_semver("2.1.0-beta")
    assert parse_semver("1.2.3-01") is None  # numeric pre-release identifiers have no leading zero
    assert parse_semver(None) is None


# Parity with ldclient's operators over a grid of values. Excluded on purpose:
# * date strings in ISO 8601 forms that are not RFC 3339 (ldclient 9.20 parses dates with
#   datetime.fromisoformat, which also accepts "2017-12-06X07:00:00Z", week dates, ...; we follow RFC 3339);
# * nested booleans vs numbers in "in" (ldclient compares nested values with Python ==, where True == 1).
GRID: list[Any] = [
    "",
    "a",
    "abc",
    "ABC",
    "b",
    "^a",
    "c$",
    "[",
    "99",
    "1.2.3",
    "1.2",
    "1",
    "1.2.3-rc.1",
    "1.2.3-rc.10",
    "1.2.3+b",
    "01.2.3",
    "v1",
    DATE,
    "2017-12-06T00:00:00.000-07:00",
    "2017-12-06T07:00:01.5+01:00",
    "2017-12-06",
    "badstring",
    0,
    1,
    99,
    99.0,
    100,
    -1.5,
    DATE_MS,
    True,
    False,
    None,
    ["a", 1],
    {"a": "b"},
]


def _ld_match(op: str, context_value: Any, clause_value: Any) -> bool:
    preprocessed = _preprocess_clause_values(op, [clause_value])
    return bool(ld_ops[op](context_value, clause_value, None if preprocessed is None else preprocessed[0]))


@pytest.mark.parametrize("op", sorted(OPERATORS))
def test_operators_agree_with_ldclient(op: str) -> None:
    mismatches = [
        (u, c) for u, c in itertools.product(GRID, GRID) if compile_matcher(op, [c])(u) != _ld_match(op, u, c)
    ]
    assert mismatches == []
