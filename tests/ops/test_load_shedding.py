"""Past capacity (#15): a message that finds no free Rasa turn in time is kept and answered
in order later, as when Rasa is down, instead of every resident waiting for all of them.
A second real gateway beside the test stack, allowed one turn at a time."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.helpers.stack import resident_http, start_gateway, stored_message_ids
from tests.ops.test_rasa_down import wait_answered

RESIDENTS = 8
QUESTION = "包工头欠我们工钱跑路了"


def test_messages_past_the_gateways_turns_are_kept_at_once_and_answered_later(stack, tmp_path) -> None:
    url, service = start_gateway(
        stack, tmp_path, GATEWAY_MAX_TURNS="1", GATEWAY_TURN_WAIT_S="0.02", RETRY_INTERVAL_S="0.5"
    )
    residents = [f"rush-{time.time_ns()}-{n}" for n in range(RESIDENTS)]
    together = threading.Barrier(RESIDENTS)

    def resident(user_id: str) -> tuple[str, httpx.Response]:
        with resident_http(url, timeout=60) as client:
            # the resident's token first (ResidentAuth), so that the messages leave together
            assert client.get("/api/v1/messages/none", params={"user_id": user_id}).status_code == 404
            together.wait()
            return user_id, client.post("/api/v1/messages", json={"user_id": user_id, "text": QUESTION})

    try:
        with ThreadPoolExecutor(RESIDENTS) as pool:
            sent = list(pool.map(resident, residents))
        answered = [(who, r.json()) for who, r in sent if r.status_code == 200]
        kept = [(who, r.json()["error"]) for who, r in sent if r.status_code == 503]
        assert len(answered) + len(kept) == RESIDENTS, [r.text for _, r in sent]
        assert answered and kept, "one turn for eight residents at once: some answered, some kept"
        for _, error in kept:
            assert error["code"] == "assistant_unavailable" and "保存" in error["message"] and error["message_id"]
        with resident_http(url, timeout=30) as client:
            later = [(who, wait_answered(client, error["message_id"], who)) for who, error in kept]
    finally:
        service.stop()
    # a kept message is answered as it would have been at once, and is one message
    replies = {str(body["replies"]) for _, body in answered + later}
    assert len(replies) == 1 and all(body["intent"] == "labour_wage_arrears" for _, body in answered + later)
    for who, body in later:
        assert stored_message_ids(tmp_path, who) == [body["message_id"]]
    log = (tmp_path / "gateway.log").read_text("utf-8")
    assert log.count("gateway busy, message") == len(kept)
    assert QUESTION not in log
