"""Importing from LaunchDarkly in the console: the service behind ``POST /api/v2/projects/{p}/import``
(and ``flagward import``), for those who may ``importFlags`` on the project.

Upload an SDK payload (one environment's ``{"flags": …, "segments": …}``; the environment is created
when missing) or a REST export (a ``.zip`` of ``flagward export --format rest``'s directory, or of the
files a script saved with LaunchDarkly's REST API); the console first shows the dry run's plan, then
imports on "Import" and shows what was done. The upload travels back with the plan form as text, so
what is imported is what was planned. Uploads are bounded by the server's request body limit
(``FLAGWARD_API_BODY_LIMIT``, 1 MiB by default; the page states it), a zip's contents by the same.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as StarletteUpload
from starlette.exceptions import HTTPException

from flagward.domain import resources
from flagward.domain.authorization import permits
from flagward.domain.errors import DomainError, InvalidRequest
from flagward.domain.import_items import Outcome, Plan
from flagward.http.console.security import CSRF_FIELD, Viewer, check_form, viewer
from flagward.http.console.templating import render
from flagward.http.deps import get_deps
from flagward.services import importing
from flagward.services.projects import get_project

router = APIRouter(include_in_schema=False)
_STATUS = {"forbidden": 403, "not_found": 404}
_REST_ROOTS = ("projects", "flags", "segments")
MAX_ZIP_ENTRIES = 10_000
NEW_ENV = "__new__"


def upload_limit(request: Request) -> int:
    """The largest upload: the request body limit every console and API route has."""
    limit: int = request.app.state.settings.api_body_limit
    return limit


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):g} MiB" if n >= 1024 * 1024 else f"{n / 1024:g} KiB"


def _page(
    request: Request,
    current: Viewer,
    project_key: str,
    *,
    form: dict[str, Any],
    plan: Plan | None = None,
    done: bool = False,
    error: str | None = None,
    status: int = 200,
) -> Response:
    try:
        project, environments = get_project(get_deps(request), actor=current.actor, key=project_key)
    except DomainError as exc:
        status = _STATUS.get(exc.code, 400)
        return render(request, "error.html", status_code=status, viewer=current, nav="flags", error=exc.message)
    limit = upload_limit(request)
    return render(
        request,
        "import/import.html",
        status_code=status,
        viewer=current,
        nav="flags",
        project=project,
        environments=environments,
        form=form,
        plan=plan,
        sections=_sections(plan) if plan else [],
        done=done,
        limit=limit,
        limit_words=_size(limit),
        new_env=NEW_ENV,
        error=error,
    )


def _sections(plan: Plan) -> list[tuple[str, str, list[Any]]]:
    """(outcome, heading, entries) of the plan, refusals first (they need reading)."""
    return [
        ("refused", "Refused", plan.refusals),
        ("create", "Created", plan.items(Outcome.CREATE)),
        ("update", "Updated", plan.items(Outcome.UPDATE)),
        ("unchanged", "Unchanged", plan.items(Outcome.UNCHANGED) + plan.items(Outcome.REQUESTED)),
    ]


def _allowed(current: Viewer, project_key: str) -> bool:
    return permits(current.actor, "importFlags", resources.project(project_key))


def _refused(request: Request, current: Viewer) -> Response:
    message = "You may not import flags into this project."
    return render(request, "error.html", status_code=403, viewer=current, nav="flags", error=message)


def _blank_form() -> dict[str, Any]:
    return {
        "format": "sdk",
        "environment": "",
        "new_environment": "",
        "replace": False,
        "as_requests": False,
        "document": "",
    }


@router.get("/projects/{project_key}/import")
def import_page(request: Request, project_key: str) -> Response:
    current = viewer(request)
    if not _allowed(current, project_key):
        return _refused(request, current)
    return _page(request, current, project_key, form=_blank_form())


@router.post("/projects/{project_key}/import")
async def import_post(request: Request, project_key: str) -> Response:
    """``action=plan``: the dry run's plan; ``action=import``: import the planned document. The form is
    read here rather than by parameters: its text field (the planned document) may be as large as an
    upload, beyond Starlette's default 1 MiB for a field. The store is used on worker threads."""
    current = await run_in_threadpool(viewer, request)
    limit = upload_limit(request)
    form = _blank_form()
    text: dict[str, str] = {}
    try:
        async with request.form(max_part_size=limit + 1) as fields:
            text = {k: v for k, v in fields.items() if isinstance(v, str)}
            form.update(
                format="rest" if text.get("format") == "rest" else "sdk",
                environment=text.get("environment", "").strip(),
                new_environment=text.get("new_environment", "").strip(),
                replace=bool(text.get("update")),
                as_requests=bool(text.get("as_requests")),
                document=text.get("document", ""),
            )
            check_form(request, text.get(CSRF_FIELD), current.csrf_token)
            upload = fields.get("file")
            if isinstance(upload, StarletteUpload) and upload.filename:
                form["document"] = _document_text(await upload.read(), form["format"], project_key, limit)
        if not form["document"]:
            raise InvalidRequest("Choose a file to import")
        dry_run = text.get("action") != "import"
        plan = await run_in_threadpool(_run, request, current, project_key, form, dry_run=dry_run)
    except HTTPException as exc:  # the multipart parser's refusal
        error = f"The upload was refused: {exc.detail}"
        return await run_in_threadpool(_page, request, current, project_key, form=form, error=error, status=400)
    except DomainError as exc:
        status = _STATUS.get(exc.code, 400)
        return await run_in_threadpool(
            _page, request, current, project_key, form=form, error=exc.message, status=status
        )
    return await run_in_threadpool(_page, request, current, project_key, form=form, plan=plan, done=not dry_run)


def _run(request: Request, current: Viewer, project_key: str, form: dict[str, Any], *, dry_run: bool) -> Plan:
    deps = get_deps(request)
    options = importing.ImportOptions(dry_run=dry_run, update=form["replace"], as_requests=form["as_requests"])
    try:
        data = json.loads(form["document"])
    except ValueError as exc:
        raise InvalidRequest(f"The planned document is not JSON: {exc}") from None
    if form["format"] == "rest" and not isinstance(data, dict):
        raise InvalidRequest("The planned document is not a REST export")
    if form["format"] == "rest":
        return importing.import_rest(deps, actor=current.actor, files=data, options=options)
    env_key = form["new_environment"] if form["environment"] in ("", NEW_ENV) else form["environment"]
    if not env_key:
        raise InvalidRequest("Choose the environment the payload is of, or give the key of a new one")
    form["environment"], form["new_environment"] = env_key, ""
    return importing.import_environment(
        deps, actor=current.actor, project_key=project_key, env_key=env_key, payload=data, options=options
    )


def _document_text(raw: bytes, format: str, project_key: str, limit: int) -> str:
    """The upload as the JSON text the plan form carries. Raises InvalidRequest."""
    if format == "rest":
        return json.dumps(_rest_files(raw, project_key, limit))
    try:
        json.loads(raw)
        return raw.decode("utf-8")
    except ValueError as exc:
        raise InvalidRequest(f"The file is not JSON: {exc}") from None


def _rest_files(raw: bytes, project_key: str, limit: int) -> dict[str, Any]:
    """A zip of REST representations -> {relative path: document}: its ``*.json`` files under
    ``projects/``, ``flags/`` and ``segments/`` (below one top folder, if the zip has one), all of
    this project. Raises InvalidRequest."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
        entries = [i for i in archive.infolist() if not i.is_dir() and i.filename.endswith(".json")]
    except zipfile.BadZipFile:
        raise InvalidRequest("A REST export must be a .zip of its folder (projects/, flags/, segments/)") from None
    if len(entries) > MAX_ZIP_ENTRIES or sum(i.file_size for i in entries) > limit:
        raise InvalidRequest(f"The zip holds more than {_size(limit)} of JSON; import it with `flagward import --rest`")
    files: dict[str, Any] = {}
    budget = limit  # what the zip's members may inflate to, whatever their headers claim
    for info in entries:
        parts = info.filename.split("/")
        while parts and parts[0] not in _REST_ROOTS:
            parts = parts[1:]
        if len(parts) < 2 or parts[0].startswith("__MACOSX"):
            continue
        path = "/".join(parts)
        if parts[1].removesuffix(".json") != project_key:
            raise InvalidRequest(f"{path} is of another project; import it from that project's page")
        try:
            with archive.open(info) as member:
                data = member.read(budget + 1)
            budget -= len(data)
            if budget < 0:
                raise InvalidRequest(f"The zip holds more than {_size(limit)} of JSON")
            files[path] = json.loads(data)
        except ValueError as exc:
            raise InvalidRequest(f"{path} is not JSON: {exc}") from None
    if not files:
        raise InvalidRequest("The zip holds no projects/, flags/ or segments/ JSON files")
    return files
