"""flagward's own ``replaceFlagConfiguration`` (an import proposed for approval): it sets one environment's
configuration verbatim, salt and rollout seed included, is validated like any change, and reads as words."""

from __future__ import annotations

from typing import Any

import pytest

from flagward.domain.describe import describe_instruction
from flagward.domain.errors import InvalidRequest
from flagward.domain.instructions.configuration import CONFIGURATION_FIELDS, configuration_of
from tests.unit.domain.instructions.factories import apply, make_flag, refusal


def _imported(**changes: Any) -> dict[str, Any]:
    config = configuration_of(make_flag().environments["production"])
    rollout = {"variations": [{"variation": 0, "weight": 30000}, {"variation": 1, "weight": 70000}], "seed": 7}
    config.update(on=True, salt="salt-from-launchdarkly", fallthrough={"rollout": rollout})
    config.update(changes)
    return config


def test_the_configuration_replaces_the_environments_verbatim_and_leaves_the_others() -> None:
    flag = make_flag()
    change = apply(flag, {"kind": "replaceFlagConfiguration", "configuration": _imported()})
    production = change.flag.environments["production"]
    assert configuration_of(production) == _imported()
    assert production["version"] == flag.environments["production"]["version"]  # the write path stamps it
    assert production["sel"] == flag.environments["production"]["sel"]
    assert change.flag.environments["test"] == flag.environments["test"]


def test_a_malformed_configuration_is_refused_with_its_path() -> None:
    flag = make_flag()
    missing = {k: v for k, v in _imported().items() if k != "salt"}
    error = refusal(flag, {"kind": "replaceFlagConfiguration", "configuration": missing})
    assert error.reason == "configuration.salt is required"
    error = refusal(flag, {"kind": "replaceFlagConfiguration", "configuration": {**_imported(), "colour": 1}})
    assert error.reason == "configuration.colour is not a field of a configuration"
    with pytest.raises(InvalidRequest) as invalid:  # validated as the import validates it
        apply(flag, {"kind": "replaceFlagConfiguration", "configuration": _imported(offVariation=5)})
    assert invalid.value.message.startswith("environments.production.offVariation must be the index")
    assert refusal(flag, {"kind": "replaceFlagConfiguration"}).reason.startswith("configuration must be an object")
    assert set(CONFIGURATION_FIELDS) == set(_imported())


def test_it_reads_as_words() -> None:
    instruction = {"kind": "replaceFlagConfiguration", "configuration": _imported()}
    text = describe_instruction(instruction, make_flag(), environment_key="production")
    assert text == (
        "Replace the whole configuration with the imported one: targeting on; serve a rollout: 30% true, "
        "70% false by key to everyone who matches no rule; serve false when off; salt "
        "'salt-from-launchdarkly' (rollout buckets kept)"
    )
