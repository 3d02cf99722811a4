"""Project approval settings (beta), per resource kind, with the official client on both stores: they
are each environment's ``approvalSettings`` (flags) and its segment settings, kept consistent both
ways, validated, audited, and they govern what needs a request."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import launchdarkly_api
import pytest
from launchdarkly_api.api.approvals_beta_api import ApprovalsBetaApi
from launchdarkly_api.api.environments_api import EnvironmentsApi

from tests.support.accounts import unique
from tests.support.approvals import BETA, PRODUCTION, STAGING, Arena, conformance_problems, refused
from tests.support.openapi import load_spec
from tests.support.server import ServerProcess

SETTINGS = "/api/v2/approval-requests/projects/{projectKey}/settings"
FIELDS = ("required", "minNumApprovals", "canReviewOwnRequest", "canApplyDeclinedChanges", "requiredApprovalTags")


@pytest.fixture
def arena(server: ServerProcess) -> Iterator[Arena]:
    arena = Arena(server.url, server.admin_token, project=unique("sett"))
    arena.create_project()
    yield arena
    arena.close()
    problems = conformance_problems(arena.recorder)
    assert problems == [], "\n".join(problems)


def _beta(arena: Arena, token: str | None = None) -> ApprovalsBetaApi:
    """The official client sends its default ``LD-API-Version: 20240415`` over the ``ld_api_version``
    argument, so a beta caller sets the default header, as LaunchDarkly's own docs tell users to."""
    api_client = arena.client(token or arena.admin_token)
    api_client.set_default_header("LD-API-Version", "beta")
    return ApprovalsBetaApi(api_client)


def _settings(arena: Arena, **params: Any) -> dict[str, dict[str, dict[str, Any]]]:
    """GET through the official client, as plain camelCase documents."""
    got = _beta(arena).get_approval_request_settings("beta", arena.project, **params)
    return {kind: value.to_dict() for kind, value in got.items()}


def _environment_settings(arena: Arena, env: str) -> dict[str, Any]:
    return EnvironmentsApi(arena.admin).get_environment(arena.project, env).approval_settings.to_dict()


def _patch(arena: Arena, env: str, kind: str, **values: Any) -> dict[str, Any]:
    body = launchdarkly_api.ApprovalRequestSettingsPatch(environment_key=env, resource_kind=kind, **values)
    result = _beta(arena).patch_approval_request_settings("beta", arena.project, body)
    return {k: v.to_dict() for k, v in result.items()}


def test_both_operations_are_beta(arena: Arena) -> None:
    path = SETTINGS.format(projectKey=arena.project)
    for response in (
        arena.http.get(path),
        arena.http.patch(path, json={"environmentKey": PRODUCTION, "resourceKind": "flag", "required": True}),
    ):
        assert (response.status_code, response.json()["code"]) == (403, "forbidden")
        assert "beta" in response.json()["message"]
    assert _environment_settings(arena, PRODUCTION)["required"] is False
    recorded = arena.recorder.operations(load_spec().operation)
    assert {("GET", SETTINGS), ("PATCH", SETTINGS)} <= recorded


def test_get_lists_every_environment_for_both_kinds_matching_the_environments(arena: Arena) -> None:
    settings = _settings(arena)
    assert set(settings) == {"flag", "segment"}
    for kind in ("flag", "segment"):
        assert set(settings[kind]["environments"]) == {PRODUCTION, STAGING}
        assert settings[kind]["_default"]["minNumApprovals"] == 1
    for env in (PRODUCTION, STAGING):
        flag_settings = settings["flag"]["environments"][env]
        environment = _environment_settings(arena, env)
        assert {f: flag_settings[f] for f in FIELDS} == {f: environment[f] for f in FIELDS}
    only = _settings(arena, environment_key=STAGING, resource_kind="segment")
    assert list(only) == ["segment"] and list(only["segment"]["environments"]) == [STAGING]
    beta = _beta(arena)
    assert refused(lambda: beta.get_approval_request_settings("beta", arena.project, environment_key="qa"))[0] == 404
    assert refused(lambda: beta.get_approval_request_settings("beta", unique("nope")))[0] == 404
    assert (
        refused(lambda: beta.get_approval_request_settings("beta", arena.project, resource_kind="aiConfig"))[0] == 400
    )


def test_patching_flag_settings_is_the_environments_approval_settings_and_back(arena: Arena) -> None:
    patched = _patch(arena, PRODUCTION, "flag", required=True, min_num_approvals=3, can_review_own_request=True)
    production = patched["flag"]["environments"][PRODUCTION]
    assert (production["required"], production["minNumApprovals"], production["canReviewOwnRequest"]) == (True, 3, True)
    assert production["canApplyDeclinedChanges"] is True  # untouched fields keep their values
    environment = _environment_settings(arena, PRODUCTION)
    assert (environment["required"], environment["minNumApprovals"], environment["canReviewOwnRequest"]) == (
        True,
        3,
        True,
    )
    assert _environment_settings(arena, STAGING)["required"] is False
    assert _settings(arena)["segment"]["environments"][PRODUCTION]["required"] is False

    back = [launchdarkly_api.PatchOperation(op="replace", path="/approvalSettings/minNumApprovals", value=2)]
    EnvironmentsApi(arena.admin).patch_environment(arena.project, PRODUCTION, back)
    assert _settings(arena)["flag"]["environments"][PRODUCTION]["minNumApprovals"] == 2

    entries = list(arena.audit(f"proj/{arena.project}:env/{PRODUCTION}"))
    assert [a["action"] for a in entries[-1]["accesses"]] == ["updateApprovalRequestSettings"]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"environmentKey": PRODUCTION, "resourceKind": "flag", "minNumApprovals": 9}, 400, "minNumApprovals"),
        ({"environmentKey": PRODUCTION, "resourceKind": "flag", "minNumApprovals": 0}, 400, "minNumApprovals"),
        (
            {"environmentKey": PRODUCTION, "resourceKind": "flag", "required": True, "requiredApprovalTags": ["x"]},
            400,
            "requiredApprovalTags",
        ),
        ({"environmentKey": PRODUCTION, "resourceKind": "flag", "required": "yes"}, 400, "required"),
        ({"environmentKey": PRODUCTION, "resourceKind": "aiConfig", "required": True}, 400, "resourceKind"),
        ({"resourceKind": "flag", "required": True}, 400, "environmentKey"),
        ({"environmentKey": "qa", "resourceKind": "flag", "required": True}, 404, "qa"),
    ],
)
def test_patch_validates_and_changes_nothing(arena: Arena, body: dict[str, Any], status: int, message: str) -> None:
    before = _settings(arena)
    response = arena.http.patch(SETTINGS.format(projectKey=arena.project), json=body, headers=BETA)
    assert response.status_code == status and message in response.json()["message"], response.text
    assert _settings(arena) == before


def test_only_admins_change_settings_and_readers_see_them(arena: Arena) -> None:
    writer, reader = arena.person("writer"), arena.person("reader")
    body = launchdarkly_api.ApprovalRequestSettingsPatch(
        environment_key=PRODUCTION, resource_kind="flag", required=True
    )
    status, error = refused(
        lambda: _beta(arena, writer.token).patch_approval_request_settings("beta", arena.project, body)
    )
    assert (status, error["code"]) == (403, "forbidden")
    assert set(_beta(arena, reader.token).get_approval_request_settings("beta", arena.project)) == {"flag", "segment"}
    assert _environment_settings(arena, PRODUCTION)["required"] is False


def test_the_settings_decide_what_needs_a_request_and_the_review_status(arena: Arena) -> None:
    writer, reviewer = arena.person("writer"), arena.person("writer")
    arena.create_flag("plain")
    arena.create_flag("guarded", tags=["critical"])
    _patch(arena, PRODUCTION, "flag", required_approval_tags=["critical"])
    assert arena.semantic("plain", PRODUCTION, {"kind": "turnFlagOn"}, token=writer.token).status_code == 200
    assert arena.semantic("guarded", PRODUCTION, {"kind": "turnFlagOn"}, token=writer.token).status_code == 405

    body = launchdarkly_api.CreateFlagConfigApprovalRequestRequest(
        description="on", instructions=[{"kind": "turnFlagOn"}]
    )
    request = arena.approvals(writer).post_approval_request_for_flag(arena.project, "guarded", PRODUCTION, body)
    review = launchdarkly_api.PostApprovalRequestReviewRequest(kind="approve")
    approved = arena.approvals(reviewer).post_approval_request_review_for_flag(
        arena.project, "guarded", PRODUCTION, request.id, review
    )
    assert approved.review_status == "approved"
    _patch(arena, PRODUCTION, "flag", min_num_approvals=2)
    fetched = arena.approvals(writer).get_approval_request(request.id)
    assert (fetched.review_status, fetched.approval_settings.min_num_approvals) == ("pending", 2)
    apply = launchdarkly_api.PostApprovalRequestApplyRequest()
    status, error = refused(
        lambda: arena.approvals(writer).post_approval_request_apply_for_flag(
            arena.project, "guarded", PRODUCTION, request.id, apply
        )
    )
    assert status == 400 and "needs 2" in error["message"]


def test_segment_settings_gate_segments_only(arena: Arena) -> None:
    writer = arena.person("writer")
    for key in ("members",):
        arena.http.post(
            f"/api/v2/segments/{arena.project}/{PRODUCTION}", json={"key": key, "name": "Members"}
        ).raise_for_status()
    _patch(arena, PRODUCTION, "segment", required=True)
    assert _environment_settings(arena, PRODUCTION)["required"] is False
    assert _settings(arena, resource_kind="segment")["segment"]["environments"][PRODUCTION]["required"] is True
    # The environment shows them as LaunchDarkly does, by resource kind, through the official client too.
    environment = EnvironmentsApi(arena.admin).get_environment(arena.project, PRODUCTION)
    assert environment.resource_approval_settings["segment"].required is True
    assert environment.approval_settings.required is False
    include = {"instructions": [{"kind": "addIncludedTargets", "contextKind": "user", "values": ["ann"]}]}
    response = arena.http.patch(
        f"/api/v2/segments/{arena.project}/{PRODUCTION}/members",
        json=include,
        headers={
            "Content-Type": "application/json; domain-model=launchdarkly.semanticpatch",
            "Authorization": writer.token,
        },
    )
    assert response.status_code == 403 and "approval is required" in response.json()["message"]
    arena.create_flag("free")
    assert arena.semantic("free", PRODUCTION, {"kind": "turnFlagOn"}, token=writer.token).status_code == 200


def test_flag_settings_say_whether_segment_changes_need_approval_too(arena: Arena) -> None:
    """A flag that requires approval serves differently when a segment it uses changes; segments have
    their own approval settings, and the flag settings say in a field of their own whether they apply."""
    env_path = f"/api/v2/projects/{arena.project}/environments/{PRODUCTION}"
    settings_path = SETTINGS.format(projectKey=arena.project)

    def served() -> tuple[Any, Any, Any]:
        environment = arena.http.get(env_path).json()["approvalSettings"]
        beta = arena.http.get(settings_path, headers=BETA).json()
        return (
            environment["segmentChangesRequireApproval"],
            beta["flag"]["environments"][PRODUCTION]["segmentChangesRequireApproval"],
            "segmentChangesRequireApproval" in beta["segment"]["environments"][PRODUCTION],
        )

    assert served() == (False, False, False)
    _patch(arena, PRODUCTION, "segment", required=True)
    assert served() == (True, True, False)
    # The official client still reads the settings, and a JSON patch of the environment still works.
    assert _environment_settings(arena, PRODUCTION)["required"] is False
    patch = [{"op": "replace", "path": "/approvalSettings/required", "value": True}]
    assert arena.http.patch(env_path, json=patch).status_code == 200
    assert _settings(arena, resource_kind="flag")["flag"]["environments"][PRODUCTION]["required"] is True
