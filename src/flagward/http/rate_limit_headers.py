"""LaunchDarkly's rate-limit headers on REST API responses, when the API rate limit is on.

``get_actor`` spends the caller's budget once it knows who the caller is and leaves the outcome in the
request state; this middleware writes it onto whatever response follows, errors included. SDK
endpoints are never rate limited (as in LaunchDarkly) and never pass through here."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flagward.services.throttling import Allowance

STATE_KEY = "flagward_rate_limit"


def rate_limit_headers(allowance: Allowance) -> dict[str, str]:
    headers = {"X-Ratelimit-Reset": str(allowance.resets_at)}  # epoch milliseconds, as LaunchDarkly
    for name, header in (("global", "X-Ratelimit-Global-Remaining"), ("route", "X-Ratelimit-Route-Remaining")):
        remaining = allowance.remaining(name)
        if remaining is not None:
            headers[header] = str(remaining)
    return headers


class RateLimitHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        # Handlers write to this same dict through request.state (inner middleware copy the scope,
        # shallowly, so they share it).
        state = scope.setdefault("state", {})

        async def send_with_headers(message: Message) -> None:
            allowance = state.get(STATE_KEY)
            if message["type"] == "http.response.start" and isinstance(allowance, Allowance):
                headers = MutableHeaders(scope=message)
                for name, value in rate_limit_headers(allowance).items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
