"""The ``flagward`` command line: serve, db upgrade, tokens create, members set-password, audit verify and head.

``main`` runs the Typer app through ``cli.help.describe_options``, so every option's ``--help`` shows its
default, and an option named after a ``Settings`` field also shows (and reads) its environment variable:
a new option gets both by naming itself after its setting.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated, Any

import typer

from flagward import __version__
from flagward.cli.help import describe_options, describe_other_settings
from flagward.cli.requests import flags_app, requests_app
from flagward.config import Settings
from flagward.domain.accounts import TOKEN_ROLES, Role
from flagward.storage.sqlite_file import StoreFileError, require_existing

app = typer.Typer(help="flagward: self-hosted, LaunchDarkly-compatible feature management.", no_args_is_help=True)
db = typer.Typer(help="Database schema.")
tokens = typer.Typer(help="Access tokens.")
audit = typer.Typer(help="The audit log.")
members = typer.Typer(help="Account members.")
app.add_typer(db, name="db")
app.add_typer(tokens, name="tokens")
app.add_typer(audit, name="audit")
app.add_typer(members, name="members")
app.add_typer(requests_app, name="requests")  # client commands: they speak to a server over HTTP
app.add_typer(flags_app, name="flags")

DatabaseOption = Annotated[
    str | None, typer.Option("--database-url", help="sqlite:///path or postgresql://user@host:port/db")
]


# The roles a token may have, as the domain defines them; --help lists them and Click refuses others.
TokenRole = StrEnum("TokenRole", {role.name: role.value for role in TOKEN_ROLES})  # type: ignore[misc]
_DEFAULT_TOKEN_ROLE = TokenRole(Role.READER.value)


class LogFormat(StrEnum):
    AUTO = "auto"
    TEXT = "text"
    JSON = "json"


class LogLevel(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"flagward {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """flagward: self-hosted, LaunchDarkly-compatible feature management."""


def _settings(database_url: str | None = None, *, create_store: bool = False, **overrides: object) -> Settings:
    """The settings: the command line's values over the environment's. Unless ``create_store`` (``serve``,
    ``db upgrade``), a SQLite file that does not exist is refused (StoreNotFound): opening it would
    create an empty store, typically in the wrong directory, instead of using the server's."""
    values = {k: v for k, v in overrides.items() if v is not None}
    if database_url:
        values["database_url"] = database_url
    settings = Settings(**values)  # type: ignore[arg-type]
    if not create_store:
        require_existing(settings.database_url)
    return settings


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="Port")] = None,
    database_url: DatabaseOption = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=256,
            help="Server processes sharing the port, each with its own SDK streams (more than 1: PostgreSQL only)",
        ),
    ] = None,
    db_pool_size: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=1000,
            help="PostgreSQL connections each server process keeps in its pool, and opens as many more under "
            "load; default: 20 for one process, several share 80 connections (PostgreSQL's default limit is 100)",
        ),
    ] = None,
    api_body_limit: Annotated[
        int | None,
        typer.Option(help="Largest request body in bytes, after inflating, for the REST API"),
    ] = None,
    events_body_limit: Annotated[
        int | None,
        typer.Option(help="Largest SDK events body in bytes, after inflating"),
    ] = None,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            help="Reverse proxies trusted for X-Forwarded-For/-Proto: comma-separated IPs or networks, or '*'; "
            "default none"
        ),
    ] = None,
    log_format: Annotated[
        LogFormat | None,
        typer.Option(help="Log lines as text or JSON (one object a line); auto: text on a terminal, else JSON"),
    ] = None,
    log_level: Annotated[LogLevel | None, typer.Option(help="The least severe level logged")] = None,
    access_log: Annotated[
        bool | None,
        typer.Option("--access-log/--no-access-log", help="One log line per REST API request (never for SDKs)"),
    ] = None,
    metrics_token: Annotated[
        str | None, typer.Option(help="A bearer token GET /metrics then requires (default: open)")
    ] = None,
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve GET /metrics on this port only (0: on the main port)")
    ] = None,
    graceful_timeout: Annotated[
        int | None,
        typer.Option(help="On SIGTERM, seconds that requests in flight get to finish (SDK streams end at once)"),
    ] = None,
) -> None:
    """Apply migrations and serve the API and the SDK endpoints (creates a SQLite store if there is none)."""
    from flagward.cli.listen import listen
    from flagward.storage.sqlite_file import require_multi_process_store

    settings = _settings(
        database_url,
        create_store=True,
        host=host,
        port=port,
        workers=workers,
        db_pool_size=db_pool_size,
        api_body_limit=api_body_limit,
        events_body_limit=events_body_limit,
        forwarded_allow_ips=forwarded_allow_ips,
        log_format=log_format.value if log_format is not None else None,
        log_level=log_level.value if log_level is not None else None,
        access_log=access_log,
        metrics_token=metrics_token,
        metrics_port=metrics_port,
        graceful_timeout=graceful_timeout,
    )
    require_multi_process_store(settings.database_url, settings.workers)  # WorkersNeedPostgres
    try:
        sockets = listen(settings)  # first: SDKs reconnecting during a restart queue up instead of being refused
    except OSError as exc:
        typer.echo(f"error: cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from None

    from flagward.cli.serve import run

    status = run(settings, sockets)
    if status:
        raise typer.Exit(status)


@db.command("upgrade")
def db_upgrade(database_url: DatabaseOption = None) -> None:
    """Apply every pending migration (creates a SQLite store if there is none)."""
    from flagward.storage.engine import make_engine
    from flagward.storage.migrate import current_revision, upgrade

    settings = _settings(database_url, create_store=True)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    typer.echo(f"schema at revision {current_revision(engine)}")
    engine.dispose()


@members.command("set-password")
def members_set_password(
    email: Annotated[str, typer.Option("--email", help="The member's email")],
    database_url: DatabaseOption = None,
) -> None:
    """Set a member's sign-in password (prompted for, never echoed); ends their sessions."""
    from flagward.bootstrap import build_services
    from flagward.domain.accounts import SYSTEM_ACTOR
    from flagward.domain.errors import DomainError
    from flagward.services.members import set_password

    settings = _settings(database_url)  # refuses a missing store before asking for a password
    password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    services = build_services(settings)
    try:
        set_password(services.deps, actor=SYSTEM_ACTOR, email=email, password=password)
    except DomainError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    finally:
        services.close()
    typer.echo(f"password set for {email}")


@tokens.command("create")
def tokens_create(
    member: Annotated[str, typer.Option("--member", help="The member's email")],
    role: Annotated[TokenRole, typer.Option(help="The token's role")] = _DEFAULT_TOKEN_ROLE,
    name: Annotated[str | None, typer.Option(help="A name for the token")] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Create a personal access token for a member; prints the secret once."""
    from flagward.bootstrap import build_services
    from flagward.domain.errors import DomainError
    from flagward.services.auth import create_token_for_member

    services = build_services(_settings(database_url))
    try:
        _, secret = create_token_for_member(services.deps, email=member, role=Role(role.value), name=name)
    except DomainError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    finally:
        services.close()
    typer.echo(secret)


@audit.command("verify")
def audit_verify(
    anchor: Annotated[
        list[str] | None,
        typer.Option(
            "--anchor",
            metavar="SEQ:HASH",
            help="A head printed earlier by `flagward audit head` and kept elsewhere: the log must still hold "
            "that entry unchanged (catches a cut tail). Repeatable.",
        ),
    ] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Check the audit log's hash chain; prints the id of every altered or removed entry.

    Exit status: 0 intact (and every anchor holds), 1 problems found, 2 bad arguments.
    """
    from flagward.domain.audit_chain import Anchor
    from flagward.storage.audit_verify import SchemaNotCurrent, verify
    from flagward.storage.engine import make_engine

    try:
        anchors = [Anchor.parse(text) for text in anchor or ()]
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    engine = make_engine(_settings(database_url).database_url, pool_size=1)
    try:
        checked, breaks = verify(engine, anchors)
    except SchemaNotCurrent as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    for item in breaks:
        typer.echo(f"{item.entry_id or '(id unknown)'}\tseq {item.seq}\t{item.reason}")
    if breaks:
        typer.echo(f"audit log: {len(breaks)} problem(s) in {checked} entries", err=True)
        raise typer.Exit(1)
    if anchors:
        typer.echo(f"audit log intact: {checked} entries; it still holds {', '.join(str(a) for a in anchors)}")
    else:
        typer.echo(f"audit log intact: {checked} entries")
        typer.echo("note: without --anchor, a cut tail with its head rolled back goes unnoticed", err=True)


@audit.command("head")
def audit_head(database_url: DatabaseOption = None) -> None:
    """Print the audit chain's head as SEQ:HASH, to keep elsewhere for `audit verify --anchor`.

    Exit status: 0 printed (0:000… for an empty log), 1 the log's end does not verify, 2 bad arguments.
    """
    from flagward.storage.audit_verify import SchemaNotCurrent, current_head
    from flagward.storage.engine import make_engine

    engine = make_engine(_settings(database_url).database_url, pool_size=1)
    try:
        head, breaks = current_head(engine)
    except SchemaNotCurrent as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    for item in breaks:
        typer.echo(f"{item.entry_id or '(id unknown)'}\tseq {item.seq}\t{item.reason}", err=True)
    if breaks:
        typer.echo("audit log: its end does not verify; no head printed", err=True)
        raise typer.Exit(1)
    typer.echo(str(head.anchor))


from flagward.cli import transfer as _transfer  # noqa: E402, F401  (registers import, export, backup, restore)


def command() -> Any:
    """The command line as a Click command (Typer's), every option described (``cli.help``)."""
    built: Any = typer.main.get_command(app)
    describe_options(built)
    describe_other_settings(built.commands["serve"])
    return built


def main() -> None:
    try:
        command()(prog_name="flagward")
    except StoreFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
