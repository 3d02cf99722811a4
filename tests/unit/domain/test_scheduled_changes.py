"""Scheduled changes in the domain: execution dates, LaunchDarkly's PATCH instructions, and conflicts
found by replaying a flag's pending changes in execution order."""

from __future__ import annotations

from typing import Any

import pytest

from flagward.domain import scheduled_changes as domain
from flagward.domain.describe import describe_instructions
from flagward.domain.errors import InvalidRequest
from flagward.domain.flags import Flag
from flagward.domain.instructions import apply_flag_instructions
from flagward.domain.scheduled_changes import ScheduledChange, ScheduleStatus
from tests.unit.domain.instructions.factories import NOW, make_context, make_flag


def _change(when: int, *instructions: dict[str, Any], created: int = NOW) -> ScheduledChange:
    return domain.new_scheduled_change(
        project_key="p",
        environment_key="production",
        flag_key="flag",
        creation_date=created,
        execution_date=when,
        instructions=list(instructions),
    )


def _step(flag: Flag) -> domain.Step:
    context = make_context(flag)

    def step(current: Flag, instruction: dict[str, Any]) -> tuple[Flag, bool]:
        change = apply_flag_instructions(current, [instruction], environment_key="production", context=context)
        return change.flag, change.changed

    return step


def test_the_execution_date_is_a_future_timestamp() -> None:
    assert domain.check_execution_date(NOW + 1, now=NOW) == NOW + 1
    for bad in (NOW, NOW - 1, 2**63, "soon", 1.5, True, None):
        with pytest.raises(InvalidRequest):
            domain.check_execution_date(bad, now=NOW)


def test_scheduled_instructions_are_flag_instructions_not_schedule_edits() -> None:
    with pytest.raises(InvalidRequest, match="cannot be scheduled"):
        domain.check_instructions([{"kind": "updateScheduledChangesExecutionDate", "value": NOW}])
    with pytest.raises(InvalidRequest, match="cannot be scheduled"):
        domain.check_instructions([{"kind": "deleteFlag"}])
    with pytest.raises(InvalidRequest):
        domain.check_instructions([])


def test_patch_instructions_reschedule_replace_or_delete_alone() -> None:
    edit = domain.parse_edit(
        [
            {"kind": "updateScheduledChangesExecutionDate", "value": NOW + 5},
            {"kind": "replaceScheduledChangesInstructions", "value": [{"kind": "turnFlagOff"}]},
        ],
        now=NOW,
    )
    assert (edit.execution_date, edit.instructions, edit.delete) == (NOW + 5, [{"kind": "turnFlagOff"}], False)
    assert domain.parse_edit([{"kind": "deleteScheduledChange"}], now=NOW).delete
    with pytest.raises(InvalidRequest, match="only instruction"):
        domain.parse_edit([{"kind": "deleteScheduledChange"}, {"kind": "turnFlagOn"}], now=NOW)
    with pytest.raises(InvalidRequest, match="unknown kind"):
        domain.parse_edit([{"kind": "turnFlagOn"}], now=NOW)


def test_an_edit_bumps_the_version_only_when_something_changes() -> None:
    change = _change(NOW + 10, {"kind": "turnFlagOn"})
    assert not domain.apply_edit(change, domain.Edit(execution_date=NOW + 10))
    assert domain.apply_edit(change, domain.Edit(execution_date=NOW + 20)) and change.version == 2
    change.status = ScheduleStatus.COMPLETED
    with pytest.raises(InvalidRequest, match="completed"):
        domain.apply_edit(change, domain.Edit(execution_date=NOW + 30))


def test_a_later_change_touching_the_same_part_conflicts_with_the_earlier_one() -> None:
    flag = make_flag()
    on, off = _change(NOW + 10, {"kind": "turnFlagOn"}), _change(NOW + 20, {"kind": "turnFlagOff"})
    conflicts = domain.find_conflicts(flag, [off, on], _step(flag))
    assert conflicts[on.id] == []
    assert [c["_id"] for c in conflicts[off.id]] == [on.id]
    report = domain.new_conflicts(flag, [on], off, _step(flag))
    assert report.own and report.message() is not None and "ignoreConflicts=true" in str(report.message())


def test_an_instruction_that_no_longer_applies_is_a_conflict_and_no_op_is_not() -> None:
    flag = make_flag()
    broken = _change(NOW + 10, {"kind": "removeClauses", "ruleId": "gone", "clauseIds": ["c"]})
    harmless = _change(NOW + 20, {"kind": "removeRule", "ruleId": "gone"})
    conflicts = domain.find_conflicts(flag, [broken, harmless], _step(flag))
    assert "No longer applies" in conflicts[broken.id][0]["reason"]
    assert conflicts[harmless.id] == []


def test_a_failed_change_reads_with_its_reason() -> None:
    change = _change(NOW + 10, {"kind": "turnFlagOn"})
    assert domain.failed_conflicts(change) == []
    change.status, change.failure_reason = ScheduleStatus.FAILED, "gone"
    assert domain.failed_conflicts(change) == [{"reason": "gone"}]


def test_requests_acting_on_scheduled_changes_read_in_words() -> None:
    flag = make_flag()
    add = {"kind": "addScheduledChanges", "executionDate": 0, "value": [{"kind": "turnFlagOn"}]}
    sentences = describe_instructions(
        [
            add,
            {"kind": "updateScheduledChangesExecutionDate", "value": 86_400_000},
            {"kind": "replaceScheduledChangesInstructions", "value": [{"kind": "turnFlagOff"}]},
            {"kind": "deleteScheduledChange"},
        ],
        flag,
        "production",
    )
    assert sentences == [
        "At 1970-01-01 00:00:00 UTC: Turn the flag on",
        "Move the scheduled change to 1970-01-02 00:00:00 UTC",
        "Make the scheduled change do instead: Turn the flag off",
        "Cancel the scheduled change",
    ]
