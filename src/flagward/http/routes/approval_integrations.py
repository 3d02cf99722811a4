"""flagward's own: the signed callback through which an external approval service decides a request
(``flagward.services.external_approvals``). No access token: the signature authenticates the caller."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Header, Request
from starlette.concurrency import run_in_threadpool

from flagward.http.deps import DepsDep
from flagward.http.presenters_approvals import top_level
from flagward.http.routes._responses import returns
from flagward.http.routes._router import api_router
from flagward.http.schemas.approvals import INTEGRATION_CALLBACK_BODY
from flagward.http.schemas.read_approvals import ApprovalRequestResponse
from flagward.services import approval_queries as queries
from flagward.services import external_approvals as service

router = api_router(tags=["Approvals (flagward)"])

TIMESTAMP = "Unix seconds when the service signed the call; more than the window (300 s) from now is refused"
SIGNATURE = "Hex HMAC-SHA256 of '<X-Flagward-Timestamp>.<body>' with the service's shared secret"


@router.post(
    "/api/v2/approval-requests/{id}/integration-callback",
    summary="Report an external approval service's decision",
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": INTEGRATION_CALLBACK_BODY}}}
    },
    **returns(ApprovalRequestResponse),
)
async def integration_callback(
    request: Request,
    deps: DepsDep,
    id: str,
    timestamp: Annotated[str | None, Header(alias="X-Flagward-Timestamp", description=TIMESTAMP)] = None,
    signature: Annotated[str | None, Header(alias="X-Flagward-Signature", description=SIGNATURE)] = None,
) -> dict[str, Any]:
    """The external service named by the request's environment (``approvalSettings.serviceKind``) reports
    its record's status: ``approved`` or ``declined`` is its review (the service counts as one reviewer;
    with ``autoApplyApprovedChanges`` an approval that suffices also applies the request); any other
    value is recorded in ``integrationMetadata.externalStatus``. Reporting the status already recorded
    changes nothing. 401: a bad signature or a stale timestamp; 403: the request is not decided by its
    environment's external service, or the server lacks the shared secret."""
    raw = await request.body()
    settled = await run_in_threadpool(
        lambda: service.receive_callback(deps, request_id=id, body=raw, timestamp=timestamp, signature=signature)
    )
    view = await run_in_threadpool(queries.view_of, deps, settled)
    return top_level(view)
