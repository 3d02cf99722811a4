"""The reviewer console: server-rendered pages (Jinja2) with htmx for partial updates, served at ``/``
by the same app as the REST API. Pages call the services the REST routes call.

Route map (pages; forms post to the page's own path + a verb):

- ``/`` -> ``/approvals``; ``/sign-in`` (GET form / first-run page, POST), ``/sign-out`` (POST)
- ``/approvals`` inbox (``tab``, ``project``, ``environment``, ``status``, ``review``, ``page``);
  ``/approvals/list`` its polled partial
- ``/approvals/{id}`` a request; ``/approvals/{id}/review|apply|delete`` (POST)
- ``/projects`` project picker; ``/projects/{key}/flags`` (``env``, ``q``, ``tag``, ``page``);
  ``/projects/{key}/flags/{flag}`` (``env``); ``…/change`` (POST: apply, or confirm a request) and
  ``…/request`` (POST: create the approval request)
- ``/compare`` environments side by side (``project``, ``flag``, ``source``, ``target``);
  ``/compare/preview`` (htmx), ``/compare/request`` and ``/compare/copy`` (POST)
- ``/audit`` the audit log (``spec``, ``member``, ``before``) with the chain's verification
- ``/settings`` -> ``/projects/{key}/settings``: environments' approval rules (POST ``…/{env}/approvals``)
  and SDK credentials (``…/{env}/credentials/{sdk|mobile|client}``, revealed by htmx)
- ``/projects/{key}/import`` importing from LaunchDarkly (GET the form; POST ``action=plan`` shows the
  dry run's plan, ``action=import`` imports it)
- ``/projects/new``, ``/projects/{key}/new-flag``, ``/projects/{key}/settings/new-environment``: forms
  that create (GET the form, POST it)
- ``/members`` (POST ``/members/invite``, ``/members/{id}/link``, ``/members/{id}/role``);
  ``/invitations/{token}`` where an invitee sets a password (GET, POST)
- ``/notifications`` the member's notifications (``show=all|unread``, ``page``); ``/notifications/count``
  the top bar's unread count (polled by every page); ``/notifications/read`` (POST: ``id`` or ``all``)
- ``/console/static/…`` the stylesheet and the vendored htmx

Not for console pages: ``/flags`` and ``/all`` are SDK streaming paths (``http.sdk.stream``).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from flagward.http.console import (
    pages_approvals,
    pages_audit,
    pages_auth,
    pages_compare,
    pages_create,
    pages_flags,
    pages_import,
    pages_members,
    pages_notifications,
    pages_settings,
)
from flagward.http.console.security import SignInRequired, sign_in_url
from flagward.http.console.templating import STATIC_URL, build_environment

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    app.state.console_templates = build_environment()
    app.mount(STATIC_URL, StaticFiles(directory=STATIC), name="console-static")
    app.include_router(pages_auth.router)
    app.include_router(pages_approvals.router)
    app.include_router(pages_create.router)  # before pages_flags: /projects/new is not a project
    app.include_router(pages_flags.router)
    app.include_router(pages_import.router)
    app.include_router(pages_compare.router)
    app.include_router(pages_audit.router)
    app.include_router(pages_settings.router)
    app.include_router(pages_members.router)
    app.include_router(pages_notifications.router)

    @app.exception_handler(SignInRequired)
    async def sign_in_required(request: Request, exc: SignInRequired) -> Response:
        target = sign_in_url(exc.next_path)
        if request.headers.get("hx-request"):
            # htmx follows HX-Redirect with a full page load (a 303 would be swapped into the page).
            return Response(status_code=204, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)
