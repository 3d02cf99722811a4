"""SQL repositories. They never commit; the unit of work owns the transaction."""

from flagward.storage.repositories.accounts import (
    SqlMemberRepository,
    SqlSessionRepository,
    SqlTeamRepository,
    SqlTokenRepository,
)
from flagward.storage.repositories.audit import SqlAuditLog, SqlMeta
from flagward.storage.repositories.flags import SqlFlagRepository
from flagward.storage.repositories.projects import SqlEnvironmentRepository, SqlProjectRepository

__all__ = [
    "SqlAuditLog",
    "SqlEnvironmentRepository",
    "SqlFlagRepository",
    "SqlMemberRepository",
    "SqlMeta",
    "SqlProjectRepository",
    "SqlSessionRepository",
    "SqlTeamRepository",
    "SqlTokenRepository",
]
