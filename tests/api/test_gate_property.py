"""The approval gate as a property: whatever a writer does, through any write route in any order, the
SDK payload of every environment that requires approval stays what it was, unless an applied approval
request changed it.

A Hypothesis state machine drives random sequences of a writer's writes (semantic, JSON and merge
patch, copy, create, delete, archive/restore, tags, variations, prerequisites, segments, members and
teams), approval requests (created by one writer, approved by another, applied) and an admin's changes
(which bypass approval and so move the baseline, reaching states a writer alone cannot). After every
step it reads ``/sdk/latest-all`` with each environment's SDK key, versions and dates stripped:

- production requires approval for every flag and every segment: every item must be unchanged, except
  that a flag may appear off and without targeting (a creation: a new flag serves its off variation);
- test requires approval for flags tagged ``gated``: every flag tagged so before or after the step must
  be unchanged (segments in test need no approval, and may change).

In process (ASGI, one SQLite file) with bounded examples, so it runs in seconds.
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from flagward.domain.governance import is_plain_off
from flagward.streaming.source import ServiceSource
from tests.support.accounts import unique
from tests.support.inprocess import ADMIN, World, in_process_world

SEMANTIC = {"Content-Type": "application/json; domain-model=launchdarkly.semanticpatch"}
ENVS = ("production", "test")
FLAGS = ("a", "m", "t", "n")  # boolean, multivariate, tagged "gated", not created at first
SEGMENTS = ("s", "s2")
STRIP = ("version", "debugEventsUntilDate", "lastModified")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with in_process_world(tmp_path_factory.mktemp("gate") / "gate.db") as world:
        yield world


def _stripped(items: dict[str, Any]) -> dict[str, Any]:
    """Items without versions and dates; a tombstone (deleted or archived) is absence."""
    return {k: {f: v for f, v in item.items() if f not in STRIP} for k, item in items.items() if not item["deleted"]}


class GateModel(RuleBasedStateMachine):
    """The gated project, the invariant, approval requests (made, reviewed, applied) and an admin's
    changes; ``GateMachine`` adds a writer's direct writes, ``test_gate_property_automations`` the routes
    that change flags later or by themselves."""

    world: World

    # -- setting up -------------------------------------------------------------------------------

    @initialize()
    def arrange(self) -> None:
        self.project = unique("prop")
        self.request("POST", "/api/v2/projects", ADMIN, json={"key": self.project, "name": "Property"}, ok=True)
        base = f"/api/v2/projects/{self.project}/environments"
        self.request("PATCH", f"{base}/production", ADMIN, ok=True, json=[_replace("/approvalSettings/required", True)])
        self.request(
            "PATCH",
            f"{base}/test",
            ADMIN,
            ok=True,
            json=[_replace("/approvalSettings/requiredApprovalTags", ["gated"])],
        )
        settings_body = {"environmentKey": "production", "resourceKind": "segment", "required": True}
        self.request(
            "PATCH",
            f"/api/v2/approval-requests/projects/{self.project}/settings",
            ADMIN,
            json=settings_body,
            headers={"LD-API-Version": "beta"},
            ok=True,
        )
        self.envs = {env: self.request("GET", f"{base}/{env}", ADMIN, ok=True).json() for env in ENVS}
        multivariate = {"variations": [{"value": "x"}, {"value": "y"}, {"value": "z"}]}
        for key, extra in (("a", {}), ("m", multivariate), ("t", {"tags": ["gated"]})):
            self.request(
                "POST", f"/api/v2/flags/{self.project}", ADMIN, json={"key": key, "name": key, **extra}, ok=True
            )
        for env in ENVS:
            for key in SEGMENTS:
                body = {"key": key, "name": key}
                self.request("POST", f"/api/v2/segments/{self.project}/{env}", ADMIN, json=body, ok=True)
        self.requests: list[tuple[str, str, str]] = []  # (flag, env, id) of approval requests
        self.approved: set[str] = set()  # the ids of those another writer approved
        self.gated_in_test = {"t"}
        self.baseline = self.payloads()

    # -- helpers ----------------------------------------------------------------------------------

    def request(self, method: str, url: str, token: str, *, ok: bool = False, **kwargs: Any) -> Any:
        headers = {"Authorization": token, **kwargs.pop("headers", {})}
        response = self.world.client.request(method, url, headers=headers, **kwargs)
        assert response.status_code < 500, (method, url, response.text)
        if ok:
            assert response.status_code < 300, (method, url, response.text)
        return response

    def writer(self, index: int = 0) -> str:
        return self.world.writers[index]

    def flag(self, key: str) -> dict[str, Any] | None:
        response = self.request("GET", f"/api/v2/flags/{self.project}/{key}", ADMIN)
        return response.json() if response.status_code == 200 else None

    def payloads(self) -> dict[str, dict[str, Any]]:
        """``/sdk/latest-all`` of each environment once it shows what the store holds (the hub applies
        changes asynchronously), stripped."""
        result = {}
        source = ServiceSource(self.world.services.deps)
        for env, doc in self.envs.items():
            snapshot = source.snapshot(doc["_id"])
            assert snapshot is not None
            expected = json.loads(json.dumps({"flags": snapshot.flags, "segments": snapshot.segments}))
            deadline = time.monotonic() + 10
            while True:
                body = self.request("GET", "/sdk/latest-all", doc["apiKey"], ok=True).json()
                if body == expected or time.monotonic() > deadline:
                    break
                time.sleep(0.01)
            assert body == expected, "the SDK payload never caught up with the store"
            result[env] = {kind: _stripped(items) for kind, items in body.items()}
        return result

    def tags(self) -> dict[str, set[str]]:
        return {key: set(flag["tags"]) for key in FLAGS if (flag := self.flag(key)) is not None}

    def ids(self, key: str) -> list[str]:
        flag = self.flag(key)
        return [v["_id"] for v in flag["variations"]] if flag else ["none", "none"]

    def moved(self) -> None:
        """A change that may change what gated environments serve, by an admin."""
        self.baseline = self.payloads()
        self.gated_in_test = self.tagged_gated()

    # -- the invariant ----------------------------------------------------------------------------

    @invariant()
    def gated_payloads_are_unchanged(self) -> None:
        if hasattr(self, "baseline"):
            self.check()

    def check(self, approved_environment: str | None = None, allowed: Collection[tuple[str, str]] = ()) -> None:
        """Compare with the baseline and move it; ``approved_environment`` may have changed freely, and so
        may the flags ``allowed`` names (environment, flag key)."""
        before, after, tagged = self.baseline, self.payloads(), self.tagged_gated()
        gated = {"production": None, "test": self.gated_in_test | tagged}
        for env, keys in gated.items():
            if env == approved_environment:
                continue
            for key in keys or set(before[env]["flags"]) | set(after[env]["flags"]):
                if (env, key) in allowed:
                    continue
                old, new = before[env]["flags"].get(key), after[env]["flags"].get(key)
                if old != new:
                    assert old is None and is_plain_off(new), f"{env} now serves flag {key} differently: {old} -> {new}"
        if approved_environment != "production":
            # New segments may appear (empty); existing ones stay as they are.
            assert before["production"]["segments"].items() <= after["production"]["segments"].items()
        self.baseline = after
        self.gated_in_test = tagged

    def tagged_gated(self) -> set[str]:
        return {k for k, tags in self.tags().items() if "gated" in tags}

    # -- approval requests ------------------------------------------------------------------------

    @rule(key=st.sampled_from(FLAGS), env=st.sampled_from(ENVS), data=st.data())
    def request_change(self, key: str, env: str, data: st.DataObject) -> None:
        ids = self.ids(key)
        instruction = data.draw(
            st.sampled_from(
                [
                    {"kind": "turnFlagOn"},
                    {"kind": "updateVariation", "variationId": ids[-1], "value": "approved"},
                    {"kind": "addVariation", "value": "approved-new"},
                    {"kind": "removeTags", "values": ["gated"]},
                    {"kind": "archiveFlag"},
                    {"kind": "restoreFlag"},
                    {"kind": "deleteFlag"},
                ]
            )
        )
        url = f"/api/v2/projects/{self.project}/flags/{key}/environments/{env}/approval-requests"
        body = {"description": "change", "instructions": [instruction]}
        response = self.request("POST", url, self.writer(0), json=body)
        if response.status_code == 201:
            self.requests.append((key, env, response.json()["_id"]))

    @rule(data=st.data())
    def review(self, data: st.DataObject) -> None:
        if self.requests:
            key, env, request_id = data.draw(st.sampled_from(self.requests))
            url = f"/api/v2/projects/{self.project}/flags/{key}/environments/{env}/approval-requests/{request_id}"
            response = self.request("POST", f"{url}/reviews", self.writer(1), json={"kind": "approve"})
            if response.status_code == 200:
                self.approved.add(request_id)

    @rule(data=st.data())
    def apply(self, data: st.DataObject) -> None:
        if not self.requests:
            return
        key, env, request_id = data.draw(st.sampled_from(self.requests))
        url = f"/api/v2/projects/{self.project}/flags/{key}/environments/{env}/approval-requests/{request_id}"
        response = self.request("POST", f"{url}/apply", self.writer(0), json={})
        if response.status_code == 200:
            assert request_id in self.approved, "a request nobody else approved was applied"
            assert response.json()["status"] == "completed"
            read = self.request("GET", f"/api/v2/approval-requests/{request_id}", self.writer(0), ok=True)
            assert read.json()["status"] == "completed"  # also when its apply deleted the flag
            # The approval covers its own environment: the others must not have moved.
            self.check(approved_environment=env)
            self.applied(request_id)

    def applied(self, request_id: str) -> None:
        """An approved request was applied (subclasses keep their model of what it set up)."""

    # -- an admin, who bypasses approval ----------------------------------------------------------

    @rule(key=st.sampled_from(FLAGS), env=st.sampled_from(ENVS), data=st.data())
    def admin_change(self, key: str, env: str, data: st.DataObject) -> None:
        ids = self.ids(key)
        other = data.draw(st.sampled_from([k for k in FLAGS if k != key]))
        instruction = data.draw(
            st.sampled_from(
                [
                    {"kind": "turnFlagOn"},
                    {"kind": "archiveFlag"},
                    {"kind": "addTags", "values": ["gated"]},
                    {"kind": "addPrerequisite", "key": other, "variationId": self.ids(other)[0]},
                    {"kind": "addUserTargets", "values": ["u1"], "variationId": ids[0]},
                ]
            )
        )
        body = {"environmentKey": env, "instructions": [instruction]}
        response = self.request(
            "PATCH", f"/api/v2/flags/{self.project}/{key}", self.world.admin, content=json.dumps(body), headers=SEMANTIC
        )
        if response.status_code == 200:
            self.moved()


class GateMachine(GateModel):
    """Every rule of ``GateModel`` and a writer's direct writes."""

    # -- a writer's direct writes -----------------------------------------------------------------

    @rule(key=st.sampled_from(FLAGS), env=st.sampled_from((*ENVS, None)), data=st.data())
    def semantic_patch(self, key: str, env: str | None, data: st.DataObject) -> None:
        ids = self.ids(key)
        other = data.draw(st.sampled_from([k for k in FLAGS if k != key]))
        other_ids = self.ids(other)
        instruction = data.draw(
            st.sampled_from(
                [
                    {"kind": "turnFlagOn"},
                    {"kind": "turnFlagOff"},
                    {"kind": "updateName", "value": "renamed"},
                    {"kind": "addTags", "values": ["gated"]},
                    {"kind": "removeTags", "values": ["gated"]},
                    {"kind": "addTags", "values": ["other"]},
                    {"kind": "archiveFlag"},
                    {"kind": "restoreFlag"},
                    {"kind": "deleteFlag"},
                    {"kind": "updateVariation", "variationId": ids[-1], "value": "changed"},
                    {"kind": "updateVariation", "variationId": ids[0], "name": "just a name"},
                    {"kind": "addVariation", "value": "added"},
                    {"kind": "removeVariation", "variationId": ids[-1]},
                    {"kind": "turnOnClientSideAvailability", "value": "usingEnvironmentId"},
                    {"kind": "turnOffClientSideAvailability", "value": "usingMobileKey"},
                    {"kind": "updateOffVariation", "variationId": ids[0]},
                    {"kind": "addPrerequisite", "key": other, "variationId": other_ids[0]},
                    {"kind": "addUserTargets", "values": ["u1"], "variationId": ids[0]},
                    {"kind": "updateDescription", "value": "described"},
                ]
            )
        )
        body: dict[str, Any] = {"instructions": [instruction]}
        if env is not None:
            body["environmentKey"] = env
        url = f"/api/v2/flags/{self.project}/{key}"
        self.request("PATCH", url, self.writer(), content=json.dumps(body), headers=SEMANTIC)

    @rule(key=st.sampled_from(FLAGS), env=st.sampled_from(ENVS), data=st.data())
    def json_patch(self, key: str, env: str, data: st.DataObject) -> None:
        flag = self.flag(key)
        values = [v["value"] for v in flag["variations"]] if flag else [True, False]
        patch = data.draw(
            st.sampled_from(
                [
                    [_replace("/variations/0/value", values[1]), _replace("/variations/1/value", values[0])],
                    [_replace(f"/variations/{len(values) - 1}/value", "other")],
                    [_replace(f"/environments/{env}/on", True)],
                    [_replace("/tags", [])],
                    [_replace("/tags", ["gated"])],
                    [_replace("/archived", True)],
                    [_replace("/archived", False)],
                    [_replace("/name", "by json patch")],
                    [_replace("/clientSideAvailability/usingEnvironmentId", True)],
                    [{"op": "add", "path": f"/environments/{env}/rules/-", "value": {"clauses": [], "variation": 0}}],
                ]
            )
        )
        self.request("PATCH", f"/api/v2/flags/{self.project}/{key}", self.writer(), json=patch)

    @rule(key=st.sampled_from(FLAGS), env=st.sampled_from(ENVS), data=st.data())
    def merge_patch(self, key: str, env: str, data: st.DataObject) -> None:
        merge = data.draw(
            st.sampled_from(
                [
                    {"tags": []},
                    {"tags": ["gated", "x"]},
                    {"archived": True},
                    {"description": "merged"},
                    {"environments": {env: {"on": True}}},
                    {"environments": {env: {"offVariation": 0}}},
                ]
            )
        )
        self.request("PATCH", f"/api/v2/flags/{self.project}/{key}", self.writer(), json={"merge": merge})

    @rule(key=st.sampled_from(FLAGS), source=st.sampled_from(ENVS))
    def copy(self, key: str, source: str) -> None:
        target = "test" if source == "production" else "production"
        body = {"source": {"key": source}, "target": {"key": target}}
        self.request("POST", f"/api/v2/flags/{self.project}/{key}/copy", self.writer(), json=body)

    @rule(key=st.sampled_from(FLAGS), on=st.booleans(), tagged=st.booleans())
    def create(self, key: str, on: bool, tagged: bool) -> None:
        body = {"key": key, "name": key, "isFlagOn": on, "tags": ["gated"] if tagged else []}
        self.request("POST", f"/api/v2/flags/{self.project}", self.writer(), json=body)

    @rule(key=st.sampled_from(FLAGS))
    def delete(self, key: str) -> None:
        self.request("DELETE", f"/api/v2/flags/{self.project}/{key}", self.writer())

    @rule(key=st.sampled_from(SEGMENTS), env=st.sampled_from(ENVS), data=st.data())
    def segment(self, key: str, env: str, data: st.DataObject) -> None:
        url = f"/api/v2/segments/{self.project}/{env}/{key}"
        action = data.draw(st.sampled_from(["include", "semantic", "delete", "create"]))
        if action == "include":
            self.request("PATCH", url, self.writer(), json=[{"op": "add", "path": "/included/-", "value": "u1"}])
        elif action == "semantic":
            body = {"instructions": [{"kind": "addIncludedTargets", "contextKind": "user", "values": ["u2"]}]}
            self.request("PATCH", url, self.writer(), content=json.dumps(body), headers=SEMANTIC)
        elif action == "delete":
            self.request("DELETE", url, self.writer())
        else:
            self.request(
                "POST", f"/api/v2/segments/{self.project}/{env}", self.writer(), json={"key": key, "name": key}
            )

    @rule(what=st.sampled_from(["member", "team"]))
    def accounts(self, what: str) -> None:
        if what == "member":
            body: Any = [{"email": f"{unique('m')}@example.com", "role": "admin"}]
            self.request("POST", "/api/v2/members", self.writer(), json=body)
        else:
            self.request("POST", "/api/v2/teams", self.writer(), json={"key": unique("team"), "name": "Team"})


def _replace(path: str, value: Any) -> dict[str, Any]:
    return {"op": "replace", "path": path, "value": value}


def test_a_writer_never_changes_what_an_approval_required_environment_serves(world: World) -> None:
    GateMachine.world = world
    run_state_machine_as_test(
        GateMachine,
        settings=settings(
            max_examples=12,
            stateful_step_count=12,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
