"""Flags: the project picker, a project's flags in one environment, a flag's page, and its forms.

A form's fields become semantic-patch instructions (``flag_forms``). Where the environment requires
approval and the viewer may not bypass it, or where an owner or admin chooses to ask anyway, the
instructions go to a confirmation page and become an approval request
(``approval_create.create_flag_request``); otherwise they are applied by ``flag_changes.update_flag``,
the service behind the REST PATCH. Both run the service's permission checks, gate and audit.
"""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse
from starlette.datastructures import FormData

from flagward.domain import resources
from flagward.domain.authorization import permits
from flagward.domain.describe import describe_instructions
from flagward.domain.diff import diff_configs
from flagward.domain.errors import DomainError, InvalidRequest, NotFound
from flagward.http.console import flag_view
from flagward.http.console.chart import evaluations_chart
from flagward.http.console.flag_forms import OPERATORS, instructions_for
from flagward.http.console.security import CSRF_FIELD, Viewer, check_form, viewer
from flagward.http.console.templating import render
from flagward.http.deps import get_deps
from flagward.services.approval_create import NewRequest, create_flag_request
from flagward.services.authz import may_change_flag_in
from flagward.services.flag_changes import FlagPatch, update_flag
from flagward.services.flag_overview import flag_list, flag_overview, needs_request, preview_flag_change
from flagward.services.flags import get_flag
from flagward.services.ports import FlagQuery, Page, ProjectQuery
from flagward.services.projects import list_projects

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 25
NOTICES = {
    "turn-on": "Targeting is on.",
    "turn-off": "Targeting is off.",
    "fallthrough": "The default rule was updated.",
    "off-variation": "The off variation was updated.",
    "add-targets": "The individual targets were added.",
    "remove-targets": "The individual targets were removed.",
    "add-rule": "The rule was added.",
    "remove-rule": "The rule was removed.",
    "rule-serve": "The rule now serves the new variation.",
    "move-rule": "The rules were reordered.",
    "created": "The flag was created, off in every environment.",
}
_STATUS = {"forbidden": 403, "not_found": 404, "method_not_allowed": 405, "conflict": 409, "optimistic_locking": 409}


async def _form(request: Request) -> FormData:
    return await request.form()


FormDep = Annotated[FormData, Depends(_form)]


def _status(exc: DomainError) -> int:
    return _STATUS.get(exc.code, 400)


def _not_found(request: Request, current: Viewer, exc: DomainError) -> Response:
    return render(request, "error.html", status_code=_status(exc), viewer=current, nav="flags", error=exc.message)


@router.get("/projects")
def projects_page(request: Request) -> Response:
    """The project picker; with a single project, its flags straight away."""
    current = viewer(request)
    projects, total = list_projects(get_deps(request), actor=current.actor, query=ProjectQuery(page=Page(limit=100)))
    if total == 1:
        return RedirectResponse(f"/projects/{projects[0][0].key}/flags", status_code=303)
    may_create = permits(current.actor, "createProject", resources.project("*"))
    return render(request, "flags/projects.html", viewer=current, nav="flags", projects=projects, may_create=may_create)


@router.get("/projects/{project_key}/flags")
def flags_page(
    request: Request, project_key: str, env: str = "", q: str = "", tag: str = "", page: str = "1"
) -> Response:
    current = viewer(request)
    number = int(page) if page.isdigit() and int(page) > 0 else 1
    query = FlagQuery(
        query=q.strip() or None,
        tags=(tag,) if tag else (),
        sort="key",
        page=Page(limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE),
    )
    try:
        listing = flag_list(get_deps(request), actor=current.actor, project_key=project_key, env_key=env, query=query)
    except DomainError as exc:
        return _not_found(request, current, exc)
    env_key = listing.environment.key if listing.environment else ""

    def link(**changes: Any) -> str:
        values = {"env": env_key, "q": q.strip(), "tag": tag, "page": number, **changes}
        return "?" + urlencode({k: v for k, v in values.items() if v not in ("", None, 1)})

    return render(
        request,
        "flags/list.html",
        viewer=current,
        nav="flags",
        listing=listing,
        rows=[flag_view.list_row(r, env_key) for r in listing.rows],
        q=q.strip(),
        tag=tag,
        page=number,
        pages=max(1, -(-listing.total // PAGE_SIZE)),
        link=link,
        may_create=permits(current.actor, "createFlag", resources.flag(listing.project.key, "*")),
        may_import=permits(current.actor, "importFlags", resources.project(listing.project.key)),
        notice=_created_notice(request, listing.environments),
    )


def _created_notice(request: Request, environments: list[Any]) -> str | None:
    if request.query_params.get("created") != "project":
        return None
    names = ", ".join(e.name for e in environments)
    return f"The project was created with the environments {names}. Add more in Settings."


def _flag_page(
    request: Request,
    current: Viewer,
    project_key: str,
    flag_key: str,
    env_key: str,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    overview = flag_overview(
        get_deps(request), actor=current.actor, project_key=project_key, flag_key=flag_key, env_key=env_key
    )
    env = overview.environment
    gated = env.key in overview.approval_required
    return render(
        request,
        "flags/detail.html",
        status_code=status,
        viewer=current,
        nav="flags",
        o=overview,
        flag=overview.flag,
        env=env,
        everywhere=flag_view.everywhere(overview),
        targeting=flag_view.targeting(overview.flag, env.key, overview.get_flag),
        chart=evaluations_chart(overview.flag, overview.evaluations),
        history=flag_view.history(overview),
        can_write=may_change_flag_in(current.actor, overview.flag, env),
        gated=gated,
        request_only=gated and not overview.can_bypass,
        operators=OPERATORS,
        error=error,
        notice=NOTICES.get(request.query_params.get("done", "")),
    )


@router.get("/projects/{project_key}/flags/{flag_key}")
def flag_page(request: Request, project_key: str, flag_key: str, env: str = "") -> Response:
    current = viewer(request)
    try:
        return _flag_page(request, current, project_key, flag_key, env)
    except DomainError as exc:
        return _not_found(request, current, exc)


def _refused(
    request: Request, current: Viewer, project_key: str, flag_key: str, env: str, exc: DomainError
) -> Response:
    try:
        return _flag_page(request, current, project_key, flag_key, env, error=exc.message, status=_status(exc))
    except DomainError:
        return _not_found(request, current, exc)


def _confirm_page(
    request: Request,
    current: Viewer,
    project_key: str,
    flag_key: str,
    env_key: str,
    instructions: list[dict[str, Any]],
    *,
    form: FormData | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    preview = preview_flag_change(
        get_deps(request),
        actor=current.actor,
        project_key=project_key,
        flag_key=flag_key,
        env_key=env_key,
        instructions=instructions,
    )
    sentences = describe_instructions(instructions, preview.flag, env_key, get_flag=preview.get_flag)
    parts = diff_configs(preview.flag, preview.proposed, before_environment=env_key, get_flag=preview.get_flag)
    default_description = "; ".join(sentences) + f" in {preview.environment.name}"
    return render(
        request,
        "flags/confirm.html",
        status_code=status,
        viewer=current,
        nav="flags",
        p=preview,
        flag=preview.flag,
        env=preview.environment,
        sentences=sentences,
        parts=[p for p in parts if p.differs] or parts,
        instructions_json=json.dumps(instructions),
        description=(form.get("description") if form else None) or default_description[:300],
        comment=(form.get("comment") if form else None) or "",
        chosen_members=set(form.getlist("reviewers")) if form else set(),
        chosen_teams=set(form.getlist("teams")) if form else set(),
        error=error,
    )


@router.post("/projects/{project_key}/flags/{flag_key}/change")
def change(request: Request, project_key: str, flag_key: str, form: FormDep) -> Response:
    """Apply a form's change, or, where it needs approval (or the viewer asks for it), confirm a request."""
    current = viewer(request)
    env_key = str(form.get("env", ""))
    deps = get_deps(request)
    try:
        check_form(request, form.get(CSRF_FIELD), current.csrf_token)
        flag, _ = get_flag(deps, actor=current.actor, project_key=project_key, key=flag_key)
        if env_key not in flag.environments:
            raise NotFound(f"Unknown environment '{env_key}'")
        instructions = instructions_for(flag, env_key, form)
        if not instructions:
            return _back(project_key, flag_key, env_key)
        gated = needs_request(deps, actor=current.actor, project_key=project_key, flag_key=flag_key, env_key=env_key)
        if gated or form.get("mode") == "request":
            return _confirm_page(request, current, project_key, flag_key, env_key, instructions)
        comment = str(form.get("comment", "")).strip() or None
        patch = FlagPatch("semantic", instructions, comment=comment, environment_key=env_key)
        update_flag(deps, actor=current.actor, project_key=project_key, key=flag_key, patch=patch)
    except DomainError as exc:
        return _refused(request, current, project_key, flag_key, env_key, exc)
    return _back(project_key, flag_key, env_key, done=str(form.get("action", "")))


def _back(project_key: str, flag_key: str, env_key: str, done: str = "") -> Response:
    query = urlencode({"env": env_key, **({"done": done} if done else {})})
    return RedirectResponse(f"/projects/{project_key}/flags/{flag_key}?{query}#targeting", status_code=303)


def _instructions(raw: object) -> list[dict[str, Any]]:
    try:
        value = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        value = None
    if not isinstance(value, list) or not all(isinstance(i, dict) for i in value):
        raise InvalidRequest("This form has expired; make the change again from the flag's page")
    return value


@router.post("/projects/{project_key}/flags/{flag_key}/request")
def request_change(request: Request, project_key: str, flag_key: str, form: FormDep) -> Response:
    """Create the approval request confirmed on the confirmation page."""
    current = viewer(request)
    env_key = str(form.get("env", ""))
    try:
        check_form(request, form.get(CSRF_FIELD), current.csrf_token)
        instructions = _instructions(form.get("instructions"))
    except DomainError as exc:
        return _refused(request, current, project_key, flag_key, env_key, exc)
    new = NewRequest(
        description=str(form.get("description", "")).strip(),
        instructions=instructions,
        comment=str(form.get("comment", "")).strip() or None,
        notify_member_ids=[str(m) for m in form.getlist("reviewers")],
        notify_team_keys=[str(t) for t in form.getlist("teams")],
    )
    try:
        created = create_flag_request(
            get_deps(request), actor=current.actor, project_key=project_key, flag_key=flag_key, env_key=env_key, new=new
        )
    except DomainError as exc:
        try:
            return _confirm_page(
                request,
                current,
                project_key,
                flag_key,
                env_key,
                instructions,
                form=form,
                error=exc.message,
                status=_status(exc),
            )
        except DomainError:
            return _refused(request, current, project_key, flag_key, env_key, exc)
    return RedirectResponse(f"/approvals/{created.id}?done=requested#top", status_code=303)
