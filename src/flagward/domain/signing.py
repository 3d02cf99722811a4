"""Signing what flagward sends to, and accepts from, other systems: hex HMAC-SHA256 with a shared secret,
the scheme of LaunchDarkly's ``X-LD-Signature`` webhook header, checked in constant time.

For calls where a replayed message would matter (external approval services, in both directions) the
signed content is ``<timestamp>.<body>``, the timestamp being Unix seconds sent in a header beside the
signature, so that a captured message cannot be replayed with a new timestamp; the receiver refuses
timestamps outside a window (:func:`fresh`).
"""

from __future__ import annotations

import hashlib
import hmac


def sign(secret: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``body`` (LaunchDarkly's ``X-LD-Signature``)."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str | None) -> bool:
    """Whether ``signature`` is ``body``'s, compared in constant time (a missing one never is)."""
    if not signature or not secret:
        return False
    return hmac.compare_digest(sign(secret, body), signature.strip().lower())


def timestamped(timestamp: int | str, body: bytes) -> bytes:
    """What a timestamped signature covers: ``b"<timestamp>." + body``."""
    return str(timestamp).encode() + b"." + body


def sign_timestamped(secret: str, timestamp: int, body: bytes) -> str:
    return sign(secret, timestamped(timestamp, body))


def verify_timestamped(secret: str, timestamp: str | None, body: bytes, signature: str | None) -> bool:
    if timestamp is None or not timestamp.isdigit():
        return False
    return verify(secret, timestamped(timestamp, body), signature)


def fresh(timestamp: str | None, *, now_ms: int, window_seconds: float) -> bool:
    """Whether ``timestamp`` (Unix seconds, as sent) is within ``window_seconds`` of now, either way."""
    if timestamp is None or not timestamp.isdigit():
        return False
    return abs(int(timestamp) - now_ms / 1000) <= window_seconds
