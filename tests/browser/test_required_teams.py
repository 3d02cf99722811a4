"""Required reviewer teams in a real browser: an admin requires one approval in production, and one from
the Payments team, through the settings form; a request made there shows the team's requirement on its
page, and once a non-member approved, the requester still cannot apply it until a Payments member does."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import Person, member
from tests.browser.test_console import World
from tests.support.accounts import unique
from tests.support.server import ServerProcess

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world(admin: httpx.Client, browser: Browser, console: ServerProcess) -> Iterator[World]:
    yield World(admin, browser, console.url)


def test_a_required_team_set_in_settings_governs_a_request_page(world: World) -> None:
    team = unique("payments")
    payers = [world.members["Ada"]["_id"]]
    created = world.admin.post("/api/v2/teams", json={"key": team, "name": "Payments", "memberIDs": payers})
    assert created.status_code == 201, created.text

    ava = Person(world.browser, world.base_url, member(world.admin, "admin", "Ava")).sign_in()
    ava.page.goto(f"/projects/{world.project}/settings")
    production = ava.page.locator("#env-production")
    production.get_by_label("Approvals needed").select_option("1")
    production.get_by_label("Payments").select_option("1")
    production.get_by_role("button", name="Save Production approvals").click()
    expect(ava.page.get_by_text("The approval settings of Production were saved.")).to_be_visible()
    settings = world.admin.get(f"/api/v2/projects/{world.project}/environments/production").json()
    assert settings["approvalSettings"]["requiredReviewers"] == [{"teamKey": team, "minApprovals": 1}]
    ava.shot("settings-required-teams")
    ava.close()

    world.flag("wallet")
    rita = world.person("Rita")
    request_id = world.copy_request(rita, "wallet", reviewers=["Bo"])
    bo = world.person("Bo")
    bo.page.goto(f"/approvals/{request_id}")
    bo.page.get_by_role("button", name="Approve").click()
    expect(bo.page.get_by_text("You approved this request.")).to_be_visible()
    bo.close()

    ada = world.person("Ada")
    row = ada.page.locator("tr", has=ada.page.get_by_role("link", name="Promote wallet to production"))
    expect(row).to_contain_text(f"team {team}: 0 of 1")  # her inbox says which team is still short
    ada.page.goto(f"/approvals/{request_id}")
    card = ada.page.locator("section", has=ada.page.get_by_role("heading", name="Required teams"))
    expect(card).to_contain_text("Payments 0 of 1")
    expect(card).to_contain_text("Needs 1 more")
    ada.shot("request-required-teams")

    rita.page.goto(f"/approvals/{request_id}")
    apply = rita.page.get_by_role("button", name="Apply change")
    expect(apply).to_be_disabled()
    expect(rita.page.locator("#why-apply")).to_contain_text(f"needs 1 approval from team {team}, has 0")

    ada.page.get_by_role("button", name="Approve").click()
    expect(ada.page.get_by_text("You approved this request.")).to_be_visible()
    expect(card).to_contain_text("Payments 1 of 1")
    expect(card).to_contain_text("Met")
    ada.close()

    rita.page.reload()
    rita.page.get_by_role("button", name="Apply change").click()
    expect(rita.page.get_by_text("The change was applied.")).to_be_visible()
    assert world.config("wallet", "production")["rules"] != []
    rita.close()
