"""Project-level settings: they never touch an environment's configuration."""

from __future__ import annotations

from typing import Any

import pytest

from flagward.domain.projects import ClientSideAvailability
from tests.unit.domain.instructions.factories import NOW, apply, make_context, make_flag, refusal


def test_name_description_and_temporary() -> None:
    change = apply(
        make_flag(),
        {"kind": "updateName", "value": "New name"},
        {"kind": "updateDescription", "value": "Why"},
        {"kind": "makeFlagTemporary"},
        env=None,
    )
    assert (change.flag.name, change.flag.description, change.flag.temporary) == ("New name", "Why", True)
    assert change.flag_actions == ["updateName", "updateDescription", "updateTemporary"]
    assert change.environment_actions == {}
    assert not apply(change.flag, {"kind": "makeFlagTemporary"}).changed
    assert apply(change.flag, {"kind": "makeFlagPermanent"}).flag.temporary is False


@pytest.mark.parametrize(
    ("instruction", "reason"),
    [
        ({"kind": "updateName", "value": ""}, "value must be a non-empty string"),
        ({"kind": "updateName", "value": "  "}, "value must not be blank"),
        ({"kind": "updateDescription", "value": 3}, "value must be a string"),
        ({"kind": "addTags", "values": ["ok", 3]}, "values[1] must be a non-empty string"),
        ({"kind": "updateMaintainerMember", "value": "ghost"}, "value 'ghost' is not a member of this account"),
        ({"kind": "updateMaintainerTeam", "value": "ghost"}, "value 'ghost' is not a team of this account"),
        (
            {"kind": "turnOnClientSideAvailability", "value": "usingSdk"},
            "value must be 'usingMobileKey' or 'usingEnvironmentId', not 'usingSdk'",
        ),
        ({"kind": "addCustomProperties", "key": "jira", "values": ["a"]}, "name is required"),
    ],
)
def test_flag_level_instructions_refuse_bad_input(instruction: dict[str, Any], reason: str) -> None:
    assert refusal(make_flag(), instruction, env=None).reason == reason


def test_tags_are_added_once_and_removed() -> None:
    flag = make_flag(tags=["a"])
    added = apply(flag, {"kind": "addTags", "values": ["b", "a", "c"]})
    assert added.flag.tags == ["a", "b", "c"]
    assert not apply(added.flag, {"kind": "addTags", "values": ["a"]}).changed
    assert apply(added.flag, {"kind": "removeTags", "values": ["a", "zzz"]}).flag.tags == ["b", "c"]


def test_maintainer_is_a_member_or_a_team_never_both() -> None:
    flag = make_flag(maintainer_id="member-1")
    team = apply(flag, {"kind": "updateMaintainerTeam", "value": "team-1"})
    assert (team.flag.maintainer_id, team.flag.maintainer_team_key) == (None, "team-1")
    assert team.flag_actions == ["updateMaintainer"]
    member = apply(team.flag, {"kind": "updateMaintainerMember", "value": "member-1"})
    assert (member.flag.maintainer_id, member.flag.maintainer_team_key) == ("member-1", None)
    removed = apply(member.flag, {"kind": "removeMaintainer"})
    assert (removed.flag.maintainer_id, removed.flag.maintainer_team_key) == (None, None)


def test_client_side_availability() -> None:
    change = apply(
        make_flag(),
        {"kind": "turnOnClientSideAvailability", "value": "usingEnvironmentId"},
        {"kind": "turnOffClientSideAvailability", "value": "usingMobileKey"},
    )
    assert change.flag.client_side_availability == ClientSideAvailability(False, True)
    assert change.flag_actions == ["updateClientSideFlagAvailability"]


def test_archive_and_restore() -> None:
    archived = apply(make_flag(), {"kind": "archiveFlag"})
    assert (archived.flag.archived, archived.flag.archived_date) == (True, NOW)
    assert archived.flag_actions == ["updateGlobalArchived"]
    assert archived.environment_actions == {}
    assert not apply(archived.flag, {"kind": "archiveFlag"}).changed
    restored = apply(archived.flag, {"kind": "restoreFlag"})
    assert (restored.flag.archived, restored.flag.archived_date) == (False, None)


def test_a_prerequisite_of_other_flags_cannot_be_archived() -> None:
    flag = make_flag()
    one, two = make_flag("one"), make_flag("two")
    one.environments["production"]["prerequisites"] = [{"key": "flag", "variation": 0}]
    two.environments["test"]["prerequisites"] = [{"key": "flag", "variation": 1}]
    reason = refusal(flag, {"kind": "archiveFlag"}, context=make_context(flag, one, two)).reason
    assert reason == (
        "flag 'flag' is a prerequisite of 'one' (in production), 'two' (in test); remove those prerequisites first"
    )


def test_deprecate_and_restore() -> None:
    deprecated = apply(make_flag(), {"kind": "deprecateFlag"})
    assert (deprecated.flag.deprecated, deprecated.flag.deprecated_date) == (True, NOW)
    assert deprecated.flag_actions == ["updateDeprecated"]
    restored = apply(deprecated.flag, {"kind": "restoreDeprecatedFlag"})
    assert (restored.flag.deprecated, restored.flag.deprecated_date) == (False, None)


def test_custom_properties() -> None:
    added = apply(make_flag(), {"kind": "addCustomProperties", "key": "jira", "name": "Jira", "values": ["A-1"]})
    more = apply(added.flag, {"kind": "addCustomProperties", "key": "jira", "name": "Jira", "values": ["A-2", "A-1"]})
    assert more.flag.custom_properties == {"jira": {"name": "Jira", "value": ["A-1", "A-2"]}}
    assert more.flag_actions == ["updateFlagCustomProperties"]
    fewer = apply(more.flag, {"kind": "removeCustomProperties", "key": "jira", "values": ["A-1"]})
    assert fewer.flag.custom_properties == {"jira": {"name": "Jira", "value": ["A-2"]}}
    gone = apply(fewer.flag, {"kind": "removeCustomProperties", "key": "jira", "values": ["A-2"]})
    assert gone.flag.custom_properties == {}
    replaced = apply(more.flag, {"kind": "replaceCustomProperties", "key": "jira", "name": "Issues", "values": ["B-1"]})
    assert replaced.flag.custom_properties == {"jira": {"name": "Issues", "value": ["B-1"]}}
