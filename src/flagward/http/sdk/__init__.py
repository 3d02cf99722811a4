"""The SDK edge: what LaunchDarkly's SDKs call (streams, polling, events, client-side evaluation).

Credentials are SDK keys, mobile keys and client-side IDs, never access tokens. Answers come from the
per-process :class:`~flagward.streaming.hub.Hub`; the hot paths send cached bytes.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from flagward.http.errors import error_response
from flagward.streaming.hub import NotReady, UnknownCredential


def _not_ready(_request: Request, exc: Exception) -> JSONResponse:
    return error_response(503, "service_unavailable", "Not ready to serve SDKs yet; retry shortly")


def _unknown_credential(_request: Request, exc: Exception) -> JSONResponse:
    return error_response(401, "unauthorized", "Invalid SDK key")


def install(app: FastAPI) -> None:
    app.add_exception_handler(NotReady, _not_ready)
    app.add_exception_handler(UnknownCredential, _unknown_credential)
