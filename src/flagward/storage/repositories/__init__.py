"""SQL repositories. They never commit; the unit of work owns the transaction."""

from flagward.storage.repositories.accounts import (
    SqlInvitationRepository,
    SqlMemberRepository,
    SqlSessionRepository,
    SqlTeamRepository,
    SqlTokenRepository,
)
from flagward.storage.repositories.approvals import SqlApprovalRepository
from flagward.storage.repositories.audit import SqlAuditLog, SqlMeta
from flagward.storage.repositories.flag_usage import SqlFlagUsage
from flagward.storage.repositories.flags import SqlFlagRepository
from flagward.storage.repositories.notifications import SqlNotifications
from flagward.storage.repositories.outbox import SqlOutbox
from flagward.storage.repositories.projects import SqlEnvironmentRepository, SqlProjectRepository
from flagward.storage.repositories.rate_counters import SqlRateCounters
from flagward.storage.repositories.roles import SqlCustomRoleRepository
from flagward.storage.repositories.schedules import SqlExpiringTargets, SqlScheduledChanges
from flagward.storage.repositories.segments import SqlSegmentRepository, SqlTombstones
from flagward.storage.repositories.triggers import SqlTriggers
from flagward.storage.repositories.webhooks import SqlWebhooks
from flagward.storage.repositories.workflows import SqlWorkflows, SqlWorkflowTemplates

__all__ = [
    "SqlApprovalRepository",
    "SqlAuditLog",
    "SqlCustomRoleRepository",
    "SqlEnvironmentRepository",
    "SqlExpiringTargets",
    "SqlFlagRepository",
    "SqlFlagUsage",
    "SqlInvitationRepository",
    "SqlMemberRepository",
    "SqlMeta",
    "SqlNotifications",
    "SqlOutbox",
    "SqlProjectRepository",
    "SqlRateCounters",
    "SqlScheduledChanges",
    "SqlSegmentRepository",
    "SqlSessionRepository",
    "SqlTeamRepository",
    "SqlTokenRepository",
    "SqlTombstones",
    "SqlTriggers",
    "SqlWebhooks",
    "SqlWorkflowTemplates",
    "SqlWorkflows",
]
