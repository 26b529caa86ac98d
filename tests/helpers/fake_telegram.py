"""A local stand-in for the Telegram Bot API, spoken to by the real
python-telegram-bot client through its base_url: scripted updates go out
through getUpdates (or are posted to the gateway's webhook by the test), and
every call the bot makes is recorded."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

TOKEN = "123456:TEST-TOKEN"


def _decode(value: str) -> Any:
    try:
        return json.loads(value)
    except (ValueError, TypeError):
        return value


class FakeTelegram(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.updates: list[dict[str, Any]] = []
        self.next_update_id = 1
        # as Telegram: a getUpdates with an offset confirms (forgets) the updates before it, and
        # a getUpdates arriving while another waits ends that one with 409 Conflict
        self.polls = 0  # getUpdates received; each waiting one knows its number
        self.conflicts: list[float] = []  # when a waiting getUpdates was ended by another
        self.pollers: list[int] = []  # the client port of each getUpdates, in order
        self.next_message_id = 1000
        self.lock = threading.Condition()
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/bot"

    # -- scripting -----------------------------------------------------------------
    def _push(self, update: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            update["update_id"] = self.next_update_id
            self.next_update_id += 1
            self.updates.append(update)
            self.lock.notify_all()
        return update

    def _message(self, chat_id: int, **fields: Any) -> dict[str, Any]:
        self.next_message_id += 1
        return {
            "message_id": self.next_message_id,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private", "first_name": "居民"},
            "from": {"id": chat_id, "is_bot": False, "first_name": "居民"},
            **fields,
        }

    def text_update(self, chat_id: int, text: str) -> dict[str, Any]:
        entities = (
            [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}] if text.startswith("/") else []
        )
        return {"message": self._message(chat_id, text=text, entities=entities)}

    def send_text(self, chat_id: int, text: str) -> dict[str, Any]:
        return self._push(self.text_update(chat_id, text))

    def send_photo(self, chat_id: int) -> dict[str, Any]:
        photo = [{"file_id": "f1", "file_unique_id": "u1", "width": 10, "height": 10}]
        return self._push({"message": self._message(chat_id, photo=photo)})

    def edit(self, chat_id: int, message_id: int, text: str) -> dict[str, Any]:
        message = self._message(chat_id, text=text, edit_date=int(time.time()))
        message["message_id"] = message_id
        return self._push({"edited_message": message})

    def press(self, chat_id: int, data: str) -> dict[str, Any]:
        return self._push(
            {
                "callback_query": {
                    "id": f"cb{self.next_update_id}",
                    "chat_instance": "ci",
                    "from": {"id": chat_id, "is_bot": False, "first_name": "居民"},
                    "message": self._message(chat_id, text="按钮"),
                    "data": data,
                }
            }
        )

    # -- reading -------------------------------------------------------------------
    def sent(self, chat_id: int, method: str = "sendMessage") -> list[dict[str, Any]]:
        return [p for m, p in list(self.calls) if m == method and str(p.get("chat_id")) == str(chat_id)]

    def wait_sent(self, chat_id: int, count: int, timeout: float = 30, method: str = "sendMessage") -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.sent(chat_id, method)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"{method} to {chat_id}: {len(self.sent(chat_id, method))} calls, wanted {count}")

    def called(self, method: str) -> list[dict[str, Any]]:
        return [p for m, p in list(self.calls) if m == method]


class _Handler(BaseHTTPRequestHandler):
    server: FakeTelegram

    def log_message(self, *args: object) -> None:
        pass

    def _params(self) -> dict[str, Any]:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("utf-8")
        kind = self.headers.get("Content-Type", "")
        if "json" in kind:
            return json.loads(body or "{}")
        return {k: _decode(v[0]) for k, v in parse_qs(body).items()}

    def _reply(self, result: Any, ok: bool = True, code: int = 400) -> None:
        data = json.dumps(
            {"ok": ok, "result": result} if ok else {"ok": False, "error_code": code, "description": str(result)}
        ).encode()
        self.send_response(200 if ok else code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the bot stopped mid long-poll
            self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        self.do_POST()

    def do_POST(self) -> None:  # noqa: N802
        server = self.server
        prefix = f"/bot{TOKEN}/"
        if not self.path.startswith(prefix):
            self._reply("Unauthorized", ok=False)
            return
        method = self.path[len(prefix) :].split("?")[0]
        params = self._params() if self.command == "POST" else {}
        if method != "getUpdates":
            server.calls.append((method, params))
        if method == "getMe":
            self._reply(
                {
                    "id": 42,
                    "is_bot": True,
                    "first_name": "海珠法律助手",
                    "username": "haizhu_law_bot",
                    "can_join_groups": False,
                    "can_read_all_group_messages": False,
                    "supports_inline_queries": False,
                }
            )
        elif method == "getUpdates":
            offset = int(params.get("offset") or 0)
            deadline = time.monotonic() + min(float(params.get("timeout") or 0), 1.0)
            with server.lock:
                server.pollers.append(self.client_address[1])
                server.polls += 1
                mine = server.polls
                server.lock.notify_all()
                if offset:
                    server.updates = [u for u in server.updates if u["update_id"] >= offset]
                while True:
                    if server.polls != mine:
                        server.conflicts.append(time.time())
                        break
                    ready = list(server.updates)
                    remaining = deadline - time.monotonic()
                    if ready or remaining <= 0:
                        break
                    server.lock.wait(remaining)
            if server.polls != mine and not ready:
                self._reply("Conflict: terminated by other getUpdates request", ok=False, code=409)
            else:
                self._reply(ready)
        elif method in ("sendMessage", "editMessageText"):
            server.next_message_id += 1
            self._reply(
                {
                    "message_id": server.next_message_id,
                    "date": int(time.time()),
                    "chat": {"id": int(params.get("chat_id", 0)), "type": "private"},
                    "text": params.get("text", ""),
                }
            )
        elif method in ("sendChatAction", "answerCallbackQuery", "setWebhook", "deleteWebhook", "setMyCommands"):
            self._reply(True)
        elif method == "getWebhookInfo":
            self._reply({"url": "", "has_custom_certificate": False, "pending_update_count": 0})
        else:
            self._reply(f"method {method} not simulated", ok=False)
