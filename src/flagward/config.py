"""Settings, read from the environment (``FLAGWARD_*``) and the command line. No side effects at import."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./flagward.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FLAGWARD_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = 8630
    # Server processes sharing the port (SO_REUSEPORT), each a full server with its own SDK streams; more
    # than one needs PostgreSQL, whose LISTEN/NOTIFY keeps every process's SDK payloads and streams current.
    workers: int = Field(default=1, ge=1, le=256)
    # PostgreSQL: the connections each server process keeps in its pool; under load it opens as many more,
    # closed when returned. Unset: 20 for one process, a budget of 80 connections divided between several
    # (``storage.engine.default_pool_size``). SQLite keeps its own small pool.
    db_pool_size: int | None = Field(default=None, ge=1, le=1000)
    owner_email: str = "owner@localhost"
    admin_token: str | None = Field(default=None, repr=False)
    # The origin browsers use to reach this server; session-authenticated writes must come from it, and
    # e-mails link to it. Empty: the origin of the request itself (scheme and Host header); e-mails then
    # link to http://host:port. FLAGWARD_PUBLIC_URL is the same setting (the name e-mail settings use).
    public_origin: str = Field(
        default="", validation_alias=AliasChoices("FLAGWARD_PUBLIC_ORIGIN", "FLAGWARD_PUBLIC_URL", "public_origin")
    )
    # E-mail (approval-request notifications): smtp://user:password@host:port (STARTTLS when offered) or
    # smtps://…; empty: e-mail is off (in-app notifications only). The From address of every e-mail.
    smtp_url: str = Field(default="", repr=False)
    smtp_from: str = "flagward@localhost"
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)
    # The outbox dispatcher: attempts per message before it is dead, the first retry's delay (doubling,
    # with jitter, up to an hour), how long a claimed message is reserved for the process sending it
    # (longer than any send may take; a message of a killed process is sent again after it), and how often
    # each process looks for messages other processes wrote.
    delivery_max_attempts: int = Field(default=8, gt=0)
    delivery_retry_base_seconds: float = Field(default=5.0, ge=0)
    delivery_lease_seconds: float = Field(default=120.0, gt=0)
    delivery_poll_seconds: float = Field(default=1.0, gt=0)
    # Webhooks and external approval services: allow http and loopback, private and link-local addresses
    # (refused by default, so that an administrator cannot make flagward reach internal services).
    webhook_allow_private: bool = False
    # External approval services: how often the status of an open request is read when no callback came,
    # the timeout of each call, and how far a callback's X-Flagward-Timestamp may be from now.
    external_approval_poll_seconds: float = Field(default=300.0, gt=0)
    external_approval_timeout_seconds: float = Field(default=10.0, gt=0)
    external_approval_callback_window_seconds: float = Field(default=300.0, gt=0)
    # Seconds between heartbeat comments on SDK streams (the SDK's read timeout is 300 s).
    stream_heartbeat_seconds: float = 30.0
    # How often each process looks for scheduled approval requests that are due.
    scheduler_interval_seconds: float = 1.0
    # How often each process writes the SDK evaluation counts it received (flag statuses) to the store.
    flag_status_flush_seconds: float = 10.0
    log_level: str = "info"
    # Log lines as "text" (for a terminal) or "json" (one object a line); "auto": text when stderr is a
    # terminal, JSON otherwise. One access log line per REST API request (SDK requests: counters only).
    log_format: str = Field(default="auto", pattern=r"^(auto|text|json)$")
    access_log: bool = True
    # GET /metrics (Prometheus): a bearer token it then requires (unset: open), and a port of its own
    # (0: served on the main port, next to the API).
    metrics_token: str | None = Field(default=None, repr=False)
    metrics_port: int = Field(default=0, ge=0, le=65535)
    # On SIGTERM: SDK streams end at once and new connections are refused; requests in flight get this
    # many seconds to finish.
    graceful_timeout: int = Field(default=30, ge=0)
    # The largest request body accepted, in bytes, counted after inflating a gzip/deflate body (413 beyond):
    # for the REST API and everything but SDK analytics events, and for those events.
    api_body_limit: int = Field(default=1024 * 1024, gt=0)
    events_body_limit: int = Field(default=5 * 1024 * 1024, gt=0)
    # Addresses of reverse proxies whose X-Forwarded-For / X-Forwarded-Proto headers are believed
    # (comma-separated IPs or networks, or "*"). Empty: none, the client is the socket's peer.
    forwarded_allow_ips: str = ""
    # Failed sign-ins allowed per email and client address, and per client address over every email,
    # within the window; 0 turns that limit off.
    login_failure_limit: int = 10
    login_address_failure_limit: int = 50
    login_failure_window_seconds: float = 900.0
    # The REST API's own rate limit, per access token (or member session): requests per window over
    # every route, and per route; 0 turns a limit off (the default: no limit, no headers).
    api_rate_limit: int = 0
    api_route_rate_limit: int = 0
    api_rate_limit_window_seconds: float = 10.0
    # Flag triggers: a trigger acts at most once per window (firings within it change nothing), and its
    # URL may be called at most so many times a minute per client address and per trigger (0: no limit).
    trigger_window_seconds: float = Field(default=10.0, ge=0)
    trigger_address_rate_limit: int = Field(default=60, ge=0)
    trigger_rate_limit: int = Field(default=30, ge=0)
