"""LaunchDarkly-compatible flag evaluation: pure, compiled once, evaluated many times.

Typical use::

    flags = {key: compile_flag(data) for key, data in raw_flags.items()}
    segments = {key: compile_segment(data) for key, data in raw_segments.items()}
    evaluator = Evaluator(flags.get, segments.get)
    detail = evaluator.evaluate(flags["my-flag"], Context.from_dict(context_json))

:meth:`Context.from_dict` raises :class:`ContextError` for an invalid context (the SDK's
``USER_NOT_SPECIFIED``); compiling and evaluating never raise.
"""

from .compile import compile_flag, compile_segment
from .context import Context, ContextError
from .evaluator import EvaluationDetail, Evaluator, PrerequisiteEvaluation
from .model import CompiledFlag, CompiledSegment

__all__ = [
    "CompiledFlag",
    "CompiledSegment",
    "Context",
    "ContextError",
    "EvaluationDetail",
    "Evaluator",
    "PrerequisiteEvaluation",
    "compile_flag",
    "compile_segment",
]
