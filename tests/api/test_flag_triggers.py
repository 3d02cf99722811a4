"""LaunchDarkly's flag triggers API driven by the official client (``FlagTriggersApi``), which deserializes
every answer, and the secret URL fired over plain HTTP against a real server (SQLite and PostgreSQL):
the URL is shown in full once, firing turns the flag on through the write path (SDK item, audit entry
naming the trigger), a disabled or cycled-away URL answers 404 like an unknown one, and in an
environment that requires approval only the bypass right sets a trigger up, which then acts without review."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import launchdarkly_api
import pytest
from launchdarkly_api.api.flag_triggers_api import FlagTriggersApi
from launchdarkly_api.models import FlagTriggerInput, TriggerPost

from tests.support import ldapi
from tests.support.accounts import unique
from tests.support.server import ServerProcess

pytestmark = pytest.mark.slow
FLAG = "kill-switch"


@pytest.fixture
def http(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers={"Authorization": server.admin_token}, timeout=30) as client:
        yield client


@pytest.fixture
def api(server: ServerProcess) -> Iterator[FlagTriggersApi]:
    with ldapi.client(server.url, server.admin_token) as api_client:
        yield FlagTriggersApi(api_client)


@pytest.fixture
def project(http: httpx.Client) -> str:
    key = unique("trig")
    envs = [
        {"key": "production", "name": "Production", "color": "FF0000"},
        {"key": "test", "name": "Test", "color": "00FF00"},
    ]
    assert http.post("/api/v2/projects", json={"key": key, "name": key, "environments": envs}).status_code == 201
    assert http.post(f"/api/v2/flags/{key}", json={"key": FLAG, "name": "Kill switch"}).status_code == 201
    return key


def is_on(http: httpx.Client, project: str, env: str) -> bool:
    on: bool = http.get(f"/api/v2/flags/{project}/{FLAG}").json()["environments"][env]["on"]
    return on


def writer_token(http: httpx.Client) -> str:
    response = http.post("/api/v2/tokens", json={"role": "writer", "serviceToken": True, "name": unique("w")})
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


def fire(url: str, body: Any = None) -> httpx.Response:
    return httpx.post(url, json=body if body is not None else {"alert": "p99 latency"}, timeout=30)


def test_create_list_get_and_fire_with_the_official_client(
    server: ServerProcess, http: httpx.Client, api: FlagTriggersApi, project: str
) -> None:
    post = TriggerPost(integration_key="generic-trigger", instructions=[{"kind": "turnFlagOn"}], comment="alert")
    created = api.create_trigger_workflow(project, "test", FLAG, post)
    assert created.enabled is True and created.integration_key == "generic-trigger"
    assert created.instructions == [{"kind": "turnFlagOn"}]
    assert created.trigger_count == 0 and created.last_triggered_at is None
    url = created.trigger_url
    assert url is not None and url.startswith(f"{server.url}/webhook/triggers/")
    secret = url.rsplit("/", 1)[1]
    assert len(secret) >= 40

    listed = api.get_trigger_workflows(project, "test", FLAG)
    assert [t.id for t in listed.items or []] == [created.id]
    shown = api.get_trigger_workflow_by_id(project, FLAG, "test", str(created.id))
    assert shown.trigger_url is not None and secret not in shown.trigger_url
    assert shown.trigger_url.endswith(secret[-4:])

    before = http.get(f"/api/v2/flags/{project}/{FLAG}").json()["environments"]["test"]["version"]
    response = fire(url)
    assert response.status_code == 200, response.text
    assert response.json() == {"acted": True, "triggerCount": 1}
    assert is_on(http, project, "test") and not is_on(http, project, "production")
    after = http.get(f"/api/v2/flags/{project}/{FLAG}").json()["environments"]["test"]["version"]
    assert after == before + 1

    fired = api.get_trigger_workflow_by_id(project, FLAG, "test", str(created.id))
    assert fired.trigger_count == 1 and fired.last_triggered_at is not None
    # Within the window a second call changes nothing and says so.
    assert fire(url).json() == {"acted": False, "triggerCount": 1}


def test_the_audit_entry_names_the_trigger(http: httpx.Client, api: FlagTriggersApi, project: str) -> None:
    created = api.create_trigger_workflow(
        project, "test", FLAG, TriggerPost(integration_key="datadog", instructions=[{"kind": "turnFlagOn"}])
    )
    assert fire(str(created.trigger_url)).status_code == 200
    entries = http.get("/api/v2/auditlog", params={"spec": f"proj/{project}:env/test:flag/{FLAG}"}).json()["items"]
    fired = next(e for e in entries if any(a["action"] == "updateOn" for a in e["accesses"]))
    detail = http.get(f"/api/v2/auditlog/{fired['_id']}").json()
    assert detail.get("member") is None
    assert created.id in detail["token"]["name"] and "datadog" in detail["token"]["name"]
    assert created.id in detail["comment"]
    made = next(e for e in entries if any(a["action"] == "createTriggers" for a in e["accesses"]))
    assert "secret" not in str(http.get(f"/api/v2/auditlog/{made['_id']}").json()).lower().replace("_", "")


def test_a_disabled_trigger_answers_like_an_unknown_one(api: FlagTriggersApi, project: str) -> None:
    created = api.create_trigger_workflow(
        project, "test", FLAG, TriggerPost(integration_key="generic-trigger", instructions=[{"kind": "turnFlagOn"}])
    )
    disabled = api.patch_trigger_workflow(
        project, "test", FLAG, str(created.id), FlagTriggerInput(instructions=[{"kind": "disableTrigger"}])
    )
    assert disabled.enabled is False and disabled.version == 2
    refused, unknown = fire(str(created.trigger_url)), fire(f"{created.trigger_url}x")
    assert refused.status_code == unknown.status_code == 404
    same = ("code", "message")
    assert [refused.json()[k] for k in same] == [unknown.json()[k] for k in same]
    enabled = api.patch_trigger_workflow(
        project, "test", FLAG, str(created.id), FlagTriggerInput(instructions=[{"kind": "enableTrigger"}])
    )
    assert enabled.enabled is True
    assert fire(str(created.trigger_url)).json()["acted"] is True


def test_cycling_the_url_invalidates_the_old_one(http: httpx.Client, api: FlagTriggersApi, project: str) -> None:
    created = api.create_trigger_workflow(
        project, "test", FLAG, TriggerPost(integration_key="generic-trigger", instructions=[{"kind": "turnFlagOn"}])
    )
    cycled = api.patch_trigger_workflow(
        project, "test", FLAG, str(created.id), FlagTriggerInput(instructions=[{"kind": "cycleTriggerUrl"}])
    )
    assert cycled.trigger_url != created.trigger_url and "*" not in str(cycled.trigger_url)
    assert fire(str(created.trigger_url)).status_code == 404
    assert not is_on(http, project, "test")
    assert fire(str(cycled.trigger_url)).json() == {"acted": True, "triggerCount": 1}
    assert is_on(http, project, "test")


def test_replacing_the_action_and_deleting(http: httpx.Client, api: FlagTriggersApi, project: str) -> None:
    created = api.create_trigger_workflow(
        project, "test", FLAG, TriggerPost(integration_key="generic-trigger", instructions=[{"kind": "turnFlagOn"}])
    )
    replace = {"kind": "replaceTriggerActionInstructions", "value": [{"kind": "turnFlagOff"}]}
    comment = {"kind": "updateTriggerComment", "value": "pages on-call"}
    patched = api.patch_trigger_workflow(
        project, "test", FLAG, str(created.id), FlagTriggerInput(instructions=[replace, comment])
    )
    assert patched.instructions == [{"kind": "turnFlagOff"}]
    api.delete_trigger_workflow(project, "test", FLAG, str(created.id))
    assert fire(str(created.trigger_url)).status_code == 404
    with pytest.raises(launchdarkly_api.ApiException) as missing:
        api.get_trigger_workflow_by_id(project, FLAG, "test", str(created.id))
    assert missing.value.status == 404


@pytest.mark.parametrize(
    "body",
    [
        {"integrationKey": "generic-trigger"},
        {"integrationKey": "generic-trigger", "instructions": [{"kind": "updateFallthroughVariationOrRollout"}]},
        {"integrationKey": "generic-trigger", "instructions": [{"kind": "turnFlagOn"}, {"kind": "turnFlagOff"}]},
        {"integrationKey": "", "instructions": [{"kind": "turnFlagOn"}]},
        {"instructions": [{"kind": "turnFlagOn"}]},
    ],
)
def test_bad_triggers_are_refused_with_400(http: httpx.Client, project: str, body: dict[str, Any]) -> None:
    response = http.post(f"/api/v2/flags/{project}/{FLAG}/triggers/test", json=body)
    assert response.status_code == 400 and response.json()["code"] == "invalid_request", response.text


def test_unknown_keys_answer_404(http: httpx.Client, project: str) -> None:
    assert http.get(f"/api/v2/flags/{project}/nope/triggers/test").status_code == 404
    assert http.get(f"/api/v2/flags/{project}/{FLAG}/triggers/nope").status_code == 404
    assert http.get(f"/api/v2/flags/{project}/{FLAG}/triggers/test/{'0' * 24}").status_code == 404


def test_where_approval_is_required_only_the_bypass_right_sets_a_trigger_up(http: httpx.Client, project: str) -> None:
    settings = {"required": True, "minNumApprovals": 1}
    patch = [{"op": "replace", "path": "/approvalSettings", "value": settings}]
    assert http.patch(f"/api/v2/projects/{project}/environments/production", json=patch).is_success
    writer = httpx.Client(base_url=str(http.base_url), headers={"Authorization": writer_token(http)}, timeout=30)
    path = f"/api/v2/flags/{project}/{FLAG}/triggers/production"
    body = {"integrationKey": "generic-trigger", "instructions": [{"kind": "turnFlagOn"}]}

    refused = writer.post(path, json=body)
    assert refused.status_code == 405, refused.text
    message = "Flag configuration updates require approval: action 'createTriggers' not allowed. "
    assert refused.json()["message"].startswith(message) and "addTrigger" in refused.json()["message"]
    assert writer.post(f"/api/v2/flags/{project}/{FLAG}/triggers/test", json=body).status_code == 201

    created = http.post(path, json=body)  # the admin may bypass approval: the trigger is pre-approved
    assert created.status_code == 201, created.text
    trigger = created.json()
    item = f"{path}/{trigger['_id']}"
    assert writer.patch(item, json={"instructions": [{"kind": "disableTrigger"}]}).status_code == 200
    enable = writer.patch(item, json={"instructions": [{"kind": "enableTrigger"}]})
    assert enable.status_code == 405, enable.text
    swap = {"kind": "replaceTriggerActionInstructions", "value": [{"kind": "turnFlagOff"}]}
    assert writer.patch(item, json={"instructions": [swap]}).status_code == 200  # disabled: it cannot act
    assert http.patch(item, json={"instructions": [{"kind": "enableTrigger"}, swap]}).status_code == 200

    # Firing acts without review, and opens no door for anyone else.
    on = {"environmentKey": "production", "instructions": [{"kind": "turnFlagOn"}]}
    semantic = {"Content-Type": "application/json; domain-model=launchdarkly.semanticpatch"}
    assert http.patch(f"/api/v2/flags/{project}/{FLAG}", json=on, headers=semantic).status_code == 200
    assert is_on(http, project, "production")
    assert fire(trigger["triggerURL"]).json() == {"acted": True, "triggerCount": 1}
    assert not is_on(http, project, "production")
    direct = writer.patch(f"/api/v2/flags/{project}/{FLAG}", json=on, headers=semantic)
    assert direct.status_code == 405
    writer.close()


def test_deleting_the_flag_deletes_its_triggers(http: httpx.Client, api: FlagTriggersApi, project: str) -> None:
    created = api.create_trigger_workflow(
        project, "test", FLAG, TriggerPost(integration_key="generic-trigger", instructions=[{"kind": "turnFlagOn"}])
    )
    assert http.delete(f"/api/v2/flags/{project}/{FLAG}").status_code == 204
    assert http.post(f"/api/v2/flags/{project}", json={"key": FLAG, "name": "Again"}).status_code == 201
    assert api.get_trigger_workflows(project, "test", FLAG).items == []
    assert fire(str(created.trigger_url)).status_code == 404
    assert not is_on(http, project, "test")


def test_past_the_address_limit_firing_answers_429(tmp_path: Path) -> None:
    limits = {"FLAGWARD_TRIGGER_ADDRESS_RATE_LIMIT": "2"}
    with ServerProcess(database_url=f"sqlite:///{tmp_path / 'limits.db'}", workdir=tmp_path, extra_env=limits) as one:
        url = f"{one.url}/webhook/triggers/guess"
        assert [fire(url).status_code for _ in range(2)] == [404, 404]
        limited = fire(url)
    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited" and int(limited.headers["Retry-After"]) > 0


def test_a_semantic_patch_content_type_is_accepted_and_its_comment_audited(
    http: httpx.Client, api: FlagTriggersApi, project: str
) -> None:
    created = api.create_trigger_workflow(
        project, "test", FLAG, TriggerPost(integration_key="generic-trigger", instructions=[{"kind": "turnFlagOn"}])
    )
    semantic = {"Content-Type": "application/json; domain-model=launchdarkly.semanticpatch"}
    body = {"comment": "quiet during the migration", "instructions": [{"kind": "disableTrigger"}]}
    path = f"/api/v2/flags/{project}/{FLAG}/triggers/test/{created.id}"
    response = http.patch(path, content=json.dumps(body), headers=semantic)
    assert response.status_code == 200 and response.json()["enabled"] is False, response.text
    entries = http.get("/api/v2/auditlog", params={"spec": f"proj/{project}:env/test:flag/{FLAG}"}).json()["items"]
    updated = next(e for e in entries if any(a["action"] == "updateTriggers" for a in e["accesses"]))
    assert http.get(f"/api/v2/auditlog/{updated['_id']}").json()["comment"] == "quiet during the migration"
    assert http.patch(path, json=[{"op": "replace"}]).status_code == 400
