"""Environment-level switches: targeting on/off, the off variation, the fallthrough, event tracking."""

from __future__ import annotations

from flagward.domain.instructions.params import Handler, Step
from flagward.domain.instructions.rollouts import parse_serve, set_serve


def _turn_on(step: Step) -> None:
    step.config["on"] = True


def _turn_off(step: Step) -> None:
    step.config["on"] = False


def _update_off_variation(step: Step) -> None:
    step.config["offVariation"] = step.variation()


def _update_fallthrough(step: Step) -> None:
    set_serve(step.config["fallthrough"], parse_serve(step.flag, step.params))


def _update_track_events(step: Step) -> None:
    step.config["trackEvents"] = step.boolean("trackEvents")


def _update_track_events_fallthrough(step: Step) -> None:
    step.config["trackEventsFallthrough"] = step.boolean("trackEvents")


HANDLERS: dict[str, Handler] = {
    "turnFlagOn": _turn_on,
    "turnFlagOff": _turn_off,
    "updateOffVariation": _update_off_variation,
    "updateFallthroughVariationOrRollout": _update_fallthrough,
    "updateTrackEvents": _update_track_events,
    "updateTrackEventsFallthrough": _update_track_events_fallthrough,
}
