"""The members' e-mail switch (``emailNotifications``, flagward's own field on LaunchDarkly's member) and
the in-app notifications API's edges; the notifications themselves are tested in
``tests/integration/test_delivery_processes.py`` and ``tests/unit/services/test_notify.py``."""

from __future__ import annotations

import httpx
from launchdarkly_api.api.account_members_api import AccountMembersApi

from tests.support import accounts, ldapi
from tests.support.server import ServerProcess


def _patch(server: ServerProcess, member_id: str, ops: list[dict[str, object]], **client: object) -> httpx.Response:
    return httpx.patch(f"{server.url}/api/v2/members/{member_id}", json=ops, **client)  # type: ignore[arg-type]


def test_the_email_switch_is_on_by_default_and_the_official_client_reads_the_member(server: ServerProcess) -> None:
    admin = ldapi.client(server.url, server.admin_token)
    member = accounts.invite(admin, "writer", password=None)
    raw = httpx.get(f"{server.url}/api/v2/members/{member.id}", headers={"Authorization": server.admin_token})
    assert raw.json()["emailNotifications"] is True
    off = [{"op": "replace", "path": "/emailNotifications", "value": False}]
    patched = _patch(server, member.id, off, headers={"Authorization": server.admin_token})
    assert patched.status_code == 200 and patched.json()["emailNotifications"] is False
    assert AccountMembersApi(admin).get_member(member.id).email == member.email


def test_members_turn_their_own_email_off_but_change_nothing_else_of_theirs(server: ServerProcess) -> None:
    admin = ldapi.client(server.url, server.admin_token)
    me = accounts.account(admin, server.url, "reader")
    mine = {"cookies": {accounts.SESSION_COOKIE: me.session}, "headers": {"Origin": server.url}}
    off = [{"op": "replace", "path": "/emailNotifications", "value": False}]
    response = _patch(server, me.id, off, **mine)
    assert response.status_code == 200 and response.json()["emailNotifications"] is False
    promote = [{"op": "replace", "path": "/role", "value": "admin"}]
    assert _patch(server, me.id, promote, **mine).status_code == 403
    other = accounts.invite(admin, "writer", password=None)
    assert _patch(server, other.id, off, **mine).status_code == 403
    wrong = [{"op": "replace", "path": "/emailNotifications", "value": "no"}]
    assert _patch(server, me.id, wrong, **mine).status_code == 400


def test_a_token_without_a_member_has_no_notifications(server: ServerProcess) -> None:
    headers = {"Authorization": server.admin_token}
    listing = httpx.get(f"{server.url}/api/v2/notifications", headers=headers)
    assert listing.status_code == 200
    body = listing.json()
    assert (body["items"], body["totalCount"], body["unreadCount"]) == ([], 0, 0)
    marked = httpx.post(f"{server.url}/api/v2/notifications/read", json={"ids": ["x"]}, headers=headers)
    assert marked.json() == {"marked": 0, "unreadCount": 0}
    bad = httpx.post(f"{server.url}/api/v2/notifications/read", json={"ids": "all"}, headers=headers)
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_request"
