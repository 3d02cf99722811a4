"""The rules every flag change obeys, whatever route it came from: the approval gate and versioning."""

from __future__ import annotations

from collections.abc import Mapping

from flagward.domain.errors import ApprovalRequired
from flagward.domain.flags import Flag
from flagward.domain.projects import Environment


def environments_requiring_approval(
    environment_keys: list[str], environments: Mapping[str, Environment], tags: set[str]
) -> list[str]:
    return [
        key
        for key in environment_keys
        if key in environments and environments[key].approval_settings.applies_to(sorted(tags))
    ]


def check_approval_gate(
    environment_actions: Mapping[str, list[str]],
    environments: Mapping[str, Environment],
    *,
    tags: set[str],
    can_bypass: bool,
    approved: bool,
) -> None:
    """Refuse an environment-level change in an environment that requires approval, unless the actor
    may bypass approvals or the change is an approved request being applied.

    ``tags`` are the flag's tags before and after the change: removing a tag in the same request must not
    slip a change past the gate. Project-level changes (name, tags, maintainer, archive…) are not gated.
    Raises ApprovalRequired (405, LaunchDarkly's message).
    """
    if can_bypass or approved:
        return
    gated = environments_requiring_approval(list(environment_actions), environments, tags)
    if gated:
        action = environment_actions[gated[0]][0]
        raise ApprovalRequired(f"Flag configuration updates require approval: action '{action}' not allowed")


def stamp_versions(flag: Flag, environment_keys: list[str], *, now: int, changed: bool) -> None:
    """Each changed environment configuration gets ``version + 1`` and ``lastModified``; any change at
    all gets the flag's ``_version + 1``."""
    for key in environment_keys:
        config = flag.environments[key]
        config["version"] += 1
        config["lastModified"] = now
    if changed:
        flag.version += 1
