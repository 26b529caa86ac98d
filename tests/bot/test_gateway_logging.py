"""The gateway's own log lines (bot/__main__.py `log_config`): its INFO lines reach the log,
every line passes the personal-data filter, and libraries' INFO lines (httpx's carry the
full URL of each request, with the Telegram bot's token or Rasa's in it) do not."""

from __future__ import annotations

import subprocess
import sys

from settings import ROOT
from tests.helpers.stack import start_gateway

LOGGING_AS_SERVED = """
import logging, logging.config
from bot.__main__ import log_config
from bot.core import privacy
logging.config.dictConfig(log_config())  # what uvicorn.run applies before the app starts
privacy.install()  # what the gateway's lifespan does
logging.getLogger("bot.core.conversation").info("info from the gateway, 13812345678")
logging.getLogger("httpx").info("HTTP Request: POST https://api.telegram.org/bot123:SECRET/getUpdates")
logging.getLogger("sqlalchemy.pool").warning("a library's warning, 110101199003071234")
"""


def test_the_gateways_lines_are_logged_masked_and_libraries_info_is_not() -> None:
    done = subprocess.run([sys.executable, "-c", LOGGING_AS_SERVED], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert any("info from the gateway, [手机号已隐去]" in line for line in lines), lines
    assert any("a library's warning, [身份证号已隐去]" in line for line in lines), lines  # before: unmasked
    assert not any("SECRET" in line or "13812345678" in line for line in lines), lines


def test_a_served_gateway_logs_its_info_lines(stack, tmp_path) -> None:
    _, service = start_gateway(stack, tmp_path / "g")
    try:
        log = service.log_path.read_text("utf-8")
    finally:
        service.stop()
    assert "telegram channel off (no TELEGRAM_BOT_TOKEN)" in log, log  # bot.lifespan at INFO
