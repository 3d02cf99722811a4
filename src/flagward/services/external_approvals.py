"""Approval requests decided in external approval services (``flagward.domain.external_approvals``).

- Creating a request in an environment that names an external service enqueues an outbox message
  (:func:`enqueue_creation`, in the creating transaction); the dispatcher's transport POSTs it and hands
  the service's answer to :func:`record_created`, which links the request to the external record.
- The service reports its decision through the signed callback (:func:`receive_callback`), or the poller
  reads it (:func:`claim_checks`, then :func:`record_polled`). All three settle the request the same way
  (:func:`_settle`): record ``integrationMetadata``, and a decision becomes the service's review, audited
  and told like a member's. With ``autoApplyApprovedChanges``, an approval that makes the request
  approved is then applied by the service, through the same ``apply`` use case as a member's.

No I/O here: the HTTP calls are the transport's and the poller's (``flagward.delivery``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from flagward.domain import external_approvals as domain
from flagward.domain.accounts import Actor, ActorKind, Role
from flagward.domain.approval_services import LAUNCHDARKLY, ExternalService
from flagward.domain.approvals import ApprovalRequest, ReviewKind, ReviewStatus
from flagward.domain.audit import AuditAction
from flagward.domain.errors import DomainError, Forbidden, InvalidRequest, NotFound, Unauthorized
from flagward.domain.external_approvals import Report
from flagward.domain.notifications import RequestEvent
from flagward.domain.outbox import MessageKind, NewMessage
from flagward.domain.projects import ApprovalSettings
from flagward.domain.signing import fresh, verify_timestamped
from flagward.services import approval_apply
from flagward.services._approvals import audit, load_request, settings_for
from flagward.services._common import load_environment
from flagward.services.notify import describe, tell
from flagward.services.ports import Deps, UnitOfWork

log = logging.getLogger("flagward.external_approvals")

_TOLD = {ReviewKind.APPROVE: RequestEvent.APPROVED, ReviewKind.DECLINE: RequestEvent.DECLINED}
_VERBS = {ReviewKind.APPROVE: "approved", ReviewKind.DECLINE: "declined"}


def service_actor(service_kind: str) -> Actor:
    """The external service deciding (and, with ``autoApplyApprovedChanges``, applying) a request."""
    return Actor(kind=ActorKind.SYSTEM, role=Role.OWNER, token_name=f"{service_kind} approval service")


def enqueue_creation(uow: UnitOfWork, deps: Deps, request: ApprovalRequest, settings: ApprovalSettings) -> None:
    """In the creating transaction: ask the environment's external service (if any) to create its record.
    The message names the secret's variable, never the secret."""
    service = settings.external
    if service is None:
        return
    base = f"{deps.notify.public_url.rstrip('/')}/api/v2/approval-requests/{request.id}"
    body = domain.creation_body(
        request, changes=describe(uow, request), request_url=base, callback_url=f"{base}/integration-callback"
    )
    payload = {"requestId": request.id, "url": service.url, "secretEnv": service.secret_env, "body": body}
    message = NewMessage(kind=MessageKind.EXTERNAL_APPROVAL, payload=payload, target=request.id)
    uow.outbox.add(message, now=deps.clock.now_ms())


def record_created(deps: Deps, *, request_id: str, response: object) -> ApprovalRequest | None:
    """The service's answer to the creation call (``{externalId, externalUrl?, status?}``): link the
    request to its record. None when the request is gone. Raises InvalidRequest for another shape."""
    report = domain.parse_report(response, status_required=False)
    return _settle(deps, request_id, report)


def receive_callback(
    deps: Deps, *, request_id: str, body: bytes, timestamp: str | None, signature: str | None
) -> ApprovalRequest:
    """``POST /api/v2/approval-requests/{id}/integration-callback``: the service reports a status.

    Authenticated by the signature alone (hex HMAC-SHA256 of ``<timestamp>.<body>`` with the shared
    secret), checked before anything is locked or changed. Raises NotFound, Forbidden (the request is not
    decided by the external service its environment names now, or its secret is not set), Unauthorized
    (a bad signature, or a timestamp outside the window: replays are refused), InvalidRequest."""
    if not timestamp or not signature:  # no credential: refused before anything is looked up
        raise Unauthorized("The callback must be signed (X-Flagward-Timestamp, X-Flagward-Signature)")
    with deps.uow(write=False) as uow:
        request = load_request(uow, request_id)
        service = _service_of(uow, request)
    secret = deps.external.secrets(service.secret_env)
    if not secret:
        raise Forbidden(f"The shared secret of approval service '{service.kind}' is not set on this server")
    if not verify_timestamped(secret, timestamp, body, signature):
        raise Unauthorized("The callback's signature does not match (X-Flagward-Signature, X-Flagward-Timestamp)")
    window = deps.external.callback_window_seconds
    if not fresh(timestamp, now_ms=deps.clock.now_ms(), window_seconds=window):
        raise Unauthorized(f"The callback's timestamp is more than {window:g} seconds away from this server's time")
    try:
        parsed = json.loads(body)
    except ValueError:
        raise InvalidRequest("The body must be JSON") from None
    settled = _settle(deps, request_id, domain.parse_report(parsed, status_required=True))
    if settled is None:
        raise NotFound("Unable to find approval request")
    return settled


def _service_of(uow: UnitOfWork, request: ApprovalRequest) -> ExternalService:
    env = load_environment(uow, request.project_key, request.environment_key)
    service = settings_for(env, request.resource_kind).external
    if request.service_kind == LAUNCHDARKLY or service is None or service.kind != request.service_kind:
        raise Forbidden("This approval request is not decided by the external approval service of its environment")
    return service


@dataclass(frozen=True)
class StatusCheck:
    """A request whose external status the poller reads now."""

    request_id: str
    external_id: str
    url: str
    secret_env: str


def claim_checks(deps: Deps, *, interval_ms: int, limit: int = 20) -> list[StatusCheck]:
    """Open requests linked to an external record not checked for ``interval_ms``. Each is marked checked
    now (``lastChecked``) in the claiming transaction, so other processes skip it until the next interval."""
    now = deps.clock.now_ms()
    checks: list[StatusCheck] = []
    with deps.uow() as uow:
        for request_id in uow.approvals.due_for_check(now - interval_ms, limit):
            request = uow.approvals.get(request_id, for_update=True)
            if request is None or request.integration is None:
                continue
            request.integration.last_checked = now
            uow.approvals.update(request)
            try:
                service = _service_of(uow, request)
            except DomainError:  # the environment no longer names this service: nothing to ask
                continue
            checks.append(StatusCheck(request.id, request.integration.external_id, service.url, service.secret_env))
        uow.commit()
    return checks


def record_polled(deps: Deps, check: StatusCheck, response: object) -> ApprovalRequest | None:
    """What the poller read (``{externalId, status, externalUrl?, comment?}``), settled like a callback.
    Raises InvalidRequest for another shape or another record's id."""
    return _settle(deps, check.request_id, domain.parse_report(response, status_required=True))


def _settle(deps: Deps, request_id: str, report: Report) -> ApprovalRequest | None:
    """Record the report and the decision it carries, in one transaction; then auto-apply if due."""
    with deps.uow() as uow:
        try:
            request = load_request(uow, request_id, for_update=True)
        except NotFound:
            return None
        env = load_environment(uow, request.project_key, request.environment_key)
        settings = settings_for(env, request.resource_kind)
        decided = _record(uow, deps, request, report)
        uow.commit()
    due = decided is ReviewKind.APPROVE and settings.auto_apply_approved_changes
    if due and request.review_status(settings) is ReviewStatus.APPROVED:
        return _auto_apply(deps, request)
    return request


def _record(uow: UnitOfWork, deps: Deps, request: ApprovalRequest, report: Report) -> ReviewKind | None:
    version, now = request.version, deps.clock.now_ms()
    decided = domain.record_report(request, report, now=now)
    uow.approvals.update(request)  # lastChecked, at least
    actor = service_actor(request.service_kind)
    status = request.integration.external_status.display if request.integration else ""
    if decided is not None:
        domain.add_service_review(request, request.service_kind, decided, report.comment or status, now=now)
        uow.approvals.update(request)
        audit(uow, deps.clock, actor, request, AuditAction.REVIEW_APPROVAL_REQUEST, _VERBS[decided], report.comment)
        tell(uow, deps, request, _TOLD[decided], actor=actor, comment=report.comment or status)
    elif request.version != version:
        comment = f"{request.service_kind} record {report.external_id}: {status}"
        audit(uow, deps.clock, actor, request, AuditAction.UPDATE_APPROVAL_REQUEST, "updated", comment)
    return decided


def _auto_apply(deps: Deps, request: ApprovalRequest) -> ApprovalRequest:
    """``autoApplyApprovedChanges``: the service applies what it approved, in a transaction of its own
    (the approval stands whatever happens here). A request that cannot be applied stays approved (or
    becomes failed, as when a member applies it); someone applies or deletes it by hand."""
    try:
        return approval_apply.apply(deps, actor=service_actor(request.service_kind), request_id=request.id)
    except DomainError as exc:
        log.warning("auto-apply of approval request %s by %s: %s", request.id, request.service_kind, exc.message)
        with deps.uow(write=False) as uow:
            return load_request(uow, request.id)
