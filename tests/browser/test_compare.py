"""The compare page in a real browser: the part selector requests exactly the instructions the REST API
plans for the same included actions; a target that requires approval offers no direct copy (and says
why); a target that does not is copied at once."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.browser.test_console import World
from tests.support.server import ServerProcess

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world(admin: httpx.Client, browser: Browser, console: ServerProcess) -> Iterator[World]:
    yield World(admin, browser, console.url)


def test_the_part_selector_requests_what_the_api_plans(world: World) -> None:
    flag = world.flag("banner")  # on in staging, with a rule
    variations = [v["_id"] for v in flag["variations"]]
    world.patch(
        "banner",
        "staging",
        {"kind": "addTargets", "contextKind": "user", "values": ["ann", "bob"], "variationId": variations[0]},
        {"kind": "updateFallthroughVariationOrRollout", "variationId": variations[1]},
    )
    rita = world.person("Rita")
    page = rita.page
    page.goto(f"/compare?project={world.project}&flag=banner&source=staging&target=production")
    table = page.locator("table.diff-compare")
    expect(table.locator("tr.is-changed")).to_have_count(4)  # targeting, targets, rules, default rule
    expect(page.get_by_role("button", name="Copy to Production now")).to_be_disabled()
    expect(page.get_by_text("Production requires approval: changes go through a request.")).to_be_visible()

    # Leave the individual targets behind; the preview follows the ticks.
    preview = page.locator("[id^=preview-] .instructions li")
    expect(preview).to_have_count(4)
    page.get_by_label("Bring over individual targets").uncheck()
    expect(preview).to_have_count(3)
    expect(preview.first).to_contain_text("Turn")
    page.get_by_label("Reviewers", exact=True).select_option(label=["Ada", "Bo"])
    rita.shot("compare")
    page.get_by_role("button", name="Request copy to Production").click()
    expect(page.get_by_text("Your request was created")).to_be_visible()
    request_id = page.url.split("/approvals/")[1].split("?")[0]

    with rita.api() as api:
        made = api.get(f"/api/v2/approval-requests/{request_id}").json()
        included = ["updateOn", "updateRules", "updateFallthrough"]
        body = {"description": "Same, through the API", "source": {"key": "staging"}, "includedActions": included}
        path = f"/api/v2/projects/{world.project}/flags/banner/environments/production/approval-requests-flag-copy"
        response = api.post(path, json=body)
    assert response.status_code == 201, response.text
    assert made["instructions"] == response.json()["instructions"]
    assert sorted(made["notifyMemberIds"]) == sorted(world.members[n]["_id"] for n in ("Ada", "Bo"))
    rita.close()


def test_a_target_without_approval_is_copied_at_once(world: World) -> None:
    world.flag("ribbon")  # on in staging, off in production
    rita = world.person("Rita")
    page = rita.page
    page.goto(f"/compare?project={world.project}&flag=ribbon&source=production&target=staging")
    page.get_by_label("Bring over rules").uncheck()
    page.get_by_role("button", name="Copy to Staging now").click()
    expect(page.get_by_text("The parts were copied.")).to_be_visible()
    assert world.config("ribbon", "staging")["on"] is False
    assert len(world.config("ribbon", "staging")["rules"]) == 1  # left as it was
    rita.close()


def test_a_whole_project_lists_the_flags_that_differ_and_a_reader_gets_no_controls(world: World) -> None:
    world.flag("sparkle")  # differs between staging and production
    remy = world.person("Remy")
    page = remy.page
    page.goto(f"/compare?project={world.project}&source=staging&target=production")
    expect(page.get_by_role("heading", name="Sparkle sparkle")).to_be_visible()
    expect(page.locator("section.compare-flag .badge-pending").first).to_contain_text("differ")
    expect(page.get_by_role("button", name="Request copy to Production")).to_have_count(0)
    expect(page.get_by_role("checkbox")).to_have_count(0)
    remy.shot("compare-project")
    remy.close()
