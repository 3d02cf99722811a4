"""Approval requests that set a flag trigger up, in the domain: ``addTrigger`` parsed into the trigger it
asks for, edits left to ``apply_patch``, and the sentences consoles and e-mails show."""

from __future__ import annotations

import pytest

from flagward.domain import triggers as domain
from flagward.domain.describe import describe_instructions
from flagward.domain.errors import InstructionError, InvalidRequest
from tests.unit.domain.instructions.factories import make_flag

ADD = {"kind": "addTrigger", "integrationKey": "datadog", "instructions": [{"kind": "turnFlagOff"}]}


def test_add_trigger_asks_for_a_trigger() -> None:
    spec = domain.parse_request([{**ADD, "comment": "p99"}], None)
    assert spec == domain.TriggerSpec("datadog", ({"kind": "turnFlagOff"},), "p99")
    enable = [{"kind": "enableTrigger"}, {"kind": "replaceTriggerActionInstructions", "value": []}]
    assert domain.parse_request(enable, "t1") is None  # an edit: apply_patch checks the values
    assert domain.is_trigger_request(enable) and not domain.is_trigger_request([{"kind": "turnFlagOn"}])


@pytest.mark.parametrize(
    ("instructions", "operating_on", "message"),
    [
        (
            [{**ADD, "instructions": [{"kind": "turnFlagOn"}, {"kind": "turnFlagOff"}]}],
            None,
            "instruction 0 (addTrigger)",
        ),
        ([{**ADD, "comment": 3}], None, "instruction 0 (addTrigger): comment"),
        ([{"kind": "turnFlagOn"}, ADD], None, "instruction 0 (turnFlagOn)"),
        ([ADD, ADD], None, "instruction 0 (addTrigger): must be the only instruction"),
        ([ADD], "t1", "operatingOnId does not go with addTrigger"),
        ([{"kind": "enableTrigger"}, {"kind": "updateTriggerComment", "value": "x"}], "t1", "(updateTriggerComment)"),
        ([{"kind": "enableTrigger"}], None, "operatingOnId is required"),
    ],
)
def test_bad_requests_name_what_is_wrong(
    instructions: list[dict[str, object]], operating_on: str | None, message: str
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        domain.parse_request(instructions, operating_on)
    assert message in refused.value.message
    assert isinstance(refused.value, InstructionError) == ("(" in message)


def test_requests_setting_a_trigger_up_read_in_words() -> None:
    sentences = describe_instructions(
        [
            {**ADD, "comment": "p99 alert"},
            {"kind": "enableTrigger"},
            {"kind": "replaceTriggerActionInstructions", "value": [{"kind": "turnFlagOn"}]},
            {"kind": "addTrigger", "integrationKey": "x", "instructions": "nonsense"},
        ],
        make_flag(),
        "production",
    )
    assert sentences == [
        "Add a trigger for 'datadog': calling its URL will turn the flag off, without review (p99 alert)",
        "Enable the trigger: calling its URL will act without review",
        "Make the trigger turn the flag on instead, without review",
        "Add a trigger for 'x': calling its URL will apply \"nonsense\", without review",
    ]
