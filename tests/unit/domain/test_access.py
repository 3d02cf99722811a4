"""Effective access: within a policy deny wins, across policies any allow wins, a ceiling bounds a token."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from flagward.domain.access import Access, compile_policy, may_ever
from flagward.domain.policy import Effect, Statement, allows

FLAG = "proj/shop:env/production:flag/checkout;payments"
STAGING_FLAG = "proj/shop:env/staging:flag/checkout;payments"


def allow(resources: tuple[str, ...], actions: tuple[str, ...] = (), not_actions: tuple[str, ...] = ()) -> Statement:
    return Statement(Effect.ALLOW, resources=resources, actions=actions, not_actions=not_actions)


def deny(resources: tuple[str, ...], actions: tuple[str, ...]) -> Statement:
    return Statement(Effect.DENY, resources=resources, actions=actions)


PAYMENTS = (
    allow(("proj/*:env/*:flag/*;payments",), ("update*",)),
    deny(("proj/*:env/production:flag/*",), ("updateOn",)),
)
SRE = (allow(("proj/*:env/*:flag/*",), ("updateOn", "bypassRequiredApproval")),)


def test_within_one_policy_a_deny_wins() -> None:
    access = Access(policies=(PAYMENTS,))
    assert access.permits("updateRules", FLAG)
    assert not access.permits("updateOn", FLAG)
    assert access.permits("updateOn", STAGING_FLAG)


def test_across_policies_any_allow_wins() -> None:
    access = Access(policies=(PAYMENTS, SRE))
    assert access.permits("updateOn", FLAG)  # denied by PAYMENTS, allowed by SRE
    assert access.permits("bypassRequiredApproval", FLAG)
    assert not access.permits("deleteFlag", FLAG)


def test_nothing_allowed_means_refused() -> None:
    assert not Access(policies=()).permits("viewProject", "proj/shop")
    assert not Access(policies=((),)).permits("viewProject", "proj/shop")


def test_a_ceiling_bounds_what_is_allowed() -> None:
    member = Access(policies=(PAYMENTS,))
    token = Access(policies=(SRE,), ceiling=member)
    assert not token.permits("updateOn", FLAG)  # the token may, its member may not
    assert token.permits("updateOn", STAGING_FLAG)  # both may
    assert not token.permits("updateRules", FLAG)  # the member may, the token may not


def test_not_actions_and_action_globs_are_indexed_like_exact_names() -> None:
    policy = (allow(("proj/*:env/*:flag/*",), not_actions=("bypass*",)),)
    access = Access(policies=(policy,))
    assert access.permits("updateTargets", FLAG)
    assert not access.permits("bypassRequiredApproval", FLAG)


def test_the_compiled_policy_agrees_with_the_plain_matcher() -> None:
    policies = [PAYMENTS, SRE, (allow(("proj/*:env/*:flag/*",), not_actions=("bypass*",)),)]
    actions = ["updateOn", "updateRules", "bypassRequiredApproval", "deleteFlag", "viewProject"]
    resources = [FLAG, STAGING_FLAG, "proj/shop:env/production:flag/other", "proj/shop"]
    for policy in policies:
        compiled = compile_policy(policy)
        for action in actions:
            for resource in resources:
                assert Access(policies=(policy,)).permits(action, resource) is allows(policy, action, resource)
                assert compiled is compile_policy(policy)  # cached by content


_names = st.sampled_from(["a", "b", "a.b", "x-y", "pay(s)", "*", "a*", "*b"])
_types = st.sampled_from(["proj", "env", "flag", "*", "fl*"])
_tag_sets = st.frozensets(st.sampled_from(["t", "u", "v*", "critical"]), max_size=2)


@st.composite
def _specifier(draw: st.DrawFn, *, pattern: bool) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(_types if pattern else st.sampled_from(["proj", "env", "flag"]))
        name = draw(_names if pattern else st.sampled_from(["a", "b", "a.b", "x-y", "pay(s)", "ab"]))
        tags = draw(_tag_sets if pattern else st.frozensets(st.sampled_from(["t", "u", "vv", "critical"]), max_size=3))
        bare = pattern and draw(st.booleans()) and kind == "*"
        parts.append((kind if bare else f"{kind}/{name}") + (";" + ",".join(sorted(tags)) if tags else ""))
    return ":".join(parts)


_statement = st.builds(
    lambda effect, resources, negated, actions: Statement(
        effect,
        resources=() if negated else tuple(resources),
        not_resources=tuple(resources) if negated else (),
        actions=tuple(actions),
    ),
    st.sampled_from(list(Effect)),
    st.lists(_specifier(pattern=True), min_size=1, max_size=2),
    st.booleans(),
    st.lists(st.sampled_from(["updateOn", "update*", "*", "viewProject"]), min_size=1, max_size=2),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(_statement, max_size=4), max_size=3),
    st.sampled_from(["updateOn", "updateRules", "viewProject"]),
    st.lists(_specifier(pattern=False), min_size=1, max_size=4),
)
def test_compiled_evaluation_agrees_with_the_plain_matcher(
    policies: list[list[Statement]], action: str, resources: list[str]
) -> None:
    access = Access(policies=tuple(tuple(p) for p in policies))
    for resource in resources:
        expected = any(allows(policy, action, resource) for policy in policies)
        assert access.permits(action, resource) is expected


def test_may_ever_answers_whether_some_resource_of_a_kind_could_be_allowed() -> None:
    payments = Access(policies=(PAYMENTS,))
    assert may_ever(payments, "updateRules", "proj/*:env/*:flag/*")  # the tagged ones
    assert may_ever(payments, "updateRules", "proj/shop:env/production:flag/*")
    assert not may_ever(payments, "viewWebhook", "webhook/*")  # nothing speaks about it
    assert not may_ever(payments, "updateRules", "proj/*:env/*")  # another depth
    webhooks = Access(policies=((allow(("webhook/*;ops",), ("viewWebhook",)),),))
    assert may_ever(webhooks, "viewWebhook", "webhook/*")  # tags ignored: some webhook may carry ops
    shop = Access(policies=((allow(("proj/shop",), ("viewProject",)),),))
    assert may_ever(shop, "viewProject", "proj/*") and may_ever(shop, "viewProject", "proj/shop")
    assert not may_ever(shop, "viewProject", "proj/other")


def test_may_ever_honours_a_deny_of_the_whole_kind_and_a_ceiling() -> None:
    denied = (allow(("webhook/*",), ("*",)), deny(("webhook/*",), ("view*",)))
    assert not may_ever(Access(policies=(denied,)), "viewWebhook", "webhook/*")
    tagged_deny = (allow(("webhook/*",), ("*",)), deny(("webhook/*;secret",), ("view*",)))
    assert may_ever(Access(policies=(tagged_deny,)), "viewWebhook", "webhook/*")
    negated = (Statement(Effect.ALLOW, not_resources=("proj/other",), actions=("viewProject",)),)
    assert may_ever(Access(policies=(negated,)), "viewProject", "proj/shop")
    member = Access(policies=(PAYMENTS,))
    assert not may_ever(Access(policies=(SRE,), ceiling=member), "bypassRequiredApproval", "proj/*:env/*:flag/*")
    assert may_ever(Access(policies=(SRE,), ceiling=member), "updateOn", "proj/*:env/*:flag/*")


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.lists(_statement, max_size=4), max_size=3),
    st.sampled_from(["updateOn", "updateRules", "viewProject"]),
    st.lists(_specifier(pattern=False), min_size=1, max_size=4),
)
def test_may_ever_never_refuses_what_would_be_allowed(
    policies: list[list[Statement]], action: str, resources: list[str]
) -> None:
    """Sound: when a resource is allowed, its kind (its path with every name globbed) may ever be."""
    access = Access(policies=tuple(tuple(p) for p in policies))
    for resource in resources:
        kind = ":".join(part.split(";")[0].split("/")[0] + "/*" for part in resource.split(":"))
        if access.permits(action, resource):
            assert may_ever(access, action, kind)
            assert may_ever(access, action, ":".join(part.split(";")[0] for part in resource.split(":")))
