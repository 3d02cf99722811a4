"""The REST API's routers: a synchronous handler and its response's validation cost one thread hop.

FastAPI runs a synchronous handler in the thread pool, and then, for a handler that is not a coroutine,
validates its response model in the thread pool too: a second hop (a queue put, a worker woken, the GIL
handed over and back) for work that blocks nothing. ``api_router`` routes run the handler in the pool
themselves, from a coroutine, so the validation runs on the event loop. The handler sees the same
thread pool, context variables and exceptions as before."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool


def _in_thread_pool(handler: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(handler)  # FastAPI reads the parameters and annotations through ``__wrapped__``
    async def run(*args: Any, **kwargs: Any) -> Any:
        return await run_in_threadpool(handler, *args, **kwargs)

    return run


class OneHopRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = _in_thread_pool(endpoint)
        super().__init__(path, endpoint, **kwargs)


def api_router(*, tags: list[str]) -> APIRouter:
    return APIRouter(tags=list(tags), route_class=OneHopRoute)
