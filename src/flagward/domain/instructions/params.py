"""One instruction being applied, with typed access to its parameters.

Every accessor raises InvalidRequest with a reason a person can act on; the engine adds the
instruction's index and kind.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flagward.domain.errors import InvalidRequest
from flagward.domain.flags import Clause, Flag, FlagConfig, Rule
from flagward.domain.instructions.context import FlagChangeContext


@dataclass
class Step:
    """The working flag (a clone the engine may mutate), the instruction and the lookups.

    ``environment_key`` is the environment an environment-level instruction changes ("" for
    project-level ones).
    """

    flag: Flag
    params: Mapping[str, Any]
    context: FlagChangeContext
    environment_key: str = ""

    @property
    def config(self) -> FlagConfig:
        return self.flag.environments[self.environment_key]

    def value(self, name: str) -> Any:
        """A required parameter, any JSON value but null."""
        if self.params.get(name) is None:
            raise InvalidRequest(f"{name} is required")
        return self.params[name]

    def text(self, name: str) -> str:
        value = self.value(name)
        if not isinstance(value, str) or not value:
            raise InvalidRequest(f"{name} must be a non-empty string")
        return value

    def optional_text(self, name: str, *, empty_ok: bool = True) -> str | None:
        if self.params.get(name) is None:
            return None
        value = self.params[name]
        if not isinstance(value, str) or (not value and not empty_ok):
            raise InvalidRequest(f"{name} must be a {'string' if empty_ok else 'non-empty string'}")
        return value

    def boolean(self, name: str) -> bool:
        value = self.value(name)
        if not isinstance(value, bool):
            raise InvalidRequest(f"{name} must be true or false")
        return value

    def values(self, name: str = "values") -> list[Any]:
        """A required list (of any JSON values)."""
        value = self.value(name)
        if not isinstance(value, list):
            raise InvalidRequest(f"{name} must be a list")
        return value

    def strings(self, name: str = "values", *, allow_empty: bool = False) -> list[str]:
        """A list of non-empty strings (context keys, tags, ids), duplicates dropped, order kept."""
        return string_list(self.values(name), name, allow_empty=allow_empty)

    def objects(self, name: str) -> list[Mapping[str, Any]]:
        items = self.values(name)
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise InvalidRequest(f"{name}[{i}] must be an object")
        return items

    def variation(self, name: str = "variationId") -> int:
        """The index of this flag's variation whose ``_id`` is parameter ``name``."""
        return variation_index(self.flag, self.text(name), name)

    def context_kind(self) -> str:
        return self.optional_text("contextKind", empty_ok=False) or "user"

    def rule(self) -> Rule:
        rule_id = self.text("ruleId")
        for rule in self.config["rules"]:
            if rule["_id"] == rule_id:
                return rule
        raise InvalidRequest(f"ruleId '{rule_id}' is not a rule of this flag in environment '{self.environment_key}'")

    def clause(self, rule: Rule) -> Clause:
        clause_id = self.text("clauseId")
        for clause in rule["clauses"]:
            if clause["_id"] == clause_id:
                return clause
        raise InvalidRequest(f"clauseId '{clause_id}' is not a clause of rule '{rule['_id']}'")


def string_list(value: Any, name: str, *, allow_empty: bool = False) -> list[str]:
    if not isinstance(value, list):
        raise InvalidRequest(f"{name} must be a list")
    if not value and not allow_empty:
        raise InvalidRequest(f"{name} must not be empty")
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item:
            raise InvalidRequest(f"{name}[{i}] must be a non-empty string")
    return list(dict.fromkeys(value))


def variation_index(flag: Flag, variation_id: object, name: str = "variationId") -> int:
    """The index of ``flag``'s variation ``variation_id``; InvalidRequest naming the flag's variations."""
    for index, variation in enumerate(flag.variations):
        if variation["_id"] == variation_id:
            return index
    known = ", ".join(f"'{v['_id']}'" for v in flag.variations)
    raise InvalidRequest(f"{name} '{variation_id}' is not a variation of flag '{flag.key}' (its variations: {known})")


Handler = Callable[[Step], None]


def variation_label(flag: Flag, index: int) -> str:
    """``variation 1 ('b2c…', "Beta")``: how errors name a variation."""
    variation = flag.variations[index]
    name = f', "{variation["name"]}"' if variation.get("name") else ""
    return f"variation {index} ('{variation['_id']}'{name})"
