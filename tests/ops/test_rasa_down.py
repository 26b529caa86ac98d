"""Rasa unreachable: the resident gets a 503 in Chinese, the text is kept, and it
is answered, in order, once Rasa is back. Uses a second real gateway process
that reaches the real Rasa server through a proxy we can switch off."""

from __future__ import annotations

import time
import uuid

import httpx

from tests.helpers.stack import resident_http, stored_message_ids


def wait_answered(client: httpx.Client, message_id: str, user_id: str, timeout_s: float = 60) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        body = client.get(f"/api/v1/messages/{message_id}", params={"user_id": user_id}).json()
        if body.get("status") == "answered":
            return body
        time.sleep(0.3)
    raise AssertionError(f"message {message_id} not answered: {body}")


def test_messages_kept_while_rasa_down_and_answered_in_order(gateway_behind_proxy) -> None:
    url, proxy = gateway_behind_proxy
    resident = f"down-{time.time_ns()}"
    with resident_http(url, timeout=30) as client:
        first = client.post("/api/v1/messages", json={"user_id": resident, "text": "包工头欠我们工钱跑路了"})
        assert first.status_code == 503
        error = first.json()["error"]
        assert error["code"] == "assistant_unavailable" and "保存" in error["message"]
        second = client.post("/api/v1/messages", json={"user_id": resident, "text": "我想申请法律援助"})
        assert second.status_code == 503
        ids = [first.json()["error"]["message_id"], second.json()["error"]["message_id"]]

        kept = client.get(f"/api/v1/messages/{ids[0]}", params={"user_id": resident}).json()
        assert kept["status"] == "pending"
        # nobody else can read a resident's message
        assert client.get(f"/api/v1/messages/{ids[0]}", params={"user_id": "someone-else"}).status_code == 404

        proxy.enable()
        answered = [wait_answered(client, i, resident) for i in ids]
        assert answered[0]["intent"] == "labour_wage_arrears"
        assert answered[1]["intent"] == "request_legal_aid"
        # the request was understood in the context of the first message: order kept
        assert "劳动争议" in answered[1]["replies"][0]["text"]

        # and new messages flow normally again
        again = client.post("/api/v1/messages", json={"user_id": resident, "text": "谢谢"})
        assert again.status_code == 200 and again.json()["intent"] == "thank"


def test_a_message_sent_again_with_its_key_is_the_same_message(gateway_behind_proxy, tmp_path) -> None:
    """#15: a resident whose connection broke cannot know whether the message was kept, and
    sending it again made a second question. With the same Idempotency-Key it is the same
    message: kept (503, same id) while Rasa is away, its reply once answered; another text
    with that key is refused; a new key is a new message."""
    url, proxy = gateway_behind_proxy
    resident, key = f"key-{time.time_ns()}", uuid.uuid4().hex
    text = "包工头欠我们工钱跑路了"
    with resident_http(url, timeout=30) as client:

        def send(words: str, idempotency_key: str = key) -> httpx.Response:
            return client.post(
                "/api/v1/messages",
                json={"user_id": resident, "text": words},
                headers={"Idempotency-Key": idempotency_key},
            )

        first, again = send(text), send(text)
        assert first.status_code == again.status_code == 503, again.text
        message_id = first.json()["error"]["message_id"]
        assert again.json()["error"]["message_id"] == message_id
        refused = send("房东不退押金")
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "idempotency_key_reused"
        assert "Idempotency-Key" in refused.json()["error"]["message"]
        assert send(text, "short").status_code == 422  # 8 to 64 letters, digits, - and _

        proxy.enable()
        answered = wait_answered(client, message_id, resident)
        replay = send(text)
        assert replay.status_code == 200 and replay.json()["message_id"] == message_id
        assert replay.json()["replies"] == answered["replies"] and answered["intent"] == "labour_wage_arrears"
        other = send(text, uuid.uuid4().hex)
        assert other.status_code == 200 and other.json()["message_id"] != message_id
    assert stored_message_ids(tmp_path, resident) == [message_id, other.json()["message_id"]]
