"""Repositories that write with Core statements refuse a value too long for its column as a client error
naming the field, on both stores, and write nothing: the net (``storage.limits``) is on the engine's
execution of every INSERT and UPDATE, not on an ORM flush these writes never pass through."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from flagward.domain.approvals import ApprovalRequest, ResourceKind
from flagward.domain.errors import InvalidRequest
from flagward.domain.flags import Flag
from flagward.domain.notifications import Notification, RequestEvent
from flagward.domain.outbox import NewMessage
from flagward.storage.unit_of_work import SqlUnitOfWorkFactory
from tests.integration.test_repository_contract import NOW, _env, _flag, _project
from tests.support.databases import migrated_engine


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlUnitOfWorkFactory]:
    with migrated_engine(request.param, tmp_path) as engine:
        sql = SqlUnitOfWorkFactory(engine)
        with sql() as uow:
            project = _project()
            uow.projects.add(project)
            uow.environments.add(_env(project, "production"))
            uow.commit()
        yield sql


def _named(key: str, name: str) -> Flag:
    flag = _flag("shop", key, ["production"])
    flag.name = name
    return flag


def test_a_flag_name_too_long_is_invalid_on_add_and_on_update(factory: SqlUnitOfWorkFactory) -> None:
    with factory() as uow, pytest.raises(InvalidRequest, match="name must be at most 256 characters"):
        uow.flags.add(_named("long", "n" * 257))
    with factory() as uow:
        uow.flags.add(_named("ok", "n" * 256))
        uow.commit()
    with factory() as uow:
        flag = uow.flags.get("shop", "ok", for_update=True)
        assert flag is not None
        flag.name = "n" * 257
        with pytest.raises(InvalidRequest, match="name must be at most 256"):
            uow.flags.update(flag)
    with factory(write=False) as uow:
        assert uow.flags.get("shop", "long") is None
        kept = uow.flags.get("shop", "ok")
        assert kept is not None and kept.name == "n" * 256


def test_approval_requests_notifications_and_messages_are_checked_too(factory: SqlUnitOfWorkFactory) -> None:
    request = ApprovalRequest(
        id="r" * 24,
        project_key="shop",
        environment_key="production",
        resource_kind=ResourceKind.FLAG,
        resource_key="k" * 257,
        creation_date=NOW,
        description="d",
        instructions=[{"kind": "turnFlagOn"}],
        base_version=1,
        requestor_id=None,
        notify_member_ids=[],
    )
    with factory() as uow, pytest.raises(InvalidRequest, match="resourceKey must be at most 256"):
        uow.approvals.add(request)
    notification = Notification(
        id="n" * 25, member_id="m" * 24, event=RequestEvent.REQUESTED, title="t", body="b", created_at=NOW
    )
    with factory() as uow, pytest.raises(InvalidRequest, match="id must be at most 24"):
        uow.notifications.add(notification)
    with factory() as uow, pytest.raises(InvalidRequest, match="orderingKey must be at most 128"):
        uow.outbox.add(NewMessage(kind="webhook", payload={}, target="t", ordering_key="o" * 129), now=NOW)
