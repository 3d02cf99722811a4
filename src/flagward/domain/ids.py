"""Identifiers and keys, as LaunchDarkly shapes them."""

from __future__ import annotations

import re
import secrets
import string
import uuid

from flagward.domain.errors import InvalidRequest

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_PROJECT_KEY = re.compile(r"^[a-z0-9][a-z0-9._-]*$", re.IGNORECASE)
MAX_KEY_LENGTH = 256
MAX_NAME_LENGTH = 256  # LaunchDarkly's limit on names (and the stores' name columns)
# SDK keys must survive the SDK's own format check (`validate_sdk_key_format`): [A-Za-z0-9._-].
_SDK_KEY_ALPHABET = string.ascii_letters + string.digits + "._-"


def new_object_id() -> str:
    """A 24-hex-character id, the shape LaunchDarkly uses for members, projects, requests, …"""
    return secrets.token_hex(12)


def new_uuid() -> str:
    """Variation, rule and clause ids are UUIDs."""
    return str(uuid.uuid4())


def new_salt() -> str:
    return secrets.token_hex(16)


def new_secret(prefix: str, length: int = 36) -> str:
    """``prefix`` plus ``length`` random characters from the SDK-key alphabet."""
    return prefix + "".join(secrets.choice(_SDK_KEY_ALPHABET) for _ in range(length))


def check_name_length(value: object, *, field: str = "name") -> None:
    """Raise InvalidRequest if ``value`` is a string longer than LaunchDarkly allows for a name."""
    if isinstance(value, str) and len(value) > MAX_NAME_LENGTH:
        raise InvalidRequest(f"{field} must be at most {MAX_NAME_LENGTH} characters")


def validate_key(value: object, *, field: str = "key") -> str:
    """Return ``value`` if it is a valid resource key, else raise InvalidRequest naming ``field``.

    LaunchDarkly keys start with a letter or digit and contain letters, digits, ``.``, ``_`` and ``-``.
    """
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"{field} is required and must be a non-empty string")
    if len(value) > MAX_KEY_LENGTH:
        raise InvalidRequest(f"{field} must be at most {MAX_KEY_LENGTH} characters")
    if not _KEY.match(value):
        raise InvalidRequest(
            f"{field} '{value}' is invalid: it must start with a letter or number and contain only "
            "letters, numbers, '.', '_' or '-'"
        )
    return value
