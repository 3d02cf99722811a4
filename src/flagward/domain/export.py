"""flagward's flags and segments in LaunchDarkly's formats, for ``flagward export``. Pure.

- The SDK payload of one environment (``{"flags": {...}, "segments": {...}}``), exactly what
  ``/sdk/latest-all`` serves: LaunchDarkly's SDK file data source, the Relay Proxy and ``flagward
  import`` read it. Archived flags are left out (SDKs are served a tombstone for them).
- The REST representations (``representations.flag_document``, ``segment_documents.segment_document``),
  as LaunchDarkly's REST API returns them, one file per project, flag and segment (``rest_files``).
  A segment's document carries its ``salt`` (flagward's: LaunchDarkly's REST API does not return it).
"""

from __future__ import annotations

from typing import Any

from flagward.domain.flags import Flag
from flagward.domain.projects import Environment, Project
from flagward.domain.representations import (
    approval_settings,
    environment_document,
    flag_document,
    project_document,
)
from flagward.domain.sdk_items import flag_item, segment_item
from flagward.domain.segment_documents import segment_document
from flagward.domain.segments import Segment

# Secrets and identities of the source server: a copy gets its own.
_ENVIRONMENT_SECRETS = ("_id", "apiKey", "mobileKey")


def sdk_payload(flags: list[Flag], segments: list[Segment], env_key: str) -> dict[str, Any]:
    return {
        "flags": {f.key: flag_item(f, env_key) for f in flags if env_key in f.environments and not f.archived},
        "segments": {s.key: segment_item(s) for s in segments},
    }


def project_file(project: Project, environments: list[Environment]) -> dict[str, Any]:
    """The project with its environments expanded (``?expand=environments``), without their keys."""
    doc = project_document(project)
    doc.pop("_id", None)
    doc["environments"] = {"items": [_environment_file(env) for env in environments]}
    return doc


def _environment_file(env: Environment) -> dict[str, Any]:
    """The environment without its secrets, and with its segment approval settings as LaunchDarkly's
    REST API gives them (``resourceApprovalSettings.segment``), so that an import brings them along."""
    doc = {k: v for k, v in environment_document(env).items() if k not in _ENVIRONMENT_SECRETS}
    doc["resourceApprovalSettings"] = {"segment": approval_settings(env.segment_approval_settings)}
    return doc


def rest_files(
    project: Project, environments: list[Environment], flags: list[Flag], segments: dict[str, list[Segment]]
) -> dict[str, dict[str, Any]]:
    """Relative path -> document: ``projects/P.json``, ``flags/P/F.json``, ``segments/P/E/S.json``."""
    files = {f"projects/{project.key}.json": project_file(project, environments)}
    for flag in flags:
        files[f"flags/{project.key}/{flag.key}.json"] = flag_document(flag)
    for env_key, items in segments.items():
        for segment in items:
            files[f"segments/{project.key}/{env_key}/{segment.key}.json"] = segment_document(segment)
    return files
