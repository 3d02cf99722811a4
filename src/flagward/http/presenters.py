"""Domain objects to LaunchDarkly's wire representations: documents decorated with ``_links``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flagward.domain.accounts import AccessToken, Member, Team
from flagward.domain.audit import AuditEntry
from flagward.domain.flags import Flag, FlagConfig
from flagward.domain.projects import Environment, Project
from flagward.domain.representations import (
    approval_settings,
    audit_entry_document,
    config_document,
    environment_document,
    flag_document,
    member_document,
    project_document,
    team_document,
    token_document,
)
from flagward.http.links import collection, link, links

API = "/api/v2"


def environment(env: Environment) -> dict[str, Any]:
    doc = environment_document(env)
    base = f"{API}/projects/{env.project_key}/environments"
    doc["_links"] = links(f"{base}/{env.key}", f"{base}", project=f"{API}/projects/{env.project_key}")
    # LaunchDarkly's approval settings by resource kind other than flags: the environment's segment settings.
    doc["resourceApprovalSettings"] = {"segment": approval_settings(env.segment_approval_settings)}
    return doc


def environments(project_key: str, envs: list[Environment], total: int | None = None) -> dict[str, Any]:
    path = f"{API}/projects/{project_key}/environments"
    return collection(path, [environment(e) for e in envs], len(envs) if total is None else total)


def project(value: Project, envs: list[Environment] | None = None) -> dict[str, Any]:
    doc = project_document(value)
    doc["_links"] = links(
        f"{API}/projects/{value.key}",
        f"{API}/projects",
        environments=f"{API}/projects/{value.key}/environments",
        flagDefaults=f"{API}/projects/{value.key}/flag-defaults",
    )
    if envs is not None:
        doc["environments"] = environments(value.key, envs)
    return doc


def project_rep(value: Project, envs: list[Environment]) -> dict[str, Any]:
    """LaunchDarkly's ``ProjectRep`` (the answer to create and patch): environments as a plain list."""
    doc = project(value)
    doc["environments"] = [environment(e) for e in envs]
    return doc


def member_summary(member: Member) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "_id": member.id,
        "_links": links(f"{API}/members/{member.id}", f"{API}/members"),
        "email": member.email,
        "role": member.role.value,
    }
    if member.first_name:
        doc["firstName"] = member.first_name
    if member.last_name:
        doc["lastName"] = member.last_name
    return doc


def member(value: Member) -> dict[str, Any]:
    doc = member_document(value)
    doc["_links"] = links(f"{API}/members/{value.id}", f"{API}/members")
    doc["teams"] = [
        {"key": key, "name": value.team_names.get(key, key), "customRoleKeys": list(value.team_role_keys.get(key, []))}
        for key in value.team_keys
    ]
    return doc


def team(value: Team, *, members_count: bool = False, expand: frozenset[str] = frozenset()) -> dict[str, Any]:
    """``expand``: ``roles`` (the custom roles' keys; names from ``GET .../roles``), ``maintainers`` (their count)."""
    doc = team_document(value)
    doc["_links"] = links(f"{API}/teams/{value.key}", f"{API}/teams", roles=f"{API}/teams/{value.key}/roles")
    doc["_access"] = {"allowed": [], "denied": []}
    if members_count or "members" in expand:
        doc["members"] = {"totalCount": len(value.member_ids)}
    if "roles" in expand:
        roles_path = f"{API}/teams/{value.key}/roles"
        items = [{"key": key} for key in value.custom_role_keys]
        doc["roles"] = {"totalCount": len(items), "items": items, "_links": {"self": link(roles_path)}}
    if "maintainers" in expand:
        doc["maintainers"] = {"totalCount": len(value.maintainer_ids)}
    return doc


def token(value: AccessToken, secret: str | None = None) -> dict[str, Any]:
    doc = token_document(value)
    if secret is not None:
        doc["token"] = secret
    doc["_links"] = links(f"{API}/tokens/{value.id}", f"{API}/tokens")
    return doc


def _summary(config: FlagConfig, variation_count: int) -> dict[str, Any]:
    variations: dict[str, dict[str, Any]] = {}
    for index in range(variation_count):
        entry: dict[str, Any] = {
            "rules": sum(1 for r in config["rules"] if r.get("variation") == index),
            "nullRules": 0,
            "targets": sum(len(t["values"]) for t in config["targets"] if t["variation"] == index),
            "contextTargets": sum(len(t["values"]) for t in config["contextTargets"] if t["variation"] == index),
        }
        if config["fallthrough"].get("variation") == index:
            entry["isFallthrough"] = True
        if config["offVariation"] == index:
            entry["isOff"] = True
        variations[str(index)] = entry
    return {"variations": variations, "prerequisites": len(config["prerequisites"])}


_DETAIL_FIELDS = ("targets", "contextTargets", "rules", "prerequisites")


def flag_config(flag: Flag, env: Environment, *, summary: bool = False) -> dict[str, Any]:
    config = flag.environments[env.key]
    doc = config_document(config)
    doc["_site"] = link(f"/{flag.project_key}/{env.key}/features/{flag.key}", "text/html")
    doc["_environmentName"] = env.name
    doc["_summary"] = _summary(config, len(flag.variations))
    if summary:
        for name in _DETAIL_FIELDS:
            doc.pop(name, None)
    return doc


def flag(
    value: Flag,
    envs: Iterable[Environment],
    *,
    env_keys: list[str] | None = None,
    summary: bool = False,
    maintainer: Member | None = None,
) -> dict[str, Any]:
    """The LaunchDarkly ``FeatureFlag``; ``env_keys`` limits ``environments`` (None: every one)."""
    doc = flag_document(value, env_keys=[])
    doc["_links"] = links(f"{API}/flags/{value.project_key}/{value.key}", f"{API}/flags/{value.project_key}")
    wanted = None if env_keys is None else set(env_keys)
    doc["environments"] = {
        env.key: flag_config(value, env, summary=summary)
        for env in envs
        if env.key in value.environments and (wanted is None or env.key in wanted)
    }
    if maintainer is not None:
        doc["_maintainer"] = member_summary(maintainer)
    return doc


def audit_entry(entry: AuditEntry, account_id: str, *, detail: bool) -> dict[str, Any]:
    return audit_entry_document(entry, account_id, detail=detail)
