"""Members: who can sign in, with which role; invitations (one-time links to set a password), new
links, and role changes. Members are added through the core of ``POST /api/v2/members`` and roles
changed through ``PATCH /api/v2/members/{id}``'s service (``patch_member``: the last owner stays an
owner, nobody grants above their own role), so the checks and audit entries are the API's.

A new link is shown once, to the admin who issued it, on the page the form answers with (never in a
URL: it is not kept anywhere but in the store as a hash); with SMTP configured it is also e-mailed.
``/invitations/{token}`` is where the invitee sets a password and is signed in.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from flagward.domain import resources
from flagward.domain.accounts import Role
from flagward.domain.authorization import permits
from flagward.domain.errors import DomainError, InvalidRequest
from flagward.domain.invitations import INVITATION_PATH
from flagward.http.console.security import (
    CSRF_FIELD,
    PRE_SESSION_COOKIE,
    Viewer,
    check_form,
    pre_session_token,
    viewer,
)
from flagward.http.console.templating import render
from flagward.http.deps import get_deps
from flagward.http.routes.system import set_session_cookie
from flagward.services.invitations import (
    Invitation,
    accept_invitation,
    invite_member,
    invited_member,
    issue_link,
    member_statuses,
)
from flagward.services.members import MIN_PASSWORD_LENGTH, patch_member

router = APIRouter(include_in_schema=False)
_STATUS = {"forbidden": 403, "not_found": 404, "conflict": 409}
ROLES = (Role.READER, Role.WRITER, Role.ADMIN, Role.OWNER)
ROLE_HELP = {
    Role.READER: "sees everything, changes nothing",
    Role.WRITER: "changes flags, requests and reviews changes",
    Role.ADMIN: "also manages projects, environments, approvals and members",
    Role.OWNER: "everything; the account always keeps one",
}


def _status(exc: DomainError) -> int:
    return _STATUS.get(exc.code, 400)


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _page(
    request: Request,
    current: Viewer,
    *,
    issued: Invitation | None = None,
    error: str | None = None,
    notice: str | None = None,
    form_email: str = "",
    form_role: str = "writer",
    status: int = 200,
) -> Response:
    rows = member_statuses(get_deps(request), actor=current.actor)
    may_manage = permits(current.actor, "createMember", resources.member("*"))
    grantable = [r for r in ROLES if r.rank <= current.actor.role.rank]
    return render(
        request,
        "members/list.html",
        status_code=status,
        viewer=current,
        nav="members",
        rows=rows,
        may_manage=may_manage,
        roles=grantable,
        role_help=ROLE_HELP,
        issued=issued,
        error=error,
        notice=notice,
        form_email=form_email,
        form_role=form_role,
    )


@router.get("/members")
def members_page(request: Request) -> Response:
    current = viewer(request)
    changed = request.query_params.get("changed")
    return _page(request, current, notice=f"The role of {changed} was changed." if changed else None)


@router.post("/members/invite")
def invite(
    request: Request,
    email: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "writer",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    current = viewer(request)
    email = email.strip()
    try:
        check_form(request, csrf_token, current.csrf_token)
        invitation = invite_member(
            get_deps(request), actor=current.actor, email=email, role=Role.parse(role), base_url=_base_url(request)
        )
    except DomainError as exc:
        return _page(request, current, error=exc.message, form_email=email, form_role=role, status=_status(exc))
    return _page(request, current, issued=invitation, status=201)


@router.post("/members/{member_id}/link")
def new_link(request: Request, member_id: str, csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "") -> Response:
    current = viewer(request)
    try:
        check_form(request, csrf_token, current.csrf_token)
        invitation = issue_link(
            get_deps(request), actor=current.actor, member_id=member_id, base_url=_base_url(request)
        )
    except DomainError as exc:
        return _page(request, current, error=exc.message, status=_status(exc))
    return _page(request, current, issued=invitation, status=201)


@router.post("/members/{member_id}/role")
def change_role(
    request: Request,
    member_id: str,
    role: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    current = viewer(request)
    try:
        check_form(request, csrf_token, current.csrf_token)
        member = patch_member(
            get_deps(request),
            actor=current.actor,
            member_id=member_id,
            patch=[{"op": "replace", "path": "/role", "value": role}],
        )
    except DomainError as exc:
        return _page(request, current, error=exc.message, status=_status(exc))
    return RedirectResponse(f"/members?changed={member.email}", status_code=303)


# -- the invitee's side -----------------------------------------------------------------------------


def _invitation_page(request: Request, token: str, *, error: str | None = None, status: int = 200) -> Response:
    csrf = pre_session_token(request)
    try:
        member = invited_member(get_deps(request), token=token)
    except DomainError as exc:
        response = render(request, "members/invitation.html", status_code=404, member=None, error=exc.message)
    else:
        response = render(
            request,
            "members/invitation.html",
            status_code=status,
            member=member,
            token=token,
            csrf_token=csrf,
            min_length=MIN_PASSWORD_LENGTH,
            error=error,
        )
    response.set_cookie(PRE_SESSION_COOKIE, csrf, httponly=True, samesite="strict", path=INVITATION_PATH.rstrip("/"))
    response.headers["Referrer-Policy"] = "same-origin"  # the token is in this page's URL: never to other sites
    return response


@router.get("/invitations/{token}")
def invitation_page(request: Request, token: str) -> Response:
    return _invitation_page(request, token)


@router.post("/invitations/{token}")
def accept(
    request: Request,
    token: str,
    password: Annotated[str, Form()] = "",
    confirm: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    try:
        check_form(request, csrf_token, request.cookies.get(PRE_SESSION_COOKIE) or "")
        if password != confirm:
            raise InvalidRequest("The two passwords differ; type the same password twice")
        signed_in = accept_invitation(get_deps(request), token=token, password=password)
    except DomainError as exc:
        return _invitation_page(request, token, error=exc.message, status=_status(exc))
    response = RedirectResponse("/approvals", status_code=303)
    set_session_cookie(request, response, signed_in.session_secret)
    response.delete_cookie(PRE_SESSION_COOKIE, path=INVITATION_PATH.rstrip("/"))
    return response
