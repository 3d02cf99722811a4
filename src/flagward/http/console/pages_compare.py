"""Compare environments: a flag (or a whole project) in two environments, part by part; the parts chosen
are brought over by an approval request (``approvals.create_copy_request``, as
``POST …/approval-requests-flag-copy``) or, where the target needs no approval and the viewer may write,
by a direct copy (``copy.copy_flag_config``, as ``POST /api/v2/flags/{p}/{f}/copy``).

The part selector previews, in plain language, the instructions the request will carry
(``/compare/preview``, swapped in by htmx as parts are ticked).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from flagward.domain.approvals import CopySource
from flagward.domain.copy import PART_ACTIONS, CopyAction
from flagward.domain.describe import describe_instructions
from flagward.domain.errors import DomainError, InvalidRequest
from flagward.domain.projects import Environment, Project
from flagward.http.console.security import CSRF_FIELD, Viewer, check_form, viewer
from flagward.http.console.templating import render
from flagward.http.deps import get_deps
from flagward.services import approvals
from flagward.services.approval_inbox import display_name
from flagward.services.copy import CopyEnd, copy_flag_config
from flagward.services.environment_compare import compare_environments, preview_copy
from flagward.services.members import list_members
from flagward.services.ports import MemberQuery, Page, ProjectQuery
from flagward.services.projects import list_projects

router = APIRouter(include_in_schema=False)
SOURCE_PREFERENCE = ("staging", "test", "qa", "development", "dev")


@dataclass(frozen=True)
class Choice:
    project: str
    flag: str
    source: str
    target: str

    def query(self, **changes: str) -> str:
        values = {"project": self.project, "flag": self.flag, "source": self.source, "target": self.target, **changes}
        return urlencode({k: v for k, v in values.items() if v})


def _defaults(envs: list[Environment]) -> tuple[str, str]:
    keys = [e.key for e in envs]
    target = "production" if "production" in keys else keys[-1] if keys else ""
    source = next((k for k in SOURCE_PREFERENCE if k in keys and k != target), None)
    source = source or next((k for k in keys if k != target), "")
    return source, target


def _choice(projects: list[tuple[Project, list[Environment]]], raw: dict[str, str]) -> tuple[Choice, list[Environment]]:
    by_key = {p.key: envs for p, envs in projects}
    project = raw.get("project") or (projects[0][0].key if projects else "")
    envs = by_key.get(project, [])
    source, target = _defaults(envs)
    keys = {e.key for e in envs}
    return (
        Choice(
            project=project,
            flag=raw.get("flag", "").strip(),
            source=raw["source"] if raw.get("source") in keys else source,
            target=raw["target"] if raw.get("target") in keys else target,
        ),
        envs,
    )


def _page(
    request: Request, current: Viewer, raw: dict[str, str], *, error: str | None = None, status: int = 200
) -> Response:
    deps = get_deps(request)
    projects, _ = list_projects(deps, actor=current.actor, query=ProjectQuery(page=Page(limit=100)))
    choice, envs = _choice(projects, raw)
    comparison, problem = None, None
    if choice.project and choice.source and choice.target:
        try:
            comparison = compare_environments(
                deps,
                actor=current.actor,
                project_key=choice.project,
                source_key=choice.source,
                target_key=choice.target,
                flag_key=choice.flag or None,
            )
        except DomainError as exc:
            problem = exc.message
    members, _ = list_members(deps, actor=current.actor, query=MemberQuery(page=Page(limit=200)))
    reviewers = [(m.id, display_name(m)) for m in members if m.id != current.member_id]
    return render(
        request,
        "compare/compare.html",
        status_code=status,
        viewer=current,
        nav="compare",
        projects=[p for p, _ in projects],
        environments=envs,
        choice=choice,
        comparison=comparison,
        problem=problem,
        reviewers=reviewers,
        part_actions=PART_ACTIONS,
        error=error,
        notice={"copied": "The parts were copied.", "none": ""}.get(raw.get("done", "")),
    )


@router.get("/compare")
def compare_page(
    request: Request, project: str = "", flag: str = "", source: str = "", target: str = "", done: str = ""
) -> Response:
    current = viewer(request)
    return _page(request, current, {"project": project, "flag": flag, "source": source, "target": target, "done": done})


def _actions(parts: list[str]) -> list[CopyAction]:
    return [PART_ACTIONS[p] for p in parts if p in PART_ACTIONS]


@router.get("/compare/preview")
def preview(
    request: Request,
    project: str = "",
    copy_flag: str = "",
    source: str = "",
    target: str = "",
) -> Response:
    """What a copy of the ticked parts (``part``, repeated) would request, in plain language."""
    current = viewer(request)
    parts = request.query_params.getlist("part")
    sentences: list[str] = []
    problem = None
    if parts:
        try:
            found, plan = preview_copy(
                get_deps(request),
                actor=current.actor,
                project_key=project,
                flag_key=copy_flag,
                source_key=source,
                target_key=target,
                actions=_actions(parts),
            )
            sentences = describe_instructions(plan, found, target)
        except DomainError as exc:
            problem = exc.message
    return render(request, "compare/_preview.html", sentences=sentences, problem=problem, chosen=bool(parts))


def _form_state(form: dict[str, Any]) -> dict[str, str]:
    return {k: str(form.get(k, "")) for k in ("project", "flag", "source", "target")}


@router.post("/compare/request")
async def request_copy(request: Request) -> Response:
    """Create the copy request (the flag-copy approval request) for the ticked parts."""
    current = viewer(request)
    form = await request.form()
    state = _form_state(dict(form))
    flag = str(form.get("copy_flag", ""))
    try:
        check_form(request, form.get(CSRF_FIELD), current.csrf_token)
        actions = _actions([str(p) for p in form.getlist("part")])
        if not actions:
            raise _nothing_chosen()
        created = approvals.create_copy_request(
            get_deps(request),
            actor=current.actor,
            project_key=state["project"],
            flag_key=flag,
            env_key=state["target"],
            new=approvals.NewCopyRequest(
                description=str(form.get("description", "")).strip(),
                source=CopySource(key=state["source"], version=_int(form.get("source_version"))),
                comment=str(form.get("comment", "")).strip() or None,
                notify_member_ids=[str(m) for m in form.getlist("reviewer")],
                included=actions,
            ),
        )
    except DomainError as exc:
        return _page(request, current, state, error=f"{flag}: {exc.message}", status=_status(exc))
    return RedirectResponse(f"/approvals/{created.id}?done=requested#top", status_code=303)


@router.post("/compare/copy")
def copy_now(
    request: Request,
    project: Annotated[str, Form()] = "",
    flag: Annotated[str, Form()] = "",
    source: Annotated[str, Form()] = "",
    target: Annotated[str, Form()] = "",
    copy_flag: Annotated[str, Form()] = "",
    part: Annotated[list[str] | None, Form()] = None,
    source_version: Annotated[str, Form()] = "",
    target_version: Annotated[str, Form()] = "",
    comment: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    """Copy the ticked parts at once, where the target needs no approval (the service refuses otherwise)."""
    current = viewer(request)
    state = {"project": project, "flag": flag, "source": source, "target": target}
    try:
        check_form(request, csrf_token, current.csrf_token)
        actions = _actions(part or [])
        if not actions:
            raise _nothing_chosen()
        copy_flag_config(
            get_deps(request),
            actor=current.actor,
            project_key=project,
            key=copy_flag,
            source=CopyEnd(source, _int(source_version)),
            target=CopyEnd(target, _int(target_version)),
            included=actions,
            comment=comment.strip() or None,
        )
    except DomainError as exc:
        return _page(request, current, state, error=f"{copy_flag}: {exc.message}", status=_status(exc))
    query = Choice(project, flag, source, target).query(done="copied")
    return RedirectResponse(f"/compare?{query}", status_code=303)


def _nothing_chosen() -> DomainError:
    return InvalidRequest("Tick at least one part to bring over")


def _int(raw: object) -> int | None:
    return int(raw) if isinstance(raw, str) and raw.isdigit() else None


def _status(exc: DomainError) -> int:
    return {
        "forbidden": 403,
        "not_found": 404,
        "method_not_allowed": 405,
        "optimistic_locking_error": 409,
        "conflict": 409,
    }.get(exc.code, 400)
