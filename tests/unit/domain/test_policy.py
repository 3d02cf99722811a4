"""The policy language (``domain/policy.py``): resource specifiers with globs and tags, action patterns,
allow/deny statements where deny wins and nothing is allowed by default."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flagward.domain.errors import InvalidRequest
from flagward.domain.policy import (
    Effect,
    Statement,
    allows,
    allows_any,
    glob_matches,
    parse_spec,
    parse_statements,
    spec_matches,
)

PROPERTY = settings(max_examples=150, deadline=None, derandomize=True, database=None)


@pytest.mark.parametrize(
    ("pattern", "resource", "expected"),
    [
        ("proj/*", "proj/mobile", True),
        ("proj/*", "proj/mobile:env/production", False),  # a pattern names resources of its own depth
        ("proj/*:env/*", "proj/mobile", False),
        ("proj/*:env/production:flag/*", "proj/p:env/production:flag/f", True),
        ("proj/*:env/production:flag/*", "proj/p:env/test:flag/f", False),
        ("proj/*:env/prod*:flag/*", "proj/p:env/production:flag/f", True),
        ("proj/*:env/*:flag/new-*", "proj/p:env/e:flag/new-checkout", True),
        ("proj/*:env/*:flag/new-*", "proj/p:env/e:flag/old-checkout", False),
        ("proj/*:env/*:segment/*", "proj/p:env/e:flag/f", False),  # the type must match too
        ("proj/*:env/*:*/*", "proj/p:env/e:segment/s", True),
        ("proj/a.b", "proj/aXb", False),  # only * is special
        ("proj/[ab]", "proj/a", False),
        ("proj/[ab]", "proj/[ab]", True),
        ("acct", "acct", True),
        ("acct", "acct/x", False),
        ("webhook/*", "webhook/5f0c", True),
        ("member/*:token/*", "member/m1:token/t1", True),
    ],
)
def test_resource_specifiers_match_by_depth_type_and_glob(pattern: str, resource: str, expected: bool) -> None:
    assert spec_matches(pattern, resource) is expected


@pytest.mark.parametrize(
    ("pattern", "resource", "expected"),
    [
        ("proj/*:env/*:flag/*;mobile", "proj/p:env/e:flag/f;mobile", True),
        ("proj/*:env/*:flag/*;mobile", "proj/p:env/e:flag/f;web", False),
        ("proj/*:env/*:flag/*;mobile", "proj/p:env/e:flag/f", False),
        ("proj/*:env/*:flag/*;tag1,tag2", "proj/p:env/e:flag/f;tag1", False),  # every tag is required
        ("proj/*:env/*:flag/*;tag1,tag2", "proj/p:env/e:flag/f;tag2,tag1,tag3", True),
        ("proj/*:env/*;qa_*:flag/*", "proj/p:env/e;qa_eu:flag/f", True),  # a tag pattern may be a glob
        ("proj/*:env/*;qa_*:flag/*", "proj/p:env/e;prod:flag/f", False),
        ("proj/*;Mobile:env/*", "proj/p;MOBILE:env/e", True),  # tags ignore case
        ("proj/*:env/*:flag/*", "proj/p:env/e:flag/f;anything", True),  # an untagged pattern ignores tags
    ],
)
def test_tags_on_a_pattern_require_each_of_them_on_the_resource(pattern: str, resource: str, expected: bool) -> None:
    assert spec_matches(pattern, resource) is expected


@pytest.mark.parametrize("bad", ["", "proj/", "proj/p:", ":env/e", "proj/p;", "proj/p;a,,b", "pr oj/p", "/p"])
def test_malformed_specifiers_are_refused(bad: str) -> None:
    with pytest.raises(InvalidRequest):
        parse_spec(bad)


def test_glob_matches_only_star() -> None:
    assert glob_matches("update*", "updateOn")
    assert glob_matches("*", "")
    assert not glob_matches("update*", "createFlag")
    assert glob_matches("*Flag", "createFlag")
    assert not glob_matches("update?n", "updateOn")


def allow(resources: list[str], actions: list[str] = ["*"]) -> Statement:  # noqa: B006
    return Statement(Effect.ALLOW, resources=tuple(resources), actions=tuple(actions))


def deny(resources: list[str], actions: list[str] = ["*"]) -> Statement:  # noqa: B006
    return Statement(Effect.DENY, resources=tuple(resources), actions=tuple(actions))


FLAG = "proj/p:env/production:flag/f"


def test_nothing_is_allowed_without_an_allow_statement() -> None:
    assert not allows([], "updateOn", FLAG)
    assert not allows([deny(["proj/q:env/*:flag/*"])], "updateOn", FLAG)


def test_allow_statements_name_actions_and_resources() -> None:
    on_only = [allow(["proj/*:env/production:flag/*"], ["updateOn"])]
    assert allows(on_only, "updateOn", FLAG)
    assert not allows(on_only, "updateRules", FLAG)
    assert not allows(on_only, "updateOn", "proj/p:env/test:flag/f")
    assert allows([allow(["proj/*:env/*:flag/*"], ["update*"])], "updateRules", FLAG)


def test_deny_wins_over_allow_whatever_the_order() -> None:
    statements = [allow(["proj/*:env/*:flag/*"]), deny(["proj/*:env/production:flag/*"], ["updateOn"])]
    assert not allows(statements, "updateOn", FLAG)
    assert not allows(list(reversed(statements)), "updateOn", FLAG)
    assert allows(statements, "updateRules", FLAG)
    assert allows(statements, "updateOn", "proj/p:env/test:flag/f")


def test_not_resources_and_not_actions_invert_the_lists() -> None:
    everything_but_production = Statement(
        Effect.ALLOW, not_resources=("proj/*:env/production:flag/*",), not_actions=("deleteFlag",)
    )
    assert allows([everything_but_production], "updateOn", "proj/p:env/test:flag/f")
    assert not allows([everything_but_production], "updateOn", FLAG)
    assert not allows([everything_but_production], "deleteFlag", "proj/p:env/test:flag/f")
    assert allows([everything_but_production], "createProject", "proj/p")  # a project is not a production flag


def test_allows_any_needs_one_allowed_access() -> None:
    statements = [allow(["proj/p"])]
    assert allows_any(statements, [("updateOn", FLAG), ("createProject", "proj/p")])
    assert not allows_any(statements, [("updateOn", FLAG)])
    assert not allows_any(statements, [])


def test_statements_parse_from_launchdarkly_json_and_render_back() -> None:
    raw = [
        {"effect": "allow", "resources": ["proj/*:env/production:flag/*;mobile"], "actions": ["*"]},
        {"effect": "deny", "notResources": ["proj/p"], "notActions": ["updateOn"]},
    ]
    statements = parse_statements(raw)
    assert [s.document() for s in statements] == raw
    assert parse_statements(None) == ()


@pytest.mark.parametrize(
    "bad",
    [
        "not a list",
        [{"effect": "maybe", "resources": ["proj/*"], "actions": ["*"]}],
        [{"effect": "allow", "actions": ["*"]}],  # neither resources nor notResources
        [{"effect": "allow", "resources": ["proj/*"], "notResources": ["proj/p"], "actions": ["*"]}],
        [{"effect": "allow", "resources": ["proj/*"]}],  # neither actions nor notActions
        [{"effect": "allow", "resources": ["proj/"], "actions": ["*"]}],
        [{"effect": "allow", "resources": "proj/*", "actions": ["*"]}],
        [{"effect": "allow", "resources": [""], "actions": ["*"]}],
        ["allow"],
    ],
)
def test_malformed_statements_are_refused(bad: object) -> None:
    with pytest.raises(InvalidRequest):
        parse_statements(bad)


# Properties: generated specifiers, patterns derived from them, and policies.
_names = st.text(alphabet="abcxyz-_.09", min_size=1, max_size=6)
_types = st.sampled_from(["proj", "env", "flag", "segment", "member", "team"])
_tags = st.frozensets(st.text(alphabet="abcxy", min_size=1, max_size=3), max_size=3)
_segments = st.lists(st.tuples(_types, _names, _tags), min_size=1, max_size=4)


def _render(segments: list[tuple[str, str, frozenset[str]]]) -> str:
    return ":".join(f"{t}/{n}" + (";" + ",".join(sorted(tags)) if tags else "") for t, n, tags in segments)


@PROPERTY
@given(_segments, st.data())
def test_a_pattern_made_of_the_resource_with_stars_and_fewer_tags_matches_it(
    segments: list[tuple[str, str, frozenset[str]]], data: st.DataObject
) -> None:
    resource = _render(segments)
    pattern = []
    for kind, name, tags in segments:
        star = data.draw(st.sampled_from(["name", "star", "prefix"]))
        name_pattern = {"name": name, "star": "*", "prefix": name[:1] + "*"}[star]
        required = data.draw(st.sets(st.sampled_from(sorted(tags)))) if tags else set()
        pattern.append((kind, name_pattern, frozenset(required)))
    assert spec_matches(_render(pattern), resource)
    assert str(parse_spec(resource)) == resource


@PROPERTY
@given(_segments, st.text(alphabet="abcxy", min_size=4, max_size=4))
def test_a_tag_the_resource_lacks_or_a_depth_it_has_not_never_matches(
    segments: list[tuple[str, str, frozenset[str]]], missing: str
) -> None:
    resource = _render(segments)
    kind, name, tags = segments[-1]
    assert not spec_matches(_render([*segments[:-1], (kind, name, tags | {missing})]), resource)
    assert not spec_matches(_render([*segments, ("flag", "*", frozenset())]), resource)
    if len(segments) > 1:
        assert not spec_matches(_render(segments[:-1]), resource)


_actions = st.sampled_from(["updateOn", "updateRules", "createFlag", "deleteFlag", "updateTags"])
_action_patterns = st.sampled_from(["*", "update*", "updateOn", "*Flag", "createFlag"])
_resources = st.sampled_from(
    ["proj/p", "proj/p:env/production", "proj/p:env/production:flag/f", "proj/q:env/test:flag/g", "webhook/w"]
)
_resource_patterns = st.sampled_from(
    ["proj/*", "proj/p", "proj/*:env/*", "proj/*:env/production:flag/*", "proj/*:env/*:flag/*", "webhook/*"]
)
_statements = st.builds(
    lambda effect, resources, actions, inverted: Statement(
        effect,
        resources=() if inverted else tuple(resources),
        not_resources=tuple(resources) if inverted else (),
        actions=tuple(actions),
    ),
    st.sampled_from(list(Effect)),
    st.lists(_resource_patterns, min_size=1, max_size=2),
    st.lists(_action_patterns, min_size=1, max_size=2),
    st.booleans(),
)


@PROPERTY
@given(st.lists(_statements, max_size=4), _statements, _actions, _resources)
def test_adding_a_deny_never_allows_more_and_adding_an_allow_never_allows_less(
    statements: list[Statement], extra: Statement, action: str, resource: str
) -> None:
    before = allows(statements, action, resource)
    after = allows([*statements, extra], action, resource)
    if extra.effect is Effect.DENY:
        assert after <= before
    else:
        assert after >= before
    assert allows(list(reversed(statements)), action, resource) == before  # order never matters


@PROPERTY
@given(st.lists(_statements, max_size=4), _actions, _resources)
def test_allowed_means_some_allow_covers_and_no_deny_covers(
    statements: list[Statement], action: str, resource: str
) -> None:
    covering = [s for s in statements if s.covers(action, resource)]
    expected = any(s.effect is Effect.ALLOW for s in covering) and all(s.effect is Effect.ALLOW for s in covering)
    assert allows(statements, action, resource) == expected
