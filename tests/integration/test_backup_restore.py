"""``flagward backup`` while flags are being written, ``flagward restore`` into an empty store, and the
audit chain still verifies there; on SQLite (online backup API) and PostgreSQL (one snapshot).

A thread creates flags through the service layer (each creation writes the flag and its audit entry in
one transaction) before, during and after the backup, which runs as a separate ``flagward`` process.
The restored store is the source as of one instant: every flag has its audit entry and the reverse,
and the chain verifies.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from flagward.bootstrap import build_services
from flagward.config import Settings
from flagward.domain.accounts import SYSTEM_ACTOR
from flagward.services.flags import NewFlag, create_flag
from flagward.services.projects import NewProject, create_project
from flagward.storage.audit_verify import verify
from flagward.storage.engine import make_engine
from flagward.storage.records import AuditRecord, FlagRecord
from tests.support.databases import database_url

STORES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def flagward(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flagward", *args], capture_output=True, text=True, timeout=120, check=False
    )


class Writer(threading.Thread):
    """Creates flags ``f0``, ``f1``… in project ``live`` until stopped."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.services = build_services(Settings(database_url=url))
        create_project(self.services.deps, actor=SYSTEM_ACTOR, new=NewProject(key="live", name="Live"))
        self.created = 0
        self.stop = threading.Event()
        self.progress = threading.Condition()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                new = NewFlag(key=f"f{self.created}", name=f"Flag {self.created}")
                create_flag(self.services.deps, actor=SYSTEM_ACTOR, project_key="live", new=new)
                with self.progress:
                    self.created += 1
                    self.progress.notify_all()
        except BaseException as exc:  # reported by the test
            self.error = exc

    def wait_for(self, count: int) -> None:
        with self.progress:
            assert self.progress.wait_for(lambda: self.created >= count or self.error is not None, timeout=60)
        assert self.error is None


def _counts(url: str) -> tuple[int, int]:
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as connection:
            flags = connection.execute(select(func.count()).select_from(FlagRecord)).scalar_one()
            creations = connection.execute(
                select(func.count()).select_from(AuditRecord).where(AuditRecord.kind == "flag")
            ).scalar_one()
        checked, breaks = verify(engine)
    finally:
        engine.dispose()
    assert breaks == [] and checked > 0
    return flags, creations


@pytest.mark.parametrize("source_kind", STORES)
@pytest.mark.parametrize("target_kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_backup_during_writes_restores_a_consistent_store(source_kind: str, target_kind: str, tmp_path: Path) -> None:
    backup_file = tmp_path / "backup.flagward"
    (tmp_path / "source").mkdir()
    (tmp_path / "target").mkdir()
    with (
        database_url(source_kind, tmp_path / "source") as source,
        database_url(target_kind, tmp_path / "target") as target,
    ):
        writer = Writer(source)
        writer.start()
        try:
            writer.wait_for(3)
            done = flagward("backup", str(backup_file), "--database-url", source)
            assert done.returncode == 0, done.stderr
            at_backup = writer.created
            writer.wait_for(at_backup + 3)
        finally:
            writer.stop.set()
            writer.join(timeout=60)
            writer.services.close()
        assert writer.error is None
        restored = flagward("restore", str(backup_file), "--database-url", target)
        assert restored.returncode == 0, restored.stderr
        verified = flagward("audit", "verify", "--database-url", target)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        flags, creations = _counts(target)
        assert 3 <= flags < writer.created  # as of one instant, during the writes
        assert creations == flags  # each flag with its audit entry: no transaction half copied
        again = flagward("restore", str(backup_file), "--database-url", target)
        assert again.returncode == 2 and "not empty" in again.stderr
