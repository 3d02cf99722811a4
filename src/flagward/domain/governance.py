"""The rules every flag change obeys, whatever route it came from: the approval gate and versioning.

The gate judges effects, not routes. A change by someone without the bypass right is refused when it
would change what an SDK is served in an environment that requires approval for the flag, judged with
the flag's tags before and after the change (and the tags of the flags that use it as a prerequisite
there). "What is served" is the flag's SDK representation in that environment (``sdk_items.flag_item``,
the item ``/sdk/latest-all`` carries) without its version and dates, and its absence counts: deleting,
archiving, restoring and recreating are changes like any other. Every flag write path (create, patch of
any kind, copy, delete, approval apply, scheduled execution) calls ``check_approval_gate``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from copy import deepcopy
from dataclasses import dataclass, replace

from flagward.domain.audit import AuditAction
from flagward.domain.changes import describe_changes, same_json
from flagward.domain.errors import ApprovalRequired
from flagward.domain.flags import Flag
from flagward.domain.projects import Environment
from flagward.domain.sdk_items import SdkItem, flag_item

# Parts of an SDK item that say when, not what: they never make an SDK evaluate differently.
_NOT_SERVED = ("version", "debugEventsUntilDate", "lastModified")
# Targeting a new flag may not have where approval is required: it is created off, serving its off
# variation to everyone.
_TARGETING = ("targets", "contextTargets", "rules", "prerequisites")
# When a gated change is refused, the action named in the message: the first of these the change made.
_SDK_FLAG_ACTIONS = (
    AuditAction.UPDATE_VARIATIONS.value,
    AuditAction.UPDATE_CLIENT_SIDE_AVAILABILITY.value,
    AuditAction.ARCHIVE_FLAG.value,
)


@dataclass(frozen=True)
class PreApproved:
    """A change approved before it was made: a flag trigger's action (``domain.triggers``), turning the
    flag on (``on``) or off in ``environment_key``. It lets through, in that environment only, a change
    that does exactly that and nothing else; every other effect is judged as usual. ``by`` names it."""

    environment_key: str
    on: bool
    by: str


def _only_pre_approved(before: Flag, after: Flag, env_key: str, pre_approved: PreApproved) -> bool:
    """Whether ``before`` -> ``after`` does in ``env_key`` only what ``pre_approved`` allows there."""
    if env_key != pre_approved.environment_key or env_key not in before.environments:
        return False
    if sorted(before.tags) != sorted(after.tags):
        return False
    toggled = replace(before, environments=deepcopy(before.environments))
    toggled.environments[env_key]["on"] = pre_approved.on
    return same_json(_judged(toggled, env_key), _judged(after, env_key))


def served(flag: Flag | None, env_key: str) -> SdkItem | None:
    """What SDKs are served for ``flag`` in ``env_key``, versions and dates aside; None when they are
    served nothing (no flag, no configuration there, deleted or archived: a tombstone)."""
    if flag is None or env_key not in flag.environments:
        return None
    item = flag_item(flag, env_key)
    if item.get("deleted"):
        return None
    return {k: v for k, v in item.items() if k not in _NOT_SERVED}


def _judged(flag: Flag | None, env_key: str) -> SdkItem | None:
    """What the gate compares: what is served, and for an archived flag also what it would serve once
    restored (a change made while it is archived would otherwise take effect with an approved restore
    that does not show it)."""
    if flag is None or env_key not in flag.environments:
        return None
    latent = served(replace(flag, archived=False), env_key)
    return {**(latent or {}), "archived": flag.archived}


def is_plain_off(item: SdkItem | None) -> bool:
    """Off, without targets, rules or prerequisites: what a new flag is until someone targets it."""
    return item is None or (item["on"] is False and not any(item[name] for name in _TARGETING))


def requires_approval(env: Environment, tags: Iterable[str]) -> bool:
    return env.approval_settings.applies_to(sorted(set(tags)))


def environments_requiring_approval(
    environment_keys: list[str], environments: Mapping[str, Environment], tags: set[str]
) -> list[str]:
    return [key for key in environment_keys if key in environments and requires_approval(environments[key], tags)]


def check_approval_gate(
    before: Flag | None,
    after: Flag | None,
    environments: Iterable[Environment],
    *,
    can_bypass: bool | Callable[[Environment], bool],
    approved_environment: str | None = None,
    dependent_tags: Mapping[str, Collection[str]] | None = None,
    pre_approved: PreApproved | None = None,
) -> None:
    """Refuse a change from ``before`` to ``after`` (None: the flag does not exist) that needs approval.

    In each environment that requires approval for the flag, judged with its tags before and after the
    change and ``dependent_tags[env]`` (the tags of the flags that use it as a prerequisite there, for a
    change to the flag changes what they evaluate to), the change may not:
    - change what SDKs are served (a creation may add the flag only off and without targeting);
    - remove the tags that make the environment require approval (it would end the requirement).
    ``approved_environment`` is the environment whose approval request is being applied: its approval
    covers that environment, not others. ``pre_approved`` (a flag trigger firing) covers the one change
    it names in its environment, and nothing else. Those who may bypass (``can_bypass``: for every
    environment, or per environment) are never refused. Raises ApprovalRequired (405, LaunchDarkly's message).
    """
    if can_bypass is True:
        return
    for env in environments:
        if env.key == approved_environment:
            continue
        if pre_approved and before and after and _only_pre_approved(before, after, env.key, pre_approved):
            continue
        extra = list((dependent_tags or {}).get(env.key, ()))
        required_before = before is not None and requires_approval(env, [*before.tags, *extra])
        required_after = after is not None and requires_approval(env, [*after.tags, *extra])
        if not (required_before or required_after):
            continue
        old, new = _judged(before, env.key), _judged(after, env.key)
        if before is None:
            refused = not is_plain_off(served(after, env.key))
        else:
            ends_requirement = after is not None and required_before and not required_after
            refused = not same_json(old, new) or ends_requirement
        if refused and not (callable(can_bypass) and can_bypass(env)):
            action = _action(before, after, env.key, sdk_changed=not same_json(old, new))
            raise ApprovalRequired(f"Flag configuration updates require approval: action '{action}' not allowed")


def _action(before: Flag | None, after: Flag | None, env_key: str, *, sdk_changed: bool) -> str:
    """The action to name in the refusal: the one that changed what is served there, if one can tell."""
    if after is None:
        return AuditAction.DELETE_FLAG.value
    if before is None:
        return AuditAction.CREATE_FLAG.value
    if not sdk_changed:
        return AuditAction.UPDATE_TAGS.value
    change = describe_changes(before, after)
    relevant = [a for a in _SDK_FLAG_ACTIONS if a in change.flag_actions]
    return (relevant or change.environment_actions.get(env_key) or change.flag_actions or ["updateFlag"])[0]


def prerequisite_dependents(flags: Iterable[Flag], key: str) -> dict[str, set[str]]:
    """For each environment, the tags of the flags that use ``key`` as a prerequisite there, directly or
    through other prerequisites: changing ``key`` changes what they evaluate to."""
    by_env: dict[str, dict[str, list[Flag]]] = {}
    for flag in flags:
        for env_key, config in flag.environments.items():
            for prerequisite in config["prerequisites"]:
                by_env.setdefault(env_key, {}).setdefault(prerequisite["key"], []).append(flag)
    result: dict[str, set[str]] = {}
    for env_key, users in by_env.items():
        seen: set[str] = {key}
        pending = [key]
        tags: set[str] = set()
        while pending:
            for user in users.get(pending.pop(), []):
                if user.key not in seen:
                    seen.add(user.key)
                    pending.append(user.key)
                    tags.update(user.tags)
        if tags:
            result[env_key] = tags
    return result


def stamp_versions(flag: Flag, environment_keys: list[str], *, now: int, changed: bool) -> None:
    """Each changed environment configuration gets ``version + 1`` and ``lastModified``; any change at
    all gets the flag's ``_version + 1``."""
    for key in environment_keys:
        config = flag.environments[key]
        config["version"] += 1
        config["lastModified"] = now
    if changed:
        flag.version += 1
