"""Jinja2 for the console: the environment (autoescaped, strict about undefined names), its filters, and
``render``, which gives every page the signed-in viewer and the navigation.

Conventions (for whoever adds a page): a page template extends ``base.html`` and fills ``title``,
``heading`` and ``content``; it sets ``nav`` to one of ``NAV``'s keys; shared pieces are macros in
``components/``; a partial that htmx swaps in starts with ``_``. Templates never decide rules: a
disabled control gets its reason from the domain (``flagward.domain.approvals.*_refusal``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from flagward import __version__
from flagward.http.deps import get_deps
from flagward.services import notifications

TEMPLATES = Path(__file__).parent / "templates"
STATIC_URL = "/console/static"
NOTIFICATION_POLL_SECONDS = 15  # how often every page refreshes the top bar's unread count


@dataclass(frozen=True)
class NavItem:
    key: str
    label: str
    href: str | None  # None: not built yet (shown, marked "soon", not a link)


NAV = (
    NavItem("approvals", "Approvals", "/approvals"),
    NavItem("flags", "Flags", "/projects"),
    NavItem("compare", "Compare", "/compare"),
    NavItem("audit", "Audit log", "/audit"),
    NavItem("settings", "Settings", "/settings"),
    NavItem("members", "Members", "/members"),
)


def _when(ms: int | None) -> str:
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _iso(ms: int | None) -> str:
    return "" if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="seconds")


def _ago(ms: int | None, now_ms: int | None = None) -> str:
    if ms is None:
        return ""
    now = now_ms if now_ms is not None else int(datetime.now(tz=UTC).timestamp() * 1000)
    seconds = (now - ms) // 1000
    future = seconds < 0
    seconds = abs(seconds)
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size:
            count = seconds // size
            text = f"{count} {unit}{'s' if count != 1 else ''}"
            return f"in {text}" if future else f"{text} ago"
    return "in a moment" if future else "just now"


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _plural(count: int, singular: str, plural: str | None = None) -> str:
    return f"{count} {singular if count == 1 else (plural or singular + 's')}"


def build_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=_when, iso=_iso, ago=_ago, json=_json, plural=_plural)
    env.globals.update(
        NAV=NAV, STATIC_URL=STATIC_URL, VERSION=__version__, NOTIFICATION_POLL_SECONDS=NOTIFICATION_POLL_SECONDS
    )
    return env


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render ``template``; ``viewer`` (or None) and ``nav`` default to empty. With a viewer, the page
    also gets their unread notification count, which the top bar shows (``notifications/_count.html``)."""
    context.setdefault("viewer", None)
    viewer = context["viewer"]
    if viewer is not None and "unread_notifications" not in context:
        context["unread_notifications"] = notifications.unread_count(get_deps(request), actor=viewer.actor)
    context.setdefault("unread_notifications", 0)
    context.setdefault("nav", "")
    context.setdefault("notice", None)
    context.setdefault("error", None)
    templates: Environment = request.app.state.console_templates
    html = templates.get_template(template).render(request=request, **context)
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})
