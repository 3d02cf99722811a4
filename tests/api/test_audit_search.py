"""``POST /api/v2/auditlog`` (LaunchDarkly's ``postAuditLogEntries``) through the official client
(``AuditLogApi``): the entries one of whose accesses the statements allow, deny winning, with the
query's dates, text and limit; bad statements get LaunchDarkly's 400."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import launchdarkly_api
import pytest
from launchdarkly_api.api.audit_log_api import AuditLogApi
from launchdarkly_api.api.custom_roles_api import CustomRolesApi
from launchdarkly_api.models import CustomRolePost, StatementPost

from tests.support import ldapi
from tests.support.accounts import unique
from tests.support.server import ServerProcess


@pytest.fixture(scope="module")
def api(server: ServerProcess) -> Iterator[launchdarkly_api.ApiClient]:
    with ldapi.client(server.url, server.admin_token) as api_client:
        yield api_client


def _project_with_flags(server: ServerProcess, key: str, *flags: str) -> None:
    with httpx.Client(base_url=server.url, headers={"Authorization": server.admin_token}) as client:
        envs = [{"key": "production", "name": "Production", "color": "FF0000"}]
        assert client.post("/api/v2/projects", json={"key": key, "name": key, "environments": envs}).status_code == 201
        for flag in flags:
            assert client.post(f"/api/v2/flags/{key}", json={"key": flag, "name": flag}).status_code == 201


def _names(entries: launchdarkly_api.AuditLogEntryListingRepCollection) -> list[str]:
    return [e.name for e in entries.items]


def test_entries_are_chosen_by_statements_with_deny_winning(
    api: launchdarkly_api.ApiClient, server: ServerProcess
) -> None:
    shop, other = unique("shop"), unique("other")
    _project_with_flags(server, shop, "checkout", "cart")
    _project_with_flags(server, other, "search")
    audit = AuditLogApi(api)
    flags_of_shop = StatementPost(effect="allow", resources=[f"proj/{shop}:env/*:flag/*"], actions=["createFlag"])
    found = audit.post_audit_log_entries(statement_post=[flags_of_shop], limit=20)
    assert sorted(_names(found)) == ["cart", "checkout"]

    not_cart = StatementPost(effect="deny", resources=[f"proj/{shop}:env/*:flag/cart"], actions=["*"])
    assert _names(audit.post_audit_log_entries(statement_post=[flags_of_shop, not_cart], limit=20)) == ["checkout"]

    newest = audit.post_audit_log_entries(statement_post=[flags_of_shop], limit=1)
    assert _names(newest) == ["cart"] and newest.links["next"].href.startswith("/api/v2/auditlog?before=")
    older = audit.post_audit_log_entries(statement_post=[flags_of_shop], limit=1, before=newest.items[0].var_date)
    assert _names(older) == ["checkout"]
    assert _names(audit.post_audit_log_entries(statement_post=[flags_of_shop], q="checkout")) == ["checkout"]

    anything_else = StatementPost(effect="allow", not_resources=[f"proj/{shop}:env/*:flag/*"], actions=["createFlag"])
    assert "search" in _names(audit.post_audit_log_entries(statement_post=[anything_else], limit=20))


def test_role_changes_are_found_by_role_statements(api: launchdarkly_api.ApiClient) -> None:
    key = unique("role")
    statement = StatementPost(effect="allow", resources=["proj/*"], actions=["viewProject"])
    CustomRolesApi(api).post_custom_role(CustomRolePost(key=key, name="Finder", policy=[statement]))
    roles = StatementPost(effect="allow", resources=[f"role/{key}"], actions=["createRole"])
    assert _names(AuditLogApi(api).post_audit_log_entries(statement_post=[roles])) == ["Finder"]


def test_bad_statements_and_limits_are_refused(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url, headers={"Authorization": server.admin_token}) as client:
        bad = client.post("/api/v2/auditlog", json=[{"effect": "allow", "resources": ["proj/*:"], "actions": ["*"]}])
        assert bad.status_code == 400 and bad.json()["code"] == "invalid_request"
        neither = client.post("/api/v2/auditlog", json=[{"effect": "allow", "actions": ["*"]}])
        assert neither.status_code == 400
        too_many = client.post("/api/v2/auditlog", params={"limit": 21}, json=[])
        assert too_many.status_code == 400 and json.loads(too_many.text)["code"] == "invalid_request"
        everything = client.post("/api/v2/auditlog", params={"limit": 2}, json=[])
        assert everything.status_code == 200 and len(everything.json()["items"]) == 2
