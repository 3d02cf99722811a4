"""Flag statuses from summary events: tallies, and LaunchDarkly's four status names."""

from __future__ import annotations

from typing import Any

from flagward.domain.flag_statuses import (
    DAY_MS,
    DEFAULT_VARIATION,
    WINDOW_MS,
    FlagUsage,
    StatusName,
    status_of,
    tallies_from_summary,
)
from flagward.domain.flags import Defaults, Flag, new_config
from flagward.services.flag_statuses import EvaluationRecorder

NOW = 1_800_000_000_000


def _flag(created: int, **config: Any) -> Flag:
    flag = Flag(
        id="f" * 24,
        project_key="p",
        key="f",
        name="F",
        kind="boolean",
        variations=[{"_id": "t", "value": True}, {"_id": "f", "value": False}],
        creation_date=created,
        defaults=Defaults(0, 1),
    )
    flag.environments["prod"] = {**new_config(flag.defaults, now=created), **config}  # type: ignore[typeddict-item]
    return flag


def _summary(end: int, counters: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "kind": "summary",
        "startDate": end - 10,
        "endDate": end,
        "features": {"f": {"default": "d", "counters": counters}},
    }


def test_summary_events_are_tallied_by_day_and_variation() -> None:
    (tally,) = tallies_from_summary(
        "env", _summary(NOW, [{"count": 2, "variation": 1, "value": False}, {"count": 3, "value": "d"}])
    )
    assert (tally.environment_id, tally.flag_key, tally.last_requested) == ("env", "f", NOW)
    assert tally.counts == {(NOW // DAY_MS, 1): 2, (NOW // DAY_MS, DEFAULT_VARIATION): 3}
    assert tally.default == "d" and tally.has_default


def test_other_events_and_malformed_ones_are_ignored() -> None:
    assert tallies_from_summary("env", {"kind": "feature", "key": "f"}) == []
    assert tallies_from_summary("env", {"kind": "summary", "endDate": "yesterday", "features": {}}) == []
    (tally,) = tallies_from_summary("env", _summary(NOW, [{"count": "many"}, "junk", {"count": 1, "variation": True}]))
    assert tally.counts == {(NOW // DAY_MS, DEFAULT_VARIATION): 1}


def test_the_recorder_merges_and_can_put_back_what_it_drained() -> None:
    recorder = EvaluationRecorder()
    recorder.record("env", [_summary(NOW - 5, [{"count": 1, "variation": 0}])])
    recorder.record("env", [_summary(NOW, [{"count": 2, "variation": 0}])])
    (tally,) = recorder.drain()
    assert tally.last_requested == NOW and sum(tally.counts.values()) == 3
    assert recorder.drain() == []
    recorder.restore([tally])
    assert recorder.drain() == [tally]


def test_never_requested_flags_are_new_for_seven_days_then_inactive() -> None:
    assert status_of(_flag(NOW - DAY_MS), "prod", None, now=NOW).name is StatusName.NEW
    assert status_of(_flag(NOW - WINDOW_MS - 1), "prod", None, now=NOW).name is StatusName.INACTIVE


def test_not_requested_for_seven_days_is_inactive() -> None:
    usage = FlagUsage(last_requested=NOW - WINDOW_MS - 1)
    status = status_of(_flag(0), "prod", usage, now=NOW)
    assert status.name is StatusName.INACTIVE and status.last_requested == NOW - WINDOW_MS - 1


def test_launched_means_on_one_variation_and_unchanged_for_seven_days() -> None:
    old = NOW - WINDOW_MS - 1
    usage = FlagUsage(last_requested=NOW, counts={0: 10})
    assert status_of(_flag(old, on=True, lastModified=old), "prod", usage, now=NOW).name is StatusName.LAUNCHED
    # Off, recently changed, or able to serve another variation: active.
    assert status_of(_flag(old, on=False, lastModified=old), "prod", usage, now=NOW).name is StatusName.ACTIVE
    assert status_of(_flag(old, on=True, lastModified=NOW - DAY_MS), "prod", usage, now=NOW).name is StatusName.ACTIVE
    rule = {"_id": "r", "clauses": [], "trackEvents": False, "variation": 1}
    assert (
        status_of(_flag(old, on=True, lastModified=old, rules=[rule]), "prod", usage, now=NOW).name is StatusName.ACTIVE
    )
    # SDKs saw another variation served in the window: active.
    mixed = FlagUsage(last_requested=NOW, counts={0: 10, 1: 1})
    assert status_of(_flag(old, on=True, lastModified=old), "prod", mixed, now=NOW).name is StatusName.ACTIVE
