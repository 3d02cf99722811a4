"""Strict JSON: what flagward stores and serves is JSON every SDK parses, within the stores' ranges."""

from __future__ import annotations

import pytest

from flagward.domain import json_values
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
