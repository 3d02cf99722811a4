"""Applying a semantic patch to a flag: all instructions or none, on a clone."""

from __future__ import annotations

import copy
from collections.abc import Sequence

from flagward.domain.changes import FlagChange, describe_changes
from flagward.domain.errors import InstructionError, InvalidRequest
from flagward.domain.flag_validation import validate_flag
from flagward.domain.flags import Flag
from flagward.domain.instructions import (
    configuration,
    flag_level,
    prerequisites,
    rules,
    settings,
    targets,
    variations,
)
from flagward.domain.instructions.context import FlagChangeContext
from flagward.domain.instructions.params import Handler, Step

_ENVIRONMENT_HANDLERS: dict[str, Handler] = {
    **settings.HANDLERS,
    **targets.HANDLERS,
    **rules.HANDLERS,
    **prerequisites.HANDLERS,
}
_PROJECT_HANDLERS: dict[str, Handler] = {**variations.HANDLERS, **flag_level.HANDLERS}

ENVIRONMENT_INSTRUCTIONS = frozenset(_ENVIRONMENT_HANDLERS)
"""Instruction kinds that change one environment's configuration (they need ``environmentKey``)."""
PROJECT_INSTRUCTIONS = frozenset(_PROJECT_HANDLERS)
"""Instruction kinds that change the flag in every environment (they ignore ``environmentKey``)."""
_OWN_HANDLERS: dict[str, Handler] = {**configuration.HANDLERS}
FLAGWARD_INSTRUCTIONS = frozenset(_OWN_HANDLERS)
"""flagward's own environment-level kinds (``replaceFlagConfiguration``: an import proposed for approval)."""

_ELSEWHERE = {"deleteFlag": "delete the flag with DELETE /api/v2/flags/{projectKey}/{featureFlagKey}"}


def apply_flag_instructions(
    flag: Flag, instructions: Sequence[object], *, environment_key: str | None, context: FlagChangeContext
) -> FlagChange:
    """Apply ``instructions`` in order to a clone of ``flag``; ``flag`` itself is never modified.

    Instructions already satisfied are no-ops, so a request of only no-ops returns ``changed == False``.
    Versions and ``lastModified`` are left alone: the service stamps them from the reported actions.
    Raises InstructionError (index, kind, reason) for the first instruction that cannot apply, and
    InvalidRequest if the instructions are not a non-empty list or the result breaks an invariant that
    the configuration already broke before (validation names the path).
    """
    if not isinstance(instructions, list | tuple) or not instructions:
        raise InvalidRequest("instructions must be a non-empty list")
    working = flag.clone()
    for index, raw in enumerate(instructions):
        _apply(working, index, raw, environment_key, context)
    change = describe_changes(flag, working)
    validate_flag(working, context, environments=change.environment_actions)
    return change


def _apply(flag: Flag, index: int, raw: object, environment_key: str | None, context: FlagChangeContext) -> None:
    kind = raw.get("kind") if isinstance(raw, dict) else None
    if not isinstance(raw, dict) or not isinstance(kind, str):
        raise InstructionError(index, str(kind), "each instruction must be an object with a string 'kind'")
    handler, env_key = _route(flag, index, kind, environment_key)
    try:
        handler(Step(flag, copy.deepcopy(raw), context, env_key))
    except InstructionError:
        raise
    except InvalidRequest as exc:
        raise InstructionError(index, kind, exc.message) from None


def _route(flag: Flag, index: int, kind: str, environment_key: str | None) -> tuple[Handler, str]:
    """The handler for ``kind`` and the environment it changes ("" for project-level kinds)."""
    if kind in _PROJECT_HANDLERS:
        return _PROJECT_HANDLERS[kind], ""
    handler = _ENVIRONMENT_HANDLERS.get(kind) or _OWN_HANDLERS.get(kind)
    if handler is None:
        raise InstructionError(index, kind, _ELSEWHERE.get(kind, "unknown instruction kind for a flag"))
    if not environment_key:
        raise InstructionError(index, kind, "environmentKey is required for this instruction")
    if environment_key not in flag.environments:
        raise InstructionError(index, kind, f"unknown environment '{environment_key}'")
    return handler, environment_key
