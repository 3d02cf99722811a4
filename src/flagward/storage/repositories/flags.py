"""Flags and their per-environment configurations, read and written with Core statements (the
repository hands out domain objects; the ORM's identity map and flush would be bookkeeping for nothing)."""

from __future__ import annotations

import typing
from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, insert, or_, select, update
from sqlalchemy.orm import Session

from flagward.domain.flags import Flag, FlagConfig
from flagward.services.ports import FlagQuery
from flagward.storage.mappers import flag_columns, flag_from_row, tag_pattern
from flagward.storage.records import EnvironmentRecord, FlagConfigRecord, FlagRecord, ProjectRecord
from flagward.storage.repositories._common import contains_ci, count, execute_flushed, paginate

_FLAGS = typing.cast(Table, FlagRecord.__table__)
_CONFIGS = typing.cast(Table, FlagConfigRecord.__table__)
_PROJECTS = typing.cast(Table, ProjectRecord.__table__)
_ENVIRONMENTS = typing.cast(Table, EnvironmentRecord.__table__)
_F, _C, _P, _E = _FLAGS.c, _CONFIGS.c, _PROJECTS.c, _ENVIRONMENTS.c

_SORTS: dict[str, Any] = {
    "name": _F.name.asc(),
    "-name": _F.name.desc(),
    "key": _F.key.asc(),
    "-key": _F.key.desc(),
    "creationDate": _F.creation_date.asc(),
    "-creationDate": _F.creation_date.desc(),
}

_IN_PROJECT = select(_FLAGS).select_from(_FLAGS.join(_PROJECTS, _P.id == _F.project_id))
# The hot statements, built once: building a statement (and its cache key) per call costs more than
# executing it (BENCHMARKS section 15).
_FLAG_BY_KEY = _IN_PROJECT.where(_P.key == bindparam("project_key"), _F.key == bindparam("flag_key"))
_FLAG_BY_KEY_FOR_UPDATE = _FLAG_BY_KEY.with_for_update(of=_FLAGS)
# FOR KEY SHARE: a delete waits for this transaction; updates need not.
_FLAG_BY_KEY_FOR_SHARE = _FLAG_BY_KEY.with_for_update(of=_FLAGS, read=True, key_share=True)
_CONFIGS_OF = (
    select(_C.flag_id, _E.key, _C.doc)
    .select_from(_CONFIGS.join(_ENVIRONMENTS, _E.id == _C.environment_id))
    .where(_C.flag_id.in_(bindparam("flag_ids", expanding=True)))
    .order_by(_E.creation_date, _E.key)
)
_ENV_IDS = select(_E.key, _E.id).where(_E.project_id == bindparam("project_id"))
_PROJECT_ID = select(_P.id).where(_P.key == bindparam("project_key"))
_FLAG_PROJECT_ID = select(_F.project_id).where(_F.id == bindparam("flag_id"))
_INSERT_FLAG = insert(_FLAGS)
_INSERT_CONFIG = insert(_CONFIGS)
# The SET clauses are the parameters' columns; the keys are bound under other names.
_UPDATE_FLAG = update(_FLAGS).where(_F.id == bindparam("b_flag_id"))
_UPDATE_CONFIG = update(_CONFIGS).where(
    _C.flag_id == bindparam("b_flag_id"),
    _C.environment_id
    == (
        select(_E.id)
        .where(_E.project_id == select(_F.project_id).where(_F.id == bindparam("b_flag_id")).scalar_subquery())
        .where(_E.key == bindparam("b_env_key"))
        .scalar_subquery()
    ),
)
_DELETE_FLAG = delete(_FLAGS).where(_F.id == bindparam("b_flag_id"))


class SqlFlagRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def _project_id(self, project_key: str) -> str:
        project_id = execute_flushed(self._session, _PROJECT_ID, {"project_key": project_key}).scalar()
        assert project_id is not None, f"project {project_key} must be loaded before its flags"
        return str(project_id)

    def _env_ids(self, project_id: str) -> dict[str, str]:
        rows = execute_flushed(self._session, _ENV_IDS, {"project_id": project_id})
        return {key: env_id for key, env_id in rows}

    def _configs(self, flag_ids: list[str]) -> dict[str, dict[str, FlagConfig]]:
        result: dict[str, dict[str, FlagConfig]] = {flag_id: {} for flag_id in flag_ids}
        if not flag_ids:
            return result
        rows = execute_flushed(self._session, _CONFIGS_OF, {"flag_ids": list(flag_ids)})
        # A column's value is decoded from the row for this read alone (no record holds it): no copy needed.
        for flag_id, env_key, doc in rows:
            result[flag_id][env_key] = cast(FlagConfig, doc)
        return result

    def _flags(self, project_key: str, rows: Iterable[Any]) -> list[Flag]:
        rows = list(rows)
        configs = self._configs([r.id for r in rows])
        return [flag_from_row(r, project_key, configs[r.id]) for r in rows]

    def get(self, project_key: str, key: str, *, for_update: bool = False, for_share: bool = False) -> Flag | None:
        statement = _FLAG_BY_KEY_FOR_UPDATE if for_update else _FLAG_BY_KEY_FOR_SHARE if for_share else _FLAG_BY_KEY
        row = execute_flushed(self._session, statement, {"project_key": project_key, "flag_key": key}).first()
        if row is None:
            return None
        return flag_from_row(row, project_key, self._configs([row.id])[row.id])

    def find(self, project_key: str, query: FlagQuery) -> tuple[list[Flag], int]:
        statement = _IN_PROJECT.where(_P.key == project_key)
        if query.query:
            statement = statement.where(or_(contains_ci(_F.name, query.query), contains_ci(_F.key, query.query)))
        for tag in query.tags:
            statement = statement.where(_F.tags.like(tag_pattern(tag), escape="\\"))
        if query.archived is not None:
            statement = statement.where(_F.archived == query.archived)
        self._session.flush()
        total = count(self._session, statement)
        order = _SORTS.get(query.sort, _F.creation_date.asc())
        rows = execute_flushed(self._session, paginate(statement.order_by(order, _F.key), query.page))
        return self._flags(project_key, rows), total

    def tags(self, project_key: str) -> list[str]:
        statement = (
            select(_F.tags)
            .select_from(_FLAGS.join(_PROJECTS, _P.id == _F.project_id))
            .where(_P.key == project_key, _F.tags != "\n")
            .distinct()
        )
        encoded_tags = execute_flushed(self._session, statement).scalars()
        return sorted({tag for encoded in encoded_tags for tag in encoded.split("\n") if tag})

    def list_all(self, project_key: str) -> list[Flag]:
        statement = _IN_PROJECT.where(_P.key == project_key).order_by(_F.key)
        return self._flags(project_key, execute_flushed(self._session, statement))

    def list_for_environment(self, project_key: str, env_key: str) -> list[Flag]:
        statement = (
            select(_FLAGS, _C.doc.label("config"))
            .select_from(
                _FLAGS.join(_PROJECTS, _P.id == _F.project_id)
                .join(_CONFIGS, _C.flag_id == _F.id)
                .join(_ENVIRONMENTS, _E.id == _C.environment_id)
            )
            .where(_P.key == project_key, _E.key == env_key)
            .order_by(_F.key)
        )
        return [
            flag_from_row(row, project_key, {env_key: cast(FlagConfig, row.config)})  # decoded for this read alone
            for row in execute_flushed(self._session, statement)
        ]

    def add(self, flag: Flag) -> None:
        project_id = self._project_id(flag.project_key)
        row = {"id": flag.id, "project_id": project_id, "creation_date": flag.creation_date, **flag_columns(flag)}
        self._session.execute(_INSERT_FLAG, row)
        env_ids = self._env_ids(project_id)
        self._insert_configs([(flag.id, env_ids[k], config) for k, config in flag.environments.items()])

    def _insert_configs(self, configs: list[tuple[str, str, FlagConfig]]) -> None:
        if configs:
            rows = [
                {"flag_id": flag_id, "environment_id": env_id, "doc": dict(config), "version": config["version"]}
                for flag_id, env_id, config in configs
            ]
            self._session.execute(_INSERT_CONFIG, rows)

    def update(self, flag: Flag, *, environments: Iterable[str] = ()) -> None:
        columns = flag_columns(flag)
        self._session.execute(_UPDATE_FLAG, {"b_flag_id": flag.id, **columns})
        missing: list[str] = []
        for env_key in environments:
            config = flag.environments[env_key]
            params = {"b_flag_id": flag.id, "b_env_key": env_key, "doc": dict(config), "version": config["version"]}
            if not getattr(self._session.execute(_UPDATE_CONFIG, params), "rowcount", 0):
                missing.append(env_key)
        if missing:  # an environment this flag has no configuration row in yet
            project_id = execute_flushed(self._session, _FLAG_PROJECT_ID, {"flag_id": flag.id}).scalar()
            env_ids = self._env_ids(str(project_id))
            self._insert_configs([(flag.id, env_ids[k], flag.environments[k]) for k in missing])

    def delete(self, flag: Flag) -> None:
        self._session.execute(_DELETE_FLAG, {"b_flag_id": flag.id})  # its configurations go with it (ON DELETE CASCADE)

    def add_environment(self, project_key: str, env_key: str, configs: dict[str, FlagConfig]) -> None:
        project_id = self._project_id(project_key)
        env_id = self._env_ids(project_id)[env_key]
        rows = execute_flushed(self._session, select(_F.key, _F.id).where(_F.project_id == project_id))
        # Not dict(result): a Result has .keys() (its column names), so dict() would index it like a mapping.
        flag_ids = {key: flag_id for key, flag_id in rows}
        self._insert_configs([(flag_ids[flag_key], env_id, config) for flag_key, config in configs.items()])
