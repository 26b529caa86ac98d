"""#13 item 2: a web or API resident is who the gateway's token says, not who the
request claims. A chosen id alone used to be enough to read a resident's mediator
messages, answer their legal-aid form or end their hand-off."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from bot.core.resident_tokens import ResidentTokens
from tests.helpers.stack import TEST_INTEGRATOR_KEY


def issue(client: httpx.Client, user_id: str | None = None, key: str | None = TEST_INTEGRATOR_KEY) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return client.post("/api/v1/residents", json={} if user_id is None else {"user_id": user_id}, headers=headers)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def plain(gateway_url: str):
    """A client that adds no token of its own (what an attacker has)."""
    with httpx.Client(base_url=gateway_url, timeout=30) as http:
        yield http


def test_a_chosen_id_alone_reads_and_sends_nothing(plain: httpx.Client) -> None:
    victim = f"victim-{uuid.uuid4().hex[:8]}"
    sent = plain.post("/api/v1/messages", json={"user_id": victim, "text": "你好"})
    assert sent.status_code == 401 and sent.json()["error"]["code"] == "not_authenticated"
    assert "POST /api/v1/residents" in sent.json()["error"]["message"]
    assert plain.get(f"/api/v1/conversations/{victim}/messages").status_code == 401
    assert plain.get(f"/api/v1/messages/{uuid.uuid4().hex}", params={"user_id": victim}).status_code == 401
    forged = {"Authorization": "Bearer " + "x" * 40}
    assert plain.post("/api/v1/messages", json={"user_id": victim, "text": "你好"}, headers=forged).status_code == 401


def test_a_stranger_cannot_end_a_hand_off_or_read_the_mediator(plain: httpx.Client, client: httpx.Client) -> None:
    """The attack of the finding, end to end: B is with a mediator; A knows B's id."""
    victim = f"victim-{uuid.uuid4().hex[:8]}"
    opened = client.post("/api/v1/messages", json={"user_id": victim, "text": "我要转人工"}).json()
    assert opened.get("case_id"), opened
    attacker = issue(plain, key=None).json()
    for request in (
        lambda h: plain.post("/api/v1/messages", json={"user_id": victim, "text": "结束人工"}, headers=h),
        lambda h: plain.get(f"/api/v1/conversations/{victim}/messages", headers=h),
    ):
        assert request({}).status_code == 401
        refused = request(bearer(attacker["token"]))
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "not_your_resident"
    # still with the mediator: the next message goes to the same case
    still = client.post("/api/v1/messages", json={"user_id": victim, "text": "请问什么时候回复我"}).json()
    assert still.get("case_id") == opened["case_id"], still


def test_a_web_resident_gets_a_fresh_identity_and_uses_only_its_token(plain: httpx.Client) -> None:
    first, second = (issue(plain, key=None) for _ in range(2))
    assert first.status_code == 201 and first.headers["cache-control"] == "no-store"
    me, other = first.json(), second.json()
    assert me["user_id"].startswith("web:") and len(me["user_id"]) >= 20 and me["user_id"] != other["user_id"]
    assert me["expires_in"] > 0
    answered = plain.post("/api/v1/messages", json={"text": "房东不退押金怎么办"}, headers=bearer(me["token"]))
    assert answered.status_code == 200 and answered.json()["category"] == "lease"
    message_id = answered.json()["message_id"]
    mine = plain.get(f"/api/v1/messages/{message_id}", headers=bearer(me["token"]))
    assert mine.status_code == 200 and mine.json()["status"] == "answered"
    # somebody else's token does not read it, and cannot speak for this resident
    assert plain.get(f"/api/v1/messages/{message_id}", headers=bearer(other["token"])).status_code == 404
    assert (
        plain.post(
            "/api/v1/messages", json={"user_id": me["user_id"], "text": "你好"}, headers=bearer(other["token"])
        ).status_code
        == 403
    )
    inbox = plain.get(f"/api/v1/conversations/{me['user_id']}/messages", headers=bearer(me["token"]))
    assert inbox.status_code == 200 and inbox.json() == {"messages": [], "reminders": []}


def test_only_an_integrator_chooses_ids_and_never_a_channel_s(plain: httpx.Client) -> None:
    chosen = f"partner:{uuid.uuid4().hex[:8]}"
    assert issue(plain, chosen, key=None).status_code == 403
    assert issue(plain, chosen, key="not-the-key").json()["error"]["code"] == "integrator_key_required"
    granted = issue(plain, chosen)
    assert granted.status_code == 201 and granted.json()["user_id"] == chosen
    for reserved in ("web:42", "tg:42", "wx:o6_bmjrPTlm6", "", "a\x00b"):
        refused = issue(plain, reserved)
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "invalid_user_id", reserved
    assert (
        plain.post("/api/v1/residents", content=b"[1]", headers={"content-type": "application/json"}).status_code == 422
    )


def test_the_openapi_spec_tells_an_integrator_how_to_authenticate(plain: httpx.Client) -> None:
    spec = plain.get("/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["ResidentToken"]["scheme"] == "bearer" and schemes["IntegratorKey"]["scheme"] == "bearer"
    assert {"ResidentToken": []} in spec["paths"]["/api/v1/messages"]["post"]["security"]
    assert {"ResidentToken": []} in spec["paths"]["/api/v1/conversations/{user_id}/messages"]["get"]["security"]
    assert "201" in spec["paths"]["/api/v1/residents"]["post"]["responses"]


def test_tokens_expire_and_do_not_carry_over_between_signing_keys() -> None:
    tokens = ResidentTokens("key-one", max_age_s=1)
    issued = tokens.issue_new()
    assert tokens.user_of(f"Bearer {issued.token}") == issued.user_id
    assert ResidentTokens("key-two", max_age_s=60).user_of(f"Bearer {issued.token}") is None
    assert tokens.user_of(issued.token) is None and tokens.user_of(None) is None  # not a bearer header
    time.sleep(2.1)
    assert tokens.user_of(f"Bearer {issued.token}") is None
    assert ResidentTokens("k", 60, " a , b ").is_integrator("Bearer b") and not ResidentTokens("k", 60).is_integrator(
        "Bearer "
    )
