"""The built-in roles as policies answer every door exactly as the fixed permission table they replaced.

``_OLD_GRANTS`` is that table (``domain.permissions`` before custom roles), kept here as the reference;
``_DOORS`` lists, per old permission, the actions and resources the services now ask about.
"""

from __future__ import annotations

import pytest

from flagward.domain.accounts import Actor, ActorKind, Role
from flagward.domain.authorization import authorize, permits
from flagward.domain.builtin_roles import actor_access
from flagward.domain.errors import Forbidden
from flagward.domain.policy import Effect, Statement

ME = "a" * 24
OTHER = "b" * 24

_READER = {"read", "manageOwnTokens"}
_WRITER = _READER | {
    "manageFlags",
    "updateFlagConfig",
    "manageSegments",
    "createApprovalRequest",
    "reviewApprovalRequest",
    "applyApprovalRequest",
    "updateApprovalRequest",
    "deleteApprovalRequest",
}
_ALL = _WRITER | {
    "bypassRequiredApproval",
    "manageProjects",
    "manageEnvironments",
    "manageMembers",
    "manageTeams",
    "manageTokens",
    "manageWebhooks",
}
_OLD_GRANTS: dict[Role, set[str]] = {
    Role.NO_ACCESS: set(),
    Role.READER: _READER,
    Role.WRITER: _WRITER,
    Role.ADMIN: _ALL,
    Role.OWNER: _ALL,
}

PROJECT = "proj/shop"
ENV = "proj/shop:env/production;critical"
FLAG = "proj/shop:env/production;critical:flag/checkout;payments"
FLAG_ANY_ENV = "proj/shop:env/*:flag/checkout;payments"
SEGMENT = "proj/shop:env/production;critical:segment/beta;vip"

_DOORS: dict[str, list[tuple[str, str]]] = {
    "read": [
        ("viewProject", PROJECT),
        ("viewEnvironment", ENV),
        ("viewSdkKey", ENV),
        ("viewMember", f"member/{OTHER}"),
        ("viewMember", "member/*"),
        ("viewTeam", "team/platform"),
        ("viewWebhook", "webhook/w1;ops"),
        ("viewAuditLog", "acct"),
        ("viewApprovalInbox", "acct"),
    ],
    "manageOwnTokens": [
        ("createAccessToken", f"member/{ME}:token/*"),
        ("viewAccessToken", f"member/{ME}:token/t1"),
        ("updateAccessTokenName", f"member/{ME}:token/t1"),
        ("updateAccessTokenPolicy", f"member/{ME}:token/t1"),
        ("resetAccessToken", f"member/{ME}:token/t1"),
        ("deleteAccessToken", f"member/{ME}:token/t1"),
    ],
    "manageTokens": [
        ("viewAccessToken", f"member/{OTHER}:token/t2"),
        ("deleteAccessToken", f"member/{OTHER}:token/t2"),
        ("viewAccessToken", "member/*:token/*"),
        ("createAccessToken", "service-token/*"),
        ("resetAccessToken", "service-token/s1"),
    ],
    "manageFlags": [
        ("createFlag", FLAG_ANY_ENV),
        ("deleteFlag", FLAG_ANY_ENV),
        ("updateName", FLAG_ANY_ENV),
        ("updateTags", FLAG_ANY_ENV),
        ("updateFlagVariations", FLAG_ANY_ENV),
        ("updateGlobalArchived", FLAG_ANY_ENV),
        ("updateClientSideFlagAvailability", FLAG_ANY_ENV),
    ],
    "updateFlagConfig": [
        ("updateOn", FLAG),
        ("updateRules", FLAG),
        ("updateTargets", FLAG),
        ("updateFallthrough", FLAG),
        ("updateOffVariation", FLAG),
        ("updatePrerequisites", FLAG),
        ("updateFlagSalt", FLAG),
        ("copyFlagConfigFrom", FLAG),
        ("copyFlagConfigTo", FLAG),
    ],
    "manageSegments": [
        ("createSegment", SEGMENT),
        ("updateIncluded", SEGMENT),
        ("updateRules", SEGMENT),
        ("deleteSegment", SEGMENT),
    ],
    "createApprovalRequest": [("createApprovalRequest", FLAG), ("createApprovalRequest", SEGMENT)],
    "reviewApprovalRequest": [("reviewApprovalRequest", FLAG), ("reviewApprovalRequest", SEGMENT)],
    "applyApprovalRequest": [("applyApprovalRequest", FLAG), ("applyApprovalRequest", SEGMENT)],
    "updateApprovalRequest": [("updateApprovalRequest", FLAG), ("updateApprovalRequest", SEGMENT)],
    "deleteApprovalRequest": [("deleteApprovalRequest", FLAG), ("deleteApprovalRequest", SEGMENT)],
    "bypassRequiredApproval": [
        ("bypassRequiredApproval", FLAG),
        ("bypassRequiredSegmentApproval", SEGMENT),
    ],
    "manageProjects": [
        ("createProject", "proj/new"),
        ("deleteProject", PROJECT),
        ("updateProjectName", PROJECT),
        ("updateTags", PROJECT),
    ],
    "manageEnvironments": [
        ("createEnvironment", "proj/shop:env/staging"),
        ("deleteEnvironment", ENV),
        ("updateApprovalSettings", ENV),
        ("updateApiKey", ENV),
        ("updateMobileKey", ENV),
        ("updateName", ENV),
        ("updateCritical", ENV),
    ],
    "manageMembers": [
        ("createMember", "member/*"),
        ("deleteMember", f"member/{OTHER}"),
        ("updateRole", f"member/{OTHER}"),
        ("updateMemberName", f"member/{OTHER}"),
        ("updateEmailNotifications", f"member/{OTHER}"),
        ("sendMemberInvitation", f"member/{OTHER}"),
        ("updateRole", f"member/{ME}"),
        ("updateMemberName", f"member/{ME}"),
    ],
    "manageTeams": [
        ("createTeam", "team/new"),
        ("deleteTeam", "team/platform"),
        ("updateTeamMembers", "team/platform"),
        ("updateTeamName", "team/platform"),
    ],
    "manageWebhooks": [
        ("createWebhook", "webhook/*"),
        ("deleteWebhook", "webhook/w1;ops"),
        ("updateUrl", "webhook/w1;ops"),
        ("updateSecret", "webhook/w1;ops"),
    ],
}
_CASES = [
    (role, permission, action, resource)
    for role in Role
    for permission, doors in _DOORS.items()
    for action, resource in doors
]


def test_every_old_permission_has_doors() -> None:
    assert set(_DOORS) == _ALL


@pytest.mark.parametrize(("role", "permission", "action", "resource"), _CASES)
def test_a_built_in_role_answers_as_the_old_table(role: Role, permission: str, action: str, resource: str) -> None:
    actor = Actor(kind=ActorKind.SESSION, role=role, member_id=ME)
    assert permits(actor, action, resource) is (permission in _OLD_GRANTS[role])


@pytest.mark.parametrize("role", list(Role))
def test_everyone_changes_their_own_email_notifications(role: Role) -> None:
    assert permits(Actor(kind=ActorKind.SESSION, role=role, member_id=ME), "updateEmailNotifications", f"member/{ME}")


def test_a_service_token_has_no_own_tokens_or_profile() -> None:
    token = Actor(kind=ActorKind.SERVICE_TOKEN, role=Role.WRITER, token_id="c" * 24)
    assert permits(token, "updateOn", FLAG)
    assert not permits(token, "createAccessToken", f"member/{ME}:token/*")
    assert not permits(token, "updateEmailNotifications", f"member/{ME}")


def test_writers_do_not_bypass_required_approvals() -> None:
    writer = Actor(kind=ActorKind.SESSION, role=Role.WRITER, member_id=ME)
    assert not permits(writer, "bypassRequiredApproval", FLAG)
    assert not permits(writer, "bypassRequiredSegmentApproval", SEGMENT)


def test_a_custom_role_adds_to_the_base_role() -> None:
    sre = (Statement(Effect.ALLOW, resources=("proj/*:env/production:flag/*",), actions=("bypassRequiredApproval",)),)
    writer = Actor(kind=ActorKind.SESSION, role=Role.WRITER, member_id=ME, access=actor_access(Role.WRITER, (sre,)))
    assert permits(writer, "bypassRequiredApproval", FLAG)
    assert not permits(writer, "bypassRequiredApproval", "proj/shop:env/staging:flag/checkout")


def test_a_refusal_is_forbidden_naming_the_action_and_the_resource() -> None:
    reader = Actor(kind=ActorKind.SESSION, role=Role.READER, member_id=ME)
    with pytest.raises(Forbidden) as refused:
        authorize(reader, "updateOn", FLAG)
    assert "'updateOn'" in refused.value.message and FLAG in refused.value.message
