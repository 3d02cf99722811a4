"""LaunchDarkly's webhooks API driven by the official client (``WebhooksApi``), and deliveries from a
real server process to a real HTTP receiver in the test: the body is the audit-log entry as
``GET /api/v2/auditlog/{id}`` shows it, signed (``X-LD-Signature``) when asked, retried after
failures, in order per webhook, filtered by the webhook's statements; the delivery log tells it all.

The module's server allows private addresses (the receiver is on 127.0.0.1) and retries quickly; the
refusal of private addresses is tested against a server with the default setting."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import launchdarkly_api
import pytest
from launchdarkly_api.api.webhooks_api import WebhooksApi
from launchdarkly_api.models import PatchOperation, StatementPost, WebhookPost

from tests.support import accounts, ldapi
from tests.support.accounts import unique
from tests.support.receiver import receiving
from tests.support.server import ServerProcess

pytestmark = pytest.mark.slow

FAST_RETRIES = {
    "FLAGWARD_WEBHOOK_ALLOW_PRIVATE": "1",
    "FLAGWARD_DELIVERY_RETRY_BASE_SECONDS": "0.05",
    "FLAGWARD_DELIVERY_MAX_ATTEMPTS": "4",
    "FLAGWARD_DELIVERY_POLL_SECONDS": "0.2",
}


@pytest.fixture(scope="module")
def hooked(module_store_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp("webhooks")
    with ServerProcess(database_url=module_store_url, workdir=workdir, extra_env=FAST_RETRIES) as process:
        yield process


def admin_api(server: ServerProcess) -> WebhooksApi:
    return WebhooksApi(ldapi.client(server.url, server.admin_token))


def http(server: ServerProcess) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": server.admin_token}, timeout=10)


def project(server: ServerProcess, key: str) -> None:
    env = {"key": "production", "name": "Production", "color": "FF0000"}
    test = {"key": "test", "name": "Test", "color": "00FF00"}
    body = {"key": key, "name": key, "environments": [env, test]}
    with http(server) as client:
        assert client.post("/api/v2/projects", json=body).status_code == 201


def toggle(server: ServerProcess, key: str, flag: str, env: str, on: bool) -> None:
    body = {"environmentKey": env, "instructions": [{"kind": "turnFlagOn" if on else "turnFlagOff"}]}
    headers = {"Content-Type": "application/json; domain-model=launchdarkly.semanticpatch"}
    with http(server) as client:
        response = client.patch(f"/api/v2/flags/{key}/{flag}", json=body, headers=headers)
        assert response.status_code == 200, response.text


def create_flag(server: ServerProcess, key: str, flag: str) -> None:
    with http(server) as client:
        assert client.post(f"/api/v2/flags/{key}", json={"key": flag, "name": flag}).status_code == 201


def only(key: str) -> list[StatementPost]:
    """Statements that keep a test's webhook to its own project (the module's server is shared)."""
    resources = [f"proj/{key}", f"proj/{key}:env/*", f"proj/{key}:env/*:flag/*"]
    return [StatementPost(effect="allow", resources=resources, actions=["*"])]


def deliveries(server: ServerProcess, webhook_id: str) -> list[dict[str, Any]]:
    with http(server) as client:
        response = client.get(f"/api/v2/webhooks/{webhook_id}/deliveries", params={"limit": 50})
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def test_the_official_client_creates_reads_patches_and_deletes_webhooks(hooked: ServerProcess) -> None:
    api = admin_api(hooked)
    post = WebhookPost(
        url="https://hooks.example.com/ld",
        sign=True,
        on=True,
        name="Example hook",
        tags=["examples"],
        statements=[StatementPost(effect="allow", resources=["proj/*:env/production:flag/*"], actions=["*"])],
    )
    created = api.post_webhook(post)
    assert (created.name, created.url, created.on, created.tags) == ("Example hook", post.url, True, ["examples"])
    assert created.secret and len(created.secret) >= 32  # signed without a secret: one is made
    assert created.statements[0].resources == ["proj/*:env/production:flag/*"]
    assert created.links["self"].href == f"/api/v2/webhooks/{created.id}"
    assert created.id in [w.id for w in api.get_all_webhooks().items]
    patched = api.patch_webhook(
        created.id,
        [
            PatchOperation(op="replace", path="/on", value=False),
            PatchOperation(op="replace", path="/name", value="Renamed"),
        ],
    )
    assert (patched.on, patched.name) == (False, "Renamed")
    assert api.get_webhook(created.id).name == "Renamed"
    api.delete_webhook(created.id)
    with pytest.raises(launchdarkly_api.ApiException) as gone:
        api.get_webhook(created.id)
    assert gone.value.status == 404
    with http(hooked) as client:
        entries = client.get("/api/v2/auditlog", params={"spec": f"webhook/{created.id}", "limit": 10}).json()
    actions = [[a["action"] for a in e["accesses"]] for e in entries["items"]]
    assert actions == [["deleteWebhook"], ["updateName", "updateOn"], ["createWebhook"]]
    assert created.secret not in str(entries)


def test_writers_cannot_manage_webhooks_and_readers_see_no_secret(hooked: ServerProcess) -> None:
    admin = ldapi.client(hooked.url, hooked.admin_token)
    created = WebhooksApi(admin).post_webhook(WebhookPost(url="https://h.example.com/", sign=True, on=True))
    writer = accounts.service_token(admin, "writer").token
    reader = accounts.service_token(admin, "reader").token
    with pytest.raises(launchdarkly_api.ApiException) as refused:
        WebhooksApi(ldapi.client(hooked.url, writer)).post_webhook(
            WebhookPost(url="https://x.example/", sign=False, on=True)
        )
    assert refused.value.status == 403
    seen = WebhooksApi(ldapi.client(hooked.url, reader)).get_webhook(created.id)
    assert seen.url == created.url and seen.secret is None
    assert all(w.secret is None for w in WebhooksApi(ldapi.client(hooked.url, reader)).get_all_webhooks().items)
    admin_api(hooked).delete_webhook(created.id)


def test_a_delivery_is_the_audit_entry_signed_with_the_secret(hooked: ServerProcess) -> None:
    key = unique("signed")
    with receiving() as receiver:
        hook = admin_api(hooked).post_webhook(
            WebhookPost(url=receiver.url, sign=True, secret="frobozz", on=True, statements=only(key))
        )
        project(hooked, key)
        (got,) = receiver.wait_for(1)
        assert got.signed_with("frobozz")
        assert got.headers["content-type"] == "application/json"
        with http(hooked) as client:
            entry = client.get(f"/api/v2/auditlog/{got.json()['_id']}").json()
        assert got.json() == entry
        assert entry["kind"] == "project" and entry["name"] == key
        (logged,) = deliveries(hooked, hook.id)
        assert logged["_id"] == got.headers["x-flagward-delivery"]
        assert (logged["entryId"], logged["status"], logged["attempts"], logged["responseCode"]) == (
            entry["_id"],
            "sent",
            1,
            200,
        )
        admin_api(hooked).delete_webhook(hook.id)


def test_an_unsigned_webhook_sends_no_signature(hooked: ServerProcess) -> None:
    key = unique("unsigned")
    with receiving() as receiver:
        hook = admin_api(hooked).post_webhook(WebhookPost(url=receiver.url, sign=False, on=True, statements=only(key)))
        project(hooked, key)
        (got,) = receiver.wait_for(1)
        assert "x-ld-signature" not in got.headers
        admin_api(hooked).delete_webhook(hook.id)


def test_a_receiver_failing_twice_gets_three_attempts_and_one_success(hooked: ServerProcess) -> None:
    key = unique("flaky")
    with receiving(fail_first=2) as receiver:
        hook = admin_api(hooked).post_webhook(
            WebhookPost(url=receiver.url, sign=True, secret="s3cret", on=True, statements=only(key))
        )
        project(hooked, key)
        (got,) = receiver.wait_for(1)
        assert len(receiver.requests) == 3
        assert len({r.headers["x-flagward-delivery"] for r in receiver.requests}) == 1  # one id, every attempt
        assert all(r.body == got.body and r.signed_with("s3cret") for r in receiver.requests)
        (logged,) = deliveries(hooked, hook.id)
        assert (logged["status"], logged["attempts"], logged["responseCode"]) == ("sent", 3, 200)
        assert "HTTP 500" in logged["lastError"]
        admin_api(hooked).delete_webhook(hook.id)


def test_deliveries_keep_the_order_of_the_entries(hooked: ServerProcess) -> None:
    key = unique("order")
    project(hooked, key)
    create_flag(hooked, key, "f")
    with receiving(fail_first=1) as receiver:  # the first delivery's retry must hold back the others
        hook = admin_api(hooked).post_webhook(WebhookPost(url=receiver.url, sign=False, on=True, statements=only(key)))
        for i in range(10):
            toggle(hooked, key, "f", "production", on=i % 2 == 0)
        got = receiver.wait_for(10)
        with http(hooked) as client:
            entries = client.get("/api/v2/auditlog", params={"spec": f"proj/{key}:env/*:flag/*", "limit": 10}).json()
        expected = [e["_id"] for e in reversed(entries["items"])]
        assert [r.json()["_id"] for r in got] == expected
        assert [r.json()["date"] for r in got] == sorted(r.json()["date"] for r in got)
        admin_api(hooked).delete_webhook(hook.id)


def test_statements_choose_which_entries_are_delivered(hooked: ServerProcess) -> None:
    key, other = unique("filtered"), unique("elsewhere")
    statements = [
        StatementPost(effect="allow", resources=[f"proj/{key}:env/*:flag/*"], actions=["updateOn"]),
        StatementPost(effect="deny", resources=[f"proj/{key}:env/test:flag/*"], actions=["*"]),
    ]
    with receiving() as receiver:
        hook = admin_api(hooked).post_webhook(WebhookPost(url=receiver.url, sign=False, on=True, statements=statements))
        for k in (key, other):
            project(hooked, k)
            create_flag(hooked, k, "f")
            toggle(hooked, k, "f", "test", on=True)
            toggle(hooked, k, "f", "production", on=True)
        (got,) = receiver.wait_for(1)
        body = got.json()
        assert body["accesses"] == [{"action": "updateOn", "resource": f"proj/{key}:env/production:flag/f"}]
        assert len(deliveries(hooked, hook.id)) == 1
        admin_api(hooked).delete_webhook(hook.id)


def test_private_addresses_are_refused_by_default(tmp_path: Path, store_url: str) -> None:
    with ServerProcess(database_url=store_url, workdir=tmp_path) as server, receiving() as receiver:
        api = admin_api(server)
        for url in (
            receiver.url,
            "http://localhost:5432/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::ffff:10.0.0.1]/",
            "http://[fd12::1]/",
        ):
            with pytest.raises(launchdarkly_api.ApiException) as refused:
                api.post_webhook(WebhookPost(url=url, sign=False, on=True))
            assert refused.value.status == 400, url
            assert "may not reach" in refused.value.body
        assert api.get_all_webhooks().items == []
