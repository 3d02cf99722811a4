"""Storage records. They are not the wire schema and not the domain: ``mappers.py`` converts.

Flag targeting is stored as JSON documents (one per flag and environment) because it is a versioned tree
that is always read and written whole.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

Json = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: Json, list[Any]: Json}


class MetaRecord(Base):
    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class AuditHeadRecord(Base):
    """A single row (id 1) locked by every transaction that appends to the audit chain."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    # The last entry's id and date, which the next entry chains to (and verify names if it is gone).
    last_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_date: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class MemberRecord(Base):
    __tablename__ = "members"
    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    first_name: Mapped[str | None] = mapped_column(String(256))
    last_name: Mapped[str | None] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16), index=True)
    password_hash: Mapped[str | None] = mapped_column(Text)
    creation_date: Mapped[int] = mapped_column(BigInteger)
    last_seen: Mapped[int | None] = mapped_column(BigInteger)
    version: Mapped[int] = mapped_column(Integer)
    email_notifications: Mapped[bool] = mapped_column(Boolean, default=True)


class TeamRecord(Base):
    __tablename__ = "teams"
    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    key: Mapped[str] = mapped_column(String(256), unique=True)
    name: Mapped[str] = mapped_column(String(256))
    description: Mapped[str | None] = mapped_column(Text)
    creation_date: Mapped[int] = mapped_column(BigInteger)
    last_modified: Mapped[int] = mapped_column(BigInteger)
    version: Mapped[int] = mapped_column(Integer)


class TeamMemberRecord(Base):
    __tablename__ = "team_members"
    team_id: Mapped[str] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), primary_key=True)


class TokenRecord(Base):
    __tablename__ = "tokens"
    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(24), index=True)
    member_id: Mapped[str | None] = mapped_column(String(24), index=True)
    name: Mapped[str | None] = mapped_column(String(256))
    description: Mapped[str | None] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16))
    service_token: Mapped[bool] = mapped_column(Boolean)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    last4: Mapped[str] = mapped_column(String(4))
    default_api_version: Mapped[int] = mapped_column(Integer)
    creation_date: Mapped[int] = mapped_column(BigInteger)
    last_modified: Mapped[int] = mapped_column(BigInteger)
    last_used: Mapped[int | None] = mapped_column(BigInteger)
    custom_role_ids: Mapped[list[Any]] = mapped_column(default=list)
    inline_role: Mapped[list[Any] | None] = mapped_column(Json, nullable=True)


class SessionRecord(Base):
    __tablename__ = "sessions"
    session_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    expires: Mapped[int] = mapped_column(BigInteger)


class InvitationRecord(Base):
    """A one-time link to set a member's password: only the token's SHA-256 is stored."""

    __tablename__ = "invitations"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    expires: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[int] = mapped_column(BigInteger)


class RateCounterRecord(Base):
    """One rate-limit counter (``flagward.domain.rate_limits``); the key is a digest, never an email."""

    __tablename__ = "rate_counters"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    resets_at: Mapped[int] = mapped_column(BigInteger, index=True)


class ProjectRecord(Base):
    __tablename__ = "projects"
    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    key: Mapped[str] = mapped_column(String(256), unique=True)
    name: Mapped[str] = mapped_column(String(256))
    tags: Mapped[str] = mapped_column(Text)  # "\ntag1\ntag2\n": a portable LIKE filter on both dialects
    doc: Mapped[dict[str, Any]] = mapped_column()
    creation_date: Mapped[int] = mapped_column(BigInteger)
    version: Mapped[int] = mapped_column(Integer)


class EnvironmentRecord(Base):
    __tablename__ = "environments"
    __table_args__ = (UniqueConstraint("project_id", "key"),)
    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(256))
    name: Mapped[str] = mapped_column(String(256))
    api_key: Mapped[str] = mapped_column(String(128), unique=True)
    mobile_key: Mapped[str] = mapped_column(String(128), unique=True)
    doc: Mapped[dict[str, Any]] = mapped_column()
    creation_date: Mapped[int] = mapped_column(BigInteger)
    version: Mapped[int] = mapped_column(Integer)


class FlagRecord(Base):
    __tablename__ = "flags"
    __table_args__ = (UniqueConstraint("project_id", "key"),)
    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(256))
    name: Mapped[str] = mapped_column(String(256))
    archived: Mapped[bool] = mapped_column(Boolean)
    tags: Mapped[str] = mapped_column(Text)  # same encoding as ProjectRecord.tags
    doc: Mapped[dict[str, Any]] = mapped_column()
    creation_date: Mapped[int] = mapped_column(BigInteger)
    version: Mapped[int] = mapped_column(Integer)


class FlagConfigRecord(Base):
    __tablename__ = "flag_configs"
    flag_id: Mapped[str] = mapped_column(ForeignKey("flags.id", ondelete="CASCADE"), primary_key=True)
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id", ondelete="CASCADE"), primary_key=True)
    doc: Mapped[dict[str, Any]] = mapped_column()
    version: Mapped[int] = mapped_column(Integer)


Index("ix_flag_configs_environment", FlagConfigRecord.environment_id)


class AuditRecord(Base):
    """One audit entry. Every column but ``hash`` is covered by ``hash`` (``audit_chain.stored_fields``)."""

    __tablename__ = "audit_log"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    id: Mapped[str] = mapped_column(String(24), unique=True)
    date: Mapped[int] = mapped_column(BigInteger, index=True)
    kind: Mapped[str] = mapped_column(String(32))
    doc: Mapped[dict[str, Any]] = mapped_column()
    resources: Mapped[str] = mapped_column(Text)  # newline-separated specifiers, for spec filters
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    # The formula ``hash`` was computed with (domain/audit_chain.py); rows from before it existed are 1.
    hash_version: Mapped[int] = mapped_column(SmallInteger, server_default="1")


class SegmentRecord(Base):
    __tablename__ = "segments"
    __table_args__ = (UniqueConstraint("environment_id", "key"),)
    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(256))
    name: Mapped[str] = mapped_column(String(256))
    tags: Mapped[str] = mapped_column(Text)  # same encoding as ProjectRecord.tags
    doc: Mapped[dict[str, Any]] = mapped_column()
    creation_date: Mapped[int] = mapped_column(BigInteger)
    version: Mapped[int] = mapped_column(Integer)


class TombstoneRecord(Base):
    """The last version of a deleted flag or segment in an environment, so that a key deleted and then
    created again keeps increasing versions (SDKs drop updates whose version is not higher)."""

    __tablename__ = "sdk_tombstones"
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(256), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)


class ApprovalRequestRecord(Base):
    __tablename__ = "approval_requests"
    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id", ondelete="CASCADE"))
    resource_kind: Mapped[str] = mapped_column(String(16))
    resource_key: Mapped[str] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(String(16))
    requestor_id: Mapped[str | None] = mapped_column(String(24))
    notify: Mapped[str] = mapped_column(Text)  # "\nid1\nid2\n", for the notifyMemberIds anyOf filter
    # The reviews' current verdicts, so the inbox filters in the store: who has one ("\nid\n"), and how
    # many approve and decline (``ApprovalRequest.current_verdicts``).
    reviewed_by: Mapped[str] = mapped_column(Text, default="\n")
    approval_count: Mapped[int] = mapped_column(Integer, default=0)
    decline_count: Mapped[int] = mapped_column(Integer, default=0)
    # How many of its required reviewer teams still lack their minimum (``ApprovalRequest.team_progress``).
    teams_unmet: Mapped[int] = mapped_column(Integer, default=0)
    creation_date: Mapped[int] = mapped_column(BigInteger)
    execution_date: Mapped[int | None] = mapped_column(BigInteger)
    version: Mapped[int] = mapped_column(Integer)
    doc: Mapped[dict[str, Any]] = mapped_column()
    # integrationMetadata.lastChecked, for polling external approval services (None: no external record)
    integration_checked_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


Index(
    "ix_approval_requests_resource",
    ApprovalRequestRecord.environment_id,
    ApprovalRequestRecord.resource_kind,
    ApprovalRequestRecord.resource_key,
    ApprovalRequestRecord.status,
)
# Open requests on one resource in any environment (a direct flag change checks them all for conflicts).
Index(
    "ix_approval_requests_project_resource",
    ApprovalRequestRecord.project_id,
    ApprovalRequestRecord.resource_kind,
    ApprovalRequestRecord.resource_key,
    ApprovalRequestRecord.status,
)
Index("ix_approval_requests_due", ApprovalRequestRecord.status, ApprovalRequestRecord.execution_date)
Index(
    "ix_approval_requests_integration_checked",
    ApprovalRequestRecord.status,
    ApprovalRequestRecord.integration_checked_at,
)
Index("ix_approval_requests_created", ApprovalRequestRecord.creation_date)
# The inbox's pages: pending requests newest first, read in index order (no sort of every match).
Index(
    "ix_approval_requests_status_created",
    ApprovalRequestRecord.status,
    ApprovalRequestRecord.creation_date,
    ApprovalRequestRecord.id,
)


class FlagUsageRecord(Base):
    """When SDKs last evaluated a flag in an environment, and the default value they passed (summary
    events). Keyed by flag key, not id: SDKs only know keys, and a flag may be deleted and created again."""

    __tablename__ = "flag_usage"
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id", ondelete="CASCADE"), primary_key=True)
    flag_key: Mapped[str] = mapped_column(String(256), primary_key=True)
    last_requested: Mapped[int] = mapped_column(BigInteger)
    default: Mapped[dict[str, Any] | None] = mapped_column(Json, nullable=True)  # {"value": v}; None: never seen


class FlagEvaluationCountRecord(Base):
    """Evaluations of a flag per day and variation (-1: the application's default value was served)."""

    __tablename__ = "flag_evaluation_counts"
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id", ondelete="CASCADE"), primary_key=True)
    flag_key: Mapped[str] = mapped_column(String(256), primary_key=True)
    day: Mapped[int] = mapped_column(Integer, primary_key=True)  # days since the Unix epoch (UTC)
    variation: Mapped[int] = mapped_column(Integer, primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)


Index("ix_flag_evaluation_counts_day", FlagEvaluationCountRecord.day)


class OutboxRecord(Base):
    """A message to the outside world, written with the change that causes it (``domain.outbox``)."""

    __tablename__ = "outbox_messages"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(32), unique=True)  # the idempotency key
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column()
    target: Mapped[str | None] = mapped_column(String(64))
    ordering_key: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[int] = mapped_column(BigInteger)
    next_attempt_at: Mapped[int] = mapped_column(BigInteger)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[int | None] = mapped_column(BigInteger)
    delivered_at: Mapped[int | None] = mapped_column(BigInteger)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_status_code: Mapped[int | None] = mapped_column(Integer)


Index("ix_outbox_messages_due", OutboxRecord.status, OutboxRecord.next_attempt_at)
Index("ix_outbox_messages_ordering", OutboxRecord.ordering_key, OutboxRecord.seq)
Index("ix_outbox_messages_target", OutboxRecord.target, OutboxRecord.seq)
Index("ix_outbox_messages_key_pending", OutboxRecord.ordering_key, OutboxRecord.status, OutboxRecord.seq)


class NotificationRecord(Base):
    """A member's in-app notification (``domain.notifications``)."""

    __tablename__ = "notifications"
    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    member_id: Mapped[str] = mapped_column(String(24), ForeignKey("members.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(BigInteger)
    approval_request_id: Mapped[str | None] = mapped_column(String(64))
    link: Mapped[str | None] = mapped_column(Text)
    read_at: Mapped[int | None] = mapped_column(BigInteger)


Index("ix_notifications_member", NotificationRecord.member_id, NotificationRecord.created_at)


class WebhookRecord(Base):
    """A webhook (``domain.webhooks``); its statements are their LaunchDarkly JSON form."""

    __tablename__ = "webhooks"
    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(256))
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(Text)
    sign: Mapped[bool] = mapped_column(Boolean)
    on: Mapped[bool] = mapped_column(Boolean)
    tags: Mapped[list[Any]] = mapped_column()
    statements: Mapped[list[Any]] = mapped_column()
    creation_date: Mapped[int] = mapped_column(BigInteger)
    version: Mapped[int] = mapped_column(Integer)


class ScheduledChangeRecord(Base):
    """A flag's scheduled change in one environment; ``doc`` holds the rest of the domain object."""

    __tablename__ = "scheduled_changes"
    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id", ondelete="CASCADE"))
    flag_key: Mapped[str] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(String(16))
    execution_date: Mapped[int] = mapped_column(BigInteger)
    creation_date: Mapped[int] = mapped_column(BigInteger)
    version: Mapped[int] = mapped_column(Integer)
    doc: Mapped[dict[str, Any]] = mapped_column()


class WorkflowRecord(Base):
    """A flag's workflow (``domain.workflows``): its stages and their state in ``doc``; ``status`` and
    ``wake_at`` (when the scheduler should next look at it) as columns for the scheduler's query."""

    __tablename__ = "workflows"
    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id", ondelete="CASCADE"))
    flag_key: Mapped[str] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(String(16))
    wake_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    creation_date: Mapped[int] = mapped_column(BigInteger)
    version: Mapped[int] = mapped_column(Integer)
    doc: Mapped[dict[str, Any]] = mapped_column()


Index("ix_scheduled_changes_flag", ScheduledChangeRecord.environment_id, ScheduledChangeRecord.flag_key)
Index("ix_scheduled_changes_due", ScheduledChangeRecord.status, ScheduledChangeRecord.execution_date)


class ExpiringTargetRecord(Base):
    """A context target of a flag or segment that the scheduler removes at ``expiration_date``."""

    __tablename__ = "expiring_targets"
    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id", ondelete="CASCADE"))
    resource_kind: Mapped[str] = mapped_column(String(16))
    resource_key: Mapped[str] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(String(16))  # pending | failed
    expiration_date: Mapped[int] = mapped_column(BigInteger)
    version: Mapped[int] = mapped_column(Integer)
    doc: Mapped[dict[str, Any]] = mapped_column()


Index(
    "ix_expiring_targets_resource",
    ExpiringTargetRecord.environment_id,
    ExpiringTargetRecord.resource_kind,
    ExpiringTargetRecord.resource_key,
)
Index("ix_expiring_targets_due", ExpiringTargetRecord.status, ExpiringTargetRecord.expiration_date)


class FlagTriggerRecord(Base):
    """A flag trigger (``domain.triggers``): one flag in one environment; only a digest of its secret."""

    __tablename__ = "flag_triggers"
    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    flag_id: Mapped[str] = mapped_column(ForeignKey("flags.id", ondelete="CASCADE"))
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id", ondelete="CASCADE"))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    url_tail: Mapped[str] = mapped_column(String(8))
    integration_key: Mapped[str] = mapped_column(String(256))
    instructions: Mapped[list[Any]] = mapped_column()
    enabled: Mapped[bool] = mapped_column(Boolean)
    maintainer_id: Mapped[str | None] = mapped_column(String(24))
    comment: Mapped[str | None] = mapped_column(Text)
    creation_date: Mapped[int] = mapped_column(BigInteger)
    version: Mapped[int] = mapped_column(Integer)
    trigger_count: Mapped[int] = mapped_column(Integer)
    last_triggered_at: Mapped[int | None] = mapped_column(BigInteger)
    # Its action was set up with approval: firing it is pre-approved (``domain.triggers``).
    approved: Mapped[bool] = mapped_column(Boolean, server_default=false())


Index("ix_flag_triggers_flag_env", FlagTriggerRecord.flag_id, FlagTriggerRecord.environment_id)


class CustomRoleRecord(Base):
    """A custom role (``domain.roles``); its policy is the statements' LaunchDarkly JSON form."""

    __tablename__ = "custom_roles"
    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    key: Mapped[str] = mapped_column(String(256), unique=True)
    name: Mapped[str] = mapped_column(String(256))
    description: Mapped[str | None] = mapped_column(Text)
    policy: Mapped[list[Any]] = mapped_column()
    base_permissions: Mapped[str | None] = mapped_column(String(16))
    creation_date: Mapped[int] = mapped_column(BigInteger)
    last_modified: Mapped[int] = mapped_column(BigInteger)
    version: Mapped[int] = mapped_column(Integer)


class MemberCustomRoleRecord(Base):
    __tablename__ = "member_custom_roles"
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), primary_key=True)
    role_id: Mapped[str] = mapped_column(
        ForeignKey("custom_roles.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class TeamCustomRoleRecord(Base):
    __tablename__ = "team_custom_roles"
    team_id: Mapped[str] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    role_id: Mapped[str] = mapped_column(
        ForeignKey("custom_roles.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class TeamMaintainerRecord(Base):
    __tablename__ = "team_maintainers"
    team_id: Mapped[str] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), primary_key=True, index=True)


Index("ix_workflows_flag", WorkflowRecord.environment_id, WorkflowRecord.flag_key, WorkflowRecord.creation_date)
Index("ix_workflows_due", WorkflowRecord.status, WorkflowRecord.wake_at)


class WorkflowTemplateRecord(Base):
    """A workflow template: its stages as ``StageInput`` documents."""

    __tablename__ = "workflow_templates"
    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    key: Mapped[str] = mapped_column(String(256), unique=True)
    creation_date: Mapped[int] = mapped_column(BigInteger)
    doc: Mapped[dict[str, Any]] = mapped_column()
