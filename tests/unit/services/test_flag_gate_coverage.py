"""Every write to the flag repository goes through the approval gate: a function of flagward that calls
``flags.add``, ``flags.update`` or ``flags.delete`` must call ``check_flag_write`` first. A write path
added later without the gate fails here (and the route walk in tests/api/test_approval_gate.py)."""

from __future__ import annotations

import ast
from pathlib import Path

import flagward

WRITES = {"add", "update", "delete"}
# Flag writes that are not changes to what an existing flag serves, with the reason.
EXEMPT = {
    ("services/environments.py", "create_environment"): (
        "a new environment: every flag gets an initial configuration there, off and without targeting"
    ),
}


def _flag_writes(function: ast.AST) -> list[int]:
    """Line numbers of ``<x>.flags.add/update/delete(...)`` calls in ``function``."""
    lines = []
    for node in ast.walk(function):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in WRITES | {"add_environment"}
            and isinstance(node.func.value, ast.Attribute)
            and node.func.value.attr == "flags"
        ):
            lines.append(node.lineno)
    return lines


def _gate_calls(function: ast.AST) -> list[int]:
    return [
        node.lineno
        for node in ast.walk(function)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "check_flag_write"
    ]


def test_every_flag_write_is_preceded_by_the_gate() -> None:
    root = Path(flagward.__file__).parent
    found, ungated = [], []
    for path in sorted(root.rglob("*.py")):
        if "storage" in path.relative_to(root).parts:
            continue  # the repositories themselves
        tree = ast.parse(path.read_text())
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef):
                continue
            writes = _flag_writes(function)
            if not writes:
                continue
            where = (str(path.relative_to(root)), function.name)
            found.append(where)
            gates = _gate_calls(function)
            if where not in EXEMPT and not (gates and min(gates) < min(writes)):
                ungated.append(where)
    assert ungated == [], f"these write flags without check_flag_write first: {ungated}"
    assert set(EXEMPT) <= set(found), "stale exemptions"
    assert len(found) >= 4  # create, update, delete, new environment: the scan sees them
