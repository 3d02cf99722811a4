"""Flags and their per-environment configurations."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session

from flagward.domain.flags import Flag, FlagConfig
from flagward.services.ports import FlagQuery
from flagward.storage.mappers import flag_from_record, flag_to_record, tag_pattern
from flagward.storage.records import EnvironmentRecord, FlagConfigRecord, FlagRecord, ProjectRecord
from flagward.storage.repositories._common import contains_ci, count, paginate

_SORTS: dict[str, Any] = {
    "name": FlagRecord.name.asc(),
    "-name": FlagRecord.name.desc(),
    "key": FlagRecord.key.asc(),
    "-key": FlagRecord.key.desc(),
    "creationDate": FlagRecord.creation_date.asc(),
    "-creationDate": FlagRecord.creation_date.desc(),
}


# The hot reads' statements, built once: building a statement (and its cache key) per call costs more
# than executing it (BENCHMARKS section 15).
_FLAG_BY_KEY = (
    select(FlagRecord)
    .join(ProjectRecord, ProjectRecord.id == FlagRecord.project_id)
    .where(ProjectRecord.key == bindparam("project_key"), FlagRecord.key == bindparam("flag_key"))
)
_FLAG_BY_KEY_FOR_UPDATE = _FLAG_BY_KEY.with_for_update(of=FlagRecord)
# FOR KEY SHARE: a delete waits for this transaction; updates need not.
_FLAG_BY_KEY_FOR_SHARE = _FLAG_BY_KEY.with_for_update(of=FlagRecord, read=True, key_share=True)
_CONFIGS_OF = (
    select(FlagConfigRecord.flag_id, EnvironmentRecord.key, FlagConfigRecord.doc)
    .join(EnvironmentRecord, EnvironmentRecord.id == FlagConfigRecord.environment_id)
    .where(FlagConfigRecord.flag_id.in_(bindparam("flag_ids", expanding=True)))
    .order_by(EnvironmentRecord.creation_date, EnvironmentRecord.key)
)
_CONFIG_RECORDS = select(FlagConfigRecord).where(
    FlagConfigRecord.flag_id == bindparam("flag_id"),
    FlagConfigRecord.environment_id.in_(bindparam("env_ids", expanding=True)),
)
_ENV_IDS = select(EnvironmentRecord.key, EnvironmentRecord.id).where(
    EnvironmentRecord.project_id == bindparam("project_id")
)


class SqlFlagRepository:
    def __init__(self, session: Session) -> None:
        self._session = session
        # Flags read under their row lock, kept for ``update`` (as ``SqlApprovalRepository._locked``).
        self._locked: dict[str, FlagRecord] = {}

    def _project(self, project_key: str) -> ProjectRecord:
        record = self._session.scalar(select(ProjectRecord).where(ProjectRecord.key == project_key))
        assert record is not None, f"project {project_key} must be loaded before its flags"
        return record

    def _env_ids(self, project_id: str) -> dict[str, str]:
        rows = self._session.execute(_ENV_IDS, {"project_id": project_id})
        return {key: env_id for key, env_id in rows}

    def _configs(self, flag_ids: list[str]) -> dict[str, dict[str, FlagConfig]]:
        result: dict[str, dict[str, FlagConfig]] = {flag_id: {} for flag_id in flag_ids}
        if not flag_ids:
            return result
        rows = self._session.execute(_CONFIGS_OF, {"flag_ids": list(flag_ids)})
        # A column's value is decoded from the row for this read alone (no record holds it): no copy needed.
        for flag_id, env_key, doc in rows:
            result[flag_id][env_key] = cast(FlagConfig, doc)
        return result

    def get(self, project_key: str, key: str, *, for_update: bool = False, for_share: bool = False) -> Flag | None:
        statement = _FLAG_BY_KEY_FOR_UPDATE if for_update else _FLAG_BY_KEY_FOR_SHARE if for_share else _FLAG_BY_KEY
        record = self._session.scalar(statement, {"project_key": project_key, "flag_key": key})
        if record is None:
            return None
        if for_update:
            self._locked[record.id] = record
        return flag_from_record(record, project_key, self._configs([record.id])[record.id])

    def find(self, project_key: str, query: FlagQuery) -> tuple[list[Flag], int]:
        statement = (
            select(FlagRecord)
            .join(ProjectRecord, ProjectRecord.id == FlagRecord.project_id)
            .where(ProjectRecord.key == project_key)
        )
        if query.query:
            statement = statement.where(
                or_(contains_ci(FlagRecord.name, query.query), contains_ci(FlagRecord.key, query.query))
            )
        for tag in query.tags:
            statement = statement.where(FlagRecord.tags.like(tag_pattern(tag), escape="\\"))
        if query.archived is not None:
            statement = statement.where(FlagRecord.archived == query.archived)
        total = count(self._session, statement)
        order = _SORTS.get(query.sort, FlagRecord.creation_date.asc())
        records = list(self._session.scalars(paginate(statement.order_by(order, FlagRecord.key), query.page)))
        configs = self._configs([r.id for r in records])
        return [flag_from_record(r, project_key, configs[r.id]) for r in records], total

    def tags(self, project_key: str) -> list[str]:
        statement = (
            select(FlagRecord.tags)
            .join(ProjectRecord, ProjectRecord.id == FlagRecord.project_id)
            .where(ProjectRecord.key == project_key, FlagRecord.tags != "\n")
            .distinct()
        )
        return sorted({tag for encoded in self._session.scalars(statement) for tag in encoded.split("\n") if tag})

    def list_all(self, project_key: str) -> list[Flag]:
        records = list(
            self._session.scalars(
                select(FlagRecord)
                .join(ProjectRecord, ProjectRecord.id == FlagRecord.project_id)
                .where(ProjectRecord.key == project_key)
                .order_by(FlagRecord.key)
            )
        )
        configs = self._configs([r.id for r in records])
        return [flag_from_record(r, project_key, configs[r.id]) for r in records]

    def list_for_environment(self, project_key: str, env_key: str) -> list[Flag]:
        rows = self._session.execute(
            select(FlagRecord, FlagConfigRecord.doc)
            .join(ProjectRecord, ProjectRecord.id == FlagRecord.project_id)
            .join(FlagConfigRecord, FlagConfigRecord.flag_id == FlagRecord.id)
            .join(EnvironmentRecord, EnvironmentRecord.id == FlagConfigRecord.environment_id)
            .where(ProjectRecord.key == project_key, EnvironmentRecord.key == env_key)
            .order_by(FlagRecord.key)
        )
        return [
            flag_from_record(record, project_key, {env_key: cast(FlagConfig, doc)})  # decoded for this read alone
            for record, doc in rows
        ]

    def add(self, flag: Flag) -> None:
        project = self._project(flag.project_key)
        self._session.add(flag_to_record(flag, project.id))
        self._session.flush()  # the configurations below reference this row
        env_ids = self._env_ids(project.id)
        for env_key, config in flag.environments.items():
            self._session.add(_config_record(flag.id, env_ids[env_key], config))

    def update(self, flag: Flag, *, environments: Iterable[str] = ()) -> None:
        record = self._locked.get(flag.id) or self._session.get(FlagRecord, flag.id)
        assert record is not None, "update() of a flag that was not loaded"
        flag_to_record(flag, record.project_id, record)
        env_keys = list(environments)
        if not env_keys:
            return
        env_ids = self._env_ids(record.project_id)
        wanted = [env_ids[k] for k in env_keys]
        # The configurations' records in one read (those this transaction loaded are not read again).
        loaded = {
            r.environment_id: r for r in self._session.scalars(_CONFIG_RECORDS, {"flag_id": flag.id, "env_ids": wanted})
        }
        for env_key in env_keys:
            config_record = loaded.get(env_ids[env_key])
            config = flag.environments[env_key]
            if config_record is None:
                self._session.add(_config_record(flag.id, env_ids[env_key], config))
            else:
                config_record.doc = copy.deepcopy(dict(config))
                config_record.version = config["version"]

    def delete(self, flag: Flag) -> None:
        record = self._session.get(FlagRecord, flag.id)
        if record is not None:
            self._session.delete(record)

    def add_environment(self, project_key: str, env_key: str, configs: dict[str, FlagConfig]) -> None:
        project = self._project(project_key)
        env_id = self._env_ids(project.id)[env_key]
        rows = self._session.execute(select(FlagRecord.key, FlagRecord.id).where(FlagRecord.project_id == project.id))
        # Not dict(result): a Result has .keys() (its column names), so dict() would index it like a mapping.
        flag_ids = {key: flag_id for key, flag_id in rows}
        for flag_key, config in configs.items():
            self._session.add(_config_record(flag_ids[flag_key], env_id, config))


def _config_record(flag_id: str, env_id: str, config: FlagConfig) -> FlagConfigRecord:
    return FlagConfigRecord(
        flag_id=flag_id, environment_id=env_id, doc=copy.deepcopy(dict(config)), version=config["version"]
    )
