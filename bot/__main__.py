"""`python -m bot`: serve the gateway with uvicorn on the configured port.

X-Forwarded-For is believed only from TRUSTED_PROXIES: uvicorn's default
trusts it from 127.0.0.1, so any local client could name any address and
reset its rate limits (bot/core/rate_limits.py keys on the client address).
"""

import uvicorn

from settings import get_settings

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
    )
