"""Flag statuses from summary events: tallies, and LaunchDarkly's four status names."""

from __future__ import annotations

import math
from typing import Any

import pytest

from flagward.domain.flag_statuses import (
    DAY_MS,
    DEFAULT_VARIATION,
    WINDOW_MS,
    FlagUsage,
    MalformedEvent,
    StatusName,
    status_of,
    tallies_from_events,
    tallies_from_summary,
)
from flagward.domain.flags import Defaults, Flag, new_config
from flagward.domain.json_values import INT64_MAX
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


def test_other_events_are_ignored_and_malformed_summaries_refused_whole() -> None:
    assert tallies_from_summary("env", {"kind": "feature", "key": "f"}) == []
    for junk in ([{"count": "many"}], ["junk"], [{"count": 1, "variation": True}], [{"count": -1}]):
        with pytest.raises(MalformedEvent):
            tallies_from_summary("env", _summary(NOW, junk))
    with pytest.raises(MalformedEvent):
        tallies_from_summary("env", {"kind": "summary", "endDate": "yesterday", "features": {}})


def _bad_summaries() -> list[object]:
    """Each one made every later flush fail before (issue 8 §2), or carries what the stores cannot keep."""
    huge = _summary(NOW, [{"count": 10**20, "variation": 0}])
    long_key = {**_summary(NOW, []), "features": {"k" * 300: {"counters": [{"count": 1}]}}}
    nul_key = {**_summary(NOW, []), "features": {"a\x00b": {"counters": [{"count": 1}]}}}
    nan_default = {**_summary(NOW, []), "features": {"f": {"default": math.nan, "counters": [{"count": 1}]}}}
    far_future = _summary(2**62, [{"count": 1}])
    wide_variation = _summary(NOW, [{"count": 1, "variation": 2**40}])
    deep = {**_summary(NOW, []), "features": {"f": {"default": _nested(100), "counters": []}}}
    return [huge, long_key, nul_key, nan_default, far_future, wide_variation, deep, "junk", 7, None]


def _nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


def test_each_malformed_event_is_dropped_and_counted_and_valid_ones_kept() -> None:
    good = _summary(NOW, [{"count": 2, "variation": 0}])
    tallies, dropped = tallies_from_events("env", [*_bad_summaries(), good, {"kind": "custom", "key": "x"}])
    assert dropped == len(_bad_summaries())
    assert [(t.flag_key, t.counts) for t in tallies] == [("f", {(NOW // DAY_MS, 0): 2})]
    recorder = EvaluationRecorder()
    assert recorder.record("env", [*_bad_summaries(), good]) == 1
    assert recorder.dropped == len(_bad_summaries())


def test_counts_saturate_at_the_stores_largest_integer() -> None:
    recorder = EvaluationRecorder()
    for _ in range(3):
        recorder.record("env", [_summary(NOW, [{"count": INT64_MAX, "variation": 0}])])
    (tally,) = recorder.drain()
    assert tally.counts == {(NOW // DAY_MS, 0): INT64_MAX}


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
