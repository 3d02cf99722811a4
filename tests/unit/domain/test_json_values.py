"""Strict JSON: what flagward stores and serves is JSON every SDK parses, within the stores' ranges."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flagward.domain import json_values
from flagward.domain.flags import Defaults, Flag, new_config, new_variations
from flagward.domain.json_values import JsonRefused


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b'{"variations": [{"value": 1}, {"value": NaN}]}', "variations[1].value: numbers must be finite"),
        (b'{"a": Infinity}', "a: numbers must be finite"),
        (b'{"a": -Infinity}', "a: numbers must be finite"),
        (b'{"a": 1e400}', "a: numbers must be finite"),
        (b'{"executionDate": 9223372036854775808}', "executionDate: integers must be within the signed 64-bit"),
        (b'[{"value": -9223372036854775809}]', "body[0].value: integers must be within"),
        (b'{"name": "a\\u0000b"}', "name: strings must not contain NUL"),
        (b"[" * 10_000, "body: JSON nested deeper than 64 levels"),
        (b'{"v": ' + b"[" * 65 + b"]" * 65 + b"}", "nested deeper than 64 levels"),
        (b"{nope", "The request body is not valid JSON"),
        (b"\xff", "The request body is not valid JSON"),
    ],
)
def test_refused_json_names_the_path(text: bytes, message: str) -> None:
    with pytest.raises(JsonRefused) as info:
        json_values.loads(text)
    assert message in info.value.message


def test_what_the_stores_keep_is_accepted() -> None:
    deepest = b'{"v": ' + b"[" * 63 + b"]" * 63 + b"}"
    assert json_values.loads(deepest)["v"]
    edges = b'{"a": [9223372036854775807, -9223372036854775808, 1.5e308, "\\u00e9"]}'
    assert json_values.loads(edges) == {"a": [2**63 - 1, -(2**63), 1.5e308, "\u00e9"]}
    assert json_values.loads(b'{"name": "a\\u0000b"}', allow_nul=True) == {"name": "a\x00b"}


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4),
    max_leaves=30,
)


def _containers(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [value, *(c for item in value.values() for c in _containers(item))]
    if isinstance(value, list):
        return [value, *(c for item in value for c in _containers(item))]
    return []


@given(_JSON)
def test_a_json_copy_is_equal_and_shares_no_container(value: Any) -> None:
    copied = json_values.copy_json(value)
    assert copied == value and type(copied) is type(value)
    assert not {id(c) for c in _containers(copied)} & {id(c) for c in _containers(value)}


def test_a_cloned_flag_shares_nothing_mutable() -> None:
    kind, variations = new_variations(None)
    flag = Flag(
        id="f" * 24,
        project_key="p",
        key="beta",
        name="Beta",
        kind=kind,
        variations=variations,
        creation_date=1,
        defaults=Defaults(on_variation=0, off_variation=1),
        tags=["a"],
        custom_properties={"jira": {"name": "Jira", "value": ["X-1"]}},
        environments={"production": new_config(Defaults(on_variation=0, off_variation=1), now=1)},
    )
    clone = flag.clone()
    assert clone == flag
    clone.variations[0]["value"] = "changed"
    clone.tags.append("b")
    clone.custom_properties["jira"]["value"].append("X-2")
    clone.environments["production"]["rules"].append({"clauses": []})
    assert flag.variations[0]["value"] is True and flag.tags == ["a"]
    assert flag.custom_properties["jira"]["value"] == ["X-1"] and flag.environments["production"]["rules"] == []
