"""The signed-in member's in-app notifications: the unread count in the top bar (polled by htmx), the
list (newest first, unread ones marked in words), and marking them read, one or all, through the
service of ``POST /api/v2/notifications/read``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from flagward.domain.errors import DomainError, InvalidRequest
from flagward.domain.notifications import Notification, request_page
from flagward.http.console.security import CSRF_FIELD, check_form, viewer
from flagward.http.console.templating import render
from flagward.http.deps import get_deps
from flagward.services import notifications as service
from flagward.services.ports import Page

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 20
SHOWS = {"all": "All", "unread": "Unread"}
NOTICES = {"one": "The notification was marked read.", "all": "All your notifications were marked read."}


@dataclass(frozen=True)
class Item:
    notification: Notification
    href: str | None  # the request's console page

    @property
    def unread(self) -> bool:
        return self.notification.read_at is None

    @property
    def summary(self) -> str:
        """The body's first line: which flag, environment and project."""
        return self.notification.body.split("\n", 1)[0]

    @property
    def changes(self) -> list[str]:
        lines = self.notification.body.split("\n")
        return [line[2:] for line in lines if line.startswith("- ")]


def _query(show: str, page: int, **extra: str) -> str:
    values = {"show": show if show != "all" else "", "page": page if page > 1 else "", **extra}
    return urlencode({k: v for k, v in values.items() if v})


@router.get("/notifications")
def notifications_page(request: Request, show: str = "all", page: str = "1", done: str = "") -> Response:
    current = viewer(request)
    deps = get_deps(request)
    show = show if show in SHOWS else "all"
    number = int(page) if page.isdigit() and int(page) > 0 else 1
    unread_only = show == "unread"
    window = Page(limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE)
    found, total, unread = service.list_notifications(deps, actor=current.actor, unread_only=unread_only, page=window)
    pages = max(1, -(-total // PAGE_SIZE))
    if number > pages:  # e.g. the last unread one on the last page was just marked read
        return RedirectResponse(f"/notifications?{_query(show, pages, done=done)}", status_code=303)
    items = [Item(n, request_page(n.approval_request_id) if n.approval_request_id else None) for n in found]
    return render(
        request,
        "notifications/list.html",
        viewer=current,
        nav="notifications",
        items=items,
        total=total,
        unread=unread,
        show=show,
        shows=SHOWS,
        number=number,
        pages=pages,
        query=_query,
        notice=NOTICES.get(done),
    )


@router.get("/notifications/count")
def count_partial(request: Request) -> Response:
    """The top bar's unread count, which every page polls (htmx) so it changes without a reload."""
    return render(request, "notifications/_count.html", viewer=viewer(request))


@router.post("/notifications/read")
def mark_read(
    request: Request,
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
    notification_id: Annotated[str, Form(alias="id")] = "",
    every: Annotated[str, Form(alias="all")] = "",
    show: Annotated[str, Form()] = "all",
    page: Annotated[str, Form()] = "1",
) -> Response:
    """Mark one notification (``id``) or all of them (``all``) read, then back to the list."""
    current = viewer(request)
    check_form(request, csrf_token, current.csrf_token)
    show = show if show in SHOWS else "all"
    number = int(page) if page.isdigit() and int(page) > 0 else 1
    try:
        if not notification_id and not every:
            raise InvalidRequest("Choose a notification to mark read, or mark all of them read")
        service.mark_read(get_deps(request), actor=current.actor, ids=None if every else [notification_id])
    except DomainError as exc:
        return render(request, "error.html", status_code=400, viewer=current, nav="notifications", error=exc.message)
    done = "all" if every else "one"
    return RedirectResponse(f"/notifications?{_query(show, number, done=done)}", status_code=303)
