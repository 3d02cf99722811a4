"""The official ``launchdarkly-api`` client, pointed at a flagward server."""

from __future__ import annotations

import launchdarkly_api


def client(base_url: str, token: str) -> launchdarkly_api.ApiClient:
    configuration = launchdarkly_api.Configuration(host=base_url, api_key={"ApiKey": token})
    return launchdarkly_api.ApiClient(configuration)
