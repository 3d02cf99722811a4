"""Log lines: request ids accepted or replaced, and what a JSON line holds."""

from __future__ import annotations

import json
import logging

import pytest

from flagward import logs


@pytest.mark.parametrize("given", ["abc", "A-1_2.3:4@x/y+z=", "x" * 128, "0f8fad5b-d9cb-469f-a165-70867728950e"])
def test_plain_request_ids_are_kept(given: str) -> None:
    assert logs.valid_request_id(given)
    entry, token = logs.begin(given, "GET", "/")
    logs.end(token)
    assert entry.id == given


@pytest.mark.parametrize("given", [None, "", "x" * 129, "two words", 'quo"te', "line\nbreak", "tab\there", "é"])
def test_other_request_ids_are_replaced(given: str | None) -> None:
    assert not logs.valid_request_id(given)
    entry, token = logs.begin(given, "GET", "/")
    logs.end(token)
    assert entry.id != given and len(entry.id) == 36


def _record(message: str, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("flagward.test", logging.WARNING, __file__, 1, message, None, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_a_json_line_carries_the_request_actor_and_extras() -> None:
    entry, token = logs.begin("req-7", "PATCH", "/api/v2/flags/p/f")
    logs.note_actor("member-1", "token-9")
    entry.route = "/api/v2/flags/{projectKey}/{featureFlagKey}"
    try:
        line = json.loads(logs.JsonFormatter().format(_record("changed", status=200)))
    finally:
        logs.end(token)
    assert line["level"] == "warning" and line["logger"] == "flagward.test" and line["message"] == "changed"
    assert line["request_id"] == "req-7"
    assert line["actor"] == "token:token-9"  # the token's id, never its secret
    assert line["route"] == "/api/v2/flags/{projectKey}/{featureFlagKey}"
    assert line["status"] == 200
    assert line["time"].endswith("Z")


def test_outside_a_request_a_line_has_no_request_fields() -> None:
    line = json.loads(logs.JsonFormatter().format(_record("idle")))
    assert "request_id" not in line and "actor" not in line


def test_a_text_line_names_the_request() -> None:
    _, token = logs.begin("req-8", "GET", "/")
    logs.note_actor("member-2", None)
    try:
        text = logs.TextFormatter().format(_record("hello"))
    finally:
        logs.end(token)
    assert "[req-8] hello" in text and "actor=member:member-2" in text


def test_auto_format_is_json_when_stderr_is_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stderr.isatty", lambda: False)
    assert logs.resolve_format("auto") == "json"
    assert logs.resolve_format("text") == "text"
