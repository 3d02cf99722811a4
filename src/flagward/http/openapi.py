"""flagward's OpenAPI document (``GET /openapi.json``), made to tell the truth.

FastAPI generates the document from the routes; :func:`install` makes ``app.openapi`` post-process it once,
in one place, so routes keep their plain signatures:

- **Operation ids** are LaunchDarkly's for every operation LaunchDarkly has (:data:`OPERATION_IDS`), so a
  client generated from this document has LaunchDarkly's method names; flagward's own operations (health,
  sign-in, the SDK edge) have stable camelCase ids of their own.
- **Errors** each operation declares are derived from what it is built on (:func:`declared_errors`): the
  middleware and dependencies every request passes through, its path parameters, whether it takes a body,
  plus the service-specific statuses in :data:`SERVICE_ERRORS`. Each error is described by LaunchDarkly's
  error representation of that status (``InvalidRequestErrorRep`` …); FastAPI's 422 is removed, because a
  validation error is answered 400 (``flagward.http.errors``).
- **Security**: the ``ApiKey`` scheme (the ``Authorization`` header, as in LaunchDarkly's document) on every
  operation that authenticates its caller; a signed-in console session (cookie) is the alternative.
- **Constraints** the services enforce (key patterns, enums, non-empty lists, bounds) are added to the
  request schemas (:data:`BODY_CONSTRAINTS`, :data:`QUERY_CONSTRAINTS`); validation itself stays where it
  is, so a violation is still answered 400 in LaunchDarkly's shape.

``tests/api/test_openapi_truth.py`` holds the document to the route table, to LaunchDarkly's document,
and to the server's real answers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from flagward.domain.accounts import TOKEN_ROLES, Role
from flagward.domain.approvals import MAX_DESCRIPTION
from flagward.domain.copy import APPROVAL_COPY_ACTIONS, CopyAction
from flagward.domain.ids import MAX_KEY_LENGTH
from flagward.domain.roles import BASE_PERMISSIONS
from flagward.http.deps import API_VERSIONS, get_actor, get_deps

FLAG_ENV = "/api/v2/projects/{projectKey}/flags/{featureFlagKey}/environments/{environmentKey}"

# (METHOD, path) -> operation id. Those of /api/v2 are LaunchDarkly's, operation for operation.
OPERATION_IDS: dict[tuple[str, str], str] = {
    ("GET", "/api/v2/caller-identity"): "getCallerIdentity",
    ("GET", "/api/v2/auditlog"): "getAuditLogEntries",
    ("GET", "/api/v2/auditlog/{id}"): "getAuditLogEntry",
    ("POST", "/api/v2/auditlog"): "postAuditLogEntries",
    ("GET", "/api/v2/projects"): "getProjects",
    ("POST", "/api/v2/projects"): "postProject",
    ("GET", "/api/v2/projects/{projectKey}"): "getProject",
    ("PATCH", "/api/v2/projects/{projectKey}"): "patchProject",
    ("DELETE", "/api/v2/projects/{projectKey}"): "deleteProject",
    ("GET", "/api/v2/projects/{projectKey}/environments"): "getEnvironmentsByProject",
    ("POST", "/api/v2/projects/{projectKey}/environments"): "postEnvironment",
    ("GET", "/api/v2/projects/{projectKey}/environments/{environmentKey}"): "getEnvironment",
    ("PATCH", "/api/v2/projects/{projectKey}/environments/{environmentKey}"): "patchEnvironment",
    ("DELETE", "/api/v2/projects/{projectKey}/environments/{environmentKey}"): "deleteEnvironment",
    ("POST", "/api/v2/projects/{projectKey}/environments/{environmentKey}/apiKey"): "resetEnvironmentSDKKey",
    ("POST", "/api/v2/projects/{projectKey}/environments/{environmentKey}/mobileKey"): "resetEnvironmentMobileKey",
    ("POST", "/api/v2/projects/{projectKey}/environments/{environmentKey}/flags/evaluate"): "evaluateContextInstance",
    ("GET", "/api/v2/flags/{projectKey}"): "getFeatureFlags",
    ("POST", "/api/v2/flags/{projectKey}"): "postFeatureFlag",
    ("GET", "/api/v2/flags/{projectKey}/{featureFlagKey}"): "getFeatureFlag",
    ("PATCH", "/api/v2/flags/{projectKey}/{featureFlagKey}"): "patchFeatureFlag",
    ("DELETE", "/api/v2/flags/{projectKey}/{featureFlagKey}"): "deleteFeatureFlag",
    ("POST", "/api/v2/flags/{projectKey}/{featureFlagKey}/copy"): "copyFeatureFlag",
    ("GET", "/api/v2/flag-statuses/{projectKey}/{environmentKey}"): "getFeatureFlagStatuses",
    ("GET", "/api/v2/flag-statuses/{projectKey}/{environmentKey}/{featureFlagKey}"): "getFeatureFlagStatus",
    ("GET", "/api/v2/flag-status/{projectKey}/{featureFlagKey}"): "getFeatureFlagStatusAcrossEnvironments",
    ("GET", "/api/v2/segments/{projectKey}/{environmentKey}"): "getSegments",
    ("POST", "/api/v2/segments/{projectKey}/{environmentKey}"): "postSegment",
    ("GET", "/api/v2/segments/{projectKey}/{environmentKey}/{segmentKey}"): "getSegment",
    ("PATCH", "/api/v2/segments/{projectKey}/{environmentKey}/{segmentKey}"): "patchSegment",
    ("DELETE", "/api/v2/segments/{projectKey}/{environmentKey}/{segmentKey}"): "deleteSegment",
    ("GET", f"{FLAG_ENV}/approval-requests"): "getApprovalsForFlag",
    ("POST", f"{FLAG_ENV}/approval-requests"): "postApprovalRequestForFlag",
    ("POST", f"{FLAG_ENV}/approval-requests-flag-copy"): "postFlagCopyConfigApprovalRequest",
    ("GET", f"{FLAG_ENV}/approval-requests/{{id}}"): "getApprovalForFlag",
    ("PATCH", f"{FLAG_ENV}/approval-requests/{{id}}"): "patchFlagConfigApprovalRequest",
    ("DELETE", f"{FLAG_ENV}/approval-requests/{{id}}"): "deleteApprovalRequestForFlag",
    ("POST", f"{FLAG_ENV}/approval-requests/{{id}}/reviews"): "postApprovalRequestReviewForFlag",
    ("POST", f"{FLAG_ENV}/approval-requests/{{id}}/apply"): "postApprovalRequestApplyForFlag",
    ("GET", "/api/v2/approval-requests"): "getApprovalRequests",
    ("POST", "/api/v2/approval-requests"): "postApprovalRequest",
    ("GET", "/api/v2/approval-requests/{id}"): "getApprovalRequest",
    ("PATCH", "/api/v2/approval-requests/{id}"): "patchApprovalRequest",
    ("DELETE", "/api/v2/approval-requests/{id}"): "deleteApprovalRequest",
    ("POST", "/api/v2/approval-requests/{id}/reviews"): "postApprovalRequestReview",
    ("POST", "/api/v2/approval-requests/{id}/apply"): "postApprovalRequestApply",
    ("GET", "/api/v2/approval-requests/projects/{projectKey}/settings"): "getApprovalRequestSettings",
    ("PATCH", "/api/v2/approval-requests/projects/{projectKey}/settings"): "patchApprovalRequestSettings",
    ("GET", "/api/v2/members"): "getMembers",
    ("POST", "/api/v2/members"): "postMembers",
    ("GET", "/api/v2/members/{id}"): "getMember",
    ("PATCH", "/api/v2/members/{id}"): "patchMember",
    ("DELETE", "/api/v2/members/{id}"): "deleteMember",
    ("GET", "/api/v2/teams"): "getTeams",
    ("POST", "/api/v2/teams"): "postTeam",
    ("GET", "/api/v2/teams/{teamKey}"): "getTeam",
    ("PATCH", "/api/v2/teams/{teamKey}"): "patchTeam",
    ("DELETE", "/api/v2/teams/{teamKey}"): "deleteTeam",
    ("POST", "/api/v2/teams/{teamKey}/members"): "postTeamMembers",
    ("GET", "/api/v2/tokens"): "getTokens",
    ("POST", "/api/v2/tokens"): "postToken",
    ("GET", "/api/v2/tokens/{id}"): "getToken",
    ("PATCH", "/api/v2/tokens/{id}"): "patchToken",
    ("DELETE", "/api/v2/tokens/{id}"): "deleteToken",
    ("POST", "/api/v2/tokens/{id}/reset"): "resetToken",
    ("GET", "/api/v2/webhooks"): "getAllWebhooks",
    ("POST", "/api/v2/webhooks"): "postWebhook",
    ("GET", "/api/v2/webhooks/{id}"): "getWebhook",
    ("PATCH", "/api/v2/webhooks/{id}"): "patchWebhook",
    ("DELETE", "/api/v2/webhooks/{id}"): "deleteWebhook",
    ("GET", f"{FLAG_ENV}/scheduled-changes"): "getFlagConfigScheduledChanges",
    ("POST", f"{FLAG_ENV}/scheduled-changes"): "postFlagConfigScheduledChanges",
    ("GET", f"{FLAG_ENV}/scheduled-changes/{{id}}"): "getFeatureFlagScheduledChange",
    ("PATCH", f"{FLAG_ENV}/scheduled-changes/{{id}}"): "patchFlagConfigScheduledChange",
    ("DELETE", f"{FLAG_ENV}/scheduled-changes/{{id}}"): "deleteFlagConfigScheduledChanges",
    (
        "GET",
        "/api/v2/flags/{projectKey}/{featureFlagKey}/expiring-targets/{environmentKey}",
    ): "getExpiringContextTargets",
    ("PATCH", "/api/v2/flags/{projectKey}/{featureFlagKey}/expiring-targets/{environmentKey}"): "patchExpiringTargets",
    ("GET", "/api/v2/segments/{projectKey}/{segmentKey}/expiring-targets/{environmentKey}"): (
        "getExpiringTargetsForSegment"
    ),
    ("PATCH", "/api/v2/segments/{projectKey}/{segmentKey}/expiring-targets/{environmentKey}"): (
        "patchExpiringTargetsForSegment"
    ),
    ("GET", "/api/v2/flags/{projectKey}/{featureFlagKey}/triggers/{environmentKey}"): "getTriggerWorkflows",
    ("POST", "/api/v2/flags/{projectKey}/{featureFlagKey}/triggers/{environmentKey}"): "createTriggerWorkflow",
    ("GET", "/api/v2/flags/{projectKey}/{featureFlagKey}/triggers/{environmentKey}/{id}"): "getTriggerWorkflowById",
    ("PATCH", "/api/v2/flags/{projectKey}/{featureFlagKey}/triggers/{environmentKey}/{id}"): "patchTriggerWorkflow",
    ("DELETE", "/api/v2/flags/{projectKey}/{featureFlagKey}/triggers/{environmentKey}/{id}"): "deleteTriggerWorkflow",
    ("GET", "/api/v2/roles"): "getCustomRoles",
    ("POST", "/api/v2/roles"): "postCustomRole",
    ("GET", "/api/v2/roles/{customRoleKey}"): "getCustomRole",
    ("PATCH", "/api/v2/roles/{customRoleKey}"): "patchCustomRole",
    ("DELETE", "/api/v2/roles/{customRoleKey}"): "deleteCustomRole",
    ("PATCH", "/api/v2/members"): "patchMembers",
    ("POST", "/api/v2/members/{id}/teams"): "postMemberTeams",
    ("GET", "/api/v2/teams/{teamKey}/roles"): "getTeamRoles",
    ("GET", f"{FLAG_ENV}/workflows"): "getWorkflows",
    ("POST", f"{FLAG_ENV}/workflows"): "postWorkflow",
    ("GET", f"{FLAG_ENV}/workflows/{{workflowId}}"): "getCustomWorkflow",
    ("DELETE", f"{FLAG_ENV}/workflows/{{workflowId}}"): "deleteWorkflow",
    ("GET", "/api/v2/templates"): "getWorkflowTemplates",
    ("POST", "/api/v2/templates"): "createWorkflowTemplate",
    ("DELETE", "/api/v2/templates/{templateKey}"): "deleteWorkflowTemplate",
    # flagward's own: health, console sign-in, in-app notifications, webhook delivery logs, external approval
    # services' callback.
    ("POST", "/api/v2/approval-requests/{id}/integration-callback"): "postApprovalRequestIntegrationCallback",
    ("GET", "/api/v2/notifications"): "getNotifications",
    ("POST", "/api/v2/notifications/read"): "postNotificationsRead",
    ("GET", "/api/v2/webhooks/{id}/deliveries"): "getWebhookDeliveries",
    ("POST", "/webhook/triggers/{secret}"): "postFlagTriggerFiring",
    ("POST", "/api/v2/projects/{projectKey}/import"): "postProjectImport",
    ("GET", "/healthz"): "getHealth",
    ("GET", "/readyz"): "getReadiness",
    ("POST", "/auth/login"): "login",
    ("POST", "/auth/logout"): "logout",
    # The SDK edge (LaunchDarkly's SDK protocol; credentials are SDK keys, mobile keys, client-side IDs).
    ("GET", "/sdk/latest-flags"): "getSdkLatestFlags",
    ("GET", "/sdk/flags"): "getSdkFlags",
    ("GET", "/sdk/latest-flags/{key}"): "getSdkLatestFlag",
    ("GET", "/sdk/flags/{key}"): "getSdkFlag",
    ("GET", "/sdk/latest-segments"): "getSdkLatestSegments",
    ("GET", "/sdk/latest-segments/{key}"): "getSdkLatestSegment",
    ("GET", "/sdk/segments/{key}"): "getSdkSegment",
    ("POST", "/bulk"): "postServerEvents",
    ("POST", "/diagnostic"): "postServerDiagnosticEvent",
    ("POST", "/mobile"): "postMobileEventsLegacy",
    ("POST", "/mobile/events"): "postMobileEvents",
    ("POST", "/mobile/events/bulk"): "postMobileEventsBulk",
    ("POST", "/mobile/events/diagnostic"): "postMobileDiagnosticEvent",
    ("POST", "/events/bulk/{envId}"): "postClientSideEvents",
    ("POST", "/events/diagnostic/{envId}"): "postClientSideDiagnosticEvent",
    ("GET", "/sdk/evalx/{envId}/contexts/{context}"): "getClientSideContextEvaluations",
    ("GET", "/sdk/evalx/{envId}/users/{context}"): "getClientSideUserEvaluations",
    ("GET", "/msdk/evalx/contexts/{context}"): "getMobileContextEvaluations",
    ("GET", "/msdk/evalx/users/{context}"): "getMobileUserEvaluations",
    ("GET", "/sdk/goals/{envId}"): "getClientSideGoals",
}

# LaunchDarkly's error representation of each status. 413 and 415 are refusals LaunchDarkly's document
# describes (where it does) by its generic ``Error``; 503 by ``StatusServiceUnavailable``.
ERROR_SCHEMAS: dict[int, tuple[str, str]] = {
    400: ("InvalidRequestErrorRep", "Invalid request"),
    401: ("UnauthorizedErrorRep", "Invalid access token"),
    403: ("ForbiddenErrorRep", "Forbidden"),
    404: ("NotFoundErrorRep", "Invalid resource identifier"),
    405: ("MethodNotAllowedErrorRep", "Approval is required to make this request"),
    409: ("StatusConflictErrorRep", "Status conflict"),
    413: ("Error", "Payload too large"),
    415: ("Error", "Unsupported media type: send the Content-Type the operation expects"),
    429: ("RateLimitedErrorRep", "Rate limited"),
    503: ("StatusServiceUnavailable", "Service unavailable"),
}
_EXAMPLES = {
    "InvalidRequestErrorRep": ("invalid_request", "Invalid request body"),
    "UnauthorizedErrorRep": ("unauthorized", "Invalid access token"),
    "ForbiddenErrorRep": ("forbidden", "Forbidden. Access to the requested resource was denied."),
    "NotFoundErrorRep": ("not_found", "Invalid resource identifier"),
    "MethodNotAllowedErrorRep": ("method_not_allowed", "Method not allowed"),
    "StatusConflictErrorRep": ("optimistic_locking_error", "Conflict. Optimistic lock error. Try again later."),
    "RateLimitedErrorRep": ("rate_limited", "You've exceeded the API rate limit. Try again later."),
    "StatusServiceUnavailable": ("service_unavailable", "Requested service unavailable"),
    "Error": ("request_entity_too_large", "The request body is too large"),
}

# Statuses a service raises for reasons no route signature shows: 405 where LaunchDarkly's approval gate
# refuses a change (ApprovalRequired), 409 where a key is taken (Conflict) or a stated version is stale
# (OptimisticLockError, including a failing JSON-patch ``test`` op), 404 where the body names a resource.
SERVICE_ERRORS: dict[str, frozenset[int]] = {
    "postProject": frozenset({409}),
    "patchProject": frozenset({409}),
    "postEnvironment": frozenset({409}),
    "patchEnvironment": frozenset({409}),
    "postFeatureFlag": frozenset({405, 409}),
    "patchFeatureFlag": frozenset({405, 409}),
    "deleteFeatureFlag": frozenset({405}),
    "copyFeatureFlag": frozenset({405, 409}),
    "postSegment": frozenset({409}),
    "patchSegment": frozenset({409}),
    "postFlagCopyConfigApprovalRequest": frozenset({409}),
    "postFlagConfigScheduledChanges": frozenset({405}),
    "patchFlagConfigScheduledChange": frozenset({405}),
    "deleteFlagConfigScheduledChanges": frozenset({405}),
    "patchExpiringTargets": frozenset({405}),
    "patchExpiringTargetsForSegment": frozenset({403}),
    "postApprovalRequestApplyForFlag": frozenset({405, 409}),
    "postApprovalRequestApply": frozenset({405, 409}),
    "postApprovalRequest": frozenset({404}),
    "postMembers": frozenset({409}),
    "patchMember": frozenset({409}),
    "postTeam": frozenset({409}),
    "patchTeam": frozenset({409}),
    "patchToken": frozenset({409}),
    # Authenticated by its signature, not a token: 401 a bad one or a stale timestamp, 403 a request its
    # environment's external service does not decide, 404 an unknown request.
    # Its body is read as signed bytes (no body model), through the RequestBodies middleware (413, 415).
    "postApprovalRequestIntegrationCallback": frozenset({401, 403, 404, 413, 415}),
    "patchWebhook": frozenset({409}),
    # 405: a trigger acts without review, so where approval is required only the bypass right sets one up.
    "createTriggerWorkflow": frozenset({405}),
    "patchTriggerWorkflow": frozenset({405}),
    # The secret URL: no access token. 404 an unknown or disabled secret, 429 its rate limits, 400 an action
    # that cannot apply (an archived flag), 413 a body past the limit (the body is otherwise ignored), 405 a
    # trigger set up without approval whose environment now requires approval for the flag.
    "postFlagTriggerFiring": frozenset({400, 404, 405, 413, 429}),
    "postCustomRole": frozenset({409}),
    "patchCustomRole": frozenset({409}),
    "createWorkflowTemplate": frozenset({404, 409}),
}

# The SDK edge answers from the SDK hub (503 until it is ready) and names its credential its own way:
# server-side and mobile keys in ``Authorization`` (401), client-side IDs in the path (404).
_SDK_SERVER = frozenset({401, 503})
_SDK_CLIENT = frozenset({404, 503})
SDK_ERRORS: dict[str, frozenset[int]] = {
    "getSdkLatestFlags": _SDK_SERVER,
    "getSdkFlags": _SDK_SERVER,
    "getSdkLatestFlag": _SDK_SERVER | {404},
    "getSdkFlag": _SDK_SERVER | {404},
    "getSdkLatestSegments": _SDK_SERVER,
    "getSdkLatestSegment": _SDK_SERVER | {404},
    "getSdkSegment": _SDK_SERVER | {404},
    "postServerEvents": _SDK_SERVER | {400, 413},
    "postServerDiagnosticEvent": _SDK_SERVER | {413},
    "postMobileEventsLegacy": _SDK_SERVER | {400, 413},
    "postMobileEvents": _SDK_SERVER | {400, 413},
    "postMobileEventsBulk": _SDK_SERVER | {400, 413},
    "postMobileDiagnosticEvent": _SDK_SERVER | {413},
    "postClientSideEvents": _SDK_CLIENT | {400, 413},
    "postClientSideDiagnosticEvent": _SDK_CLIENT | {413},
    "getClientSideContextEvaluations": _SDK_CLIENT | {400},
    "getClientSideUserEvaluations": _SDK_CLIENT | {400},
    "getMobileContextEvaluations": _SDK_SERVER | {400},
    "getMobileUserEvaluations": _SDK_SERVER | {400},
    "getClientSideGoals": _SDK_CLIENT,
    "getHealth": frozenset(),
    "getReadiness": frozenset(),  # its 503 is a readiness report, documented with the route, not an error
}
# Operations answering 202 with no body (SDK events), rather than FastAPI's default "200, some JSON".
_ACCEPTED = {name for name in SDK_ERRORS if name.startswith("post")}

# Lists filtered by the path's keys, which look nothing up: unknown keys list nothing (200, no 404).
_FILTERS_BY_PATH: set[str] = set()

# Reads that check no permission: any authenticated caller, whatever its role, gets an answer (its identity,
# its own notifications).
_UNGUARDED_READS = {"getCallerIdentity", "getNotifications"}

# Operations authenticated by a signature instead of an access token (external approval services).
SIGNED_OPERATIONS = {"postApprovalRequestIntegrationCallback"}

# Paths whose every request passes the ``RequestBodies`` middleware (400 for a NUL in URL or body).
_GUARDED_PREFIXES = ("/api/", "/auth/")
# Methods OpenAPI can describe; the SDK's REPORT routes (JSON context in the body) cannot be.
DOCUMENTED_METHODS = ("GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS")

_KEY = {"minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]*$"}
_NAME = {"minLength": 1}


def _enum(values: Iterable[Any]) -> dict[str, Any]:
    return {"enum": [getattr(v, "value", v) for v in values]}


def _items_enum(values: Iterable[Any]) -> dict[str, Any]:
    return {"items": {"type": "string", **_enum(values)}}


# Component -> property -> JSON-schema keywords the services enforce on it (``domain/ids.py`` for keys,
# ``domain/projects.py``, ``domain/copy.py``, ``services/tokens.py``, ``services/approvals.py`` …).
BODY_CONSTRAINTS: dict[str, dict[str, dict[str, Any]]] = {
    "ProjectPost": {"key": _KEY, "name": _NAME},
    "EnvironmentPost": {
        "key": _KEY,
        "name": _NAME,
        "color": {"pattern": "^[0-9A-Fa-f]{6}$"},
        "defaultTtl": {"minimum": 0, "maximum": 60},
    },
    "FeatureFlagBody": {"key": _KEY, "name": _NAME},
    "SegmentBody": {"key": _KEY, "name": _NAME},
    "TeamPostInput": {"key": _KEY, "name": _NAME},
    "NewMemberForm": {"role": _enum(Role)},
    "AccessTokenPost": {
        "role": _enum(TOKEN_ROLES),
        "defaultApiVersion": _enum(sorted(int(v) for v in API_VERSIONS if v.isdigit())),
    },
    "CreateFlagConfigApprovalRequestRequest": {
        "description": {"minLength": 1, "maxLength": MAX_DESCRIPTION},
        "instructions": {"minItems": 1},
    },
    "CreateApprovalRequestRequest": {
        "description": {"minLength": 1, "maxLength": MAX_DESCRIPTION},
        "instructions": {"minItems": 1},
    },
    "CreateCopyFlagConfigApprovalRequestRequest": {
        "description": {"minLength": 1, "maxLength": MAX_DESCRIPTION},
        "includedActions": _items_enum(APPROVAL_COPY_ACTIONS),
        "excludedActions": _items_enum(APPROVAL_COPY_ACTIONS),
    },
    "FlagCopyConfigPost": {"includedActions": _items_enum(CopyAction), "excludedActions": _items_enum(CopyAction)},
    "PostApprovalRequestReviewRequest": {"kind": _enum(("approve", "comment", "decline"))},
    "CustomRolePost": {
        "key": _KEY,
        "name": _NAME,
        "policy": {"minItems": 1},
        "basePermissions": _enum(BASE_PERMISSIONS),
    },
}

# Operation id -> query parameter -> JSON-schema keywords the handler enforces.
QUERY_CONSTRAINTS: dict[str, dict[str, dict[str, Any]]] = {
    "getAuditLogEntries": {"limit": {"minimum": 1, "maximum": 20}},
    "postAuditLogEntries": {"limit": {"minimum": 1, "maximum": 20}},
    "getFeatureFlags": {"sort": _enum(("creationDate", "-creationDate", "key", "-key", "name", "-name"))},
    "getProjects": {"sort": _enum(("createdOn", "-createdOn", "name", "-name"))},
    "evaluateContextInstance": {"sort": _enum(("key", "-key", "name", "-name"))},
}


def api_routes(routes: Iterable[BaseRoute]) -> Iterator[APIRoute]:
    """Every APIRoute under ``routes``, through included routers (eager or lazy) and mounts."""
    for route in routes:
        original = getattr(route, "original_router", None)
        if original is not None:
            yield from api_routes(original.routes)
        elif isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "routes"):
            yield from api_routes(route.routes)


def _depends_on(route: APIRoute, call: Callable[..., Any]) -> bool:
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        if dependency.call is call:
            return True
        pending.extend(dependency.dependencies)
    return False


def authenticates(route: APIRoute) -> bool:
    """Whether the route authenticates its caller with an access token or a session (``get_actor``)."""
    return _depends_on(route, get_actor)


def operation_id(method: str, route: APIRoute) -> str:
    return OPERATION_IDS.get((method, route.path_format)) or _camel(route.name)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def declared_errors(method: str, route: APIRoute) -> frozenset[int]:
    """The error statuses ``method`` on ``route`` can really answer, derived from what it is built on:

    - under /api/ and /auth/, the NUL guard and request validation answer 400;
    - an authenticated route answers 401 (no or a bad credential), 403 (a role without the permission,
      a session write without our Origin, a beta resource without ``LD-API-Version: beta``), 429 (the
      per-token rate limit) and, with path parameters, 404 for a resource that does not exist;
    - a route that takes a body answers 413 (too large) and, under /api/ and /auth/, 415 (not JSON);
    - a route that reaches the store answers 503 while it is unavailable, and a write 409 when PostgreSQL
      aborts it for a concurrent one (deadlock or serialization failure: retry);
    - sign-in answers 401 (wrong password) and 429 (throttled); the SDK edge is listed in SDK_ERRORS.
    """
    name = operation_id(method, route)
    if name in SDK_ERRORS:
        return SDK_ERRORS[name]
    statuses: set[int] = set(SERVICE_ERRORS.get(name, ()))
    guarded = route.path_format.startswith(_GUARDED_PREFIXES)
    if guarded:
        statuses.add(400)
    if authenticates(route):
        statuses |= {401, 429}
        if name not in _UNGUARDED_READS or method != "GET":
            statuses.add(403)
        if route.param_convertors and name not in _FILTERS_BY_PATH:  # path parameters, read by handler or dependency
            statuses.add(404)
    if route.body_field is not None:
        statuses.add(413)
        if guarded:
            statuses.add(415)
    if _depends_on(route, get_deps):
        statuses.add(503)
        if guarded and method in _WRITES:
            statuses.add(409)
    if name == "login":
        statuses |= {401, 429}
    return frozenset(statuses)


def _error_components() -> dict[str, Any]:
    components = {}
    for name, (code, message) in _EXAMPLES.items():
        components[name] = {
            "type": "object",
            "title": name,
            "properties": {
                "code": {"type": "string", "description": "Specific error code encountered", "example": code},
                "message": {"type": "string", "description": "Description of the error", "example": message},
                "id": {"type": "string", "description": "The request's id, for support"},
            },
            "required": ["code", "message"],
            "example": {"code": code, "message": message},
        }
    return components


def _error_response(status: int) -> dict[str, Any]:
    component, description = ERROR_SCHEMAS[status]
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{component}"}}},
    }


def _constrain(schema: dict[str, Any], keywords: dict[str, Any]) -> None:
    """Add ``keywords`` to a property schema, to each branch of an ``anyOf`` that is not ``null``."""
    branches = [b for b in schema.get("anyOf", []) if b.get("type") != "null"] or [schema]
    for branch in branches:
        for keyword, value in keywords.items():
            if keyword == "items":
                branch.setdefault("items", {}).update(value)
            else:
                branch.setdefault(keyword, value)


def _apply_body_constraints(schemas: dict[str, Any]) -> None:
    for component, properties in BODY_CONSTRAINTS.items():
        for prop, keywords in properties.items():
            _constrain(schemas[component]["properties"][prop], keywords)


def _operation(document: dict[str, Any], method: str, route: APIRoute) -> dict[str, Any] | None:
    item = document["paths"].get(route.path_format)
    return None if item is None else item.get(method.lower())


def _document_operation(operation: dict[str, Any], method: str, route: APIRoute) -> None:
    name = operation_id(method, route)
    operation["operationId"] = name
    responses = operation["responses"]
    responses.pop("422", None)
    if name in _ACCEPTED:
        responses.pop("200", None)
        responses["202"] = {"description": "Accepted"}
    for status in sorted(declared_errors(method, route)):
        responses.setdefault(str(status), _error_response(status))
    if authenticates(route):
        operation["security"] = [{"ApiKey": []}, {"Session": []}]
    elif name in SIGNED_OPERATIONS:
        operation["security"] = [{"ApprovalServiceSignature": []}]
    for parameter in operation.get("parameters", []):
        keywords = QUERY_CONSTRAINTS.get(name, {}).get(parameter["name"])
        if keywords and parameter["in"] == "query":
            _constrain(parameter["schema"], keywords)


def build_document(app: FastAPI) -> dict[str, Any]:
    """The document FastAPI generates for ``app``, post-processed as the module docstring says."""
    document = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version=app.openapi_version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    for path, item in list(document["paths"].items()):
        for method in [m for m in item if m.upper() not in DOCUMENTED_METHODS]:
            del item[method]  # REPORT: OpenAPI has no such operation
        if not item:
            del document["paths"][path]
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas.update(_error_components())
    _apply_body_constraints(schemas)
    for route in api_routes(app.routes):
        for method in sorted(route.methods or ()):
            operation = _operation(document, method, route)
            if operation is not None:
                _document_operation(operation, method, route)
    document["components"]["securitySchemes"] = {
        "ApiKey": {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "An access token (flagward tokens create, or POST /api/v2/tokens)",
        },
        "Session": {"type": "apiKey", "in": "cookie", "name": "flagward_session", "description": "A console session"},
        "ApprovalServiceSignature": {
            "type": "apiKey",
            "in": "header",
            "name": "X-Flagward-Signature",
            "description": "An external approval service's hex HMAC-SHA256 of '<X-Flagward-Timestamp>.<body>' "
            "with its shared secret (flagward's own; see the README)",
        },
    }
    return document


def install(app: FastAPI) -> None:
    """Serve :func:`build_document` at ``app.openapi_url``, built once on first use."""
    built: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        if not built:
            built.update(build_document(app))
        return built

    app.openapi = openapi  # type: ignore[method-assign]
