"""The README's console story from an empty server, with no API call: the owner (who has a password,
set with ``flagward members set-password`` as the first-run page says) creates a project, adds a staging
environment, creates a flag and invites three colleagues; each sets a password through their one-time
link; production gets two required approvals; the requester targets the flag in staging and requests
a copy to production; both reviewers approve; the requester applies; production matches staging."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import Person
from tests.support.accounts import PASSWORD
from tests.support.server import ServerProcess

pytestmark = pytest.mark.slow
OWNER = "owner@localhost"
PARTS = ("on", "targets", "contextTargets", "rules", "fallthrough", "offVariation", "prerequisites")


@pytest.fixture(scope="module")
def empty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp("onboarding")
    url = f"sqlite:///{workdir / 'flagward.db'}"
    with ServerProcess(database_url=url, workdir=workdir) as process:
        # What the first-run page tells the owner to run on the server host.
        subprocess.run(
            [sys.executable, "-m", "flagward", "members", "set-password", "--email", OWNER],
            input=f"{PASSWORD}\n{PASSWORD}\n".encode(),
            cwd=workdir,
            env={**os.environ, "FLAGWARD_DATABASE_URL": url},
            check=True,
            capture_output=True,
        )
        yield process


def _invite(owner: Person, email: str, role: str) -> str:
    page = owner.page
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Role", exact=True).select_option(role)
    page.get_by_role("button", name="Invite").click()
    expect(page.get_by_role("heading", name=f"Send this link to {email}")).to_be_visible()
    return page.get_by_label(f"One-time link for {email}").input_value()


def _accept(browser: Browser, base_url: str, email: str, link: str) -> Person:
    person = Person(browser, base_url, {"_id": "", "email": email})
    page = person.page
    page.goto(link)
    expect(page.get_by_role("heading", name="Welcome to flagward")).to_be_visible()
    if email.startswith("ada"):
        person.shot("invitation")
    page.get_by_label("New password").fill(PASSWORD)
    page.get_by_label("Repeat it").fill(PASSWORD)
    page.get_by_role("button", name="Set password and sign in").click()
    expect(page.get_by_role("heading", name="Approvals")).to_be_visible()
    page.goto(link)  # single use
    expect(page.get_by_role("heading", name="This link does not work")).to_be_visible()
    return person


def test_from_an_empty_server_to_a_promotion_without_the_api(empty: ServerProcess, browser: Browser) -> None:
    owner = Person(browser, empty.url, {"_id": "", "email": OWNER}).sign_in()
    page = owner.page

    # A project, with LaunchDarkly's default environments.
    page.get_by_role("link", name="Flags", exact=True).click()
    page.get_by_role("link", name="Create the first project").click()
    page.get_by_label("Name").fill("Web shop")
    expect(page.get_by_label("Key")).to_have_value("web-shop")
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("status")).to_contain_text("environments Production, Test")

    # A staging environment, from the settings page.
    page.get_by_role("link", name="Settings", exact=True).click()
    page.get_by_role("link", name="Add environment").click()
    page.get_by_label("Name").fill("Staging")
    page.get_by_role("button", name="Add environment").click()
    expect(page.get_by_role("status")).to_contain_text("The environment staging was added")

    # A flag, from the project's flags.
    page.get_by_role("link", name="Flags", exact=True).click()
    page.get_by_role("link", name="New flag").click()
    page.get_by_label("Name").fill("New checkout")
    page.get_by_label("Description").fill("The one-page checkout")
    page.get_by_role("button", name="Create flag").click()
    expect(page.get_by_role("status")).to_contain_text("The flag was created")

    # Two reviewers and a requester, each with their own link.
    page.get_by_role("link", name="Members", exact=True).click()
    links = {email: _invite(owner, email, "writer") for email in ("ada@example.com", "bo@example.com")}
    links["rita@example.com"] = _invite(owner, "rita@example.com", "writer")
    expect(page.locator("tbody tr")).to_have_count(4)
    owner.shot("members")
    ada, bo, rita = (_accept(browser, empty.url, email, link) for email, link in links.items())
    page.reload()
    expect(page.locator("tbody tr", has_text="ada@example.com")).to_contain_text("Active")

    # Production needs two approvals.
    page.get_by_role("link", name="Settings", exact=True).click()
    production = page.locator("#env-production")
    production.get_by_label("Always").check()
    production.get_by_label("Approvals needed").select_option("2")
    production.get_by_role("button", name="Save Production approvals").click()
    expect(page.get_by_role("status")).to_contain_text("The approval settings of Production were saved")

    # The requester targets the flag in staging, then asks for a copy to production.
    rp = rita.page
    rp.goto("/projects/web-shop/flags/new-checkout?env=staging")
    rp.locator("#targeting").get_by_role("button", name="Turn on").click()
    expect(rp.get_by_role("status")).to_contain_text("Targeting is on")
    rp.get_by_text("Add individual targets").click()
    rp.get_by_label("Context keys").fill("ann, bob")
    rp.get_by_role("button", name="Add targets").click()
    expect(rp.get_by_role("status")).to_contain_text("The individual targets were added")
    rp.get_by_role("link", name="Compare", exact=True).click()
    rp.goto("/compare?project=web-shop&flag=new-checkout&source=staging&target=production")
    rp.get_by_label("Reviewers", exact=True).select_option(label=["ada@example.com", "bo@example.com"])
    rp.get_by_role("button", name="Request copy to Production").click()
    expect(rp.get_by_text("Your request was created")).to_be_visible()
    request_path = re.sub(r"\?.*$", "", rp.url.replace(empty.url, ""))

    for reviewer in (ada, bo):
        reviewer.page.goto(request_path)
        reviewer.page.get_by_role("button", name="Approve").click()
        expect(reviewer.page.get_by_text("You approved this request.")).to_be_visible()

    rp.goto(request_path)
    rp.get_by_role("button", name="Apply change").click()
    expect(rp.get_by_text("The change was applied.")).to_be_visible()

    with owner.api() as api:
        flag = api.get("/api/v2/flags/web-shop/new-checkout").json()
        response = api.get("/api/v2/auditlog", params={"limit": 20})
    assert response.status_code == 200, response.text
    audit = response.json()
    staging, production_config = flag["environments"]["staging"], flag["environments"]["production"]
    assert staging["on"] is True
    assert {p: production_config.get(p) for p in PARTS} == {p: staging.get(p) for p in PARTS}
    descriptions = " ".join(entry.get("description", "") for entry in audit["items"])
    assert "Issued a one-time link for member rita@example.com" in descriptions
    assert "Set the password of member rita@example.com through a one-time link" in descriptions
    for person in (owner, ada, bo, rita):
        person.close()
