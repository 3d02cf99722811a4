"""``routes._router``: a synchronous REST handler runs in the thread pool in one hop, and its response is
still served through its response model."""

from __future__ import annotations

import threading
from typing import Any

import anyio
import anyio.to_thread
import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, Field

from flagward.http.routes._responses import returns
from flagward.http.routes._router import api_router


class Doc(BaseModel):
    flag_key: str = Field(alias="flagKey")
    on: bool | None = None


def test_a_sync_handler_costs_one_thread_hop_and_its_response_is_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    router = api_router(tags=["Test"])
    threads: list[str] = []

    @router.get("/things/{key}", **returns(Doc))
    def get_thing(key: str) -> dict[str, Any]:
        threads.append(threading.current_thread().name)
        return {"flagKey": key, "extra": "dropped"}

    hops: list[object] = []
    run_sync = anyio.to_thread.run_sync

    async def counted(func: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(func)
        return await run_sync(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    app = FastAPI()
    app.include_router(router)

    async def call() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            return await client.get("/things/beta")

    response = anyio.run(call)
    loop_thread = threading.current_thread().name  # anyio.run runs the event loop in this thread
    assert response.status_code == 200
    assert response.json() == {"flagKey": "beta"}  # by alias, unset fields left out, unknown ones dropped
    assert threads and threads[0] != loop_thread  # the handler did not block the event loop
    assert len(hops) == 1  # FastAPI alone takes two: the handler, then the response's validation
