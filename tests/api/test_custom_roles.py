"""LaunchDarkly's custom roles API (``/api/v2/roles``) through the official client (``CustomRolesApi``):
create, read by key or id, list with pagination, JSON patch, delete; LaunchDarkly's error bodies for bad
policies, taken keys, unknown roles and bad patches, with nothing written; an audit entry per change."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import launchdarkly_api
import pytest
from launchdarkly_api.api.custom_roles_api import CustomRolesApi
from launchdarkly_api.models import CustomRolePost, PatchOperation, PatchWithComment, StatementPost

from tests.support import accounts, ldapi
from tests.support.accounts import unique
from tests.support.server import ServerProcess

PAYMENTS = StatementPost(effect="allow", resources=["proj/*:env/*:flag/*;payments"], actions=["*"])
NO_PROD = StatementPost(effect="deny", resources=["proj/*:env/production:flag/*"], actions=["updateOn"])


@pytest.fixture(scope="module")
def api(server: ServerProcess) -> Iterator[launchdarkly_api.ApiClient]:
    with ldapi.client(server.url, server.admin_token) as api_client:
        yield api_client


def _error(call: Any) -> tuple[int, dict[str, Any]]:
    with pytest.raises(launchdarkly_api.ApiException) as info:
        call()
    return int(info.value.status), json.loads(str(info.value.body))


def _create(api: launchdarkly_api.ApiClient, *statements: StatementPost, **fields: Any) -> launchdarkly_api.CustomRole:
    key = fields.pop("key", None) or unique("role")
    post = CustomRolePost(
        key=key, name=fields.pop("name", key.title()), policy=list(statements or [PAYMENTS]), **fields
    )
    return CustomRolesApi(api).post_custom_role(post)


def _audit(server: ServerProcess, key: str) -> list[dict[str, Any]]:
    with httpx.Client(base_url=server.url, headers={"Authorization": server.admin_token}) as client:
        response = client.get("/api/v2/auditlog", params={"spec": f"role/{key}", "limit": 20})
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def test_a_role_is_created_read_by_key_or_id_patched_and_deleted(
    api: launchdarkly_api.ApiClient, server: ServerProcess
) -> None:
    roles = CustomRolesApi(api)
    created = _create(api, PAYMENTS, description="payments everywhere", basePermissions="no_access")
    assert created.key and created.id and created.links["self"].href == f"/api/v2/roles/{created.key}"
    assert created.base_permissions == "no_access" and created.description == "payments everywhere"
    assert [s.to_dict() for s in created.policy] == [PAYMENTS.to_dict()]

    by_id = roles.get_custom_role(created.id)
    assert by_id.key == created.key and by_id.assigned_to is not None and by_id.assigned_to.members_count == 0

    patch = PatchWithComment(
        patch=[
            PatchOperation(op="add", path="/policy/-", value=NO_PROD.to_dict()),
            PatchOperation(op="replace", path="/name", value="Payments, not production"),
        ],
        comment="no production",
    )
    patched = roles.patch_custom_role(created.key, patch)
    assert patched.name == "Payments, not production" and len(patched.policy) == 2
    assert patched.policy[1].effect == "deny"

    roles.delete_custom_role(created.key)
    status, body = _error(lambda: roles.get_custom_role(created.key))
    assert status == 404 and body["code"] == "not_found"

    entries = _audit(server, created.key)
    titles = [(e["titleVerb"], e.get("comment")) for e in reversed(entries)]
    assert titles == [("created", None), ("updated", "no production"), ("deleted", None)]


def test_roles_are_listed_in_key_order_with_pagination_links(api: launchdarkly_api.ApiClient) -> None:
    for _ in range(3):
        _create(api)
    roles = CustomRolesApi(api)
    everything = roles.get_custom_roles(limit=1000)
    keys = [r.key for r in everything.items]
    assert keys == sorted(keys) and everything.total_count == len(keys) >= 3
    page = roles.get_custom_roles(limit=1, offset=1)
    assert [r.key for r in page.items] == keys[1:2]
    assert page.links["next"].href == "/api/v2/roles?limit=1&offset=2"
    assert page.links["prev"].href == "/api/v2/roles?limit=1&offset=0"


@pytest.mark.parametrize(
    ("policy", "named"),
    [
        ([], "policy"),
        ([{"effect": "allow", "resources": ["proj/*:"], "actions": ["*"]}], "policy[0]"),
        ([{"effect": "maybe", "resources": ["proj/*"], "actions": ["*"]}], "policy[0].effect"),
        ([{"effect": "allow", "resources": ["proj/*"], "notResources": ["proj/a"], "actions": ["*"]}], "policy[0]"),
        ([{"effect": "allow", "resources": ["proj/*"]}], "policy[0]"),
    ],
)
def test_bad_policies_are_refused_and_nothing_is_created(
    server: ServerProcess, api: launchdarkly_api.ApiClient, policy: list[Any], named: str
) -> None:
    key = unique("bad")
    with httpx.Client(base_url=server.url, headers={"Authorization": server.admin_token}) as client:
        response = client.post("/api/v2/roles", json={"key": key, "name": "Bad", "policy": policy})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_request" and named in response.json()["message"]
    status, _ = _error(lambda: CustomRolesApi(api).get_custom_role(key))
    assert status == 404


def test_a_taken_key_a_bad_base_permission_and_a_bad_key_are_refused(api: launchdarkly_api.ApiClient) -> None:
    role = _create(api)
    status, body = _error(lambda: _create(api, key=role.key, name="Again"))
    assert status == 409 and body["code"] == "conflict" and role.key in body["message"]
    status, body = _error(lambda: _create(api, basePermissions="admin"))
    assert status == 400 and "basePermissions" in body["message"]
    status, body = _error(lambda: _create(api, key="-no good-"))
    assert status == 400 and body["code"] == "invalid_request"


def test_bad_patches_are_refused_and_change_nothing(api: launchdarkly_api.ApiClient, server: ServerProcess) -> None:
    roles = CustomRolesApi(api)
    role = _create(api)
    bad_statement = {"effect": "allow", "resources": ["not a spec:"], "actions": ["*"]}
    for operations in (
        [PatchOperation(op="add", path="/policy/0", value=bad_statement)],
        [PatchOperation(op="replace", path="/key", value="other")],
        [PatchOperation(op="replace", path="/policy", value=[])],
        [PatchOperation(op="replace", path="/name", value="")],
    ):
        status, body = _error(lambda ops=operations: roles.patch_custom_role(role.key, PatchWithComment(patch=ops)))
        assert status == 400 and body["code"] == "invalid_request", body
    unchanged = roles.get_custom_role(role.key)
    assert unchanged.name == role.name and [s.to_dict() for s in unchanged.policy] == [PAYMENTS.to_dict()]
    assert [e["titleVerb"] for e in _audit(server, role.key)] == ["created"]
    status, body = _error(lambda: roles.patch_custom_role("nope", PatchWithComment(patch=[])))
    assert status == 404 and body["code"] == "not_found"
    status, _ = _error(lambda: roles.delete_custom_role("nope"))
    assert status == 404


def test_a_writer_may_read_roles_but_not_change_them(api: launchdarkly_api.ApiClient, server: ServerProcess) -> None:
    role = _create(api)
    writer = accounts.service_token(api, "writer")
    assert writer.token is not None
    with ldapi.client(server.url, writer.token) as client:
        roles = CustomRolesApi(client)
        assert roles.get_custom_role(role.key).key == role.key
        status, body = _error(lambda: roles.delete_custom_role(role.key))
        assert status == 403 and body["code"] == "forbidden"
        status, _ = _error(lambda: _create(client))
        assert status == 403


def test_a_merge_patch_changes_the_fields_it_names(server: ServerProcess, api: launchdarkly_api.ApiClient) -> None:
    role = _create(api, description="before")
    with httpx.Client(base_url=server.url, headers={"Authorization": server.admin_token}) as client:
        body = {"comment": "merge", "merge": {"description": "after", "basePermissions": "reader"}}
        response = client.patch(f"/api/v2/roles/{role.key}", json=body)
        assert response.status_code == 200, response.text
        bad = client.patch(f"/api/v2/roles/{role.key}", json={"merge": {"key": "renamed"}})
        assert bad.status_code == 400 and bad.json()["code"] == "invalid_request"
    patched = CustomRolesApi(api).get_custom_role(role.key)
    assert (patched.description, patched.base_permissions, patched.name) == ("after", "reader", role.name)
