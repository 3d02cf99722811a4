"""E-mail notifications from real ``flagward serve`` processes to a real SMTP server: a request tells
its reviewers (e-mail and in-app), a delivery cut short by ``kill -9`` is sent exactly once after the
restart (SQLite and PostgreSQL), and two processes on one PostgreSQL store send each message once."""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.accounts import PASSWORD, SESSION_COOKIE, unique, unique_email
from tests.support.databases import database_url
from tests.support.server import ServerProcess
from tests.support.smtp import Sink, smtp_sink

pytestmark = pytest.mark.slow
STORES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def admin(server: ServerProcess) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": server.admin_token}, timeout=30)


def member(server: ServerProcess, *, password: bool = False) -> dict[str, Any]:
    form: dict[str, Any] = {"email": unique_email("reviewer"), "role": "writer"}
    if password:
        form["password"] = PASSWORD
    with admin(server) as http:
        response = http.post("/api/v2/members", json=[form])
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()["items"][0]
    return created


def project_with_flag(server: ServerProcess) -> tuple[str, str]:
    project, flag = unique("mail"), "checkout"
    env = {"key": "production", "name": "Production", "color": "ff0000"}
    with admin(server) as http:
        assert http.post("/api/v2/projects", json={"key": project, "name": "Mail", "environments": [env]}).is_success
        assert http.post(f"/api/v2/flags/{project}", json={"key": flag, "name": "Checkout"}).is_success
    return project, flag


def request_review(server: ServerProcess, project: str, flag: str, reviewers: list[str], description: str) -> str:
    body = {"description": description, "instructions": [{"kind": "turnFlagOn"}], "notifyMemberIds": reviewers}
    path = f"/api/v2/projects/{project}/flags/{flag}/environments/production/approval-requests"
    with admin(server) as http:
        response = http.post(path, json=body)
    assert response.status_code == 201, response.text
    request_id: str = response.json()["_id"]
    return request_id


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path) as url:
        yield url


def serve(store: str, workdir: Path, smtp_url: str, **env: str) -> ServerProcess:
    extra = {
        "FLAGWARD_SMTP_URL": smtp_url,
        "FLAGWARD_SMTP_FROM": "flagward@flags.example.com",
        "FLAGWARD_PUBLIC_ORIGIN": "https://flags.example.com",
        **env,
    }
    return ServerProcess(database_url=store, workdir=workdir, extra_env=extra)


def test_a_request_emails_its_reviewers_and_shows_in_their_notifications(store: str, tmp_path: Path) -> None:
    with smtp_sink() as (sink, smtp_url), serve(store, tmp_path, smtp_url) as server:
        reviewer = member(server, password=True)
        project, flag = project_with_flag(server)
        request_id = request_review(server, project, flag, [reviewer["_id"]], "Turn checkout on for everyone")
        (mail,) = sink.wait_for(1)
        assert mail.rcpt_tos == [reviewer["email"]]
        assert "requested your review: Turn checkout on for everyone" in mail.message["Subject"]
        text = mail.part("plain")
        assert "Turn the flag on" in text
        assert f"Open the request: https://flags.example.com/approvals/{request_id}" in text
        assert f"In the REST API: https://flags.example.com/api/v2/approval-requests/{request_id}" in text
        assert f'href="https://flags.example.com/approvals/{request_id}"' in mail.part("html")
        assert "<li>Turn the flag on</li>" in mail.part("html")

        login = httpx.post(f"{server.url}/auth/login", json={"email": reviewer["email"], "password": PASSWORD})
        cookies = {SESSION_COOKIE: login.cookies[SESSION_COOKIE]}
        headers = {"Origin": "https://flags.example.com"}
        with httpx.Client(base_url=server.url, cookies=cookies, headers=headers) as mine:
            listing = mine.get("/api/v2/notifications", params={"unread": "true"}).json()
            (item,) = listing["items"]
            assert (listing["unreadCount"], item["kind"], item["approvalRequestId"]) == (1, "requested", request_id)
            assert item["_links"]["approvalRequest"]["href"] == f"/api/v2/approval-requests/{request_id}"
            assert item["_links"]["site"] == {"href": f"/approvals/{request_id}", "type": "text/html"}
            marked = mine.post("/api/v2/notifications/read", json={"ids": [item["_id"]]})
            assert marked.json() == {"marked": 1, "unreadCount": 0}, marked.text
            assert mine.get("/api/v2/notifications", params={"unread": "true"}).json()["items"] == []
            assert mine.get("/api/v2/notifications").json()["items"][0]["read"] is True
        readiness = httpx.get(f"{server.url}/readyz").json()
        assert readiness["details"]["outbox"] == {"pending": 0, "due": 0, "retrying": 0, "dead": 0, "lagMs": 0}


def test_without_smtp_the_server_says_email_is_off_and_still_notifies_in_app(store: str, tmp_path: Path) -> None:
    with ServerProcess(database_url=store, workdir=tmp_path) as server:
        reviewer = member(server)
        project, flag = project_with_flag(server)
        request_review(server, project, flag, [reviewer["_id"]], "Quietly")
        assert server.logs().count("e-mail is off") == 1
        assert httpx.get(f"{server.url}/readyz").json()["details"]["outbox"]["pending"] == 0


def test_a_delivery_cut_short_by_kill_9_is_sent_exactly_once_after_restart(store: str, tmp_path: Path) -> None:
    # The lease outlasts the SMTP timeout, as it must; a killed process's lease ends on its own
    # (PostgreSQL) or when the next process takes the SQLite store.
    env = {"FLAGWARD_DELIVERY_LEASE_SECONDS": "4", "FLAGWARD_SMTP_TIMEOUT_SECONDS": "3"}
    with smtp_sink(hang=1) as (sink, smtp_url):
        server = serve(store, tmp_path, smtp_url, **env).start()
        try:
            reviewer = member(server)
            project, flag = project_with_flag(server)
            request_review(server, project, flag, [reviewer["_id"]], "Survive a crash")
            assert sink.hanging.wait(20), server.logs()
            assert server.process is not None
            server.process.send_signal(signal.SIGKILL)  # mid-delivery: the SMTP server holds the DATA
            server.process.wait(10)
        finally:
            server.stop()
        sink.release.set()
        assert sink.received == []
        with serve(store, tmp_path, smtp_url, **env) as restarted:
            (mail,) = sink.wait_for(1)
            time.sleep(1.0)  # time for a duplicate to show up, were there one
            assert len(sink.received) == 1 and mail.rcpt_tos == [reviewer["email"]]
            assert sink.attempts == 2
            outbox = httpx.get(f"{restarted.url}/readyz").json()["details"]["outbox"]
            assert outbox["pending"] == 0 and outbox["dead"] == 0


def _count(sink: Sink) -> Counter[str]:
    return Counter(r.message["Message-ID"] for r in sink.received)


@pytest.mark.postgres
def test_two_processes_on_postgresql_send_each_message_once(tmp_path: Path) -> None:
    env = {"FLAGWARD_DELIVERY_POLL_SECONDS": "0.05"}
    with database_url("postgres", tmp_path) as url, smtp_sink() as (sink, smtp_url):
        first = serve(url, tmp_path, smtp_url, **env).start()
        try:
            with serve(url, tmp_path, smtp_url, **env) as second:
                reviewers = [member(first)["_id"] for _ in range(3)]
                project, flag = project_with_flag(first)
                for n in range(10):
                    request_review((first, second)[n % 2], project, flag, reviewers, f"Change {n}")
                received = sink.wait_for(30)
                time.sleep(1.0)
                counts = _count(sink)
                assert len(received) == 30 and set(counts.values()) == {1}, counts
        finally:
            first.stop()
