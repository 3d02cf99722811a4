"""The audit log and environment settings in a real browser: an admin changes an environment's approval
rules through the form (the same service and audit entry as the REST API's PATCH), reveals an SDK key,
and finds the change, as a readable diff, in the audit log under a banner saying the chain verifies;
a reader sees the rules without a form."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import Person, member
from tests.browser.test_console import World
from tests.support.server import ServerProcess

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world(admin: httpx.Client, browser: Browser, console: ServerProcess) -> Iterator[World]:
    yield World(admin, browser, console.url)


def test_settings_and_the_audit_log(world: World) -> None:
    world.flag("toast")  # an audited targeting change in staging, by the admin token
    ava = Person(world.browser, world.base_url, member(world.admin, "admin", "Ava")).sign_in()
    page = ava.page
    page.goto("/settings")
    staging = page.locator("#env-staging")
    staging.get_by_label("Always").check()
    staging.get_by_label("Approvals needed").select_option("2")
    staging.get_by_role("button", name="Save Staging approvals").click()
    expect(page.get_by_text("The approval settings of Staging were saved.")).to_be_visible()
    settings = world.admin.get(f"/api/v2/projects/{world.project}/environments/staging").json()
    assert settings["approvalSettings"]["required"] is True
    assert settings["approvalSettings"]["minNumApprovals"] == 2

    expect(staging.get_by_label("SDK key, hidden")).to_contain_text("•")
    staging.get_by_role("button", name="Reveal SDK key of Staging").click()
    expect(staging.get_by_label("SDK key", exact=True)).to_have_text(settings["apiKey"])
    ava.shot("settings")

    page.goto("/audit")
    expect(page.get_by_text("The audit chain verifies.")).to_be_visible()
    page.get_by_label("Member").select_option(label="Ava")
    page.get_by_role("button", name="Apply filters").click()
    first = page.locator(".audit-entry").first
    expect(first).to_contain_text("Ava updated environment Staging")
    row = first.locator("tr", has_text="approvalSettings.required")
    expect(row.locator("td.before")).to_have_text("false")
    expect(row.locator("td.after")).to_have_text("true")

    page.get_by_label("Member").select_option(label="Anyone")
    page.get_by_label("Resource").fill(f"proj/{world.project}:env/staging:flag/toast")
    page.get_by_role("button", name="Apply filters").click()
    targeting = page.locator(".audit-entry").first.locator("table", has_text="Targeting in Staging")
    expect(targeting.locator("tr", has_text="Rules").locator("td.after")).to_contain_text("email ends with")
    ava.shot("audit")
    ava.close()

    remy = world.person("Remy")
    remy.page.goto(f"/projects/{world.project}/settings")
    expect(remy.page.locator("#env-staging dl.facts")).to_contain_text("Always")
    expect(remy.page.get_by_role("button", name="Save Staging approvals")).to_have_count(0)
    remy.close()
