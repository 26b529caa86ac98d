"""WeChat: the mini-program API (login through a simulated code2Session, a
signed session, messages, long-poll for a mediator's reply) and the message
push (verification, XML and JSON, plaintext and 安全模式, slow answers by
customer-service message, bad signatures, replays) against a local simulated
WeChat server and a real gateway process."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
import xmltodict
from wechatpy.crypto import WeChatCrypto

from bot.channels.wechat.client import WeChatClient
from ops.stack import Service
from tests.helpers.console import Console, add_staff
from tests.helpers.fake_wechat import APPID, SECRET, FakeWeChat
from tests.helpers.stack import free_port, start_gateway, stored_message_ids

TOKEN = "push-token"
AES_KEY = base64.b64encode(hashlib.sha256(b"haizhu").digest()).decode()[:43]


def gateway(stack, tmp_path, wechat: FakeWeChat, **extra: str) -> tuple[str, Service]:
    """A gateway with push in plaintext mode (pass WECHAT_ENCODING_AES_KEY for 安全模式)."""
    return start_gateway(
        stack,
        tmp_path,
        WECHAT_APPID=APPID,
        WECHAT_SECRET=SECRET,
        WECHAT_TOKEN=TOKEN,
        WECHAT_API_BASE=wechat.base_url,
        PUSH_INTERVAL_S="0.3",
        **extra,
    )


@pytest.fixture(scope="module")
def wx(stack, tmp_path_factory) -> Iterator[tuple[FakeWeChat, str, Service]]:
    wechat = FakeWeChat(free_port())
    url, service = gateway(stack, tmp_path_factory.mktemp("wx"), wechat)
    yield wechat, url, service
    service.stop()
    wechat.shutdown()


def signed(timestamp: str, nonce: str) -> dict[str, str]:
    signature = hashlib.sha1("".join(sorted([TOKEN, timestamp, nonce])).encode()).hexdigest()
    return {"signature": signature, "timestamp": timestamp, "nonce": nonce}


def xml_text(openid: str, content: str) -> str:
    return xmltodict.unparse(
        {
            "xml": {
                "ToUserName": "gh_haizhu",
                "FromUserName": openid,
                "CreateTime": int(time.time()),
                "MsgType": "text",
                "Content": content,
                "MsgId": uuid.uuid4().int % 10**12,
            }
        },
        full_document=False,
    )


def test_mini_program_login_messages_and_long_poll(wx, stack) -> None:
    wechat, url, service = wx
    with httpx.Client(base_url=url, timeout=40) as http:
        assert http.post("/api/v1/wechat/login", json={"code": "forged"}).json()["error"]["code"] == "invalid_code"
        login = http.post("/api/v1/wechat/login", json={"code": "good-code"})
        assert login.status_code == 200
        auth = {"Authorization": f"Bearer {login.json()['token']}"}
        assert http.post("/api/v1/wechat/messages", json={"text": "你好"}).status_code == 401
        assert (
            http.post(
                "/api/v1/wechat/messages", json={"text": "你好"}, headers={"Authorization": "Bearer forged.token"}
            ).status_code
            == 401
        )
        empty = http.post("/api/v1/wechat/messages", json={"text": "  "}, headers=auth)
        assert empty.status_code == 422 and empty.json()["error"]["code"] == "empty_text"
        assert (
            http.post(
                "/api/v1/wechat/messages", content=b"{", headers={**auth, "Content-Type": "application/json"}
            ).json()["error"]["code"]
            == "invalid_json"
        )
        answer = http.post("/api/v1/wechat/messages", json={"text": "房东不退押金怎么办"}, headers=auth).json()
        assert answer["category"] == "lease" and "相关法条" in answer["replies"][0]["text"], answer
        assert http.post("/api/v1/wechat/messages", json={"text": "转人工"}, headers=auth).json()["case_id"]
        add_staff(dataclasses.replace(stack.settings, var_dir=service.log_path.parent), "wx-med")
        console = Console(url, "wx-med")
        case = console.http.get("/console/api/queue").json()["waiting"][0]
        console.post(f"/console/api/cases/{case['id']}/claim")
        empty_poll = http.get("/api/v1/wechat/updates", params={"wait": 0}, headers=auth).json()
        assert any("已接手" in m["text"] for m in empty_poll["messages"])
        after = max([m["id"] for m in empty_poll["messages"]] + [0])
        result: dict = {}

        def poll() -> None:  # the mini-program waits on the long poll while the mediator types
            started = time.monotonic()
            result["body"] = http.get(
                "/api/v1/wechat/updates", params={"after": after, "wait": 20}, headers=auth
            ).json()
            result["seconds"] = time.monotonic() - started

        waiter = threading.Thread(target=poll)
        waiter.start()
        time.sleep(1.0)
        console.post(f"/console/api/cases/{case['id']}/messages", {"text": "调解员来了"})
        waiter.join(30)
        assert [m["text"] for m in result["body"]["messages"]] == ["调解员来了"]
        assert 0.9 < result["seconds"] < 5
    assert (
        "openapi" in httpx.get(f"{url}/openapi.json").text
        and "/api/v1/wechat/login" in httpx.get(f"{url}/openapi.json").json()["paths"]
    )


def test_push_verification(wx) -> None:
    _, url, _ = wx
    query = {**signed(str(int(time.time())), "n1"), "echostr": "echo-123"}
    assert httpx.get(f"{url}/wechat/push", params=query).text == "echo-123"
    assert httpx.get(f"{url}/wechat/push", params={**query, "signature": "0" * 40}).status_code == 403


def test_a_signed_push_of_long_ago_is_refused(wx) -> None:
    """#13: a 30-day-old timestamp was accepted; only ±5 minutes now."""
    _, url, _ = wx
    for age in (30 * 86400, 330, -330):  # a margin over the 300 s window: clocks and delays
        old = signed(str(int(time.time()) - age), f"n-old-{age}")
        refused = httpx.post(f"{url}/wechat/push", params=old, content=xml_text("openid-old", "你好").encode())
        assert refused.status_code == 403 and "海珠区" not in refused.text
    assert (
        httpx.post(
            f"{url}/wechat/push", params=signed("not-a-time", "n-x"), content=xml_text("openid-old", "你好").encode()
        ).status_code
        == 403
    )


def test_push_plaintext_xml_and_json_get_passive_replies(wx) -> None:
    wechat, url, _ = wx
    reply = httpx.post(
        f"{url}/wechat/push",
        params=signed(str(int(time.time())), "n-xml"),
        content=xml_text("openid-x", "老板拖欠我三个月工资").encode(),
        headers={"Content-Type": "text/xml"},
    )
    message = xmltodict.parse(reply.text)["xml"]
    assert message["ToUserName"] == "openid-x" and "【拖欠工资】" in message["Content"]
    body = {
        "ToUserName": "gh_haizhu",
        "FromUserName": "openid-j",
        "CreateTime": int(time.time()),
        "MsgType": "text",
        "Content": "你好",
        "MsgId": 1,
    }
    reply = httpx.post(f"{url}/wechat/push", params=signed(str(int(time.time())), "n-json"), json=body)
    assert reply.json()["ToUserName"] == "openid-j" and "海珠区" in reply.json()["Content"]
    photo = xml_text("openid-x", "x").replace("<MsgType>text</MsgType>", "<MsgType>image</MsgType>")
    reply = httpx.post(f"{url}/wechat/push", params=signed(str(int(time.time())), "n-img"), content=photo.encode())
    assert "只能看懂文字" in xmltodict.parse(reply.text)["xml"]["Content"]


def test_a_push_sent_again_is_one_message(wx) -> None:
    """#15: WeChat sends a push again, with its MsgId, when no answer came in 5 s (the gateway
    that had it died behind the balancer); its own replay check (timestamp, nonce) does not
    catch a push sent again with new ones. The MsgId keeps it one message: the same answer,
    the question not taken twice."""
    _, url, service = wx
    push = xml_text("openid-again", "房东不退押金怎么办").encode()
    answers = [
        xmltodict.parse(
            httpx.post(f"{url}/wechat/push", params=signed(str(int(time.time())), nonce), content=push).text
        )["xml"]["Content"]
        for nonce in ("n-again-1", "n-again-2")
    ]
    assert "押金" in answers[0] and answers[1] == answers[0]
    assert len(stored_message_ids(service.log_path.parent, "wx:openid-again")) == 1


def test_push_in_safe_mode(stack, tmp_path) -> None:
    wechat = FakeWeChat(free_port())
    url, service = gateway(stack, tmp_path, wechat, WECHAT_ENCODING_AES_KEY=AES_KEY)
    try:
        check_safe_mode(url)
    finally:
        service.stop()
        wechat.shutdown()


def check_safe_mode(url: str) -> None:
    crypto = WeChatCrypto(TOKEN, AES_KEY, APPID)
    timestamp, nonce = str(int(time.time())), "n-aes"
    encrypted = crypto.encrypt_message(xml_text("openid-s", "你好"), nonce, timestamp)
    outer = xmltodict.parse(encrypted)["xml"]
    params = {**signed(timestamp, nonce), "encrypt_type": "aes", "msg_signature": outer["MsgSignature"]}
    reply = httpx.post(f"{url}/wechat/push", params=params, content=encrypted.encode())
    wrapped = xmltodict.parse(reply.text)["xml"]
    inner = xmltodict.parse(
        crypto.decrypt_message(reply.text, wrapped["MsgSignature"], wrapped["TimeStamp"], wrapped["Nonce"])
    )["xml"]
    assert inner["ToUserName"] == "openid-s" and "海珠区" in inner["Content"]
    bad = httpx.post(
        f"{url}/wechat/push",
        params={**params, "nonce": "n-aes-2", "msg_signature": "0" * 40, **signed(timestamp, "n-aes-2")},
        content=encrypted.encode(),
    )
    assert bad.status_code == 403
    # with an EncodingAESKey configured, nothing is taken in the clear (#13)
    clear = httpx.post(
        f"{url}/wechat/push",
        params=signed(str(int(time.time())), "n-clear"),
        content=xml_text("openid-s", "你好").encode(),
    )
    assert clear.status_code == 403 and "海珠区" not in clear.text


def test_bad_signature_and_replay_process_nothing(wx, stack) -> None:
    wechat, url, service = wx
    forged = httpx.post(
        f"{url}/wechat/push",
        params={**signed("1", "n"), "signature": "f" * 40},
        content=xml_text("openid-forged", "你好").encode(),
    )
    assert forged.status_code == 403
    params = signed(str(int(time.time())), "n-replay")
    first = httpx.post(f"{url}/wechat/push", params=params, content=xml_text("openid-r", "你好").encode())
    second = httpx.post(f"{url}/wechat/push", params=params, content=xml_text("openid-r", "你好").encode())
    assert "海珠区" in first.text and second.text == "success"
    import sqlite3

    with sqlite3.connect(service.log_path.parent / "gateway.db") as db:
        users = {
            row[0]: row[1] for row in db.execute("SELECT user_id, count(*) FROM inbound_messages GROUP BY user_id")
        }
    assert "wx:openid-forged" not in users and users["wx:openid-r"] == 1


def test_a_replay_is_refused_after_a_restart_and_by_another_gateway(stack, tmp_path) -> None:
    """#13: the nonces were remembered in one process for five minutes and lost on
    restart; now they are in the database the gateways share."""
    wechat = FakeWeChat(free_port())
    params = signed(str(int(time.time())), f"n-restart-{uuid.uuid4().hex[:6]}")
    try:
        url, service = gateway(stack, tmp_path, wechat)
        first = httpx.post(f"{url}/wechat/push", params=params, content=xml_text("openid-rs", "你好").encode())
        assert "海珠区" in first.text
        service.stop()
        url, service = gateway(stack, tmp_path, wechat)  # the same database, a new process
        again = httpx.post(f"{url}/wechat/push", params=params, content=xml_text("openid-rs", "你好").encode())
        assert again.text == "success"
        service.stop()
    finally:
        wechat.shutdown()
    import sqlite3

    with sqlite3.connect(tmp_path / "gateway.db") as db:
        assert db.execute("SELECT count(*) FROM inbound_messages WHERE user_id = 'wx:openid-rs'").fetchone() == (1,)


def test_slow_answers_go_by_customer_service_message(stack, tmp_path) -> None:
    wechat = FakeWeChat(free_port())
    url, service = gateway(stack, tmp_path, wechat, WECHAT_PASSIVE_REPLY_S="0.01")
    try:
        reply = httpx.post(
            f"{url}/wechat/push",
            params=signed(str(int(time.time())), "n-slow"),
            content=xml_text("openid-slow", "老板拖欠我三个月工资").encode(),
        )
        assert reply.text == "success"
        sent = wechat.wait_sent("openid-slow", 1)
        assert "【拖欠工资】" in sent[0]["text"] and "· 申请法律援助" in sent[0]["text"]
    finally:
        service.stop()
        wechat.shutdown()


def test_gateways_share_the_stable_access_token_and_fetch_it_again_when_it_is_renewed(stack) -> None:
    """Four gateways' clients (the cluster's layout) against the fake WeChat with its old
    tokens ending at once (WeChat's five minutes, compressed): with the plain /cgi-bin/token,
    each gateway's fetch ended the one before's token and its messages failed (40001). The
    stable token is the same for all; when the platform renews it, each client finds out on
    its next message, fetches it again and sends that message once."""
    wechat = FakeWeChat(free_port())
    wechat.token_grace_s = 0
    settings = dataclasses.replace(
        stack.settings, wechat_api_base=wechat.base_url, wechat_appid=APPID, wechat_secret=SECRET
    )

    async def scenario() -> None:
        clients = [WeChatClient(settings) for _ in range(4)]
        try:
            for round_ in ("第一条", "第二条"):
                for number, client in enumerate(clients):
                    await client.send_text("openid-resident-1", f"{round_}{number}")
            wechat.renew_stable()
            for number, client in enumerate(clients):
                await client.send_text("openid-resident-1", f"第三条{number}")
        finally:
            for client in clients:
                await client.close()

    try:
        asyncio.run(scenario())
        texts = [m["text"] for m in wechat.sent]
        assert sorted(texts) == sorted(f"{r}{n}" for r in ("第一条", "第二条", "第三条") for n in range(4)), texts
        assert wechat.token_calls == ["stable_token"] * 8  # once each, and once each after the renewal
    finally:
        wechat.shutdown()
