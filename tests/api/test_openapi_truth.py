"""flagward's OpenAPI document tells the truth: it documents every route the app serves and nothing else,
names each operation as LaunchDarkly does, declares the errors each operation really answers in
LaunchDarkly's error schemas (never FastAPI's 422), carries LaunchDarkly's ``ApiKey`` security scheme, and
shows the constraints the server enforces.

How "the errors it really answers" is held honest, in two directions:

- *declared ⇒ answered*: for each error every operation of one kind answers the same way, the server is
  probed for it on every such operation (``test_each_declared_*``): 401 without a credential; 400 for a bad
  ``LD-API-Version`` or a NUL in the query; 403 for a session without the right role or Origin; 404 for
  unknown keys in the path. Each probe also asserts the converse: an operation that does not declare the
  status does not answer it. Every probed answer must validate against the schema the document declares.
  The service-specific 405/409 are provoked on a sample (``test_the_service_errors_are_answered``); 413, 415
  and the REST rate limit's 429 are declared ahead of their implementations (issue 8, sections 2, 4 and 7).
- *answered ⇒ declared*: every exchange recorded by the API test modules that opt in to ``conforms`` must
  have a status flagward's own document declares for that operation (``tests/support/conformance.py``).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from flagward.config import Settings
from flagward.domain.ids import MAX_KEY_LENGTH
from flagward.http.app import create_app
from flagward.http.openapi import DOCUMENTED_METHODS, api_routes
from tests.fakes import fake_deps
from tests.support.accounts import PASSWORD, SESSION_COOKIE, unique, unique_email
from tests.support.databases import database_url
from tests.support.openapi import ERROR_SCHEMAS, Spec, load_spec
from tests.support.server import ServerProcess

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
# Starlette routes of the framework itself: the document, and the interactive page that shows it.
FRAMEWORK_PATHS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/docs/assets", "/console/static"}
# Statuses whose body is LaunchDarkly's error representation when flagward answers them.
OUR_ERROR_SCHEMAS = {**ERROR_SCHEMAS, 413: "Error", 415: "Error", 503: "StatusServiceUnavailable"}


@pytest.fixture(scope="module")
def app() -> FastAPI:
    deps, _, _ = fake_deps()
    return create_app(Settings(database_url="sqlite://"), deps)


@pytest.fixture(scope="module")
def document(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield method.upper(), path, operation


def _normalized(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


# ---- the route table


def _is_page(route: Any) -> bool:
    return str(route.endpoint.__module__).startswith(("flagward.http.console", "flagward.http.docs"))


def test_every_route_is_documented_with_each_of_its_methods(app: FastAPI, document: dict[str, Any]) -> None:
    # Pages (the console, and /docs: Swagger UI for this document) are HTML for people, not API operations.
    served = {(m, r.path_format) for r in api_routes(app.routes) for m in r.methods or () if not _is_page(r)}
    documented = {(method, path) for method, path, _ in _operations(document)}
    undocumentable = {(m, p) for m, p in served if m not in DOCUMENTED_METHODS}
    assert {m for m, _ in undocumentable} <= {"REPORT"}  # OpenAPI has no REPORT operation
    assert served - undocumentable - documented == set()
    assert documented - served == set(), "documented operations no route serves"
    others = {getattr(r, "path", None) for r in app.routes if not hasattr(r, "original_router")}
    assert others - {r.path for r in api_routes(app.routes)} <= FRAMEWORK_PATHS


def test_the_sdk_edge_and_health_are_documented(document: dict[str, Any]) -> None:
    paths = document["paths"]
    assert paths["/healthz"]["get"]["operationId"] == "getHealth"
    assert paths["/bulk"]["post"]["operationId"] == "postServerEvents"
    assert set(paths["/bulk"]["post"]["responses"]) >= {"202", "401"}
    assert "/sdk/evalx/{envId}/context" not in paths  # served for REPORT only, which OpenAPI cannot describe


# ---- LaunchDarkly's document


def test_operation_ids_are_launchdarkly_s_for_every_operation_it_has(document: dict[str, Any]) -> None:
    theirs = {
        (method.upper(), _normalized(path)): operation["operationId"]
        for path, item in load_spec().document["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }
    ours = {(method, path): operation["operationId"] for method, path, operation in _operations(document)}
    shared = {key: name for key, name in ours.items() if (key[0], _normalized(key[1])) in theirs}
    assert len(shared) >= 64  # every /api/v2 operation flagward serves
    mismatched = {key: (name, theirs[key[0], _normalized(key[1])]) for key, name in shared.items()}
    assert {k: v for k, v in mismatched.items() if v[0] != v[1]} == {}
    assert ours[("POST", f"{FLAG_ENV}/approval-requests-flag-copy")] == "postFlagCopyConfigApprovalRequest"
    own = {key: name for key, name in ours.items() if key not in shared}
    assert all(re.fullmatch(r"[a-z][A-Za-z0-9]*", name) for name in own.values()), own
    assert not set(own.values()) & set(theirs.values()), "one of flagward's own ids is a LaunchDarkly id"
    assert len(set(ours.values())) == len(ours), "operation ids are unique"


FLAG_ENV = "/api/v2/projects/{projectKey}/flags/{featureFlagKey}/environments/{environmentKey}"


def test_no_operation_declares_422(document: dict[str, Any]) -> None:
    assert [(m, p) for m, p, op in _operations(document) if "422" in op["responses"]] == []
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_each_declared_error_is_launchdarkly_s_error_representation(document: dict[str, Any]) -> None:
    theirs = load_spec().document["components"]["schemas"]
    ours = document["components"]["schemas"]
    for method, path, operation in _operations(document):
        for status, response in operation["responses"].items():
            if status[0] in "45" and (method, path) != ("GET", "/readyz"):
                component = OUR_ERROR_SCHEMAS[int(status)]
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": f"#/components/schemas/{component}"}, (method, path, status)
    for component in set(OUR_ERROR_SCHEMAS.values()):
        assert ours[component]["required"] == theirs[component]["required"] == ["code", "message"]
        for field in ("code", "message"):
            assert ours[component]["properties"][field]["type"] == theirs[component]["properties"][field]["type"]


def test_the_api_key_scheme_guards_the_rest_api_only(document: dict[str, Any]) -> None:
    ld_scheme = load_spec().document["components"]["securitySchemes"]["ApiKey"]
    assert {k: v for k, v in document["components"]["securitySchemes"]["ApiKey"].items() if k != "description"} == (
        ld_scheme
    )
    for method, path, operation in _operations(document):
        signed = path in SIGNED
        guarded = path.startswith("/api/v2/") and not signed
        assert ({"ApiKey": []} in operation.get("security", [])) is guarded, (method, path)
        assert ({"ApprovalServiceSignature": []} in operation.get("security", [])) is signed, (method, path)
        assert ("401" in operation["responses"]) is (guarded or signed or path in SDK_KEYED or path == "/auth/login"), (
            path
        )


# Authenticated by a signature, not a token: an external approval service's callback.
SIGNED = {"/api/v2/approval-requests/{id}/integration-callback"}


SDK_KEYED = {
    "/sdk/latest-flags",
    "/sdk/flags",
    "/sdk/latest-flags/{key}",
    "/sdk/flags/{key}",
    "/sdk/latest-segments",
    "/sdk/latest-segments/{key}",
    "/sdk/segments/{key}",
    "/bulk",
    "/diagnostic",
    "/mobile",
    "/mobile/events",
    "/mobile/events/bulk",
    "/mobile/events/diagnostic",
    "/msdk/evalx/contexts/{context}",
    "/msdk/evalx/users/{context}",
}


def test_request_schemas_show_the_constraints_the_server_enforces(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    key = schemas["FeatureFlagBody"]["properties"]["key"]
    assert key["pattern"] == "^[A-Za-z0-9][A-Za-z0-9._-]*$"
    assert (key["minLength"], key["maxLength"]) == (1, MAX_KEY_LENGTH)
    assert schemas["NewMemberForm"]["properties"]["role"]["enum"] == ["no_access", "reader", "writer", "admin", "owner"]
    assert schemas["AccessTokenPost"]["properties"]["role"]["enum"] == ["reader", "writer", "admin"]
    assert schemas["CreateFlagConfigApprovalRequestRequest"]["properties"]["instructions"]["minItems"] == 1
    included = schemas["FlagCopyConfigPost"]["properties"]["includedActions"]["anyOf"][0]["items"]
    assert "updateFallthrough" in included["enum"]


# ---- the server's real answers


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One SQLite-backed server: the probes are about the HTTP edge, which both stores share."""
    workdir = tmp_path_factory.mktemp("truth")
    with database_url("sqlite", workdir) as url, ServerProcess(database_url=url, workdir=workdir) as process:
        yield process


@pytest.fixture(scope="module")
def served(live: ServerProcess) -> Spec:
    """The document the live server serves, with validation of answers against it."""
    return Spec(httpx.get(f"{live.url}/openapi.json").json())


@pytest.fixture(scope="module")
def reader_session(live: ServerProcess) -> str:
    email = unique_email("reader")
    admin = {"Authorization": live.admin_token}
    created = httpx.post(
        f"{live.url}/api/v2/members", headers=admin, json=[{"email": email, "role": "reader", "password": PASSWORD}]
    )
    assert created.status_code == 201, created.text
    signed_in = httpx.post(f"{live.url}/auth/login", json={"email": email, "password": PASSWORD})
    assert signed_in.status_code == 200, signed_in.text
    return str(signed_in.cookies[SESSION_COOKIE])


@pytest.fixture(scope="module")
def no_access_token(live: ServerProcess) -> str:
    """A personal token whose member was then demoted to no access: it authenticates, and its role is the
    weaker of the two (``no_access``), so every permission check refuses it."""
    email = unique_email("demoted")
    admin = {"Authorization": live.admin_token}
    created = httpx.post(
        f"{live.url}/api/v2/members", headers=admin, json=[{"email": email, "role": "reader", "password": PASSWORD}]
    )
    assert created.status_code == 201, created.text
    member_id = created.json()["items"][0]["_id"]
    signed_in = httpx.post(f"{live.url}/auth/login", json={"email": email, "password": PASSWORD})
    assert signed_in.status_code == 200, signed_in.text
    token = httpx.post(
        f"{live.url}/api/v2/tokens",
        cookies={SESSION_COOKIE: signed_in.cookies[SESSION_COOKIE]},
        headers={"Origin": live.url},
        json={"role": "reader"},
    )
    assert token.status_code == 201, token.text
    demote = [{"op": "replace", "path": "/role", "value": "no_access"}]
    assert httpx.patch(f"{live.url}/api/v2/members/{member_id}", headers=admin, json=demote).status_code == 200
    return str(token.json()["token"])


def _beta(path: str) -> dict[str, str]:
    """The header a beta resource needs before anything else is checked."""
    return {"LD-API-Version": "beta"} if path.startswith("/api/v2/approval-requests/projects/") else {}


CONTEXT = base64.urlsafe_b64encode(b'{"kind": "user", "key": "probe"}').decode().rstrip("=")


def _url(path: str) -> str:
    """``path`` with unknown keys (and a well-formed context, which SDK routes decode first)."""
    path = path.replace("{context}", CONTEXT)
    return re.sub(r"\{[^}]+\}", "no-such-thing-404", path)


def _body(operation: dict[str, Any]) -> dict[str, Any]:
    """An empty JSON object for an operation with a JSON body (enough to pass JSON decoding)."""
    content = operation.get("requestBody", {}).get("content", {})
    return {"json": {}} if "application/json" in content else {}


_TRANSPORT = httpx.HTTPTransport()


def _probe(served: Spec, base: str, method: str, path: str, operation: dict[str, Any], **kwargs: Any) -> httpx.Response:
    url = kwargs.pop("url", None) or f"{base}{_url(path)}"
    cookies = kwargs.pop("cookies", None)
    with httpx.Client(cookies=cookies, transport=_TRANSPORT) as client:  # one pooled transport: seconds, not tens
        response = client.request(method, url, **_body(operation), **kwargs)
    content_type = response.headers.get("content-type")
    problems = served.problems(method, url, response.status_code, response.content, content_type)
    assert problems == [], problems
    return response


def test_each_declared_401_is_answered_without_a_credential(served: Spec, live: ServerProcess) -> None:
    wrong = []
    for method, path, operation in _operations(served.document):
        if path in ("/auth/login", "/healthz", "/readyz"):
            continue  # sign-in's 401 is a wrong password (below); health checks take no credential
        status = _probe(served, live.url, method, path, operation, headers=_beta(path)).status_code
        if (status == 401) is not ("401" in operation["responses"]):
            wrong.append((method, path, status))
    assert wrong == []
    wrong = httpx.post(f"{live.url}/auth/login", json={"email": unique_email(), "password": "wrong password"})
    assert wrong.status_code == 401
    assert served.problems("POST", f"{live.url}/auth/login", 401, wrong.content, "application/json") == []


def test_each_declared_400_is_answered(served: Spec, live: ServerProcess) -> None:
    for method, path, operation in _operations(served.document):
        if "security" in operation and not _beta(path) and path not in SIGNED:  # an unknown API version
            headers = {"Authorization": live.admin_token, "LD-API-Version": "19990101"}
            status = _probe(served, live.url, method, path, operation, headers=headers).status_code
        else:  # the NUL guard
            url = f"{live.url}{_url(path)}?probe=%00"
            status = _probe(served, live.url, method, path, operation, url=url).status_code
        if path.startswith(("/api/", "/auth/")):
            assert status == 400, (method, path, status)
        assert ("400" in operation["responses"]) or status != 400, (method, path)


def test_each_declared_403_is_answered_to_a_caller_without_the_right(
    served: Spec, live: ServerProcess, no_access_token: str, reader_session: str
) -> None:
    """Reads with the token of a member demoted to no access; writes with a session that sends no Origin
    (refused before the body is validated)."""
    wrong = []
    for method, path, operation in _operations(served.document):
        if "security" not in operation or path in SIGNED:
            continue  # the callback's 403 (a request no external service decides) is provoked by its own tests
        if method == "GET":
            kwargs: dict[str, Any] = {"headers": {"Authorization": no_access_token, **_beta(path)}}
        else:
            kwargs = {"headers": _beta(path), "cookies": {SESSION_COOKIE: reader_session}}
        status = _probe(served, live.url, method, path, operation, **kwargs).status_code
        if (status == 403) is not ("403" in operation["responses"]):
            wrong.append((method, path, status))
    assert wrong == []
    beta = httpx.get(f"{live.url}/api/v2/approval-requests/projects/p/settings", headers={"Authorization": "x"})
    assert beta.status_code == 403  # a beta resource without LD-API-Version: beta, before anything else


def test_each_declared_404_is_answered_for_unknown_keys(served: Spec, live: ServerProcess) -> None:
    probed, wrong = 0, []
    for method, path, operation in _operations(served.document):
        if "security" not in operation or "{" not in path or "requestBody" in operation:
            continue  # with a body, its validation comes first: those 404s are provoked by the API tests
        headers = {"Authorization": live.admin_token}
        status = _probe(served, live.url, method, path, operation, headers={**headers, **_beta(path)}).status_code
        if (status == 404) is not ("404" in operation["responses"]):
            wrong.append((method, path, status))
        probed += 1
    assert wrong == []
    assert probed >= 30


def test_the_service_errors_are_answered(served: Spec, live: ServerProcess, request: pytest.FixtureRequest) -> None:
    """409 for a key that is taken and for a failing JSON-patch test; 405 from the approval gate."""
    admin = httpx.Client(base_url=live.url, headers={"Authorization": live.admin_token})
    request.addfinalizer(admin.close)
    project = unique("truth")
    answers = []

    def call(method: str, url: str, **kwargs: Any) -> httpx.Response:
        response = admin.request(method, url, **kwargs)
        problems = served.problems(method, live.url + url, response.status_code, response.content, "application/json")
        assert problems == [], problems
        answers.append(response.status_code)
        return response

    env = {"key": "production", "name": "Production", "color": "FF0000"}
    call("POST", "/api/v2/projects", json={"key": project, "name": project, "environments": [env]})
    assert call("POST", "/api/v2/projects", json={"key": project, "name": project}).status_code == 409
    test_op = [{"op": "test", "path": "/name", "value": "not the name"}]
    assert call("PATCH", f"/api/v2/projects/{project}", json=test_op).status_code == 409
    settings = {"approvalSettings": {"required": True, "minNumApprovals": 1}}
    settings_patch = [{"op": "replace", "path": "/approvalSettings", "value": settings["approvalSettings"]}]
    assert call("PATCH", f"/api/v2/projects/{project}/environments/production", json=settings_patch).is_success
    call("POST", f"/api/v2/flags/{project}", json={"key": "gated", "name": "gated"})
    writer = call("POST", "/api/v2/tokens", json={"role": "writer", "serviceToken": True})
    assert writer.status_code == 201, writer.text
    turn_on = {"environmentKey": "production", "instructions": [{"kind": "turnFlagOn"}]}
    semantic = {"Content-Type": "application/json; domain-model=launchdarkly.semanticpatch"}
    gated = httpx.patch(
        f"{live.url}/api/v2/flags/{project}/gated",
        headers={**semantic, "Authorization": writer.json()["token"]},
        content=json.dumps(turn_on),
    )
    assert gated.status_code == 405, gated.text
    url = f"{live.url}/api/v2/flags/{project}/gated"
    assert served.problems("PATCH", url, 405, gated.content, "application/json") == []


def test_the_document_is_served_as_built(app: FastAPI, served: Spec) -> None:
    assert served.document == app.openapi()
