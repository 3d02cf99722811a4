"""flagward's own instruction ``replaceFlagConfiguration``: one environment's whole configuration, verbatim.

LaunchDarkly's instructions cannot set rule ids, rollout seeds, experiment settings or the salt, so an
import into an environment that requires approval (``flagward import --as-requests``) proposes the
imported configuration as it is: ``{"kind": "replaceFlagConfiguration", "configuration": {...}}`` with
exactly ``CONFIGURATION_FIELDS`` in flagward's form (that of a flag's ``environments.ENV``). Applying it
replaces those fields; the engine then validates the result as the import does (``validate_flag``), so
bucketing (salt, rule ids, seeds) is kept exactly. Version, ``lastModified`` and ``archived`` stay the
write path's.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from flagward.domain.errors import InvalidRequest
from flagward.domain.instructions.params import Handler, Step

KIND = "replaceFlagConfiguration"
CONFIGURATION_FIELDS = (
    *("on", "salt", "targets", "contextTargets", "rules", "fallthrough", "offVariation", "prerequisites"),
    *("trackEvents", "trackEventsFallthrough"),
)


def configuration_of(config: Mapping[str, Any]) -> dict[str, Any]:
    """The instruction's ``configuration`` for a flag's environment configuration ``config``."""
    return {name: copy.deepcopy(config[name]) for name in CONFIGURATION_FIELDS}


def _replace(step: Step) -> None:
    raw = step.params.get("configuration")
    if not isinstance(raw, dict):
        raise InvalidRequest("configuration must be an object (a flag's environment configuration)")
    missing = [name for name in CONFIGURATION_FIELDS if name not in raw]
    unknown = sorted(set(raw) - set(CONFIGURATION_FIELDS))
    if missing:
        raise InvalidRequest(f"configuration.{missing[0]} is required")
    if unknown:
        raise InvalidRequest(f"configuration.{unknown[0]} is not a field of a configuration")
    config: dict[str, Any] = step.config  # type: ignore[assignment]  # a FlagConfig: the fields above are its own
    for name in CONFIGURATION_FIELDS:
        config[name] = copy.deepcopy(raw[name])


HANDLERS: dict[str, Handler] = {KIND: _replace}
