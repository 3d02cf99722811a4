"""Arranging approval-request scenarios on a real server: a project with ``production`` (approval
settings chosen per test) and ``staging``, flags, members with personal tokens, direct semantic patches
and audit-log reads. Arranging goes through the admin token; acting goes through the official client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import launchdarkly_api
from launchdarkly_api.api.account_members_api import AccountMembersApi
from launchdarkly_api.api.approvals_api import ApprovalsApi
from launchdarkly_api.api.feature_flags_api import FeatureFlagsApi
from launchdarkly_api.api.projects_api import ProjectsApi

from tests.support import accounts, ldapi
from tests.support.accounts import unique
from tests.support.recording import Recorder

SEMANTIC = "application/json; domain-model=launchdarkly.semanticpatch"
PRODUCTION, STAGING = "production", "staging"
BETA = {"LD-API-Version": "beta"}


@dataclass(frozen=True)
class Person:
    """A member and a personal token of theirs."""

    id: str
    email: str
    role: str
    token: str


@dataclass
class Arena:
    base_url: str
    admin_token: str
    recorder: Recorder = field(default_factory=Recorder)
    project: str = field(default_factory=lambda: unique("appr"))

    def __post_init__(self) -> None:
        self.admin = self.recorder.client(self.base_url, self.admin_token)
        self.http = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": self.admin_token},
            timeout=60.0,
            event_hooks={"response": [self.recorder.httpx_hook]},
        )

    def close(self) -> None:
        self.http.close()

    # -- arranging ---------------------------------------------------------------------------------

    def create_project(self, **production_settings: Any) -> None:
        """The project with production (settings given in camelCase) and staging."""
        environments = [
            launchdarkly_api.EnvironmentPost(key=PRODUCTION, name="Production", color="ff0000"),
            launchdarkly_api.EnvironmentPost(key=STAGING, name="Staging", color="00ff00"),
        ]
        post = launchdarkly_api.ProjectPost(key=self.project, name="Approvals", environments=environments)
        ProjectsApi(self.admin).post_project(post)
        if production_settings:
            self.settings(PRODUCTION, **production_settings)

    def settings(self, env: str, resource_kind: str = "flag", **values: Any) -> dict[str, Any]:
        """PATCH the project's approval settings (beta) for one environment and resource kind."""
        body = {"environmentKey": env, "resourceKind": resource_kind, **values}
        response = self.http.patch(
            f"/api/v2/approval-requests/projects/{self.project}/settings", json=body, headers=BETA
        )
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def create_flag(self, key: str, **fields: Any) -> launchdarkly_api.FeatureFlag:
        body = launchdarkly_api.FeatureFlagBody(key=key, name=key.title(), **fields)
        return FeatureFlagsApi(self.admin).post_feature_flag(self.project, body)

    def semantic(self, flag: str, env: str | None, *instructions: dict[str, Any], **params: Any) -> httpx.Response:
        """A direct semantic patch of a flag, as the admin (who bypasses approvals) unless ``token``."""
        token = params.pop("token", self.admin_token)
        body: dict[str, Any] = {"instructions": list(instructions)}
        if env is not None:
            body["environmentKey"] = env
        return self.http.patch(
            f"/api/v2/flags/{self.project}/{flag}",
            content=json.dumps(body),
            headers={"Content-Type": SEMANTIC, "Authorization": token},
            params=params,
        )

    def change(self, flag: str, env: str | None, *instructions: dict[str, Any], **params: Any) -> dict[str, Any]:
        response = self.semantic(flag, env, *instructions, **params)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def get_flag(self, flag: str) -> dict[str, Any]:
        response = self.http.get(f"/api/v2/flags/{self.project}/{flag}")
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def person(self, role: str = "writer") -> Person:
        """A member with a personal token of their role (minted through a signed-in session)."""
        who = accounts.account(self.admin, self.base_url, role)
        return Person(who.id, who.email, role, accounts.personal_token(self.base_url, who))

    def set_role(self, person: Person, role: str) -> Person:
        patch = [launchdarkly_api.PatchOperation(op="replace", path="/role", value=role)]
        AccountMembersApi(self.admin).patch_member(person.id, patch)
        return Person(person.id, person.email, role, person.token)

    # -- acting ------------------------------------------------------------------------------------

    def client(self, who: Person | str) -> launchdarkly_api.ApiClient:
        """An official client acting as ``who`` (a Person or a token), recorded."""
        return self.recorder.client(self.base_url, who.token if isinstance(who, Person) else who)

    def approvals(self, who: Person | str) -> ApprovalsApi:
        return ApprovalsApi(self.client(who))

    def audit(self, spec: str) -> Iterator[dict[str, Any]]:
        """Audit entries on resources matching ``spec``, newest first (every page)."""
        params: dict[str, Any] = {"spec": spec, "limit": 20}
        while True:
            response = self.http.get("/api/v2/auditlog", params=params)
            assert response.status_code == 200, response.text
            items = response.json()["items"]
            yield from items
            if len(items) < 20:
                return
            params["before"] = items[-1]["date"]

    def flag_spec(self, flag: str, env: str = PRODUCTION) -> str:
        return f"proj/{self.project}:env/{env}:flag/{flag}"


def admin_client(base_url: str, token: str) -> launchdarkly_api.ApiClient:
    return ldapi.client(base_url, token)


def refused(call: Any) -> tuple[int, dict[str, Any]]:
    """Run a call the server must refuse; its status and error body."""
    try:
        call()
    except launchdarkly_api.ApiException as exc:
        return int(exc.status), json.loads(exc.body or "{}")
    raise AssertionError("the call was not refused")


def variation_ids(flag: dict[str, Any]) -> list[str]:
    return [v["_id"] for v in flag["variations"]]


def email_rule(variation_id: str, domain: str = "@example.com") -> dict[str, Any]:
    clause = {"contextKind": "user", "attribute": "email", "op": "endsWith", "negate": False, "values": [domain]}
    return {"kind": "addRule", "variationId": variation_id, "clauses": [clause]}


def conformance_problems(recorder: Recorder) -> list[str]:
    """Every way the recorded responses differ from LaunchDarkly's OpenAPI document."""
    from tests.support.openapi import load_spec

    spec = load_spec()
    return [
        problem
        for exchange in recorder.exchanges
        for problem in spec.problems(
            exchange.method, exchange.url, exchange.status, exchange.body, exchange.content_type
        )
    ]
