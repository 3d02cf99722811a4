"""Fixtures shared by API test modules whose every exchange must validate against LaunchDarkly's
document (registered as a plugin in tests/conftest.py). A module opts in to the check with
``pytestmark = pytest.mark.usefixtures("conforms")`` and records through the ``api`` and ``http`` clients."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import launchdarkly_api
import pytest

from tests.support.openapi import flagward_spec, load_spec, undeclared
from tests.support.recording import Recorder
from tests.support.server import ServerProcess


@pytest.fixture(scope="module")
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture(scope="module")
def api(server: ServerProcess, recorder: Recorder) -> Iterator[launchdarkly_api.ApiClient]:
    """The official client, as the admin, recorded."""
    with recorder.client(server.url, server.admin_token) as api_client:
        yield api_client


@pytest.fixture(scope="module")
def http(server: ServerProcess, recorder: Recorder) -> Iterator[httpx.Client]:
    """httpx, as the admin, recorded."""
    with httpx.Client(
        base_url=server.url,
        headers={"Authorization": server.admin_token},
        event_hooks={"response": [recorder.httpx_hook]},
    ) as client:
        yield client


@pytest.fixture
def conforms(recorder: Recorder) -> Iterator[None]:
    """Whatever a test exchanged must validate against LaunchDarkly's document, and its status must be one
    flagward's own document declares for the operation (so the document never hides an answer)."""
    start = len(recorder.exchanges)
    yield
    spec, ours = load_spec(), flagward_spec()
    problems = [
        p
        for e in recorder.exchanges[start:]
        for p in [
            *spec.problems(e.method, e.url, e.status, e.body, e.content_type),
            *undeclared(ours, e.method, e.url, e.status),
        ]
    ]
    assert problems == [], "\n".join(problems)
