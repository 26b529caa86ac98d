"""A local stand-in for WeChat's server API: code2Session, access tokens,
customer-service and subscribe messages (recorded), spoken to over real HTTP.

Access tokens behave as WeChat documents them: each call of `/cgi-bin/token` issues a new
token and the one before stops working (after `token_grace_s`, five minutes at WeChat);
`/cgi-bin/stable_token` gives every caller the same token while it lives (`force_refresh`
or `renew_stable()` replaces it); a message sent with any other token gets errcode 40001."""

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
        self.lock = threading.Lock()
        self.token_grace_s = 300.0
        self.issued = 0
        self.plain_tokens: list[tuple[str, float]] = []  # (token, when it was replaced; inf: current)
        self.stable_token = ""
        self.token_calls: list[str] = []  # "token" or "stable_token", per call
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def _new_token(self, kind: str) -> str:
        self.issued += 1
        return f"{kind}-{self.issued}"

    def plain_token(self) -> str:
        with self.lock:
            now = time.monotonic()
            self.plain_tokens = [(t, now if until == float("inf") else until) for t, until in self.plain_tokens]
            token = self._new_token("ACCESS")
            self.plain_tokens.append((token, float("inf")))
            return token

    def renew_stable(self) -> str:
        """The stable token replaced (a forced refresh, or the platform renewing it)."""
        with self.lock:
            self.stable_token = self._new_token("STABLE")
            return self.stable_token

    def valid(self, token: str | None) -> bool:
        with self.lock:
            now = time.monotonic()
            if token and token == self.stable_token:
                return True
            return any(t == token and now - until <= self.token_grace_s for t, until in self.plain_tokens)

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
            self.server.token_calls.append("token")
            if q.get("appid") == APPID and q.get("secret") == SECRET:
                self._json({"access_token": self.server.plain_token(), "expires_in": 7200})
            else:
                self._json({"errcode": 40013})
        else:
            self._json({"errcode": 404})

    def do_POST(self) -> None:  # noqa: N802
        url = urlparse(self.path)
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        token = (parse_qs(url.query).get("access_token") or [None])[0]
        if url.path == "/cgi-bin/stable_token":
            self.server.token_calls.append("stable_token")
            if body.get("appid") != APPID or body.get("secret") != SECRET:
                self._json({"errcode": 40013, "errmsg": "invalid appid"})
                return
            stable = self.server.stable_token
            if body.get("force_refresh") or not stable:
                stable = self.server.renew_stable()
            self._json({"access_token": stable, "expires_in": 7200})
            return
        if url.path == "/cgi-bin/message/subscribe/send" and self.server.valid(token):
            if body.get("touser") in self.server.not_subscribed:
                self._json({"errcode": 43101, "errmsg": "user refuse to accept the msg"})
            else:
                self.server.subscribed.append(body)
                self._json({"errcode": 0, "errmsg": "ok"})
            return
        if url.path == "/cgi-bin/message/custom/send" and self.server.valid(token):
            self.server.sent.append({"touser": body["touser"], "text": body["text"]["content"]})
            self._json({"errcode": 0, "errmsg": "ok"})
        else:
            self._json({"errcode": 40001, "errmsg": "invalid credential"})
