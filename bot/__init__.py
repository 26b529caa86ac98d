"""Channels and the gateway: the HTTP API in front of Rasa (later Telegram,
the mini-program, the web page and the mediator console)."""
