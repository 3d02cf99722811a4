"""An audited store to tamper with, and ``flagward audit …`` run as an operator runs it."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy import Engine, text

from flagward.bootstrap import SystemClock
from flagward.domain.accounts import Actor, ActorKind, Role
from flagward.services import flag_changes, flags, projects, segments
from flagward.services.flag_changes import FlagPatch
from flagward.services.flags import NewFlag
from flagward.services.ports import Deps
from flagward.services.projects import NewProject
from flagward.services.segments import NewSegment
from flagward.storage.unit_of_work import SqlUnitOfWorkFactory
from tests.fakes import PlainHasher

OWNER = Actor(kind=ActorKind.SESSION, role=Role.OWNER, member_email="owner@example.com")


def deps(engine: Engine) -> Deps:
    return Deps(uow=SqlUnitOfWorkFactory(engine), clock=SystemClock(), passwords=PlainHasher())


def populate(engine: Engine) -> list[str]:
    """Eight audited changes; returns the entries' ids in chain order."""
    d = deps(engine)
    projects.create_project(d, actor=OWNER, new=NewProject(key="p", name="P"))
    for key in ("a", "b", "c"):
        flags.create_flag(d, actor=OWNER, project_key="p", new=NewFlag(key=key, name=key.upper()))
    for key in ("a", "b"):
        patch = FlagPatch("semantic", [{"kind": "turnFlagOn"}], "on", "production")
        flag_changes.update_flag(d, actor=OWNER, project_key="p", key=key, patch=patch)
    segments.create_segment(d, actor=OWNER, project_key="p", env_key="test", new=NewSegment(key="s", name="S"))
    flags.delete_flag(d, actor=OWNER, project_key="p", key="c")
    with engine.connect() as conn:
        return [row.id for row in conn.execute(text("SELECT id FROM audit_log ORDER BY seq"))]


def flagward_audit(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``flagward audit ARGS --database-url URL`` in a fresh process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLAGWARD_")}
    return subprocess.run(
        [sys.executable, "-m", "flagward", "audit", *args, "--database-url", url],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def named(output: str) -> dict[str, str]:
    """``{id: reason}`` from the command's report lines (``id<TAB>seq n<TAB>reason``)."""
    lines = [line.split("\t") for line in output.splitlines() if line.count("\t") == 2]
    return {entry_id: reason for entry_id, _, reason in lines}


def by_seq(output: str) -> dict[int, list[str]]:
    """``{seq: [reasons]}`` from the command's report lines."""
    found: dict[int, list[str]] = {}
    for line in output.splitlines():
        if line.count("\t") == 2:
            _, seq, reason = line.split("\t")
            found.setdefault(int(seq.removeprefix("seq ")), []).append(reason)
    return found


def execute(engine: Engine, *statements: str, **params: object) -> None:
    """Run SQL as someone with write access to the database could, in one transaction."""
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement), params)


def set_comment(engine: Engine, seq: int, comment: str = "tampered") -> None:
    """Rewrite one entry's JSON document in place."""
    statement = (
        "UPDATE audit_log SET doc = jsonb_set(doc, '{comment}', to_jsonb(CAST(:c AS text))) WHERE seq = :seq"
        if engine.dialect.name == "postgresql"
        else "UPDATE audit_log SET doc = json_set(doc, '$.comment', :c) WHERE seq = :seq"
    )
    execute(engine, statement, seq=seq, c=comment)


def roll_head_back(engine: Engine, to_seq: int) -> None:
    """Point the recorded chain head at entry ``to_seq`` (0: the empty log), as a careful intruder would."""
    with engine.begin() as conn:
        row = conn.execute(text("SELECT id, hash, date FROM audit_log WHERE seq = :s"), {"s": to_seq}).first()
        entry_id, hash_, entry_date = (row.id, row.hash, row.date) if row else ("", "0" * 64, None)
        conn.execute(
            text("UPDATE audit_head SET seq = :s, hash = :h, last_id = :i, last_date = :d"),
            {"s": to_seq, "h": hash_, "i": entry_id, "d": entry_date},
        )
