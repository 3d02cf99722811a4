"""Repositories that write with Core statements (no ORM flush, so no ``before_flush`` net) still refuse a
value too long for its column as a client error naming the field, on both stores, and write nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from flagward.domain.approvals import ApprovalRequest, ResourceKind
from flagward.domain.errors import InvalidRequest
from flagward.domain.flags import Defaults, Flag, new_config, new_variations
from flagward.domain.notifications import Notification, RequestEvent
from flagward.domain.outbox import NewMessage
from flagward.domain.projects import Environment, Project
from flagward.storage.engine import make_engine
from flagward.storage.migrate import upgrade
from flagward.storage.unit_of_work import SqlUnitOfWorkFactory
from tests.support.databases import database_url

NOW = 1_700_000_000_000


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlUnitOfWorkFactory]:
    with database_url(request.param, tmp_path) as url:
        engine = make_engine(url)
        upgrade(engine)
        try:
            sql = SqlUnitOfWorkFactory(engine)
            with sql() as uow:
                uow.projects.add(Project(id="p" * 24, key="shop", name="Shop", creation_date=NOW))
                uow.environments.add(
                    Environment(
                        id="e" * 24,
                        project_id="p" * 24,
                        project_key="shop",
                        key="production",
                        name="Production",
                        api_key="sdk-x",
                        mobile_key="mob-x",
                        color="00AA00",
                        creation_date=NOW,
                    )
                )
                uow.commit()
            yield sql
        finally:
            engine.dispose()


def _flag(key: str, name: str) -> Flag:
    kind, variations = new_variations(None)
    flag = Flag(
        id=key[:24].ljust(24, "0"),
        project_key="shop",
        key=key,
        name=name,
        kind=kind,
        variations=variations,
        creation_date=NOW,
        defaults=Defaults(0, 1),
    )
    flag.environments["production"] = new_config(flag.defaults, now=NOW)
    return flag


def test_a_flag_name_too_long_is_invalid_on_add_and_on_update(factory: SqlUnitOfWorkFactory) -> None:
    with factory() as uow, pytest.raises(InvalidRequest, match="name must be at most 256 characters"):
        uow.flags.add(_flag("long", "n" * 257))
    with factory() as uow:
        uow.flags.add(_flag("ok", "n" * 256))
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
