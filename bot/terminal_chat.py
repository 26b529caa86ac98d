"""`make chat`: chat with the running assistant in a terminal, through the gateway.

Goes through the same `POST /api/v1/messages` as every channel, so what you
see here is what a resident gets, as a new resident the gateway issues
(`POST /api/v1/residents`), like the web page. Buttons are numbered: type the
number to press one.
"""

from __future__ import annotations

import argparse
import io
import sys

import httpx

from settings import get_settings


def render(body: dict) -> list[dict]:
    buttons: list[dict] = []
    for reply in body.get("replies", []):
        print(f"助手> {reply['text']}")
        for button in reply.get("buttons", []):
            buttons.append(button)
            print(f"   [{len(buttons)}] {button['title']}")
    return buttons


def main(argv: list[str] | None = None) -> int:
    settings = get_settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=f"http://{settings.host}:{settings.gateway_port}")
    args = parser.parse_args(argv)
    if isinstance(sys.stdin, io.TextIOWrapper) and isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdin.reconfigure(encoding="utf-8", errors="replace")
        sys.stdout.reconfigure(encoding="utf-8")
    print("海珠区公共法律服务智能助手（输入 /quit 退出，数字选择按钮）")
    buttons: list[dict] = []
    with httpx.Client(base_url=args.url, timeout=60) as client:
        try:
            issued = client.post("/api/v1/residents")
        except httpx.HTTPError:
            print(f"（连不上助手 {args.url}，请先运行 make run）")
            return 1
        if issued.status_code != 201:
            print(f"（{issued.json().get('error', {}).get('message', issued.status_code)}）")
            return 1
        client.headers["Authorization"] = f"Bearer {issued.json()['token']}"
        while True:
            try:
                text = input("您> ").strip()
            except (EOFError, KeyboardInterrupt):
                print()
                return 0
            if text in ("/quit", "/exit"):
                return 0
            if not text:
                continue
            if text.isdigit() and 0 < int(text) <= len(buttons):
                text = buttons[int(text) - 1]["payload"]
            try:
                response = client.post("/api/v1/messages", json={"text": text})
            except httpx.HTTPError:
                print(f"（连不上助手 {args.url}，请先运行 make run）")
                continue
            body = response.json()
            if response.status_code != 200:
                print(f"（{body.get('error', {}).get('message', response.status_code)}）")
                continue
            buttons = render(body)


if __name__ == "__main__":
    sys.exit(main())
