"""Semantic patch for flags: LaunchDarkly's instructions applied to a flag, all or nothing.

The service loads the flag, calls ``apply_flag_instructions`` with a ``FlagChangeContext`` of lookups,
then gates, versions, audits and persists the returned ``FlagChange``. Modules by theme: ``settings``
(on/off, off variation, fallthrough, event tracking), ``targets``, ``rules``, ``rollouts``,
``prerequisites``, ``variations`` and ``flag_level`` (project-level settings).
"""

from flagward.domain.changes import FlagChange
from flagward.domain.instructions.context import FlagChangeContext
from flagward.domain.instructions.engine import (
    ENVIRONMENT_INSTRUCTIONS,
    PROJECT_INSTRUCTIONS,
    apply_flag_instructions,
)

__all__ = [
    "ENVIRONMENT_INSTRUCTIONS",
    "PROJECT_INSTRUCTIONS",
    "FlagChange",
    "FlagChangeContext",
    "apply_flag_instructions",
]
