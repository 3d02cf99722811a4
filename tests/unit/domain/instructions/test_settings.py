"""On/off, the off variation, the fallthrough and event tracking."""

from __future__ import annotations

from tests.unit.domain.instructions.factories import apply, make_flag, refusal


def test_turning_a_flag_on_and_off() -> None:
    flag = make_flag()
    on = apply(flag, {"kind": "turnFlagOn"})
    assert on.environment_actions == {"production": ["updateOn"]}
    assert on.flag.environments["production"]["on"] is True
    assert on.flag.environments["test"]["on"] is False
    assert not apply(on.flag, {"kind": "turnFlagOn"}).changed
    assert apply(on.flag, {"kind": "turnFlagOff"}).flag.environments["production"]["on"] is False


def test_update_off_variation() -> None:
    change = apply(make_flag(), {"kind": "updateOffVariation", "variationId": "flag:v0"})
    assert change.flag.environments["production"]["offVariation"] == 0
    assert change.environment_actions == {"production": ["updateOffVariation"]}
    assert refusal(make_flag(), {"kind": "updateOffVariation"}).reason == "variationId is required"


def test_update_fallthrough_to_a_rollout_and_back() -> None:
    flag = make_flag(values=["a", "b", "c"])
    rollout = apply(
        flag,
        {
            "kind": "updateFallthroughVariationOrRollout",
            "rolloutWeights": {"flag:v2": 50000, "flag:v0": 50000},
            "rolloutContextKind": "org",
        },
    )
    fallthrough = rollout.flag.environments["production"]["fallthrough"]
    assert fallthrough == {
        "rollout": {
            "variations": [{"variation": 0, "weight": 50000}, {"variation": 2, "weight": 50000}],
            "contextKind": "org",
        }
    }
    assert rollout.environment_actions == {"production": ["updateFallthrough"]}
    back = apply(rollout.flag, {"kind": "updateFallthroughVariationOrRollout", "variationId": "flag:v1"})
    assert back.flag.environments["production"]["fallthrough"] == {"variation": 1}


def test_update_fallthrough_to_what_it_serves_is_a_no_op() -> None:
    assert not apply(make_flag(), {"kind": "updateFallthroughVariationOrRollout", "variationId": "flag:v0"}).changed


def test_track_events() -> None:
    change = apply(
        make_flag(),
        {"kind": "updateTrackEvents", "trackEvents": True},
        {"kind": "updateTrackEventsFallthrough", "trackEvents": True},
    )
    config = change.flag.environments["production"]
    assert (config["trackEvents"], config["trackEventsFallthrough"]) == (True, True)
    assert change.environment_actions == {"production": ["updateTrackEvents", "updateFlagFallthroughTrackEvents"]}
    reason = refusal(make_flag(), {"kind": "updateTrackEvents", "trackEvents": "true"}).reason
    assert reason == "trackEvents must be true or false"
