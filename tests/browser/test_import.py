"""Importing from LaunchDarkly in the console: an admin uploads one environment's SDK payload, reads the dry
run's plan (what would be created, what is refused with its path and reason), imports, and finds the flag
in the project's list, served with LaunchDarkly's salt; a reader is offered no import."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import Person, member
from tests.support.accounts import unique
from tests.support.server import ServerProcess

pytestmark = pytest.mark.slow

PAYLOAD: dict[str, Any] = {
    "flags": {
        "new-checkout": {
            "key": "new-checkout",
            "version": 7,
            "on": True,
            "salt": "salt-from-launchdarkly",
            "variations": [False, True],
            "offVariation": 0,
            "fallthrough": {
                "rollout": {"variations": [{"variation": 0, "weight": 40000}, {"variation": 1, "weight": 60000}]}
            },
            "rules": [
                {"id": "rule-fr", "clauses": [{"attribute": "country", "op": "in", "values": ["fr"]}], "variation": 1}
            ],
        },
        "broken": {"key": "broken", "variations": ["x", "y"], "on": True, "fallthrough": {"variation": 2}},
    },
    "segments": {},
}


def test_an_admin_plans_then_imports_a_payload(admin: httpx.Client, browser: Browser, console: ServerProcess) -> None:
    project = unique("moving")
    assert admin.post("/api/v2/projects", json={"key": project, "name": "Moving in"}).status_code == 201
    ivy = Person(browser, console.url, member(admin, "admin", "Ivy")).sign_in()
    page = ivy.page
    page.goto(f"/projects/{project}/flags")
    page.get_by_role("link", name="Import from LaunchDarkly").click()
    expect(page.get_by_role("heading", name="Import flags into Moving in")).to_be_visible()
    expect(page.get_by_text("Up to 1 MiB")).to_be_visible()
    page.get_by_label("File to import").set_input_files(
        files=[{"name": "notes.json", "mimeType": "application/json", "buffer": b"{not json"}]
    )
    page.get_by_role("button", name="Show the plan").click()
    expect(page.get_by_role("alert")).to_contain_text("The file is not JSON")  # in the page, not a 500
    page.get_by_label("File to import").set_input_files(
        files=[{"name": "production.json", "mimeType": "application/json", "buffer": json.dumps(PAYLOAD).encode()}]
    )
    page.get_by_label("Environment of the payload").select_option("production")
    ivy.shot("import-form")
    page.get_by_role("button", name="Show the plan").click()

    expect(
        page.get_by_role("heading", name="Plan: 1 would be created, 0 would be updated, 0 unchanged, 1 refused")
    ).to_be_visible()
    refused = page.locator("table.import-refused tbody tr")
    expect(refused).to_have_count(1)
    expect(refused).to_contain_text("flags.broken.fallthrough.variation")
    expect(refused).to_contain_text("must be the index of one of the flag's 2 variations")
    expect(page.locator("table.import-create")).to_contain_text("flags/new-checkout")
    expect(page.get_by_label("Replace existing flags and segments that differ")).not_to_be_checked()
    ivy.shot("import-plan")
    assert admin.get(f"/api/v2/flags/{project}/new-checkout").status_code == 404  # a dry run stores nothing

    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("heading", name="Imported: 1 created, 0 updated, 0 unchanged, 1 refused")).to_be_visible()
    page.get_by_role("link", name="See the flags").click()
    expect(page.get_by_role("link", name="new-checkout").first).to_be_visible()
    ivy.shot("import-flags")
    ivy.close()

    env = admin.get(f"/api/v2/projects/{project}/environments/production").json()
    served = httpx.get(f"{console.url}/sdk/latest-all", headers={"Authorization": env["apiKey"]}).json()
    flag = served["flags"]["new-checkout"]
    assert (flag["salt"], flag["version"], flag["rules"][0]["id"]) == ("salt-from-launchdarkly", 7, "rule-fr")

    remy = Person(browser, console.url, member(admin, "reader", "Remy")).sign_in()
    remy.page.goto(f"/projects/{project}/flags")
    expect(remy.page.get_by_role("link", name="Import from LaunchDarkly")).to_have_count(0)
    remy.page.goto(f"/projects/{project}/import")
    expect(remy.page.get_by_role("alert")).to_contain_text("You may not import flags into this project.")
    remy.close()
