"""`make cluster`: the multi-instance layout on one machine, for tests and a trial.

N copies of each process (Rasa, action server, gateway; two by default) behind
HAProxy from Debian's package, all on 127.0.0.1:

    resident ─▶ HAProxy :CLUSTER_PORT ─▶ gateway 1..N ─▶ HAProxy (Rasa) ─▶ Rasa 1..N
                                              │                              │
                                              │             HAProxy (actions) ◀┘─▶ action server 1..N
                                              ▼
                             PostgreSQL (cases, messages, trackers) · Redis (locks, rate limits)

Every instance is a `Stack` node of ops/stack.py with its own ports and state folder;
what must be shared is: the gateway database, the tracker store and Rasa's lock
store, the rate-limit store, and the secrets (Rasa's token, the action server's,
the console's, which also signs residents' tokens). The load balancers check each
instance's health every half second and send nothing to one that is down; a
request whose connection was refused is retried on another instance (a request
that reached an instance is never replayed: that could answer a resident twice).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import secrets
import signal
import sys
import time
from pathlib import Path

from sqlalchemy.engine import make_url

from bot.errors import BALANCER_ERRORS
from knowledge_base.indexing.index import ensure_index
from ops.stack import Service, Stack, StackError
from settings import Settings, get_settings

HAPROXY = "/usr/sbin/haproxy"


@dataclasses.dataclass(frozen=True)
class Ports:
    gateway: int  # the public front
    rasa: int  # internal: the gateways' way to Rasa
    actions: int  # internal: Rasa's way to the action servers


def node_settings(
    base: Settings, index: int, ports: Ports, shared: dict[str, str], own: tuple[int, int, int]
) -> Settings:
    """Instance `index` of each process: its own ports (Rasa, actions, gateway) and state
    folder, the shared rest."""
    return dataclasses.replace(
        base,
        var_dir=base.var_dir / "cluster" / f"node{index}",
        rasa_port=own[0],
        action_port=own[1],
        gateway_port=own[2],
        rasa_url=f"http://{base.internal_host}:{ports.rasa}",
        action_url=f"http://{base.internal_host}:{ports.actions}",
        rasa_auth_token=shared["rasa"],
        action_server_token=shared["actions"],
        console_secret=shared["console"],
    )


def balancer_errors() -> list[str]:
    """The gateways' backend's own answers to residents (bot/errors.py BALANCER_ERRORS), as
    HAProxy lines; deploy/haproxy/haproxy.cfg carries the same (tests/ops/test_cluster.py)."""
    lines = []
    for status, (code, message) in BALANCER_ERRORS.items():
        body = json.dumps({"error": {"code": code, "message": message}}, ensure_ascii=False)
        lines.append(f"    http-error status {status} content-type \"application/json; charset=utf-8\" string '{body}'")
    return lines


def haproxy_config(nodes: list[Settings], ports: Ports) -> str:
    host = nodes[0].internal_host
    lines = [
        "global",
        "    maxconn 2000",
        "defaults",
        "    mode http",
        "    timeout connect 2s",
        # a health check may take this long: at 500 ms (HAProxy's default, the check interval)
        # a busy but healthy Rasa on 2 cores was marked down, and residents got 503s for it
        "    timeout check 2s",
        "    timeout client 120s",
        "    timeout server 120s",
        "    retries 2",
        "    option redispatch",
        "    retry-on conn-failure",
        # a new connection to an instance per request: one HAProxy sent on an idle connection
        # the instance was closing as it stopped died with a 502 (deploy/haproxy/haproxy.cfg)
        "    option http-server-close",
    ]
    fronts = (
        ("gateway", nodes[0].host, ports.gateway, "gateway_port", "GET /healthz"),
        ("rasa", host, ports.rasa, "rasa_port", "GET /"),
        ("actions", host, ports.actions, "action_port", "GET /health"),
    )
    for name, bind_host, port, attribute, check in fronts:
        lines += [f"frontend {name}", f"    bind {bind_host}:{port}", f"    default_backend {name}_nodes"]
        lines += [f"backend {name}_nodes", "    balance roundrobin", f"    option httpchk {check}"]
        if name == "gateway":  # the residents' side; Rasa and actions are answered to the gateways
            lines += balancer_errors()
        for i, node in enumerate(nodes, 1):
            lines.append(f"    server {name}{i} {host}:{getattr(node, attribute)} check inter 1s fall 3 rise 2")
    return "\n".join(lines) + "\n"


class Cluster:
    def __init__(self, base: Settings, ports: Ports, node_ports: list[tuple[int, int, int]]) -> None:
        missing = [
            name
            for name, value in (
                ("GATEWAY_DB_URL", base.gateway_db_url),
                ("TRACKER_STORE_URL", base.tracker_store_url),
                ("LOCK_STORE_URL", base.lock_store_url),
            )
            if not value
        ]
        if missing or not base.rate_limit_storage.startswith("redis"):
            raise SystemExit(
                f"a cluster shares its state: set {', '.join(missing or ['RATE_LIMIT_STORAGE=redis://…'])}"
            )
        shared = {
            "rasa": base.rasa_token(),
            "actions": base.action_token(),
            "console": base.console_secret or secrets.token_urlsafe(48),
        }
        self.ports = ports
        self.nodes = [Stack(node_settings(base, i, ports, shared, own)) for i, own in enumerate(node_ports, 1)]
        folder = base.var_dir / "cluster"
        folder.mkdir(parents=True, exist_ok=True)
        config = folder / "haproxy.cfg"
        config.write_text(haproxy_config([node.settings for node in self.nodes], ports), encoding="utf-8")
        self.balancer = Service(
            "haproxy",
            [HAPROXY, "-db", "-f", str(config)],
            f"http://{base.host}:{ports.gateway}/healthz",
            folder / "haproxy.log",
        )
        self.url = f"http://{base.host}:{ports.gateway}"

    def start(self, timeout_s: float = 300.0) -> float:
        """Every instance and the balancer up, and the front answering; returns seconds taken."""
        if not Path(HAPROXY).exists():
            raise SystemExit("HAProxy is missing: run `make haproxy` (Debian's package)")
        began = time.monotonic()
        deadline = began + timeout_s
        self.balancer.start()
        try:
            for node in self.nodes:  # every instance loads at once, then each is waited for
                node.launch()
            for node in self.nodes:
                node.wait_all(deadline)
        except StackError:
            self.stop()  # a node stops its own services only: leave nothing running
            raise
        while not self.balancer.healthy():
            if time.monotonic() > deadline or self.balancer.exited() is not None:
                self.stop()
                raise SystemExit(f"the balancer did not come up; see {self.balancer.log_path}")
            time.sleep(0.3)
        return time.monotonic() - began

    def instance(self, node: int, name: str) -> Service:
        return self.nodes[node - 1].service(name)

    def kill(self, node: int, name: str) -> None:
        """SIGKILL one instance, its whole process group: no goodbye, as when a machine goes
        away. (Only the main pid left the action server's Sanic worker serving on its port,
        and the restart then failed with 'Address already in use'.)"""
        service = self.instance(node, name)
        if service.process is not None and service.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(service.process.pid, signal.SIGKILL)
            service.process.wait(timeout=30)

    def restart(self, node: int, name: str) -> None:
        self.nodes[node - 1].restart(name)

    def stop(self) -> None:
        self.balancer.stop()
        for node in self.nodes:
            node.stop()

    def __enter__(self) -> Cluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def ensure_database(url: str) -> None:
    """The PostgreSQL database of `url`, created when missing (a trial on a fresh machine)."""
    if not url.startswith("postgresql"):
        return
    import asyncpg

    target = make_url(url)

    async def create() -> None:
        admin = await asyncpg.connect(
            user=target.username, password=target.password, host=target.host, port=target.port, database="postgres"
        )
        try:
            if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", target.database):
                await admin.execute(f'CREATE DATABASE "{target.database}"')
        finally:
            await admin.close()

    asyncio.run(create())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--instances", type=int, default=2)
    parser.add_argument("--port", type=int, default=8080, help="the public front (HAProxy)")
    args = parser.parse_args(argv)
    base = get_settings()
    ports = Ports(args.port, args.port + 1, args.port + 2)
    firsts = [args.port + 100 + 10 * i for i in range(args.instances)]
    ensure_database(base.gateway_db_url)
    ensure_index(base, progress=True)
    cluster = Cluster(base, ports, [(first, first + 1, first + 2) for first in firsts])
    seconds = cluster.start()
    print(f"Ready in {seconds:.0f} s: {args.instances} of each process behind HAProxy at {cluster.url} (Ctrl-C stops)")
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
