"""Percentage-rollout bucketing, bit-for-bit as every LaunchDarkly SDK computes it.

A context lands in ``[0, 1)`` by hashing ``"{prefix}.{value}"`` with SHA-1 and scaling the first 15 hex
digits. The prefix is ``str(seed)`` when the rollout has a seed, otherwise ``"{flagKey}.{salt}"`` (segments
use ``"{segmentKey}.{salt}"`` and never a seed). The hashed value is the context key, or the ``bucketBy``
attribute when that is a string or an integer; any other value (float, bool, object, missing) buckets to
``0.0``. When the rollout's context kind is absent from the context the bucket is ``-1`` (the caller
decides what that means).

A rollout's weights (ints out of 100000) become cumulative thresholds computed with the same float
additions as the SDKs, so the boundaries are identical.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, Final

__all__ = [
    "MISSING_CONTEXT_BUCKET",
    "bucket_hash",
    "bucket_text",
    "bucket_value",
    "bucketable",
    "cumulative_thresholds",
    "prefix_for",
]

_SCALE: Final = float(0xFFFFFFFFFFFFFFF)
_sha1: Final = hashlib.sha1
MISSING_CONTEXT_BUCKET: Final = -1.0


def prefix_for(key: str, salt: str, seed: int | None = None) -> str:
    """The hash prefix of a flag rollout (``seed`` given or not) or of a segment rule (no seed)."""
    return str(seed) if seed is not None else f"{key}.{salt}"


def bucketable(value: Any) -> str | None:
    """The string an attribute value is hashed as, or None when the value cannot be bucketed."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def bucket_hash(prefix: str, text: str) -> float:
    """The bucket in ``[0, 1)`` of an already-stringified value."""
    return bucket_text(prefix + ".", text)


def bucket_text(prefix_dot: str, text: str) -> float:
    """:func:`bucket_hash` with the prefix's trailing dot already added (what compiled rollouts keep)."""
    # The first 15 hex digits of the digest are its first 60 bits.
    digest = _sha1((prefix_dot + text).encode(), usedforsecurity=False).digest()
    return (int.from_bytes(digest[:8], "big") >> 4) / _SCALE


def bucket_value(prefix: str, value: Any) -> float:
    """The bucket of a context key or attribute value (``0.0`` when the value is not bucketable)."""
    text = bucketable(value)
    return 0.0 if text is None else bucket_hash(prefix, text)


def cumulative_thresholds(weights: Sequence[int]) -> tuple[float, ...]:
    """Running sums of ``weight / 100000.0``; a bucket falls in the first slot whose threshold exceeds it."""
    total = 0.0
    out: list[float] = []
    for weight in weights:
        total += weight / 100000.0
        out.append(total)
    return tuple(out)
