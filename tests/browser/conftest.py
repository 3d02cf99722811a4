"""Browser tests: Playwright for Python driving the system's Chromium (``/usr/bin/chromium``; nothing is
downloaded) against one real ``flagward serve`` per module. Screenshots go to ``tests/artifacts/``."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.support.accounts import PASSWORD, unique_email
from tests.support.server import ServerProcess

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def chromium_path() -> str:
    path = os.environ.get("FLAGWARD_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail(f"Chromium is not installed at {path}: apt-get install -y chromium (./scripts/test does)")
    return path


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp("console")
    url = f"sqlite:///{workdir / 'flagward.db'}"
    with ServerProcess(database_url=url, workdir=workdir) as process:
        yield process


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def admin(console: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=console.url, headers={"Authorization": console.admin_token}, timeout=30) as client:
        yield client


def member(admin: httpx.Client, role: str, first_name: str) -> dict[str, Any]:
    body = [{"email": unique_email(first_name.lower()), "role": role, "password": PASSWORD, "firstName": first_name}]
    response = admin.post("/api/v2/members", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()["items"][0]
    return created


class Person:
    """A member signed in to the console in a browser context of their own."""

    def __init__(self, browser: Browser, base_url: str, who: dict[str, Any]) -> None:
        self.id, self.email, self.base_url = who["_id"], who["email"], base_url
        self.context: BrowserContext = browser.new_context(base_url=base_url, viewport={"width": 1360, "height": 900})
        self.context.set_default_timeout(10_000)
        self.page: Page = self.context.new_page()

    def sign_in(self) -> Person:
        self.page.goto("/")
        self.page.get_by_label("Email").fill(self.email)
        self.page.get_by_label("Password").fill(PASSWORD)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url("**/approvals")
        return self

    def api(self) -> httpx.Client:
        """The REST API with this member's console session, as a browser script of ours would call it."""
        cookies = {c["name"]: c["value"] for c in self.context.cookies()}
        return httpx.Client(base_url=self.base_url, cookies=cookies, headers={"Origin": self.base_url}, timeout=30)

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def close(self) -> None:
        self.context.close()
