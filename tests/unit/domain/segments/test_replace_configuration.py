"""flagward's own ``replaceSegmentConfiguration`` (an import proposed for approval): it sets a segment's
salt, targets and rules verbatim (rule ids, weights, bucketBy kept), is validated like any change of the
segment (paths below ``configuration``), counts as a targeting change (what segment approvals gate), and
touches every part of the segment's targeting for conflicts."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flagward.domain.audit import AuditAction
from flagward.domain.conflicts import instruction_part, parts_overlap
from flagward.domain.describe import describe_segment_instructions, describe_unknown
from flagward.domain.segment_changes import FLAGWARD_SEGMENT_INSTRUCTIONS, SEGMENT_INSTRUCTION_KINDS
from flagward.domain.segment_configuration import (
    KIND,
    SEGMENT_CONFIGURATION_FIELDS,
    segment_configuration_of,
)
from tests.unit.domain.segments.factories import (
    apply,
    make_clause,
    make_context,
    make_rule,
    make_segment,
    rejected,
    segment_clause,
)

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


def _imported(**changes: Any) -> dict[str, Any]:
    weighted = make_rule("rule-from-ld", make_clause("clause-from-ld"), weight=30_000, bucketBy="email")
    weighted["rolloutContextKind"] = "user"
    config: dict[str, Any] = {
        "salt": "segment-salt-from-launchdarkly",
        "included": ["alice"],
        "excluded": ["mallory"],
        "includedContexts": [{"contextKind": "org", "values": ["acme"]}],
        "excludedContexts": [],
        "rules": [weighted],
    }
    config.update(changes)
    return config


def test_the_configuration_replaces_the_segments_targeting_verbatim_and_nothing_else() -> None:
    segment = make_segment(included=["bob"], rules=[make_rule("old")], tags=["t"], description="d")
    change = apply(segment, {"kind": KIND, "configuration": _imported()})
    assert segment_configuration_of(change.segment) == _imported()
    assert change.segment.rules[0]["_id"] == "rule-from-ld"
    assert change.segment.rules[0]["clauses"][0]["_id"] == "clause-from-ld"
    kept = ("name", "description", "tags", "version", "last_modified", "generation", "key")
    assert all(getattr(change.segment, name) == getattr(segment, name) for name in kept)  # the write path's
    assert change.actions == [
        AuditAction.UPDATE_SEGMENT_TARGETS,
        AuditAction.UPDATE_SEGMENT_EXCLUDED,
        AuditAction.UPDATE_SEGMENT_RULES,
    ]
    assert change.targeting_changed  # segment approvals gate it


def test_a_new_salt_alone_is_a_change_of_the_rules() -> None:
    segment = make_segment()
    change = apply(segment, {"kind": KIND, "configuration": {**segment_configuration_of(segment), "salt": "other"}})
    assert change.segment.salt == "other"
    assert change.actions == [AuditAction.UPDATE_SEGMENT_RULES] and change.targeting_changed
    same = apply(segment, {"kind": KIND, "configuration": segment_configuration_of(segment)})
    assert not same.changed  # already so: a no-op


@pytest.mark.parametrize(
    ("configuration", "reason"),
    [
        (None, "configuration must be an object"),
        ({k: v for k, v in _imported().items() if k != "salt"}, "configuration.salt is required"),
        ({**_imported(), "unbounded": True}, "configuration.unbounded is not a field of a segment's configuration"),
        (_imported(salt=""), "configuration.salt must be a non-empty string"),
        (_imported(included="alice"), "configuration.included must be a list of non-empty strings"),
        (_imported(rules=[{"_id": "r", "clauses": [], "weight": 100_001}]), "configuration.rules[0].weight must be"),
        (_imported(excluded=["alice"]), "configuration: 'alice' cannot be both included and excluded"),
        (
            _imported(includedContexts=[{"contextKind": "user", "values": ["x"]}]),
            "configuration.includedContexts[0]: user keys belong in included",
        ),
        (
            _imported(rules=[make_rule("r", segment_clause("c", "missing"))]),
            "configuration: segmentMatch names segment 'missing', which does not exist",
        ),
        (
            _imported(rules=[make_rule("r", segment_clause("c", "other"))]),
            "configuration: segment rules would form a cycle: beta → other → beta",
        ),
    ],
)
def test_a_malformed_configuration_is_refused_with_its_path(configuration: Any, reason: str) -> None:
    context = make_context({"other": [make_rule("o", segment_clause("c", "beta"))]})
    error = rejected(make_segment(), {"kind": KIND, "configuration": configuration}, context=context)
    assert (error.index, error.kind) == (0, KIND)
    assert error.reason.startswith(reason), error.reason


def test_it_is_flagward_s_own_and_overlaps_every_part_of_the_segment_s_targeting() -> None:
    assert KIND in FLAGWARD_SEGMENT_INSTRUCTIONS and KIND not in SEGMENT_INSTRUCTION_KINDS
    assert set(SEGMENT_CONFIGURATION_FIELDS) == set(_imported())
    part = instruction_part({"kind": KIND, "configuration": _imported()})
    for other in ({"kind": "addIncludedTargets"}, {"kind": "removeRule", "ruleId": "r1"}, {"kind": "reorderRules"}):
        assert parts_overlap(part, instruction_part(other))
    assert not parts_overlap(part, instruction_part({"kind": "updateName"}))


def test_it_reads_as_words() -> None:
    [text] = describe_segment_instructions([{"kind": KIND, "configuration": _imported()}])
    assert text == (
        "Replace the segment's targets and rules with the imported ones: include alice; include org contexts "
        "acme; exclude mallory; rule 1 ('rule-from-ld'): users whose email ends with .edu, 30% of them by "
        "email; salt 'segment-salt-from-launchdarkly' (rollout buckets kept)"
    )
    assert describe_segment_instructions([{"kind": "updateName", "value": "x"}]) == [
        describe_unknown({"kind": "updateName", "value": "x"})
    ]


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(st.dictionaries(st.sampled_from([*SEGMENT_CONFIGURATION_FIELDS, "x"]), JSON, max_size=6) | JSON)
def test_a_garbled_configuration_still_reads_as_a_sentence(configuration: Any) -> None:
    [text] = describe_segment_instructions([{"kind": KIND, "configuration": configuration}])
    assert text.startswith("Replace the segment's targets and rules with")
