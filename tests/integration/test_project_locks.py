"""The project's lock on PostgreSQL, shared and exclusive (``services._common.shares_project_locks``).

A write of one flag that reads no other row of its project (turning it on, a flag copy's apply) holds
the project shared: writes of other flags of the project go on beside it. A write whose checks read the
project's other rows (a prerequisite, a segment, who depends on the flag) needs the project to itself:
it waits for the shared holders, and a shared request that comes after it waits behind it, so a stream
of single-flag writes cannot starve it. Each step is observed in ``pg_locks``, not guessed from timing:
this test holds a shared lock in its own transaction while a real server serves the other writes.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url

from flagward.bootstrap import SystemClock
from flagward.passwords import Argon2Hasher
from flagward.services._common import load_flag, shares_project_locks
from flagward.services.ports import Deps
from flagward.storage.engine import make_engine
from flagward.storage.unit_of_work import SqlUnitOfWorkFactory
from tests.support.accounts import unique
from tests.support.databases import fresh_postgres_database
from tests.support.flags import add_prerequisite, create_flags, first_variation_id, semantic_patch
from tests.support.server import ServerProcess

pytestmark = [pytest.mark.postgres]

LOCK_CLASS = 0x666C6777  # storage.repositories.projects._LOCK_CLASS


@dataclass
class Setup:
    server: ServerProcess
    client: httpx.Client
    deps: Deps
    url: str
    project: str


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    with fresh_postgres_database() as url, ExitStack() as stack:
        server = stack.enter_context(ServerProcess(database_url=url, workdir=tmp_path_factory.mktemp("locks")))
        headers = {"Authorization": server.admin_token}
        client = stack.enter_context(httpx.Client(base_url=server.url, headers=headers, timeout=60))
        engine = make_engine(url)
        stack.callback(engine.dispose)
        deps = Deps(uow=SqlUnitOfWorkFactory(engine), clock=SystemClock(), passwords=Argon2Hasher())
        project = unique("locks")
        assert client.post("/api/v2/projects", json={"key": project, "name": project}).status_code == 201
        yield Setup(server, client, deps, url, project)


def _waiting_for_the_project(url: str) -> int:
    """How many transactions wait for a project's lock now."""
    libpq = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND NOT granted",
            (LOCK_CLASS,),
        ).fetchone()
    return int(row[0]) if row else 0


def _until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.02)


class HeldShared:
    """A transaction of this test's, holding the project shared and one flag for update until released."""

    def __init__(self, setup: Setup, flag: str) -> None:
        self.held, self.release = threading.Event(), threading.Event()
        self.shared: bool | None = None
        self._setup, self._flag = setup, flag

    @shares_project_locks
    def _hold(self) -> None:
        with self._setup.deps.uow() as uow:
            load_flag(uow, self._setup.project, self._flag, for_update=True)
            self.shared = uow.projects.held_shared(self._setup.project)
            self.held.set()
            self.release.wait(60)

    def __enter__(self) -> HeldShared:
        self._pool = ThreadPoolExecutor(1)
        self._done = self._pool.submit(self._hold)
        assert self.held.wait(30), "the holder never got the lock"
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self._done.result(timeout=30)
        self._pool.shutdown()


def _escalations(setup: Setup) -> float:
    text = setup.client.get("/metrics").text
    found = re.search(r"^flagward_project_lock_escalations_total (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def test_writes_of_other_flags_go_on_while_one_is_held_and_a_prerequisite_waits(setup: Setup) -> None:
    held_flag, plain, dependent, prerequisite = "held", "plain", "dependent", "prerequisite"
    create_flags(setup.client, setup.project, held_flag, plain, dependent, prerequisite)
    variation = first_variation_id(setup.client, setup.project, prerequisite)
    escalations = _escalations(setup)
    with ThreadPoolExecutor(2) as pool, HeldShared(setup, held_flag) as holder:
        assert holder.shared is True
        # Another flag's change does not wait for the holder.
        assert semantic_patch(setup.client, setup.project, plain, {"kind": "turnFlagOn"}).status_code == 200
        # A prerequisite is checked against the project's other flags: it waits for the holder ...
        pending: Future[httpx.Response] = pool.submit(
            add_prerequisite, setup.client, setup.project, dependent, prerequisite, variation
        )
        _until(lambda: _waiting_for_the_project(setup.url) == 1, "the prerequisite waits for the project")
        # ... and a change of a single flag asked for after it waits behind it, not beside the holder.
        behind: Future[httpx.Response] = pool.submit(
            semantic_patch, setup.client, setup.project, plain, {"kind": "turnFlagOff"}
        )
        _until(lambda: _waiting_for_the_project(setup.url) == 2, "the later change queues behind it")
        assert not pending.done() and not behind.done()
    assert pending.result(timeout=30).status_code == 200
    assert behind.result(timeout=30).status_code == 200
    production = setup.client.get(f"/api/v2/flags/{setup.project}/{dependent}").json()["environments"]["production"]
    assert [p["key"] for p in production["prerequisites"]] == [prerequisite]
    assert _escalations(setup) == escalations + 1  # begun shared, run again with the project to itself


def test_an_unknown_project_or_flag_is_still_404_under_the_shared_lock(setup: Setup) -> None:
    for project, flag in ((unique("nope"), "x"), (setup.project, unique("nope"))):
        response = semantic_patch(setup.client, project, flag, {"kind": "turnFlagOn"})
        assert response.status_code == 404, response.text
        assert set(response.json()) >= {"code", "message"}
