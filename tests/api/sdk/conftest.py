from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.sdk import Rest, rest
from tests.support.server import ServerProcess


@pytest.fixture(scope="module")
def api(server: ServerProcess) -> Iterator[Rest]:
    with rest(server.url, server.admin_token) as client:
        yield client
