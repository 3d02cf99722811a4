"""Creating things from the console: a project (with LaunchDarkly's default environments), an
environment of a project, and a flag. Each form calls the service behind the REST route
(``POST /api/v2/projects``, ``POST /api/v2/projects/{p}/environments``, ``POST /api/v2/flags/{p}``):
the same permission checks, approval gate (a new flag that is on where approval is required) and
audit entries. A form page is offered only to a role the service allows.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from flagward.domain import resources
from flagward.domain.authorization import permits
from flagward.domain.errors import DomainError
from flagward.domain.projects import DEFAULT_ENVIRONMENTS
from flagward.http.console.security import CSRF_FIELD, Viewer, check_form, viewer
from flagward.http.console.templating import render
from flagward.http.deps import get_deps
from flagward.services.environments import NewEnvironment, create_environment
from flagward.services.flags import NewFlag, create_flag
from flagward.services.projects import NewProject, create_project, get_project

router = APIRouter(include_in_schema=False)
_STATUS = {"forbidden": 403, "not_found": 404, "conflict": 409, "method_not_allowed": 405}
DEFAULT_COLOR = "#3B82F6"


def _status(exc: DomainError) -> int:
    return _STATUS.get(exc.code, 400)


def _refused(request: Request, current: Viewer, nav: str, message: str, status: int = 403) -> Response:
    return render(request, "error.html", status_code=status, viewer=current, nav=nav, error=message)


# -- projects ---------------------------------------------------------------------------------------


def _project_form(
    request: Request, current: Viewer, form: dict[str, str], *, error: str | None = None, status: int = 200
) -> Response:
    defaults = ", ".join(name for _, name, _ in DEFAULT_ENVIRONMENTS)
    return render(
        request,
        "create/project.html",
        status_code=status,
        viewer=current,
        nav="flags",
        form=form,
        defaults=defaults,
        error=error,
    )


@router.get("/projects/new")
def new_project_page(request: Request) -> Response:
    current = viewer(request)
    if not permits(current.actor, "createProject", resources.project("*")):
        return _refused(request, current, "flags", "Only admins and owners can create projects.")
    return _project_form(request, current, {"key": "", "name": ""})


@router.post("/projects/new")
def new_project(
    request: Request,
    key: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    current = viewer(request)
    form = {"key": key.strip(), "name": name.strip()}
    try:
        check_form(request, csrf_token, current.csrf_token)
        project, _ = create_project(
            get_deps(request), actor=current.actor, new=NewProject(key=form["key"], name=form["name"] or form["key"])
        )
    except DomainError as exc:
        return _project_form(request, current, form, error=exc.message, status=_status(exc))
    return RedirectResponse(f"/projects/{project.key}/flags?created=project", status_code=303)


# -- environments -----------------------------------------------------------------------------------


def _environment_form(
    request: Request,
    current: Viewer,
    project_key: str,
    form: dict[str, str],
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    try:
        project, environments = get_project(get_deps(request), actor=current.actor, key=project_key)
    except DomainError as exc:
        return render(
            request, "error.html", status_code=_status(exc), viewer=current, nav="settings", error=exc.message
        )
    return render(
        request,
        "create/environment.html",
        status_code=status,
        viewer=current,
        nav="settings",
        project=project,
        environments=environments,
        form=form,
        error=error,
    )


@router.get("/projects/{project_key}/settings/new-environment")
def new_environment_page(request: Request, project_key: str) -> Response:
    current = viewer(request)
    if not permits(current.actor, "createEnvironment", resources.environment(project_key, "*")):
        return _refused(request, current, "settings", "Only admins and owners can add environments.")
    return _environment_form(request, current, project_key, {"key": "", "name": "", "color": DEFAULT_COLOR})


@router.post("/projects/{project_key}/settings/new-environment")
def new_environment(
    request: Request,
    project_key: str,
    key: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    color: Annotated[str, Form()] = DEFAULT_COLOR,
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    current = viewer(request)
    form = {"key": key.strip(), "name": name.strip(), "color": color.strip()}
    try:
        check_form(request, csrf_token, current.csrf_token)
        env = create_environment(
            get_deps(request),
            actor=current.actor,
            project_key=project_key,
            new=NewEnvironment(
                key=form["key"], name=form["name"] or form["key"], color=form["color"].lstrip("#").upper()
            ),
        )
    except DomainError as exc:
        return _environment_form(request, current, project_key, form, error=exc.message, status=_status(exc))
    return RedirectResponse(f"/projects/{project_key}/settings?added={env.key}#env-{env.key}", status_code=303)


# -- flags ------------------------------------------------------------------------------------------


def flag_variations(kind: str, values: str) -> list[dict[str, Any]] | None:
    """The variations a flag form asks for: None (two booleans) or one string per non-empty line."""
    if kind != "string":
        return None
    return [{"value": line.strip()} for line in values.splitlines() if line.strip()]


def _flag_form(
    request: Request,
    current: Viewer,
    project_key: str,
    form: dict[str, str],
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    try:
        project, _ = get_project(get_deps(request), actor=current.actor, key=project_key)
    except DomainError as exc:
        return _refused(request, current, "flags", exc.message, _status(exc))
    return render(
        request,
        "create/flag.html",
        status_code=status,
        viewer=current,
        nav="flags",
        project=project,
        form=form,
        error=error,
    )


@router.get("/projects/{project_key}/new-flag")
def new_flag_page(request: Request, project_key: str) -> Response:
    current = viewer(request)
    if not permits(current.actor, "createFlag", resources.flag(project_key, "*")):
        return _refused(request, current, "flags", "Readers cannot create flags.")
    blank = {"key": "", "name": "", "description": "", "kind": "boolean", "values": "", "temporary": "on"}
    return _flag_form(request, current, project_key, blank)


@router.post("/projects/{project_key}/new-flag")
def new_flag(
    request: Request,
    project_key: str,
    key: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "boolean",
    values: Annotated[str, Form()] = "",
    temporary: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    current = viewer(request)
    form = {
        "key": key.strip(),
        "name": name.strip(),
        "description": description.strip(),
        "kind": kind,
        "values": values,
        "temporary": temporary,
    }
    try:
        check_form(request, csrf_token, current.csrf_token)
        new = NewFlag(
            key=form["key"],
            name=form["name"] or form["key"],
            description=form["description"],
            variations=flag_variations(kind, values),
            temporary=temporary == "on",
        )
        flag, _ = create_flag(get_deps(request), actor=current.actor, project_key=project_key, new=new)
    except DomainError as exc:
        return _flag_form(request, current, project_key, form, error=exc.message, status=_status(exc))
    return RedirectResponse(f"/projects/{project_key}/flags/{flag.key}?done=created", status_code=303)
