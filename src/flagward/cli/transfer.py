"""Moving flags in and out: ``flagward import``, ``export``, ``backup`` and ``restore``, against the configured
store (``--database-url``), like ``db upgrade`` and ``audit verify``.

Exit status of ``import``: 0 every item imported (or unchanged), 1 some item refused (the summary says
which, with the path and reason), 2 bad arguments or input that is not an import at all.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from flagward.cli import DatabaseOption, _settings, app
from flagward.config import Settings

AsOption = Annotated[
    str | None,
    typer.Option(
        "--as",
        help="The member the command acts as (audit log, role, approval bypass); default FLAGWARD_OWNER_EMAIL",
    ),
]


class Format(StrEnum):
    SDK = "sdk"
    REST = "rest"


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise _fail(f"{path}: {exc}") from None


def read_rest_dir(root: Path) -> dict[str, Any]:
    """Every ``*.json`` under ``root`` by its relative path (``flags/P/F.json``…)."""
    if not root.is_dir():
        raise _fail(f"{root} is not a directory")
    return {p.relative_to(root).as_posix(): _read_json(p) for p in sorted(root.rglob("*.json"))}


@app.command("import")
def import_(
    source: Annotated[Path, typer.Argument(help="An SDK payload file, or a directory of REST representations")],
    project: Annotated[str | None, typer.Option(help="The project to import an SDK payload into")] = None,
    environment: Annotated[str | None, typer.Option(help="The environment the SDK payload is of")] = None,
    rest: Annotated[bool | None, typer.Option("--rest", help="SOURCE is a directory of REST representations")] = None,
    dry_run: Annotated[bool | None, typer.Option("--dry-run", help="Print what would be done; store nothing")] = None,
    update: Annotated[
        bool | None, typer.Option("--update", help="Replace existing flags and segments that differ")
    ] = None,
    as_requests: Annotated[
        bool | None,
        typer.Option(
            "--as-requests",
            help="Where flags or segments require approval and --as may not bypass it: make approval requests "
            "instead of refusing",
        ),
    ] = None,
    as_json: Annotated[bool | None, typer.Option("--json", help="Print the summary as JSON")] = None,
    as_member: AsOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Import flags and segments from LaunchDarkly, keeping salts, ids and versions (identical bucketing).

    `--project P --environment E FILE`: one environment's SDK payload ({"flags": …, "segments": …}, as
    /sdk/latest-all serves it). `--rest DIR`: REST representations (projects/P.json, flags/P/F.json,
    segments/P/E/S.json). Projects and environments are created when missing.
    """
    from flagward.domain.errors import DomainError
    from flagward.services import importing

    rest, dry_run, as_json = bool(rest), bool(dry_run), bool(as_json)
    if rest == bool(project or environment):
        raise _fail("give --project and --environment with an SDK payload file, or --rest with a directory")
    if not rest and not (project and environment):
        raise _fail("an SDK payload needs both --project and --environment")
    data = read_rest_dir(source) if rest else _read_json(source)
    options = importing.ImportOptions(dry_run=dry_run, update=bool(update), as_requests=bool(as_requests))
    settings = _settings(database_url)
    with _Services(settings) as services:
        try:
            actor = _actor(services, settings, as_member)
            if rest:
                plan = importing.import_rest(services.deps, actor=actor, files=data, options=options)
            else:
                assert project and environment
                plan = importing.import_environment(
                    services.deps, actor=actor, project_key=project, env_key=environment, payload=data, options=options
                )
        except DomainError as exc:
            raise _fail(exc.message) from None
    _print_plan(plan, dry_run=dry_run, as_json=as_json)
    if plan.refusals:
        raise typer.Exit(1)


def _print_plan(plan: Any, *, dry_run: bool, as_json: bool) -> None:
    from flagward.http.routes.importing import plan_document

    if as_json:
        typer.echo(json.dumps(plan_document(plan, dry_run=dry_run), indent=2))
        return
    width = max((len(e.item) for e in plan.entries), default=0)
    for entry in plan.entries:
        verb = (
            f"would {entry.outcome.value}"
            if dry_run and entry.outcome.value in ("create", "update")
            else entry.outcome.value
        )
        typer.echo(f"{verb:<16} {entry.item:<{width}}  {entry.detail}".rstrip())
    for requested in plan.requests:
        made = f"request {requested.request_id}" if requested.request_id else "would request approval"
        typer.echo(f"{'approval':<16} {requested.item:<{width}}  {requested.environment_key}: {made}")
    counts = plan.counts()
    words = {"create": "created", "update": "updated", "unchanged": "unchanged", "refused": "refused"}
    counts["unchanged"] += counts["requested"]
    summary = ", ".join(f"{counts[name]} {word}" for name, word in words.items())
    if plan.requests:
        summary += f", {len(plan.requests)} approval request(s)"
    suffix = " (dry run: nothing stored)" if dry_run else ""
    typer.echo(f"import: {summary}{suffix}", err=True)


class _Services:
    """``build_services`` as a context manager (closed on exit)."""

    def __init__(self, settings: Settings) -> None:
        from flagward.bootstrap import build_services

        self.services = build_services(settings)

    def __enter__(self) -> Any:
        return self.services

    def __exit__(self, *exc: object) -> None:
        self.services.close()


def _actor(services: Any, settings: Settings, email: str | None) -> Any:
    from flagward.services.operator import operator_actor

    return operator_actor(services.deps, email=email or settings.owner_email)


@app.command("export")
def export(
    target: Annotated[Path, typer.Argument(help="A file (one environment, SDK format) or a directory")],
    project: Annotated[str | None, typer.Option(help="Only this project (default: every project)")] = None,
    environment: Annotated[str | None, typer.Option(help="With --project: only this environment's SDK payload")] = None,
    format: Annotated[
        Format, typer.Option("--format", help="sdk: SDK payloads; rest: REST representations")
    ] = Format.SDK,
    as_member: AsOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Export flags and segments in LaunchDarkly's formats, for `flagward import` here or elsewhere.

    SDK: TARGET/P/E.json per environment (or TARGET itself with --project and --environment).
    REST: TARGET/projects/P.json, TARGET/flags/P/F.json, TARGET/segments/P/E/S.json.
    """
    from flagward.domain.errors import DomainError
    from flagward.services import exporting

    if environment and not project:
        raise _fail("--environment needs --project")
    if environment and format is Format.REST:
        raise _fail("--environment exports one SDK payload; the REST format exports whole projects")
    settings = _settings(database_url)
    written: dict[Path, Any] = {}
    with _Services(settings) as services:
        try:
            actor = _actor(services, settings, as_member)
            deps = services.deps
            if environment and project:
                written[target] = exporting.export_environment(
                    deps, actor=actor, project_key=project, env_key=environment
                )
            else:
                for key in [project] if project else exporting.project_keys(deps, actor=actor):
                    if format is Format.REST:
                        for relative, doc in exporting.export_rest(deps, actor=actor, project_key=key).items():
                            written[target / relative] = doc
                        continue
                    for env_key in exporting.environment_keys(deps, actor=actor, project_key=key):
                        payload = exporting.export_environment(deps, actor=actor, project_key=key, env_key=env_key)
                        written[target / key / f"{env_key}.json"] = payload
        except DomainError as exc:
            raise _fail(exc.message) from None
    for file, doc in written.items():
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    typer.echo(f"export: {len(written)} file(s) written under {target}", err=True)


@app.command("backup")
def backup(
    path: Annotated[Path, typer.Argument(help="The backup file to write (must not exist)")],
    database_url: DatabaseOption = None,
) -> None:
    """A consistent backup of the whole store while the server runs.

    SQLite: SQLite's online backup API (the backup is a SQLite store). PostgreSQL: one snapshot of
    every table as gzip JSON lines (pg_dump works too; see the README). Restore with `flagward restore`.
    """
    from flagward.storage.backup import BackupError
    from flagward.storage.backup import backup as run_backup

    settings = _settings(database_url)
    try:
        kind = run_backup(settings.database_url, path)
    except BackupError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"backup: {path} ({kind})", err=True)


@app.command("restore")
def restore(
    path: Annotated[Path, typer.Argument(help="A file written by `flagward backup`")],
    database_url: DatabaseOption = None,
) -> None:
    """Restore a backup into an empty store (creating and migrating it first); then `flagward audit verify`.

    Stop the server of the target store first; start it on the restored store afterwards.
    """
    from flagward.storage.backup import BackupError
    from flagward.storage.backup import restore as run_restore
    from flagward.storage.engine import make_engine
    from flagward.storage.migrate import upgrade

    settings = _settings(database_url, create_store=True)
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    try:
        counts = run_restore(path, settings.database_url)
    except BackupError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"restore: {sum(counts.values())} rows in {len(counts)} tables from {path}", err=True)
