"""Server-side SDK delivery against a real server, on SQLite and PostgreSQL: the ``/all`` stream, polling,
and the official Python SDK in both modes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from ldclient import Context
from ldclient.impl.model.feature_flag import FeatureFlag
from ldclient.impl.model.segment import Segment

from tests.support.accounts import unique
from tests.support.sdk import Env, Rest, SseEvent, sdk_client, stream, wait_until
from tests.support.server import ServerProcess


def _variation_id(flag: dict[str, Any], value: Any) -> str:
    return next(v["_id"] for v in flag["variations"] if v["value"] == value)


def _targeted_flag(api: Rest, env: Env) -> tuple[str, str, str]:
    """A flag using every part of the model: targets of two kinds, a rule with a segment clause, a
    percentage rollout, a prerequisite; and the segment it uses."""
    segment = unique("seg")
    api.create_segment(env, segment)
    api.patch_segment(
        env,
        segment,
        [
            {"op": "add", "path": "/included/-", "value": "seg-user"},
            {
                "op": "add",
                "path": "/rules/-",
                "value": {"clauses": [{"attribute": "plan", "op": "in", "values": ["gold"], "negate": False}]},
            },
        ],
    )
    prereq = unique("pre")
    prereq_flag = api.create_flag(env.project, prereq)
    api.turn_on(env.project, prereq, env.key)
    key = unique("full")
    flag = api.create_flag(env.project, key, variations=[{"value": "a"}, {"value": "b"}, {"value": "c"}])
    a, b, c = (_variation_id(flag, v) for v in "abc")
    api.semantic_patch(
        env.project,
        key,
        env.key,
        {"kind": "turnFlagOn"},
        {"kind": "addTargets", "contextKind": "user", "values": ["alice"], "variationId": b},
        {"kind": "addTargets", "contextKind": "org", "values": ["acme"], "variationId": c},
        {
            "kind": "addRule",
            "clauses": [{"attribute": "segmentMatch", "op": "segmentMatch", "values": [segment], "negate": False}],
            "variationId": c,
        },
        {
            "kind": "updateFallthroughVariationOrRollout",
            "rolloutWeights": {a: 60000, b: 40000, c: 0},
            "rolloutBucketBy": "key",
        },
        {"kind": "addPrerequisite", "key": prereq, "variationId": _variation_id(prereq_flag, True)},
        {"kind": "updateTrackEvents", "trackEvents": True},
    )
    return key, segment, prereq


def _first_put(server: ServerProcess, env: Env) -> tuple[SseEvent, Any]:
    with stream(server.url, env.sdk_key) as reader:
        assert reader.status == 200
        assert reader.response_headers is not None
        assert reader.response_headers["content-type"].startswith("text/event-stream")
        assert reader.response_headers.get("transfer-encoding") == "chunked"
        event = reader.next()
        assert event is not None
        return event, event.json()


def test_put_carries_every_flag_and_segment_in_the_sdk_schema(server: ServerProcess, api: Rest) -> None:
    env = api.create_project()["production"]
    flag_key, segment_key, prereq = _targeted_flag(api, env)
    event, body = _first_put(server, env)
    assert event.event == "put"
    assert body["path"] == "/"
    assert set(body["data"]) == {"flags", "segments"}
    flag = body["data"]["flags"][flag_key]
    FeatureFlag(flag)  # the SDK's own strict parser: types, required fields
    Segment(body["data"]["segments"][segment_key])
    assert flag["version"] == 2 and flag["on"] is True and flag["trackEvents"] is True
    assert flag["prerequisites"] == [{"key": prereq, "variation": 0}]
    assert flag["variations"] == ["a", "b", "c"]
    assert flag["targets"] == [{"values": ["alice"], "variation": 1}]
    assert {"contextKind": "org", "variation": 2, "values": ["acme"]} in flag["contextTargets"]
    assert {"contextKind": "user", "variation": 1, "values": []} in flag["contextTargets"]
    (rule,) = flag["rules"]
    assert isinstance(rule["id"], str) and "_id" not in rule
    assert rule["clauses"] == [
        {"attribute": "segmentMatch", "op": "segmentMatch", "values": [segment_key], "negate": False}
    ]
    rollout = flag["fallthrough"]["rollout"]
    assert [(w["variation"], w["weight"]) for w in rollout["variations"]] == [(0, 60000), (1, 40000), (2, 0)]
    segment = body["data"]["segments"][segment_key]
    assert segment["included"] == ["seg-user"] and segment["version"] >= 2
    assert "_id" not in segment["rules"][0] and isinstance(segment["rules"][0]["id"], str)


def test_unknown_sdk_keys_get_401_everywhere(server: ServerProcess) -> None:
    for path in ("/all", "/flags", "/sdk/latest-all", "/sdk/latest-flags", "/sdk/latest-segments/x"):
        response = httpx.get(f"{server.url}{path}", headers={"Authorization": "sdk-no-such-key"})
        assert response.status_code == 401, path
    assert httpx.get(f"{server.url}/sdk/latest-all").status_code == 401


def test_a_mobile_key_is_not_an_sdk_key(server: ServerProcess, api: Rest) -> None:
    env = api.create_project()["test"]
    response = httpx.get(f"{server.url}/sdk/latest-all", headers={"Authorization": env.mobile_key})
    assert response.status_code == 401


def test_python_sdk_initializes_by_streaming_and_sees_every_kind_of_change(server: ServerProcess, api: Rest) -> None:
    env = api.create_project()["production"]
    key = unique("live")
    api.create_flag(env.project, key)
    user = Context.create("bob")
    with sdk_client(server.url, env.sdk_key) as client:
        assert client.is_initialized()
        assert client.variation_detail(key, user, "default").reason == {"kind": "OFF"}
        api.turn_on(env.project, key, env.key)
        wait_until(lambda: client.variation_detail(key, user, "x").reason == {"kind": "FALLTHROUGH"})
        api.semantic_patch(env.project, key, None, {"kind": "archiveFlag"})
        wait_until(lambda: client.variation_detail(key, user, "x").reason.get("errorKind") == "FLAG_NOT_FOUND")
        api.semantic_patch(env.project, key, None, {"kind": "restoreFlag"})
        wait_until(lambda: client.variation_detail(key, user, "x").reason == {"kind": "FALLTHROUGH"})
        api.delete_flag(env.project, key)
        wait_until(lambda: client.variation(key, user, "gone") == "gone")
        api.create_flag(env.project, key, variations=[{"value": "again"}, {"value": "other"}])
        api.turn_on(env.project, key, env.key)
        wait_until(lambda: client.variation(key, user, "gone") == "again")


def test_python_sdk_initializes_by_polling(server: ServerProcess, api: Rest) -> None:
    env = api.create_project()["test"]
    key = unique("polled")
    api.create_flag(env.project, key, variations=[{"value": 1}, {"value": 2}])
    api.turn_on(env.project, key, env.key)
    with sdk_client(server.url, env.sdk_key, stream=False) as client:
        assert client.is_initialized()
        detail = client.variation_detail(key, Context.create("u"), 0)
        assert (detail.value, detail.variation_index, detail.reason) == (1, 0, {"kind": "FALLTHROUGH"})


def test_segment_changes_reach_the_stream(server: ServerProcess, api: Rest) -> None:
    env = api.create_project()["production"]
    segment = unique("seg")
    with stream(server.url, env.sdk_key) as reader:
        assert reader.next().event == "put"  # type: ignore[union-attr]
        api.create_segment(env, segment)
        created = reader.until(lambda e: e.event == "patch")
        assert created.json()["path"] == f"/segments/{segment}"
        version = created.json()["data"]["version"]
        api.patch_segment(env, segment, [{"op": "add", "path": "/included/-", "value": "u9"}])
        patched = reader.until(lambda e: e.event == "patch").json()
        assert patched["data"]["included"] == ["u9"] and patched["data"]["version"] > version
        api.delete_segment(env, segment)
        deleted = reader.until(lambda e: e.event == "delete").json()
        assert deleted == {"path": f"/segments/{segment}", "version": patched["data"]["version"] + 1}


def test_versions_keep_increasing_across_delete_and_recreate(server: ServerProcess, api: Rest) -> None:
    env = api.create_project()["production"]
    key = unique("phoenix")
    api.create_flag(env.project, key)
    api.turn_on(env.project, key, env.key)
    api.delete_flag(env.project, key)
    put = _first_put(server, env)[1]
    assert put["data"]["flags"][key] == {"key": key, "version": 3, "deleted": True}
    api.create_flag(env.project, key)
    latest = httpx.get(f"{server.url}/sdk/latest-flags/{key}", headers={"Authorization": env.sdk_key}).json()
    assert latest["version"] == 4 and latest["deleted"] is False


def test_latest_all_has_an_etag_and_answers_304(server: ServerProcess, api: Rest) -> None:
    env = api.create_project()["production"]
    key = unique("etag")
    api.create_flag(env.project, key)
    url, headers = f"{server.url}/sdk/latest-all", {"Authorization": env.sdk_key}
    first = httpx.get(url, headers=headers)
    assert first.status_code == 200 and first.headers["content-type"] == "application/json"
    assert set(first.json()) == {"flags", "segments"} and key in first.json()["flags"]
    etag = first.headers["etag"]
    assert httpx.get(url, headers={**headers, "If-None-Match": etag}).status_code == 304
    api.turn_on(env.project, key, env.key)
    conditional = {**headers, "If-None-Match": etag}
    changed = wait_until(lambda: (r := httpx.get(url, headers=conditional)).status_code == 200 and r)
    assert changed.headers["etag"] != etag and changed.json()["flags"][key]["on"] is True


def test_per_kind_and_per_item_polling_endpoints(server: ServerProcess, api: Rest) -> None:
    env = api.create_project()["production"]
    key, segment = unique("item"), unique("seg")
    api.create_flag(env.project, key)
    api.create_segment(env, segment)
    headers = {"Authorization": env.sdk_key}

    def get(path: str) -> httpx.Response:
        return httpx.get(f"{server.url}{path}", headers=headers)

    assert set(get("/sdk/latest-flags").json()) == {key}
    assert get(f"/sdk/latest-flags/{key}").json()["key"] == key
    assert set(get("/sdk/latest-segments").json()) == {segment}
    assert get(f"/sdk/latest-segments/{segment}").json()["key"] == segment
    assert get("/sdk/latest-flags/nope").status_code == 404


def test_flags_only_stream_for_older_sdks(server: ServerProcess, api: Rest) -> None:
    env = api.create_project()["production"]
    key = unique("old")
    api.create_flag(env.project, key)
    api.create_segment(env, unique("seg"))
    with stream(server.url, env.sdk_key, "/flags") as reader:
        put = reader.next()
        assert put is not None and put.event == "put"
        assert set(put.json()) == {key}  # a bare flags map
        api.turn_on(env.project, key, env.key)
        patch = reader.until(lambda e: e.event == "patch").json()
        assert patch["path"] == f"/{key}" and patch["data"]["on"] is True


def test_resetting_the_sdk_key_closes_its_streams(server: ServerProcess, api: Rest) -> None:
    env = api.create_project()["production"]
    with stream(server.url, env.sdk_key) as reader:
        assert reader.next() is not None
        new = api.reset_sdk_key(env)
        assert reader.next() is None  # the server ended the stream
    assert httpx.get(f"{server.url}/sdk/latest-all", headers={"Authorization": env.sdk_key}).status_code == 401
    assert httpx.get(f"{server.url}/sdk/latest-all", headers={"Authorization": new.sdk_key}).status_code == 200


@pytest.mark.parametrize("path", ["/bulk", "/diagnostic"])
def test_event_endpoints_accept_with_202(server: ServerProcess, api: Rest, path: str) -> None:
    env = api.create_project()["production"]
    response = httpx.post(f"{server.url}{path}", headers={"Authorization": env.sdk_key}, json=[])
    assert response.status_code == 202
