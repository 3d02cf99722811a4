"""Small factories for flags and change contexts, shared by the flag-change tests."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

import pytest

from flagward.domain.errors import InstructionError
from flagward.domain.flags import Defaults, Flag, FlagConfig, Variation, new_config
from flagward.domain.instructions import FlagChange, FlagChangeContext, apply_flag_instructions

NOW = 1_700_000_000_000
ENVIRONMENTS = ("production", "test")


def variation_id(key: str, index: int) -> str:
    """Deterministic variation ids make expectations readable: ``flag:v0``."""
    return f"{key}:v{index}"


def make_flag(
    key: str = "flag",
    *,
    values: Iterable[Any] = (True, False),
    environments: Iterable[str] = ENVIRONMENTS,
    kind: str | None = None,
    **fields: Any,
) -> Flag:
    """A flag serving variation 0 on and the last variation off, off in every environment."""
    variations: list[Variation] = [{"_id": variation_id(key, i), "value": v} for i, v in enumerate(values)]
    is_boolean = len(variations) == 2 and all(isinstance(v["value"], bool) for v in variations)
    defaults = Defaults(on_variation=0, off_variation=len(variations) - 1)
    flag = Flag(
        id=f"id-{key}",
        project_key="proj",
        key=key,
        name=key.title(),
        kind=kind or ("boolean" if is_boolean else "multivariate"),
        variations=variations,
        creation_date=NOW - 1000,
        defaults=defaults,
        environments={env: _config(defaults, env) for env in environments},
    )
    for name, value in fields.items():
        setattr(flag, name, value)
    return flag


def _config(defaults: Defaults, env: str) -> FlagConfig:
    config = new_config(defaults, now=NOW - 1000)
    config["salt"], config["sel"] = f"salt-{env}", f"sel-{env}"
    return config


def make_context(
    *flags: Flag,
    segments: Iterable[tuple[str, str]] = (("production", "beta"), ("test", "beta")),
    members: Iterable[str] = ("member-1",),
    teams: Iterable[str] = ("team-1",),
    environments: Iterable[str] = ENVIRONMENTS,
) -> FlagChangeContext:
    """A context over ``flags`` (the project's other flags) and the given segments, members, teams."""
    by_key: Mapping[str, Flag] = {f.key: f for f in flags}
    segment_set, member_set, team_set = set(segments), set(members), set(teams)

    def dependents_of(key: str) -> list[tuple[str, str, int]]:
        return [
            (other.key, env, p["variation"])
            for other in by_key.values()
            for env, config in other.environments.items()
            for p in config["prerequisites"]
            if p["key"] == key
        ]

    return FlagChangeContext(
        now=NOW,
        environment_keys=frozenset(environments),
        get_flag=by_key.get,
        segment_exists=lambda env, key: (env, key) in segment_set,
        member_exists=member_set.__contains__,
        team_exists=team_set.__contains__,
        dependents_of=dependents_of,
    )


def clause(
    attribute: str = "email", op: str = "endsWith", values: list[Any] | None = None, **extra: Any
) -> dict[str, Any]:
    """A clause as instructions spell it."""
    return {
        "contextKind": "user",
        "attribute": attribute,
        "op": op,
        "negate": False,
        "values": values if values is not None else ["@example.com"],
        **extra,
    }


def apply(
    flag: Flag, *instructions: dict[str, Any], env: str | None = "production", context: FlagChangeContext | None = None
) -> FlagChange:
    """Apply ``instructions`` in ``env`` with a context knowing only ``flag``."""
    return apply_flag_instructions(flag, list(instructions), environment_key=env, context=context or make_context(flag))


def refusal(
    flag: Flag, *instructions: dict[str, Any], env: str | None = "production", context: FlagChangeContext | None = None
) -> InstructionError:
    """The InstructionError ``instructions`` raise; the flag must come out untouched."""
    before = copy.deepcopy(flag)
    with pytest.raises(InstructionError) as caught:
        apply(flag, *instructions, env=env, context=context)
    assert flag == before
    return caught.value
