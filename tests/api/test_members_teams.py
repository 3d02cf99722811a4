"""Account members and teams through the official client: inviting, listing with filters, JSON patch,
deletion, the last owner's protection, semantic patches on teams and the CSV member import."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import launchdarkly_api
import pytest
from launchdarkly_api.api.account_members_api import AccountMembersApi
from launchdarkly_api.api.other_api import OtherApi
from launchdarkly_api.api.teams_api import TeamsApi

from flagward.bootstrap import build_services
from flagward.config import Settings
from flagward.domain.accounts import Actor, ActorKind, Role
from flagward.domain.errors import InvalidRequest
from flagward.services import members as member_service
from flagward.services.auth import ensure_owner_and_admin_token
from tests.support import accounts, ldapi
from tests.support.accounts import unique, unique_email
from tests.support.server import ServerProcess

OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")


@pytest.fixture(scope="module")
def api(server: ServerProcess) -> Iterator[launchdarkly_api.ApiClient]:
    with ldapi.client(server.url, server.admin_token) as api_client:
        yield api_client


def _error(call: object) -> tuple[int, str]:
    assert callable(call)
    with pytest.raises(launchdarkly_api.ApiException) as info:
        call()
    return int(info.value.status), str(info.value.body)


def _replace(path: str, value: object) -> list[launchdarkly_api.PatchOperation]:
    return [launchdarkly_api.PatchOperation(op="replace", path=path, value=value)]


def _team(api: launchdarkly_api.ApiClient, member_ids: list[str] | None = None, **fields: object) -> str:
    key = unique("team")
    TeamsApi(api).post_team(
        launchdarkly_api.TeamPostInput(key=key, name=f"Team {key}", member_ids=member_ids, **fields)
    )
    return key


def _members(api: launchdarkly_api.ApiClient, *forms: launchdarkly_api.NewMemberForm) -> list[launchdarkly_api.Member]:
    return list(AccountMembersApi(api).post_members(list(forms)).items)


def test_invite_members(api: launchdarkly_api.ApiClient) -> None:
    team = _team(api)
    before = int(time.time() * 1000)
    ada, bob = _members(
        api,
        launchdarkly_api.NewMemberForm(
            email=unique_email("ada"), role="writer", first_name="Ada", last_name="Lovelace", team_keys=[team]
        ),
        launchdarkly_api.NewMemberForm(email=unique_email("bob"), role="admin"),
    )
    assert OBJECT_ID.match(ada.id) and OBJECT_ID.match(bob.id) and ada.id != bob.id
    assert (ada.role, ada.first_name, ada.last_name) == ("writer", "Ada", "Lovelace")
    assert [(t.key, t.name) for t in ada.teams] == [(team, f"Team {team}")]
    assert (bob.role, bob.first_name, bob.teams) == ("admin", None, [])
    assert before - 1000 <= ada.creation_date <= int(time.time() * 1000) + 1000
    assert (ada.pending_invite, ada.verified, ada.custom_roles, ada.mfa) == (False, True, [], "disabled")
    fetched = AccountMembersApi(api).get_member(ada.id)
    assert fetched.to_dict() == ada.to_dict()
    assert [(t.key, t.name) for t in fetched.teams] == [(team, f"Team {team}")]
    assert fetched.links["self"].href == f"/api/v2/members/{ada.id}"


def test_invite_validates(server: ServerProcess, api: launchdarkly_api.ApiClient) -> None:
    taken = _members(api, launchdarkly_api.NewMemberForm(email=unique_email("taken"), role="reader"))[0]
    members = AccountMembersApi(api)
    cases = [
        ([launchdarkly_api.NewMemberForm(email=taken.email, role="reader")], 409, "email"),
        ([launchdarkly_api.NewMemberForm(email="not-an-email", role="reader")], 400, "email"),
        ([launchdarkly_api.NewMemberForm(email=unique_email(), role="reader", team_keys=["no-team"])], 400, "teamKeys"),
        ([launchdarkly_api.NewMemberForm(email=unique_email(), role="reader", password="short")], 400, "password"),
        ([], 400, "member"),
    ]
    for forms, status, named in cases:
        got, body = _error(lambda forms=forms: members.post_members(forms))
        assert (got, named in body) == (status, True), body
    # The official client refuses unknown roles itself, so these go over plain HTTP.
    good = unique_email("good")
    atomic = [{"email": good, "role": "reader"}, {"email": unique_email("bad"), "role": "captain"}]
    response = httpx.post(f"{server.url}/api/v2/members", json=atomic, headers={"Authorization": server.admin_token})
    assert response.status_code == 400 and "role" in response.json()["message"]
    assert members.get_members(filter=f"query:{good}").total_count == 0  # all or nothing


def test_an_admin_cannot_invite_an_owner(server: ServerProcess, api: launchdarkly_api.ApiClient) -> None:
    email = unique_email("owner")
    response = httpx.post(
        f"{server.url}/api/v2/members",
        json=[{"email": email, "role": "owner"}],
        headers={"Authorization": server.admin_token},
    )
    assert response.status_code == 403
    assert AccountMembersApi(api).get_members(filter=f"query:{email}").total_count == 0


def test_list_members_with_filters_and_pagination(api: launchdarkly_api.ApiClient) -> None:
    marker = unique("zeta")
    created = _members(
        api,
        *(
            launchdarkly_api.NewMemberForm(email=f"{marker}-{i}@example.com", role=role, first_name=f"N{i}")
            for i, role in enumerate(["reader", "writer", "writer"])
        ),
    )
    team = _team(api, member_ids=[created[0].id])
    members = AccountMembersApi(api)
    mine = members.get_members(filter=f"query:{marker}")
    assert mine.total_count == 3
    assert sorted(m.id for m in mine.items) == sorted(m.id for m in created)
    writers = members.get_members(filter=f"query:{marker},role:writer")
    assert {m.id for m in writers.items} == {created[1].id, created[2].id}
    assert [m.id for m in members.get_members(filter=f"team:{team}").items] == [created[0].id]
    head = members.get_members(filter=f"query:{marker}", limit=1)
    page = members.get_members(filter=f"query:{marker}", limit=2, offset=1)
    assert [m.id for m in head.items + page.items] == [m.id for m in mine.items]
    assert page.total_count == 3 and "prev" in page.links and "next" not in page.links
    assert "next" in head.links and "prev" not in head.links
    everyone = members.get_members(limit=1)
    assert everyone.total_count >= 4 and len(everyone.items) == 1 and "next" in everyone.links
    assert _error(lambda: members.get_members(filter="shoe:42"))[0] == 400


def test_patch_member(api: launchdarkly_api.ApiClient) -> None:
    (member,) = _members(api, launchdarkly_api.NewMemberForm(email=unique_email("patch"), role="reader"))
    members = AccountMembersApi(api)
    patched = members.patch_member(
        member.id,
        [
            launchdarkly_api.PatchOperation(op="replace", path="/role", value="writer"),
            launchdarkly_api.PatchOperation(op="add", path="/firstName", value="Grace"),
            launchdarkly_api.PatchOperation(op="replace", path="/lastName", value="Hopper"),
        ],
    )
    assert (patched.role, patched.first_name, patched.last_name) == ("writer", "Grace", "Hopper")
    assert members.get_member(member.id).to_dict() == patched.to_dict()
    for path, value in (("/role", "captain"), ("/email", "x@example.com"), ("/_id", "x"), ("/firstName", 3)):
        status, body = _error(lambda path=path, value=value: members.patch_member(member.id, _replace(path, value)))
        assert status == 400, (path, body)
    assert _error(lambda: members.patch_member(member.id, _replace("/role", "owner")))[0] == 403
    assert members.get_member(member.id).role == "writer"
    assert _error(lambda: members.patch_member("0" * 24, _replace("/role", "reader")))[0] == 404


def test_delete_member_revokes_their_tokens(server: ServerProcess, api: launchdarkly_api.ApiClient) -> None:
    person = accounts.account(api, server.url, "writer")
    token = accounts.personal_token(server.url, person)
    AccountMembersApi(api).delete_member(person.id)
    assert _error(lambda: AccountMembersApi(api).get_member(person.id))[0] == 404
    assert _error(lambda: AccountMembersApi(api).delete_member(person.id))[0] == 404
    response = httpx.get(f"{server.url}/api/v2/caller-identity", headers={"Authorization": token})
    assert response.status_code == 401


def test_the_owner_cannot_be_removed_or_demoted_through_the_api(api: launchdarkly_api.ApiClient) -> None:
    owner_id = OtherApi(api).get_caller_identity().member_id
    members = AccountMembersApi(api)
    assert members.get_member(owner_id).role == "owner"
    assert _error(lambda: members.delete_member(owner_id))[0] == 403
    assert _error(lambda: members.patch_member(owner_id, _replace("/role", "admin")))[0] == 403
    assert members.get_member(owner_id).role == "owner"
    assert members.get_members(filter="role:owner").total_count == 1


def test_the_last_owner_cannot_be_removed_or_demoted_even_by_an_owner(store_url: str, tmp_path: Path) -> None:
    # Through the REST API every credential acts at most as admin (tokens cap at admin and the owner has
    # no password); this drives the rule itself with an owner actor.
    services = build_services(Settings(database_url=store_url))
    try:
        first = ensure_owner_and_admin_token(services.deps, owner_email="boss@example.com", admin_token=None)
        assert first is not None
        owner = first.owner
        actor = Actor(kind=ActorKind.SESSION, role=Role.OWNER, member_id=owner.id, member_email=owner.email)
        demote = [{"op": "replace", "path": "/role", "value": "admin"}]
        with pytest.raises(InvalidRequest, match="last owner"):
            member_service.patch_member(services.deps, actor=actor, member_id=owner.id, patch=demote)
        with pytest.raises(InvalidRequest, match="last owner"):
            member_service.delete_member(services.deps, actor=actor, member_id=owner.id)
        assert member_service.get_member(services.deps, actor=actor, member_id=owner.id).role is Role.OWNER
        (second,) = member_service.create_members(
            services.deps, actor=actor, new=[member_service.NewMember(email="co@example.com", role=Role.OWNER)]
        )
        assert (
            member_service.patch_member(services.deps, actor=actor, member_id=owner.id, patch=demote).role is Role.ADMIN
        )
        with pytest.raises(InvalidRequest, match="last owner"):
            member_service.delete_member(services.deps, actor=actor, member_id=second.id)
    finally:
        services.close()


def test_team_lifecycle(api: launchdarkly_api.ApiClient) -> None:
    ada, bob = _members(
        api,
        launchdarkly_api.NewMemberForm(email=unique_email("t-ada"), role="reader"),
        launchdarkly_api.NewMemberForm(email=unique_email("t-bob"), role="reader"),
    )
    teams = TeamsApi(api)
    key = unique("team")
    created = teams.post_team(
        launchdarkly_api.TeamPostInput(key=key, name="Platform", description="runs things", member_ids=[ada.id])
    )
    assert (created.key, created.name, created.description, created.version) == (key, "Platform", "runs things", 1)
    assert created.links["self"].href == f"/api/v2/teams/{key}"
    assert created.creation_date > 0 and created.members is None
    assert teams.get_team(key, expand="members").members.total_count == 1
    assert key in {t.key for t in AccountMembersApi(api).get_member(ada.id).teams}
    listed = teams.get_teams(filter=f"query:{key}", expand="members")
    assert [(t.key, t.members.total_count) for t in listed.items] == [(key, 1)]
    assert _error(lambda: teams.get_teams(filter=key))[0] == 400  # a filter is field:value
    patched = teams.patch_team(
        key,
        launchdarkly_api.TeamPatchInput(
            comment="reorganise",
            instructions=[
                {"kind": "addMembers", "values": [bob.id]},
                {"kind": "removeMembers", "values": [ada.id]},
                {"kind": "updateName", "value": "Platform team"},
                {"kind": "updateDescription", "value": "runs everything"},
            ],
        ),
        expand="members",
    )
    assert (patched.name, patched.description, patched.members.total_count) == ("Platform team", "runs everything", 1)
    assert patched.version == 2 and patched.last_modified >= created.last_modified
    assert [m.id for m in AccountMembersApi(api).get_members(filter=f"team:{key}").items] == [bob.id]
    teams.delete_team(key)
    assert _error(lambda: teams.get_team(key))[0] == 404
    assert AccountMembersApi(api).get_member(bob.id).teams == []


def test_team_patches_are_all_or_nothing(api: launchdarkly_api.ApiClient) -> None:
    key = _team(api)
    teams = TeamsApi(api)
    for instructions in (
        [{"kind": "updateName", "value": "Changed"}, {"kind": "launchRocket"}],
        [{"kind": "updateName", "value": "Changed"}, {"kind": "addMembers", "values": ["0" * 24]}],
        [{"kind": "updateName", "value": ""}],
        [],
    ):
        patch = launchdarkly_api.TeamPatchInput(instructions=instructions)
        status, body = _error(lambda patch=patch: teams.patch_team(key, patch))
        assert status == 400 and '"invalid_request"' in body, body
    assert teams.get_team(key).name == f"Team {key}"


def test_a_team_patch_comment_must_be_a_string(server: ServerProcess, api: launchdarkly_api.ApiClient) -> None:
    """The comment goes to the audit log, whose entries document it as a string."""
    key = _team(api)
    response = httpx.patch(
        f"{server.url}/api/v2/teams/{key}",
        headers={"Authorization": server.admin_token},
        json={"comment": 5, "instructions": [{"kind": "updateName", "value": "Changed"}]},
    )
    assert response.status_code == 400 and response.json()["message"] == "comment must be a string"
    assert TeamsApi(api).get_team(key).name == f"Team {key}"


def test_team_keys_are_unique_and_valid(api: launchdarkly_api.ApiClient) -> None:
    key = _team(api)
    teams = TeamsApi(api)
    assert _error(lambda: teams.post_team(launchdarkly_api.TeamPostInput(key=key, name="Again")))[0] == 409
    assert _error(lambda: teams.post_team(launchdarkly_api.TeamPostInput(key="no spaces", name="x")))[0] == 400
    bad_member = launchdarkly_api.TeamPostInput(key=unique("t"), name="x", member_ids=["0" * 24])
    assert _error(lambda: teams.post_team(bad_member))[0] == 400


def test_import_team_members_from_csv(api: launchdarkly_api.ApiClient) -> None:
    ada, bob = _members(
        api,
        launchdarkly_api.NewMemberForm(email=unique_email("csv-ada"), role="reader"),
        launchdarkly_api.NewMemberForm(email=unique_email("csv-bob"), role="reader"),
    )
    key = _team(api)
    teams = TeamsApi(api)
    csv = f"email\n{ada.email}\n{bob.email}\n".encode()
    imported = teams.post_team_members_with_http_info(key, file=("members.csv", csv))
    assert imported.status_code == 201
    assert [(i.value, i.status) for i in imported.data.items] == [(ada.email, "success"), (bob.email, "success")]
    assert teams.get_team(key, expand="members").members.total_count == 2
    other = _team(api)
    unknown = unique_email("stranger")
    partial = teams.post_team_members_with_http_info(other, file=("m.csv", f"{ada.email}\n{unknown}\n".encode()))
    assert partial.status_code == 207
    assert [(i.value, i.status) for i in partial.data.items] == [(ada.email, "success"), (unknown, "error")]
    assert partial.data.items[1].message
    assert teams.get_team(other, expand="members").members.total_count == 0  # nothing added
    assert _error(lambda: teams.post_team_members(unique("none"), file=("m.csv", csv)))[0] == 404
