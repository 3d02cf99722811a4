"""The audit log's hash chain on both stores: ``flagward audit verify`` exits 0 on an intact log, and
names (and exits 1 for) every entry altered or removed directly in the database with SQL."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text

from flagward.bootstrap import SystemClock
from flagward.domain.accounts import Actor, ActorKind, Role
from flagward.domain.audit import AuditActor, AuditEntry, ChainHead, chain_hash, seal, verify_chain
from flagward.services import flag_changes, flags, projects, segments
from flagward.services.flag_changes import FlagPatch
from flagward.services.flags import NewFlag
from flagward.services.ports import Deps
from flagward.services.projects import NewProject
from flagward.services.segments import NewSegment
from flagward.storage.engine import make_engine
from flagward.storage.migrate import upgrade
from flagward.storage.unit_of_work import SqlUnitOfWorkFactory
from tests.fakes import PlainHasher

OWNER = Actor(kind=ActorKind.SESSION, role=Role.OWNER, member_email="owner@example.com")


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    engine = make_engine(store_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def populate(engine: Engine) -> list[str]:
    """Eight audited changes; returns the entries' ids in chain order."""
    deps = Deps(uow=SqlUnitOfWorkFactory(engine), clock=SystemClock(), passwords=PlainHasher())
    projects.create_project(deps, actor=OWNER, new=NewProject(key="p", name="P"))
    for key in ("a", "b", "c"):
        flags.create_flag(deps, actor=OWNER, project_key="p", new=NewFlag(key=key, name=key.upper()))
    for key in ("a", "b"):
        patch = FlagPatch("semantic", [{"kind": "turnFlagOn"}], "on", "production")
        flag_changes.update_flag(deps, actor=OWNER, project_key="p", key=key, patch=patch)
    segments.create_segment(deps, actor=OWNER, project_key="p", env_key="test", new=NewSegment(key="s", name="S"))
    flags.delete_flag(deps, actor=OWNER, project_key="p", key="c")
    with engine.connect() as conn:
        return [row.id for row in conn.execute(text("SELECT id FROM audit_log ORDER BY seq"))]


def audit_verify(url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flagward", "audit", "verify", "--database-url", url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def named(output: str) -> dict[str, str]:
    """``{id: reason}`` from the command's report lines (``id<TAB>seq n<TAB>reason``)."""
    lines = [line.split("\t") for line in output.splitlines() if line.count("\t") == 2]
    return {entry_id: reason for entry_id, _, reason in lines}


def alter_comment(engine: Engine, seq: int) -> None:
    """Rewrite one entry's JSON in place, as someone with database access could."""
    statement = (
        "UPDATE audit_log SET doc = jsonb_set(doc, '{comment}', '\"tampered\"') WHERE seq = :seq"
        if engine.dialect.name == "postgresql"
        else "UPDATE audit_log SET doc = json_set(doc, '$.comment', 'tampered') WHERE seq = :seq"
    )
    with engine.begin() as conn:
        assert conn.execute(text(statement), {"seq": seq}).rowcount == 1


def delete_entry(engine: Engine, seq: int) -> None:
    with engine.begin() as conn:
        assert conn.execute(text("DELETE FROM audit_log WHERE seq = :seq"), {"seq": seq}).rowcount == 1


def test_an_intact_log_verifies(engine: Engine, store_url: str) -> None:
    ids = populate(engine)
    result = audit_verify(store_url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == f"audit log intact: {len(ids)} entries"


def test_an_altered_entry_and_a_removed_one_are_named(engine: Engine, store_url: str) -> None:
    ids = populate(engine)
    alter_comment(engine, 3)
    delete_entry(engine, 6)
    result = audit_verify(store_url)
    assert result.returncode == 1, result.stdout
    reasons = named(result.stdout)
    assert set(reasons) == {ids[2], ids[5]}, result.stdout
    assert reasons[ids[2]].startswith("altered") and reasons[ids[5]].startswith("removed")
    assert "2 problem(s)" in result.stderr


def test_a_rehashed_entry_and_a_removed_tail_are_named(engine: Engine, store_url: str) -> None:
    """Recomputing the altered entry's hash does not hide it: its successor links to the old hash. The
    last entry's id is kept beside the chain head, so cutting the tail names it too."""
    ids = populate(engine)
    alter_comment(engine, 2)
    with engine.begin() as conn:
        row = conn.execute(text("SELECT doc, prev_hash FROM audit_log WHERE seq = 2")).one()
        conn.execute(text("UPDATE audit_log SET hash = :h WHERE seq = 2"), {"h": chain_hash(row.doc, row.prev_hash)})
    delete_entry(engine, len(ids))
    result = audit_verify(store_url)
    assert result.returncode == 1
    reasons = named(result.stdout)
    assert set(reasons) == {ids[1], ids[-1]}, result.stdout
    assert reasons[ids[1]].startswith("altered") and reasons[ids[-1]].startswith("removed")


def test_entries_keep_being_appended_after_a_break(engine: Engine, store_url: str) -> None:
    ids = populate(engine)
    delete_entry(engine, 4)
    deps = Deps(uow=SqlUnitOfWorkFactory(engine), clock=SystemClock(), passwords=PlainHasher())
    projects.create_project(deps, actor=OWNER, new=NewProject(key="q", name="Q"))
    reasons = named(audit_verify(store_url).stdout)
    assert set(reasons) == {ids[3]}


# The chain itself, without a store.


def _entry(n: int, date: int = 1000) -> AuditEntry:
    return AuditEntry(
        id=f"{n:024x}",
        date=date,
        kind="flag",
        name=f"f{n}",
        description="d",
        short_description="s",
        title_verb="updated",
        accesses=[],
        actor=AuditActor(member_id="m"),
        target_resources=["proj/p"],
    )


def _chain(count: int) -> list[AuditEntry]:
    entries: list[AuditEntry] = []
    for n in range(1, count + 1):
        entry = _entry(n)
        entry.seq = n
        previous = entries[-1] if entries else None
        seal(
            entry,
            prev_hash=previous.hash if previous else "0" * 64,
            prev_id=previous.id if previous else None,
            prev_date=previous.date if previous else None,
        )
        entries.append(entry)
    return entries


def test_dates_strictly_increase_along_the_chain() -> None:
    entries = _chain(5)  # all written "at" 1000 ms
    assert [e.date for e in entries] == [1000, 1001, 1002, 1003, 1004]
    assert verify_chain(entries, head=ChainHead(5, entries[-1].hash, entries[-1].id)) == []


def test_entries_sealed_before_prev_id_existed_still_verify() -> None:
    legacy = _entry(1)
    legacy.seq = 1
    seal(legacy, prev_hash="0" * 64)
    content: dict[str, Any] = legacy.content()
    assert "prev_id" not in content
    assert verify_chain([legacy]) == []


def test_several_removed_entries_are_all_reported() -> None:
    entries = _chain(6)
    kept = [entries[0], entries[4], entries[5]]
    breaks = verify_chain(kept, head=ChainHead(6, entries[-1].hash, entries[-1].id))
    assert [(b.entry_id, b.seq) for b in breaks] == [("", 2), ("", 3), (entries[3].id, 4)]
