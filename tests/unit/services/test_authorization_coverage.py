"""Every use case that acts for an actor asks ``domain.authorization``: a service function taking
``deps`` and an ``actor`` must call ``authorize`` / ``authorize_all`` / ``permits``, directly or through
a function of flagward's services that does. A use case added later without a door fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import flagward

ROOTS = {"authorize", "authorize_all", "permits"}
# Use cases that take an actor without asking for it, with the reason.
EXEMPT = {
    ("services/members.py", "set_password"): "the CLI's members set-password, run on the server host",
    ("services/identity.py", "caller_identity"): "who the caller is: LaunchDarkly answers every valid token",
    ("services/notifications.py", "list_notifications"): "the actor's own notifications",
    ("services/notifications.py", "unread_count"): "the actor's own notifications",
    ("services/notifications.py", "mark_read"): "the actor's own notifications",
}


def _functions() -> list[tuple[str, ast.FunctionDef]]:
    root = Path(flagward.__file__).parent
    found = []
    for path in [*sorted((root / "services").rglob("*.py")), root / "domain" / "approvals.py"]:
        tree = ast.parse(path.read_text())
        found += [(str(path.relative_to(root)), f) for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)]
    return found


def _called(function: ast.FunctionDef) -> set[str]:
    names = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name):
                names.add(node.func.id)
            elif isinstance(node.func, ast.Attribute):
                names.add(node.func.attr)
    return names


def _authorizing(functions: list[tuple[str, ast.FunctionDef]]) -> set[tuple[str, str]]:
    """The ``(module, function)`` pairs whose body reaches ``ROOTS``, directly or through calls of other
    such functions (by name: a fixed point over the services' call graph)."""
    names, found = set(ROOTS), set()
    calls = [((module, f.name), _called(f)) for module, f in functions]
    while True:
        more = {where for where, called in calls if called & names} - found
        if not more:
            return found
        found |= more
        names |= {name for _, name in more}


def _is_use_case(function: ast.FunctionDef) -> bool:
    params = [a.arg for a in function.args.args + function.args.kwonlyargs]
    return "actor" in params and params[0] == "deps"


def test_every_use_case_that_acts_for_an_actor_is_authorized() -> None:
    functions = _functions()
    authorizing = _authorizing(functions)
    checked, unguarded = [], []
    for module, function in functions:
        if not module.startswith("services/") or not _is_use_case(function) or function.name.startswith("_"):
            continue
        where = (module, function.name)
        checked.append(where)
        if where not in EXEMPT and where not in authorizing:
            unguarded.append(where)
    assert unguarded == [], f"these act for an actor without asking domain.authorization: {unguarded}"
    assert set(EXEMPT) <= set(checked), "stale exemptions"
    assert len(checked) >= 60  # the scan sees the use cases
