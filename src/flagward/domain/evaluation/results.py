"""What an evaluation returns: :class:`EvaluationDetail`, with :class:`PrerequisiteEvaluation` records.

Most results are built once, when a flag is compiled (see :mod:`.plans`), and handed out as they are to
every evaluation that ends the same way; so are their ``reason`` dicts. Results and reasons are therefore
shared and must be treated as read-only by callers (nothing in flagward writes to them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, NamedTuple

if TYPE_CHECKING:
    from .model import CompiledFlag

__all__ = ["MALFORMED_REASON", "EvaluationDetail", "PrerequisiteEvaluation", "error_reason"]


class PrerequisiteEvaluation(NamedTuple):
    """One prerequisite flag evaluated on the way (what an SDK emits as a feature event with ``prereqOf``).

    Listed in evaluation order: a prerequisite's own prerequisites come before it.
    """

    flag_key: str
    prerequisite_of: str
    variation_index: int | None
    value: Any
    version: int
    reason: dict[str, Any]
    track_events: bool
    track_reason: bool
    flag: CompiledFlag


class EvaluationDetail(NamedTuple):
    """The outcome of one flag evaluation.

    ``reason`` is LaunchDarkly's reason dict (``inExperiment`` present only when true). ``track_reason`` is
    true when the result is in an experiment or comes from a rule/fallthrough with event tracking on;
    ``track_events`` adds the flag's own ``trackEvents``. These are the evalx ``trackReason`` and
    ``trackEvents``. ``prerequisite_keys`` are the keys of the flag's direct prerequisites that were
    evaluated (the evalx ``prerequisites`` field); ``prerequisites`` are all prerequisite evaluations.

    Results may be shared between evaluations (see the module docstring): never mutate ``reason``.
    """

    value: Any
    variation_index: int | None
    reason: dict[str, Any]
    prerequisites: tuple[PrerequisiteEvaluation, ...] = ()
    prerequisite_keys: tuple[str, ...] = ()
    track_events: bool = False
    track_reason: bool = False

    @property
    def is_default_value(self) -> bool:
        """True when there is no variation, so the caller's default value applies."""
        return self.variation_index is None


def error_reason(kind: str) -> dict[str, Any]:
    """A fresh ``ERROR`` reason."""
    return {"kind": "ERROR", "errorKind": kind}


# Shared by every prebuilt result that cannot serve its variation.
MALFORMED_REASON: Final = error_reason("MALFORMED_FLAG")
