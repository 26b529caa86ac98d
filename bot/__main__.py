"""`python -m bot`: serve the gateway with uvicorn on the configured port."""
import uvicorn

from settings import get_settings

if __name__ == "__main__":
    settings = get_settings()
    uvicorn.run("bot.app:app", host=settings.host, port=settings.gateway_port, log_level="info")
