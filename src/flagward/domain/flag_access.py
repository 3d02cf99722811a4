"""What a flag write must be allowed to do, judged by its effect (as the approval gate judges it).

A write from ``before`` to ``after`` (None: the flag does not exist) is the LaunchDarkly role actions it
performs: ``createFlag`` / ``deleteFlag`` for a creation / deletion, else the actions ``describe_changes``
finds — environment-level ones (``updateOn``, ``updateRules``, ``updateTargets``, …) on the flag in each
environment whose configuration changed, project-level ones (``updateName``, ``updateTags``,
``updateFlagVariations``, ``updateGlobalArchived``, …) on the flag in any environment (``env/*``).

Each action is asked on the flag with its tags before *and* after the change, so changing a flag's tags
can neither carry it out of a deny nor into someone's reach (a role for flags tagged ``payments`` cannot
tag another team's flag ``payments`` and then own it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from flagward.domain import resources
from flagward.domain.changes import describe_changes
from flagward.domain.flags import Flag
from flagward.domain.projects import Environment

CREATE_FLAG = "createFlag"
DELETE_FLAG = "deleteFlag"


@dataclass(frozen=True)
class FlagWriteActions:
    """The actions of one flag write: per environment key, and project-level."""

    environment_actions: dict[str, list[str]] = field(default_factory=dict)
    flag_actions: list[str] = field(default_factory=list)


def flag_write_actions(before: Flag | None, after: Flag | None) -> FlagWriteActions:
    """The LaunchDarkly role actions that turn ``before`` into ``after`` (pure; neither is modified)."""
    if before is None and after is None:
        return FlagWriteActions()
    if before is None:
        return FlagWriteActions(flag_actions=[CREATE_FLAG])
    if after is None:
        return FlagWriteActions(flag_actions=[DELETE_FLAG])
    change = describe_changes(before, after)
    return FlagWriteActions(dict(change.environment_actions), list(change.flag_actions))


def flag_write_accesses(
    before: Flag | None, after: Flag | None, environments: Iterable[Environment]
) -> list[tuple[str, str]]:
    """``(action, resource)`` pairs a write must be allowed, resources carrying the flag's tags (before
    and after) and each environment's key and tags. Deterministic order, no duplicates."""
    subject = before or after
    if subject is None:
        return []
    by_key: Mapping[str, Environment] = {env.key: env for env in environments}
    tag_sets = [list(f.tags) for f in (before, after) if f is not None]
    found = flag_write_actions(before, after)
    accesses: list[tuple[str, str]] = []
    for env_key, actions in found.environment_actions.items():
        env_tags = by_key[env_key].tags if env_key in by_key else []
        for action in actions:
            for tags in tag_sets:
                accesses.append(
                    (action, resources.flag(subject.project_key, subject.key, tags, env_key=env_key, env_tags=env_tags))
                )
    for action in found.flag_actions:
        for tags in tag_sets:
            accesses.append((action, resources.flag(subject.project_key, subject.key, tags)))
    return list(dict.fromkeys(accesses))
