"""Capture every HTTP exchange a client has with flagward, to check each response against the spec.

``Recorder.attach(api_client)`` wraps the official client's ``ApiClient.call_api`` (the one place every
generated API method sends its request); the wrapper reads the body, which ``RESTResponse`` caches, so
the client deserializes exactly what was recorded. ``Recorder.httpx_hook`` does the same for the few
requests tests send with httpx.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import launchdarkly_api

from tests.support import ldapi


@dataclass(frozen=True)
class Exchange:
    method: str
    url: str
    status: int
    content_type: str | None
    body: bytes

    def __str__(self) -> str:
        return f"{self.method} {self.url} -> {self.status}"


@dataclass
class Recorder:
    exchanges: list[Exchange] = field(default_factory=list)

    def attach(self, api_client: launchdarkly_api.ApiClient) -> launchdarkly_api.ApiClient:
        original: Callable[..., Any] = api_client.call_api

        def call_api(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            response = original(method, url, *args, **kwargs)
            body = response.read()  # cached on the response; the client reads the same bytes
            content_type = response.headers.get("content-type")
            self.exchanges.append(Exchange(method.upper(), url, response.status, content_type, body or b""))
            return response

        api_client.call_api = call_api  # type: ignore[method-assign]
        return api_client

    def client(self, base_url: str, token: str) -> launchdarkly_api.ApiClient:
        """An official client for ``base_url`` whose every exchange is recorded here."""
        return self.attach(ldapi.client(base_url, token))

    def httpx_hook(self, response: httpx.Response) -> None:
        """For ``httpx.Client(event_hooks={"response": [recorder.httpx_hook]})``."""
        response.read()
        request = response.request
        self.exchanges.append(
            Exchange(
                request.method,
                str(request.url),
                response.status_code,
                response.headers.get("content-type"),
                response.content,
            )
        )

    def operations(self, spec_operation: Callable[[str, str], Any]) -> set[tuple[str, str]]:
        """(METHOD, path template) of every recorded exchange, via ``Spec.operation``."""
        result = set()
        for exchange in self.exchanges:
            operation = spec_operation(exchange.method, exchange.url)
            result.add((operation.method.upper(), operation.template))
        return result
