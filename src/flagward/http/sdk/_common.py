"""What every SDK endpoint needs: the hub, and the credential the request carries."""

from __future__ import annotations

from fastapi import Request
from starlette.types import Receive, Scope, Send

from flagward.http.errors import error_response
from flagward.streaming.hub import EnvironmentState, Hub, NotReady, UnknownCredential


def hub_of(request: Request) -> Hub:
    hub: Hub = request.app.state.sdk_hub
    return hub


def credential(request: Request) -> str:
    """The raw key in ``Authorization``; Relay's ``api_key <key>`` form is accepted too."""
    value = request.headers.get("authorization", "").strip()
    if value[:8].lower() == "api_key ":
        value = value[8:].strip()
    if not value:
        raise UnknownCredential()
    return value


async def server_environment(request: Request) -> tuple[EnvironmentState, str]:
    """The environment of the SDK key in the request. Raises UnknownCredential (401) or NotReady (503)."""
    key = credential(request)
    return await hub_of(request).by_credential(key), key


async def mobile_environment(request: Request) -> EnvironmentState:
    """The environment of the mobile key in the request. Raises UnknownCredential (401) or NotReady."""
    return await hub_of(request).by_credential(credential(request), mobile=True)


# ---- for the hot paths, served as plain ASGI ahead of the framework's routing


def scope_credential(scope: Scope) -> str:
    """``credential`` for a raw ASGI scope."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            text: str = value.decode("latin-1").strip()
            return text[8:].strip() if text[:8].lower() == "api_key " else text
    return ""


async def scope_environment(scope: Scope, receive: Receive, send: Send) -> tuple[EnvironmentState, str] | None:
    """The environment of the request's SDK key; or None, once a 401 or 503 has been sent."""
    hub: Hub = scope["app"].state.sdk_hub
    key = scope_credential(scope)
    try:
        if not key:
            raise UnknownCredential()
        return await hub.by_credential(key), key
    except NotReady:
        response = error_response(503, "service_unavailable", "Not ready to serve SDKs yet; retry shortly")
    except UnknownCredential:
        response = error_response(401, "unauthorized", "Invalid SDK key")
    await response(scope, receive, send)
    return None
