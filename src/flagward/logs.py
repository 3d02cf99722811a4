"""Logging: text for people (a terminal), JSON lines for machines, and the request each line belongs to.

The HTTP edge opens a :class:`RequestLog` per request (``begin``) in a context variable; every line
logged while serving it (in the event loop or in a worker thread, which copies the context) carries its
id, and the actor and route once known. Depends on the standard library only: any layer may log.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RequestLog", "begin", "configure", "current", "end", "note_actor", "valid_request_id"]

_REQUEST: contextvars.ContextVar[RequestLog | None] = contextvars.ContextVar("flagward_request", default=None)
# An incoming X-Request-Id is kept when it is short and plain (no spaces, quotes or control characters
# that could forge log lines or headers); otherwise a new one is generated.
_VALID_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")


@dataclass
class RequestLog:
    """What the log knows about the request being served (mutable: filled in as the request goes)."""

    id: str
    method: str
    path: str
    started: float = field(default_factory=time.perf_counter)
    route: str | None = None
    actor: str | None = None  # "member:<id>" or "token:<id>": never the token itself


def valid_request_id(value: str | None) -> bool:
    return value is not None and _VALID_ID.fullmatch(value) is not None


def begin(incoming_id: str | None, method: str, path: str) -> tuple[RequestLog, contextvars.Token[RequestLog | None]]:
    request_id = incoming_id if valid_request_id(incoming_id) else str(uuid.uuid4())  # as LaunchDarkly writes ids
    assert request_id is not None
    entry = RequestLog(request_id, method, path)
    return entry, _REQUEST.set(entry)


def end(token: contextvars.Token[RequestLog | None]) -> None:
    _REQUEST.reset(token)


def current() -> RequestLog | None:
    return _REQUEST.get()


def note_actor(member_id: str | None, token_id: str | None) -> None:
    entry = _REQUEST.get()
    if entry is not None:
        entry.actor = f"token:{token_id}" if token_id else (f"member:{member_id}" if member_id else None)


# ---- formatting

# LogRecord attributes that are not "extra" fields given by the caller (uvicorn adds color_message).
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}
_STANDARD.add("color_message")


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {key: value for key, value in vars(record).items() if key not in _STANDARD and not key.startswith("_")}


def _request_fields() -> dict[str, Any]:
    entry = _REQUEST.get()
    if entry is None:
        return {}
    fields: dict[str, Any] = {"request_id": entry.id}
    if entry.actor:
        fields["actor"] = entry.actor
    if entry.route:
        fields["route"] = entry.route
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time`` (UTC, ms), ``level``, ``logger``, ``message``, the request's
    ``request_id``/``actor``/``route`` when logged while serving one, the caller's extra fields, and
    ``exception`` with the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        doc.update(_request_fields())
        doc.update(_extras(record))
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``time level logger [request id] message key=value…``, for a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = {**_request_fields(), **_extras(record)}
        request_id = fields.pop("request_id", None)
        if request_id:
            head, sep, rest = line.partition(f"{record.name} ")
            line = f"{head}{sep}[{request_id}] {rest}"
        if fields:
            extra = " ".join(f"{key}={value}" for key, value in fields.items())
            first, newline, tail = line.partition("\n")
            line = f"{first} {extra}{newline}{tail}"
        return line


def resolve_format(log_format: str) -> str:
    """``text`` or ``json``; ``auto``: text when stderr is a terminal, JSON otherwise."""
    if log_format in ("text", "json"):
        return log_format
    return "text" if sys.stderr.isatty() else "json"


def configure(log_format: str, level: str) -> None:
    """Send every logger (flagward's, uvicorn's) to stderr in ``log_format`` at ``level``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if resolve_format(log_format) == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
