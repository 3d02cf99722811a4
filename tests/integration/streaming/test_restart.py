"""A server restarting under a connected SDK: the SDK reconnects and sees what changed while it was away."""

from __future__ import annotations

from pathlib import Path

import pytest
from ldclient import Context

from tests.support.accounts import unique
from tests.support.sdk import rest, sdk_client, wait_until
from tests.support.server import ServerProcess

pytestmark = pytest.mark.slow


def test_the_sdk_recovers_after_a_restart_and_sees_changes_made_meanwhile(store_url: str, tmp_path: Path) -> None:
    server = ServerProcess(database_url=store_url, workdir=tmp_path).start()
    try:
        with rest(server.url, server.admin_token) as api:
            env = api.create_project()["production"]
            key = unique("restart")
            api.create_flag(env.project, key)
        user = Context.create("patient")
        with sdk_client(server.url, env.sdk_key) as client:
            assert client.variation_detail(key, user, None).reason == {"kind": "OFF"}
            server.stop()
            # While it is down, another process changes the flag.
            with (
                ServerProcess(database_url=store_url, workdir=tmp_path) as other,
                rest(other.url, other.admin_token) as api,
            ):
                api.turn_on(env.project, key, env.key)
            assert client.variation_detail(key, user, None).reason == {"kind": "OFF"}  # it cannot know yet
            server.start()  # the same port
            wait_until(lambda: client.variation_detail(key, user, None).reason == {"kind": "FALLTHROUGH"}, timeout=60)
            with rest(server.url, server.admin_token) as api:
                api.semantic_patch(env.project, key, env.key, {"kind": "turnFlagOff"})
            wait_until(lambda: client.variation_detail(key, user, None).reason == {"kind": "OFF"})
    finally:
        server.stop()
