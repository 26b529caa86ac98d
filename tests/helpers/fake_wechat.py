"""A local stand-in for WeChat's server API: code2Session, access tokens,
customer-service and subscribe messages (recorded), spoken to over real HTTP."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

APPID, SECRET = "wx1234567890abcdef", "test-secret"
CODES = {"good-code": "openid-resident-1", "second-code": "openid-resident-2"}


class FakeWeChat(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.sent: list[dict] = []
        self.subscribed: list[dict] = []  # subscribe/send bodies
        self.not_subscribed: set[str] = set()  # openids that refused the template (errcode 43101)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def wait_sent(self, openid: str, count: int, timeout: float = 30) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [m for m in list(self.sent) if m["touser"] == openid]
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"custom messages to {openid}: {len([m for m in self.sent if m['touser'] == openid])}")


class _Handler(BaseHTTPRequestHandler):
    server: FakeWeChat

    def log_message(self, *args: object) -> None:
        pass

    def _json(self, body: dict) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        url = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/sns/jscode2session":
            if q.get("appid") != APPID or q.get("secret") != SECRET or q.get("js_code") not in CODES:
                self._json({"errcode": 40029, "errmsg": "invalid code"})
            else:
                self._json({"openid": CODES[q["js_code"]], "session_key": "sk"})
        elif url.path == "/cgi-bin/token":
            ok = q.get("appid") == APPID and q.get("secret") == SECRET
            self._json({"access_token": "ACCESS", "expires_in": 7200} if ok else {"errcode": 40013})
        else:
            self._json({"errcode": 404})

    def do_POST(self) -> None:  # noqa: N802
        url = urlparse(self.path)
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        if url.path == "/cgi-bin/message/subscribe/send" and parse_qs(url.query).get("access_token") == ["ACCESS"]:
            if body.get("touser") in self.server.not_subscribed:
                self._json({"errcode": 43101, "errmsg": "user refuse to accept the msg"})
            else:
                self.server.subscribed.append(body)
                self._json({"errcode": 0, "errmsg": "ok"})
            return
        if url.path == "/cgi-bin/message/custom/send" and parse_qs(url.query).get("access_token") == ["ACCESS"]:
            self.server.sent.append({"touser": body["touser"], "text": body["text"]["content"]})
            self._json({"errcode": 0, "errmsg": "ok"})
        else:
            self._json({"errcode": 40001, "errmsg": "invalid credential"})
