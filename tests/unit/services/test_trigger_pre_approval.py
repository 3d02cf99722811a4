"""The approval gate's one door for flag triggers (``domain.governance.PreApproved``): it lets through
exactly the trigger's on/off change in the trigger's environment, and only the trigger service opens it.

A route cannot reach the door but through ``services.triggers.fire_trigger``: ``PreApproved`` is made only
by ``domain.triggers.pre_approval`` (from a stored trigger whose action was set up with approval: by the
bypass right where approval was required, or through an approved request; none for any other trigger),
and only ``fire_trigger`` passes one to the write path (the gate functions in between pass on their own
parameter)."""

from __future__ import annotations

import ast
from pathlib import Path

import flagward
from flagward.domain.flags import Flag
from flagward.domain.governance import PreApproved
from tests.unit.domain.test_governance import changed, flag, gate, refused, turn_on

ROOT = Path(flagward.__file__).parent
# (module, function) -> what it does with the door.
OPENS = {("services/triggers.py", "fire_trigger")}
PASSES_ON = {("services/flag_changes.py", "commit_flag_change"), ("services/flag_gate.py", "check_flag_write")}
MAKES = {("domain/triggers.py", "pre_approval")}
ON_IN_PRODUCTION = PreApproved(environment_key="production", on=True, by="trigger t")


def _functions() -> list[tuple[tuple[str, str], ast.FunctionDef]]:
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef):
                found.append(((str(path.relative_to(ROOT)), node.name), node))
    return found


def test_only_the_trigger_service_opens_the_door() -> None:
    opening, passing, making = set(), set(), set()
    for where, function in _functions():
        for node in ast.walk(function):
            if not isinstance(node, ast.Call):
                continue
            if isinstance(node.func, ast.Name) and node.func.id == "PreApproved":
                making.add(where)
            for keyword in node.keywords:
                if keyword.arg == "pre_approved":
                    value = keyword.value
                    own = isinstance(value, ast.Name) and value.id == "pre_approved"
                    (passing if own else opening).add(where)
    assert opening == OPENS
    assert passing == PASSES_ON
    assert making == MAKES


def test_the_door_lets_through_the_trigger_s_own_change() -> None:
    before = flag()
    gate(before, changed(before, turn_on("production")), pre_approved=ON_IN_PRODUCTION)


def test_nothing_else_goes_through_the_door() -> None:
    before = flag()
    assert "updateOn" in refused(before, changed(before, turn_on("production")))  # no door: refused

    def on_and_off_variation(f: Flag) -> None:
        f.environments["production"]["on"] = True
        f.environments["production"]["offVariation"] = 0

    refused(before, changed(before, on_and_off_variation), pre_approved=ON_IN_PRODUCTION)
    refused(before, changed(before, turn_on("production")), pre_approved=PreApproved("test", True, "trigger t"))
    off = PreApproved(environment_key="production", on=False, by="trigger t")
    refused(before, changed(before, turn_on("production")), pre_approved=off)

    def retag(f: Flag) -> None:
        f.environments["production"]["on"] = True
        f.tags = ["other"]

    refused(before, changed(before, retag), pre_approved=ON_IN_PRODUCTION)
    gated_test = flag(tags=["gated"])
    refused(gated_test, changed(gated_test, turn_on("test")), pre_approved=ON_IN_PRODUCTION)
