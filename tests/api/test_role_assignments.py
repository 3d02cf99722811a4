"""Where custom roles are given, through the official client: a member's ``customRoles`` (JSON patch and
invitation), LaunchDarkly's bulk member patch, a member joining teams, a team's ``customRoleKeys``,
``getTeamRoles`` and maintainers, and tokens' ``customRoleIds``/``inlineRole``. Refusals leave
everything as it was; every change is audited."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import launchdarkly_api
import pytest
from launchdarkly_api.api.access_tokens_api import AccessTokensApi
from launchdarkly_api.api.account_members_api import AccountMembersApi
from launchdarkly_api.api.custom_roles_api import CustomRolesApi
from launchdarkly_api.api.teams_api import TeamsApi
from launchdarkly_api.models import (
    AccessTokenPost,
    CustomRolePost,
    MembersPatchInput,
    MemberTeamsPostInput,
    PatchOperation,
    StatementPost,
    TeamPatchInput,
    TeamPostInput,
)

from tests.support import accounts, ldapi
from tests.support.accounts import unique
from tests.support.server import ServerProcess

SEMANTIC = "application/json; domain-model=launchdarkly.semanticpatch"
STAGING = StatementPost(effect="allow", resources=["proj/*:env/staging"], actions=["view*"])


@pytest.fixture(scope="module")
def api(server: ServerProcess) -> Iterator[launchdarkly_api.ApiClient]:
    with ldapi.client(server.url, server.admin_token) as api_client:
        yield api_client


def _error(call: Any) -> tuple[int, dict[str, Any]]:
    with pytest.raises(launchdarkly_api.ApiException) as info:
        call()
    return int(info.value.status), json.loads(str(info.value.body))


def _role(api: launchdarkly_api.ApiClient) -> launchdarkly_api.CustomRole:
    key = unique("role")
    return CustomRolesApi(api).post_custom_role(CustomRolePost(key=key, name=key, policy=[STAGING]))


def _team(api: launchdarkly_api.ApiClient, **fields: Any) -> launchdarkly_api.Team:
    key = unique("team")
    return TeamsApi(api).post_team(TeamPostInput(key=key, name=key, **fields))


def _audit(server: ServerProcess, spec: str) -> list[dict[str, Any]]:
    with httpx.Client(base_url=server.url, headers={"Authorization": server.admin_token}) as client:
        response = client.get("/api/v2/auditlog", params={"spec": spec, "limit": 20})
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def _accesses(server: ServerProcess, entry_id: str) -> list[str]:
    with httpx.Client(base_url=server.url, headers={"Authorization": server.admin_token}) as client:
        entry = client.get(f"/api/v2/auditlog/{entry_id}").json()
    return [a["action"] for a in entry["accesses"]]


def test_a_members_custom_roles_are_patched_by_key_or_id_and_shown_as_ids(
    api: launchdarkly_api.ApiClient, server: ServerProcess
) -> None:
    members = AccountMembersApi(api)
    first, second = _role(api), _role(api)
    member = accounts.invite(api, "reader", password=None)
    patched = members.patch_member(member.id, [PatchOperation(op="add", path="/customRoles/0", value=first.key)])
    assert patched.custom_roles == [first.id]
    patched = members.patch_member(member.id, [PatchOperation(op="add", path="/customRoles/-", value=second.id)])
    assert sorted(patched.custom_roles) == sorted([first.id, second.id])
    status, body = _error(
        lambda: members.patch_member(member.id, [PatchOperation(op="add", path="/customRoles/-", value="nope")])
    )
    assert status == 400 and body["code"] == "invalid_request" and "nope" in body["message"]
    assert sorted(members.get_member(member.id).custom_roles) == sorted([first.id, second.id])
    entries = _audit(server, f"member/{member.id}")
    assert "updateCustomRole" in _accesses(server, entries[0]["_id"])
    assert CustomRolesApi(api).get_custom_role(first.key).assigned_to.members_count == 1


def test_an_invitation_may_give_custom_roles_and_an_unknown_one_invites_nobody(api: launchdarkly_api.ApiClient) -> None:
    role = _role(api)
    members = AccountMembersApi(api)
    email = accounts.unique_email("custom")
    form = launchdarkly_api.NewMemberForm(email=email, role="reader", customRoles=[role.key])
    (created,) = members.post_members([form]).items
    assert created.custom_roles == [role.id]
    other = accounts.unique_email("custom")
    bad = launchdarkly_api.NewMemberForm(email=other, role="reader", customRoles=["nope"])
    status, _ = _error(lambda: members.post_members([bad]))
    assert status == 400
    assert members.get_members(filter=f"query:{other}").total_count == 0


def test_a_team_gets_roles_and_maintainers_and_its_members_show_the_roles(
    api: launchdarkly_api.ApiClient, server: ServerProcess
) -> None:
    teams, members = TeamsApi(api), AccountMembersApi(api)
    first, second = _role(api), _role(api)
    member = accounts.invite(api, "reader", password=None)
    team = _team(api, customRoleKeys=[first.key], memberIDs=[member.id])
    assert [r.key for r in teams.get_team_roles(team.key).items] == [first.key]
    shown = members.get_member(member.id)
    assert [(t.key, t.custom_role_keys) for t in shown.teams] == [(team.key, [first.key])]

    add = TeamPatchInput(instructions=[{"kind": "addCustomRoles", "values": [second.key]}], comment="more")
    teams.patch_team(team.key, add)
    roles = teams.get_team_roles(team.key, limit=1, offset=1)
    assert roles.total_count == 2 and [r.key for r in roles.items] == [sorted([first.key, second.key])[1]]

    unknown = TeamPatchInput(
        instructions=[
            {"kind": "removeCustomRoles", "values": [first.key]},
            {"kind": "addCustomRoles", "values": ["nope"]},
        ]
    )
    status, body = _error(lambda: teams.patch_team(team.key, unknown))
    assert status == 400 and "nope" in body["message"]
    assert teams.get_team_roles(team.key).total_count == 2

    grant = {"kind": "addPermissionGrants", "actionSet": "maintainTeam", "memberIDs": [member.id]}
    expanded = teams.patch_team(team.key, TeamPatchInput(instructions=[grant]), expand="roles,maintainers")
    assert sorted(r.key for r in expanded.roles.items) == sorted([first.key, second.key])
    assert expanded.maintainers.total_count == 1
    grants = members.get_member(member.id).permission_grants
    assert [(g.resource, g.action_set) for g in grants] == [(f"team/{team.key}", "maintainTeam")]
    wrong = {"kind": "addPermissionGrants", "actions": ["deleteTeam"], "memberIDs": [member.id]}
    status, _ = _error(lambda: teams.patch_team(team.key, TeamPatchInput(instructions=[wrong])))
    assert status == 400
    entries = _audit(server, f"team/{team.key}")
    actions = [a for e in entries for a in _accesses(server, e["_id"])]
    assert {"updateTeamCustomRoles", "updateTeamPermissions", "createTeam"} <= set(actions)

    status, _ = _error(lambda: _team(api, customRoleKeys=["nope"]))
    assert status == 400
    status, _ = _error(lambda: teams.get_team_roles("no-such-team"))
    assert status == 404


def test_a_member_joins_teams_and_unknown_teams_change_nothing(api: launchdarkly_api.ApiClient) -> None:
    members = AccountMembersApi(api)
    member = accounts.invite(api, "reader", password=None)
    first, second = _team(api), _team(api)
    joined = members.post_member_teams(member.id, MemberTeamsPostInput(teamKeys=[first.key, second.key]))
    assert sorted(t.key for t in joined.teams) == sorted([first.key, second.key])
    other = accounts.invite(api, "reader", password=None)
    status, body = _error(
        lambda: members.post_member_teams(other.id, MemberTeamsPostInput(teamKeys=[first.key, "nope"]))
    )
    assert status == 400 and "nope" in body["message"]
    assert members.get_member(other.id).teams == []
    status, _ = _error(lambda: members.post_member_teams("0" * 24, MemberTeamsPostInput(teamKeys=[first.key])))
    assert status == 404


def test_the_bulk_member_patch_replaces_roles_and_custom_roles_all_or_nothing(
    api: launchdarkly_api.ApiClient, server: ServerProcess
) -> None:
    members = AccountMembersApi(api)
    role = _role(api)
    ann, bob = (accounts.invite(api, "reader", password=None) for _ in range(2))
    result = members.patch_members(
        MembersPatchInput(
            instructions=[
                {"kind": "replaceMembersCustomRoles", "memberIDs": [ann.id, bob.id], "values": [role.key]},
                {"kind": "replaceMembersRoles", "memberIDs": [bob.id], "value": "writer"},
            ],
            comment="bulk",
        ),
        _content_type=SEMANTIC,
    )
    assert sorted(result.members) == sorted([ann.id, bob.id]) and result.errors == []
    assert members.get_member(ann.id).custom_roles == [role.id]
    assert members.get_member(bob.id).role == "writer"
    assert _audit(server, f"member/{bob.id}")[0]["comment"] == "bulk"

    bad = MembersPatchInput(
        instructions=[
            {"kind": "replaceMembersRoles", "memberIDs": [ann.id], "value": "writer"},
            {"kind": "replaceMembersRoles", "memberIDs": ["0" * 24], "value": "writer"},
        ]
    )
    status, body = _error(lambda: members.patch_members(bad, _content_type=SEMANTIC))
    assert status == 400 and "0" * 24 in body["message"]
    assert members.get_member(ann.id).role == "reader"
    status, _ = _error(
        lambda: members.patch_members(MembersPatchInput(instructions=[{"kind": "explode"}]), _content_type=SEMANTIC)
    )
    assert status == 400


def test_replace_all_members_custom_roles_leaves_out_those_the_filters_match(api: launchdarkly_api.ApiClient) -> None:
    members = AccountMembersApi(api)
    role = _role(api)
    kept = accounts.invite(api, "reader", password=None)
    instruction = {
        "kind": "replaceAllMembersCustomRoles",
        "values": [role.id],
        "filterQuery": kept.email,
    }
    changed = members.patch_members(MembersPatchInput(instructions=[instruction]), _content_type=SEMANTIC).members
    assert kept.id not in changed and changed
    assert members.get_member(kept.id).custom_roles == []
    assert members.get_member(changed[0]).custom_roles == [role.id]
    undo = {"kind": "replaceAllMembersCustomRoles", "values": []}
    members.patch_members(MembersPatchInput(instructions=[undo]), _content_type=SEMANTIC)


def test_tokens_take_custom_roles_or_an_inline_role_never_both_nor_unknown_roles(
    api: launchdarkly_api.ApiClient,
) -> None:
    tokens = AccessTokensApi(api)
    role = _role(api)
    token = tokens.post_token(
        AccessTokenPost(name=unique("t"), role="reader", customRoleIds=[role.id], serviceToken=True)
    )
    assert token.custom_role_ids == [role.id] and not token.inline_role
    inline = tokens.post_token(AccessTokenPost(name=unique("t"), inlineRole=[STAGING], serviceToken=True))
    assert [s.to_dict() for s in inline.inline_role] == [STAGING.to_dict()] and inline.custom_role_ids == []
    for post in (
        AccessTokenPost(name=unique("t"), customRoleIds=["0" * 24], serviceToken=True),
        AccessTokenPost(name=unique("t"), customRoleIds=[role.id], inlineRole=[STAGING], serviceToken=True),
        AccessTokenPost(
            name=unique("t"),
            inlineRole=[StatementPost(effect="allow", resources=["proj/*:"], actions=["*"])],
            serviceToken=True,
        ),
    ):
        status, body = _error(lambda post=post: tokens.post_token(post))
        assert status == 400 and body["code"] == "invalid_request"

    patched = tokens.patch_token(token.id, [PatchOperation(op="replace", path="/customRoleIds", value=[role.key])])
    assert patched.custom_role_ids == [role.id]
    swap = [
        PatchOperation(op="replace", path="/customRoleIds", value=[]),
        PatchOperation(op="replace", path="/inlineRole", value=[STAGING.to_dict()]),
    ]
    assert tokens.patch_token(token.id, swap).inline_role[0].resources == STAGING.resources
    status, _ = _error(
        lambda: tokens.patch_token(token.id, [PatchOperation(op="replace", path="/customRoleIds", value=["nope"])])
    )
    assert status == 400
    assert tokens.get_token(token.id).custom_role_ids == []


def test_deleting_a_role_takes_it_from_members_and_teams(
    api: launchdarkly_api.ApiClient, server: ServerProcess
) -> None:
    role = _role(api)
    member = accounts.invite(api, "reader", password=None)
    AccountMembersApi(api).patch_member(member.id, [PatchOperation(op="add", path="/customRoles/0", value=role.key)])
    team = _team(api, customRoleKeys=[role.key])
    assigned = CustomRolesApi(api).get_custom_role(role.key).assigned_to
    assert (assigned.members_count, assigned.teams_count) == (1, 1)
    CustomRolesApi(api).delete_custom_role(role.id)
    assert AccountMembersApi(api).get_member(member.id).custom_roles == []
    assert TeamsApi(api).get_team_roles(team.key).total_count == 0
    deleted = _audit(server, f"role/{role.key}")[0]
    assert deleted["titleVerb"] == "deleted"
