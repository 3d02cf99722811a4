"""Custom roles as a specification: a dozen realistic roles (the issue's examples, LaunchDarkly's
documented examples, and reader/writer equivalents written as custom roles), across the doors of flagward, each
allowed or refused, over HTTP.

Each role is created with the official client (``CustomRolesApi``) and given to a member with a member
patch (``customRoles``); the member's base role is then set to no_access, so everything they may do comes
from the role. The member mints a personal token carrying the role (``customRoleIds``), and every check is
made with that token (the official client where LaunchDarkly has the operation). A refusal is LaunchDarkly's
403 whose message names the action and the resource refused; a change that needs an approval and is made
directly by someone without ``bypassRequiredApproval`` is the approval gate's 405.

The project: ``staging`` (tagged ``qa_staging``) and ``production`` (one approval required, no self-review);
flags are made fresh for each write, tagged ``payments`` unless the check says otherwise.

Every route: each authenticated route of the REST API (LaunchDarkly's operations and flagward's own) is a
door (``DOORS``) knocked on with every role's token; ``DOOR_VERDICTS`` writes out, role by role, what each
answers, and ``test_every_route_has_a_door`` holds the doors to the app's route table (exclusions listed with
their reasons), so a route added later without a row fails here.

Also here: a role given to a team applies to its members; a token's inline role is bounded by its member.
"""

from __future__ import annotations

import functools
import inspect
import json
import random
import re
import subprocess
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import launchdarkly_api
import pytest
from launchdarkly_api.api.access_tokens_api import AccessTokensApi
from launchdarkly_api.api.account_members_api import AccountMembersApi
from launchdarkly_api.api.approvals_api import ApprovalsApi
from launchdarkly_api.api.approvals_beta_api import ApprovalsBetaApi
from launchdarkly_api.api.audit_log_api import AuditLogApi
from launchdarkly_api.api.contexts_api import ContextsApi
from launchdarkly_api.api.custom_roles_api import CustomRolesApi
from launchdarkly_api.api.environments_api import EnvironmentsApi
from launchdarkly_api.api.feature_flags_api import FeatureFlagsApi
from launchdarkly_api.api.flag_triggers_api import FlagTriggersApi
from launchdarkly_api.api.other_api import OtherApi
from launchdarkly_api.api.projects_api import ProjectsApi
from launchdarkly_api.api.scheduled_changes_api import ScheduledChangesApi
from launchdarkly_api.api.segments_api import SegmentsApi
from launchdarkly_api.api.teams_api import TeamsApi
from launchdarkly_api.api.webhooks_api import WebhooksApi
from launchdarkly_api.api.workflow_templates_api import WorkflowTemplatesApi
from launchdarkly_api.api.workflows_api import WorkflowsApi
from launchdarkly_api.models import (
    AccessTokenPost,
    CreateFlagConfigApprovalRequestRequest,
    CustomRolePost,
    FlagCopyConfigEnvironment,
    FlagCopyConfigPost,
    NewMemberForm,
    PatchOperation,
    PatchWithComment,
    PostApprovalRequestApplyRequest,
    PostApprovalRequestReviewRequest,
    SegmentBody,
    StatementPost,
    TeamPostInput,
    WebhookPost,
)

from flagward.config import Settings
from flagward.http.app import create_app
from flagward.http.openapi import api_routes, authenticates
from tests.fakes import fake_deps
from tests.support import accounts, ldapi
from tests.support.accounts import unique, unique_email
from tests.support.approvals import PRODUCTION, STAGING, Arena
from tests.support.server import ServerProcess

# -- the roles ---------------------------------------------------------------------------------------

FLAGS, SEGMENTS = "proj/*:env/*:flag/*", "proj/*:env/*:segment/*"
EVERYTHING_VIEWABLE = ["proj/*", "proj/*:env/*", FLAGS, SEGMENTS, "member/*", "team/*", "webhook/*", "role/*"]


def allow(
    resources: list[str], actions: list[str] | None = None, not_actions: list[str] | None = None
) -> StatementPost:
    if not_actions is not None:
        return StatementPost(effect="allow", resources=resources, not_actions=not_actions)
    return StatementPost(effect="allow", resources=resources, actions=actions or ["*"])


def deny(resources: list[str], actions: list[str]) -> StatementPost:
    return StatementPost(effect="deny", resources=resources, actions=actions)


VIEW_ALL = allow(EVERYTHING_VIEWABLE, ["view*"])  # LaunchDarkly: "members can view all content"

ROLES: dict[str, list[StatementPost]] = {
    "payments: change flags tagged payments anywhere, only apply approved changes in production": [
        VIEW_ALL,
        allow([f"{FLAGS};payments"], ["update*", "createApprovalRequest", "applyApprovalRequest"]),
    ],
    "contractors: read staging only": [
        allow(["proj/*", "proj/*:env/staging", "proj/*:env/staging:flag/*", "proj/*:env/staging:segment/*"], ["view*"]),
        deny(["proj/*:env/*"], ["viewSdkKey"]),
    ],
    "sre: everything on flags, the only ones who bypass approvals": [VIEW_ALL, allow([FLAGS])],
    "writer, as a custom role": [
        VIEW_ALL,
        allow([FLAGS], not_actions=["bypassRequiredApproval"]),
        allow([SEGMENTS], not_actions=["bypassRequiredSegmentApproval"]),
    ],
    "reader, as a custom role": [VIEW_ALL],
    "no deletes": [
        VIEW_ALL,
        allow([FLAGS], not_actions=["bypassRequiredApproval"]),
        allow([SEGMENTS], not_actions=["bypassRequiredSegmentApproval"]),
        deny([FLAGS, SEGMENTS], ["delete*"]),
    ],
    "segments only": [VIEW_ALL, allow([SEGMENTS])],
    "approvals reviewer only": [VIEW_ALL, allow([FLAGS], ["reviewApprovalRequest"])],
    # LaunchDarkly's "Grant access to specific environments and flags, by tag" (QA team) example.
    "LaunchDarkly's QA team: environments tagged qa_* and their flags": [
        VIEW_ALL,
        allow(["proj/*:env/*;qa_*"]),
        allow(["proj/*:env/*;qa_*:flag/*"]),
    ],
    # LaunchDarkly's "private projects" example: everything visible but one project.
    "LaunchDarkly's private project: not this project": [VIEW_ALL, deny(["proj/{project}"], ["viewProject"])],
    "people manager: members, and who is in which team": [
        VIEW_ALL,
        allow(["member/*"]),
        allow(["team/*"], ["updateTeamMembers"]),
    ],
    "release manager: copy production's configuration into staging": [
        VIEW_ALL,
        allow(["proj/*:env/production:flag/*"], ["copyFlagConfigFrom"]),
        allow(["proj/*:env/staging:flag/*"], ["copyFlagConfigTo"]),
    ],
    "webhook keeper": [VIEW_ALL, allow(["webhook/*"])],
}

# -- the checks: what each one does, and the action its refusal names ---------------------------------


@dataclass
class World:
    server: ServerProcess
    arena: Arena
    approver: str  # a second admin's token: approves the requests the admin makes
    segment: str  # in staging
    tokens: dict[str, str] = field(default_factory=dict)  # role -> the member's personal token

    @property
    def project(self) -> str:
        return self.arena.project

    def client(self, token: str) -> launchdarkly_api.ApiClient:
        return self.arena.client(token)

    def flag(self, tags: list[str] | None = None) -> launchdarkly_api.FeatureFlag:
        return self.arena.create_flag(unique("flag"), tags=["payments"] if tags is None else tags)

    def request(self, flag: str) -> str:
        body = CreateFlagConfigApprovalRequestRequest(description="on", instructions=[{"kind": "turnFlagOn"}])
        made = self.arena.approvals(self.arena.admin_token).post_approval_request_for_flag(
            self.project, flag, PRODUCTION, body
        )
        return str(made.id)


Result = tuple[int, dict[str, Any]]
OK, MASKED = "ok", "masked"


def _call(call: Callable[[], object]) -> Result:
    try:
        call()
    except launchdarkly_api.ApiException as exc:
        return int(exc.status), json.loads(exc.body or "{}")
    return 200, {}


def _http(response: httpx.Response) -> Result:
    return response.status_code, response.json() if response.content else {}


def _semantic(w: World, token: str, flag: str, env: str, *instructions: dict[str, Any]) -> Result:
    return _http(w.arena.semantic(flag, env, *instructions, token=token))


def view_segment(env: str) -> Callable[[World, str], Result]:
    def check(w: World, token: str) -> Result:
        return _call(lambda: SegmentsApi(w.client(token)).get_segment(w.project, env, w.segment))

    return check


def turn_on(env: str, tags: list[str] | None = None) -> Callable[[World, str], Result]:
    def check(w: World, token: str) -> Result:
        return _semantic(w, token, w.flag(tags).key, env, {"kind": "turnFlagOn"})

    return check


def add_rule(w: World, token: str) -> Result:
    flag = w.flag()
    clause = {"contextKind": "user", "attribute": "email", "op": "endsWith", "values": ["@x.com"], "negate": False}
    rule = {"kind": "addRule", "variationId": flag.variations[0].id, "clauses": [clause]}
    return _semantic(w, token, flag.key, STAGING, rule)


def add_targets(w: World, token: str) -> Result:
    flag = w.flag()
    return _semantic(
        w, token, flag.key, STAGING, {"kind": "addTargets", "values": ["u1"], "variationId": flag.variations[0].id}
    )


def turn_on_json(w: World, token: str) -> Result:
    patch = PatchWithComment(patch=[PatchOperation(op="replace", path="/environments/staging/on", value=True)])
    flag = w.flag().key
    return _call(lambda: FeatureFlagsApi(w.client(token)).patch_feature_flag(w.project, flag, patch))


def create_flag(w: World, token: str) -> Result:
    body = launchdarkly_api.FeatureFlagBody(key=unique("new"), name="New", tags=["payments"])
    return _call(lambda: FeatureFlagsApi(w.client(token)).post_feature_flag(w.project, body))


def delete_flag(w: World, token: str) -> Result:
    flag = w.flag().key
    return _call(lambda: FeatureFlagsApi(w.client(token)).delete_feature_flag(w.project, flag))


def copy_to_staging(w: World, token: str) -> Result:
    flag = w.flag().key
    w.arena.change(flag, PRODUCTION, {"kind": "turnFlagOn"})  # the admin bypasses approvals
    body = FlagCopyConfigPost(
        source=FlagCopyConfigEnvironment(key=PRODUCTION), target=FlagCopyConfigEnvironment(key=STAGING)
    )
    return _call(lambda: FeatureFlagsApi(w.client(token)).copy_feature_flag(w.project, flag, body))


def request_approval(w: World, token: str) -> Result:
    flag = w.flag().key
    body = CreateFlagConfigApprovalRequestRequest(description="on", instructions=[{"kind": "turnFlagOn"}])
    return _call(lambda: w.arena.approvals(token).post_approval_request_for_flag(w.project, flag, PRODUCTION, body))


def review(w: World, token: str) -> Result:
    flag = w.flag().key
    request = w.request(flag)
    body = PostApprovalRequestReviewRequest(kind="approve")
    approvals = w.arena.approvals(token)
    return _call(lambda: approvals.post_approval_request_review_for_flag(w.project, flag, PRODUCTION, request, body))


def apply(w: World, token: str) -> Result:
    flag = w.flag().key
    request = w.request(flag)
    approve = PostApprovalRequestReviewRequest(kind="approve")
    w.arena.approvals(w.approver).post_approval_request_review_for_flag(w.project, flag, PRODUCTION, request, approve)
    body = PostApprovalRequestApplyRequest()
    approvals = w.arena.approvals(token)
    return _call(lambda: approvals.post_approval_request_apply_for_flag(w.project, flag, PRODUCTION, request, body))


def create_segment(w: World, token: str) -> Result:
    body = SegmentBody(key=unique("seg"), name="Seg")
    return _call(lambda: SegmentsApi(w.client(token)).post_segment(w.project, STAGING, body))


def change_segment(w: World, token: str) -> Result:
    patch = PatchWithComment(patch=[PatchOperation(op="replace", path="/description", value=unique("d"))])
    return _call(lambda: SegmentsApi(w.client(token)).patch_segment(w.project, STAGING, w.segment, patch))


def list_members(w: World, token: str) -> Result:
    return _call(lambda: AccountMembersApi(w.client(token)).get_members())


def invite(w: World, token: str) -> Result:
    # no_access: nobody grants a base role above their own (the people manager's is no_access); custom
    # roles are given afterwards.
    form = NewMemberForm(email=unique_email("invited"), role="no_access")
    return _call(lambda: AccountMembersApi(w.client(token)).post_members([form]))


def create_webhook(w: World, token: str) -> Result:
    post = WebhookPost(url="https://hooks.example.com/matrix", sign=False, on=True)
    return _call(lambda: WebhooksApi(w.client(token)).post_webhook(post))


def sdk_key(w: World, token: str) -> Result:
    try:
        env = EnvironmentsApi(w.client(token)).get_environment(w.project, STAGING)
    except launchdarkly_api.ApiException as exc:
        return int(exc.status), json.loads(exc.body or "{}")
    masked = "*" in env.api_key and "*" in env.mobile_key
    return (299 if masked else 200), {}  # 299: answered, with the keys masked


@dataclass(frozen=True)
class Check:
    does: Callable[[World, str], Result]
    action: str  # the action a refusal names (or one of the view* actions, asked before it)


CHECKS: dict[str, Check] = {
    "view a staging segment": Check(view_segment(STAGING), "viewEnvironment"),
    "view a production segment": Check(view_segment(PRODUCTION), "viewEnvironment"),
    "turn a payments flag on in staging (semantic)": Check(turn_on(STAGING), "updateOn"),
    "add a rule to a payments flag in staging": Check(add_rule, "updateRules"),
    "add targets to a payments flag in staging": Check(add_targets, "updateTargets"),
    "turn a payments flag on in staging (JSON patch)": Check(turn_on_json, "updateOn"),
    "turn an untagged flag on in staging": Check(turn_on(STAGING, []), "updateOn"),
    "turn a payments flag on in production directly": Check(turn_on(PRODUCTION), "updateOn"),
    "create a flag": Check(create_flag, "createFlag"),
    "delete a flag": Check(delete_flag, "deleteFlag"),
    "copy production's configuration into staging": Check(copy_to_staging, "copyFlagConfig"),
    "request approval in production": Check(request_approval, "createApprovalRequest"),
    "approve a request in production": Check(review, "reviewApprovalRequest"),
    "apply an approved request in production": Check(apply, "applyApprovalRequest"),
    "create a segment in staging": Check(create_segment, "createSegment"),
    "change a segment in staging": Check(change_segment, "updateDescription"),
    "list members": Check(list_members, "viewMember"),
    "invite a member": Check(invite, "createMember"),
    "create a webhook": Check(create_webhook, "createWebhook"),
    "see staging's SDK key": Check(sdk_key, "viewEnvironment"),
}

VIEWS = {"view a staging segment", "view a production segment", "list members", "see staging's SDK key"}
FLAG_WORK = {
    "turn a payments flag on in staging (semantic)",
    "add a rule to a payments flag in staging",
    "add targets to a payments flag in staging",
    "turn a payments flag on in staging (JSON patch)",
    "turn an untagged flag on in staging",
    "create a flag",
    "delete a flag",
    "copy production's configuration into staging",
    "request approval in production",
    "approve a request in production",
    "apply an approved request in production",
}
SEGMENT_WORK = {"create a segment in staging", "change a segment in staging"}
GATED = "405"

# What each role may do: "ok", "masked" (the SDK key is shown masked), "405" (the approval gate); every
# other check is refused with 403.
EXPECTED: dict[str, dict[str, str]] = {
    "payments: change flags tagged payments anywhere, only apply approved changes in production": {
        **dict.fromkeys(VIEWS, OK),
        "turn a payments flag on in staging (semantic)": OK,
        "add a rule to a payments flag in staging": OK,
        "add targets to a payments flag in staging": OK,
        "turn a payments flag on in staging (JSON patch)": OK,
        "turn a payments flag on in production directly": GATED,
        "request approval in production": OK,
        "apply an approved request in production": OK,
    },
    "contractors: read staging only": {"view a staging segment": OK, "see staging's SDK key": MASKED},
    "sre: everything on flags, the only ones who bypass approvals": {
        **dict.fromkeys(VIEWS | FLAG_WORK, OK),
        "turn a payments flag on in production directly": OK,
    },
    "writer, as a custom role": {
        **dict.fromkeys(VIEWS | FLAG_WORK | SEGMENT_WORK, OK),
        "turn a payments flag on in production directly": GATED,
        "delete a flag": GATED,  # deleting it changes what production serves: an approval is needed
    },
    "reader, as a custom role": dict.fromkeys(VIEWS, OK),
    "no deletes": {
        **dict.fromkeys((VIEWS | FLAG_WORK | SEGMENT_WORK) - {"delete a flag"}, OK),
        "turn a payments flag on in production directly": GATED,
    },
    "segments only": dict.fromkeys(VIEWS | SEGMENT_WORK, OK),
    "approvals reviewer only": {**dict.fromkeys(VIEWS, OK), "approve a request in production": OK},
    "LaunchDarkly's QA team: environments tagged qa_* and their flags": {
        **dict.fromkeys(VIEWS, OK),
        "turn a payments flag on in staging (semantic)": OK,
        "add a rule to a payments flag in staging": OK,
        "add targets to a payments flag in staging": OK,
        "turn a payments flag on in staging (JSON patch)": OK,
        "turn an untagged flag on in staging": OK,
    },
    "LaunchDarkly's private project: not this project": {"list members": OK},
    "people manager: members, and who is in which team": {**dict.fromkeys(VIEWS, OK), "invite a member": OK},
    "release manager: copy production's configuration into staging": {
        **dict.fromkeys(VIEWS, OK),
        "copy production's configuration into staging": OK,
    },
    "webhook keeper": {**dict.fromkeys(VIEWS, OK), "create a webhook": OK},
}

_REFUSAL = re.compile(r"'(?P<action>[A-Za-z*]+)' on '(?P<resource>[^']+)'")


def _outcome(status: int, body: dict[str, Any], check: Check, project: str) -> str:
    if status == 299:
        return MASKED
    if 200 <= status < 300:
        return OK
    if status == 403:
        assert body.get("code") == "forbidden", body
        named = _REFUSAL.search(str(body.get("message")))
        assert named, body  # LaunchDarkly's body, naming the action and the resource refused
        action, resource = named["action"], named["resource"]
        assert action.startswith(check.action) or action.startswith("view"), (check.action, body)
        assert resource.startswith((f"proj/{project}", "member/", "webhook/", "acct")), body
    return str(status)


# -- the world ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One server on SQLite; the project, a segment, and per role a member with a personal token."""
    workdir: Path = tmp_path_factory.mktemp("matrix")
    with ServerProcess(database_url=f"sqlite:///{workdir / 'flagward.db'}", workdir=workdir) as server:
        arena = Arena(server.url, server.admin_token)
        arena.create_project(required=True, minNumApprovals=1, canReviewOwnRequest=False)
        tags = [PatchOperation(op="replace", path="/tags", value=["qa_staging"])]
        EnvironmentsApi(arena.admin).patch_environment(arena.project, STAGING, tags)
        segment = unique("seg")
        SegmentsApi(arena.admin).post_segment(arena.project, STAGING, SegmentBody(key=segment, name="Seg"))
        SegmentsApi(arena.admin).post_segment(arena.project, PRODUCTION, SegmentBody(key=segment, name="Seg"))
        w = World(server, arena, approver=arena.person("admin").token, segment=segment)
        with ThreadPoolExecutor(max_workers=4) as pool:  # the server works while the client waits
            made = pool.map(lambda role: _member_with_role(w, role, ROLES[role]), ROLES)
            w.tokens.update(zip(ROLES, made, strict=True))
        yield w
        arena.close()


def _role(w: World, name: str, statements: list[StatementPost]) -> launchdarkly_api.CustomRole:
    policy = [
        StatementPost.from_dict(json.loads(json.dumps(s.to_dict()).replace("{project}", w.project))) for s in statements
    ]
    key = unique("role")
    return CustomRolesApi(w.arena.admin).post_custom_role(CustomRolePost(key=key, name=name[:60], policy=policy))


def _member_with_role(w: World, name: str, statements: list[StatementPost]) -> str:
    """A member given the role by a member patch, with a personal token carrying it, then left with no
    base role: all they may do comes from the role."""
    role = _role(w, name, statements)
    who = accounts.account(w.arena.admin, w.server.url, "reader")
    members = AccountMembersApi(w.arena.admin)
    members.patch_member(who.id, [PatchOperation(op="add", path="/customRoles/0", value=role.key)])
    with accounts.session_client(w.server.url, who.session) as api:
        token = AccessTokensApi(api).post_token(AccessTokenPost(name=unique("pat"), custom_role_ids=[role.id])).token
    members.patch_member(who.id, [PatchOperation(op="replace", path="/role", value="no_access")])
    assert token
    return token


# -- the matrix --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def check_outcomes(world: World) -> dict[str, dict[str, str]]:
    """Every check, made with each role's token (the roles side by side, each one's checks in turn)."""

    def row(role: str) -> dict[str, str]:
        token = world.tokens[role]
        return {name: _outcome(*check.does(world, token), check, world.project) for name, check in CHECKS.items()}

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(ROLES, pool.map(row, ROLES), strict=True))


@pytest.mark.parametrize("role", list(ROLES))
def test_what_each_role_may_do(check_outcomes: dict[str, dict[str, str]], role: str) -> None:
    expected = {name: EXPECTED[role].get(name, "403") for name in CHECKS}
    assert check_outcomes[role] == expected


def test_every_role_has_a_row_and_every_row_names_real_checks() -> None:
    assert set(EXPECTED) == set(ROLES)
    assert all(set(row) <= set(CHECKS) for row in EXPECTED.values())


# -- teams and inline roles ----------------------------------------------------------------------------


def test_a_role_given_to_a_team_applies_to_its_members(world: World) -> None:
    role = _role(world, "team segments", [VIEW_ALL, allow([SEGMENTS])])
    who = accounts.account(world.arena.admin, world.server.url, "reader")
    with accounts.session_client(world.server.url, who.session) as api:
        token = AccessTokensApi(api).post_token(AccessTokenPost(name=unique("pat"), custom_role_ids=[role.id])).token
    assert token
    members = AccountMembersApi(world.arena.admin)
    members.patch_member(who.id, [PatchOperation(op="replace", path="/role", value="no_access")])
    check = CHECKS["create a segment in staging"]
    # The token carries the role, but its member does not have it yet: the member's access bounds it.
    assert _outcome(*check.does(world, token), check, world.project) == "403"
    key = unique("team")
    TeamsApi(world.arena.admin).post_team(
        TeamPostInput(key=key, name="Segment people", member_ids=[who.id], custom_role_keys=[role.key])
    )
    assert _outcome(*check.does(world, token), check, world.project) == OK
    TeamsApi(world.arena.admin).delete_team(key)
    assert _outcome(*check.does(world, token), check, world.project) == "403"


def test_a_tokens_inline_role_is_bounded_by_its_member(world: World) -> None:
    """A member who may change payments flags makes a token whose inline role asks for every flag: it
    may change payments flags (both allow) and nothing more (the member does not)."""
    payments = "payments: change flags tagged payments anywhere, only apply approved changes in production"
    role = _role(world, payments, ROLES[payments])
    who = accounts.account(world.arena.admin, world.server.url, "reader")
    members = AccountMembersApi(world.arena.admin)
    members.patch_member(who.id, [PatchOperation(op="add", path="/customRoles/0", value=role.key)])
    inline = [VIEW_ALL, allow([FLAGS])]
    with accounts.session_client(world.server.url, who.session) as api:
        post = AccessTokenPost(name=unique("pat"), inline_role=inline)
        token = AccessTokensApi(api).post_token(post).token
    assert token
    members.patch_member(who.id, [PatchOperation(op="replace", path="/role", value="no_access")])
    tagged, untagged = (
        CHECKS["turn a payments flag on in staging (semantic)"],
        CHECKS["turn an untagged flag on in staging"],
    )
    assert _outcome(*tagged.does(world, token), tagged, world.project) == OK
    assert _outcome(*untagged.does(world, token), untagged, world.project) == "403"
    deleting = CHECKS["delete a flag"]
    assert _outcome(*deleting.does(world, token), deleting, world.project) == "403"


def test_sdk_keys_are_masked_for_those_who_may_not_view_them(world: World) -> None:
    """The environment representation keeps apiKey and mobileKey (LaunchDarkly requires them) but masks
    them, to the last four characters, for an actor without ``viewSdkKey`` on that environment; in a
    project's expanded environments too. Those who may see them get them whole."""
    whole = EnvironmentsApi(world.arena.admin).get_environment(world.project, STAGING)
    assert "*" not in whole.api_key and whole.api_key.startswith("sdk-")
    contractor = world.client(world.tokens["contractors: read staging only"])
    masked = EnvironmentsApi(contractor).get_environment(world.project, STAGING)
    assert masked.api_key == "sdk-" + "*" * 8 + whole.api_key[-4:]
    assert masked.mobile_key == "mob-" + "*" * 8 + whole.mobile_key[-4:]
    assert masked.id == whole.id  # the client-side ID is no secret
    with httpx.Client(base_url=world.server.url) as client:
        token = world.tokens["contractors: read staging only"]
        project = client.get(
            f"/api/v2/projects/{world.project}", params={"expand": "environments"}, headers={"Authorization": token}
        )
    assert project.status_code == 200, project.text
    shown = project.json()["environments"]["items"]
    assert [(e["key"], e["apiKey"]) for e in shown] == [(STAGING, masked.api_key)]  # production is not theirs
    reader = world.client(world.tokens["reader, as a custom role"])
    assert EnvironmentsApi(reader).get_environment(world.project, STAGING).api_key == whole.api_key


def test_a_service_tokens_roles_never_exceed_its_creators_current_access(world: World) -> None:
    """A member who may change payments flags (and make service tokens) makes a service token whose
    inline role allows every flag action: it may do what both allow. When the member gains a role, so
    does the token; once the member is removed, the token is bounded by its built-in role (reader)."""
    payments = "payments: change flags tagged payments anywhere, only apply approved changes in production"
    maker = _role(world, "service token maker", [allow(["service-token/*"]), *ROLES[payments]])
    who = accounts.account(world.arena.admin, world.server.url, "reader")
    members = AccountMembersApi(world.arena.admin)
    members.patch_member(who.id, [PatchOperation(op="add", path="/customRoles/0", value=maker.key)])
    with accounts.session_client(world.server.url, who.session) as api:
        post = AccessTokenPost(name=unique("svc"), service_token=True, inline_role=[VIEW_ALL, allow([FLAGS])])
        token = AccessTokensApi(api).post_token(post).token
    assert token
    tagged, untagged = (
        CHECKS["turn a payments flag on in staging (semantic)"],
        CHECKS["turn an untagged flag on in staging"],
    )

    def outcome(check: Check) -> str:
        return _outcome(*check.does(world, token), check, world.project)

    assert (outcome(tagged), outcome(untagged)) == (OK, "403")
    sre = _role(world, "sre", ROLES["sre: everything on flags, the only ones who bypass approvals"])
    members.patch_member(who.id, [PatchOperation(op="add", path="/customRoles/0", value=sre.key)])
    assert (outcome(tagged), outcome(untagged)) == (OK, OK)
    members.delete_member(who.id)
    assert (outcome(tagged), outcome(untagged)) == ("403", "403")


def test_the_readme_custom_role_example_runs_as_written(world: World) -> None:
    """The README's complete example role, given to a member and a team with curl, does what it says."""
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    start = text.index("\n## Custom roles\n")
    section = text[start : text.find("\n## ", start + 1)]
    (code,) = re.findall(r"^```sh\n(.*?)^```$", section, flags=re.S | re.M)
    env = {"FW": world.server.url, "TOKEN": world.server.admin_token, "PATH": "/usr/bin:/bin"}
    ran = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", code + "\necho; echo $MEMBER"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    member = ran.stdout.split()[-1]
    role = CustomRolesApi(world.arena.admin).get_custom_role("payments")
    assert AccountMembersApi(world.arena.admin).get_member(member).custom_roles == [role.id]
    assert [r.key for r in TeamsApi(world.arena.admin).get_team_roles("payments").items] == ["payments"]
    assert [s.effect for s in role.policy] == ["allow", "deny", "allow", "deny"]


# == every route =======================================================================================
#
# Each authenticated route of the REST API (LaunchDarkly's operations under /api/v2 and flagward's own) is a
# door: the request it takes (the official client's operation where LaunchDarkly has it, raw HTTP with the
# token otherwise) and the action a refusal names. ``DOOR_VERDICTS`` says, role by role, what each door answers;
# ``test_every_route_has_a_door`` holds the doors to the app's route table.

ROUTE_EXCLUSIONS: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): "health: public",
    ("GET", "/readyz"): "readiness: public",
    ("POST", "/auth/login"): "signing in: takes credentials, authorizes nothing",
    ("POST", "/auth/logout"): "signing out one's own session",
    ("POST", "/api/v2/approval-requests/{id}/integration-callback"): "an external approval service, by its secret",
    ("POST", "/webhook/triggers/{secret}"): "a trigger fired by its secret URL",
}
# Not the REST API: the SDK edge (authenticated by SDK keys, mobile keys and client-side IDs) and the console
# (HTML pages, signed-in sessions; its forms call the same services).
EXCLUDED_MODULES = {
    "flagward.http.sdk.polling": "SDK edge: SDK keys",
    "flagward.http.sdk.events": "SDK edge: SDK keys",
    "flagward.http.sdk.evalx": "SDK edge: client-side IDs and mobile keys",
    "flagward.http.docs": "the OpenAPI document's page",
}
EXCLUDED_PACKAGES = {"flagward.http.console": "the console: HTML pages for signed-in sessions"}


@dataclass
class Estate:
    """Things the doors act on, made once by the admin: a flag tagged payments with a trigger, a scheduled
    change, a workflow and a pending request in production; a webhook, a team, a role, a template, a member
    and their token. Doors that destroy or use up what they touch make their own when they are let through."""

    w: World
    flag: str = ""
    trigger: str = ""  # in staging; those read are in production (``seen``)
    schedule: str = ""
    workflow: str = ""
    seen: dict[str, str] = field(default_factory=dict)  # the trigger, schedule, workflow in production
    request: str = ""
    webhook: str = ""
    team: str = ""
    role: str = ""
    template: str = ""
    member: str = ""
    member_email: str = ""
    token: str = ""
    audit: str = ""
    clients: dict[tuple[str, bool], launchdarkly_api.ApiClient] = field(default_factory=dict)

    @property
    def project(self) -> str:
        return self.w.project

    def admin(self, method: str, path: str, body: Any = None, **params: Any) -> dict[str, Any]:
        response = self.w.arena.http.request(method, path, json=body, params=params, headers=BETA)
        assert response.is_success, (method, path, response.text)
        return response.json() if response.content else {}

    def client(self, token: str, *, beta: bool = False) -> launchdarkly_api.ApiClient:
        """An official client for ``token`` (one per token: each keeps its connections)."""
        client = self.clients.get((token, beta))
        if client is None:
            client = self.clients[token, beta] = ldapi.client(self.w.server.url, token)
            if beta:  # the client's default LD-API-Version would win over the operation's header
                client.set_default_header("LD-API-Version", "beta")
        return client

    def new_flag(self) -> str:
        return self.w.flag().key

    def new_request(self, flag: str | None = None, *, approved: bool = False) -> tuple[str, str]:
        flag = flag or self.new_flag()
        request = self.w.request(flag)
        if approved:
            review = PostApprovalRequestReviewRequest(kind="approve")
            self.w.arena.approvals(self.w.approver).post_approval_request_review_for_flag(
                self.project, flag, PRODUCTION, request, review
            )
        return flag, request

    def new_environment(self) -> str:
        key = unique("env")
        body = {"key": key, "name": key, "color": "00ff00", "tags": ["qa_spare"]}
        self.admin("POST", f"/api/v2/projects/{self.project}/environments", body)
        return key

    def new_segment(self) -> str:
        key = unique("seg")
        self.admin("POST", f"/api/v2/segments/{self.project}/{STAGING}", {"key": key, "name": key})
        return key

    def new_trigger(self, flag: str | None = None, env: str = STAGING) -> str:
        body = {"instructions": [{"kind": "turnFlagOn"}], "integrationKey": "generic-trigger"}
        made = self.admin("POST", f"/api/v2/flags/{self.project}/{flag or self.flag}/triggers/{env}", body)
        return str(made["_id"])

    def new_schedule(self, flag: str | None = None, env: str = STAGING) -> str:
        body = {"executionDate": 4_102_444_800_000, "instructions": [{"kind": "turnFlagOn"}]}
        made = self.admin("POST", f"{self.flag_env(flag or self.flag, env)}/scheduled-changes", body)
        return str(made["_id"])

    def new_workflow(self, flag: str | None = None, env: str = STAGING) -> str:
        conditions = [LATER] if env == STAGING else [{"kind": "ld-approval"}, LATER]  # production needs approval
        body = {"name": "W", "stages": [{**STAGE, "environmentKey": env, "conditions": conditions}]}
        return str(self.admin("POST", f"{self.flag_env(flag or self.flag, env)}/workflows", body)["_id"])

    def copyable_flag(self) -> str:
        """A new flag on in staging, off in production: there is something to copy."""
        flag = self.new_flag()
        self.w.arena.change(flag, STAGING, ON)
        return flag

    def new_webhook(self) -> str:
        return str(
            self.admin("POST", "/api/v2/webhooks", {"url": "https://hooks.example.com/x", "sign": False, "on": True})[
                "_id"
            ]
        )

    def new_team(self) -> str:
        key = unique("team")
        self.admin("POST", "/api/v2/teams", {"key": key, "name": key})
        return key

    def new_role(self) -> str:
        key = unique("role")
        self.admin(
            "POST",
            "/api/v2/roles",
            {
                "key": key,
                "name": key,
                "policy": [{"effect": "allow", "resources": ["proj/*"], "actions": ["viewProject"]}],
            },
        )
        return key

    def new_template(self) -> str:
        key = unique("tpl")
        stage = {"name": "On", "environmentKey": STAGING, "conditions": [], "action": {"instructions": [ON]}}
        body = {
            "key": key,
            "name": key,
            "stages": [stage],
            "projectKey": self.project,
            "flagKey": self.flag,
            "environmentKey": STAGING,
        }
        self.admin("POST", "/api/v2/templates", body)
        return key

    def new_member(self) -> str:
        return self.new_member_with_email()[0]

    def new_member_with_email(self) -> tuple[str, str]:
        """A member with no base role (so that nobody's base role is below theirs) and no custom role."""
        email = unique_email("spare")
        made = self.admin("POST", "/api/v2/members", [{"email": email, "role": "no_access"}])
        return str(made["items"][0]["_id"]), email

    def new_token(self) -> str:
        return str(
            self.admin("POST", "/api/v2/tokens", {"name": unique("svc"), "role": "reader", "serviceToken": True})["_id"]
        )

    def flag_env(self, flag: str, env: str) -> str:
        return f"/api/v2/projects/{self.project}/flags/{flag}/environments/{env}"


ON = {"kind": "turnFlagOn"}
BETA = {"LD-API-Version": "beta"}
FLAG_ENV = "/api/v2/projects/{projectKey}/flags/{featureFlagKey}/environments/{environmentKey}"
# LaunchDarkly operations the official client cannot make as flagward takes them: raw HTTP, with the reason.
NOT_THROUGH_THE_CLIENT = {
    "patchFlagConfigApprovalRequest": "the client's method (beta) sends no body",
}
Args = Callable[[Estate, bool], list[str]]  # the path's parameters, in order; ``True``: make fresh ones


@dataclass(frozen=True)
class Door:
    method: str
    path: str
    action: str  # the action a refusal names (a prefix), or one of the view* actions asked before it
    args: Args = lambda e, fresh: []
    body: Callable[[Estate], Any] | None = None
    query: dict[str, str] = field(default_factory=dict)
    official: bool = True  # through the official client (LaunchDarkly has the operation)


def _flag(e: Estate, fresh: bool) -> list[str]:
    return [e.project, e.new_flag() if fresh else e.flag]


def _flag_in(env: str) -> Args:
    return lambda e, fresh: [*_flag(e, fresh), env]


def _request(*, approved: bool = False) -> Args:
    def args(e: Estate, fresh: bool) -> list[str]:
        flag, request = e.new_request(approved=approved) if fresh else (e.flag, e.request)
        return [e.project, flag, PRODUCTION, request]

    return args


def _request_id(*, approved: bool = False) -> Args:
    return lambda e, fresh: [e.new_request(approved=approved)[1] if fresh else e.request]


def _env(env: str) -> Args:
    return lambda e, fresh: [e.project, env]


def _segment(e: Estate, fresh: bool) -> list[str]:
    return [e.project, STAGING, e.new_segment() if fresh else e.w.segment]


def _one(attr: str, make: Callable[[Estate], str]) -> Args:
    return lambda e, fresh: [make(e) if fresh else getattr(e, attr)]


def _json_patch(path: str, value: Any) -> Callable[[Estate], Any]:
    return lambda e: [{"op": "replace", "path": path, "value": value() if callable(value) else value}]


def _instructions(*instructions: dict[str, Any]) -> Callable[[Estate], Any]:
    return lambda e: {"instructions": list(instructions)}


def _color() -> str:
    return f"{random.randrange(0xFFFFFF):06x}"


P, PE = "/api/v2/projects/{projectKey}", "/api/v2/projects/{projectKey}/environments/{environmentKey}"
FL, SG = "/api/v2/flags/{projectKey}/{featureFlagKey}", "/api/v2/segments/{projectKey}/{environmentKey}/{segmentKey}"
AR = "/api/v2/approval-requests"
STATEMENT = [{"effect": "allow", "resources": ["proj/*"], "actions": ["viewProject"]}]
STAGE = {"name": "On", "environmentKey": STAGING, "conditions": [], "action": {"instructions": [ON]}}
LATER = {"kind": "schedule", "scheduleKind": "absolute", "executionDate": 4_102_444_800_000}

DOORS: dict[str, Door] = {
    # -- who, and what happened
    "getCallerIdentity": Door("GET", "/api/v2/caller-identity", "-"),
    "getAuditLogEntries": Door("GET", "/api/v2/auditlog", "viewAuditLog"),
    "postAuditLogEntries": Door("POST", "/api/v2/auditlog", "viewAuditLog", body=lambda e: STATEMENT),
    "getAuditLogEntry": Door("GET", "/api/v2/auditlog/{id}", "viewAuditLog", _one("audit", lambda e: e.audit)),
    # -- projects and environments
    "getProjects": Door("GET", "/api/v2/projects", "viewProject"),
    "postProject": Door("POST", "/api/v2/projects", "createProject", body=lambda e: {"key": unique("p"), "name": "P"}),
    "getProject": Door("GET", P, "viewProject", lambda e, fresh: [e.project]),
    "patchProject": Door("PATCH", P, "update", lambda e, fresh: [e.project], _json_patch("/name", lambda: unique("n"))),
    "deleteProject": Door("DELETE", P, "deleteProject", lambda e, fresh: [e.project]),
    "getEnvironmentsByProject": Door("GET", f"{P}/environments", "viewProject", lambda e, fresh: [e.project]),
    "postEnvironment": Door(
        "POST",
        f"{P}/environments",
        "createEnvironment",
        lambda e, fresh: [e.project],
        lambda e: {"key": unique("env"), "name": "E", "color": "00ff00", "tags": ["qa_new"]},
    ),
    "getEnvironment": Door("GET", PE, "viewEnvironment", _env(STAGING)),
    "patchEnvironment": Door("PATCH", PE, "updateColor", _env(STAGING), _json_patch("/color", _color)),
    "deleteEnvironment": Door("DELETE", PE, "deleteEnvironment", lambda e, fresh: [e.project, e.new_environment()]),
    "resetEnvironmentSDKKey": Door("POST", f"{PE}/apiKey", "updateApiKey", _env(STAGING)),
    "resetEnvironmentMobileKey": Door("POST", f"{PE}/mobileKey", "updateMobileKey", _env(STAGING)),
    "evaluateContextInstance": Door(
        "POST", f"{PE}/flags/evaluate", "viewEnvironment", _env(STAGING), lambda e: {"key": "u1", "kind": "user"}
    ),
    # -- flags
    "getFeatureFlags": Door("GET", "/api/v2/flags/{projectKey}", "viewProject", lambda e, fresh: [e.project]),
    "postFeatureFlag": Door(
        "POST",
        "/api/v2/flags/{projectKey}",
        "createFlag",
        lambda e, fresh: [e.project],
        lambda e: {"key": unique("new"), "name": "New", "tags": ["payments"]},
    ),
    "getFeatureFlag": Door("GET", FL, "viewProject", _flag),
    "patchFeatureFlag": Door(
        "PATCH",
        FL,
        "updateOn",
        _flag,
        lambda e: {"patch": [{"op": "replace", "path": "/environments/staging/on", "value": True}]},
    ),
    "deleteFeatureFlag": Door("DELETE", FL, "deleteFlag", _flag),
    "copyFeatureFlag": Door(
        "POST",
        f"{FL}/copy",
        "copyFlagConfig",
        _flag,
        lambda e: {"source": {"key": PRODUCTION}, "target": {"key": STAGING}},
    ),
    "getFeatureFlagStatuses": Door("GET", "/api/v2/flag-statuses/{projectKey}/{environmentKey}", "view", _env(STAGING)),
    "getFeatureFlagStatus": Door(
        "GET",
        "/api/v2/flag-statuses/{projectKey}/{environmentKey}/{featureFlagKey}",
        "view",
        lambda e, fresh: [e.project, PRODUCTION, e.flag],
    ),
    "getFeatureFlagStatusAcrossEnvironments": Door(
        "GET", "/api/v2/flag-status/{projectKey}/{featureFlagKey}", "view", _flag
    ),
    "getExpiringContextTargets": Door("GET", f"{FL}/expiring-targets/{{environmentKey}}", "view", _flag_in(PRODUCTION)),
    "patchExpiringTargets": Door(
        "PATCH",
        f"{FL}/expiring-targets/{{environmentKey}}",
        "updateExpiringTargets",
        _flag_in(STAGING),
        lambda e: {
            "instructions": [
                {
                    "kind": "addExpiringTarget",
                    "contextKey": unique("u"),
                    "contextKind": "user",
                    "variationId": "",
                    "value": 4_102_444_800_000,
                }
            ]
        },
    ),
    "postProjectImport": Door(
        "POST",
        f"{P}/import",
        "importFlags",
        lambda e, fresh: [e.project],
        lambda e: {"flags": {}, "segments": {}},
        {"environmentKey": STAGING},
        official=False,
    ),
    # -- triggers, scheduled changes, workflows, templates
    "getTriggerWorkflows": Door("GET", f"{FL}/triggers/{{environmentKey}}", "view", _flag_in(PRODUCTION)),
    "createTriggerWorkflow": Door(
        "POST",
        f"{FL}/triggers/{{environmentKey}}",
        "createTriggers",
        _flag_in(STAGING),
        lambda e: {"instructions": [ON], "integrationKey": "generic-trigger"},
    ),
    "getTriggerWorkflowById": Door(
        "GET",
        f"{FL}/triggers/{{environmentKey}}/{{id}}",
        "view",
        lambda e, fresh: [e.project, e.flag, PRODUCTION, e.seen["trigger"]],
    ),
    "patchTriggerWorkflow": Door(
        "PATCH",
        f"{FL}/triggers/{{environmentKey}}/{{id}}",
        "updateTriggers",
        lambda e, fresh: [e.project, e.flag, STAGING, e.trigger],
        lambda e: {"instructions": [{"kind": "updateTriggerComment", "value": unique("c")}]},
    ),
    "deleteTriggerWorkflow": Door(
        "DELETE",
        f"{FL}/triggers/{{environmentKey}}/{{id}}",
        "deleteTriggers",
        lambda e, fresh: [e.project, e.flag, STAGING, e.new_trigger() if fresh else e.trigger],
    ),
    "getFlagConfigScheduledChanges": Door("GET", f"{FLAG_ENV}/scheduled-changes", "view", _flag_in(PRODUCTION)),
    "postFlagConfigScheduledChanges": Door(
        "POST",
        f"{FLAG_ENV}/scheduled-changes",
        "updateScheduledChanges",
        _flag_in(STAGING),
        lambda e: {"executionDate": 4_102_444_800_000, "instructions": [ON]},
    ),
    "getFeatureFlagScheduledChange": Door(
        "GET",
        f"{FLAG_ENV}/scheduled-changes/{{id}}",
        "view",
        lambda e, fresh: [e.project, e.flag, PRODUCTION, e.seen["schedule"]],
    ),
    "patchFlagConfigScheduledChange": Door(
        "PATCH",
        f"{FLAG_ENV}/scheduled-changes/{{id}}",
        "updateScheduledChanges",
        lambda e, fresh: [e.project, e.flag, STAGING, e.schedule],
        lambda e: {"instructions": [{"kind": "replaceScheduledChangesInstructions", "value": [ON]}]},
    ),
    "deleteFlagConfigScheduledChanges": Door(
        "DELETE",
        f"{FLAG_ENV}/scheduled-changes/{{id}}",
        "updateScheduledChanges",
        lambda e, fresh: [e.project, e.flag, STAGING, e.new_schedule() if fresh else e.schedule],
    ),
    "getWorkflows": Door("GET", f"{FLAG_ENV}/workflows", "view", _flag_in(PRODUCTION)),
    "postWorkflow": Door(
        "POST",
        f"{FLAG_ENV}/workflows",
        "updateFeatureWorkflows",
        _flag_in(STAGING),
        lambda e: {"name": "W", "stages": [{**STAGE, "conditions": [LATER]}]},
    ),
    "getCustomWorkflow": Door(
        "GET",
        f"{FLAG_ENV}/workflows/{{workflowId}}",
        "view",
        lambda e, fresh: [e.project, e.flag, PRODUCTION, e.seen["workflow"]],
    ),
    "deleteWorkflow": Door(
        "DELETE",
        f"{FLAG_ENV}/workflows/{{workflowId}}",
        "updateFeatureWorkflows",
        lambda e, fresh: [e.project, e.flag, STAGING, e.new_workflow() if fresh else e.workflow],
    ),
    "getWorkflowTemplates": Door("GET", "/api/v2/templates", "viewTemplate"),
    "createWorkflowTemplate": Door(
        "POST",
        "/api/v2/templates",
        "createTemplate",
        body=lambda e: {
            "key": unique("tpl"),
            "name": "T",
            "stages": [STAGE],
            "projectKey": e.project,
            "flagKey": e.flag,
            "environmentKey": STAGING,
        },
    ),
    "deleteWorkflowTemplate": Door(
        "DELETE", "/api/v2/templates/{templateKey}", "deleteTemplate", _one("template", Estate.new_template)
    ),
    # -- segments
    "getSegments": Door("GET", "/api/v2/segments/{projectKey}/{environmentKey}", "viewEnvironment", _env(STAGING)),
    "postSegment": Door(
        "POST",
        "/api/v2/segments/{projectKey}/{environmentKey}",
        "createSegment",
        _env(STAGING),
        lambda e: {"key": unique("seg"), "name": "S"},
    ),
    "getSegment": Door("GET", SG, "viewEnvironment", _segment),
    "patchSegment": Door(
        "PATCH",
        SG,
        "updateDescription",
        _segment,
        lambda e: {"patch": [{"op": "replace", "path": "/description", "value": unique("d")}]},
    ),
    "deleteSegment": Door("DELETE", SG, "deleteSegment", _segment),
    "getExpiringTargetsForSegment": Door(
        "GET",
        "/api/v2/segments/{projectKey}/{segmentKey}/expiring-targets/{environmentKey}",
        "view",
        lambda e, fresh: [e.project, e.w.segment, PRODUCTION],
    ),
    "patchExpiringTargetsForSegment": Door(
        "PATCH",
        "/api/v2/segments/{projectKey}/{segmentKey}/expiring-targets/{environmentKey}",
        "updateExpiringTargets",
        lambda e, fresh: [e.project, e.w.segment, STAGING],
        lambda e: {
            "instructions": [
                {
                    "kind": "addExpiringTarget",
                    "contextKey": unique("u"),
                    "contextKind": "user",
                    "targetType": "included",
                    "value": 4_102_444_800_000,
                }
            ]
        },
    ),
    # -- approvals
    "getApprovalsForFlag": Door("GET", f"{FLAG_ENV}/approval-requests", "view", _flag_in(PRODUCTION)),
    "postApprovalRequestForFlag": Door(
        "POST",
        f"{FLAG_ENV}/approval-requests",
        "createApprovalRequest",
        _flag_in(PRODUCTION),
        lambda e: {"description": "on", "instructions": [ON]},
    ),
    "postFlagCopyConfigApprovalRequest": Door(
        "POST",
        f"{FLAG_ENV}/approval-requests-flag-copy",
        "createApprovalRequest",
        lambda e, fresh: [e.project, e.copyable_flag() if fresh else e.flag, PRODUCTION],
        lambda e: {"description": "copy", "source": {"key": STAGING}},
    ),
    "getApprovalForFlag": Door("GET", f"{FLAG_ENV}/approval-requests/{{id}}", "view", _request()),
    "deleteApprovalRequestForFlag": Door(
        "DELETE", f"{FLAG_ENV}/approval-requests/{{id}}", "deleteApprovalRequest", _request()
    ),
    "postApprovalRequestReviewForFlag": Door(
        "POST",
        f"{FLAG_ENV}/approval-requests/{{id}}/reviews",
        "reviewApprovalRequest",
        _request(),
        lambda e: {"kind": "approve"},
    ),
    "postApprovalRequestApplyForFlag": Door(
        "POST",
        f"{FLAG_ENV}/approval-requests/{{id}}/apply",
        "applyApprovalRequest",
        _request(approved=True),
        lambda e: {},
    ),
    "patchFlagConfigApprovalRequest": Door(
        "PATCH",
        f"{FLAG_ENV}/approval-requests/{{id}}",
        "updateApprovalRequest",
        _request(),
        _instructions({"kind": "updateDescription", "value": "on, please"}),
        official=False,
    ),
    "getApprovalRequests": Door("GET", AR, "view"),
    "postApprovalRequest": Door(
        "POST",
        AR,
        "createApprovalRequest",
        body=lambda e: {
            "resourceId": f"proj/{e.project}:env/{PRODUCTION}:flag/{e.flag}",
            "description": "on",
            "instructions": [ON],
        },
    ),
    "getApprovalRequestSettings": Door(
        "GET", f"{AR}/projects/{{projectKey}}/settings", "view", lambda e, fresh: [e.project]
    ),
    "patchApprovalRequestSettings": Door(
        "PATCH",
        f"{AR}/projects/{{projectKey}}/settings",
        "updateApprovalSettings",
        lambda e, fresh: [e.project],
        lambda e: {"environmentKey": STAGING, "resourceKind": "flag", "required": False, "requiredReviewers": []},
    ),
    "getApprovalRequest": Door("GET", f"{AR}/{{id}}", "view", _request_id()),
    "deleteApprovalRequest": Door("DELETE", f"{AR}/{{id}}", "deleteApprovalRequest", _request_id()),
    "postApprovalRequestReview": Door(
        "POST", f"{AR}/{{id}}/reviews", "reviewApprovalRequest", _request_id(), lambda e: {"kind": "approve"}
    ),
    "postApprovalRequestApply": Door(
        "POST", f"{AR}/{{id}}/apply", "applyApprovalRequest", _request_id(approved=True), lambda e: {}
    ),
    "patchApprovalRequest": Door(
        "PATCH",
        f"{AR}/{{id}}",
        "updateApprovalRequest",
        _request_id(),
        _instructions({"kind": "updateDescription", "value": "on!"}),
    ),
    # -- members, teams, roles, tokens
    "getMembers": Door("GET", "/api/v2/members", "viewMember"),
    "postMembers": Door(
        "POST", "/api/v2/members", "createMember", body=lambda e: [{"email": unique_email("new"), "role": "no_access"}]
    ),
    "patchMembers": Door(
        "PATCH",
        "/api/v2/members",
        "updateCustomRole",
        body=lambda e: {
            "instructions": [{"kind": "replaceMembersCustomRoles", "memberIDs": [e.new_member()], "values": [e.role]}]
        },
    ),
    "getMember": Door("GET", "/api/v2/members/{id}", "viewMember", _one("member", Estate.new_member)),
    "patchMember": Door(
        "PATCH",
        "/api/v2/members/{id}",
        "updateCustomRole",
        _one("member", Estate.new_member),
        lambda e: [{"op": "replace", "path": "/customRoles", "value": [e.role]}],
    ),
    "deleteMember": Door("DELETE", "/api/v2/members/{id}", "deleteMember", _one("member", Estate.new_member)),
    "postMemberTeams": Door(
        "POST",
        "/api/v2/members/{id}/teams",
        "updateTeamMembers",
        _one("member", Estate.new_member),
        lambda e: {"teamKeys": [e.team]},
    ),
    "getTeams": Door("GET", "/api/v2/teams", "viewTeam"),
    "postTeam": Door("POST", "/api/v2/teams", "createTeam", body=lambda e: {"key": unique("team"), "name": "T"}),
    "getTeam": Door("GET", "/api/v2/teams/{teamKey}", "viewTeam", _one("team", Estate.new_team)),
    "patchTeam": Door(
        "PATCH",
        "/api/v2/teams/{teamKey}",
        "updateTeamName",
        _one("team", Estate.new_team),
        lambda e: {"instructions": [{"kind": "updateName", "value": unique("n")}]},
    ),
    "deleteTeam": Door("DELETE", "/api/v2/teams/{teamKey}", "deleteTeam", _one("team", Estate.new_team)),
    "postTeamMembers": Door(
        "POST",
        "/api/v2/teams/{teamKey}/members",
        "updateTeamMembers",
        _one("team", Estate.new_team),
        lambda e: ("members.csv", f"email\n{e.member_email}\n".encode()),
    ),
    "getTeamRoles": Door("GET", "/api/v2/teams/{teamKey}/roles", "viewTeam", _one("team", Estate.new_team)),
    "getCustomRoles": Door("GET", "/api/v2/roles", "viewRole"),
    "postCustomRole": Door(
        "POST", "/api/v2/roles", "createRole", body=lambda e: {"key": unique("role"), "name": "R", "policy": STATEMENT}
    ),
    "getCustomRole": Door("GET", "/api/v2/roles/{customRoleKey}", "viewRole", _one("role", Estate.new_role)),
    "patchCustomRole": Door(
        "PATCH",
        "/api/v2/roles/{customRoleKey}",
        "update",
        _one("role", Estate.new_role),
        lambda e: {"patch": [{"op": "replace", "path": "/description", "value": unique("d")}]},
    ),
    "deleteCustomRole": Door("DELETE", "/api/v2/roles/{customRoleKey}", "deleteRole", _one("role", Estate.new_role)),
    "getTokens": Door("GET", "/api/v2/tokens", "viewAccessToken"),
    "postToken": Door(
        "POST", "/api/v2/tokens", "createAccessToken", body=lambda e: {"name": unique("pat"), "inlineRole": STATEMENT}
    ),
    "getToken": Door("GET", "/api/v2/tokens/{id}", "viewAccessToken", _one("token", Estate.new_token)),
    "patchToken": Door(
        "PATCH",
        "/api/v2/tokens/{id}",
        "updateAccessToken",
        _one("token", Estate.new_token),
        _json_patch("/name", lambda: unique("n")),
    ),
    "deleteToken": Door("DELETE", "/api/v2/tokens/{id}", "deleteAccessToken", _one("token", Estate.new_token)),
    "resetToken": Door("POST", "/api/v2/tokens/{id}/reset", "resetAccessToken", _one("token", Estate.new_token)),
    # -- one's own notifications
    "getNotifications": Door("GET", "/api/v2/notifications", "-", official=False),
    "postNotificationsRead": Door(
        "POST", "/api/v2/notifications/read", "-", body=lambda e: {"ids": []}, official=False
    ),
    # -- webhooks
    "getAllWebhooks": Door("GET", "/api/v2/webhooks", "viewWebhook"),
    "postWebhook": Door(
        "POST",
        "/api/v2/webhooks",
        "createWebhook",
        body=lambda e: {"url": "https://hooks.example.com/m", "sign": False, "on": True},
    ),
    "getWebhook": Door("GET", "/api/v2/webhooks/{id}", "viewWebhook", _one("webhook", Estate.new_webhook)),
    "patchWebhook": Door(
        "PATCH",
        "/api/v2/webhooks/{id}",
        "updateName",
        _one("webhook", Estate.new_webhook),
        _json_patch("/name", lambda: unique("n")),
    ),
    "deleteWebhook": Door("DELETE", "/api/v2/webhooks/{id}", "deleteWebhook", _one("webhook", Estate.new_webhook)),
    "getWebhookDeliveries": Door(
        "GET", "/api/v2/webhooks/{id}/deliveries", "viewWebhook", _one("webhook", Estate.new_webhook), official=False
    ),
}


# -- knocking on a door -----------------------------------------------------------------------------------

_API_CLASSES = (
    ApprovalsApi,
    ApprovalsBetaApi,
    AccessTokensApi,
    AccountMembersApi,
    AuditLogApi,
    ContextsApi,
    CustomRolesApi,
    EnvironmentsApi,
    FeatureFlagsApi,
    FlagTriggersApi,
    OtherApi,
    ProjectsApi,
    ScheduledChangesApi,
    SegmentsApi,
    TeamsApi,
    WebhooksApi,
    WorkflowTemplatesApi,
    WorkflowsApi,
)
_OPERATIONS = {
    name.replace("_", ""): (cls, name)
    for cls in _API_CLASSES
    for name in vars(cls)
    if not name.startswith("_") and not name.endswith(("_with_http_info", "_without_preload_content"))
}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@functools.cache
def _signature(cls: type, name: str) -> inspect.Signature:
    return inspect.signature(getattr(cls, name))


def knock(e: Estate, token: str, operation: str, door: Door, fresh: bool) -> Result:
    """The door's request, made with ``token``: ``(status, body)``."""
    args = door.args(e, fresh)
    names = re.findall(r"\{(\w+)\}", door.path)
    assert len(args) == len(names), (operation, args)
    body = door.body(e) if door.body is not None else None
    if door.official:
        cls, name = _OPERATIONS[operation.lower()]
        signature = _signature(cls, name)
        kwargs: dict[str, Any] = {_snake(n): a for n, a in zip(names, args, strict=True)}
        if body is not None:
            candidates = [
                p
                for p in signature.parameters.values()
                if p.name not in kwargs
                and p.name != "self"
                and not p.name.startswith("_")
                and "Strict" not in str(p.annotation)
            ] or [signature.parameters["file"]]  # a CSV upload
            (body_param,) = candidates
            kwargs[body_param.name] = body
        kwargs.update({_snake(k): v for k, v in door.query.items()})
        client = e.client(token, beta="Beta" in cls.__name__)
        if "ld_api_version" in signature.parameters:
            kwargs["ld_api_version"] = "beta"
        response = getattr(cls(client), f"{name}_without_preload_content")(**kwargs)
        return int(response.status), json.loads(response.data or b"{}")
    path = door.path.format(**dict(zip(names, args, strict=True)))
    answer = e.w.arena.http.request(
        door.method, path, json=body, params=door.query, headers={"Authorization": token, **BETA}
    )
    return _http(answer)


# -- what each door answers each role ---------------------------------------------------------------------

EVERYONE = {"getCallerIdentity", "getNotifications", "postNotificationsRead"}  # about the caller themselves
PROJECT_VIEWS = {
    "getProjects", "getProject", "getEnvironmentsByProject", "getEnvironment", "evaluateContextInstance",
    "getFeatureFlags", "getFeatureFlag", "getFeatureFlagStatuses", "getFeatureFlagStatus",
    "getFeatureFlagStatusAcrossEnvironments", "getExpiringContextTargets", "getTriggerWorkflows",
    "getTriggerWorkflowById", "getFlagConfigScheduledChanges", "getFeatureFlagScheduledChange", "getWorkflows",
    "getCustomWorkflow", "getSegments", "getSegment", "getExpiringTargetsForSegment", "getApprovalsForFlag",
    "getApprovalForFlag", "getApprovalRequests", "getApprovalRequestSettings", "getApprovalRequest",
}  # fmt: skip
ACCOUNT_VIEWS = {
    "getMembers", "getMember", "getTeams", "getTeam", "getTeamRoles", "getCustomRoles", "getCustomRole",
    "getAllWebhooks", "getWebhook", "getWebhookDeliveries",
}  # fmt: skip
ALL_VIEWS = EVERYONE | PROJECT_VIEWS | ACCOUNT_VIEWS
# Flag work in staging (no approvals there) on the payments flag, and approval requests in production.
FLAG_STAGING_UPDATES = {
    "patchFeatureFlag", "patchExpiringTargets", "patchTriggerWorkflow", "postFlagConfigScheduledChanges",
    "patchFlagConfigScheduledChange", "deleteFlagConfigScheduledChanges", "postWorkflow", "deleteWorkflow",
}  # fmt: skip
TRIGGER_LIFE = {"createTriggerWorkflow", "deleteTriggerWorkflow"}
REQUESTING = {"postApprovalRequestForFlag", "postFlagCopyConfigApprovalRequest", "postApprovalRequest"}
REQUEST_UPDATES = {"patchFlagConfigApprovalRequest", "patchApprovalRequest"}
REVIEWING = {"postApprovalRequestReviewForFlag", "postApprovalRequestReview"}
APPLYING = {"postApprovalRequestApplyForFlag", "postApprovalRequestApply"}
REQUEST_DELETES = {"deleteApprovalRequestForFlag", "deleteApprovalRequest"}
FLAG_LIFE = {"postFeatureFlag", "deleteFeatureFlag", "copyFeatureFlag"}
ALL_FLAG_WORK = (
    FLAG_STAGING_UPDATES
    | TRIGGER_LIFE
    | REQUESTING
    | REQUEST_UPDATES
    | REVIEWING
    | APPLYING
    | REQUEST_DELETES
    | FLAG_LIFE
)
SEGMENT_WORK = {"postSegment", "patchSegment", "deleteSegment", "patchExpiringTargetsForSegment"}
ENVIRONMENT_WORK = {
    "postEnvironment", "patchEnvironment", "deleteEnvironment", "resetEnvironmentSDKKey", "resetEnvironmentMobileKey",
    "patchApprovalRequestSettings",
}  # fmt: skip
MEMBER_WORK = {"postMembers", "patchMembers", "patchMember", "deleteMember"}
WEBHOOK_WORK = {"postWebhook", "patchWebhook", "deleteWebhook"}
# What the contractors see: staging. The doors reading one flag's (or segment's) things in one environment
# read production's, which they may not view; the approval requests are all in production, and a list of
# which one may view nothing is refused (as flagward answers a page of projects none of which one may view).
STAGING_VIEWS = {
    "getProjects", "getProject", "getEnvironmentsByProject", "getFeatureFlags", "getFeatureFlag",
    "getFeatureFlagStatuses", "getFeatureFlagStatusAcrossEnvironments", "getSegments", "getSegment",
    "evaluateContextInstance", "getApprovalRequestSettings",
}  # fmt: skip

# Every door not named in a role's row is refused with LaunchDarkly's 403. Nobody here may touch projects,
# the audit log (flagward's viewAuditLog on the account), workflow templates, access tokens (their own
# included: a base role of no_access and roles that do not name ``member/*:token/*``) or teams' members.
DOOR_VERDICTS: dict[str, dict[str, str]] = {
    "payments: change flags tagged payments anywhere, only apply approved changes in production": {
        **dict.fromkeys(ALL_VIEWS | FLAG_STAGING_UPDATES | REQUESTING | REQUEST_UPDATES | APPLYING, OK),
    },
    "contractors: read staging only": {
        **dict.fromkeys(EVERYONE | STAGING_VIEWS, OK),
        "getEnvironment": MASKED,
    },
    "sre: everything on flags, the only ones who bypass approvals": dict.fromkeys(ALL_VIEWS | ALL_FLAG_WORK, OK),
    "writer, as a custom role": {
        **dict.fromkeys(ALL_VIEWS | ALL_FLAG_WORK | SEGMENT_WORK, OK),
        "deleteFeatureFlag": GATED,
    },
    "reader, as a custom role": dict.fromkeys(ALL_VIEWS, OK),
    "no deletes": {
        **dict.fromkeys(ALL_VIEWS | ALL_FLAG_WORK | SEGMENT_WORK, OK),
        **dict.fromkeys(REQUEST_DELETES | {"deleteFeatureFlag", "deleteSegment", "deleteTriggerWorkflow"}, "403"),
    },
    "segments only": dict.fromkeys(ALL_VIEWS | SEGMENT_WORK, OK),
    "approvals reviewer only": dict.fromkeys(ALL_VIEWS | REVIEWING, OK),
    "LaunchDarkly's QA team: environments tagged qa_* and their flags": dict.fromkeys(
        ALL_VIEWS | FLAG_STAGING_UPDATES | TRIGGER_LIFE | ENVIRONMENT_WORK, OK
    ),
    # The only project is the private one: its list, and the list of its requests, show nothing and are refused.
    "LaunchDarkly's private project: not this project": dict.fromkeys(EVERYONE | ACCOUNT_VIEWS, OK),
    "people manager: members, and who is in which team": dict.fromkeys(
        ALL_VIEWS | MEMBER_WORK | {"postMemberTeams", "postTeamMembers"}, OK
    ),
    "release manager: copy production's configuration into staging": {
        **dict.fromkeys(ALL_VIEWS, OK),
        "copyFeatureFlag": OK,
    },
    "webhook keeper": dict.fromkeys(ALL_VIEWS | WEBHOOK_WORK, OK),
}


def _door_outcome(status: int, body: Any, door: Door, project: str) -> str:
    """``ok``, ``masked``, ``405``, ``403`` (LaunchDarkly's body naming the action and the resource refused),
    or what else was answered."""
    if 200 <= status < 300:
        shown = body.get("apiKey") if isinstance(body, dict) else None
        return MASKED if isinstance(shown, str) and "*" in shown else OK
    message = str(body.get("message")) if isinstance(body, dict) else str(body)
    if status == 405 and isinstance(body, dict) and body.get("code") == "method_not_allowed":
        return GATED  # the approval gate
    if status == 403:
        named = _REFUSAL.search(message)
        if body.get("code") != "forbidden" or not named:
            return f"403 without naming the action and resource: {body}"
        action, resource = named["action"], named["resource"]
        if not (door.action == "-" or action.startswith((door.action, "view"))):
            return f"403 naming {action} (expected {door.action})"
        kinds = ("proj/", "member/", "webhook/", "acct", "team/", "role/", "template/", "service-token/")
        if not resource.startswith(kinds) or (
            door.path.startswith(("/api/v2/flags/", "/api/v2/segments/")) and project not in resource
        ):
            return f"403 naming {resource}"
        return "403"
    return f"{status}: {message[:160]}"


@pytest.fixture(scope="module")
def estate(world: World) -> Estate:
    e = Estate(world)
    e.flag = e.new_flag()
    e.trigger, e.schedule, e.workflow = e.new_trigger(), e.new_schedule(), e.new_workflow()
    e.seen = {
        "trigger": e.new_trigger(env=PRODUCTION),
        "schedule": e.new_schedule(env=PRODUCTION),
        "workflow": e.new_workflow(env=PRODUCTION),
    }
    e.request = e.new_request(e.flag)[1]
    e.webhook, e.team, e.role, e.template = e.new_webhook(), e.new_team(), e.new_role(), e.new_template()
    (e.member, e.member_email), e.token = e.new_member_with_email(), e.new_token()
    e.audit = str(e.admin("GET", "/api/v2/auditlog", limit=1)["items"][0]["_id"])
    return e


def _expected_at_doors(role: str) -> dict[str, str]:
    return {name: DOOR_VERDICTS[role].get(name, "403") for name in DOORS}


@pytest.fixture(scope="module")
def door_outcomes(estate: Estate) -> dict[str, dict[str, str]]:
    """Every door, knocked on with each role's token: the roles side by side (a few at a time, so the server
    works while the client builds the next request), the doors of one role in turn. A door expected to let
    the role through (or to answer with the approval gate) is given fresh things to act on; one expected to
    refuse, the shared ones (a refusal changes nothing)."""

    def row(role: str) -> dict[str, str]:
        token, expected = estate.w.tokens[role], _expected_at_doors(role)
        got = {}
        for name, door in DOORS.items():
            status, body = knock(estate, token, name, door, fresh=expected[name] != "403")
            got[name] = _door_outcome(status, body, door, estate.project)
        return got

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(ROLES, pool.map(row, ROLES), strict=True))


@pytest.mark.parametrize("role", list(ROLES))
def test_what_each_role_may_do_at_every_door(door_outcomes: dict[str, dict[str, str]], role: str) -> None:
    got, expected = door_outcomes[role], _expected_at_doors(role)
    wrong = [f"{n}: got {g!r}, expected {expected[n]!r}" for n, g in got.items() if g != expected[n]]
    assert not wrong, "\n".join(wrong)


def test_every_verdict_names_a_real_door() -> None:
    assert set(DOOR_VERDICTS) == set(ROLES)
    assert all(set(row) <= set(DOORS) for row in DOOR_VERDICTS.values())
    assert all(set(row.values()) <= {OK, MASKED, GATED, "403"} for row in DOOR_VERDICTS.values())


def test_every_route_has_a_door() -> None:
    """The app's route table: every authenticated route of the REST API is a door of the matrix, or is
    excluded above with its reason."""
    app = create_app(Settings(database_url="sqlite://"), fake_deps()[0])
    document = app.openapi()
    routes, excluded = set(), set()
    for route in api_routes(app.routes):
        module = str(route.endpoint.__module__)
        for method in route.methods or ():
            if method == "HEAD":
                continue
            if module in EXCLUDED_MODULES or module.startswith(tuple(EXCLUDED_PACKAGES)):
                excluded.add((method, route.path_format))
            else:
                routes.add((method, route.path_format))
    doors = {(door.method, door.path) for door in DOORS.values()}
    assert routes - doors - set(ROUTE_EXCLUSIONS) == set(), "routes without a door in the matrix"
    assert doors - routes == set(), "doors no route serves"
    assert set(ROUTE_EXCLUSIONS) <= routes, "stale exclusions"
    assert all(
        authenticates(route)
        for route in api_routes(app.routes)
        for method in route.methods or ()
        if (method, route.path_format) in doors
    )
    for name, door in DOORS.items():  # named by LaunchDarkly's (or flagward's) operation id
        assert document["paths"][door.path][door.method.lower()]["operationId"] == name
        assert door.official == (name.lower() in _OPERATIONS and name not in NOT_THROUGH_THE_CLIENT), name
    assert len(excluded) >= 40  # the SDK edge and the console are seen, and left out


def test_a_patch_that_changes_nothing_shows_nothing_one_may_not_view(estate: Estate) -> None:
    """A JSON patch that changes nothing authorizes no change, but its answer is the resource: those who may
    not view it are refused (the contractors may view staging only: no members, webhooks, roles, tokens,
    nor production; the private project's role nothing of that project)."""
    token = estate.w.tokens["contractors: read staging only"]
    unchanged = [
        f"/api/v2/members/{estate.member}",
        f"/api/v2/webhooks/{estate.webhook}",
        f"/api/v2/roles/{estate.role}",
        f"/api/v2/tokens/{estate.token}",
        f"/api/v2/projects/{estate.project}/environments/{PRODUCTION}",
        f"/api/v2/segments/{estate.project}/{PRODUCTION}/{estate.w.segment}",
    ]
    private = estate.w.tokens["LaunchDarkly's private project: not this project"]
    hidden = [f"/api/v2/projects/{estate.project}", f"/api/v2/flags/{estate.project}/{estate.flag}"]
    got = {}
    for path in unchanged + hidden:
        who = token if path in unchanged else private
        response = estate.w.arena.http.patch(path, json=[], headers={"Authorization": who})
        got[path] = _door_outcome(response.status_code, response.json(), Door("PATCH", path, "view"), estate.project)
    assert got == dict.fromkeys(unchanged + hidden, "403")
