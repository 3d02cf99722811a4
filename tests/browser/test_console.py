"""The reviewer console in a real browser: signing in, the promotion story by three people, refusals
shown with their reasons, a conflicting direct change on the request page, and a reader's view."""

from __future__ import annotations

import re
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
RULE = {
    "kind": "addRule",
    "clauses": [{"attribute": "email", "op": "endsWith", "values": ["@example.com"], "negate": False}],
    "variationId": None,  # filled with the flag's true variation
    "description": "Staff",
}

GERMANY = {"attribute": "country", "op": "in", "values": ["de"], "negate": False}


class World:
    """A project with staging and production (production needs two approvals) and four members."""

    def __init__(self, admin: httpx.Client, browser: Browser, base_url: str) -> None:
        self.admin, self.browser, self.base_url = admin, browser, base_url
        self.project = unique("shop")
        environments = [
            {"key": "staging", "name": "Staging", "color": "2e7d32"},
            {"key": "production", "name": "Production", "color": "c62828"},
        ]
        body = {"key": self.project, "name": "Web shop", "environments": environments}
        assert admin.post("/api/v2/projects", json=body).status_code == 201
        settings = {"environmentKey": "production", "resourceKind": "flag", "required": True, "minNumApprovals": 2}
        response = admin.patch(
            f"/api/v2/approval-requests/projects/{self.project}/settings",
            json=settings,
            headers={"LD-API-Version": "beta"},
        )
        assert response.status_code == 200, response.text
        self.members = {
            name: member(admin, role, name)
            for name, role in (("Rita", "writer"), ("Ada", "writer"), ("Bo", "writer"), ("Remy", "reader"))
        }

    def person(self, name: str) -> Person:
        return Person(self.browser, self.base_url, self.members[name]).sign_in()

    def flag(self, key: str) -> dict[str, Any]:
        response = self.admin.post(f"/api/v2/flags/{self.project}", json={"key": key, "name": key.title()})
        assert response.status_code == 201, response.text
        flag: dict[str, Any] = response.json()
        rule = {**RULE, "variationId": flag["variations"][0]["_id"]}
        self.patch(key, "staging", {"kind": "turnFlagOn"}, rule)
        return flag

    def patch(self, key: str, env: str, *instructions: dict[str, Any], query: str = "") -> dict[str, Any]:
        body = {"environmentKey": env, "instructions": list(instructions)}
        response = self.admin.patch(f"/api/v2/flags/{self.project}/{key}{query}", json=body, headers=SEMANTIC)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def copy_request(self, requester: Person, key: str, reviewers: list[str]) -> str:
        body = {
            "description": f"Promote {key} to production",
            "source": {"key": "staging"},
            "notifyMemberIds": [self.members[r]["_id"] for r in reviewers],
        }
        path = f"/api/v2/projects/{self.project}/flags/{key}/environments/production/approval-requests-flag-copy"
        with requester.api() as api:
            response = api.post(path, json=body)
        assert response.status_code == 201, response.text
        request_id: str = response.json()["_id"]
        return request_id

    def config(self, key: str, env: str) -> dict[str, Any]:
        response = self.admin.get(f"/api/v2/flags/{self.project}/{key}", params={"env": env})
        config: dict[str, Any] = response.json()["environments"][env]
        return config


@pytest.fixture(scope="module")
def world(admin: httpx.Client, browser: Browser, console: ServerProcess) -> Iterator[World]:
    yield World(admin, browser, console.url)


def test_sign_in_and_out(world: World) -> None:
    ada = world.person("Ada")
    expect(ada.page.get_by_role("heading", name="Approvals")).to_be_visible()
    expect(ada.page.get_by_role("navigation", name="Main").get_by_role("link", name="Approvals")).to_have_attribute(
        "aria-current", "page"
    )
    ada.page.get_by_role("button", name="Sign out").click()
    expect(ada.page.get_by_text("You are signed out.")).to_be_visible()
    ada.page.goto("/approvals")
    expect(ada.page).to_have_url(re.compile(r"/sign-in\?next=%2Fapprovals$"))
    ada.close()


def test_promotion_by_three_people(world: World) -> None:
    world.flag("checkout")
    rita, ada, bo = world.person("Rita"), world.person("Ada"), world.person("Bo")
    request_id = world.copy_request(rita, "checkout", ["Ada", "Bo"])

    # The requester cannot approve their own request, and cannot apply it yet: both say why.
    rita.page.goto(f"/approvals/{request_id}")
    expect(rita.page.get_by_role("button", name="Approve")).to_be_disabled()
    expect(rita.page.get_by_text("Can't approve or decline: you requested this change.")).to_be_visible()
    expect(rita.page.get_by_role("button", name="Apply change")).to_be_disabled()
    expect(rita.page.get_by_text("Can't apply: needs 2 approvals, has 0.")).to_be_visible()

    # The reviewers find it waiting for them; the inbox updates without a reload.
    expect(ada.page.get_by_role("link", name="Promote checkout to production")).to_be_visible(timeout=12_000)
    ada.shot("inbox")
    ada.page.get_by_role("link", name="Promote checkout to production").click()
    expect(ada.page.get_by_role("heading", name="Targeting, side by side")).to_be_visible()
    expect(ada.page.locator("table.diff tr.is-changed").first).to_be_visible()
    ada.shot("request-page")
    ada.page.get_by_label("Comment").fill("Looks right; staging has run it for a week.")
    ada.page.get_by_role("button", name="Approve").click()
    expect(ada.page.get_by_text("You approved this request.")).to_be_visible()

    bo.page.goto(f"/approvals/{request_id}")
    bo.page.get_by_role("button", name="Approve").click()
    expect(bo.page.get_by_text("You approved this request.")).to_be_visible()

    rita.page.goto(f"/approvals/{request_id}")
    rita.page.get_by_role("button", name="Apply change").click()
    expect(rita.page.get_by_text("The change was applied.")).to_be_visible()
    expect(rita.page.locator(".page-head .badge-completed")).to_have_text(re.compile("Completed"))

    staging, production = world.config("checkout", "staging"), world.config("checkout", "production")
    for part in ("on", "fallthrough", "offVariation", "targets"):
        assert production[part] == staging[part], part
    strip = [{k: v for k, v in r.items() if k not in ("_id", "clauses")} for r in staging["rules"]]
    assert [{k: v for k, v in r.items() if k not in ("_id", "clauses")} for r in production["rules"]] == strip
    for person in (rita, ada, bo):
        person.close()


def test_a_conflicting_direct_change_shows_on_the_request_page(world: World) -> None:
    flag = world.flag("banner")
    rule = {**RULE, "variationId": flag["variations"][0]["_id"]}
    after = world.patch("banner", "production", rule)
    rule_id = after["environments"]["production"]["rules"][0]["_id"]
    rita, ada = world.person("Rita"), world.person("Ada")
    body = {
        "description": "Narrow the staff rule to Germany",
        "instructions": [{"kind": "addClauses", "ruleId": rule_id, "clauses": [GERMANY]}],
        "notifyMemberIds": [world.members["Ada"]["_id"]],
    }
    path = f"/api/v2/projects/{world.project}/flags/banner/environments/production/approval-requests"
    with rita.api() as api:
        created = api.post(path, json=body)
    assert created.status_code == 201, created.text
    # An admin changes production directly, removing the rule the request changes.
    world.patch("banner", "production", {"kind": "removeRule", "ruleId": rule_id}, query="?ignoreConflicts=true")

    ada.page.goto(f"/approvals/{created.json()['_id']}")
    expect(ada.page.get_by_role("heading", name="Conflicts")).to_be_visible()
    expect(ada.page.get_by_text(re.compile("No longer applies cleanly"))).to_be_visible()
    expect(ada.page.get_by_role("columnheader", name=re.compile(r"When requested \(v"))).to_be_visible()
    ada.shot("request-conflict")
    rita.close()
    ada.close()


def test_a_reader_sees_no_write_controls(world: World) -> None:
    world.flag("footer")
    rita, remy = world.person("Rita"), world.person("Remy")
    request_id = world.copy_request(rita, "footer", ["Ada"])
    remy.page.goto(f"/approvals/{request_id}")
    expect(remy.page.get_by_text("You have read-only access")).to_be_visible()
    for name in ("Approve", "Decline", "Comment", "Apply change", "Delete request"):
        expect(remy.page.get_by_role("button", name=name)).to_have_count(0)
    remy.page.goto("/approvals?tab=all")
    expect(remy.page.get_by_role("link", name="Promote footer to production")).to_be_visible()
    rita.close()
    remy.close()


def test_a_form_without_its_csrf_token_is_refused(world: World, console: ServerProcess) -> None:
    world.flag("sidebar")
    rita, ada = world.person("Rita"), world.person("Ada")
    request_id = world.copy_request(rita, "sidebar", ["Ada"])
    with ada.api() as api:
        forged = api.post(f"/approvals/{request_id}/review", data={"kind": "approve", "csrf_token": "guess"})
        assert forged.status_code == 403
        assert "form has expired" in forged.text
        assert api.get(f"/api/v2/approval-requests/{request_id}").json()["reviewStatus"] == "pending"
    rita.close()
    ada.close()


def test_pages_need_a_session(console: ServerProcess) -> None:
    response = httpx.get(f"{console.url}/approvals?tab=all", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?next=%2Fapprovals%3Ftab%3Dall"
    partial = httpx.get(f"{console.url}/approvals/list", headers={"HX-Request": "true"}, follow_redirects=False)
    assert partial.headers["HX-Redirect"].startswith("/sign-in")
