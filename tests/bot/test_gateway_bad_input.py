"""Bad input gets a clear JSON error or a polite Chinese reply, never a trace."""

from __future__ import annotations

import http.client
import json
import re

import httpx
import pytest


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body["error"]["message"]), "message is in Chinese"
    assert "Traceback" not in response.text


@pytest.mark.parametrize("text", ["", "   ", "\n\t  "])
def test_empty_or_whitespace(client: httpx.Client, text: str) -> None:
    assert_error(client.post("/api/v1/messages", json={"user_id": "u1", "text": text}), 422, "empty_text")


def test_malformed_json(client: httpx.Client) -> None:
    r = client.post(
        "/api/v1/messages", content=b'{"user_id": "u1", "text": ', headers={"content-type": "application/json"}
    )
    assert_error(r, 400, "invalid_json")


def test_non_utf8(client: httpx.Client) -> None:
    body = '{"user_id": "u1", "text": "工资"}'.encode("gbk")
    r = client.post("/api/v1/messages", content=body, headers={"content-type": "application/json"})
    assert_error(r, 400, "invalid_encoding")


def test_wrong_content_type(client: httpx.Client) -> None:
    r = client.post(
        "/api/v1/messages", content="user_id=u1&text=hi", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert_error(r, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    "payload,code",
    [
        ({"user_id": 42, "text": "工资"}, "invalid_user_id"),
        ({"user_id": "", "text": "工资"}, "invalid_user_id"),
        ({"user_id": "a\x00b", "text": "工资"}, "invalid_user_id"),
        ({"user_id": "x" * 200, "text": "工资"}, "invalid_user_id"),
        ({"user_id": "u1"}, "invalid_text"),
        ({"user_id": "u1", "text": 42}, "invalid_text"),
        (["not", "an", "object"], "invalid_request"),
    ],
)
def test_missing_or_wrong_fields(client: httpx.Client, payload: object, code: str) -> None:
    r = client.post("/api/v1/messages", content=json.dumps(payload), headers={"content-type": "application/json"})
    assert_error(r, 422, code)


def test_over_long_text_is_answered_and_truncated_with_notice(client: httpx.Client) -> None:
    text = "老板拖欠我工资三个月了。" + "情况是这样的，" * 800
    r = client.post("/api/v1/messages", json={"user_id": "long-1", "text": text})
    assert r.status_code == 200
    body = r.json()
    assert body["truncated"] is True
    assert "2000" in body["replies"][0]["text"]
    assert len(body["replies"]) >= 2


def test_body_too_large(client: httpx.Client) -> None:
    r = client.post(
        "/api/v1/messages",
        content=json.dumps({"user_id": "u", "text": "字" * 600_000}),
        headers={"content-type": "application/json"},
    )
    assert_error(r, 413, "payload_too_large")


def test_unknown_route_and_method(client: httpx.Client) -> None:
    assert_error(client.get("/api/v1/nothing"), 404, "http_404")
    assert_error(client.get("/api/v1/messages"), 405, "http_405")


def test_openapi_describes_the_message_endpoint(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    assert "/api/v1/messages" in spec["paths"]


def test_redirects_never_carry_the_host_header_and_docs_need_no_cdn(client: httpx.Client, gateway_url: str) -> None:
    """#13: `/chat/` redirected to http://<whatever Host said>/chat; /docs loaded Swagger from a CDN."""
    moved = client.get("/chat/", headers={"Host": "evil.example"}, follow_redirects=False)
    assert moved.status_code == 307 and moved.headers["location"] == "/chat"
    assert client.get("/console/?x=1", follow_redirects=False).headers["location"] == "/console?x=1"
    assert_error(client.get("/api/v1/nothing/", follow_redirects=False), 404, "http_404")
    connection = http.client.HTTPConnection(httpx.URL(gateway_url).host, httpx.URL(gateway_url).port, timeout=30)
    connection.request("GET", "//evil.example/")  # would be a protocol-relative Location: an open redirect
    answer = connection.getresponse()
    assert answer.status == 404 and answer.getheader("location") is None
    connection.close()

    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger-ui-bundle.js" in docs.text
    assert re.findall(r"https?://", docs.text) == []
    assert client.get("/docs/static/swagger-ui-bundle.js").status_code == 200
    assert client.get("/redoc").status_code == 404
