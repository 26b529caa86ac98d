"""`python -m bot`: serve the gateway with uvicorn on the configured port.

X-Forwarded-For is believed only from TRUSTED_PROXIES: uvicorn's default
trusts it from 127.0.0.1, so any local client could name any address and
reset its rate limits (bot/core/rate_limits.py keys on the client address).
"""

import copy
from typing import Any

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from settings import get_settings


def log_config() -> dict[str, Any]:
    """uvicorn's logging, plus a handler for everything else. uvicorn configures only its
    own loggers: the gateway's info lines (a claim given back, the Telegram poller's turn,
    kept messages delivered) went nowhere, and its warnings reached stderr through Python's
    last-resort handler, past the personal-data filter (bot/core/privacy.py installs it on
    the root's handlers). The gateway logs at INFO (ids and counts, never a resident's words
    or id); libraries stay at WARNING: httpx's INFO line is every request's full URL, with
    the Telegram bot's token and Rasa's in it."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["handlers"]["gateway"] = {
        "class": "logging.StreamHandler",
        "formatter": "default",
        "stream": "ext://sys.stderr",
    }
    config["loggers"]["bot"] = {"handlers": ["gateway"], "level": "INFO", "propagate": False}
    config["root"] = {"handlers": ["gateway"], "level": "WARNING"}
    return config


if __name__ == "__main__":
    settings = get_settings()
    proxies = [p.strip() for p in settings.trusted_proxies.split(",") if p.strip()]
    uvicorn.run(
        "bot.app:app",
        host=settings.host,
        port=settings.gateway_port,
        log_level="info",
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies or [],
        log_config=log_config(),
    )
