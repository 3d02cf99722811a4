"""The approval gate as a pure function: a change is judged by what SDKs are served before and after."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from flagward.domain.errors import ApprovalRequired
from flagward.domain.flags import Flag
from flagward.domain.governance import check_approval_gate, is_plain_off, prerequisite_dependents, served
from flagward.domain.projects import ApprovalSettings, ClientSideAvailability, Environment
from tests.unit.domain.instructions.factories import make_flag


def env(key: str, **settings: Any) -> Environment:
    return Environment(
        id=f"id-{key}",
        project_id="p",
        project_key="proj",
        key=key,
        name=key,
        api_key=f"sdk-{key}",
        mobile_key=f"mob-{key}",
        color="000000",
        creation_date=0,
        approval_settings=ApprovalSettings(**settings),
    )


# production requires approval for every flag, test for flags tagged "gated", dev for none.
ENVIRONMENTS = [env("production", required=True), env("test", required_approval_tags=("gated",)), env("dev")]


def gate(before: Flag | None, after: Flag | None, *, bypass: bool = False, **kwargs: Any) -> None:
    check_approval_gate(before, after, ENVIRONMENTS, can_bypass=bypass, **kwargs)


def flag(**fields: Any) -> Flag:
    return make_flag("f", environments=("production", "test", "dev"), **fields)


def changed(f: Flag, edit: Callable[[Flag], None]) -> Flag:
    after = f.clone()
    edit(after)
    return after


def refused(before: Flag | None, after: Flag | None, **kwargs: Any) -> str:
    with pytest.raises(ApprovalRequired) as caught:
        gate(before, after, **kwargs)
    return caught.value.message


def turn_on(env_key: str) -> Callable[[Flag], None]:
    def edit(f: Flag) -> None:
        f.environments[env_key]["on"] = True

    return edit


def test_served_ignores_versions_and_dates_but_not_content() -> None:
    f = flag()
    later = changed(f, lambda g: g.environments["production"].update(version=9, lastModified=5))
    later.environments["production"]["_debugEventsUntilDate"] = 123
    assert served(f, "production") == served(later, "production")
    assert served(f, "production") != served(changed(f, turn_on("production")), "production")


def test_absence_is_served_as_none() -> None:
    f = flag()
    assert served(None, "production") is None
    assert served(f, "nowhere") is None
    assert served(changed(f, lambda g: setattr(g, "archived", True)), "production") is None


@pytest.mark.parametrize(
    "edit",
    [
        turn_on("production"),
        lambda f: f.variations.reverse(),
        lambda f: f.variations[1].update(value="off"),
        lambda f: f.variations.append({"_id": "x", "value": "third"}),
        lambda f: setattr(f, "archived", True),
        lambda f: setattr(f, "client_side_availability", ClientSideAvailability(True, True)),
        lambda f: f.environments["production"]["prerequisites"].append({"key": "other", "variation": 0}),
        lambda f: f.environments["production"].update(salt="new"),
    ],
)
def test_changes_to_what_production_serves_are_refused(edit: Callable[[Flag], None]) -> None:
    f = flag()
    assert "require approval" in refused(f, changed(f, edit))
    gate(f, changed(f, edit), bypass=True)


@pytest.mark.parametrize(
    "edit",
    [
        lambda f: setattr(f, "name", "Renamed"),
        lambda f: setattr(f, "description", "described"),
        lambda f: setattr(f, "maintainer_id", "someone"),
        lambda f: setattr(f, "custom_properties", {"jira": {"name": "Jira", "value": ["X"]}}),
        lambda f: f.variations[0].update(name="Yes", description="the true one"),
        lambda f: f.tags.append("more"),
        lambda f: f.environments["production"].update(version=7, lastModified=1),
        turn_on("dev"),
    ],
)
def test_changes_no_sdk_in_a_gated_environment_sees_are_allowed(edit: Callable[[Flag], None]) -> None:
    f = flag()
    gate(f, changed(f, edit))


def test_the_refusal_names_the_action_that_changed_what_is_served() -> None:
    f = flag()
    assert "'updateOn'" in refused(f, changed(f, turn_on("production")))
    assert "'updateFlagVariations'" in refused(f, changed(f, lambda g: g.variations.reverse()))
    assert "'updateGlobalArchived'" in refused(f, changed(f, lambda g: setattr(g, "archived", True)))
    assert "'deleteFlag'" in refused(f, None)
    assert "'createFlag'" in refused(None, changed(f, turn_on("production")))


def test_deleting_is_refused_where_approval_is_required_and_allowed_elsewhere() -> None:
    f = make_flag("f", environments=("dev",))
    gate(f, None)
    refused(flag(), None)


def test_a_creation_may_only_add_a_flag_that_is_off_without_targeting() -> None:
    new = flag()
    gate(None, new)
    refused(None, changed(new, turn_on("production")))
    targeted = changed(new, lambda g: g.environments["production"]["targets"].append({"values": ["u"], "variation": 0}))
    refused(None, targeted)
    gate(None, changed(new, turn_on("dev")))
    gate(None, changed(new, turn_on("test")))
    refused(None, changed(changed(new, turn_on("test")), lambda g: g.tags.append("gated")))
    gate(None, changed(new, turn_on("production")), bypass=True)


def test_tags_before_and_after_both_count() -> None:
    untagged, tagged = flag(), flag(tags=["gated"])
    refused(untagged, changed(tagged, turn_on("test")))
    refused(tagged, changed(untagged, turn_on("test")))
    gate(untagged, changed(untagged, turn_on("test")))


def test_removing_the_tag_that_requires_approval_is_refused_adding_it_is_not() -> None:
    tagged = flag(tags=["gated", "x"])
    assert "'updateTags'" in refused(tagged, changed(tagged, lambda g: setattr(g, "tags", ["x"])))
    gate(tagged, changed(tagged, lambda g: setattr(g, "tags", ["gated"])))
    untagged = flag()
    gate(untagged, changed(untagged, lambda g: setattr(g, "tags", ["gated"])))


def test_an_archived_flag_cannot_be_changed_to_take_effect_on_restore() -> None:
    archived = flag(archived=True)
    refused(archived, changed(archived, turn_on("production")))
    refused(archived, changed(archived, lambda g: setattr(g, "archived", False)))


def test_an_approval_covers_its_own_environment_only() -> None:
    f = flag(tags=["gated"])
    gate(f, changed(f, turn_on("production")), approved_environment="production")
    reversed_values = changed(f, lambda g: g.variations.reverse())
    refused(f, reversed_values, approved_environment="production")  # test serves other values too
    gate(f, reversed_values, approved_environment="production", bypass=True)


def test_a_flag_used_as_a_prerequisite_by_a_gated_flag_is_gated_there() -> None:
    base, user = flag(), make_flag("user", environments=("test",), tags=["gated"])
    user.environments["test"]["prerequisites"] = [{"key": "f", "variation": 0}]
    top = make_flag("top", environments=("test",), tags=["gated", "top"])
    top.environments["test"]["prerequisites"] = [{"key": "user", "variation": 0}]
    dependents = prerequisite_dependents([base, user, top], "f")
    assert dependents == {"test": {"gated", "top"}}
    refused(base, changed(base, turn_on("test")), dependent_tags=dependents)
    gate(base, changed(base, turn_on("test")))
    gate(base, changed(base, turn_on("dev")), dependent_tags=dependents)


def test_plain_off() -> None:
    item = served(flag(), "production")
    assert is_plain_off(item) and is_plain_off(None)
    assert not is_plain_off({**(item or {}), "on": True})
    assert not is_plain_off({**(item or {}), "rules": [{"id": "r", "clauses": []}]})
