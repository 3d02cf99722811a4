"""Issue 8 §5 on both stores: an edit to any stored column of any audit entry is named by
``flagward audit verify``; a cut tail with its head rolled back, or an emptied log, fails against an
anchor taken earlier with ``flagward audit head``."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine

from flagward.domain.audit import AuditActor, AuditEntry
from flagward.domain.audit_chain import REPLACED, ChainHead, stored_fields
from flagward.services import flags, projects
from flagward.services.flags import NewFlag
from flagward.services.projects import NewProject
from flagward.storage.audit_verify import current_head, verify
from flagward.storage.engine import make_engine
from flagward.storage.migrate import upgrade
from flagward.storage.records import AuditRecord
from tests.support.audit_log import (
    OWNER,
    by_seq,
    deps,
    execute,
    flagward_audit,
    named,
    populate,
    roll_head_back,
    set_comment,
)

HEAD = re.compile(r"(\d+):([0-9a-f]{64})")


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    engine = make_engine(store_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def take_anchor(url: str) -> str:
    result = flagward_audit(url, "head")
    assert result.returncode == 0, result.stdout + result.stderr
    assert HEAD.fullmatch(result.stdout.strip()), result.stdout
    return result.stdout.strip()


# The findings, one by one.


def test_editing_an_entrys_resources_is_named(engine: Engine, store_url: str) -> None:
    """The entry then vanished from ``?spec=`` searches while the chain still verified."""
    ids = populate(engine)
    execute(engine, "UPDATE audit_log SET resources = 'proj/elsewhere' WHERE seq = 3")
    result = flagward_audit(store_url, "verify")
    assert result.returncode == 1, result.stdout + result.stderr
    assert set(named(result.stdout)) == {ids[2]}, result.stdout
    assert named(result.stdout)[ids[2]].startswith("altered")


def test_editing_an_entrys_date_is_named(engine: Engine, store_url: str) -> None:
    ids = populate(engine)
    execute(engine, "UPDATE audit_log SET date = date - 86400000 WHERE seq = 5")
    result = flagward_audit(store_url, "verify")
    assert result.returncode == 1, result.stdout + result.stderr
    assert set(named(result.stdout)) == {ids[4]}, result.stdout


def test_deleting_the_last_entry_and_rolling_back_the_head_fails_against_an_anchor(
    engine: Engine, store_url: str
) -> None:
    ids = populate(engine)
    anchor = take_anchor(store_url)
    assert anchor.startswith(f"{len(ids)}:")
    execute(engine, "DELETE FROM audit_log WHERE seq = :s", s=len(ids))
    roll_head_back(engine, len(ids) - 1)

    assert verify(engine) == (len(ids) - 1, [])  # consistent with itself: only an anchor shows the cut
    result = flagward_audit(store_url, "verify", "--anchor", anchor)
    assert result.returncode == 1, result.stdout + result.stderr
    assert list(by_seq(result.stdout)) == [len(ids)], result.stdout
    assert "the log ends before the anchored entry" in result.stdout
    assert "1 problem(s)" in result.stderr


def test_deleting_every_entry_fails_against_an_anchor(engine: Engine, store_url: str) -> None:
    ids = populate(engine)
    anchor = take_anchor(store_url)
    execute(engine, "DELETE FROM audit_log")
    roll_head_back(engine, 0)
    assert current_head(engine) == (ChainHead(0, "0" * 64, ""), [])  # consistent with itself

    result = flagward_audit(store_url, "verify", "--anchor", anchor)
    assert result.returncode == 1, result.stdout + result.stderr
    assert sorted(by_seq(result.stdout)) == list(range(1, len(ids) + 1)), result.stdout
    assert f"{len(ids)} problem(s) in 0 entries" in result.stderr


def test_a_tail_cut_and_written_over_fails_against_an_anchor(engine: Engine, store_url: str) -> None:
    """Cut after the anchor was taken, then let new changes take the cut positions: the anchored
    position now holds another entry."""
    ids = populate(engine)
    anchor = take_anchor(store_url)
    execute(engine, "DELETE FROM audit_log WHERE seq >= :s", s=len(ids) - 1)
    roll_head_back(engine, len(ids) - 2)
    for key in ("q", "r", "s"):
        projects.create_project(deps(engine), actor=OWNER, new=NewProject(key=key, name=key))

    assert verify(engine) == (len(ids) + 1, [])
    result = flagward_audit(store_url, "verify", "--anchor", anchor)
    assert result.returncode == 1, result.stdout + result.stderr
    assert by_seq(result.stdout) == {len(ids): [REPLACED]}, result.stdout


def test_numbers_that_the_store_rewrites_do_not_look_altered(engine: Engine) -> None:
    """PostgreSQL's JSONB gives ``1e20`` back as the integer 10^20; the entry must still verify."""
    projects.create_project(deps(engine), actor=OWNER, new=NewProject(key="n", name="N"))
    values = [{"value": 1e20}, {"value": 2.5}, {"value": 1e-7}, {"value": -0.0}]
    new = NewFlag(key="numbers", name="Numbers", variations=values)
    flags.create_flag(deps(engine), actor=OWNER, project_key="n", new=new)
    assert verify(engine) == (2, [])


# Every column, whatever columns the table has.


def _swap_seq(engine: Engine) -> None:
    execute(
        engine,
        "UPDATE audit_log SET seq = -1 WHERE seq = 4",
        "UPDATE audit_log SET seq = 4 WHERE seq = 5",
        "UPDATE audit_log SET seq = 5 WHERE seq = -1",
    )


TAMPER: dict[str, Callable[[Engine], None]] = {
    "seq": _swap_seq,
    "id": lambda e: execute(e, "UPDATE audit_log SET id = :v WHERE seq = 4", v="f" * 24),
    "date": lambda e: execute(e, "UPDATE audit_log SET date = date + 1 WHERE seq = 4"),
    "kind": lambda e: execute(e, "UPDATE audit_log SET kind = 'segment' WHERE seq = 4"),
    "doc": lambda e: set_comment(e, 4),
    "resources": lambda e: execute(e, "UPDATE audit_log SET resources = resources || :v WHERE seq = 4", v="\nproj/x"),
    "prev_hash": lambda e: execute(e, "UPDATE audit_log SET prev_hash = :v WHERE seq = 4", v="1" * 64),
    "hash": lambda e: execute(e, "UPDATE audit_log SET hash = :v WHERE seq = 4", v="1" * 64),
    "hash_version": lambda e: execute(e, "UPDATE audit_log SET hash_version = 1 WHERE seq = 4"),
}


def test_the_hash_covers_every_stored_column() -> None:
    """``stored_fields`` is what an entry's hash covers; storage keeps exactly it, and the hash."""
    entry = AuditEntry("", 0, "", "", "", "", "", [], AuditActor(), [])
    assert set(stored_fields(entry)) | {"hash"} == {c.name for c in AuditRecord.__table__.columns}


def test_every_stored_column_has_a_tampering_case() -> None:
    """A column added to ``audit_log`` needs a case here, which the test below then proves detected."""
    assert set(TAMPER) == {c.name for c in AuditRecord.__table__.columns}


@pytest.mark.parametrize("column", sorted(TAMPER))
def test_an_edit_to_any_column_names_the_entry(engine: Engine, column: str) -> None:
    populate(engine)
    assert verify(engine) == (8, [])
    TAMPER[column](engine)
    checked, breaks = verify(engine)
    assert checked == 8
    assert 4 in {b.seq for b in breaks} and all(b.reason.startswith("altered") for b in breaks if b.seq == 4), breaks
    assert {b.seq for b in breaks} <= {3, 4, 5}, breaks


def test_verifying_while_entries_are_appended_finds_nothing(engine: Engine) -> None:
    """``verify`` and ``audit head`` read the log and its head in one snapshot: an append committed
    between their reads must not look like a cut tail or an entry beyond the head."""
    populate(engine)
    done = threading.Event()
    failures: list[BaseException] = []

    def append() -> None:
        try:
            for n in range(40):
                projects.create_project(deps(engine), actor=OWNER, new=NewProject(key=f"c{n}", name="C"))
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)
        finally:
            done.set()

    writer = threading.Thread(target=append)
    writer.start()
    rounds = 0
    while not done.is_set() or rounds < 3:
        assert verify(engine)[1] == []
        assert current_head(engine)[1] == []
        rounds += 1
    writer.join()
    assert failures == [] and rounds >= 3
    assert verify(engine) == (48, [])
