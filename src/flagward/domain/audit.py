"""Audit entries, the closed set of actions they record, resource specifiers, and the hash chain.

Each entry stores ``hash = sha256(prev_hash + canonical JSON of its content)``, and its content names
its predecessor (``prev_id``), so that ``verify_chain`` can name every entry that was altered, and every
entry that was removed, by id. Dates strictly increase along the chain, so listing "entries before this
date" pages through the log without skipping or repeating entries.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

GENESIS_HASH = "0" * 64


class AuditAction(StrEnum):
    """LaunchDarkly's role/audit action names for everything flagward changes."""

    CREATE_PROJECT = "createProject"
    UPDATE_PROJECT = "updateProjectName"
    UPDATE_PROJECT_TAGS = "updateTags"
    UPDATE_PROJECT_CLIENT_SIDE = "updateProjectClientSideAvailability"
    DELETE_PROJECT = "deleteProject"
    CREATE_ENVIRONMENT = "createEnvironment"
    UPDATE_ENVIRONMENT = "updateEnvironment"
    UPDATE_APPROVAL_SETTINGS = "updateRequireApproval"
    RESET_SDK_KEY = "updateApiKey"
    RESET_MOBILE_KEY = "updateMobileKey"
    DELETE_ENVIRONMENT = "deleteEnvironment"
    CREATE_FLAG = "createFlag"
    DELETE_FLAG = "deleteFlag"
    UPDATE_ON = "updateOn"
    UPDATE_TARGETS = "updateTargets"
    UPDATE_RULES = "updateRules"
    UPDATE_FALLTHROUGH = "updateFallthrough"
    UPDATE_OFF_VARIATION = "updateOffVariation"
    UPDATE_PREREQUISITES = "updatePrerequisites"
    UPDATE_TRACK_EVENTS = "updateTrackEvents"
    UPDATE_FALLTHROUGH_TRACK_EVENTS = "updateFlagFallthroughTrackEvents"
    UPDATE_FLAG_SALT = "updateFlagSalt"
    UPDATE_MIGRATION_SETTINGS = "updateFlagConfigMigrationSettings"
    UPDATE_DEBUG_EVENTS = "updateFlagDebugEvents"
    UPDATE_VARIATIONS = "updateFlagVariations"
    UPDATE_DEFAULT_VARIATIONS = "updateFlagDefaultVariations"
    UPDATE_NAME = "updateName"
    UPDATE_DESCRIPTION = "updateDescription"
    UPDATE_TAGS = "updateTags"
    UPDATE_TEMPORARY = "updateTemporary"
    UPDATE_MAINTAINER = "updateMaintainer"
    UPDATE_CLIENT_SIDE_AVAILABILITY = "updateClientSideFlagAvailability"
    UPDATE_CUSTOM_PROPERTIES = "updateFlagCustomProperties"
    ARCHIVE_FLAG = "updateGlobalArchived"
    DEPRECATE_FLAG = "updateDeprecated"
    COPY_FLAG_CONFIG_FROM = "copyFlagConfigFrom"
    COPY_FLAG_CONFIG_TO = "copyFlagConfigTo"
    CREATE_SEGMENT = "createSegment"
    UPDATE_SEGMENT = "updateSegment"
    UPDATE_SEGMENT_TARGETS = "updateIncluded"
    UPDATE_SEGMENT_EXCLUDED = "updateExcluded"
    UPDATE_SEGMENT_RULES = "updateRules"
    DELETE_SEGMENT = "deleteSegment"
    CREATE_MEMBER = "createMember"
    UPDATE_MEMBER_ROLE = "updateRole"
    UPDATE_MEMBER = "updateMember"
    DELETE_MEMBER = "deleteMember"
    CREATE_TEAM = "createTeam"
    UPDATE_TEAM = "updateTeamName"
    UPDATE_TEAM_DESCRIPTION = "updateTeamDescription"
    UPDATE_TEAM_MEMBERS = "updateTeamMembers"
    DELETE_TEAM = "deleteTeam"
    CREATE_TOKEN = "createAccessToken"
    UPDATE_TOKEN = "updateAccessToken"
    RESET_TOKEN = "resetAccessToken"
    DELETE_TOKEN = "deleteAccessToken"
    CREATE_APPROVAL_REQUEST = "createApprovalRequest"
    REVIEW_APPROVAL_REQUEST = "reviewApprovalRequest"
    APPLY_APPROVAL_REQUEST = "applyApprovalRequest"
    UPDATE_APPROVAL_REQUEST = "updateApprovalRequest"
    DELETE_APPROVAL_REQUEST = "deleteApprovalRequest"
    UPDATE_APPROVAL_REQUEST_SETTINGS = "updateApprovalRequestSettings"


def project_spec(project_key: str) -> str:
    return f"proj/{project_key}"


def environment_spec(project_key: str, env_key: str) -> str:
    return f"proj/{project_key}:env/{env_key}"


def flag_spec(project_key: str, flag_key: str, env_key: str = "*") -> str:
    return f"proj/{project_key}:env/{env_key}:flag/{flag_key}"


def segment_spec(project_key: str, env_key: str, segment_key: str) -> str:
    return f"proj/{project_key}:env/{env_key}:segment/{segment_key}"


def spec_matches(pattern: str, resource: str) -> bool:
    """Whether resource specifier ``pattern`` (with ``*`` globs) names ``resource``.

    Tag qualifiers (``;tag``) in either are ignored. A pattern with fewer segments matches resources
    nested under it only when it ends in a glob segment covering them: ``proj/p:env/*:flag/*`` matches
    ``proj/p:env/e:flag/f``; ``proj/p`` matches only the project itself.
    """
    pattern_parts = [_strip_tags(p) for p in pattern.split(":")]
    resource_parts = [_strip_tags(p) for p in resource.split(":")]
    if len(pattern_parts) != len(resource_parts):
        return False
    return all(fnmatch.fnmatchcase(r, p) for p, r in zip(pattern_parts, resource_parts, strict=True))


def _strip_tags(part: str) -> str:
    return part.split(";", 1)[0]


@dataclass(frozen=True)
class Access:
    action: str
    resource: str


@dataclass(frozen=True)
class AuditActor:
    member_id: str | None = None
    member_email: str | None = None
    member_first_name: str | None = None
    member_last_name: str | None = None
    member_role: str | None = None
    token_id: str | None = None
    token_name: str | None = None
    token_ending: str | None = None
    service_token: bool = False


@dataclass
class AuditEntry:
    """One audited change. ``previous``/``current`` are the resource representations around it."""

    id: str
    date: int
    kind: str  # resource kind: flag, segment, project, environment, member, team, token, approvalRequest
    name: str  # the resource's name
    description: str
    short_description: str
    title_verb: str
    accesses: list[Access]
    actor: AuditActor
    target_resources: list[str]
    comment: str | None = None
    previous: dict[str, Any] | None = None
    current: dict[str, Any] | None = None
    delta: Any = None  # the request body that made the change (a JSON patch, instructions…)
    approval_request_id: str | None = None
    seq: int = 0
    prev_hash: str = GENESIS_HASH
    hash: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    prev_id: str | None = None  # the id of the entry before this one in the chain

    def content(self) -> dict[str, Any]:
        """Everything the hash covers: all fields but ``seq`` and the hashes themselves. ``prev_id`` is
        left out while unset, so entries sealed before it existed keep their hashes."""
        data = asdict(self)
        for name in ("seq", "prev_hash", "hash"):
            data.pop(name)
        if data["prev_id"] is None:
            del data["prev_id"]
        return data


def chain_hash(content: dict[str, Any], prev_hash: str) -> str:
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256((prev_hash + canonical).encode("utf-8")).hexdigest()


def seal(entry: AuditEntry, *, prev_hash: str, prev_id: str | None = None, prev_date: int | None = None) -> AuditEntry:
    """Link ``entry`` after the entry ``prev_id`` (hash ``prev_hash``, date ``prev_date``) and hash it.

    The date moves to ``prev_date + 1`` when it is not later than that: entries written in the same
    millisecond, or by a transaction that read the clock before another committed, still get dates that
    increase with their position, which is what ``before``/``after`` paging relies on.
    """
    if prev_date is not None and entry.date <= prev_date:
        entry.date = prev_date + 1
    entry.prev_id = prev_id
    entry.prev_hash = prev_hash
    entry.hash = chain_hash(entry.content(), prev_hash)
    return entry


@dataclass(frozen=True)
class ChainBreak:
    entry_id: str  # "" when the id of a removed entry cannot be known
    seq: int
    reason: str


ALTERED = "altered: its content does not match its hash"
REHASHED = "altered: its hash was recomputed, so its successor no longer links to it"
REMOVED = "removed: the chain skips it"


@dataclass(frozen=True)
class ChainHead:
    """The last link as recorded on append: its seq, hash and (when recorded) entry id."""

    seq: int
    hash: str
    entry_id: str | None = None


def verify_chain(entries: list[AuditEntry], *, head: ChainHead | None = None) -> list[ChainBreak]:
    """Every altered or removed entry of ``entries`` (all of the log, in ``seq`` order), by id.

    An entry is altered when its content no longer hashes to its hash, or when its successor's link no
    longer matches it (it was re-hashed). A removed entry shows as a gap in ``seq``; the successor's
    ``prev_id`` names it (the ids of any others removed with it are unknown). ``head``, the last link as
    recorded on append, reveals a removed tail.
    """
    breaks: list[ChainBreak] = []
    previous: AuditEntry | None = None
    for entry in entries:
        prev_seq = previous.seq if previous else 0
        if entry.hash != chain_hash(entry.content(), entry.prev_hash):
            breaks.append(ChainBreak(entry.id, entry.seq, ALTERED))
        if entry.seq > prev_seq + 1:
            breaks += _removed(prev_seq + 1, entry.seq - 1, entry.prev_id)
        elif previous is not None and entry.prev_hash != previous.hash:
            breaks.append(ChainBreak(previous.id, previous.seq, REHASHED))
        previous = entry
    if head is not None and head.seq > 0:
        if previous is None or previous.seq < head.seq:
            breaks += _removed(previous.seq + 1 if previous else 1, head.seq, head.entry_id)
        elif previous.hash != head.hash:
            breaks.append(ChainBreak(previous.id, previous.seq, REHASHED))
    return list(dict.fromkeys(breaks))


def _removed(first: int, last: int, last_id: str | None) -> list[ChainBreak]:
    """Entries ``first``..``last`` are gone; only the last one's id is known (``last_id``)."""
    return [ChainBreak((last_id or "") if seq == last else "", seq, REMOVED) for seq in range(first, last + 1)]
