"""Scheduled changes: a flag's semantic-patch instructions for one environment, executed by the server
at ``executionDate`` (LaunchDarkly's ``FeatureFlagScheduledChange``).

Decisions (where LaunchDarkly documents only intent):

- The instructions are the flag's environment and project instructions (``domain.instructions``); they
  must apply to the flag as it is when the change is created or replaced (LaunchDarkly validates them
  then too). ``executionDate`` must be in the future.
- A change is ``pending`` until the scheduler runs it once: then it is ``completed``, or ``failed`` with
  the reason when its instructions no longer apply (it stays readable, with the reason in ``conflicts``).
- ``approved``: the change may execute where the environment requires approval. It is set when the
  change was created (or last edited) through an approved approval request, or directly by someone
  allowed to bypass the approval there: that approval covers its execution. A change made where no
  approval was required is not approved; if the environment requires approval by its date, executing
  it fails like any unapproved change would.
- Conflicts (``conflicts``): replaying the pending changes of the flag and environment in execution
  order on the current flag, an instruction that fails (a direct change or an earlier scheduled change
  made it inapplicable) or that touches the same part of the configuration as an earlier pending change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from flagward.domain.conflicts import describe_part, parts_overlap, replay
from flagward.domain.errors import InvalidRequest
from flagward.domain.flags import Flag
from flagward.domain.ids import new_object_id
from flagward.domain.json_values import INT64_MAX

# The instructions of LaunchDarkly's scheduled-change PATCH, and of an approval request that acts on a
# scheduled change (``operatingOnId``). ``addScheduledChanges`` creates one from an approval request.
ADD = "addScheduledChanges"
REPLACE = "replaceScheduledChangesInstructions"
RESCHEDULE = "updateScheduledChangesExecutionDate"
DELETE_KINDS = frozenset({"deleteScheduledChange", "deleteScheduledChanges"})
EDIT_KINDS = frozenset({REPLACE, RESCHEDULE, *DELETE_KINDS})
KINDS = frozenset({ADD, *EDIT_KINDS})


class ScheduleStatus(StrEnum):
    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass
class ScheduledChange:
    id: str
    project_key: str
    environment_key: str
    flag_key: str
    creation_date: int
    execution_date: int
    instructions: list[dict[str, Any]]
    maintainer_id: str | None = None
    maintainer_token_id: str | None = None
    comment: str | None = None
    approved: bool = False
    approval_request_id: str | None = None
    status: ScheduleStatus = ScheduleStatus.PENDING
    failure_reason: str | None = None
    executed_date: int | None = None
    version: int = 1

    @property
    def is_pending(self) -> bool:
        return self.status is ScheduleStatus.PENDING


def check_execution_date(value: object, *, now: int) -> int:
    """An int64 in ms, in the future. Raises InvalidRequest."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidRequest("executionDate must be a timestamp in milliseconds")
    if value <= now:
        raise InvalidRequest("executionDate must be in the future")
    if value > INT64_MAX:
        raise InvalidRequest("executionDate must be a 64-bit timestamp in milliseconds")
    return value


def check_instructions(value: object) -> list[dict[str, Any]]:
    """A non-empty list of instruction objects, none of them about scheduled changes themselves."""
    if not isinstance(value, list) or not value or not all(isinstance(i, dict) for i in value):
        raise InvalidRequest("instructions must be a non-empty list of instruction objects")
    for index, instruction in enumerate(value):
        if instruction.get("kind") in KINDS or instruction.get("kind") == "deleteFlag":
            raise InvalidRequest(f"instruction {index}: '{instruction.get('kind')}' cannot be scheduled")
    return value


def new_scheduled_change(**fields: Any) -> ScheduledChange:
    return ScheduledChange(id=new_object_id(), **fields)


@dataclass(frozen=True)
class Edit:
    """What a PATCH (or an approval request with ``operatingOnId``) does to a scheduled change."""

    instructions: list[dict[str, Any]] | None = None
    execution_date: int | None = None
    delete: bool = False


def parse_edit(instructions: object, *, now: int) -> Edit:
    """LaunchDarkly's ``replaceScheduledChangesInstructions`` {value: instructions},
    ``updateScheduledChangesExecutionDate`` {value: ms} and ``deleteScheduledChange``. Deleting comes
    alone. Raises InvalidRequest."""
    if not isinstance(instructions, list) or not instructions:
        raise InvalidRequest("instructions must be a non-empty list")
    replaced: list[dict[str, Any]] | None = None
    date: int | None = None
    for index, instruction in enumerate(instructions):
        kind = instruction.get("kind") if isinstance(instruction, dict) else None
        if kind in DELETE_KINDS:
            if len(instructions) > 1:
                raise InvalidRequest(f"instruction {index}: {kind} must be the only instruction")
            return Edit(delete=True)
        if not isinstance(instruction, dict) or kind not in (REPLACE, RESCHEDULE):
            raise InvalidRequest(
                f"instruction {index}: unknown kind '{kind}'; use {REPLACE}, {RESCHEDULE} or deleteScheduledChange"
            )
        if kind == REPLACE:
            replaced = check_instructions(instruction.get("value"))
        else:
            date = check_execution_date(instruction.get("value"), now=now)
    return Edit(instructions=replaced, execution_date=date)


def apply_edit(change: ScheduledChange, edit: Edit) -> bool:
    """Apply ``edit`` (not a delete) to a pending change; whether anything changed. Raises InvalidRequest."""
    if not change.is_pending:
        raise InvalidRequest(f"This scheduled change is {change.status} and can no longer be changed")
    changed = False
    if edit.instructions is not None and edit.instructions != change.instructions:
        change.instructions, changed = edit.instructions, True
    if edit.execution_date is not None and edit.execution_date != change.execution_date:
        change.execution_date, changed = edit.execution_date, True
    if changed:
        change.version += 1
    return changed


def execution_order(changes: list[ScheduledChange]) -> list[ScheduledChange]:
    return sorted((c for c in changes if c.is_pending), key=lambda c: (c.execution_date, c.creation_date, c.id))


Step = Callable[[Flag, dict[str, Any]], tuple[Flag, bool]]


def find_conflicts(flag: Flag, changes: list[ScheduledChange], step: Step) -> dict[str, list[dict[str, Any]]]:
    """Each pending change's conflicts, replaying them all in execution order on ``flag``:
    ``{"_id": the earlier change it overlaps (or absent), "instruction", "reason"}``."""
    result: dict[str, list[dict[str, Any]]] = {}
    current = flag
    earlier: list[tuple[ScheduledChange, list[str]]] = []
    for change in execution_order(changes):
        replayed = replay(current, change.instructions, step)
        found = [{"instruction": c.instruction, "reason": c.reason} for c in replayed.conflicts]
        for instruction, part in replayed.touched:
            for other, parts in earlier:
                if any(parts_overlap(part, p) for p in parts):
                    found.append(
                        {
                            "_id": other.id,
                            "instruction": instruction,
                            "reason": f"Scheduled change {other.id} executes earlier and also changes "
                            f"{describe_part(part)}",
                        }
                    )
                    break
        result[change.id] = found
        earlier.append((change, [p for _, p in replayed.touched]))
        current = replayed.result
    return result


def failed_conflicts(change: ScheduledChange) -> list[dict[str, Any]]:
    """A failed change reads with its reason as its one conflict."""
    return [{"reason": change.failure_reason or "failed"}] if change.status is ScheduleStatus.FAILED else []


@dataclass
class ConflictReport:
    """Conflicts a new or edited change would bring: its own, and those it adds to other changes."""

    own: list[dict[str, Any]] = field(default_factory=list)
    others: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def message(self) -> str | None:
        reasons = [c["reason"] for c in self.own] + [
            f"scheduled change {i}: {c['reason']}" for i, cs in self.others.items() for c in cs
        ]
        if not reasons:
            return None
        return (
            "The scheduled change conflicts with other changes of this flag: "
            + "; ".join(reasons)
            + ". Pass ignoreConflicts=true to schedule it anyway."
        )


def new_conflicts(flag: Flag, pending: list[ScheduledChange], candidate: ScheduledChange, step: Step) -> ConflictReport:
    """What ``candidate`` (new, or an edited version of one of ``pending``) adds to the conflicts."""
    others = [c for c in pending if c.id != candidate.id]
    before = find_conflicts(flag, others, step)
    after = find_conflicts(flag, [*others, candidate], step)
    report = ConflictReport(own=after.get(candidate.id, []))
    for change_id, conflicts in after.items():
        if change_id == candidate.id:
            continue
        added = [c for c in conflicts if c not in before.get(change_id, [])]
        if added:
            report.others[change_id] = added
    return report
