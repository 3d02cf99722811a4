"""Verify the audit hash chain straight from the store."""

from __future__ import annotations

from sqlalchemy import Engine

from flagward.domain.audit import ChainBreak, verify_chain
from flagward.storage.unit_of_work import SqlUnitOfWorkFactory


def verify(engine: Engine) -> tuple[int, list[ChainBreak]]:
    with SqlUnitOfWorkFactory(engine)(write=False) as uow:
        entries = uow.audit.all_in_order()
        head = uow.audit.head()
    return len(entries), verify_chain(entries, head=head)
