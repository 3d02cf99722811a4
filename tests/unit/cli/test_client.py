"""The client commands' REST client on httpx's MockTransport: answers become JSON, refusals become one
line with the server's message and the exit code the README documents."""

from __future__ import annotations

import httpx
import pytest

from flagward.cli.client import ApiClient, ClientError, Exit
from flagward.cli.requests import _outcome, _reviewed_by


def client(handler: httpx.MockTransport) -> ApiClient:
    return ApiClient("http://flags.test", "api-token", transport=handler)


def answering(status: int, body: object = None) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        assert request.headers["Authorization"] == "api-token"
        return httpx.Response(status, json=body) if body is not None else httpx.Response(status)

    return httpx.MockTransport(handle)


@pytest.mark.parametrize(
    ("status", "code"),
    [(400, Exit.REFUSED), (401, Exit.UNAUTHORIZED), (403, Exit.UNAUTHORIZED), (404, Exit.NOT_FOUND),
     (405, Exit.REFUSED), (429, Exit.REFUSED), (503, Exit.REFUSED)],
)  # fmt: skip
def test_refusals_carry_the_server_s_message_and_their_exit_code(status: int, code: Exit) -> None:
    body = {"code": "x", "message": "Unknown approval request\n'abc'"}
    with pytest.raises(ClientError) as refused, client(answering(status, body)) as api:
        api.get("/api/v2/approval-requests/abc")
    assert refused.value.code is code
    assert refused.value.message == f"{status}: Unknown approval request 'abc'"


def test_an_answer_is_its_json_and_204_is_none() -> None:
    with client(answering(200, {"items": []})) as api:
        assert api.get("/api/v2/approval-requests", filter=None) == {"items": []}
    with client(answering(204)) as api:
        assert api.request("DELETE", "/x") is None


def test_no_url_no_token_and_an_unreachable_server_exit_3() -> None:
    for url, token in ((None, "t"), ("http://flags.test", None), ("flags.test", "t")):
        with pytest.raises(ClientError) as missing:
            ApiClient(url, token)
        assert missing.value.code is Exit.UNREACHABLE

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(ClientError) as unreachable, client(httpx.MockTransport(down)) as api:
        api.get("/api/v2/approval-requests")
    assert unreachable.value.code is Exit.UNREACHABLE and "connection refused" in unreachable.value.message


@pytest.mark.parametrize(
    ("status", "review", "outcome"),
    [("completed", "approved", Exit.OK), ("failed", "approved", Exit.FAILED), ("pending", "declined", Exit.DECLINED),
     ("pending", "approved", None), ("scheduled", "approved", None), ("pending", "pending", None)],
)  # fmt: skip
def test_where_a_request_stands_for_wait(status: str, review: str, outcome: Exit | None) -> None:
    assert _outcome({"status": status, "reviewStatus": review}) is outcome


def test_a_request_i_reviewed_is_not_waiting_for_my_review() -> None:
    request = {"allReviews": [{"kind": "approve", "memberId": "ann"}]}
    assert _reviewed_by(request, "ann") and not _reviewed_by(request, "bob")
