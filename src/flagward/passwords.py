"""Password hashing with argon2 (the SecretHasher port)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


class Argon2Hasher:
    def __init__(self) -> None:
        self._hasher = PasswordHasher()
        # Verified when there is no member, so that a wrong email costs the same time as a wrong password.
        self._dummy = self._hasher.hash("flagward-no-such-member")

    def hash(self, secret: str) -> str:
        return self._hasher.hash(secret)

    def verify(self, secret_hash: str | None, secret: str) -> bool:
        try:
            return self._hasher.verify(secret_hash or self._dummy, secret) and secret_hash is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
