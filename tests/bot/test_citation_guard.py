"""The gateway's citation guard on every outgoing message.

Rasa never writes a made-up citation itself, so a local server that speaks
Rasa's REST protocol stands in for it here and answers with whatever the test
scripts; the gateway is the real process, with the test stack's real index.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.core.citation_guard import BLOCKED_TEXT
from ops.stack import Service
from tests.helpers.stack import free_port, resident_http, start_gateway


class ScriptedRasa(ThreadingHTTPServer):
    """Answers the gateway channel (nlu/gateway_channel.py) with `self.reply` and a labour intent."""

    reply = ""


class Handler(BaseHTTPRequestHandler):
    def _json(self, body: object) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._json({"model_file": "scripted.tar.gz"})  # /status

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._json(
            {
                "messages": [{"recipient_id": "x", "text": self.server.reply}],
                "parse": {
                    "intent": {"name": "labour_wage_arrears", "confidence": 0.9},
                    "category": "labour",
                    "entities": [],
                },
            }
        )

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def guarded_gateway(stack, tmp_path) -> Iterator[tuple[str, ScriptedRasa, Service]]:
    rasa = ScriptedRasa(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=rasa.serve_forever, daemon=True).start()
    url, service = start_gateway(stack, tmp_path, RASA_URL=f"http://127.0.0.1:{rasa.server_address[1]}")
    yield url, rasa, service
    service.stop()
    rasa.shutdown()


def test_made_up_citation_is_blocked_kept_and_logged(guarded_gateway) -> None:
    url, rasa, service = guarded_gateway
    rasa.reply = "根据《劳动合同法》第九百九十九条，老板要赔您十倍工资。"
    with resident_http(url, timeout=30) as client:
        sent = client.post("/api/v1/messages", json={"user_id": "guard-1", "text": "老板欠我工资，电话13812345678"})
        assert sent.status_code == 200
        texts = [r["text"] for r in sent.json()["replies"]]
        assert texts == [BLOCKED_TEXT]
        kept = client.get(f"/api/v1/messages/{sent.json()['message_id']}", params={"user_id": "guard-1"})
        assert kept.json()["status"] == "held"
    log = service.log_path.read_text("utf-8")
    assert "citation guard blocked" in log and "劳动合同法 999" in log
    assert "13812345678" not in log and "第九百九十九条，老板" not in log


def test_real_citation_with_status_passes(guarded_gateway) -> None:
    url, rasa, _ = guarded_gateway
    rasa.reply = "《劳动合同法》第三十条（现行有效）规定，用人单位应当及时足额支付劳动报酬。"
    with resident_http(url, timeout=30) as client:
        sent = client.post("/api/v1/messages", json={"user_id": "guard-2", "text": "工资"})
        assert [r["text"] for r in sent.json()["replies"]] == [rasa.reply]
        kept = client.get(f"/api/v1/messages/{sent.json()['message_id']}", params={"user_id": "guard-2"})
        assert kept.json()["status"] == "answered"
