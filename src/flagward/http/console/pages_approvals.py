"""The approvals inbox, a request's page, and its forms (review, apply, delete).

Each form calls the service the REST API calls, with the same actor, so the same permission checks run
and the same audit entries are written. A refused form re-renders the page with the service's message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from flagward.domain.approvals import ResourceKind, ReviewStatus, Status
from flagward.domain.describe import describe_instructions, describe_segment_instructions, describe_unknown
from flagward.domain.errors import DomainError
from flagward.http.console.actions import request_actions
from flagward.http.console.security import CSRF_FIELD, Viewer, check_form, viewer
from flagward.http.console.targeting import comparison
from flagward.http.console.templating import render
from flagward.http.deps import get_deps
from flagward.services import approvals as service
from flagward.services.approval_detail import RequestDetail, request_detail
from flagward.services.approval_inbox import InboxFilter, InboxTab, inbox
from flagward.services.ports import Page, ProjectQuery
from flagward.services.projects import list_projects

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 25
POLL_SECONDS = 5

TAB_LABELS = {InboxTab.WAITING: "Waiting for my review", InboxTab.MINE: "My requests", InboxTab.ALL: "All requests"}
NOTICES = {
    "approve": "You approved this request.",
    "decline": "You declined this request.",
    "comment": "Your comment was added.",
    "apply": "The change was applied.",
    "scheduled": "The change is scheduled.",
    "requested": "Your request was created; the reviewers you named will see it in their inbox.",
}


@dataclass(frozen=True)
class InboxParams:
    tab: InboxTab
    project: str
    environment: str
    status: str
    review: str
    page: int

    def query(self, **changes: Any) -> str:
        values = {
            "tab": self.tab.value,
            "project": self.project,
            "environment": self.environment,
            "status": self.status,
            "review": self.review,
            "page": self.page,
            **changes,
        }
        return urlencode({k: v for k, v in values.items() if v not in ("", None, 1)})

    @property
    def filter(self) -> InboxFilter:
        return InboxFilter(
            project_key=self.project or None,
            environment_key=self.environment or None,
            statuses=(self.status,) if self.status else (),
            review_statuses=(self.review,) if self.review else (),
        )

    @property
    def filtered(self) -> bool:
        return bool(self.project or self.environment or self.status or self.review)


def _params(tab: str, project: str, environment: str, status: str, review: str, page: str) -> InboxParams:
    try:
        chosen = InboxTab(tab)
    except ValueError:
        chosen = InboxTab.WAITING
    number = int(page) if page.isdigit() and int(page) > 0 else 1
    return InboxParams(
        tab=chosen,
        project=project,
        environment=environment,
        status=status if status in set(Status) else "",
        review=review if review in set(ReviewStatus) else "",
        page=number,
    )


def _inbox_context(request: Request, current: Viewer, params: InboxParams) -> dict[str, Any]:
    deps = get_deps(request)
    page = Page(limit=PAGE_SIZE, offset=(params.page - 1) * PAGE_SIZE)
    result = inbox(deps, actor=current.actor, tab=params.tab, filter=params.filter, page=page)
    projects, _ = list_projects(deps, actor=current.actor, query=ProjectQuery(page=Page(limit=100)))
    environments = sorted({e.key: e.name for _, envs in projects for e in envs}.items())
    pages = max(1, -(-result.total // PAGE_SIZE))
    return {
        "viewer": current,
        "nav": "approvals",
        "inbox": result,
        "params": params,
        "tabs": TAB_LABELS,
        "projects": [p for p, _ in projects],
        "environments": environments,
        "statuses": list(Status),
        "review_statuses": list(ReviewStatus),
        "pages": pages,
        "poll_seconds": POLL_SECONDS,
    }


@router.get("/approvals")
def inbox_page(
    request: Request,
    tab: str = "waiting",
    project: str = "",
    environment: str = "",
    status: str = "",
    review: str = "",
    page: str = "1",
) -> Response:
    current = viewer(request)
    params = _params(tab, project, environment, status, review, page)
    return render(request, "approvals/inbox.html", **_inbox_context(request, current, params))


@router.get("/approvals/list")
def inbox_partial(
    request: Request,
    tab: str = "waiting",
    project: str = "",
    environment: str = "",
    status: str = "",
    review: str = "",
    page: str = "1",
) -> Response:
    """The inbox's tabs and table, which the page polls (htmx) so it updates without a reload."""
    current = viewer(request)
    params = _params(tab, project, environment, status, review, page)
    return render(request, "approvals/_inbox_body.html", **_inbox_context(request, current, params))


def _detail_page(
    request: Request, current: Viewer, request_id: str, *, error: str | None = None, status: int = 200
) -> Response:
    detail = request_detail(get_deps(request), actor=current.actor, request_id=request_id)
    actions = request_actions(detail.view.request, current.actor, detail.view.settings, detail.resource)
    notice = NOTICES.get(request.query_params.get("done", ""))
    headers, rows = comparison(detail)
    return render(
        request,
        "approvals/detail.html",
        status_code=status,
        viewer=current,
        nav="approvals",
        detail=detail,
        req=detail.view.request,
        actions=actions,
        diff_headers=headers,
        diff_rows=rows,
        instruction_lines=_sentences(detail),
        error=error,
        notice=notice,
    )


@router.get("/approvals/{request_id}")
def detail_page(request: Request, request_id: str) -> Response:
    current = viewer(request)
    try:
        return _detail_page(request, current, request_id)
    except DomainError as exc:
        return render(request, "error.html", status_code=404, viewer=current, nav="approvals", error=exc.message)


def _sentences(detail: RequestDetail) -> list[str]:
    """The request's instructions in plain language, read against the flag as it was when requested."""
    request = detail.view.request
    if request.resource_kind is ResourceKind.SEGMENT:
        return describe_segment_instructions(request.instructions)
    flag = detail.base_flag or detail.flag
    if flag is None:
        return [describe_unknown(i) for i in request.instructions]
    return describe_instructions(request.instructions, flag, request.environment_key, get_flag=detail.get_flag)


def _done(request_id: str, what: str) -> Response:
    return RedirectResponse(f"/approvals/{request_id}?done={what}#top", status_code=303)


def _refused(request: Request, current: Viewer, request_id: str, exc: DomainError) -> Response:
    status = {"forbidden": 403, "not_found": 404, "method_not_allowed": 405}.get(exc.code, 400)
    try:
        return _detail_page(request, current, request_id, error=exc.message, status=status)
    except DomainError:
        return render(request, "error.html", status_code=status, viewer=current, nav="approvals", error=exc.message)


@router.post("/approvals/{request_id}/review")
def review(
    request: Request,
    request_id: str,
    kind: Annotated[str, Form()] = "",
    comment: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    current = viewer(request)
    try:
        check_form(request, csrf_token, current.csrf_token)
        service.review(
            get_deps(request), actor=current.actor, request_id=request_id, kind=kind, comment=comment.strip() or None
        )
    except DomainError as exc:
        return _refused(request, current, request_id, exc)
    return _done(request_id, kind)


@router.post("/approvals/{request_id}/apply")
def apply(
    request: Request,
    request_id: str,
    comment: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    current = viewer(request)
    try:
        check_form(request, csrf_token, current.csrf_token)
        applied = service.apply(
            get_deps(request), actor=current.actor, request_id=request_id, comment=comment.strip() or None
        )
    except DomainError as exc:
        return _refused(request, current, request_id, exc)
    return _done(request_id, "scheduled" if applied.status is Status.SCHEDULED else "apply")


@router.post("/approvals/{request_id}/delete")
def delete(request: Request, request_id: str, csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "") -> Response:
    current = viewer(request)
    try:
        check_form(request, csrf_token, current.csrf_token)
        service.delete(get_deps(request), actor=current.actor, request_id=request_id)
    except DomainError as exc:
        return _refused(request, current, request_id, exc)
    return RedirectResponse("/approvals?tab=mine&deleted=1", status_code=303)
