"""What every SDK endpoint needs: the hub, and the credential the request carries."""

from __future__ import annotations

from fastapi import Request

from flagward.streaming.hub import EnvironmentState, Hub, UnknownCredential


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
