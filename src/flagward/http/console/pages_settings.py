"""Environment settings: each environment's approval rules, edited through the service behind
``PATCH /api/v2/projects/{p}/environments/{e}`` (the same permission check and audit entry), and its
SDK credentials, masked until revealed.

Only a role that may manage environments gets the form; everyone else reads the rules. Credentials
are revealed to those who may ``viewSdkKey`` on the environment (``get_environment_credentials``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from flagward.domain import resources
from flagward.domain.accounts import Team
from flagward.domain.authorization import permits
from flagward.domain.errors import DomainError
from flagward.domain.projects import MAX_APPROVALS, ApprovalSettings
from flagward.domain.review_policy import MAX_TEAM_APPROVALS
from flagward.http.console.security import CSRF_FIELD, Viewer, check_form, viewer
from flagward.http.console.templating import render
from flagward.http.deps import get_deps
from flagward.services.environments import get_environment_credentials, patch_environment
from flagward.services.ports import Page, ProjectQuery
from flagward.services.projects import get_project, list_projects
from flagward.services.teams import list_teams

router = APIRouter(include_in_schema=False)
CREDENTIALS = {
    "sdk": ("SDK key", "api_key"),
    "mobile": ("Mobile key", "mobile_key"),
    "client": ("Client-side ID", "id"),
}


# Teams offered as required reviewers (a team kept in the settings is listed even beyond these).
TEAMS_SHOWN = 100


def mask(secret: str) -> str:
    return "•" * 12 + secret[-4:]


@router.get("/settings")
def settings_home(request: Request) -> Response:
    current = viewer(request)
    projects, _ = list_projects(get_deps(request), actor=current.actor, query=ProjectQuery(page=Page(limit=1)))
    if not projects:
        return render(request, "error.html", status_code=404, viewer=current, nav="settings", error="No projects yet.")
    return RedirectResponse(f"/projects/{projects[0][0].key}/settings", status_code=303)


def _page(
    request: Request, current: Viewer, project_key: str, *, error: str | None = None, status: int = 200
) -> Response:
    deps = get_deps(request)
    try:
        project, environments = get_project(deps, actor=current.actor, key=project_key)
    except DomainError as exc:
        return render(request, "error.html", status_code=404, viewer=current, nav="settings", error=exc.message)
    projects, _ = list_projects(deps, actor=current.actor, query=ProjectQuery(page=Page(limit=100)))
    teams, _ = list_teams(deps, actor=current.actor, query=None, page=Page(limit=TEAMS_SHOWN))
    done = request.query_params.get("saved")
    added = request.query_params.get("added")
    return render(
        request,
        "settings/project.html",
        status_code=status,
        viewer=current,
        nav="settings",
        project=project,
        projects=[p for p, _ in projects],
        environments=environments,
        may_manage=permits(current.actor, "updateApprovalSettings", resources.environment(project_key, "*")),
        may_import=permits(current.actor, "importFlags", resources.project(project_key)),
        credentials=CREDENTIALS,
        mask=mask,
        max_approvals=MAX_APPROVALS,
        max_team_approvals=MAX_TEAM_APPROVALS,
        team_rows=lambda settings: team_rows(teams, settings),
        notice=_notice(done, added),
        error=error,
    )


def team_rows(teams: list[Team], settings: ApprovalSettings) -> list[tuple[str, str, int]]:
    """(key, name, required minimum or 0) of each team the form offers: those listed, then any the
    settings require that are not among them."""
    required = {r.team_key: r.min_approvals for r in settings.required_reviewers}
    rows = [(t.key, t.name, required.get(t.key, 0)) for t in teams]
    listed = {t.key for t in teams}
    return rows + [(key, key, n) for key, n in required.items() if key not in listed]


def _notice(saved: str | None, added: str | None) -> str | None:
    if saved:
        return f"The approval settings of {saved} were saved."
    if added:
        return f"The environment {added} was added; every flag is off in it."
    return None


@router.get("/projects/{project_key}/settings")
def settings_page(request: Request, project_key: str) -> Response:
    return _page(request, viewer(request), project_key)


@router.get("/projects/{project_key}/settings/{env_key}/credentials/{which}")
def reveal(request: Request, project_key: str, env_key: str, which: str) -> Response:
    """One credential in full (htmx swaps it in place of the masked one)."""
    current = viewer(request)
    if which not in CREDENTIALS:
        return Response(status_code=404)
    try:
        env = get_environment_credentials(get_deps(request), actor=current.actor, project_key=project_key, key=env_key)
    except DomainError as exc:
        return Response(exc.message, status_code=404 if exc.code == "not_found" else 403)
    value = getattr(env, CREDENTIALS[which][1])
    return render(request, "settings/_credential.html", value=value, label=CREDENTIALS[which][0])


def approval_patch(form: dict[str, Any]) -> list[dict[str, Any]]:
    """The JSON patch the approval form amounts to (``mode``: off | all | tags)."""
    mode = form.get("mode", "off")
    tags = [t.strip() for t in str(form.get("tags", "")).split(",") if t.strip()] if mode == "tags" else []
    minimum = str(form.get("min_approvals", "1"))
    values: dict[str, Any] = {
        "required": mode == "all",
        "requiredApprovalTags": tags,
        "minNumApprovals": int(minimum) if minimum.isdigit() else minimum,
        "canReviewOwnRequest": form.get("self_review") == "on",
        "canApplyDeclinedChanges": form.get("apply_declined") == "on",
    }
    if "team_keys" in form:  # required reviewer teams: one minimum per team offered, "" for not required
        pairs = zip(form["team_keys"], form.get("team_mins", []), strict=False)
        values["requiredReviewers"] = [
            {"teamKey": key, "minApprovals": int(n) if n.isdigit() else n} for key, n in pairs if n
        ]
    return [{"op": "replace", "path": f"/approvalSettings/{name}", "value": value} for name, value in values.items()]


@router.post("/projects/{project_key}/settings/{env_key}/approvals")
def save_approvals(
    request: Request,
    project_key: str,
    env_key: str,
    mode: Annotated[str, Form()] = "off",
    tags: Annotated[str, Form()] = "",
    min_approvals: Annotated[str, Form()] = "1",
    self_review: Annotated[str, Form()] = "",
    apply_declined: Annotated[str, Form()] = "",
    comment: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
    team_key: Annotated[list[str] | None, Form()] = None,
    team_min: Annotated[list[str] | None, Form()] = None,
) -> Response:
    current = viewer(request)
    form: dict[str, Any] = {
        "mode": mode,
        "tags": tags,
        "min_approvals": min_approvals,
        "self_review": self_review,
        "apply_declined": apply_declined,
    }
    if team_key is not None:
        form["team_keys"], form["team_mins"] = team_key, team_min or []
    try:
        check_form(request, csrf_token, current.csrf_token)
        env = patch_environment(
            get_deps(request),
            actor=current.actor,
            project_key=project_key,
            key=env_key,
            patch=approval_patch(form),
            comment=comment.strip() or None,
        )
    except DomainError as exc:
        status = {"forbidden": 403, "not_found": 404}.get(exc.code, 400)
        return _page(request, current, project_key, error=exc.message, status=status)
    return RedirectResponse(f"/projects/{project_key}/settings?saved={env.name}#env-{env.key}", status_code=303)
