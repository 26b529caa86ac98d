"""Rasa and the action server answer only the gateway: their webhooks refuse
calls without the shared secret, and the action server listens on loopback
(#13: a resident half-way through the legal-aid form was impersonated through
Rasa's channel webhooks, and the action server took any call on 0.0.0.0)."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest


def test_rasa_channel_refuses_a_sender_without_the_token(client: httpx.Client, stack) -> None:
    base, token = stack.settings.rasa_base_url, stack.settings.rasa_token()
    turn = {"sender": "intake-victim", "message": "/affirm"}
    assert httpx.post(f"{base}/webhooks/gateway/webhook", json=turn, timeout=30).status_code == 401
    assert (
        httpx.post(
            f"{base}/webhooks/gateway/webhook", json=turn, timeout=30, headers={"Authorization": "Bearer guess"}
        ).status_code
        == 401
    )
    assert (
        httpx.post(
            f"{base}/webhooks/gateway/webhook", json=turn, timeout=30, headers={"Authorization": token}
        ).status_code
        == 401
    )  # not as a bare value
    # Rasa's own REST channel (no authentication at all) is not enabled
    assert httpx.post(f"{base}/webhooks/rest/webhook", json=turn, timeout=30).status_code == 404
    # the gateway, which holds the token, still gets answers
    assert client.post("/api/v1/messages", json={"user_id": "auth-1", "text": "你好"}).status_code == 200
    ok = httpx.post(
        f"{base}/webhooks/gateway/webhook",
        json={"sender": "auth-2", "message": "你好"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    assert ok.status_code == 200 and ok.json()["messages"]


def test_action_server_refuses_calls_without_its_secret_and_echoes_nothing(stack) -> None:
    base = stack.settings.action_base_url
    call = {
        "next_action": "action_submit_legal_aid",
        "sender_id": "intake-victim",
        "tracker": {"sender_id": "intake-victim", "slots": {}, "events": [], "latest_message": {}},
        "domain": {},
        "version": "3.6.21",
    }
    for headers in ({}, {"Authorization": "Bearer guess"}, {"Authorization": stack.settings.action_token()}):
        refused = httpx.post(f"{base}/webhook", json=call, headers=headers, timeout=30)
        assert refused.status_code == 401 and "intake-victim" not in refused.text
    assert httpx.get(f"{base}/health", timeout=30).status_code == 200  # health stays open for monitoring
    # Rasa holds the secret (endpoints.yml reads it from Rasa's environment, never from the file)
    endpoints = (stack.settings.var_dir / "endpoints.yml").read_text("utf-8")
    assert "${ACTION_SERVER_TOKEN}" in endpoints and stack.settings.action_token() not in endpoints


def _outside_address() -> str | None:
    """An address of this machine that is not loopback, if it has one."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # TEST-NET: nothing is sent
            address = probe.getsockname()[0]
    except OSError:
        return None
    return None if address.startswith("127.") else address


@pytest.mark.parametrize("port_of", ["rasa_port", "action_port"])
def test_internals_listen_on_loopback_only(stack, port_of: str) -> None:
    address = _outside_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address to try")
    port = getattr(stack.settings, port_of)
    with socket.socket() as loopback:
        assert loopback.connect_ex(("127.0.0.1", port)) == 0
    with socket.socket() as outside:
        outside.settimeout(2)
        assert outside.connect_ex((address, port)) != 0, f"{port_of} answers on {address}"


def test_no_secret_in_the_process_list_and_private_files(stack) -> None:
    """#13: Rasa's token was visible in the process list; databases and logs
    with residents' data were world-readable."""
    import os
    import stat

    secrets = (stack.settings.rasa_token(), stack.settings.action_token())
    for service in stack.services:
        cmdline = Path(f"/proc/{service.process.pid}/cmdline").read_bytes().decode("utf-8", "replace")
        assert not any(secret in cmdline for secret in secrets), service.name
    var = stack.settings.var_dir
    private = [var / "logs", *(var / "logs").glob("*.log"), *var.glob("*.db"), var / "rasa-token", var / "action-token"]
    for path in (p for p in private if p.exists()):
        mode = stat.S_IMODE(os.stat(path).st_mode)
        assert mode & 0o077 == 0, f"{path.name} is {oct(mode)}"


def test_a_public_gateway_leaves_the_internals_on_loopback(tmp_path) -> None:
    """HAIZHU_HOST=0.0.0.0 for the gateway used to put Rasa and the action server there too."""
    from settings import Settings

    s = Settings(var_dir=tmp_path, host="0.0.0.0", rasa_url="", action_url="")
    assert s.internal_host == "127.0.0.1"
    assert s.rasa_base_url.startswith("http://127.0.0.1:") and s.action_base_url.startswith("http://127.0.0.1:")
    from ops.stack import Stack

    rasa = Stack(s, gateway=False).service("rasa")
    assert rasa.argv[rasa.argv.index("-i") + 1] == "127.0.0.1"
