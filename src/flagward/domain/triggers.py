"""Flag triggers: LaunchDarkly's secret URLs that turn a flag on or off in one environment when a
monitoring tool POSTs to them.

A trigger is a deliberate automation. Its secret is shown once (on creation and when the URL is cycled)
and kept only as a SHA-256 digest plus its last four characters (``url_tail``); firing looks the digest
up. Its action is one flag instruction, ``turnFlagOn`` or ``turnFlagOff``. A trigger whose action was set
up with approval (``approved``: by someone with the bypass right where approval was required, or through
an approved request) is pre-approved: the approval gate lets its action through in the trigger's
environment only (:func:`pre_approval`), and only if the change does nothing else
(``domain.governance.PreApproved``). One set up without approval (none was required then) is judged by
the gate like any change when it fires: once the environment requires approval for the flag (its tags,
or the environment's settings, changed since), its firing is refused.

Where the flag's changes need approval, a trigger is set up either by someone with the bypass right or
through an approval request carrying ``addTrigger`` (or, with ``operatingOnId``, ``enableTrigger`` /
``replaceTriggerActionInstructions``): see :func:`parse_request`.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, replace
from typing import Any

from flagward.domain.errors import InstructionError, InvalidRequest
from flagward.domain.governance import PreApproved

ACTIONS = ("turnFlagOn", "turnFlagOff")
PATCH_KINDS = (
    "enableTrigger",
    "disableTrigger",
    "replaceTriggerActionInstructions",
    "cycleTriggerUrl",
    "updateTriggerComment",
)
WEBHOOK_PATH = "/webhook/triggers/"
MAX_INTEGRATION_KEY = 256
MAX_COMMENT = 2048


@dataclass(frozen=True)
class Trigger:
    id: str
    project_key: str
    flag_key: str
    environment_key: str
    integration_key: str
    instructions: tuple[dict[str, Any], ...]
    enabled: bool
    secret_hash: str
    url_tail: str  # the secret's last four characters: what the URL shows after creation
    creation_date: int
    maintainer_id: str | None = None
    comment: str | None = None
    version: int = 1
    trigger_count: int = 0
    last_triggered_at: int | None = None
    approved: bool = False  # its action was set up with approval (see the module's docstring)

    def turns_on(self) -> bool:
        return bool(self.instructions[0]["kind"] == "turnFlagOn")


@dataclass(frozen=True)
class TriggerEdit:
    """What a PATCH did: the trigger after it, the new secret if the URL was cycled, and whether it now
    acts where it did not before (its action changed, or it was enabled)."""

    trigger: Trigger
    secret: str | None
    widened: bool
    changed: bool


def new_trigger_secret() -> str:
    """An unguessable URL segment: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """Secrets are long and random, so an unsalted digest keeps them unrecoverable (as access tokens)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def trigger_url(origin: str, secret: str) -> str:
    return f"{origin.rstrip('/')}{WEBHOOK_PATH}{secret}"


def obscured_url(origin: str, tail: str) -> str:
    """What LaunchDarkly shows of a trigger's URL once it was created: only the end of the secret."""
    return f"{origin.rstrip('/')}{WEBHOOK_PATH}********{tail}"


def parse_actions(value: object, *, index: int | None = None, kind: str = "instructions") -> tuple[dict[str, Any], ...]:
    """A trigger's action: one instruction, ``{"kind": "turnFlagOn"}`` or ``{"kind": "turnFlagOff"}``.
    Raises InvalidRequest (InstructionError when it is a patch instruction's ``value``)."""
    problem = None
    if not isinstance(value, list) or len(value) != 1 or not isinstance(value[0], dict):
        problem = f'{kind} must be an array with a single object such as {{"kind": "turnFlagOff"}}'
    elif value[0].get("kind") not in ACTIONS or set(value[0]) != {"kind"}:
        problem = f"a trigger's action must be one of {', '.join(ACTIONS)}"
    if problem is None:
        assert isinstance(value, list)
        return ({"kind": value[0]["kind"]},)
    if index is not None:
        raise InstructionError(index, kind, problem)
    raise InvalidRequest(problem)


def check_integration_key(value: object) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_INTEGRATION_KEY:
        raise InvalidRequest(f"integrationKey must be a non-empty string of at most {MAX_INTEGRATION_KEY} characters")
    return value


def check_comment(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_COMMENT:
        raise InvalidRequest(f"comment must be a string of at most {MAX_COMMENT} characters")
    return value


def apply_patch(trigger: Trigger, instructions: object) -> TriggerEdit:
    """Apply LaunchDarkly's trigger instructions, all or none. Raises InvalidRequest/InstructionError."""
    if not isinstance(instructions, list) or not instructions:
        raise InvalidRequest("instructions must be a non-empty array")
    after, secret, widened = trigger, None, False
    for index, instruction in enumerate(instructions):
        kind = instruction.get("kind") if isinstance(instruction, dict) else None
        if kind not in PATCH_KINDS:
            raise InstructionError(index, str(kind), f"unknown instruction; expected one of {', '.join(PATCH_KINDS)}")
        assert isinstance(instruction, dict)
        if kind == "enableTrigger":
            widened = widened or not after.enabled
            after = replace(after, enabled=True)
        elif kind == "disableTrigger":
            after = replace(after, enabled=False)
        elif kind == "replaceTriggerActionInstructions":
            actions = parse_actions(instruction.get("value"), index=index, kind=kind)
            widened = widened or actions != after.instructions
            after = replace(after, instructions=actions)
        elif kind == "cycleTriggerUrl":
            secret = new_trigger_secret()
            after = replace(after, secret_hash=hash_secret(secret), url_tail=secret[-4:])
        else:
            try:
                after = replace(after, comment=check_comment(instruction.get("value")))
            except InvalidRequest as exc:
                raise InstructionError(index, kind, exc.message) from None
    changed = after != trigger
    if changed:
        after = replace(after, version=trigger.version + 1)
    return TriggerEdit(trigger=after, secret=secret, widened=widened and after.enabled, changed=changed)


# --- approval requests that set a trigger up ----------------------------------------------------------
# flagward's own instructions of an approval request on a flag, in LaunchDarkly's naming: ``addTrigger``
# {integrationKey, instructions, comment?}, alone and without ``operatingOnId``, creates a trigger in the
# request's environment; with ``operatingOnId`` naming one of the flag's triggers there, ``enableTrigger``
# and ``replaceTriggerActionInstructions`` change it. The other PATCH instructions set nothing up (they
# are never gated) and are refused in a request.
ADD = "addTrigger"
REQUEST_EDIT_KINDS = ("enableTrigger", "replaceTriggerActionInstructions")
KINDS = frozenset({ADD, *PATCH_KINDS})
_ADD_FIELDS = frozenset({"kind", "integrationKey", "instructions", "comment"})


@dataclass(frozen=True)
class TriggerSpec:
    """The trigger an ``addTrigger`` instruction asks for."""

    integration_key: str
    instructions: tuple[dict[str, Any], ...]
    comment: str | None = None


def is_trigger_request(instructions: list[dict[str, Any]]) -> bool:
    return any(i.get("kind") in KINDS for i in instructions)


def adds_trigger(instructions: list[dict[str, Any]]) -> bool:
    return any(i.get("kind") == ADD for i in instructions)


def parse_request(instructions: list[dict[str, Any]], operating_on_id: object) -> TriggerSpec | None:
    """Check an approval request's trigger instructions: the trigger ``addTrigger`` asks for, or None
    when they edit the trigger ``operatingOnId`` names (their values are checked by ``apply_patch``).
    Raises InvalidRequest (InstructionError naming the instruction)."""
    for index, instruction in enumerate(instructions):
        kind = str(instruction.get("kind"))
        if kind in PATCH_KINDS and kind not in REQUEST_EDIT_KINDS:
            raise InstructionError(
                index, kind, "needs no approval and cannot be requested: PATCH the trigger directly instead"
            )
        if kind not in KINDS:
            raise InstructionError(
                index,
                kind,
                f"a request with trigger instructions has only {ADD}, or only {' and '.join(REQUEST_EDIT_KINDS)}",
            )
    if not adds_trigger(instructions):
        if not isinstance(operating_on_id, str) or not operating_on_id:
            raise InvalidRequest(f"operatingOnId is required (the trigger's id) with {' or '.join(REQUEST_EDIT_KINDS)}")
        return None
    if len(instructions) != 1:
        index = next(i for i, x in enumerate(instructions) if x.get("kind") == ADD)
        raise InstructionError(index, ADD, "must be the only instruction")
    if operating_on_id is not None:
        raise InvalidRequest(f"operatingOnId does not go with {ADD}")
    return _parse_add(instructions[0])


def _parse_add(add: dict[str, Any]) -> TriggerSpec:
    unknown = sorted(set(add) - _ADD_FIELDS)
    try:
        if unknown:
            raise InvalidRequest(
                f"unknown field(s) {', '.join(unknown)}; expected integrationKey, instructions, comment"
            )
        return TriggerSpec(
            integration_key=check_integration_key(add.get("integrationKey")),
            instructions=parse_actions(add.get("instructions")),
            comment=check_comment(add.get("comment")),
        )
    except InvalidRequest as exc:
        raise InstructionError(0, ADD, exc.message) from None


def pre_approval(trigger: Trigger) -> PreApproved | None:
    """The one change firing ``trigger`` is approved to make (its flag on or off in its environment), or
    None when its action was not set up with approval (the gate then judges its firing as any change)."""
    if not trigger.approved:
        return None
    return PreApproved(environment_key=trigger.environment_key, on=trigger.turns_on(), by=f"trigger {trigger.id}")


def sets_up_again(before: Trigger, after: Trigger) -> bool:
    """Whether an edit gives the trigger an action it was not set up with: another action, or enabled
    again. Its approval is then that of the edit."""
    return after.instructions != before.instructions or (after.enabled and not before.enabled)


@dataclass(frozen=True)
class TriggerLimits:
    """Firing: a trigger acts at most once per ``window_ms`` (firings within it are answered as the first
    was, without acting again); an address may fire at most ``per_address`` times per ``rate_window_ms``
    (unknown secrets included, so guessing is throttled), and a trigger at most ``per_trigger``."""

    window_ms: int = 10_000
    per_address: int = 60
    per_trigger: int = 30
    rate_window_ms: int = 60_000
