"""The domain's exception tree. Every error carries a stable ``code``; the HTTP edge maps classes to
statuses in one table (``flagward.http.errors``) and the CLI maps them to exit codes.

::

    DomainError
    ├── InvalidRequest          code invalid_request   (bad input, failed validation)
    │   └── InstructionError    code invalid_request   (semantic patch: names the instruction index)
    ├── NotFound                code not_found
    ├── Unauthorized            code unauthorized
    ├── Forbidden               code forbidden
    ├── ApprovalRequired        code method_not_allowed
    ├── Conflict                code conflict           (a resource with that key already exists)
    ├── OptimisticLockError     code optimistic_locking_error
    └── RateLimited             code rate_limited
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the domain and the services raise on purpose."""

    code = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(DomainError):
    code = "invalid_request"


class InstructionError(InvalidRequest):
    """A semantic-patch instruction could not be applied; ``index`` is its position in the request."""

    def __init__(self, index: int, kind: str, reason: str) -> None:
        super().__init__(f"instruction {index} ({kind}): {reason}")
        self.index = index
        self.kind = kind
        self.reason = reason


class NotFound(DomainError):
    code = "not_found"


class Unauthorized(DomainError):
    code = "unauthorized"


class Forbidden(DomainError):
    code = "forbidden"


class ApprovalRequired(DomainError):
    code = "method_not_allowed"


class Conflict(DomainError):
    code = "conflict"


class OptimisticLockError(DomainError):
    code = "optimistic_locking_error"

    def __init__(self, message: str = "Conflict. Optimistic lock error. Try again later.") -> None:
        super().__init__(message)


API_RATE_LIMITED = "You've exceeded the API rate limit. Try again later."  # LaunchDarkly's words


class RateLimited(DomainError):
    code = "rate_limited"

    def __init__(
        self, retry_after_seconds: int, message: str = "You've exceeded the API rate limit. Try again later."
    ) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds
