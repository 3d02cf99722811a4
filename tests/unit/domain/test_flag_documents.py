"""Flags back from patched documents, and the paths a JSON patch may touch."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from typing import Any

import jsonpatch
import pytest

from flagward.domain.changes import describe_changes
from flagward.domain.errors import InvalidRequest
from flagward.domain.flag_documents import check_patch_paths, flag_from_document
from flagward.domain.flags import Flag
from flagward.domain.representations import flag_document
from tests.unit.domain.instructions.factories import apply, clause, make_flag

Edit = Callable[[dict[str, Any]], Any]


def rich_flag() -> Flag:
    flag = make_flag(values=["a", "b", "c"], maintainer_id="member-1", tags=["t"], description="d")
    return apply(
        flag,
        {"kind": "addTargets", "values": ["u"], "variationId": "flag:v0"},
        {"kind": "addTargets", "values": ["o"], "variationId": "flag:v1", "contextKind": "org"},
        {"kind": "addRule", "clauses": [clause()], "rolloutWeights": {"flag:v0": 50000, "flag:v2": 50000}},
        {"kind": "updateOffVariation", "variationId": "flag:v1"},
        {"kind": "addCustomProperties", "key": "jira", "name": "Jira", "values": ["A-1"]},
    ).flag


def patched(flag: Flag, *ops: dict[str, Any]) -> dict[str, Any]:
    check_patch_paths(list(ops))
    result: dict[str, Any] = jsonpatch.apply_patch(flag_document(flag), list(ops))
    return result


def test_a_document_round_trips_to_an_equal_flag() -> None:
    flag = rich_flag()
    assert flag_from_document(flag_document(flag), flag) == flag


def test_an_unset_off_variation_round_trips() -> None:
    flag = make_flag()
    flag.environments["test"]["offVariation"] = None
    assert flag_from_document(flag_document(flag), flag) == flag


def test_a_patched_document_becomes_a_new_flag_with_the_changes() -> None:
    flag = rich_flag()
    doc = patched(
        flag,
        {"op": "replace", "path": "/environments/test/on", "value": True},
        {"op": "add", "path": "/environments/production/targets/0/values/-", "value": "v"},
        {"op": "replace", "path": "/name", "value": "Renamed"},
    )
    after = flag_from_document(doc, flag)
    assert after is not flag
    assert after.environments["production"]["targets"][0]["values"] == ["u", "v"]
    change = describe_changes(flag, after)
    assert change.environment_actions == {"test": ["updateOn"], "production": ["updateTargets"]}
    assert change.flag_actions == ["updateName"]


def test_targets_from_a_document_are_put_in_canonical_form() -> None:
    flag = rich_flag()
    doc = patched(
        flag,
        {"op": "add", "path": "/environments/production/targets/-", "value": {"variation": 2, "values": ["w"]}},
        {"op": "add", "path": "/environments/production/targets/-", "value": {"variation": 0, "values": ["x"]}},
        {"op": "remove", "path": "/environments/production/contextTargets/0"},
    )
    config = flag_from_document(doc, flag).environments["production"]
    assert config["targets"] == [
        {"contextKind": "user", "variation": 0, "values": ["u", "x"]},
        {"contextKind": "user", "variation": 2, "values": ["w"]},
    ]
    assert [(t["contextKind"], t["variation"], t["values"]) for t in config["contextTargets"]] == [
        ("user", 0, []),
        ("user", 2, []),
        ("org", 1, ["o"]),
    ]


def test_rules_and_clauses_without_ids_get_new_uuids_and_defaults() -> None:
    flag = rich_flag()
    new_rule = {"clauses": [{"attribute": "a", "op": "in", "values": [1]}], "variation": 1}
    doc = patched(flag, {"op": "add", "path": "/environments/test/rules/-", "value": new_rule})
    [added] = flag_from_document(doc, flag).environments["test"]["rules"]
    uuid.UUID(added["_id"])
    uuid.UUID(added["clauses"][0]["_id"])
    assert added["trackEvents"] is False
    assert added["clauses"][0]["negate"] is False


def test_new_variations_get_ids_and_keep_given_ones() -> None:
    flag = rich_flag()
    doc = patched(flag, {"op": "add", "path": "/variations/-", "value": {"value": "d", "name": "Dee"}})
    after = flag_from_document(doc, flag)
    assert after.variations[:3] == flag.variations
    uuid.UUID(after.variations[3]["_id"])


def test_archiving_by_document_stamps_the_date_when_given_a_clock() -> None:
    flag = rich_flag()
    doc = patched(flag, {"op": "replace", "path": "/archived", "value": True})
    assert flag_from_document(doc, flag, now=42).archived_date == 42
    assert flag_from_document(doc, flag).archived_date is None
    archived = flag_from_document(doc, flag, now=42)
    again = flag_from_document(flag_document(archived), archived, now=99)
    assert again.archived_date == 42  # an unchanged archived state keeps the stored date


def test_include_in_snippet_is_the_old_name_of_using_environment_id() -> None:
    flag = rich_flag()
    doc = patched(flag, {"op": "replace", "path": "/includeInSnippet", "value": True})
    assert flag_from_document(doc, flag).client_side_availability.using_environment_id is True
    doc = patched(flag, {"op": "replace", "path": "/clientSideAvailability/usingEnvironmentId", "value": True})
    assert flag_from_document(doc, flag).client_side_availability.using_environment_id is True


READ_ONLY: list[tuple[str, Edit, str]] = [
    ("key", lambda d: d.update(key="other"), "key is read-only"),
    ("_version", lambda d: d.update(_version=9), "_version is read-only"),
    ("creationDate", lambda d: d.pop("creationDate"), "creationDate is read-only"),
    ("kind", lambda d: d.update(kind="boolean"), "kind is read-only"),
    ("archivedDate", lambda d: d.update(archivedDate=5), "archivedDate is read-only"),
    ("config version", lambda d: d["environments"]["test"].update(version=5), "environments.test.version is read-only"),
    ("lastModified", lambda d: d["environments"]["test"].update(lastModified=5), "environments.test.lastModified"),
    ("sel", lambda d: d["environments"]["test"].update(sel="x"), "environments.test.sel is read-only"),
    ("env archived", lambda d: d["environments"]["test"].update(archived=True), "environments.test.archived is read"),
    ("debug", lambda d: d["environments"]["test"].update(_debugEventsUntilDate=1), "environments.test._debugEvents"),
    ("removed env", lambda d: d["environments"].pop("test"), "environments.test cannot be removed"),
    ("new env", lambda d: d["environments"].update(staging={}), "environments.staging does not exist"),
]


@pytest.mark.parametrize(("edit", "message"), [c[1:] for c in READ_ONLY], ids=[c[0] for c in READ_ONLY])
def test_read_only_values_cannot_change(edit: Edit, message: str) -> None:
    flag = rich_flag()
    doc = flag_document(flag)
    edit(doc)
    with pytest.raises(InvalidRequest) as caught:
        flag_from_document(doc, flag)
    assert caught.value.message.startswith(message)


TYPES: list[tuple[str, Edit, str]] = [
    ("name", lambda d: d.update(name=3), "name must be a non-empty string"),
    ("missing name", lambda d: d.pop("name"), "name must be a non-empty string"),
    ("temporary", lambda d: d.update(temporary="yes"), "temporary must be a boolean"),
    ("archived", lambda d: d.update(archived=1), "archived must be a boolean"),
    ("variations", lambda d: d.update(variations={}), "variations must be a list"),
    ("variation", lambda d: d["variations"].append(3), "variations[3] must be an object"),
    ("defaults", lambda d: d.update(defaults={"onVariation": 0}), "defaults must be an object"),
    ("availability", lambda d: d["clientSideAvailability"].update(usingMobileKey=1), "clientSideAvailability.using"),
    ("unknown", lambda d: d.update(colour="red"), "colour is not a field of a flag"),
    ("on", lambda d: d["environments"]["test"].update(on=1), "environments.test.on must be a boolean"),
    ("missing on", lambda d: d["environments"]["test"].pop("on"), "environments.test.on must be a boolean"),
    ("rules", lambda d: d["environments"]["test"].update(rules={}), "environments.test.rules must be a list"),
    ("rule", lambda d: d["environments"]["test"].update(rules=[3]), "environments.test.rules[0] must be an object"),
    (
        "clause op",
        lambda d: d["environments"]["production"]["rules"][0]["clauses"][0].update(op="like"),
        "environments.production.rules[0].clauses[0].op 'like' is not a known operator",
    ),
    (
        "rollout",
        lambda d: d["environments"]["production"]["rules"][0]["rollout"]["variations"][0].update(weight=1),
        "environments.production.rules[0].rollout.variations weights must sum to 100000",
    ),
    (
        "target values",
        lambda d: d["environments"]["production"]["targets"][0].update(values="u"),
        "environments.production.targets[0].values must be a list",
    ),
]


@pytest.mark.parametrize(("edit", "message"), [c[1:] for c in TYPES], ids=[c[0] for c in TYPES])
def test_values_are_checked_strictly_and_named(edit: Edit, message: str) -> None:
    flag = rich_flag()
    doc = copy.deepcopy(flag_document(flag))
    edit(doc)
    with pytest.raises(InvalidRequest) as caught:
        flag_from_document(doc, flag)
    assert caught.value.message.startswith(message)


@pytest.mark.parametrize(
    "path",
    [
        "/key",
        "/_version",
        "/kind",
        "/creationDate",
        "/environments/production/version",
        "/environments/production/lastModified",
        "/environments/production/sel",
        "/environments/production/_debugEventsUntilDate",
        "/environments/production/rules/0/_id",
        "/environments/production/rules/0/clauses/0/_id",
        "/variations/0/_id",
        "/environments/production/rules/0/rollout/variations/0/_untracked",
    ],
)
def test_patch_paths_touching_read_only_fields_are_refused(path: str) -> None:
    with pytest.raises(InvalidRequest, match="is read-only"):
        check_patch_paths([{"op": "replace", "path": path, "value": 1}])
    with pytest.raises(InvalidRequest, match=r"patch\[1\]\.from: .* is read-only"):
        check_patch_paths([{"op": "test", "path": "/name", "value": "x"}, {"op": "copy", "from": path, "path": "/x"}])


@pytest.mark.parametrize(
    "path",
    [
        "/name",
        "/environments/production/on",
        "/environments/version/on",  # an environment may be called "version"
        "/environments/production/prerequisites/0/key",
        "/variations/0/value/_private",  # variation values are free-form JSON
        "/customProperties/_x/value/-",
        "/environments/production/rules/0/clauses/0/values/0",
        "/environments/production/migrationSettings/_x",
    ],
)
def test_other_patch_paths_are_allowed(path: str) -> None:
    check_patch_paths([{"op": "add", "path": path, "value": 1}])


def test_test_operations_may_read_anything() -> None:
    check_patch_paths([{"op": "test", "path": "/_version", "value": 1}, {"op": "test", "path": "/key", "value": "f"}])


def test_a_path_must_be_a_json_pointer() -> None:
    with pytest.raises(InvalidRequest, match=r"patch\[0\]\.path must be a JSON pointer"):
        check_patch_paths([{"op": "add", "path": "name", "value": 1}])
