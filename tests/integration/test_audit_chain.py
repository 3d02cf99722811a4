"""The audit log's hash chain on both stores: ``flagward audit verify`` exits 0 on an intact log, and
names (and exits 1 for) every entry altered or removed directly in the database with SQL."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, select, text

from flagward.domain.audit import AuditActor, AuditEntry
from flagward.domain.audit_chain import ChainHead, StoredLink, seal, stored_hash, verify_chain
from flagward.domain.errors import DomainError
from flagward.services import projects
from flagward.services.ports import AuditQuery
from flagward.services.projects import NewProject
from flagward.storage.engine import make_engine
from flagward.storage.migrate import upgrade
from flagward.storage.records import AuditRecord, MetaRecord
from flagward.storage.unit_of_work import SqlUnitOfWorkFactory
from tests.support.audit_log import OWNER, deps, execute, flagward_audit, named, populate, set_comment
from tests.support.databases import migrated_engine


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    engine = make_engine(store_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def audit_verify(url: str) -> subprocess.CompletedProcess[str]:
    return flagward_audit(url, "verify")


def alter_comment(engine: Engine, seq: int) -> None:
    set_comment(engine, seq)


def delete_entry(engine: Engine, seq: int) -> None:
    execute(engine, "DELETE FROM audit_log WHERE seq = :seq", seq=seq)


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
        row = conn.execute(select(AuditRecord.__table__).where(AuditRecord.seq == 2)).mappings().one()
        fields = {k: v for k, v in row.items() if k != "hash"}
        conn.execute(text("UPDATE audit_log SET hash = :h WHERE seq = 2"), {"h": stored_hash(fields)})
    delete_entry(engine, len(ids))
    result = audit_verify(store_url)
    assert result.returncode == 1
    reasons = named(result.stdout)
    assert set(reasons) == {ids[1], ids[-1]}, result.stdout
    assert reasons[ids[1]].startswith("altered") and reasons[ids[-1]].startswith("removed")


def test_entries_keep_being_appended_after_a_break(engine: Engine, store_url: str) -> None:
    ids = populate(engine)
    delete_entry(engine, 4)
    projects.create_project(deps(engine), actor=OWNER, new=NewProject(key="q", name="Q"))
    reasons = named(audit_verify(store_url).stdout)
    assert set(reasons) == {ids[3]}


@pytest.mark.postgres
def test_the_chain_head_is_locked_by_the_commit_only(tmp_path: Path) -> None:
    """Every audited write of every process takes the chain's lock, held to its commit: a transaction
    that has appended its entries, and goes on with its other work, must not hold it yet."""
    with migrated_engine("postgres", tmp_path) as engine:
        factory = SqlUnitOfWorkFactory(engine)
        with factory() as uow:
            uow.audit.append(_entry(1))
            uow.commit()  # the head row exists from here on
        with factory() as uow, engine.connect() as other:
            uow.audit.append(_entry(2))
            uow.meta.account_id()  # the transaction's other work, after its append
            locked = other.execute(text("SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE NOWAIT")).scalar()
            assert locked == 1  # not locked by ``uow``: NOWAIT would have raised
            other.rollback()
            uow.commit()
        with factory(write=False) as uow:
            assert [e.seq for e in uow.audit.find(AuditQuery(limit=5))] == [2, 1]


def _round_trips(trace: str) -> int:
    """Round trips in a libpq trace: the frontend's Sync messages (extended protocol) and Query
    messages (simple protocol), each of which the client waits on."""
    sent = [line.split("\t") for line in trace.splitlines() if line.startswith("F\t")]
    return sum(1 for fields in sent if len(fields) > 2 and fields[2] in ("Sync", "Query"))


@pytest.mark.postgres
def test_the_sealed_entries_and_the_commit_travel_in_one_round_trip(tmp_path: Path) -> None:
    """Once the chain's head is locked and read, the entries' insert, the head's update and the COMMIT
    that releases the lock are sent together: two round trips in all, whatever the count of entries,
    not one per statement (each of which would hold the lock over this process's wait for the GIL)."""
    with migrated_engine("postgres", tmp_path) as engine:
        factory = SqlUnitOfWorkFactory(engine)
        with factory() as uow:
            uow.audit.append(_entry(1))
            uow.commit()  # the head row exists from here on
        trace = tmp_path / "libpq.trace"
        with factory() as uow, trace.open("w") as out:
            uow.audit.append(_entry(2))
            uow.audit.append(_entry(3))
            uow.session.execute(text("SELECT 1"))  # the transaction has begun
            pgconn = uow.session.connection().connection.driver_connection.pgconn  # type: ignore[union-attr]
            pgconn.trace(out.fileno())
            pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)
            uow.commit()
            pgconn.untrace()
        assert _round_trips(trace.read_text()) == 2, trace.read_text()  # the head's read; the rest
        with factory(write=False) as uow:
            assert [e.seq for e in uow.audit.find(AuditQuery(limit=5))] == [3, 2, 1]
            assert uow.audit.head().seq == 3


@pytest.mark.postgres
def test_what_waits_for_a_sealed_entry_commits_with_it(tmp_path: Path) -> None:
    """A row that a ``then`` callback adds through the ORM once the entry is sealed is written in the
    entry's transaction, before the COMMIT sent with the entry, not flushed into a transaction of its own
    by the session's commit after it (the same ``xmin``: the same transaction wrote both rows)."""
    with migrated_engine("postgres", tmp_path) as engine:
        factory = SqlUnitOfWorkFactory(engine)
        with factory() as uow:
            session = uow.session
            uow.audit.append(_entry(1), then=lambda sealed: session.add(MetaRecord(key="probe", value=sealed.hash)))
            uow.commit()
        with engine.connect() as connection:
            entry = connection.execute(text("SELECT xmin::text, hash FROM audit_log WHERE seq = 1")).one()
            probe = connection.execute(text("SELECT xmin::text, value FROM meta WHERE key = 'probe'")).one()
        assert probe.value == entry.hash
        assert probe.xmin == entry.xmin


@pytest.mark.postgres
def test_a_write_that_fails_with_the_commit_commits_nothing(tmp_path: Path) -> None:
    """An entry whose insert fails (here an id already in the log) aborts the statements sent with it and
    the COMMIT: the transaction's other writes are not kept, the chain's head does not move, the error
    surfaces as any failed commit's does, and the connection goes back to the pool fit for the next."""
    with migrated_engine("postgres", tmp_path) as engine:
        factory = SqlUnitOfWorkFactory(engine)
        with factory() as uow:
            uow.audit.append(_entry(1))
            uow.commit()
        with pytest.raises(DomainError), factory() as uow:
            uow.session.execute(text("INSERT INTO meta (key, value) VALUES ('probe', 'kept?')"))
            uow.audit.append(_entry(1))  # the same id again: the insert violates the key
            uow.commit()
        with factory(write=False) as uow:
            assert uow.session.execute(text("SELECT value FROM meta WHERE key = 'probe'")).first() is None
            assert uow.audit.head().seq == 1
        for n in range(2, 5):  # every pooled connection writes again
            with factory() as uow:
                uow.audit.append(_entry(n))
                uow.commit()
        with factory(write=False) as uow:
            assert [e.seq for e in uow.audit.find(AuditQuery(limit=5))] == [4, 3, 2, 1]


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
    assert verify_chain(links(entries), head=ChainHead(5, entries[-1].hash, entries[-1].id)) == []


def links(entries: list[AuditEntry]) -> list[StoredLink]:
    return [StoredLink.of(e) for e in entries]


def test_entries_sealed_before_prev_id_existed_still_verify() -> None:
    legacy = _entry(1)
    legacy.seq = 1
    seal(legacy, prev_hash="0" * 64)
    content: dict[str, Any] = legacy.content()
    assert "prev_id" not in content
    assert verify_chain(links([legacy])) == []


def test_several_removed_entries_are_all_reported() -> None:
    entries = _chain(6)
    kept = [entries[0], entries[4], entries[5]]
    breaks = verify_chain(links(kept), head=ChainHead(6, entries[-1].hash, entries[-1].id))
    assert [(b.entry_id, b.seq) for b in breaks] == [("", 2), ("", 3), (entries[3].id, 4)]
