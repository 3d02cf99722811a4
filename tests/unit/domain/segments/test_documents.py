"""The UserSegment document, reading a patched one back, and which JSON patch paths are writable."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from flagward.domain.audit import AuditAction
from flagward.domain.errors import InvalidRequest
from flagward.domain.segment_changes import (
    check_segment_patch_paths,
    describe_segment_changes,
    parse_new_segment_rules,
    segment_document,
    segment_from_document,
)
from flagward.domain.segments import Segment
from tests.unit.domain.segments.factories import make_clause, make_rule, make_segment, segment_clause


def rich_segment() -> Segment:
    return make_segment(
        included=["u1"],
        excluded=["u2"],
        included_contexts=[{"contextKind": "org", "values": ["o1"]}],
        excluded_contexts=[{"contextKind": "device", "values": ["d1"]}],
        rules=[
            make_rule("r1", make_clause("c1"), segment_clause("c2", "staff"), weight=5, bucketBy="email"),
            make_rule("r2", rolloutContextKind="org", description="Orgs"),
        ],
        tags=["beta", "edu"],
        description="Students",
    )


def test_the_document_has_launchdarklys_user_segment_fields() -> None:
    segment = rich_segment()

    assert segment_document(segment) == {
        "key": "beta",
        "name": "Beta users",
        "description": "Students",
        "tags": ["beta", "edu"],
        "creationDate": 1_000,
        "lastModifiedDate": 2_000,
        "included": ["u1"],
        "excluded": ["u2"],
        "includedContexts": [{"contextKind": "org", "values": ["o1"]}],
        "excludedContexts": [{"contextKind": "device", "values": ["d1"]}],
        "rules": segment.rules,
        "version": 3,
        "deleted": False,
        "unbounded": False,
        "generation": 1,
        "salt": "salty",
    }


def test_the_document_always_has_a_description_so_json_patch_can_replace_it() -> None:
    assert segment_document(make_segment())["description"] == ""


def test_unbounded_context_kind_appears_only_when_set() -> None:
    segment = make_segment()
    assert "unboundedContextKind" not in segment_document(segment)
    segment.unbounded_context_kind = "user"
    assert segment_document(segment)["unboundedContextKind"] == "user"


def test_the_document_shares_nothing_with_the_segment() -> None:
    segment = rich_segment()
    doc = segment_document(segment)

    doc["included"].append("x")
    doc["includedContexts"][0]["values"].append("x")
    doc["rules"][0]["clauses"][0]["values"].append("x")
    doc["tags"].append("x")

    assert segment == rich_segment()


@pytest.mark.parametrize("factory", [make_segment, rich_segment])
def test_round_trip(factory: Any) -> None:
    segment = factory()

    back = segment_from_document(segment_document(segment), segment)

    assert back == segment
    assert back is not segment
    assert not describe_segment_changes(segment, back).changed


def test_reading_a_document_never_changes_the_original() -> None:
    segment = rich_segment()
    doc = segment_document(segment)
    doc["rules"][0]["weight"] = 7

    back = segment_from_document(doc, segment)

    assert back.rules[0]["weight"] == 7
    assert segment == rich_segment()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("key", "other"),
        ("version", 4),
        ("version", True),
        ("creationDate", 1),
        ("lastModifiedDate", 1),
        ("salt", "pepper"),
        ("generation", 2),
        ("unbounded", True),
        ("unboundedContextKind", "org"),
        ("deleted", True),
    ],
)
def test_read_only_fields_cannot_change(field: str, value: object) -> None:
    doc = segment_document(rich_segment())
    doc[field] = value

    with pytest.raises(InvalidRequest, match=f"^{field} is read-only$"):
        segment_from_document(doc, rich_segment())


def test_read_only_fields_may_be_absent_and_decorations_are_ignored() -> None:
    doc = segment_document(rich_segment())
    for field in ("key", "version", "salt", "deleted"):
        del doc[field]
    doc["_links"] = {"self": {"href": "/x"}}
    doc["_flags"] = []

    assert segment_from_document(doc, rich_segment()) == rich_segment()


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(InvalidRequest, match="'colour' is not a segment field"):
        segment_from_document({**segment_document(make_segment()), "colour": "red"}, make_segment())


def test_missing_writable_fields_become_empty() -> None:
    """A merge patch with ``null`` removes the field from the document."""
    doc = {"name": "Renamed"}

    back = segment_from_document(doc, rich_segment())

    assert back.name == "Renamed"
    assert (back.description, back.tags, back.included, back.excluded, back.rules) == ("", [], [], [], [])
    assert back.included_contexts == back.excluded_contexts == []


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("name", None, "name is required"),
        ("name", "", "name is required"),
        ("description", 3, "description must be a string"),
        ("tags", "beta", "tags must be a list"),
        ("included", [1], "included must be a list of non-empty strings"),
        ("includedContexts", {}, "includedContexts must be a list"),
        ("includedContexts", [{"contextKind": "user", "values": ["u"]}], "user keys belong in included"),
        ("excludedContexts", [{"contextKind": "org"}], "excludedContexts[0].values must be a list"),
        ("excludedContexts", ["org"], "excludedContexts[0] must be an object"),
        ("rules", {}, "rules must be a list"),
        ("rules", [{"clauses": [], "variation": 1}], "rules[0].variation is not a segment rule field"),
        ("rules", [{"clauses": [], "weight": 100_001}], "rules[0].weight must be an integer"),
        ("rules", [{"_id": 5, "clauses": []}], "rules[0]._id must be a non-empty string"),
        ("rules", [{"_id": "a", "clauses": []}, {"_id": "a", "clauses": []}], "rules[1]._id 'a' is used"),
        ("rules", [{"clauses": [make_clause("c"), make_clause("c")]}], "rules[0].clauses[1]._id 'c' is used"),
        ("rules", [{"clauses": "x"}], "rules[0].clauses must be a list"),
        ("rules", [{"clauses": [{"op": "in"}]}], "rules[0].clauses[0].attribute is required"),
        ("rules", ["r"], "rules[0] must be an object"),
    ],
)
def test_malformed_documents_are_refused(field: str, value: Any, reason: str) -> None:
    doc = segment_document(rich_segment())
    doc[field] = value

    with pytest.raises(InvalidRequest) as caught:
        segment_from_document(doc, rich_segment())

    assert reason in caught.value.message


def test_documents_are_normalized_like_instructions_leave_segments() -> None:
    doc = segment_document(make_segment())
    doc["included"] = ["a", "b", "a"]
    doc["tags"] = ["t", "t"]
    doc["includedContexts"] = [
        {"contextKind": "org", "values": ["o1"]},
        {"contextKind": "device", "values": []},
        {"contextKind": "org", "values": ["o2", "o1"]},
    ]

    back = segment_from_document(doc, make_segment())

    assert back.included == ["a", "b"]
    assert back.tags == ["t"]
    assert back.included_contexts == [{"contextKind": "org", "values": ["o1", "o2"]}]


def test_new_rules_and_clauses_in_a_document_get_ids_and_null_options_are_dropped() -> None:
    doc = segment_document(make_segment())
    clause = {"attribute": "email", "op": "endsWith", "values": [".edu"], "negate": False}
    doc["rules"] = [{"clauses": [clause], "weight": None, "description": "Edu"}]

    [rule] = segment_from_document(doc, make_segment()).rules

    assert str(uuid.UUID(rule["_id"])) == rule["_id"]
    assert str(uuid.UUID(rule["clauses"][0]["_id"])) == rule["clauses"][0]["_id"]
    assert set(rule) == {"_id", "clauses", "description"}


def test_parse_new_segment_rules_assigns_fresh_ids_unless_asked_to_keep_them() -> None:
    raw = [{"_id": "mine", "clauses": [make_clause("c1")], "weight": 10}]

    [fresh] = parse_new_segment_rules(raw)
    [kept] = parse_new_segment_rules(raw, keep_ids=True)

    assert fresh["_id"] != "mine"
    assert fresh["clauses"][0]["_id"] != "c1"
    assert (kept["_id"], kept["clauses"][0]["_id"], kept["weight"]) == ("mine", "c1", 10)


def test_parse_new_segment_rules_needs_a_list() -> None:
    with pytest.raises(InvalidRequest, match="rules must be a list"):
        parse_new_segment_rules({"clauses": []})


def test_describe_changes_between_documents() -> None:
    before = rich_segment()
    doc = segment_document(before)
    doc["excludedContexts"] = []
    doc["description"] = "other"

    change = describe_segment_changes(before, segment_from_document(doc, before))

    assert change.actions == [AuditAction.UPDATE_DESCRIPTION, AuditAction.UPDATE_SEGMENT_EXCLUDED]
    assert change.targeting_changed


@pytest.mark.parametrize(
    "op",
    [
        {"op": "replace", "path": "/name", "value": "x"},
        {"op": "add", "path": "/included/-", "value": "u"},
        {"op": "remove", "path": "/rules/0"},
        {"op": "add", "path": "/rules/0/clauses/0/values/-", "value": "x"},
        {"op": "move", "from": "/rules/1", "path": "/rules/0"},
        {"op": "copy", "from": "/rules/0/_id", "path": "/description"},
        {"op": "test", "path": "/version", "value": 3},
        {"op": "test", "path": "/rules/0/_id", "value": "r1"},
        {"op": "replace", "path": "/tags/a~1b~0c", "value": "x"},
    ],
)
def test_writable_patch_paths(op: dict[str, Any]) -> None:
    check_segment_patch_paths([op])


@pytest.mark.parametrize(
    ("op", "reason"),
    [
        ({"op": "replace", "path": "/version", "value": 4}, "'/version' is read-only"),
        ({"op": "replace", "path": "/key", "value": "k"}, "'/key' is read-only"),
        ({"op": "replace", "path": "/salt", "value": "s"}, "'/salt' is read-only"),
        ({"op": "add", "path": "/_links", "value": {}}, "'/_links' is not a segment field"),
        ({"op": "add", "path": "/colour", "value": "red"}, "'/colour' is not a segment field"),
        ({"op": "replace", "path": "/rules/0/_id", "value": "x"}, "'/rules/0/_id' is read-only"),
        ({"op": "remove", "path": "/rules/0/clauses/1/_id"}, "'/rules/0/clauses/1/_id' is read-only"),
        ({"op": "move", "from": "/rules/0/_id", "path": "/rules/0/description"}, "'/rules/0/_id' is read-only"),
        ({"op": "replace", "path": "", "value": {}}, "the whole segment cannot be replaced"),
        ({"op": "replace", "path": "name", "value": "x"}, "path must be a JSON pointer"),
        ({"op": "replace", "path": "/tags/~2", "value": "x"}, "invalid '~' escape"),
    ],
)
def test_read_only_patch_paths_are_refused(op: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        check_segment_patch_paths([{"op": "test", "path": "/version", "value": 1}, op])

    assert caught.value.message.startswith("patch[1]: ")
    assert reason in caught.value.message
