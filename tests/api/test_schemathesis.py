"""A bounded schemathesis run against a real server's ``/openapi.json``: stateless (every operation) and
stateful (sequences linked by the document), checking only that no request gets a server error (5xx).
Schema conformance is left to the contract tests. The server is seeded with a project, its environments,
a flag, a segment and a team, and path parameters name them, so that requests reach real code paths
rather than stopping at 404."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.generation import overrides

from tests.support.server import ServerProcess

PROJECT, ENV, FLAG, SEGMENT = "fuzz", "production", "fuzz-flag", "fuzz-segment"
# Bounded for CI (2 cores): a few examples per operation, short stateful runs.
STATELESS = settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
STATEFUL = settings(
    max_examples=15,
    stateful_step_count=8,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def fuzz_server(module_store_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(database_url=module_store_url, workdir=tmp_path_factory.mktemp("server")) as process:
        _seed(process)
        yield process


def _seed(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url, headers={"Authorization": server.admin_token}) as http:
        for method, path, body in (
            ("POST", "/api/v2/projects", {"key": PROJECT, "name": "Fuzz"}),
            ("POST", f"/api/v2/flags/{PROJECT}", {"key": FLAG, "name": "Fuzz flag", "tags": ["fuzz"]}),
            ("POST", f"/api/v2/segments/{PROJECT}/{ENV}", {"key": SEGMENT, "name": "Fuzz segment"}),
            ("POST", "/api/v2/teams", {"key": "fuzz-team", "name": "Fuzz team"}),
        ):
            response = http.request(method, path, json=body)
            assert response.status_code == 201, response.text


@pytest.fixture(scope="module")
def fuzz_schema(fuzz_server: ServerProcess) -> Any:
    config = schemathesis.Config.from_dict(
        {
            "base-url": fuzz_server.url,
            "headers": {"Authorization": fuzz_server.admin_token},
            "parameters": {
                "projectKey": PROJECT,
                "projKey": PROJECT,
                "environmentKey": ENV,
                "envKey": ENV,
                "featureFlagKey": FLAG,
                "flagKey": FLAG,
                "segmentKey": SEGMENT,
                "teamKey": "fuzz-team",
            },
        }
    )
    return schemathesis.openapi.from_url(f"{fuzz_server.url}/openapi.json", config=config)


def _seeded(fuzz_schema: Any, operation: Any) -> Any:
    """The path parameters naming the seeded resources, for ``operation``."""
    return overrides.for_operation(fuzz_schema.config, operation=operation)


def _server_error(case: Any, response: Any) -> str:
    return f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}"


def test_no_operation_answers_a_server_error(fuzz_schema: Any) -> None:
    errors: list[str] = []
    # Deletions last: deleting the seeded project first would leave every other operation a 404.
    operations = sorted(
        (r.ok() for r in fuzz_schema.get_all_operations()), key=lambda o: (o.method == "delete", o.path)
    )
    for operation in operations:

        @STATELESS
        @given(case=operation.as_strategy(**_seeded(fuzz_schema, operation).as_strategy_kwargs()))
        def call(case: Any) -> None:
            response = case.call()
            if response.status_code >= 500:
                errors.append(_server_error(case, response))

        call()
    assert errors == [], "\n".join(sorted(set(errors)))


def test_no_sequence_of_operations_answers_a_server_error(fuzz_schema: Any) -> None:
    # Server errors are collected, not raised: the server's state outlives each sequence, so Hypothesis
    # could not replay a failing one (it would report a flaky strategy and hide the 5xx).
    errors: list[str] = []

    class Machine(fuzz_schema.as_state_machine()):  # type: ignore[misc]
        def before_call(self, case: Any) -> None:
            _seeded(fuzz_schema, case.operation).apply_to(case)

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            if response.status_code >= 500:
                errors.append(_server_error(case, response))

    Machine.run(settings=STATEFUL)
    assert errors == [], "\n".join(sorted(set(errors)))
