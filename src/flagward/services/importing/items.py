"""The write path of every imported item, whatever its format.

One transaction per item: a flag (with the configurations the input has for it), or a segment. An item is stored
whole or not at all; a refused item (malformed, unknown reference, approval required, existing and
different without ``update``) never stops the others. Items go through the write path: flags through
``check_flag_write`` (the approval gate) and, when they exist, ``commit_flag_change``; segments through
the segment gate and ``commit_segment_change``; every write is audited (``imported``) and published to
SDKs after commit.

Versions: an imported configuration keeps its version as the starting version, raised when needed so
that SDKs never see a version go back (a key deleted before, or an update of a stored item).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from flagward.domain.accounts import Actor
from flagward.domain.audit import AuditAction, flag_spec, segment_spec
from flagward.domain.authorization import permits
from flagward.domain.changes import describe_changes, same_json
from flagward.domain.errors import ApprovalRequired, Conflict, DomainError, Forbidden, InvalidRequest, NotFound
from flagward.domain.events import ItemKind, SdkItemChanged
from flagward.domain.flag_validation import validate_flag
from flagward.domain.flags import Flag, FlagConfig, new_config
from flagward.domain.import_items import (
    Outcome,
    Plan,
    Refusal,
    Requested,
    refusal_from,
)
from flagward.domain.instructions import FlagChangeContext
from flagward.domain.instructions.configuration import configuration_of
from flagward.domain.projects import Environment
from flagward.domain.representations import flag_document
from flagward.domain.sdk_items import flag_item, segment_item
from flagward.domain.segment_changes import describe_segment_changes, segment_document
from flagward.domain.segment_configuration import has_targeting, segment_configuration_of
from flagward.domain.segment_validation import SegmentChangeContext, validate_segment
from flagward.domain.segments import Segment
from flagward.services._common import environment_in, load_project, record_audit
from flagward.services.approval_create import add_import_request, add_segment_import_request
from flagward.services.authz import segment_resource
from flagward.services.flag_changes import change_context, commit_flag_change
from flagward.services.flag_gate import approval_required_in, can_bypass_approval, check_flag_write
from flagward.services.ports import Deps, UnitOfWork
from flagward.services.segments import commit_segment_change

IMPORT_COMMENT = "Imported (flagward import)"
REFUSABLE = (InvalidRequest, ApprovalRequired, Forbidden, Conflict, NotFound)


@dataclass(frozen=True)
class ImportOptions:
    dry_run: bool = False  # plan only: nothing is stored
    update: bool = False  # replace existing items that differ (otherwise they are refused)
    # Where approval is required and the actor may not bypass it: approval requests (the flag's imported
    # configuration there, or the segment's targeting, verbatim) instead of refusals.
    as_requests: bool = False


@dataclass
class Session:
    """What this import has stored (or, in a dry run, would have) so far, for the later items' checks."""

    deps: Deps
    actor: Actor
    options: ImportOptions
    plan: Plan
    source: str
    with_metadata: bool = False  # REST documents carry names, descriptions, tags…; SDK payloads do not
    flags: dict[str, Flag] = field(default_factory=dict)
    segments: dict[tuple[str, str], Segment] = field(default_factory=dict)
    # Dry run: the environments of projects it would create or extend (project key -> all of them).
    planned: dict[str, list[Environment]] = field(default_factory=dict)
    # The approval requests of the item being imported (the plan gets them if the item is not refused).
    pending: list[Requested] = field(default_factory=list)


def project_environments(session: Session, uow: UnitOfWork, project_key: str) -> list[Environment]:
    """The project's environments, its lock taken (every write of a project's flags and segments holds
    it). In a dry run, a project or environments the import would create are ``session.planned``."""
    if session.options.dry_run and project_key in session.planned:
        return session.planned[project_key]
    load_project(uow, project_key, for_update=not session.options.dry_run)
    return uow.environments.find(project_key)[0]


@dataclass(frozen=True)
class Where:
    """An item of the plan (``flags/KEY``), its path in the input, and the environment whose
    configuration it is (flagward's ``environments.ENV.`` paths then become the input's)."""

    item: str
    path: str
    env_key: str | None = None
    sep: str = "."  # between ``path`` and flagward's path: ":" after a file name

    def refusal(self, error: InvalidRequest | DomainError) -> Refusal:
        prefix = f"environments.{self.env_key}." if self.env_key else None

        def translate(path: str) -> str:
            return path[len(prefix) :] if prefix and path.startswith(prefix) else path

        if isinstance(error, InvalidRequest):
            return refusal_from(error, self.item, self.path, translate, sep=self.sep)
        return Refusal(self.item, self.path, error.message)


def one_item(session: Session, where: Where, work: Callable[[UnitOfWork], tuple[Outcome, str]]) -> None:
    """Run ``work`` in its own transaction; commit unless refused or dry run."""
    session.pending.clear()
    try:
        with session.deps.uow() as uow:
            outcome, detail = work(uow)
            if not session.options.dry_run and outcome in (Outcome.CREATE, Outcome.UPDATE, Outcome.REQUESTED):
                uow.commit()
    except REFUSABLE as error:
        session.pending.clear()
        session.plan.refuse(where.refusal(error))
        return
    session.plan.add(where.item, outcome, detail)
    # Named as the plan names the item (``flags/P/F`` and ``segments/P/E/S`` in a REST import).
    session.plan.requests.extend(dataclasses.replace(r, item=where.item) for r in session.pending)
    session.pending.clear()


# -- segments --------------------------------------------------------------------------------------


def _segment_context(session: Session, uow: UnitOfWork, segment: Segment) -> SegmentChangeContext:
    project_key, env_key = segment.project_key, segment.environment_key

    def other(key: str) -> Segment | None:
        if key == segment.key:
            return None
        return session.segments.get((env_key, key)) or uow.segments.get(project_key, env_key, key)

    return SegmentChangeContext(
        now=session.deps.clock.now_ms(),
        segment_exists=lambda key: other(key) is not None,
        segment_rules_of=lambda key: list(found.rules) if (found := other(key)) else [],
    )


def import_segment(session: Session, uow: UnitOfWork, *, segment: Segment) -> tuple[Outcome, str]:
    """Create the segment, or keep or (with ``update``) replace the one of the same key: its targets,
    rules and salt, and from REST documents its name, description and tags (an SDK payload has none).

    Where the environment's segments require approval and the actor may not bypass it, a change of the
    targets, rules or salt is refused, or with ``as_requests`` proposed in an approval request instead
    (``replaceSegmentConfiguration``, verbatim); a new segment is then created without targeting (its
    salt and version kept), as creating an empty segment needs no approval."""
    imported = segment
    deps, actor = session.deps, session.actor
    environments = project_environments(session, uow, imported.project_key)
    env = environment_in(environments, imported.project_key, imported.environment_key)
    validate_segment(imported, _segment_context(session, uow, imported))
    existing = uow.segments.get(imported.project_key, env.key, imported.key, for_update=True)
    if existing is None:
        return _create_segment(session, uow, env, imported)
    after = existing.clone()
    fields = ["salt", "included", "excluded", "included_contexts", "excluded_contexts", "rules"]
    fields += ["name", "description", "tags"] if session.with_metadata else []
    for name in fields:
        setattr(after, name, copy.deepcopy(getattr(imported, name)))
    if _same_segment(existing, after) and all(same_json(getattr(existing, n), getattr(after, n)) for n in fields):
        session.segments[(env.key, after.key)] = existing
        return Outcome.UNCHANGED, ""
    if not session.options.update:
        raise Conflict(f"segment '{existing.key}' exists in '{env.key}' and differs; --update replaces it")
    after.version = max(imported.version, existing.version + 1) - 1  # commit_segment_change adds 1
    proposal: dict[str, Any] | None = None
    if describe_segment_changes(existing, after).targeting_changed and _segment_gated(session, env, existing, after):
        proposal = _segment_proposal(session, env, after)
        for name in _TARGETING_FIELDS:  # the stored targeting stays until the request is applied
            setattr(after, name, copy.deepcopy(getattr(existing, name)))
    change = describe_segment_changes(existing, after)
    if proposal is not None and not change.actions:
        session.segments[(env.key, existing.key)] = existing
        _request_segment(session, uow, env, existing, proposal)
        return Outcome.REQUESTED, _requested_detail([env.key], session.options.dry_run).removeprefix("; ")
    if not change.actions:  # only what SDKs are not served differs (e.g. the generation)
        change.actions.append(AuditAction.UPDATE_SEGMENT)
    session.segments[(env.key, after.key)] = after
    detail = f"version {after.version + 1}"
    stored = after
    if not session.options.dry_run:
        stored = commit_segment_change(
            uow, deps.clock, actor, env, before=existing, change=change, comment=IMPORT_COMMENT, delta=_delta(session)
        )
    if proposal is not None:
        _request_segment(session, uow, env, stored, proposal)
        detail += _requested_detail([env.key], session.options.dry_run)
    return Outcome.UPDATE, detail


_TARGETING_FIELDS = ("salt", "included", "excluded", "included_contexts", "excluded_contexts", "rules")


def _segment_gated(session: Session, env: Environment, *segments: Segment) -> bool:
    """Whether a change of these segments' targeting needs approval in ``env`` that the actor may not
    bypass (as ``check_segment_gate`` judges it, with the tags before and after the import)."""
    return any(
        env.segment_approval_settings.applies_to(segment.tags)
        and not permits(session.actor, "bypassRequiredSegmentApproval", segment_resource(segment, env))
        for segment in segments
    )


def _segment_proposal(session: Session, env: Environment, imported: Segment) -> dict[str, Any]:
    """The ``replaceSegmentConfiguration`` configuration of ``imported``, with ``as_requests``; without,
    the refusal."""
    if not session.options.as_requests:
        raise ApprovalRequired(f"segment changes in environment '{env.key}' require approval")
    return segment_configuration_of(imported)


def _request_segment(
    session: Session, uow: UnitOfWork, env: Environment, segment: Segment, configuration: dict[str, Any]
) -> None:
    """The approval request of ``configuration`` on ``segment`` as stored (in a dry run, only planned)."""
    request_id = None
    if not session.options.dry_run:
        description = f"Import segment {segment.key} into {env.name} (from {session.source})"
        request = add_segment_import_request(
            uow,
            session.deps,
            session.actor,
            env=env,
            segment=segment,
            description=description,
            configuration=configuration,
        )
        request_id = request.id
    session.pending.append(Requested(f"segments/{segment.key}", env.key, request_id))


def _same_segment(a: Segment, b: Segment) -> bool:
    left, right = segment_item(a), segment_item(b)
    left.pop("version"), right.pop("version")
    return same_json(left, right)


def _create_segment(session: Session, uow: UnitOfWork, env: Environment, segment: Segment) -> tuple[Outcome, str]:
    deps, actor = session.deps, session.actor
    proposal: dict[str, Any] | None = None
    if has_targeting(segment_configuration_of(segment)) and _segment_gated(session, env, segment):
        proposal = _segment_proposal(session, env, segment)
        segment = segment.clone()
        for name in _TARGETING_FIELDS[1:]:  # created empty, with the imported salt: the request adds the rest
            setattr(segment, name, [])
    segment.version = max(segment.version, uow.tombstones.version(env.id, ItemKind.SEGMENT, segment.key) + 1)
    session.segments[(env.key, segment.key)] = segment
    if not session.options.dry_run:
        uow.segments.add(segment)
        record_audit(
            uow,
            deps.clock,
            actor,
            kind="segment",
            name=segment.name,
            actions=[AuditAction.CREATE_SEGMENT],
            resource=segment_spec(segment.project_key, env.key, segment.key),
            title_verb="imported",
            description=f"Imported segment {segment.name} ({segment.key}) from {session.source}",
            comment=IMPORT_COMMENT,
            current=segment_document(segment),
            delta=_delta(session),
        )
        uow.publish(SdkItemChanged(env.id, ItemKind.SEGMENT, segment.key, segment.version))
    detail = f"version {segment.version}"
    if proposal is not None:
        _request_segment(session, uow, env, segment, proposal)
        detail += _requested_detail([env.key], session.options.dry_run)
    return Outcome.CREATE, detail


def _delta(session: Session) -> dict[str, Any]:
    return {"import": {"source": session.source, "update": session.options.update}}


# -- flags -----------------------------------------------------------------------------------------


def _flag_context(session: Session, uow: UnitOfWork, flag: Flag) -> FlagChangeContext:
    stored = change_context(uow, session.deps.clock, flag)

    def get_flag(key: str) -> Flag | None:
        return None if key == flag.key else session.flags.get(key) or stored.get_flag(key)

    def segment_exists(env_key: str, key: str) -> bool:
        return (env_key, key) in session.segments or stored.segment_exists(env_key, key)

    return FlagChangeContext(
        now=stored.now,
        environment_keys=stored.environment_keys,
        get_flag=get_flag,
        segment_exists=segment_exists,
        member_exists=stored.member_exists,
        team_exists=stored.team_exists,
        dependents_of=stored.dependents_of,
    )


def import_flag(
    session: Session, uow: UnitOfWork, *, imported: Flag, maintainer_email: str | None = None
) -> tuple[Outcome, str]:
    """Import ``imported``'s configurations (one environment from an SDK payload, every one from a
    REST document) into the flag of the same key, creating it when missing."""
    project_key = imported.project_key
    environments = project_environments(session, uow, project_key)
    unknown = sorted(set(imported.environments) - {e.key for e in environments})
    if unknown:
        raise NotFound(f"environment '{unknown[0]}' is not in project '{project_key}'")
    if maintainer_email is not None:
        member = uow.members.get_by_email(maintainer_email)
        imported.maintainer_id = member.id if member else None
    if imported.maintainer_team_key is not None and uow.teams.get(imported.maintainer_team_key) is None:
        imported.maintainer_team_key = None  # LaunchDarkly's teams are not flagward's
    existing = session.flags.get(imported.key) if session.options.dry_run else None
    existing = existing or uow.flags.get(project_key, imported.key, for_update=not session.options.dry_run)
    if existing is None:
        return _create_flag(session, uow, imported, environments)
    return _update_flag(session, uow, existing, imported, environments)


def _create_flag(
    session: Session, uow: UnitOfWork, imported: Flag, environments: list[Environment]
) -> tuple[Outcome, str]:
    deps, actor = session.deps, session.actor
    flag = imported.clone()
    env_keys = list(imported.environments)
    now = deps.clock.now_ms()
    for env in environments:
        floor = uow.tombstones.version(env.id, ItemKind.FLAG, flag.key) + 1
        if env.key in imported.environments:
            config = flag.environments[env.key]
            config["version"] = max(config["version"], floor)
        else:
            flag.environments[env.key] = new_config(
                flag.defaults, now=now, track_events=env.default_track_events, version=floor
            )
            flag.environments[env.key]["archived"] = flag.archived
    flag.environments = {e.key: flag.environments[e.key] for e in environments}
    validate_flag(flag, _flag_context(session, uow, flag), environments=env_keys)
    proposals = _propose(session, uow, None, flag, environments, env_keys)
    check_flag_write(uow, actor, before=None, after=flag, environments=environments)
    session.flags[flag.key] = flag
    if not session.options.dry_run:
        uow.flags.add(flag)
        record_audit(
            uow,
            deps.clock,
            actor,
            kind="flag",
            name=flag.name,
            actions=[AuditAction.CREATE_FLAG],
            resource=flag_spec(flag.project_key, flag.key),
            title_verb="imported",
            description=f"Imported flag {flag.name} ({flag.key}) from {session.source}",
            comment=IMPORT_COMMENT,
            current=flag_document(flag),
            delta=_delta(session),
        )
        for env in environments:
            uow.publish(SdkItemChanged(env.id, ItemKind.FLAG, flag.key, flag.environments[env.key]["version"]))
    _request(session, uow, flag, environments, proposals)
    return Outcome.CREATE, _versions(flag, env_keys) + _requested_detail(proposals, session.options.dry_run)


def _propose(
    session: Session,
    uow: UnitOfWork,
    before: Flag | None,
    after: Flag,
    environments: list[Environment],
    env_keys: list[str],
) -> dict[str, dict[str, Any]]:
    """With ``as_requests``: in each imported environment where the change needs approval the actor may
    not bypass, take the imported configuration out of ``after`` (keeping the stored one, or for a new
    flag an off one with the imported salt and version) and return it (environment key -> the
    ``replaceFlagConfiguration`` configuration) to be proposed in an approval request instead."""
    if not session.options.as_requests:
        return {}
    required = approval_required_in(uow, after, environments)
    proposals: dict[str, dict[str, Any]] = {}
    for env in environments:
        if env.key not in env_keys or env.key not in required or can_bypass_approval(session.actor, after, env):
            continue
        imported = after.environments[env.key]
        if before is None:
            if pristine(after, imported):
                continue
            kept = new_config(
                after.defaults, now=session.deps.clock.now_ms(), track_events=env.default_track_events, version=1
            )
            kept["salt"], kept["version"], kept["archived"] = (
                imported["salt"],
                imported["version"],
                imported["archived"],
            )
        else:
            kept = copy.deepcopy(before.environments[env.key])
            if same_json(configuration_of(kept), configuration_of(imported)):
                continue
        proposals[env.key] = configuration_of(imported)
        after.environments[env.key] = kept
    return proposals


def _request(
    session: Session, uow: UnitOfWork, flag: Flag, environments: list[Environment], proposals: dict[str, Any]
) -> None:
    """The approval requests of ``proposals`` on ``flag`` as stored (in a dry run, only planned)."""
    for env in environments:
        if env.key not in proposals:
            continue
        request_id = None
        if not session.options.dry_run:
            description = f"Import flag {flag.key} into {env.name} (from {session.source})"
            request = add_import_request(
                uow,
                session.deps,
                session.actor,
                env=env,
                flag=flag,
                description=description,
                configuration=proposals[env.key],
            )
            request_id = request.id
        session.pending.append(Requested(f"flags/{flag.key}", env.key, request_id))


def _requested_detail(proposals: Collection[str], dry_run: bool) -> str:
    if not proposals:
        return ""
    verb = "would request" if dry_run else "requested"
    return f"; approval {verb} in {', '.join(proposals)}"


def _versions(flag: Flag, env_keys: list[str]) -> str:
    return ", ".join(f"{k}: version {flag.environments[k]['version']}" for k in env_keys)


def pristine(flag: Flag, config: FlagConfig) -> bool:
    """A configuration nobody has changed since the flag was created (off, no targeting, serving the
    flag's defaults): importing into it loses nothing, so it needs no ``update``."""
    return (
        not config["on"]
        and not config["targets"]
        and not config["contextTargets"]
        and not config["rules"]
        and not config["prerequisites"]
        and config["fallthrough"] == {"variation": flag.defaults.on_variation}
        and config["offVariation"] == flag.defaults.off_variation
    )


_METADATA = (
    *("name", "description", "tags", "temporary", "custom_properties", "maintainer_id", "defaults"),
    *("maintainer_team_key", "deprecated", "deprecated_date", "archived", "archived_date"),
)


def _update_flag(
    session: Session, uow: UnitOfWork, existing: Flag, imported: Flag, environments: list[Environment]
) -> tuple[Outcome, str]:
    deps, actor = session.deps, session.actor
    env_keys = list(imported.environments)
    after = existing.clone()
    same_variations = [v["value"] for v in existing.variations] == [v["value"] for v in imported.variations]
    if not same_variations:
        after.variations = copy.deepcopy(imported.variations)
        after.kind = imported.kind
    after.client_side_availability = imported.client_side_availability
    if session.with_metadata:
        for name in _METADATA:
            setattr(after, name, copy.deepcopy(getattr(imported, name)))
    fillable = same_variations
    for env_key in env_keys:
        current = existing.environments[env_key]
        config = copy.deepcopy(imported.environments[env_key])
        config["sel"] = current["sel"]
        config["archived"] = after.archived
        config["version"] = max(config["version"], current["version"] + 1) - 1  # stamping adds 1
        after.environments[env_key] = config
        fillable = fillable and pristine(existing, current)
    if _same_flag(existing, after, env_keys) and all(
        same_json(getattr(existing, n), getattr(after, n)) for n in _METADATA if session.with_metadata
    ):
        session.flags[existing.key] = existing
        return Outcome.UNCHANGED, ""
    if not session.options.update and not fillable:
        where = ", ".join(env_keys)
        raise Conflict(f"flag '{existing.key}' exists and differs (in {where}); --update replaces it")
    validate_flag(after, _flag_context(session, uow, after), environments=env_keys)
    proposals = _propose(session, uow, existing, after, environments, env_keys)
    if (
        proposals
        and _same_flag(existing, after, env_keys)
        and all(same_json(getattr(existing, n), getattr(after, n)) for n in _METADATA if session.with_metadata)
    ):
        session.flags[existing.key] = existing
        _request(session, uow, existing, environments, proposals)
        return Outcome.REQUESTED, _requested_detail(proposals, session.options.dry_run).removeprefix("; ")
    change = describe_changes(existing, after)
    session.flags[existing.key] = after
    committed = commit_flag_change(
        uow,
        deps.clock,
        actor,
        before=existing,
        change=change,
        comment=IMPORT_COMMENT,
        persist=not session.options.dry_run,
        delta=_delta(session),
    )
    _request(session, uow, committed, environments, proposals)
    return Outcome.UPDATE, _versions(committed, env_keys) + _requested_detail(proposals, session.options.dry_run)


def _same_flag(a: Flag, b: Flag, env_keys: list[str]) -> bool:
    for env_key in env_keys:
        left, right = flag_item(a, env_key), flag_item(b, env_key)
        left.pop("version"), right.pop("version")
        if not same_json(left, right):
            return False
    return True
