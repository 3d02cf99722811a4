"""One linear migration history runs on both dialects, both ways, and matches the records exactly."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from flagward.storage.engine import make_engine
from flagward.storage.migrate import alembic_config, current_revision, upgrade
from flagward.storage.records import Base


def test_the_history_is_linear() -> None:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert len(heads) == 1


def test_upgrade_downgrade_upgrade_and_no_drift(store_url: str) -> None:
    engine = make_engine(store_url)
    try:
        upgrade(engine)
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        assert current_revision(engine) == head
        with engine.connect() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.downgrade(config, "base")
            connection.commit()
        assert current_revision(engine) is None
        upgrade(engine)
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()
