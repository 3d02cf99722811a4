"""A log written before hash version 2 (its entries hashed their JSON document only) still verifies
after migration 0006 on both stores; edits to its entries' other columns are still named, new entries
are hashed with version 2, and a new entry cannot be passed off as an old one."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select, text

from flagward.domain.audit import GENESIS_HASH, Access, AuditActor, AuditEntry
from flagward.domain.audit_chain import DOWNGRADED, HEAD_BEHIND, chain_hash
from flagward.services import projects
from flagward.services.projects import NewProject
from flagward.storage.audit_verify import current_head, verify
from flagward.storage.engine import make_engine
from flagward.storage.migrate import upgrade
from flagward.storage.records import AuditRecord
from tests.support.audit_log import OWNER, deps, execute

LEGACY = 4


def _legacy_entry(n: int) -> AuditEntry:
    return AuditEntry(
        id=f"{n:024x}",
        date=1_700_000_000_000 + n,
        kind="flag",
        name="alpha",
        description=f"change {n}",
        short_description="x",
        title_verb="updated",
        accesses=[Access("updateOn", "proj/shop:env/production:flag/alpha")],
        actor=AuditActor(member_id="m" * 24),
        target_resources=["proj/shop:env/production:flag/alpha"],
    )


def _write_legacy_log(engine: Engine) -> None:
    """Rows as flagward wrote them at revision 0005: ``hash = chain_hash(document, prev_hash)``."""
    doc_param = "CAST(:doc AS jsonb)" if engine.dialect.name == "postgresql" else ":doc"
    prev_hash, prev_id = GENESIS_HASH, None
    with engine.begin() as conn:
        for n in range(1, LEGACY + 1):
            entry = _legacy_entry(n)
            entry.prev_id = prev_id
            doc = entry.content()
            hash_ = chain_hash(doc, prev_hash)
            conn.execute(
                text(
                    "INSERT INTO audit_log (seq, id, date, kind, doc, resources, prev_hash, hash) "
                    f"VALUES (:seq, :id, :date, :kind, {doc_param}, :resources, :prev_hash, :hash)"
                ),
                {
                    "seq": n,
                    "id": entry.id,
                    "date": entry.date,
                    "kind": entry.kind,
                    "doc": json.dumps(doc),
                    "resources": "\n".join(entry.target_resources + [a.resource for a in entry.accesses]),
                    "prev_hash": prev_hash,
                    "hash": hash_,
                },
            )
            prev_hash, prev_id = hash_, entry.id
        conn.execute(text("INSERT INTO audit_head (id, seq, hash) VALUES (1, :s, :h)"), {"s": LEGACY, "h": prev_hash})
        conn.execute(text("INSERT INTO meta (key, value) VALUES ('audit_head_id', :v)"), {"v": prev_id})


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    engine = make_engine(store_url)
    upgrade(engine, "0005")
    _write_legacy_log(engine)
    upgrade(engine)
    yield engine
    engine.dispose()


def _append(engine: Engine, count: int = 2) -> None:
    for n in range(count):
        projects.create_project(deps(engine), actor=OWNER, new=NewProject(key=f"p{n}", name="P"))


def test_a_legacy_log_verifies_and_grows_with_version_2_entries(engine: Engine) -> None:
    assert verify(engine) == (LEGACY, [])
    _append(engine)
    assert verify(engine) == (LEGACY + 2, [])
    with engine.connect() as conn:
        versions = conn.execute(text("SELECT hash_version FROM audit_log ORDER BY seq")).scalars().all()
    assert versions == [1] * LEGACY + [2, 2]
    assert current_head(engine)[1] == []


@pytest.mark.parametrize(
    ("statement", "column"),
    [
        ("UPDATE audit_log SET date = date + 5 WHERE seq = 2", "date"),
        ("UPDATE audit_log SET resources = 'proj/elsewhere' WHERE seq = 2", "resources"),
        ("UPDATE audit_log SET id = 'ffffffffffffffffffffffff' WHERE seq = 2", "id"),
        ("UPDATE audit_log SET kind = 'segment' WHERE seq = 2", "kind"),
    ],
)
def test_an_edit_to_a_legacy_entrys_columns_is_named(engine: Engine, statement: str, column: str) -> None:
    """A version-1 hash does not cover these columns, but its document holds them all."""
    execute(engine, statement)
    _, breaks = verify(engine)
    assert [(b.seq, b.reason) for b in breaks] == [(2, f"altered: its {column} no longer match its hashed content")]


def test_a_new_entry_rehashed_as_a_legacy_one_is_named(engine: Engine) -> None:
    """Relabelled version 1 and re-hashed with the document-only formula, with the head moved along,
    the last entry would verify on its own: versions never decrease along the chain."""
    _append(engine)
    last = LEGACY + 2
    with engine.begin() as conn:
        table = AuditRecord.__table__
        row = conn.execute(select(table.c.doc, table.c.prev_hash).where(table.c.seq == last)).one()
        forged = chain_hash(row.doc, row.prev_hash)
        conn.execute(text("UPDATE audit_log SET hash_version = 1, hash = :h WHERE seq = :s"), {"h": forged, "s": last})
        conn.execute(text("UPDATE audit_head SET hash = :h"), {"h": forged})
    _, breaks = verify(engine)
    assert [(b.seq, b.reason) for b in breaks] == [(last, DOWNGRADED)]


def test_an_entry_beyond_the_recorded_head_is_named(engine: Engine) -> None:
    execute(engine, "UPDATE audit_head SET seq = seq - 1")
    _, breaks = verify(engine)
    assert [(b.seq, b.reason) for b in breaks] == [(LEGACY, HEAD_BEHIND)]
