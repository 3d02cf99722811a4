"""A flag write is authorized by its effect: the LaunchDarkly actions it performs, where it performs them."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from flagward.domain.access import Access
from flagward.domain.flag_access import flag_write_accesses, flag_write_actions
from flagward.domain.policy import Effect, Statement
from flagward.domain.projects import Environment
from tests.unit.domain.instructions.factories import make_flag


def env(key: str, tags: list[str] | None = None) -> Environment:
    return Environment(
        id=f"id-{key}",
        project_id="p",
        project_key="proj",
        key=key,
        name=key,
        api_key="sdk",
        mobile_key="mob",
        color="000000",
        creation_date=0,
        tags=tags or [],
    )


ENVS = [env("production", ["critical"]), env("test")]


def test_a_creation_is_create_flag_in_any_environment() -> None:
    flag = make_flag(tags=["payments"])
    assert flag_write_accesses(None, flag, ENVS) == [("createFlag", "proj/proj:env/*:flag/flag;payments")]


def test_a_deletion_is_delete_flag() -> None:
    assert flag_write_actions(make_flag(), None).flag_actions == ["deleteFlag"]


def test_environment_actions_name_the_environment_and_its_tags() -> None:
    before = make_flag()
    after = before.clone()
    after.environments["production"]["on"] = True
    assert flag_write_accesses(before, after, ENVS) == [("updateOn", "proj/proj:env/production;critical:flag/flag")]


def test_a_change_of_tags_is_asked_with_the_tags_before_and_after() -> None:
    before = make_flag(tags=["payments"])
    after = before.clone()
    after.tags = ["other"]
    assert flag_write_accesses(before, after, ENVS) == [
        ("updateTags", "proj/proj:env/*:flag/flag;payments"),
        ("updateTags", "proj/proj:env/*:flag/flag;other"),
    ]


def test_a_payments_role_cannot_take_another_flag_by_tagging_it() -> None:
    payments = (Statement(Effect.ALLOW, resources=("proj/*:env/*:flag/*;payments",), actions=("*",)),)
    before = make_flag()
    after = before.clone()
    after.tags = ["payments"]
    access = Access(policies=(payments,))
    assert not all(access.permits(a, r) for a, r in flag_write_accesses(before, after, ENVS))


def test_no_change_needs_nothing() -> None:
    flag = make_flag()
    assert flag_write_accesses(flag, flag.clone(), ENVS) == []


# Each environment-level edit and project-level edit, with the action LaunchDarkly names it.
ENV_EDITS: list[tuple[str, Any, str]] = [
    ("on", True, "updateOn"),
    ("rules", [{"_id": "r", "clauses": [], "trackEvents": False, "variation": 0}], "updateRules"),
    ("targets", [{"contextKind": "user", "variation": 0, "values": ["a"]}], "updateTargets"),
    ("fallthrough", {"variation": 1}, "updateFallthrough"),
    ("offVariation", 0, "updateOffVariation"),
    ("prerequisites", [{"key": "x", "variation": 0}], "updatePrerequisites"),
    ("trackEvents", True, "updateTrackEvents"),
    ("trackEventsFallthrough", True, "updateFlagFallthroughTrackEvents"),
    ("salt", "new", "updateFlagSalt"),
]
FLAG_EDITS: list[tuple[str, Any, str]] = [
    ("name", "Renamed", "updateName"),
    ("description", "new", "updateDescription"),
    ("tags", ["t"], "updateTags"),
    ("temporary", False, "updateTemporary"),
    ("maintainer_id", "m" * 24, "updateMaintainer"),
    ("custom_properties", {"k": {"name": "k", "value": ["v"]}}, "updateFlagCustomProperties"),
    ("archived", True, "updateGlobalArchived"),
]


@settings(max_examples=60, deadline=None)
@given(
    env_edits=st.lists(
        st.tuples(st.sampled_from(["production", "test"]), st.sampled_from(range(len(ENV_EDITS)))), max_size=6
    ),
    flag_edits=st.sets(st.sampled_from(range(len(FLAG_EDITS))), max_size=4),
)
def test_the_actions_are_exactly_the_edits_made(env_edits: list[tuple[str, int]], flag_edits: set[int]) -> None:
    before = make_flag()
    after = before.clone()
    expected_env: dict[str, set[str]] = {}
    for env_key, index in env_edits:
        name, value, action = ENV_EDITS[index]
        after.environments[env_key][name] = value  # type: ignore[literal-required]
        expected_env.setdefault(env_key, set()).add(action)
    for index in flag_edits:
        name, value, _ = FLAG_EDITS[index]
        setattr(after, name, (not before.temporary) if name == "temporary" else value)
    found = flag_write_actions(before, after)
    assert {k: set(v) for k, v in found.environment_actions.items()} == expected_env
    assert set(found.flag_actions) == {FLAG_EDITS[i][2] for i in flag_edits}
    accesses = flag_write_accesses(before, after, ENVS)
    for env_key, actions in expected_env.items():
        for action in actions:
            assert any(a == action and f":env/{env_key}" in r for a, r in accesses)
    assert all(":env/*:" in r for a, r in accesses if a in {FLAG_EDITS[i][2] for i in flag_edits})
