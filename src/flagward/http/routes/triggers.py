"""Flag triggers: LaunchDarkly's ``/api/v2/flags/{p}/{f}/triggers/{e}`` and the secret URL that fires one
(``POST /webhook/triggers/{secret}``, no access token: the secret is the credential)."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from starlette.concurrency import run_in_threadpool

from flagward.domain.triggers import Trigger, TriggerLimits, obscured_url, trigger_url
from flagward.http.deps import ActorDep, DepsDep, client_address, expected_origin
from flagward.http.links import link, links
from flagward.http.routes._responses import returns
from flagward.http.routes._router import api_router
from flagward.http.schemas.triggers import (
    FlagTriggerInput,
    TriggerWorkflowCollectionRep,
    TriggerWorkflowRep,
    triggerPost,
)
from flagward.services import triggers as service

router = api_router(tags=["Flag triggers"])
PATH = "/api/v2/flags/{projectKey}/{featureFlagKey}/triggers/{environmentKey}"
FIRE = "/webhook/triggers/{secret}"


def _rep(request: Request, trigger: Trigger, secret: str | None = None) -> dict[str, Any]:
    origin = expected_origin(request)
    base = f"/api/v2/flags/{trigger.project_key}/{trigger.flag_key}/triggers/{trigger.environment_key}"
    doc: dict[str, Any] = {
        "_id": trigger.id,
        "_version": trigger.version,
        "_creationDate": trigger.creation_date,
        "enabled": trigger.enabled,
        "_integrationKey": trigger.integration_key,
        "instructions": [dict(i) for i in trigger.instructions],
        "_recentTriggerBodies": [],
        "_triggerCount": trigger.trigger_count,
        "triggerURL": trigger_url(origin, secret) if secret else obscured_url(origin, trigger.url_tail),
        "_links": links(f"{base}/{trigger.id}", base),
    }
    if trigger.maintainer_id:
        doc["_maintainerId"] = trigger.maintainer_id
    if trigger.last_triggered_at is not None:
        doc["_lastTriggeredAt"] = trigger.last_triggered_at
    return doc


@router.get(PATH, summary="List flag triggers", **returns(TriggerWorkflowCollectionRep))
def list_triggers(
    request: Request, actor: ActorDep, deps: DepsDep, projectKey: str, featureFlagKey: str, environmentKey: str
) -> dict[str, Any]:
    found = service.list_triggers(
        deps, actor=actor, project_key=projectKey, flag_key=featureFlagKey, env_key=environmentKey
    )
    path = PATH.format(projectKey=projectKey, featureFlagKey=featureFlagKey, environmentKey=environmentKey)
    return {"items": [_rep(request, t) for t in found], "_links": {"self": link(path)}}


@router.post(PATH, status_code=201, summary="Create flag trigger", **returns(TriggerWorkflowRep))
def create_trigger(
    request: Request,
    actor: ActorDep,
    deps: DepsDep,
    projectKey: str,
    featureFlagKey: str,
    environmentKey: str,
    body: triggerPost,
) -> dict[str, Any]:
    """The answer carries the trigger's URL in full, the only time it is shown (until cycleTriggerUrl).
    Where approval is required for the flag's changes, only a caller with the bypass right may create
    one (405 otherwise: an approval request with ``addTrigger`` is the way): firing it acts without review."""
    created = service.create_trigger(
        deps, actor=actor, project_key=projectKey, flag_key=featureFlagKey, env_key=environmentKey, new=body.to_domain()
    )
    return _rep(request, created.trigger, created.secret)


@router.get(PATH + "/{id}", summary="Get flag trigger by ID", **returns(TriggerWorkflowRep))
def get_trigger(
    request: Request,
    actor: ActorDep,
    deps: DepsDep,
    projectKey: str,
    featureFlagKey: str,
    environmentKey: str,
    id: str,
) -> dict[str, Any]:
    trigger = service.get_trigger(
        deps, actor=actor, project_key=projectKey, flag_key=featureFlagKey, env_key=environmentKey, trigger_id=id
    )
    return _rep(request, trigger)


@router.patch(PATH + "/{id}", summary="Update flag trigger", **returns(TriggerWorkflowRep))
def patch_trigger(
    request: Request,
    actor: ActorDep,
    deps: DepsDep,
    projectKey: str,
    featureFlagKey: str,
    environmentKey: str,
    id: str,
    body: FlagTriggerInput,
) -> dict[str, Any]:
    """A semantic patch (``{"comment", "instructions"}``), with or without LaunchDarkly's
    ``domain-model=launchdarkly.semanticpatch`` content type. cycleTriggerUrl's answer carries the new
    URL in full; the old one stops working at once."""
    edit = service.patch_trigger(
        deps,
        actor=actor,
        project_key=projectKey,
        flag_key=featureFlagKey,
        env_key=environmentKey,
        trigger_id=id,
        instructions=body.instructions,
        comment=body.comment,
    )
    return _rep(request, edit.trigger, edit.secret)


@router.delete(PATH + "/{id}", status_code=204, summary="Delete flag trigger")
def delete_trigger(
    actor: ActorDep, deps: DepsDep, projectKey: str, featureFlagKey: str, environmentKey: str, id: str
) -> Response:
    service.delete_trigger(
        deps, actor=actor, project_key=projectKey, flag_key=featureFlagKey, env_key=environmentKey, trigger_id=id
    )
    return Response(status_code=204)


@router.post(FIRE, summary="Fire a flag trigger")
async def fire_trigger(request: Request, deps: DepsDep, secret: str) -> dict[str, Any]:
    """flagward's own (LaunchDarkly's trigger URLs): run the trigger's action (turn its flag on or off in
    its environment) as the trigger, without review. The body is ignored (and bounded like every body).
    Within the trigger's window (``FLAGWARD_TRIGGER_WINDOW_SECONDS``) a trigger acts once: later calls are
    answered ``{"acted": false}`` and change nothing. 404 for an unknown or disabled secret alike; 429 past
    the rate limits (``FLAGWARD_TRIGGER_ADDRESS_RATE_LIMIT``, ``FLAGWARD_TRIGGER_RATE_LIMIT``); 405 when the
    trigger was set up without approval and its environment now requires approval for the flag."""
    limits: TriggerLimits = request.app.state.trigger_limits
    address = client_address(request)
    fired = await run_in_threadpool(lambda: service.fire_trigger(deps, secret=secret, address=address, limits=limits))
    return {"acted": fired.acted, "triggerCount": fired.trigger.trigger_count}
