"""``domain.roles.granted_policy``: what holding a custom role grants, with its ``basePermissions``."""

from __future__ import annotations

from flagward.domain.access import Access
from flagward.domain.accounts import Role
from flagward.domain.builtin_roles import builtin_policy
from flagward.domain.policy import parse_statements
from flagward.domain.roles import CustomRole, granted_policy

POLICY = parse_statements(
    [
        {"effect": "allow", "resources": ["proj/*:env/*:flag/*"], "actions": ["updateOn"]},
        {"effect": "deny", "resources": ["proj/secret"], "actions": ["viewProject"]},
    ]
)


def _role(base: str | None) -> CustomRole:
    return CustomRole(id="r", key="r", name="R", policy=POLICY, creation_date=0, last_modified=0, base_permissions=base)


def _access(base: str | None) -> Access:
    return Access(policies=(builtin_policy(Role.NO_ACCESS, "m"), granted_policy(_role(base))))


def test_no_access_and_unset_grant_the_policy_alone() -> None:
    for base in ("no_access", None):
        assert granted_policy(_role(base)) is POLICY
        access = _access(base)
        assert access.permits("updateOn", "proj/shop:env/production:flag/checkout")
        assert not access.permits("viewProject", "proj/shop")


def test_reader_adds_the_readers_view_below_the_roles_denies() -> None:
    access = _access("reader")
    assert access.permits("viewProject", "proj/shop")
    assert access.permits("viewMember", "member/someone")
    assert not access.permits("viewProject", "proj/secret")
    assert not access.permits("createProject", "proj/new")
    assert access.permits("updateOn", "proj/shop:env/production:flag/checkout")


def test_the_granted_policy_is_one_object_per_role_policy() -> None:
    assert granted_policy(_role("reader")) is granted_policy(_role("reader"))
