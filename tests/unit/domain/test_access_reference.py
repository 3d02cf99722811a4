"""The matcher against a small reference written here from LaunchDarkly's documented rules, sharing no
code with ``domain.policy`` or ``domain.access``:

- a resource specifier is ``type/name;tags`` segments joined by ``:``; a pattern names resources of its
  own depth only; ``*`` in a type, name or tag matches any run of characters;
- a pattern's tags require the resource segment to carry each of them ("flag/*;tag1,tag2": tagged tag1
  *and* tag2; an "or" takes two statements); tags are compared without regard to case;
- a statement speaks about an action on a resource when its ``resources`` name it (or its
  ``notResources`` do not) and its ``actions`` name the action (or its ``notActions`` do not);
- within a role, a deny speaking about the request wins over any allow; nothing allowed is refused;
- across roles, any role allowing the request allows it;
- a token is allowed only what its own roles and its member's roles both allow (the ceiling).

Policies are generated as their JSON (``StatementPost``) and parsed by ``parse_statements``, so the
parser is exercised too. Resources are shaped like those flagward builds (``domain.resources``).
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from flagward.domain.access import Access
from flagward.domain.policy import parse_statements

# --- the reference -------------------------------------------------------------------------------------


def ref_glob(pattern: str, text: str) -> bool:
    """``*`` matches any run of characters (including none); everything else matches itself."""
    if not pattern:
        return not text
    if pattern[0] == "*":
        return any(ref_glob(pattern[1:], text[i:]) for i in range(len(text) + 1))
    return bool(text) and pattern[0] == text[0] and ref_glob(pattern[1:], text[1:])


def ref_segment(text: str) -> tuple[str, str | None, list[str]]:
    body, _, tags = text.partition(";")
    kind, slash, name = body.partition("/")
    return kind, (name if slash else None), [t.strip().lower() for t in tags.split(",")] if tags else []


def ref_names(pattern: str, resource: str) -> bool:
    pattern_parts, resource_parts = pattern.split(":"), resource.split(":")
    if len(pattern_parts) != len(resource_parts):
        return False
    for p, r in zip(pattern_parts, resource_parts, strict=True):
        p_kind, p_name, p_tags = ref_segment(p)
        r_kind, r_name, r_tags = ref_segment(r)
        if not ref_glob(p_kind, r_kind) or (p_name is None) != (r_name is None):
            return False
        if p_name is not None and r_name is not None and not ref_glob(p_name, r_name):
            return False
        if not all(any(ref_glob(t, have) for have in r_tags) for t in p_tags):
            return False
    return True


def ref_speaks(statement: dict[str, Any], action: str, resource: str) -> bool:
    if "resources" in statement:
        on = any(ref_names(p, resource) for p in statement["resources"])
    else:
        on = not any(ref_names(p, resource) for p in statement["notResources"])
    if "actions" in statement:
        does = any(ref_glob(a, action) for a in statement["actions"])
    else:
        does = not any(ref_glob(a, action) for a in statement["notActions"])
    return on and does


def ref_role_allows(policy: list[dict[str, Any]], action: str, resource: str) -> bool:
    speaking = [s["effect"] for s in policy if ref_speaks(s, action, resource)]
    return "allow" in speaking and "deny" not in speaking


def ref_allows(roles: list[list[dict[str, Any]]], action: str, resource: str) -> bool:
    return any(ref_role_allows(policy, action, resource) for policy in roles)


# --- generated policies and resources ------------------------------------------------------------------

ACTIONS = ["updateOn", "updateRules", "updateTargets", "deleteFlag", "viewProject", "reviewApprovalRequest"]
_name = st.sampled_from(["shop", "shop-eu", "production", "staging", "checkout", "new.ui", "a"])
_tag = st.sampled_from(["payments", "Payments", "critical", "qa_test", "qa_prod", "ops"])


def _resource_segment(kind: str) -> st.SearchStrategy[str]:
    return st.builds(
        lambda name, tags: f"{kind}/{name}" + (";" + ",".join(sorted(set(tags))) if tags else ""),
        _name,
        st.lists(_tag, max_size=2),
    )


@st.composite
def resource(draw: st.DrawFn) -> str:
    """A project, an environment, a flag or a segment in an environment, a webhook, a member's token."""
    shape = draw(st.sampled_from(["proj", "env", "flag", "segment", "webhook", "token", "acct"]))
    if shape == "acct":
        return "acct"
    if shape == "webhook":
        return draw(_resource_segment("webhook"))
    if shape == "token":
        return f"member/{draw(_name)}:token/{draw(_name)}"
    parts = [draw(_resource_segment("proj"))]
    if shape != "proj":
        parts.append(draw(_resource_segment("env")))
    if shape in ("flag", "segment"):
        parts.append(draw(_resource_segment(shape)))
    return ":".join(parts)


_glob_name = st.sampled_from(["*", "shop*", "*eu", "production", "staging", "checkout", "new.ui", "s*g"])
_glob_tag = st.sampled_from(["payments", "PAYMENTS", "critical", "qa_*", "*", "ops"])


@st.composite
def pattern(draw: st.DrawFn) -> str:
    depth = draw(st.sampled_from([["proj"], ["proj", "env"], ["proj", "env", "flag"], ["proj", "env", "segment"]]))
    if draw(st.integers(0, 9)) == 0:
        depth = [draw(st.sampled_from(["webhook", "acct", "*"]))]
    parts = []
    for kind in depth:
        if kind == "acct":
            parts.append("acct")
            continue
        typed = "*" if draw(st.integers(0, 7)) == 0 else kind
        tags = draw(st.lists(_glob_tag, max_size=2))
        parts.append(f"{typed}/{draw(_glob_name)}" + (";" + ",".join(dict.fromkeys(tags)) if tags else ""))
    return ":".join(parts)


@st.composite
def statement(draw: st.DrawFn) -> dict[str, Any]:
    doc: dict[str, Any] = {"effect": draw(st.sampled_from(["allow", "deny"]))}
    where = "notResources" if draw(st.integers(0, 5)) == 0 else "resources"
    doc[where] = draw(st.lists(pattern(), min_size=1, max_size=2))
    which = "notActions" if draw(st.integers(0, 5)) == 0 else "actions"
    doc[which] = draw(st.lists(st.sampled_from([*ACTIONS, "update*", "*", "view*"]), min_size=1, max_size=2))
    return doc


roles = st.lists(st.lists(statement(), min_size=1, max_size=4), max_size=3)


def _access(policies: list[list[dict[str, Any]]], ceiling: Access | None = None) -> Access:
    return Access(policies=tuple(parse_statements(p) for p in policies), ceiling=ceiling)


@settings(max_examples=250, deadline=None)
@given(roles, st.sampled_from(ACTIONS), st.lists(resource(), min_size=1, max_size=5))
def test_the_matcher_agrees_with_the_reference(
    policies: list[list[dict[str, Any]]], action: str, resources: list[str]
) -> None:
    access = _access(policies)
    for target in resources:
        assert access.permits(action, target) is ref_allows(policies, action, target), target


@settings(max_examples=200, deadline=None)
@given(roles, roles, st.sampled_from(ACTIONS), st.lists(resource(), min_size=1, max_size=5))
def test_a_token_is_allowed_what_both_it_and_its_member_are(
    token_roles: list[list[dict[str, Any]]],
    member_roles: list[list[dict[str, Any]]],
    action: str,
    resources: list[str],
) -> None:
    token = _access(token_roles, ceiling=_access(member_roles))
    for target in resources:
        expected = ref_allows(token_roles, action, target) and ref_allows(member_roles, action, target)
        assert token.permits(action, target) is expected, target


def test_the_reference_reads_the_documented_examples_as_documented() -> None:
    """Pins the reference itself to LaunchDarkly's documented examples, so a wrong reference fails here."""
    both = [{"effect": "allow", "actions": ["*"], "resources": ["proj/*:env/*:flag/*;tag1,tag2"]}]
    assert ref_allows([both], "updateOn", "proj/p:env/e:flag/f;tag1,tag2")
    assert not ref_allows([both], "updateOn", "proj/p:env/e:flag/f;tag1")
    qa = [
        {"effect": "allow", "actions": ["*"], "resources": ["proj/*:env/*;qa_*"]},
        {"effect": "allow", "actions": ["*"], "resources": ["proj/*:env/*;qa_*:flag/*"]},
    ]
    assert ref_allows([qa], "updateOn", "proj/p:env/test;qa_test:flag/f")
    assert not ref_allows([qa], "updateOn", "proj/p:env/production;critical:flag/f")
    assert not ref_allows([qa], "viewProject", "proj/p")  # another depth
    no_prod = [*qa, {"effect": "deny", "actions": ["update*"], "resources": ["proj/*:env/*;qa_prod:flag/*"]}]
    assert not ref_allows([no_prod], "updateOn", "proj/p:env/e;qa_prod:flag/f")  # deny wins
    assert ref_allows([no_prod, qa], "updateOn", "proj/p:env/e;qa_prod:flag/f")  # any role's allow wins
    everything_but = [{"effect": "allow", "notActions": ["delete*"], "notResources": ["proj/secret:env/*:flag/*"]}]
    assert ref_allows([everything_but], "updateOn", "proj/shop:env/e:flag/f")
    assert not ref_allows([everything_but], "deleteFlag", "proj/shop:env/e:flag/f")
    assert not ref_allows([everything_but], "updateOn", "proj/secret:env/e:flag/f")
