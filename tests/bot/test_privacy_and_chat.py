"""Personal data stays out of every process's log; `make chat` talks to the stack."""

from __future__ import annotations

import subprocess
import time
import uuid

import httpx

from bot.core.privacy import loggable_path, mask_personal_data
from settings import ROOT


def test_mask_personal_data() -> None:
    masked = mask_personal_data("电话13912345678，身份证44010619900101123X，座机020-1234")
    assert "13912345678" not in masked and "44010619900101123X" not in masked
    assert "020-1234" in masked


def test_no_phone_or_id_number_in_logs(client: httpx.Client, stack) -> None:
    phone, id_number = "13987654321", "440106198802021234"
    r = client.post(
        "/api/v1/messages",
        json={"user_id": "privacy-1", "text": f"我叫张三，电话{phone}，身份证{id_number}，公司欠我工资"},
    )
    assert r.status_code == 200
    time.sleep(1)
    for log in (stack.settings.var_dir / "logs").glob("*.log"):
        content = log.read_text("utf-8", errors="replace")
        assert phone not in content, log.name
        assert id_number not in content, log.name
        assert "张三" not in content, log.name


def test_the_access_log_says_what_was_asked_not_of_whom(client: httpx.Client, stack) -> None:
    """Residents' ids travel in queries and paths, and a draft's signed link opens the
    resident's application: the gateway's access log keeps neither."""
    resident = f"access-{uuid.uuid4().hex[:8]}"
    sent = client.post("/api/v1/messages", json={"user_id": resident, "text": "你好"}).json()
    assert client.get(f"/api/v1/messages/{sent['message_id']}", params={"user_id": resident}).status_code == 200
    assert client.get(f"/api/v1/conversations/{resident}/messages").status_code in (200, 404)
    link = f"signed{uuid.uuid4().hex}"
    assert client.get(f"/api/v1/drafts/{link}").status_code == 404
    time.sleep(1)
    log = (stack.settings.var_dir / "logs" / "gateway.log").read_text("utf-8", errors="replace")
    assert f"GET /api/v1/messages/{sent['message_id']} HTTP" in log  # what was asked, and how it went
    assert resident not in log and link not in log
    assert loggable_path(f"/api/v1/conversations/{resident}/messages?x=1") == "/api/v1/conversations/…/messages"


def test_rasa_api_needs_the_token_and_logs_do_not_hold_it(client: httpx.Client, stack) -> None:
    """Rasa's HTTP API serves trackers (residents' transcripts): only with the token."""
    base, token = stack.settings.rasa_base_url, stack.settings.rasa_token()
    assert client.post("/api/v1/messages", json={"user_id": "token-1", "text": "你好"}).status_code == 200
    assert httpx.get(f"{base}/conversations/token-1/tracker", timeout=30).status_code == 401
    assert httpx.get(f"{base}/conversations/token-1/tracker", params={"token": "guess"}, timeout=30).status_code == 401
    assert httpx.get(f"{base}/conversations/token-1/tracker", params={"token": token}, timeout=30).status_code == 200
    for log in (stack.settings.var_dir / "logs").glob("*.log"):
        assert token not in log.read_text("utf-8", errors="replace"), log.name


def test_terminal_chat_in_chinese(gateway_url: str, stack) -> None:
    done = subprocess.run(
        [str(stack.settings.main_venv / "bin" / "python"), "-m", "bot.terminal_chat", "--url", gateway_url],
        input="你好\n1\n/quit\n",
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "助手> 您好" in done.stdout
    assert "【拖欠工资】" in done.stdout  # button 1 of the greeting was pressed


def test_rasa_logging_withholds_tracker_dumps_and_masks_numbers() -> None:
    """Rasa logs the whole request to the action server when an action fails;
    its logging configuration (ops/rasa_logging.yml, as `rasa run` applies it) cuts that."""
    from tests.helpers.stack import rasa_python

    script = (
        "import logging, json\n"
        "from rasa.utils.common import configure_logging_and_warnings\n"
        "configure_logging_and_warnings(logging_config_file='ops/rasa_logging.yml')\n"
        "body = json.dumps({'text': '我叫张三' * 400})\n"
        "logging.getLogger('rasa.core.processor').error('action failed, request_body=' + body)\n"
        "logging.getLogger('rasa.core.processor').error('call me on 13812345678')\n"
    )
    result = rasa_python("-c", script, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "action failed" in result.stderr and "withheld" in result.stderr
    assert "\\u6211" not in result.stderr and "我叫张三" not in result.stderr
    assert "13812345678" not in result.stderr and "手机号已隐去" in result.stderr
