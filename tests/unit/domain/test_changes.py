"""Actions found by diffing a flag before and after a change."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from flagward.domain.changes import FlagChange, describe_changes, same_json
from flagward.domain.flags import Defaults, Flag
from flagward.domain.projects import ClientSideAvailability
from tests.unit.domain.instructions.factories import make_flag

ENVIRONMENT_FIELDS: list[tuple[str, Any, str]] = [
    ("on", True, "updateOn"),
    ("salt", "new", "updateFlagSalt"),
    ("targets", [{"contextKind": "user", "variation": 0, "values": ["a"]}], "updateTargets"),
    ("contextTargets", [{"contextKind": "org", "variation": 0, "values": ["a"]}], "updateTargets"),
    ("rules", [{"_id": "r", "clauses": [], "trackEvents": False, "variation": 0}], "updateRules"),
    ("fallthrough", {"variation": 1}, "updateFallthrough"),
    ("offVariation", 0, "updateOffVariation"),
    ("prerequisites", [{"key": "x", "variation": 0}], "updatePrerequisites"),
    ("trackEvents", True, "updateTrackEvents"),
    ("trackEventsFallthrough", True, "updateFlagFallthroughTrackEvents"),
    ("_debugEventsUntilDate", 5, "updateFlagDebugEvents"),
    ("migrationSettings", {"checkRatio": 2}, "updateFlagConfigMigrationSettings"),
]


@pytest.mark.parametrize(("name", "value", "action"), ENVIRONMENT_FIELDS)
def test_each_environment_field_has_its_action(name: str, value: Any, action: str) -> None:
    before = make_flag()
    after = before.clone()
    after.environments["test"][name] = value  # type: ignore[literal-required]
    change = describe_changes(before, after)
    assert change.environment_actions == {"test": [action]}
    assert change.flag_actions == []
    assert change.flag is after
    assert change.changed


def test_version_stamps_are_not_changes() -> None:
    before = make_flag()
    after = before.clone()
    after.environments["test"].update(version=9, lastModified=9, sel="x")
    after.version = 9
    assert not describe_changes(before, after).changed


FLAG_FIELDS: list[tuple[str, Any, str]] = [
    ("name", "N", "updateName"),
    ("variations", [{"_id": "x", "value": True}, {"_id": "y", "value": False}], "updateFlagVariations"),
    ("defaults", Defaults(1, 0), "updateFlagDefaultVariations"),
    ("description", "d", "updateDescription"),
    ("temporary", True, "updateTemporary"),
    ("tags", ["t"], "updateTags"),
    ("maintainer_id", "m", "updateMaintainer"),
    ("maintainer_team_key", "t", "updateMaintainer"),
    ("client_side_availability", ClientSideAvailability(False, False), "updateClientSideFlagAvailability"),
    ("archived", True, "updateGlobalArchived"),
    ("deprecated_date", 5, "updateDeprecated"),
    ("custom_properties", {"k": {"name": "n", "value": []}}, "updateFlagCustomProperties"),
]


@pytest.mark.parametrize(("name", "value", "action"), FLAG_FIELDS)
def test_each_flag_field_has_its_action(name: str, value: Any, action: str) -> None:
    before = make_flag()
    after = replace(before.clone(), **{name: value})
    change = describe_changes(before, after)
    assert change.flag_actions == [action]
    assert change.environment_actions == {}


def test_actions_come_in_field_order_once_each() -> None:
    before = make_flag()
    after: Flag = before.clone()
    after.tags, after.name = ["t"], "N"
    for env in ("test", "production"):
        after.environments[env].update(
            trackEvents=True, on=True, contextTargets=[{"contextKind": "org", "variation": 0, "values": ["o"]}]
        )
    after.environments["test"]["targets"] = [{"contextKind": "user", "variation": 0, "values": ["u"]}]
    change = describe_changes(before, after)
    assert change.environment_actions == {
        "production": ["updateOn", "updateTargets", "updateTrackEvents"],
        "test": ["updateOn", "updateTargets", "updateTrackEvents"],
    }
    assert list(change.environment_actions) == ["production", "test"]
    assert change.flag_actions == ["updateName", "updateTags"]


def test_json_equality_tells_booleans_from_numbers() -> None:
    before = make_flag(values=[1, 2])
    after = before.clone()
    after.variations[0]["value"] = True
    assert describe_changes(before, after).flag_actions == ["updateFlagVariations"]
    assert same_json({"a": [1, {"b": 2.0}]}, {"a": [1.0, {"b": 2}]})
    assert not same_json({"a": [True]}, {"a": [1]})
    assert not same_json([1], {"0": 1})
    assert not same_json(None, False)


def test_an_empty_change_is_not_changed() -> None:
    assert not FlagChange(flag=make_flag()).changed
