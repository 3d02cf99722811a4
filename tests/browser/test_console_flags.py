"""The console's flag pages in a real browser: a toggle applied directly where no approval is required,
the same toggle by a writer where it is required becoming an approval request that reaches the
reviewer's inbox, and a reader who is offered no write control. Screenshots of the list, the flag page
and the request confirmation go to tests/artifacts/."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import Person, member
from tests.support.accounts import unique
from tests.support.server import ServerProcess

pytestmark = pytest.mark.slow
SEMANTIC = {"Content-Type": "application/json; domain-model=launchdarkly.semanticpatch"}
DAY_MS = 86_400_000


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server that stores SDK evaluation counts every 0.2 s, so the chart has data without waiting."""
    workdir = tmp_path_factory.mktemp("console-flags")
    url = f"sqlite:///{workdir / 'flagward.db'}"
    extra = {"FLAGWARD_FLAG_STATUS_FLUSH_SECONDS": "0.2"}
    with ServerProcess(database_url=url, workdir=workdir, extra_env=extra) as process:
        yield process


class World:
    """A project with staging (no approval) and production (one approval required), a checkout flag
    with targeting and a week of evaluations in production, and three members."""

    def __init__(self, admin: httpx.Client, browser: Browser, base_url: str) -> None:
        self.admin, self.browser, self.base_url = admin, browser, base_url
        self.project = unique("store")
        environments = [
            {"key": "staging", "name": "Staging", "color": "2e7d32"},
            {"key": "production", "name": "Production", "color": "c62828"},
        ]
        body = {"key": self.project, "name": "Online store", "environments": environments}
        assert admin.post("/api/v2/projects", json=body).status_code == 201
        patch = [{"op": "replace", "path": "/approvalSettings/required", "value": True}]
        response = admin.patch(f"/api/v2/projects/{self.project}/environments/production", json=patch)
        assert response.status_code == 200, response.text
        people = (("Wendy", "writer"), ("Ray", "writer"), ("Rhea", "reader"))
        self.members = {name: member(admin, role, name) for name, role in people}
        self.flag = self._flag("new-checkout", "New checkout", tags=["checkout", "web"])
        for key in ("dark-mode", "search-v2", "free-shipping"):
            self._flag(key, key.replace("-", " ").capitalize(), tags=["web"])
        self._targeting()
        self._evaluations()

    def _flag(self, key: str, name: str, tags: list[str]) -> dict[str, Any]:
        body = {"key": key, "name": name, "tags": tags, "description": "The redesigned checkout, step by step."}
        response = self.admin.post(f"/api/v2/flags/{self.project}", json=body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def patch(self, env: str, *instructions: dict[str, Any]) -> dict[str, Any]:
        body = {"environmentKey": env, "instructions": list(instructions)}
        response = self.admin.patch(f"/api/v2/flags/{self.project}/new-checkout", json=body, headers=SEMANTIC)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def _targeting(self) -> None:
        true, false = (v["_id"] for v in self.flag["variations"])
        staff = {"attribute": "email", "op": "endsWith", "values": ["@example.com"], "negate": False}
        germany = {"attribute": "country", "op": "in", "values": ["de", "at"], "negate": False}
        for env in ("staging", "production"):
            self.patch(
                env,
                {"kind": "addRule", "clauses": [staff], "variationId": true, "description": "Staff"},
                {"kind": "addTargets", "contextKind": "user", "variationId": true, "values": ["alice", "bob"]},
            )
        self.patch(
            "production",
            {"kind": "turnFlagOn"},
            {"kind": "addRule", "clauses": [germany], "rolloutWeights": {true: 25000, false: 75000}},
            {"kind": "updateFallthroughVariationOrRollout", "variationId": false},
        )

    def _evaluations(self) -> None:
        env = self.admin.get(f"/api/v2/projects/{self.project}/environments/production").json()
        now = int(time.time() * 1000)
        events = []
        for days_ago in range(13, -1, -1):
            end = now - days_ago * DAY_MS
            served_true = 400 + 90 * (13 - days_ago)
            counters = [
                {"count": served_true, "value": True, "variation": 0, "version": 1},
                {"count": 1500 - 40 * (13 - days_ago), "value": False, "variation": 1, "version": 1},
            ]
            feature = {"default": False, "contextKinds": ["user"], "counters": counters}
            features = {"new-checkout": feature}
            events.append({"kind": "summary", "startDate": end - 1000, "endDate": end, "features": features})
        response = httpx.post(f"{self.base_url}/bulk", headers={"Authorization": env["apiKey"]}, json=events)
        assert response.status_code == 202, response.text

    def person(self, name: str) -> Person:
        return Person(self.browser, self.base_url, self.members[name]).sign_in()

    def config(self, env: str) -> dict[str, Any]:
        flag: dict[str, Any] = self.admin.get(f"/api/v2/flags/{self.project}/new-checkout").json()
        config: dict[str, Any] = flag["environments"][env]
        return config

    def flag_url(self, env: str) -> str:
        return f"/projects/{self.project}/flags/new-checkout?env={env}"


@pytest.fixture(scope="module")
def world(admin: httpx.Client, browser: Browser, console: ServerProcess) -> World:
    return World(admin, browser, console.url)


def test_a_writer_toggles_a_flag_where_no_approval_is_required(world: World) -> None:
    wendy = world.person("Wendy")
    page = wendy.page
    page.get_by_role("link", name="Flags", exact=True).click()
    if page.get_by_role("link", name="Online store").count():  # the picker, when there are several projects
        page.get_by_role("link", name="Online store").click()
    expect(page.get_by_role("heading", name="Flags")).to_be_visible()
    wendy.shot("flags-list")
    page.get_by_label("Search", exact=True).fill("checkout")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    page.get_by_role("link", name="Staging").click()
    page.get_by_role("link", name="New checkout").click()
    expect(page.locator("#targeting")).to_contain_text("Off")
    assert world.config("staging")["on"] is False

    page.locator("#targeting").get_by_role("button", name="Turn on").click()
    expect(page.get_by_role("status")).to_contain_text("Targeting is on")
    expect(page.locator("#targeting")).to_contain_text("On")
    assert world.config("staging")["on"] is True
    expect(page.get_by_role("region", name="History").locator("li").first).to_contain_text("Turn the flag on")
    wendy.close()


def test_the_same_toggle_by_a_writer_where_approval_is_required_becomes_a_request(world: World) -> None:
    wendy = world.person("Wendy")
    page = wendy.page
    page.goto(world.flag_url("production"))
    expect(page.get_by_role("note")).to_contain_text("Production requires approval")
    expect(page.locator("#targeting").get_by_role("button", name="Turn on")).to_have_count(0)
    wendy.shot("flag-page")

    page.locator("#targeting").get_by_role("button", name="Turn off: request approval…").click()
    expect(page.get_by_role("heading", name="Request approval")).to_be_visible()
    expect(page.get_by_role("note")).to_contain_text("Production requires approval: this creates a request")
    expect(page.locator(".instructions")).to_contain_text("Turn the flag off")
    page.get_by_label("Description").fill("Pause the new checkout in production")
    page.get_by_label("Ray").check()
    wendy.shot("flag-request-confirm")
    page.get_by_role("button", name="Create approval request").click()

    expect(page.get_by_role("heading", name="Pause the new checkout in production")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Your request was created")
    assert world.config("production")["on"] is True  # nothing changed yet
    wendy.close()

    ray = world.person("Ray")
    expect(ray.page.locator("#inbox-body")).to_contain_text("Pause the new checkout in production")
    ray.close()


def test_a_reader_sees_no_write_controls_on_the_flag_page(world: World) -> None:
    rhea = world.person("Rhea")
    page = rhea.page
    page.goto(world.flag_url("staging"))
    expect(page.get_by_role("heading", name="New checkout")).to_be_visible()
    expect(page.get_by_role("note")).to_contain_text("You can read this flag")
    expect(page.locator("form[action$='/change']")).to_have_count(0)
    expect(page.get_by_role("button", name="Turn off")).to_have_count(0)
    expect(page.get_by_text("Add a rule")).to_have_count(0)
    # What the page shows a reader is still the whole story: targeting, every environment, history.
    expect(page.locator(".rules")).to_contain_text("email ends with @example.com")
    expect(page.get_by_role("region", name="Every environment")).to_contain_text("Production")
    rhea.close()
