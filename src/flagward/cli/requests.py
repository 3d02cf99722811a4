"""``flagward requests …`` and ``flagward flags diff``: approvals from the command line, for people and CI
pipelines, against a flagward server's REST API (``--url``/``--token`` or ``FLAGWARD_URL``/``FLAGWARD_TOKEN``).

Human output by default, ``--json`` for scripts (the server's JSON, or for ``flags diff`` the parts).
Errors are one line on stderr (the server's message) and an exit code (``cli.client.Exit``): 0 done;
1 refused by the server; 2 bad usage; 3 no URL/token or server unreachable; 4 not authorized; 5 not
found; ``wait`` also 10 declined, 11 failed, 12 timed out.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from typing import Annotated, Any, ParamSpec
from urllib.parse import quote

import typer

from flagward.cli.client import ApiClient, ClientError, Exit
from flagward.domain.describe import describe_instructions
from flagward.domain.diff import diff_configs
from flagward.domain.flags import Defaults, Flag

_EXIT_CODES = (
    "Exit codes: 0 done; 1 refused by the server (its message is printed); 2 bad usage; 3 no --url/--token or "
    "server unreachable; 4 not authorized; 5 not found; wait: 10 declined, 11 failed, 12 timed out."
)
requests_app = typer.Typer(
    help="Approval requests on a flagward server, over its REST API. " + _EXIT_CODES, no_args_is_help=True
)
flags_app = typer.Typer(help="Flags on a flagward server, over its REST API. " + _EXIT_CODES, no_args_is_help=True)

Url = Annotated[str | None, typer.Option("--url", envvar="FLAGWARD_URL", help="The server, e.g. https://flags.example")]
Token = Annotated[
    str | None, typer.Option("--token", envvar="FLAGWARD_TOKEN", help="An access token", show_default=False)
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON for scripts")]
Comment = Annotated[str | None, typer.Option("--comment", help="A comment for the audit log and reviewers")]
TOP = "/api/v2/approval-requests"
P = ParamSpec("P")


def _handled(command: Callable[P, None]) -> Callable[P, None]:
    """Turn a ClientError into its one-line message on stderr and its exit code."""

    @wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            command(*args, **kwargs)
        except ClientError as exc:
            typer.echo(f"error: {exc.message}", err=True)
            raise typer.Exit(int(exc.code)) from None

    return run


def _q(value: str) -> str:
    return quote(value, safe="")


def _when(ms: object) -> str:
    if not isinstance(ms, int):
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _resource(request: dict[str, Any]) -> dict[str, str]:
    """``{"proj": P, "env": E, "flag": F}`` from the request's ``resourceId`` (``proj/P:env/E:flag/F``)."""
    return dict(p.split("/", 1) for p in str(request.get("resourceId", "")).split(":") if "/" in p)


def _where(request: dict[str, Any]) -> str:
    """``project/flag in env``."""
    parts = _resource(request)
    resource = parts.get("flag") or parts.get("segment") or "?"
    return f"{parts.get('proj', '?')}/{resource} in {parts.get('env', '?')}"


def _state(request: dict[str, Any]) -> str:
    return f"{request.get('status')} (review: {request.get('reviewStatus')})"


def _print(value: Any, as_json: bool, human: Callable[[Any], None]) -> None:
    if as_json:
        typer.echo(json.dumps(value, indent=2, sort_keys=True))
    else:
        human(value)


def _show_request(request: dict[str, Any], flag: Flag | None = None) -> None:
    typer.echo(f"Request {request['_id']}: {_state(request)}")
    typer.echo(f"  Resource:    {_where(request)}")
    typer.echo(f"  Description: {request.get('description', '')}")
    typer.echo(f"  Requested:   {_when(request.get('creationDate'))} by {request.get('requestorId', '-')}")
    if request.get("source"):
        typer.echo(f"  Copies from: {request['source'].get('key')}")
    typer.echo("  Instructions:")
    instructions = request.get("instructions", [])
    if flag is not None:  # in plain language, as the console says them
        lines = describe_instructions(instructions, flag, _resource(request).get("env"))
    else:
        lines = [json.dumps(instruction, sort_keys=True) for instruction in instructions]
    for line in lines:
        typer.echo(f"    - {line}")
    for conflict in request.get("conflicts", []):
        typer.echo(f"  Conflict: {conflict.get('reason')}")
    reviews = request.get("allReviews", [])
    typer.echo("  Reviews:" + ("" if reviews else " none"))
    for review in reviews:
        who = review.get("memberId") or review.get("serviceTokenId") or "?"
        note = f": {review['comment']}" if review.get("comment") else ""
        typer.echo(f"    - {review.get('kind')} by {who} at {_when(review.get('creationDate'))}{note}")
    if request.get("appliedDate"):
        typer.echo(f"  Applied:     {_when(request['appliedDate'])}")


@requests_app.command("copy")
@_handled
def copy(
    project: Annotated[str, typer.Option("--project", help="Project key")],
    flag: Annotated[str, typer.Option("--flag", help="Flag key")],
    source: Annotated[str, typer.Option("--from", help="Environment to copy from")],
    target: Annotated[str, typer.Option("--to", help="Environment to copy to (the request's environment)")],
    exclude: Annotated[
        list[str] | None, typer.Option("--exclude", help="A part not to copy (updateOn, updateRules …); repeatable")
    ] = None,
    include: Annotated[list[str] | None, typer.Option("--include", help="Copy only these parts; repeatable")] = None,
    description: Annotated[str | None, typer.Option("--description", help="What reviewers read")] = None,
    comment: Comment = None,
    notify: Annotated[list[str] | None, typer.Option("--notify", help="Member ID of a reviewer; repeatable")] = None,
    url: Url = None,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Request approval to copy the flag's configuration from one environment to another; prints the new
    request's ID (``--json``: the request)."""
    body: dict[str, Any] = {
        "description": description or f"Copy {flag} from {source} to {target}",
        "source": {"key": source},
        "notifyMemberIds": list(notify or []),
    }
    if exclude:
        body["excludedActions"] = list(exclude)
    if include:
        body["includedActions"] = list(include)
    if comment:
        body["comment"] = comment
    path = f"/api/v2/projects/{_q(project)}/flags/{_q(flag)}/environments/{_q(target)}/approval-requests-flag-copy"
    with ApiClient(url, token) as api:
        created = api.post(path, body)
    _print(created, as_json, lambda r: typer.echo(r["_id"]))


def _me(api: ApiClient) -> str:
    member_id = api.get("/api/v2/caller-identity").get("memberId")
    if not member_id:
        raise ClientError(
            "--mine and --to-review need a member's token (a personal token), not a service token", Exit.USAGE
        )
    return str(member_id)


def _reviewed_by(request: dict[str, Any], member_id: str | None) -> bool:
    return any(review.get("memberId") == member_id for review in request.get("allReviews", []))


@requests_app.command("list")
@_handled
def list_requests(
    mine: Annotated[bool, typer.Option("--mine", help="Requests I made")] = False,
    to_review: Annotated[bool, typer.Option("--to-review", help="Pending requests I am asked to review")] = False,
    project: Annotated[str | None, typer.Option("--project", help="Only this project's requests")] = None,
    status: Annotated[
        list[str] | None, typer.Option("--status", help="pending, scheduled, completed or failed; repeatable")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=200, help="At most this many, newest first")] = 50,
    url: Url = None,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Approval requests, newest first: ID, state, resource and description, one a line."""
    if mine and to_review:
        raise ClientError("choose one of --mine and --to-review", Exit.USAGE)
    clauses = []
    statuses = list(status or [])
    with ApiClient(url, token) as api:
        me = _me(api) if mine or to_review else None
        if mine:
            clauses.append(f"requestorId equals {me}")
        if to_review:
            clauses.append(f"notifyMemberIds anyOf {json.dumps([me])}")
            clauses.append('reviewStatus anyOf ["pending"]')
            statuses = statuses or ["pending"]
        if statuses:
            clauses.append(f"status anyOf {json.dumps(statuses)}")
        if project:
            clauses.append(f"projectKey equals {project}")
        found = api.get(TOP, filter=", ".join(clauses) or None, limit=limit)
    if to_review:  # still waiting for others' approvals, but not for mine
        found["items"] = [r for r in found.get("items", []) if not _reviewed_by(r, me)]

    def human(page: dict[str, Any]) -> None:
        for request in page.get("items", []):
            typer.echo(
                f"{request['_id']}  {_state(request):32}  {_where(request):40}  {request.get('description', '')}"
            )
        if not page.get("items"):
            typer.echo("No approval requests.")

    _print(found, as_json, human)


@requests_app.command("show")
@_handled
def show(
    request_id: Annotated[str, typer.Argument(metavar="ID", help="The request's ID")],
    url: Url = None,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """One approval request: its state, resource, instructions (in plain language), conflicts and reviews."""
    with ApiClient(url, token) as api:
        request = api.get(f"{TOP}/{_q(request_id)}")
        flag = None if as_json else _flag_of(api, request)
    _print(request, as_json, lambda r: _show_request(r, flag))


def _flag_of(api: ApiClient, request: dict[str, Any]) -> Flag | None:
    """The flag a request is about, as it is now, to describe its instructions; None if it is gone."""
    parts = _resource(request)
    if "flag" not in parts or "proj" not in parts:
        return None
    try:
        return _flag(api.get(f"/api/v2/flags/{_q(parts['proj'])}/{_q(parts['flag'])}"), parts["proj"])
    except ClientError:
        return None


def _review(kind: str, request_id: str, comment: str | None, url: str | None, token: str | None, as_json: bool) -> None:
    body = {"kind": kind, **({"comment": comment} if comment else {})}
    with ApiClient(url, token) as api:
        request = api.post(f"{TOP}/{_q(request_id)}/reviews", body)
    _print(request, as_json, lambda r: typer.echo(f"{kind}d {r['_id']}: {_state(r)}"))


@requests_app.command("approve")
@_handled
def approve(
    request_id: Annotated[str, typer.Argument(metavar="ID")],
    comment: Comment = None,
    url: Url = None,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Approve a request."""
    _review("approve", request_id, comment, url, token, as_json)


@requests_app.command("decline")
@_handled
def decline(
    request_id: Annotated[str, typer.Argument(metavar="ID")],
    comment: Comment = None,
    url: Url = None,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Decline a request."""
    _review("decline", request_id, comment, url, token, as_json)


def _apply(api: ApiClient, request_id: str, comment: str | None) -> dict[str, Any]:
    body = {"comment": comment} if comment else {}
    applied: dict[str, Any] = api.post(f"{TOP}/{_q(request_id)}/apply", body)
    return applied


@requests_app.command("apply")
@_handled
def apply(
    request_id: Annotated[str, typer.Argument(metavar="ID")],
    comment: Comment = None,
    url: Url = None,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Apply an approved request (or schedule it, if it has an execution date)."""
    with ApiClient(url, token) as api:
        request = _apply(api, request_id, comment)
    _print(request, as_json, lambda r: typer.echo(f"applied {r['_id']}: {_state(r)}"))


def _outcome(request: dict[str, Any]) -> Exit | None:
    """Where a request stands for ``wait``: applied, declined, failed, or None while still open."""
    if request.get("status") == "completed":
        return Exit.OK
    if request.get("status") == "failed":
        return Exit.FAILED
    if request.get("reviewStatus") == "declined":
        return Exit.DECLINED
    return None


@requests_app.command("wait")
@_handled
def wait(
    request_id: Annotated[str, typer.Argument(metavar="ID")],
    timeout: Annotated[float, typer.Option("--timeout", min=0, help="Give up after this many seconds")] = 600.0,
    interval: Annotated[float, typer.Option("--interval", min=0.1, help="Seconds between checks")] = 2.0,
    apply_when_approved: Annotated[
        bool, typer.Option("--apply", help="Apply the request once it is approved (as this token)")
    ] = False,
    comment: Comment = None,
    url: Url = None,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Wait until the request is applied (exit 0), declined (10), failed (11), or the timeout passes (12).
    A scheduled request is applied when its time comes. For CI pipelines: gate a deploy on a human's approval."""
    deadline = time.monotonic() + timeout
    with ApiClient(url, token) as api:
        while True:
            request = api.get(f"{TOP}/{_q(request_id)}")
            ready = request.get("status") == "pending" and request.get("reviewStatus") == "approved"
            if apply_when_approved and ready:
                request = _apply(api, request_id, comment)
            outcome = _outcome(request)
            if outcome is not None or time.monotonic() >= deadline:
                break
            time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
    _print(request, as_json, lambda r: typer.echo(f"{r['_id']}: {_state(r)}"))
    if outcome is None:
        raise ClientError(f"request {request_id} is still {_state(request)} after {timeout:g} s", Exit.TIMED_OUT)
    if outcome is not Exit.OK:
        raise typer.Exit(int(outcome))


def _flag(document: dict[str, Any], project: str) -> Flag:
    """The parts of a flag ``domain.diff`` reads, from its REST representation."""
    defaults = document.get("defaults") or {}
    return Flag(
        id=str(document.get("_id", "")),
        project_key=project,
        key=document["key"],
        name=document.get("name", document["key"]),
        kind=document.get("kind", "boolean"),
        variations=document.get("variations", []),
        creation_date=int(document.get("creationDate", 0)),
        defaults=Defaults(defaults.get("onVariation", 0), defaults.get("offVariation", 0)),
        environments=document.get("environments", {}),
    )


@flags_app.command("diff")
@_handled
def diff(
    first: Annotated[str, typer.Argument(metavar="ENV", help="One environment")],
    second: Annotated[str, typer.Argument(metavar="OTHER_ENV", help="The other environment")],
    project: Annotated[str, typer.Option("--project", help="Project key")],
    flag: Annotated[str, typer.Option("--flag", help="Flag key")],
    url: Url = None,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """The flag's configuration in two environments, part by part, in plain language (the console's
    comparison); parts that are the same are listed as such."""
    with ApiClient(url, token) as api:
        document = api.get(f"/api/v2/flags/{_q(project)}/{_q(flag)}")
    for env in (first, second):
        if env not in document.get("environments", {}):
            raise ClientError(f"flag '{flag}' has no environment '{env}'", Exit.NOT_FOUND)
    model = _flag(document, project)
    parts = diff_configs(model, model, before_environment=first, after_environment=second)
    as_dicts = [
        {"part": p.part, "title": p.title, first: p.before, second: p.after, "differs": p.differs} for p in parts
    ]

    def human(_: Any) -> None:
        differing = [p for p in parts if p.differs]
        typer.echo(
            f"{project}/{flag}: {first} vs {second}: "
            + (f"{len(differing)} part(s) differ" if differing else "the same")
        )
        for part in parts:
            if not part.differs:
                typer.echo(f"  {part.title}: same")
                continue
            typer.echo(f"  {part.title}:")
            typer.echo("\n".join(f"    - {first}: {line}" for line in part.before))
            typer.echo("\n".join(f"    + {second}: {line}" for line in part.after))

    _print({"project": project, "flag": flag, "parts": as_dicts}, as_json, human)
