"""Every evaluation in LaunchDarkly's published SDK test vectors, run through flagward's evaluator.

The harness checks what an SDK's typed ``*VariationDetail`` call returns, so each evaluator result goes
through :func:`typed_result` (default value when there is no variation, ``WRONG_TYPE`` for a value of the
wrong type) with the default and value type the harness would pass (:func:`resolve_default`). A context
that does not parse is the SDK's ``USER_NOT_SPECIFIED``.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from flagward.domain.evaluation import (
    CompiledFlag,
    Context,
    ContextError,
    EvaluationDetail,
    Evaluator,
    compile_flag,
    compile_segment,
)
from tests.unit.domain.evaluation.vectors import (
    EXCEPTION_PREREQUISITE_KEY,
    VECTORS_ROOT,
    VectorEvaluation,
    VectorFile,
    canonical_reason,
    load_vector_files,
    resolve_default,
    typed_result,
)

SERVER_DIR = VECTORS_ROOT / "server-side-eval"
CLIENT_DIR = VECTORS_ROOT / "client-side-eval"


def _cases(directory: Path) -> list[Any]:
    # The vectors are vendored under tests/data; their absence is a broken checkout, not a reason to skip.
    assert directory.is_dir(), f"vectors not found at {directory}"
    cases = []
    seen: Counter[str] = Counter()
    for vector in load_vector_files(directory):
        for evaluation in vector.evaluations:
            case_id = f"{vector.source}: {vector.name}: {evaluation.name}"
            seen[case_id] += 1
            if seen[case_id] > 1:
                case_id += f" #{seen[case_id]}"
            cases.append(pytest.param(vector, evaluation, id=case_id))
    return cases


def _evaluate(vector: VectorFile, evaluation: VectorEvaluation) -> EvaluationDetail:
    flags = {key: compile_flag(data) for key, data in vector.sdk_data["flags"].items()}
    segments = {key: compile_segment(data) for key, data in vector.sdk_data["segments"].items()}

    def get_flag(key: str) -> CompiledFlag | None:
        if key == EXCEPTION_PREREQUISITE_KEY:
            raise RuntimeError("simulated store failure")
        return flags.get(key)

    try:
        context = Context.from_dict(evaluation.context)
    except ContextError:
        return EvaluationDetail(None, None, {"kind": "ERROR", "errorKind": "USER_NOT_SPECIFIED"})
    return Evaluator(get_flag, segments.get).evaluate_key(evaluation.flag_key, context)


def _json(value: Any) -> str:
    # Strict comparison: True must not pass for 1, nor 0 for False.
    return json.dumps(value, sort_keys=True)


def _assert_result(actual: tuple[Any, int | None, dict[str, Any]], expected: tuple[Any, Any, Any]) -> None:
    value, index, reason = actual
    exp_value, exp_index, exp_reason = expected
    assert (_json(value), index, reason) == (_json(exp_value), exp_index, exp_reason)


@pytest.mark.parametrize(("vector", "evaluation"), _cases(SERVER_DIR))
def test_server_side_vector(vector: VectorFile, evaluation: VectorEvaluation) -> None:
    detail = _evaluate(vector, evaluation)
    default, value_type = resolve_default(vector, evaluation)
    actual = typed_result(detail.value, detail.variation_index, detail.reason, value_type, default)
    expect = evaluation.expect
    _assert_result(actual, (expect.value, expect.variation_index, expect.reason))


@pytest.mark.parametrize(("vector", "evaluation"), _cases(CLIENT_DIR))
def test_client_side_vector(vector: VectorFile, evaluation: VectorEvaluation) -> None:
    """Client-side vectors check that a client SDK relays what the server evaluated.

    We check the server half: ``vector.sdk_data`` holds flags synthesized to produce each served result,
    and flagward must evaluate them to exactly that result. Differences from the file, on purpose:

    * reasons are compared in their SDK spelling (``canonical_reason``: ``isExperiment`` is
      ``inExperiment``, ``prereqKey`` is ``prerequisiteKey``);
    * ``reasons.yml`` serves an ``ERROR`` reason *with* a value and variation. A client SDK relays that
      as is, but no evaluator produces it: an error never has a variation. For those we assert the
      server-side truth, the default value with no variation and the same error reason;
    * ``errors-wrong-type.yml`` is typed-variation behaviour of the SDK. The evaluator returns the
      flag's value (asserted first); ``typed_result`` then models the SDK's ``WRONG_TYPE`` conversion.
    """
    detail = _evaluate(vector, evaluation)
    default, value_type = resolve_default(vector, evaluation)
    expect = evaluation.expect
    expected_reason = canonical_reason(expect.reason)
    served = vector.client_results.get(evaluation.flag_key)
    if served is not None:
        served_reason = canonical_reason(served.get("reason") or {"kind": "FALLTHROUGH"})
        if served_reason.get("kind") == "ERROR":
            assert (detail.value, detail.variation_index, detail.reason) == (None, None, served_reason)
            assert expected_reason == served_reason
            return
        assert (_json(detail.value), detail.variation_index, detail.reason) == (
            _json(served["value"]),
            served["variation"],
            served_reason,
        )
    actual = typed_result(detail.value, detail.variation_index, detail.reason, value_type, default)
    _assert_result(actual, (expect.value, expect.variation_index, expected_reason))


def test_vector_counts() -> None:
    """Guard against the loader silently dropping files or permutations."""
    server = load_vector_files(SERVER_DIR)
    per_file = Counter(v.source for v in server)
    assert len(per_file) == len(list(SERVER_DIR.glob("*.yml")))
    assert per_file["server-side-eval/operators-date-bad-syntax.yml"] == 6 * 3 * 2
    assert per_file["server-side-eval/operators-semver-bad-type.yml"] == 4 * 3 * 3
    assert sum(len(v.evaluations) for v in server) == 600
    assert sum(len(v.evaluations) for v in load_vector_files(CLIENT_DIR)) == 30


def test_parameter_lists_expand_first_list_fastest() -> None:
    files = [v for v in load_vector_files(SERVER_DIR) if v.source.endswith("operators-date-bad-syntax.yml")]
    assert [v.params["BAD_VALUE"] for v in files[:2]] == ["2017-12-06X00:00:00.000-07:00", "2017-12-06"]
    assert {v.params["OK_VALUE"] for v in files[:6]} == {"2017-12-06T00:00:00.000-07:00"}
    assert files[0].params["OPERATOR"] == "before" and files[-1].params["OPERATOR"] == "after"
    # Quoted placeholders keep their JSON type: the numeric OK_VALUE is a number in the clause.
    numeric = next(v for v in files if v.params["OK_VALUE"] == 1512543600000)
    clause = numeric.sdk_data["flags"]["test-compare-ok-value"]["rules"][0]["clauses"][0]
    assert clause["values"] == [1512543600000]
