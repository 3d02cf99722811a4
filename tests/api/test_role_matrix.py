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

Also here: a role given to a team applies to its members; a token's inline role is bounded by its member.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import launchdarkly_api
import pytest
from launchdarkly_api.api.access_tokens_api import AccessTokensApi
from launchdarkly_api.api.account_members_api import AccountMembersApi
from launchdarkly_api.api.custom_roles_api import CustomRolesApi
from launchdarkly_api.api.environments_api import EnvironmentsApi
from launchdarkly_api.api.feature_flags_api import FeatureFlagsApi
from launchdarkly_api.api.segments_api import SegmentsApi
from launchdarkly_api.api.teams_api import TeamsApi
from launchdarkly_api.api.webhooks_api import WebhooksApi
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

from tests.support import accounts
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
    "people manager": [VIEW_ALL, allow(["member/*"])],
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
    "people manager": {**dict.fromkeys(VIEWS, OK), "invite a member": OK},
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
        for name, statements in ROLES.items():
            w.tokens[name] = _member_with_role(w, name, statements)
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


@pytest.mark.parametrize("role", list(ROLES))
def test_what_each_role_may_do(world: World, role: str) -> None:
    token = world.tokens[role]
    got = {}
    for name, check in CHECKS.items():
        got[name] = _outcome(*check.does(world, token), check, world.project)
    expected = {name: EXPECTED[role].get(name, "403") for name in CHECKS}
    assert got == expected


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
