"""In-app notifications in a real browser: a reviewer named in two requests sees the unread count appear
in the top bar without a reload (the count polls; the page's clock is fast-forwarded past one poll),
opens the list, follows a notification to the request's page, marks it read and then all read, and the
count drops each time, as the REST API's unreadCount does."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, expect

from flagward.http.console.templating import NOTIFICATION_POLL_SECONDS
from tests.browser.conftest import Person
from tests.browser.test_console import World
from tests.support.server import ServerProcess

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world(admin: httpx.Client, browser: Browser, console: ServerProcess) -> Iterator[World]:
    yield World(admin, browser, console.url)


def test_a_reviewer_reads_and_clears_notifications(world: World) -> None:
    world.flag("bell")
    world.flag("whistle")
    ada = Person(world.browser, world.base_url, world.members["Ada"])
    ada.page.clock.install()  # so that the test can move past the count's poll instead of waiting for it
    ada.sign_in()
    page = ada.page
    bell = page.get_by_role("banner").get_by_role("link", name=re.compile(r"^Notifications"))
    expect(bell).to_have_accessible_name("Notifications")  # nothing unread: no count

    rita = Person(world.browser, world.base_url, world.members["Rita"]).sign_in()
    first = world.copy_request(rita, "bell", ["Ada", "Bo"])
    world.copy_request(rita, "whistle", ["Ada"])
    page.clock.run_for((NOTIFICATION_POLL_SECONDS + 1) * 1000)
    expect(bell).to_have_accessible_name("Notifications 2 unread")  # no reload: the poll brought it
    expect(bell.locator(".bell-count")).to_have_text("2 unread")
    ada.shot("notifications-top-bar")

    bell.click()
    page.wait_for_url("**/notifications")
    expect(page.get_by_role("heading", name="Notifications", exact=True)).to_be_visible()
    items = page.locator("li.notification")
    expect(items).to_have_count(2)
    # Newest first, unread said in words (not only by colour).
    expect(items.nth(0)).to_contain_text("Rita requested your review: Promote whistle to production")
    expect(items.nth(1)).to_contain_text("Rita requested your review: Promote bell to production")
    expect(items.locator(".badge-unread")).to_contain_text(["Unread", "Unread"])
    ada.shot("notifications")

    items.nth(1).get_by_role("link", name="Rita requested your review: Promote bell to production").click()
    page.wait_for_url(f"**/approvals/{first}")
    expect(page.get_by_role("heading", name="Promote bell to production")).to_be_visible()

    page.go_back()
    page.get_by_role("button", name="Mark read: Rita requested your review: Promote bell to production").click()
    expect(page.get_by_text("The notification was marked read.")).to_be_visible()
    expect(bell).to_have_accessible_name("Notifications 1 unread")
    read = page.locator("li.notification", has_text="Promote bell")
    expect(read.locator(".badge-unread")).to_have_count(0)
    expect(read).to_contain_text("read just now")
    ada.shot("notifications-one-read")
    expect(read.get_by_role("button")).to_have_count(0)
    with ada.api() as api:
        assert api.get("/api/v2/notifications").json()["unreadCount"] == 1
        # The form needs the page's CSRF token, not only the session cookie.
        assert api.post("/notifications/read", data={"all": "1"}).status_code == 403
        assert api.get("/api/v2/notifications").json()["unreadCount"] == 1

    page.get_by_role("link", name="Unread 1").click()
    expect(page.locator("li.notification")).to_have_count(1)
    page.get_by_role("button", name="Mark all read").click()
    expect(page.get_by_text("All your notifications were marked read.")).to_be_visible()
    expect(bell).to_have_accessible_name("Notifications")
    expect(page.get_by_text("No unread notifications.")).to_be_visible()
    with ada.api() as api:
        assert api.get("/api/v2/notifications").json()["unreadCount"] == 0
    bo = Person(world.browser, world.base_url, world.members["Bo"]).sign_in()
    with bo.api() as api:  # Bo's notification is his own: Ada's marking left it unread
        assert api.get("/api/v2/notifications").json()["unreadCount"] == 1
    for person in (ada, rita, bo):
        person.close()
