"""A small REST client for the ``flagward requests`` and ``flagward flags`` commands: it speaks to a
flagward server (local or remote) over HTTP with an access token, never to a store, so it imports no
services or storage (an import-linter contract holds it to that).

Errors are :class:`ClientError`, carrying the server's one-line message and the exit code the commands
end with (:class:`Exit`)."""

from __future__ import annotations

from enum import IntEnum
from typing import Any

import httpx

USER_AGENT = "flagward-cli"


class Exit(IntEnum):
    """Exit codes of the client commands (also in ``flagward requests --help`` and the README)."""

    OK = 0
    REFUSED = 1  # the server refused the request (400, 405, 409, 429, 5xx …): its message is printed
    USAGE = 2  # bad command line (Click's own code)
    UNREACHABLE = 3  # no server URL or token, or the server cannot be reached
    UNAUTHORIZED = 4  # 401/403: the token is wrong or lacks the right
    NOT_FOUND = 5  # 404: no such project, flag, environment or request
    DECLINED = 10  # wait: the request was declined
    FAILED = 11  # wait: applying the request failed
    TIMED_OUT = 12  # wait: still not applied when --timeout ran out


_BY_STATUS = {401: Exit.UNAUTHORIZED, 403: Exit.UNAUTHORIZED, 404: Exit.NOT_FOUND}


class ClientError(Exception):
    def __init__(self, message: str, code: Exit) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class ApiClient:
    """``request`` returns the answer's JSON (None for 204) or raises ClientError."""

    def __init__(
        self,
        url: str | None,
        token: str | None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,  # tests: httpx.MockTransport
    ) -> None:
        if not url:
            raise ClientError("No server: pass --url or set FLAGWARD_URL", Exit.UNREACHABLE)
        if not token:
            raise ClientError("No access token: pass --token or set FLAGWARD_TOKEN", Exit.UNREACHABLE)
        if not url.startswith(("http://", "https://")):
            raise ClientError(f"--url must start with http:// or https://, not '{url}'", Exit.UNREACHABLE)
        self._http = httpx.Client(
            base_url=url.rstrip("/"),
            headers={"Authorization": token, "User-Agent": USER_AGENT, "LD-API-Version": "20240415"},
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None) -> Any:
        try:
            response = self._http.request(method, path, json=json, params=params)
        except httpx.HTTPError as exc:
            raise ClientError(f"Cannot reach {self._http.base_url}: {exc}", Exit.UNREACHABLE) from None
        if response.status_code == 204:
            return None
        if response.is_success:
            try:
                return response.json()
            except ValueError:
                raise ClientError(f"{method} {path}: the server's answer is not JSON", Exit.REFUSED) from None
        raise ClientError(_message(response), _BY_STATUS.get(response.status_code, Exit.REFUSED))

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None} or None)

    def post(self, path: str, body: Any) -> Any:
        return self.request("POST", path, json=body)


def _message(response: httpx.Response) -> str:
    """The server's one-line message (LaunchDarkly's ``{"code", "message"}``), or the status line."""
    try:
        body = response.json()
    except ValueError:
        body = None
    message = body.get("message") if isinstance(body, dict) else None
    text = str(message) if message else (response.reason_phrase or "error")
    return f"{response.status_code}: {' '.join(text.split())}"
