"""GET /openapi.json describes flagward's real API and /docs serves it: every REST operation documents
its response as the LaunchDarkly component it answers with (``FeatureFlag``, ``Projects``…), each such
component requires what LaunchDarkly's does, and a route that answers 204 documents no body."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from flagward.domain.segment_changes import FLAGWARD_SEGMENT_INSTRUCTIONS, SEGMENT_INSTRUCTION_KINDS
from flagward.domain.segment_configuration import SEGMENT_CONFIGURATION_FIELDS
from tests.support.openapi import load_spec
from tests.support.server import ServerProcess

FLAG_APPROVALS = "/api/v2/projects/{projectKey}/flags/{featureFlagKey}/environments/{environmentKey}"
TRIGGERS = "/api/v2/flags/{projectKey}/{featureFlagKey}/triggers/{environmentKey}"

# (method, path, status, component): the response each REST operation documents, named as LaunchDarkly
# names it.
RESPONSES = [
    ("GET", "/api/v2/caller-identity", "200", "CallerIdentityRep"),
    ("GET", "/api/v2/auditlog", "200", "AuditLogEntryListingRepCollection"),
    ("GET", "/api/v2/auditlog/{id}", "200", "AuditLogEntryRep"),
    ("GET", "/api/v2/projects", "200", "Projects"),
    ("POST", "/api/v2/projects", "201", "ProjectRep"),
    ("GET", "/api/v2/projects/{projectKey}", "200", "Project"),
    ("PATCH", "/api/v2/projects/{projectKey}", "200", "ProjectRep"),
    ("GET", "/api/v2/projects/{projectKey}/environments", "200", "Environments"),
    ("POST", "/api/v2/projects/{projectKey}/environments", "201", "Environment"),
    ("GET", "/api/v2/projects/{projectKey}/environments/{environmentKey}", "200", "Environment"),
    ("PATCH", "/api/v2/projects/{projectKey}/environments/{environmentKey}", "200", "Environment"),
    ("POST", "/api/v2/projects/{projectKey}/environments/{environmentKey}/apiKey", "200", "Environment"),
    ("POST", "/api/v2/projects/{projectKey}/environments/{environmentKey}/mobileKey", "200", "Environment"),
    ("GET", "/api/v2/flags/{projectKey}", "200", "FeatureFlags"),
    ("POST", "/api/v2/flags/{projectKey}", "201", "FeatureFlag"),
    ("GET", "/api/v2/flags/{projectKey}/{featureFlagKey}", "200", "FeatureFlag"),
    ("PATCH", "/api/v2/flags/{projectKey}/{featureFlagKey}", "200", "FeatureFlag"),
    ("POST", "/api/v2/flags/{projectKey}/{featureFlagKey}/copy", "201", "FeatureFlag"),
    ("GET", "/api/v2/flag-statuses/{projectKey}/{environmentKey}", "200", "FeatureFlagStatuses"),
    ("GET", "/api/v2/flag-statuses/{projectKey}/{environmentKey}/{featureFlagKey}", "200", "FlagStatusRep"),
    ("GET", "/api/v2/flag-status/{projectKey}/{featureFlagKey}", "200", "FeatureFlagStatusAcrossEnvironments"),
    ("GET", "/api/v2/segments/{projectKey}/{environmentKey}", "200", "UserSegments"),
    ("POST", "/api/v2/segments/{projectKey}/{environmentKey}", "201", "UserSegment"),
    ("GET", "/api/v2/segments/{projectKey}/{environmentKey}/{segmentKey}", "200", "UserSegment"),
    ("PATCH", "/api/v2/segments/{projectKey}/{environmentKey}/{segmentKey}", "200", "UserSegment"),
    ("GET", f"{FLAG_APPROVALS}/approval-requests", "200", "FlagConfigApprovalRequestsResponse"),
    ("POST", f"{FLAG_APPROVALS}/approval-requests", "201", "FlagConfigApprovalRequestResponse"),
    ("POST", f"{FLAG_APPROVALS}/approval-requests-flag-copy", "201", "FlagConfigApprovalRequestResponse"),
    ("GET", f"{FLAG_APPROVALS}/approval-requests/{{id}}", "200", "FlagConfigApprovalRequestResponse"),
    ("PATCH", f"{FLAG_APPROVALS}/approval-requests/{{id}}", "200", "FlagConfigApprovalRequestResponse"),
    ("POST", f"{FLAG_APPROVALS}/approval-requests/{{id}}/reviews", "200", "FlagConfigApprovalRequestResponse"),
    ("POST", f"{FLAG_APPROVALS}/approval-requests/{{id}}/apply", "200", "FlagConfigApprovalRequestResponse"),
    ("GET", "/api/v2/approval-requests", "200", "ExpandableApprovalRequestsResponse"),
    ("POST", "/api/v2/approval-requests", "201", "ApprovalRequestResponse"),
    ("GET", "/api/v2/approval-requests/{id}", "200", "ExpandableApprovalRequestResponse"),
    ("PATCH", "/api/v2/approval-requests/{id}", "200", "FlagConfigApprovalRequestResponse"),
    ("POST", "/api/v2/approval-requests/{id}/reviews", "200", "ApprovalRequestResponse"),
    ("POST", "/api/v2/approval-requests/{id}/apply", "200", "ApprovalRequestResponse"),
    ("GET", "/api/v2/approval-requests/projects/{projectKey}/settings", "200", "ApprovalRequestSettings"),
    ("PATCH", "/api/v2/approval-requests/projects/{projectKey}/settings", "200", "ApprovalRequestSettings"),
    ("GET", "/api/v2/members", "200", "Members"),
    ("POST", "/api/v2/members", "201", "Members"),
    ("GET", "/api/v2/members/{id}", "200", "Member"),
    ("PATCH", "/api/v2/members/{id}", "200", "Member"),
    ("GET", "/api/v2/teams", "200", "Teams"),
    ("POST", "/api/v2/teams", "201", "Team"),
    ("GET", "/api/v2/teams/{teamKey}", "200", "Team"),
    ("PATCH", "/api/v2/teams/{teamKey}", "200", "Team"),
    ("POST", "/api/v2/teams/{teamKey}/members", "201", "TeamImportsRep"),
    ("POST", "/api/v2/teams/{teamKey}/members", "207", "TeamImportsRep"),
    ("GET", "/api/v2/tokens", "200", "Tokens"),
    ("POST", "/api/v2/tokens", "201", "Token"),
    ("GET", "/api/v2/tokens/{id}", "200", "Token"),
    ("PATCH", "/api/v2/tokens/{id}", "200", "Token"),
    ("POST", "/api/v2/tokens/{id}/reset", "200", "Token"),
    ("POST", "/auth/login", "200", "Member"),
    ("GET", "/api/v2/webhooks", "200", "Webhooks"),
    ("POST", "/api/v2/webhooks", "200", "Webhook"),
    ("GET", "/api/v2/webhooks/{id}", "200", "Webhook"),
    ("PATCH", "/api/v2/webhooks/{id}", "200", "Webhook"),
    ("GET", f"{FLAG_APPROVALS}/scheduled-changes", "200", "FeatureFlagScheduledChanges"),
    ("POST", f"{FLAG_APPROVALS}/scheduled-changes", "201", "FeatureFlagScheduledChange"),
    ("GET", f"{FLAG_APPROVALS}/scheduled-changes/{{id}}", "200", "FeatureFlagScheduledChange"),
    ("PATCH", f"{FLAG_APPROVALS}/scheduled-changes/{{id}}", "200", "FeatureFlagScheduledChange"),
    (
        "GET",
        "/api/v2/flags/{projectKey}/{featureFlagKey}/expiring-targets/{environmentKey}",
        "200",
        "ExpiringTargetGetResponse",
    ),
    (
        "PATCH",
        "/api/v2/flags/{projectKey}/{featureFlagKey}/expiring-targets/{environmentKey}",
        "200",
        "ExpiringTargetPatchResponse",
    ),
    (
        "GET",
        "/api/v2/segments/{projectKey}/{segmentKey}/expiring-targets/{environmentKey}",
        "200",
        "ExpiringTargetGetResponse",
    ),
    (
        "PATCH",
        "/api/v2/segments/{projectKey}/{segmentKey}/expiring-targets/{environmentKey}",
        "200",
        "ExpiringTargetPatchResponse",
    ),
    ("GET", TRIGGERS, "200", "TriggerWorkflowCollectionRep"),
    ("POST", TRIGGERS, "201", "TriggerWorkflowRep"),
    ("GET", f"{TRIGGERS}/{{id}}", "200", "TriggerWorkflowRep"),
    ("PATCH", f"{TRIGGERS}/{{id}}", "200", "TriggerWorkflowRep"),
    ("GET", "/api/v2/roles", "200", "CustomRoles"),
    ("POST", "/api/v2/roles", "201", "CustomRole"),
    ("GET", "/api/v2/roles/{customRoleKey}", "200", "CustomRole"),
    ("PATCH", "/api/v2/roles/{customRoleKey}", "200", "CustomRole"),
    ("PATCH", "/api/v2/members", "200", "BulkEditMembersRep"),
    ("POST", "/api/v2/members/{id}/teams", "201", "Member"),
    ("GET", "/api/v2/teams/{teamKey}/roles", "200", "TeamCustomRoles"),
    ("POST", "/api/v2/auditlog", "200", "AuditLogEntryListingRepCollection"),
    ("GET", f"{FLAG_APPROVALS}/workflows", "200", "CustomWorkflowsListingOutput"),
    ("POST", f"{FLAG_APPROVALS}/workflows", "201", "CustomWorkflowOutput"),
    ("GET", f"{FLAG_APPROVALS}/workflows/{{workflowId}}", "200", "CustomWorkflowOutput"),
    ("GET", "/api/v2/templates", "200", "WorkflowTemplatesListingOutputRep"),
    ("POST", "/api/v2/templates", "201", "WorkflowTemplateOutput"),
]

NO_CONTENT = [
    ("DELETE", "/api/v2/projects/{projectKey}"),
    ("DELETE", "/api/v2/projects/{projectKey}/environments/{environmentKey}"),
    ("DELETE", "/api/v2/flags/{projectKey}/{featureFlagKey}"),
    ("DELETE", "/api/v2/segments/{projectKey}/{environmentKey}/{segmentKey}"),
    ("DELETE", f"{FLAG_APPROVALS}/approval-requests/{{id}}"),
    ("DELETE", "/api/v2/approval-requests/{id}"),
    ("DELETE", "/api/v2/members/{id}"),
    ("DELETE", "/api/v2/teams/{teamKey}"),
    ("DELETE", "/api/v2/tokens/{id}"),
    ("DELETE", "/api/v2/webhooks/{id}"),
    ("DELETE", f"{FLAG_APPROVALS}/scheduled-changes/{{id}}"),
    ("DELETE", f"{TRIGGERS}/{{id}}"),
    ("DELETE", "/api/v2/roles/{customRoleKey}"),
    ("DELETE", f"{FLAG_APPROVALS}/workflows/{{workflowId}}"),
    ("DELETE", "/api/v2/templates/{templateKey}"),
    ("POST", "/auth/logout"),
]

# Operations served by the SDK edge (their own contract, LaunchDarkly's SDK protocol), not the REST API;
# so are health checks and every path outside /api/ and /auth/.
SDK_OPERATIONS = {("POST", "/api/v2/projects/{projectKey}/environments/{environmentKey}/flags/evaluate")}
REST_PREFIXES = ("/api/", "/auth/")


# flagward's own REST operations (LaunchDarkly has none of them), each with a component of its own.
OWN_RESPONSES = [
    ("GET", "/api/v2/notifications", "200", "NotificationsRep"),
    ("POST", "/api/v2/notifications/read", "200", "MarkedReadRep"),
    ("POST", "/api/v2/approval-requests/{id}/integration-callback", "200", "ApprovalRequestResponse"),
    ("GET", "/api/v2/webhooks/{id}/deliveries", "200", "WebhookDeliveries"),
    ("POST", "/api/v2/projects/{projectKey}/import", "200", "ImportRep"),
]


@pytest.fixture(scope="module")
def document(server: ServerProcess) -> dict[str, Any]:
    response = httpx.get(f"{server.url}/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def _responses(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    operations = document["paths"].get(path)
    assert operations is not None, f"{path} is not documented"
    assert method.lower() in operations, f"{method} {path} is not documented"
    responses: dict[str, Any] = operations[method.lower()]["responses"]
    return responses


@pytest.mark.parametrize(("method", "path", "status", "component"), RESPONSES + OWN_RESPONSES)
def test_the_response_references_its_launchdarkly_component(
    document: dict[str, Any], method: str, path: str, status: str, component: str
) -> None:
    response = _responses(document, method, path).get(status)
    assert response is not None, f"{method} {path} documents no {status}"
    schema = response["content"]["application/json"]["schema"]
    assert schema == {"$ref": f"#/components/schemas/{component}"}
    assert component in document["components"]["schemas"]


def test_every_rest_response_body_is_described_by_a_component(document: dict[str, Any]) -> None:
    documented = {(method, path, status) for method, path, status, _ in RESPONSES + OWN_RESPONSES}
    missing = []
    for path, operations in document["paths"].items():
        for verb, operation in operations.items():
            if (verb.upper(), path) in SDK_OPERATIONS or not path.startswith(REST_PREFIXES):
                continue
            for status in operation["responses"]:
                if status.startswith("2") and status != "204" and (verb.upper(), path, status) not in documented:
                    missing.append(f"{verb.upper()} {path} {status}")
    assert missing == []


@pytest.mark.parametrize(("method", "path"), NO_CONTENT)
def test_a_204_documents_no_body(document: dict[str, Any], method: str, path: str) -> None:
    responses = _responses(document, method, path)
    assert "204" in responses
    assert "content" not in responses["204"]


def test_each_documented_component_is_the_one_launchdarkly_answers_with() -> None:
    spec = load_spec()
    for method, path, status, component in RESPONSES:
        if path.startswith("/auth/"):
            continue  # flagward's own sign-in, not part of LaunchDarkly's API
        operation = spec.operation(method, path)
        pointer = spec.response_schema_pointer(operation, int(status))
        assert pointer is not None, f"LaunchDarkly documents no body for {method} {path} {status}"
        assert spec.resolve("#" + pointer) == {"$ref": f"#/components/schemas/{component}"}, (method, path)


def test_each_component_requires_what_launchdarkly_requires(document: dict[str, Any]) -> None:
    ours = document["components"]["schemas"]
    theirs = load_spec().document["components"]["schemas"]
    for component in sorted({row[3] for row in RESPONSES}):
        pending = [component]
        seen: set[str] = set()
        while pending:  # the component and every component it references
            name = pending.pop()
            if name in seen:
                continue
            seen.add(name)
            schema = ours[name]
            if name in theirs and "properties" in schema:
                assert set(schema.get("required", [])) == set(theirs[name].get("required", [])), name
            pending.extend(_referenced(schema))


def _referenced(schema: Any) -> list[str]:
    if isinstance(schema, dict):
        found = [schema["$ref"].rsplit("/", 1)[-1]] if "$ref" in schema else []
        return found + [name for value in schema.values() for name in _referenced(value)]
    if isinstance(schema, list):
        return [name for value in schema for name in _referenced(value)]
    return []


def test_an_optional_field_is_not_documented_as_nullable(document: dict[str, Any]) -> None:
    """Presenters leave an optional field out rather than send null."""
    flag = document["components"]["schemas"]["FeatureFlag"]
    assert flag["properties"]["maintainerId"] == {"type": "string"}
    assert "maintainerId" not in flag["required"]


def test_segment_instructions_are_documented_with_flagward_s_own(document: dict[str, Any]) -> None:
    """PATCH segment names every segment instruction kind, flagward's ``replaceSegmentConfiguration``
    (what an import proposes for approval) with its fields; the import's answer names both of its own."""
    described = document["paths"]["/api/v2/segments/{projectKey}/{environmentKey}/{segmentKey}"]["patch"]
    text = described["description"]
    for kind in sorted(SEGMENT_INSTRUCTION_KINDS | FLAGWARD_SEGMENT_INSTRUCTIONS):
        assert kind in text, kind
    assert "replaceSegmentConfiguration" in text and all(f in text for f in SEGMENT_CONFIGURATION_FIELDS)
    schemas = document["components"]["schemas"]
    requested = schemas["ImportRep"]["properties"]["requested"]["description"]
    assert "replaceFlagConfiguration" in requested and "replaceSegmentConfiguration" in requested
    resource = schemas["CreateApprovalRequestRequest"]["properties"]["resourceId"]["description"]
    assert "replaceSegmentConfiguration" in resource


def test_docs_serve_the_interactive_documentation(server: ServerProcess) -> None:
    docs = httpx.get(f"{server.url}/docs")
    assert docs.status_code == 200
    assert docs.headers["content-type"].startswith("text/html")
    assert "/openapi.json" in docs.text
