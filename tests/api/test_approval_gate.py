"""The approval gate judges effects, not routes: where an environment requires approval for a flag
(``approvalSettings.required``, or ``requiredApprovalTags`` meeting its tags before or after the change),
a writer's change is refused with 405 when it would change what SDKs are served there (the flag's SDK
item, versions and dates aside, absence included) or end the requirement; owners and admins bypass.

``test_every_mutating_route_is_gated_or_allowed_with_a_reason`` walks every mutating route of the app:
each is either gated (and probed here) or in ``ALLOWED`` with the reason it cannot go around the gate,
so a route added later without a decision fails it. (Every flag write also goes through one service
function, ``flagward.services.flag_gate.check_flag_write``: see tests/unit/services.)
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from flagward.config import Settings
from flagward.http.app import create_app
from tests.fakes import fake_deps
from tests.support.accounts import unique
from tests.support.recording import Recorder
from tests.support.server import ServerProcess

pytestmark = pytest.mark.usefixtures("conforms")

SEMANTIC = "application/json; domain-model=launchdarkly.semanticpatch"
MESSAGE = "Flag configuration updates require approval: action '{}' not allowed"
FLAG = "/api/v2/flags/{projectKey}/{featureFlagKey}"
COPY = FLAG + "/copy"
APPROVALS = "/api/v2/projects/{projectKey}/flags/{featureFlagKey}/environments/{environmentKey}/approval-requests"
TRIGGERS = FLAG + "/triggers/{environmentKey}"
WORKFLOWS = "/api/v2/projects/{projectKey}/flags/{featureFlagKey}/environments/{environmentKey}/workflows"
PROPOSES = "proposes or reviews an approval request; nothing changes until it is applied"
ACCOUNTS = "accounts and credentials; no flag configuration"
SCHEDULED = APPROVALS.replace("/approval-requests", "/scheduled-changes")
SCHEDULES = (
    "schedules a change, changing nothing now: refused (405) where approval is required unless one may bypass it "
    "(tests/api/test_scheduled_changes.py); it executes through check_flag_write"
)
ROLES = "custom roles and their assignments: who may act, never what SDKs are served"

# Routes that can change what SDKs are served for a flag and must refuse to in a gated environment,
# with the action the walk below expects them to name.
GATED = {
    ("PATCH", FLAG): "updateOn",
    ("POST", COPY): "updateOn",
    ("DELETE", FLAG): "deleteFlag",
    ("POST", "/api/v2/flags/{projectKey}"): "createFlag",
    ("PATCH", FLAG + "/expiring-targets/{environmentKey}"): "updateExpiringTargets",
}

# Every other mutating route, with the reason it cannot change a configuration past the gate.
ALLOWED = {
    ("POST", "/auth/login"): "starts a session",
    ("POST", "/auth/logout"): "ends a session",
    ("POST", "/api/v2/projects"): "a new project: no flag exists in it yet",
    ("PATCH", "/api/v2/projects/{projectKey}"): "project name, tags and defaults; no flag configuration",
    ("DELETE", "/api/v2/projects/{projectKey}"): "deleting is not gated (as in LaunchDarkly); admins only",
    ("POST", "/api/v2/projects/{projectKey}/environments"): "a new environment: no configuration in it is gated yet",
    ("PATCH", "/api/v2/projects/{projectKey}/environments/{environmentKey}"): "environment settings; admins only",
    ("DELETE", "/api/v2/projects/{projectKey}/environments/{environmentKey}"): "deleting is not gated; admins only",
    ("POST", "/api/v2/projects/{projectKey}/environments/{environmentKey}/apiKey"): "resets a credential",
    ("POST", "/api/v2/projects/{projectKey}/environments/{environmentKey}/mobileKey"): "resets a credential",
    ("POST", "/api/v2/segments/{projectKey}/{environmentKey}"): "a new segment: no flag uses it yet",
    ("PATCH", "/api/v2/segments/{projectKey}/{environmentKey}/{segmentKey}"): "segments: their own approval settings",
    ("DELETE", "/api/v2/segments/{projectKey}/{environmentKey}/{segmentKey}"): "segments: their own approval settings",
    ("POST", APPROVALS): PROPOSES,
    ("POST", APPROVALS + "-flag-copy"): PROPOSES,
    ("DELETE", APPROVALS + "/{id}"): PROPOSES,
    ("PATCH", APPROVALS + "/{id}"): PROPOSES,
    ("POST", APPROVALS + "/{id}/reviews"): PROPOSES,
    ("POST", APPROVALS + "/{id}/apply"): "applies an approved request: the approval the gate asks for",
    ("POST", "/api/v2/approval-requests"): PROPOSES,
    ("PATCH", "/api/v2/approval-requests/projects/{projectKey}/settings"): "approval settings of a project",
    ("DELETE", "/api/v2/approval-requests/{id}"): PROPOSES,
    ("PATCH", "/api/v2/approval-requests/{id}"): PROPOSES,
    ("POST", "/api/v2/approval-requests/{id}/reviews"): PROPOSES,
    ("POST", "/api/v2/approval-requests/{id}/apply"): "applies an approved request: the approval the gate asks for",
    ("POST", "/api/v2/members"): ACCOUNTS,
    ("PATCH", "/api/v2/members/{id}"): ACCOUNTS,
    ("DELETE", "/api/v2/members/{id}"): ACCOUNTS,
    ("POST", "/api/v2/teams"): ACCOUNTS,
    ("PATCH", "/api/v2/teams/{teamKey}"): ACCOUNTS,
    ("DELETE", "/api/v2/teams/{teamKey}"): ACCOUNTS,
    ("POST", "/api/v2/teams/{teamKey}/members"): ACCOUNTS,
    ("POST", "/api/v2/tokens"): ACCOUNTS,
    ("PATCH", "/api/v2/tokens/{id}"): ACCOUNTS,
    ("DELETE", "/api/v2/tokens/{id}"): ACCOUNTS,
    ("POST", "/api/v2/tokens/{id}/reset"): ACCOUNTS,
    ("POST", "/api/v2/roles"): ROLES,
    ("PATCH", "/api/v2/roles/{customRoleKey}"): ROLES,
    ("DELETE", "/api/v2/roles/{customRoleKey}"): ROLES,
    ("PATCH", "/api/v2/members"): ROLES,
    ("POST", "/api/v2/auditlog"): "searches the audit log; reads only",
    ("POST", "/api/v2/members/{id}/teams"): ACCOUNTS,
    ("POST", "/api/v2/projects/{projectKey}/environments/{environmentKey}/flags/evaluate"): "evaluates; reads only",
    ("POST", "/bulk"): "SDK analytics events: evaluation counts, never configuration",
    ("POST", "/diagnostic"): "SDK diagnostics",
    ("POST", "/mobile"): "SDK analytics events",
    ("POST", "/mobile/events"): "SDK analytics events",
    ("POST", "/mobile/events/bulk"): "SDK analytics events",
    ("POST", "/mobile/events/diagnostic"): "SDK diagnostics",
    ("POST", "/events/bulk/{envId}"): "SDK analytics events",
    ("POST", "/events/diagnostic/{envId}"): "SDK diagnostics",
    ("POST", "/api/v2/notifications/read"): "marks the caller's own notifications read",
    ("POST", "/api/v2/projects/{projectKey}/import"): (
        "admins only ('importFlags'); each flag it writes goes through check_flag_write (the gate refuses it in "
        "an environment that requires approval unless the caller may bypass), segments through their own gate"
    ),
    ("POST", "/api/v2/webhooks"): "webhooks: where audit entries are delivered; no flag configuration",
    ("PATCH", "/api/v2/webhooks/{id}"): "webhooks: where audit entries are delivered; no flag configuration",
    ("DELETE", "/api/v2/webhooks/{id}"): "webhooks: where audit entries are delivered; no flag configuration",
    ("POST", SCHEDULED): SCHEDULES,
    ("PATCH", SCHEDULED + "/{id}"): SCHEDULES,
    ("DELETE", SCHEDULED + "/{id}"): SCHEDULES,
    ("PATCH", "/api/v2/segments/{projectKey}/{segmentKey}/expiring-targets/{environmentKey}"): (
        "segments: their own approval settings (403 where required; removal at the date goes through "
        "commit_segment_change)"
    ),
    ("POST", "/api/v2/approval-requests/{id}/integration-callback"): (
        "an external approval service's signed review; with autoApplyApprovedChanges it applies an approved "
        "request through the apply service (and gate) of POST .../apply"
    ),
    # The console's forms need a signed-in session and a CSRF token (the walk's token gets neither) and call
    # the services the REST routes above call, so the gate that judges those judges these: the browser
    # tests (tests/browser/) show a writer's change in production becoming an approval request.
    ("POST", "/sign-in"): "starts a console session",
    ("POST", "/sign-out"): "ends a console session",
    ("POST", "/approvals/{request_id}/apply"): "console: the service of POST .../approval-requests/{id}/apply",
    ("POST", "/approvals/{request_id}/delete"): "console: " + PROPOSES,
    ("POST", "/approvals/{request_id}/review"): "console: " + PROPOSES,
    ("POST", "/compare/copy"): "console: the service of POST /api/v2/flags/{p}/{f}/copy, gated there",
    ("POST", "/compare/request"): "console: " + PROPOSES,
    ("POST", "/projects/{project_key}/flags/{flag_key}/change"): "console: update_flag (the PATCH's service), gated",
    ("POST", "/projects/{project_key}/flags/{flag_key}/request"): "console: " + PROPOSES,
    ("POST", "/projects/{project_key}/settings/{env_key}/approvals"): "console: environment settings; admins only",
    ("POST", "/projects/new"): "console: create_project (POST /api/v2/projects's service); no flag exists in it yet",
    ("POST", "/projects/{project_key}/settings/new-environment"): "console: create_environment; nothing gated yet",
    # create_flag is GATED above as POST /api/v2/flags/{projectKey}: this form calls it, so the gate judges it
    # (and the form cannot turn the flag on: it is created off, which serves the same everywhere).
    ("POST", "/projects/{project_key}/new-flag"): "console: create_flag, which the approval gate judges",
    ("POST", "/members/invite"): "console: " + ACCOUNTS + " (POST /api/v2/members's service, and a one-time link)",
    ("POST", "/members/{member_id}/role"): "console: " + ACCOUNTS + " (PATCH /api/v2/members/{id}'s service)",
    ("POST", "/members/{member_id}/link"): "console: " + ACCOUNTS + " (a new one-time password link)",
    ("POST", "/invitations/{token}"): "console: " + ACCOUNTS + " (sets a password with a one-time link)",
    ("POST", "/notifications/read"): "console: the service of POST /api/v2/notifications/read (the caller's own)",
    ("POST", "/projects/{project_key}/import"): (
        "console: the service of POST /api/v2/projects/{p}/import ('importFlags'); each flag through check_flag_write"
    ),
    # Flag triggers: setting one up (creating it, changing its action, enabling it) where approval is required
    # needs the bypass right (405 otherwise, tests/api/test_flag_triggers.py) or an approved request carrying
    # addTrigger / enableTrigger / replaceTriggerActionInstructions (tests/api/test_flag_trigger_requests.py);
    # firing it then acts without review.
    (
        "POST",
        TRIGGERS,
    ): "sets up a pre-approved trigger: refused (405) without the bypass right where approval is required",
    ("PATCH", TRIGGERS + "/{id}"): "enabling or changing a trigger's action: refused (405) like creating it",
    ("DELETE", TRIGGERS + "/{id}"): "removes an automation; no flag configuration",
    ("POST", "/webhook/triggers/{secret}"): (
        "fires a trigger: its own action (on/off in its environment) passes the gate as PreApproved if the trigger "
        "was set up with approval (else the gate judges it: 405 where approval is now required), which no other "
        "route passes (tests/unit/services/test_trigger_pre_approval.py); a wrong secret is 404"
    ),
    ("POST", WORKFLOWS): (
        "creating a workflow changes no flag; each stage is applied later by the scheduler, through the gate: a "
        "stage with an approval condition by executing its approved request, one without as the server, which never "
        "bypasses (a stage where approval is required must have an approval condition: tests/api/test_workflows.py)"
    ),
    ("DELETE", WORKFLOWS + "/{workflowId}"): "deletes a workflow and its stage's pending approval request; no change",
    ("POST", "/api/v2/templates"): "a template of stages; no flag configuration (workflows made from it are gated)",
    ("DELETE", "/api/v2/templates/{templateKey}"): "deletes a template of stages; no flag configuration",
}
_READS = {"GET", "HEAD", "OPTIONS", "REPORT"}  # REPORT: SDK polling with the context in the body


def _leaves(routes: Iterable[Any]) -> Iterator[Any]:
    """Every endpoint under ``routes``, through included routers and mounts."""
    for route in routes:
        if hasattr(route, "original_router"):  # FastAPI's lazily included router
            yield from _leaves(route.original_router.routes)
        elif hasattr(route, "routes"):
            yield from _leaves(route.routes)
        else:
            yield route


def mutating_routes() -> set[tuple[str, str]]:
    """(METHOD, path) of every route of the app that is not a read, in or out of the OpenAPI document."""
    deps, _, _ = fake_deps()
    app = create_app(Settings(database_url="sqlite://"), deps)
    return {
        (method, route.path)
        for route in _leaves(app.routes)
        for method in getattr(route, "methods", None) or ()
        if method not in _READS
    }


@dataclass
class Callers:
    owner: httpx.Client
    admin: httpx.Client
    writer: httpx.Client
    reader: httpx.Client


@pytest.fixture(scope="module")
def callers(server: ServerProcess, recorder: Recorder) -> Iterator[Callers]:
    def client(token: str) -> httpx.Client:
        return httpx.Client(
            base_url=server.url, headers={"Authorization": token}, event_hooks={"response": [recorder.httpx_hook]}
        )

    with client(server.admin_token) as owner:
        tokens = {
            role: owner.post("/api/v2/tokens", json={"name": unique(role), "role": role}).json()["token"]
            for role in ("admin", "writer", "reader")
        }
        with client(tokens["admin"]) as admin, client(tokens["writer"]) as writer, client(tokens["reader"]) as reader:
            yield Callers(owner, admin, writer, reader)


@pytest.fixture
def project(callers: Callers) -> str:
    """production requires approval for every flag; test for flags tagged ``gated``."""
    key = unique("gate")
    owner = callers.owner
    assert owner.post("/api/v2/projects", json={"key": key, "name": key}).status_code == 201
    settings = {
        "production": [{"op": "replace", "path": "/approvalSettings/required", "value": True}],
        "test": [{"op": "replace", "path": "/approvalSettings/requiredApprovalTags", "value": ["gated"]}],
    }
    for env, patch in settings.items():
        assert owner.patch(f"/api/v2/projects/{key}/environments/{env}", json=patch).status_code == 200
    for flag, tags in (("plain", []), ("tagged", ["gated"]), ("decoy", [])):
        response = owner.post(f"/api/v2/flags/{key}", json={"key": flag, "name": flag, "tags": tags})
        assert response.status_code == 201
    return key


def semantic(
    client: httpx.Client, project: str, flag: str, instructions: list[Any], env: str | None, **params: Any
) -> httpx.Response:
    body: dict[str, Any] = {"instructions": instructions}
    if env:
        body["environmentKey"] = env
    return client.patch(
        f"/api/v2/flags/{project}/{flag}", content=json.dumps(body), headers={"Content-Type": SEMANTIC}, params=params
    )


def get_flag(client: httpx.Client, project: str, flag: str) -> dict[str, Any]:
    body: dict[str, Any] = client.get(f"/api/v2/flags/{project}/{flag}").json()
    return body


def assert_gated(response: httpx.Response, action: str, attempt: str = "") -> None:
    assert response.status_code == 405, (attempt, response.text)
    body = response.json()
    assert (body["code"], body["message"]) == ("method_not_allowed", MESSAGE.format(action))


def env_change_attempts(project: str, flag: str, env: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(kind of request, the action it names, httpx request arguments) that each change ``env``'s
    configuration of ``flag``: semantic, JSON and merge patch, dry run, and copy into ``env``."""
    path = f"/api/v2/flags/{project}/{flag}"
    other = "test" if env == "production" else "production"
    semantic_body = {"environmentKey": env, "instructions": [{"kind": "turnFlagOn"}]}
    headers = {"Content-Type": SEMANTIC}
    copy_body = {"source": {"key": other}, "target": {"key": env}}
    return [
        (
            "semantic",
            "updateOn",
            {"method": "PATCH", "url": path, "content": json.dumps(semantic_body), "headers": headers},
        ),
        (
            "semantic dry run",
            "updateOn",
            {
                "method": "PATCH",
                "url": path,
                "content": json.dumps(semantic_body),
                "headers": headers,
                "params": {"dryRun": "true"},
            },
        ),
        (
            "json",
            "updateOn",
            {
                "method": "PATCH",
                "url": path,
                "json": [{"op": "replace", "path": f"/environments/{env}/on", "value": True}],
            },
        ),
        (
            "json, rules",
            "updateRules",
            {
                "method": "PATCH",
                "url": path,
                "json": {
                    "patch": [
                        {"op": "add", "path": f"/environments/{env}/rules/-", "value": {"clauses": [], "variation": 0}}
                    ]
                },
            },
        ),
        (
            "merge",
            "updateTrackEvents",
            {"method": "PATCH", "url": path, "json": {"merge": {"environments": {env: {"trackEvents": True}}}}},
        ),
        ("copy", "updateOn", {"method": "POST", "url": path + "/copy", "json": copy_body}),
    ]


def _make_source_differ(callers: Callers, project: str, flag: str, env: str) -> None:
    other = "test" if env == "production" else "production"
    response = semantic(callers.owner, project, flag, [{"kind": "turnFlagOn"}], other)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(("env", "flag"), [("production", "plain"), ("production", "tagged"), ("test", "tagged")])
def test_a_writer_cannot_change_a_gated_configuration_any_way(
    callers: Callers, project: str, env: str, flag: str
) -> None:
    _make_source_differ(callers, project, flag, env)
    before = get_flag(callers.owner, project, flag)
    for kind, action, request in env_change_attempts(project, flag, env):
        assert_gated(callers.writer.request(**request), action, kind)
    assert get_flag(callers.owner, project, flag) == before
    entries = callers.owner.get("/api/v2/auditlog", params={"spec": f"proj/{project}:env/{env}:flag/{flag}"})
    assert entries.json()["items"] == []


@pytest.mark.parametrize("role", ["owner", "admin"])
def test_owners_and_admins_bypass_the_gate(callers: Callers, project: str, role: str) -> None:
    caller = getattr(callers, role)
    for env, flag in (("production", "plain"), ("test", "tagged")):
        _make_source_differ(callers, project, flag, env)
        for kind, _action, request in env_change_attempts(project, flag, env):
            before = get_flag(callers.owner, project, flag)["environments"][env]
            response = caller.request(**request)
            assert response.status_code in (200, 201), (kind, response.text)
            after = get_flag(callers.owner, project, flag)["environments"][env]
            if kind == "semantic dry run":
                assert after == before
            else:
                changed = _content(after) != _content(before)
                assert after["version"] == before["version"] + changed, kind
        config = get_flag(callers.owner, project, flag)["environments"][env]
        # The copy came last: the source has no rules, and copying leaves trackEvents alone.
        assert (config["on"], config["rules"], config["trackEvents"]) == (True, [], True)


def _content(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if k not in ("version", "lastModified", "_summary")}


def test_an_untagged_flag_is_not_gated_where_only_tags_require_approval(callers: Callers, project: str) -> None:
    response = semantic(callers.writer, project, "plain", [{"kind": "turnFlagOn"}], "test")
    assert response.status_code == 200, response.text
    assert response.json()["environments"]["test"]["on"] is True


def test_tags_before_and_after_the_change_both_count(callers: Callers, project: str) -> None:
    tag_and_turn_on = [{"kind": "addTags", "values": ["gated"]}, {"kind": "turnFlagOn"}]
    assert_gated(semantic(callers.writer, project, "plain", tag_and_turn_on, "test"), "updateOn")
    untag_and_turn_on = [{"kind": "removeTags", "values": ["gated"]}, {"kind": "turnFlagOn"}]
    assert_gated(semantic(callers.writer, project, "tagged", untag_and_turn_on, "test"), "updateOn")
    assert get_flag(callers.owner, project, "plain")["tags"] == []
    assert get_flag(callers.owner, project, "tagged")["tags"] == ["gated"]


@pytest.mark.parametrize(
    "instructions",
    [
        [{"kind": "updateName", "value": "Renamed"}],
        [{"kind": "updateDescription", "value": "described"}],
        [{"kind": "addTags", "values": ["more"]}],
        [{"kind": "removeMaintainer"}],
        [{"kind": "makeFlagPermanent"}],
        [{"kind": "addCustomProperties", "key": "jira", "name": "Jira", "values": ["X-1"]}],
    ],
)
def test_changes_no_sdk_sees_are_not_gated(callers: Callers, project: str, instructions: list[Any]) -> None:
    before = get_flag(callers.owner, project, "tagged")
    response = semantic(callers.writer, project, "tagged", instructions, None)
    assert response.status_code == 200, response.text
    assert response.json()["_version"] == before["_version"] + 1
    merged = callers.writer.patch(f"/api/v2/flags/{project}/tagged", json={"merge": {"description": "by merge"}})
    assert merged.status_code == 200 and merged.json()["description"] == "by merge"
    renamed = callers.writer.patch(
        f"/api/v2/flags/{project}/tagged", json=[{"op": "replace", "path": "/name", "value": "By JSON patch"}]
    )
    assert renamed.status_code == 200 and renamed.json()["name"] == "By JSON patch"


def _multivariate(callers: Callers, project: str) -> str:
    """A flag serving "c" while off (its off variation), "a" to everyone when on."""
    key = unique("multi")
    variations = [{"value": "a"}, {"value": "b"}, {"value": "c", "name": "Off"}]
    body = {"key": key, "name": key, "variations": variations, "defaults": {"onVariation": 0, "offVariation": 2}}
    response = callers.owner.post(f"/api/v2/flags/{project}", json=body)
    assert response.status_code == 201, response.text
    return key


def _flag_level_attempts(project: str, multi: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(what, the action the refusal names, request) for flag-level changes that change what SDKs are
    served in production (which requires approval for every flag): the findings of issue 8 §1."""
    flag_path, multi_path = f"/api/v2/flags/{project}/plain", f"/api/v2/flags/{project}/{multi}"

    def semantic_request(path: str, instructions: list[Any], **params: Any) -> dict[str, Any]:
        body = json.dumps({"instructions": instructions})
        return {"method": "PATCH", "url": path, "content": body, "headers": {"Content-Type": SEMANTIC}, **params}

    swap = [
        {"op": "replace", "path": "/variations/0/value", "value": False},
        {"op": "replace", "path": "/variations/1/value", "value": True},
    ]
    return [
        (
            "swap the variation values by JSON patch",
            "updateFlagVariations",
            {"method": "PATCH", "url": flag_path, "json": swap},
        ),
        (
            "replace the off variation's value (multivariate)",
            "updateFlagVariations",
            {
                "method": "PATCH",
                "url": multi_path,
                "json": [{"op": "replace", "path": "/variations/2/value", "value": "z"}],
            },
        ),
        (
            "add a variation",
            "updateFlagVariations",
            semantic_request(multi_path, [{"kind": "addVariation", "value": "d"}]),
        ),
        ("archive", "updateGlobalArchived", semantic_request(flag_path, [{"kind": "archiveFlag"}])),
        (
            "archive by JSON patch",
            "updateGlobalArchived",
            {"method": "PATCH", "url": flag_path, "json": [{"op": "replace", "path": "/archived", "value": True}]},
        ),
        (
            "client-side availability",
            "updateClientSideFlagAvailability",
            semantic_request(flag_path, [{"kind": "turnOnClientSideAvailability", "value": "usingEnvironmentId"}]),
        ),
        ("deleteFlag", "deleteFlag", semantic_request(flag_path, [{"kind": "deleteFlag"}])),
        (
            "deleteFlag, dry run",
            "deleteFlag",
            semantic_request(flag_path, [{"kind": "deleteFlag"}], params={"dryRun": "true"}),
        ),
        ("DELETE", "deleteFlag", {"method": "DELETE", "url": flag_path}),
    ]


def test_a_writer_cannot_change_what_a_gated_environment_serves_at_flag_level(
    callers: Callers, project: str, server: ServerProcess
) -> None:
    multi = _multivariate(callers, project)
    before = {key: get_flag(callers.owner, project, key) for key in ("plain", multi)}
    served = sdk_payload(server, callers, project, "production")
    for what, action, request in _flag_level_attempts(project, multi):
        assert_gated(callers.writer.request(**request), action, what)
    assert {key: get_flag(callers.owner, project, key) for key in ("plain", multi)} == before
    assert sdk_payload(server, callers, project, "production") == served


@pytest.mark.parametrize("role", ["owner", "admin"])
def test_owners_and_admins_may_make_flag_level_changes(callers: Callers, project: str, role: str) -> None:
    caller = getattr(callers, role)
    multi = _multivariate(callers, project)
    for what, _action, request in _flag_level_attempts(project, multi):
        if what == "archive by JSON patch":
            assert semantic(caller, project, "plain", [{"kind": "restoreFlag"}], None).status_code == 200
        response = caller.request(**request)
        assert response.status_code in (200, 204), (what, response.text)
        if what == "deleteFlag, dry run":
            assert get_flag(callers.owner, project, "plain")["key"] == "plain"
        elif what == "deleteFlag":
            assert callers.owner.get(f"/api/v2/flags/{project}/plain").status_code == 404
            assert callers.owner.post(f"/api/v2/flags/{project}", json={"key": "plain", "name": "p"}).status_code == 201
    assert callers.owner.get(f"/api/v2/flags/{project}/plain").status_code == 404


def test_delete_then_recreate_turned_on_is_refused_at_both_steps(callers: Callers, project: str) -> None:
    recreate = {"key": "plain", "name": "Plain again", "isFlagOn": True}
    assert_gated(semantic(callers.writer, project, "plain", [{"kind": "deleteFlag"}], None), "deleteFlag")
    assert_gated(callers.writer.delete(f"/api/v2/flags/{project}/plain"), "deleteFlag")
    assert callers.admin.delete(f"/api/v2/flags/{project}/plain").status_code == 204
    assert_gated(callers.writer.post(f"/api/v2/flags/{project}", json=recreate), "createFlag")
    assert callers.owner.get(f"/api/v2/flags/{project}/plain").status_code == 404
    # Off, without targeting, a new flag serves its off variation: that is what creating a flag is.
    off = callers.writer.post(f"/api/v2/flags/{project}", json={**recreate, "isFlagOn": False})
    assert off.status_code == 201, off.text
    assert off.json()["environments"]["production"]["on"] is False
    assert callers.admin.delete(f"/api/v2/flags/{project}/plain").status_code == 204
    on = callers.admin.post(f"/api/v2/flags/{project}", json=recreate)
    assert on.status_code == 201 and on.json()["environments"]["production"]["on"] is True


def test_a_writer_may_create_a_flag_turned_on_where_no_approval_is_required(callers: Callers, project: str) -> None:
    owner = callers.owner
    assert (
        owner.patch(
            f"/api/v2/projects/{project}/environments/production",
            json=[{"op": "replace", "path": "/approvalSettings/required", "value": False}],
        ).status_code
        == 200
    )
    created = callers.writer.post(f"/api/v2/flags/{project}", json={"key": unique("on"), "name": "n", "isFlagOn": True})
    assert created.status_code == 201, created.text
    tagged = callers.writer.post(
        f"/api/v2/flags/{project}", json={"key": unique("on"), "name": "n", "isFlagOn": True, "tags": ["gated"]}
    )
    assert_gated(tagged, "createFlag")


def test_removing_the_tag_that_requires_approval_is_refused(callers: Callers, project: str) -> None:
    path = f"/api/v2/flags/{project}/tagged"
    assert_gated(callers.writer.patch(path, json=[{"op": "replace", "path": "/tags", "value": []}]), "updateTags")
    assert_gated(callers.writer.patch(path, json={"merge": {"tags": ["other"]}}), "updateTags")
    assert_gated(
        semantic(callers.writer, project, "tagged", [{"kind": "removeTags", "values": ["gated"]}], None), "updateTags"
    )
    assert get_flag(callers.owner, project, "tagged")["tags"] == ["gated"]
    assert_gated(semantic(callers.writer, project, "tagged", [{"kind": "turnFlagOn"}], "test"), "updateOn")
    # Adding the tag makes the requirement start: allowed, and from then on the flag is gated in test.
    assert (
        semantic(callers.writer, project, "plain", [{"kind": "addTags", "values": ["gated"]}], None).status_code == 200
    )
    assert_gated(semantic(callers.writer, project, "plain", [{"kind": "turnFlagOn"}], "test"), "updateOn")
    assert callers.admin.patch(path, json=[{"op": "replace", "path": "/tags", "value": []}]).status_code == 200


def test_a_prerequisite_of_a_gated_flag_is_gated_where_the_gated_flag_uses_it(callers: Callers, project: str) -> None:
    """In test only flags tagged ``gated`` need approval; ``plain`` is untagged, but ``tagged`` uses it as
    a prerequisite there, so turning ``plain`` on in test changes what ``tagged`` serves."""
    true_id = get_flag(callers.owner, project, "plain")["variations"][0]["_id"]
    prerequisite = [{"kind": "addPrerequisite", "key": "plain", "variationId": true_id}]
    assert_gated(semantic(callers.writer, project, "tagged", prerequisite, "test"), "updatePrerequisites")
    assert semantic(callers.admin, project, "tagged", prerequisite, "test").status_code == 200
    assert_gated(semantic(callers.writer, project, "plain", [{"kind": "turnFlagOn"}], "test"), "updateOn")
    decoy = semantic(callers.writer, project, "decoy", [{"kind": "turnFlagOn"}], "test")
    assert decoy.status_code == 200, decoy.text


def sdk_payload(server: ServerProcess, callers: Callers, project: str, env: str) -> dict[str, Any]:
    """``/sdk/latest-all`` of ``env`` without versions and dates (they change with every write anywhere)."""
    sdk_key = callers.owner.get(f"/api/v2/projects/{project}/environments/{env}").json()["apiKey"]
    body = httpx.get(f"{server.url}/sdk/latest-all", headers={"Authorization": sdk_key}).json()
    strip = ("version", "debugEventsUntilDate", "lastModified")
    return {
        kind: {k: {f: v for f, v in item.items() if f not in strip} for k, item in items.items()}
        for kind, items in body.items()
    }


def test_readers_are_refused_before_the_gate(callers: Callers, project: str) -> None:
    response = semantic(callers.reader, project, "plain", [{"kind": "turnFlagOn"}], "production")
    assert response.status_code == 403 and response.json()["code"] == "forbidden"


def test_every_mutating_route_is_gated_or_allowed_with_a_reason(
    server: ServerProcess, callers: Callers, project: str
) -> None:
    routes = mutating_routes()
    assert not set(GATED) & set(ALLOWED)
    undecided = routes - set(GATED) - set(ALLOWED)
    assert undecided == set(), f"decide whether these routes must pass the approval gate: {sorted(undecided)}"
    assert set(ALLOWED) | set(GATED) <= routes, f"stale entries: {sorted((set(ALLOWED) | set(GATED)) - routes)}"
    assert all(reason.strip() for reason in ALLOWED.values())
    openapi = httpx.get(f"{server.url}/openapi.json").json()["paths"]
    documented = {(m.upper(), p) for p, item in openapi.items() for m in item if m.upper() not in _READS}
    assert documented <= routes
    _make_source_differ(callers, project, "plain", "production")
    before = get_flag(callers.owner, project, "plain")
    # Not recorded: most of these requests are nonsense to their routes, and some routes are not LaunchDarkly's.
    with httpx.Client(
        base_url=server.url, headers={"Authorization": callers.writer.headers["Authorization"]}
    ) as writer:
        for method, template in sorted(routes):
            response = _walk(writer, project, method, template)
            assert response.status_code < 500, (method, template, response.text)
            if (method, template) in GATED:
                assert_gated(response, GATED[method, template], f"{method} {template}")
    assert get_flag(callers.owner, project, "plain") == before
    assert callers.owner.get(f"/api/v2/flags/{project}/decoy").status_code == 200
    assert callers.owner.get(f"/api/v2/flags/{project}/walked").status_code == 404


def _walk(writer: httpx.Client, project: str, method: str, template: str) -> httpx.Response:
    """Send the writer's attempt at turning ``plain`` on in production through this route (or creating
    a flag ``walked`` that is on). Deleting routes get the decoy flag, so that the point stays ``plain``."""
    values = {
        "projectKey": project,
        "environmentKey": "production",
        "featureFlagKey": "decoy" if method == "DELETE" else "plain",
        "segmentKey": "none",
        "teamKey": "none",
        "customRoleKey": "none",
        "id": "0" * 24,
        "envId": "0" * 24,
        # The console's path parameters.
        "project_key": project,
        "flag_key": "plain",
        "env_key": "production",
        "request_id": "0" * 24,
        "member_id": "0" * 24,
        "token": "not-a-token",
        "secret": "not-a-secret",
        "workflowId": "0" * 24,
        "templateKey": "none",
    }
    path = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], template)
    attempt = {
        "environmentKey": "production",
        "instructions": [{"kind": "turnFlagOn"}],
        "source": {"key": "test"},
        "target": {"key": "production"},
        "key": "walked",
        "name": "walked",
        "isFlagOn": True,
    }
    if method == "PATCH":
        headers = {"Content-Type": SEMANTIC}
        return writer.request(method, path, content=json.dumps(attempt), headers=headers)
    if method == "DELETE":
        return writer.request(method, path)
    return writer.request(method, path, json=attempt)
