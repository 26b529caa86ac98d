"""A machine booted by a real systemd, for running the units of deploy/systemd as shipped.

No systemd runs as PID 1 where the tests run, so `systemd-nspawn` (Debian's
systemd-container, `make nspawn`) boots one in a container: this machine's own /usr
(read-only), a copy of its /etc without the services it starts (PostgreSQL, Redis, …
run outside and are reached on the shared loopback), a `haizhu` system user, the
checkout at /opt/haizhu with ../shared at /opt/shared (read-only, as an installation
is), and the units copied to /etc/systemd/system and enabled as README "Deployment"
says. What differs from a real installation is in `trial_drop_in` and said there.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psutil
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from settings import ROOT, Settings
from tests.helpers.stack import stack_settings

UNITS = ROOT / "deploy" / "systemd"
INSTALL = Path("/opt/haizhu")
SHARED = Path("/opt/shared")
BACKUPS = Path("/var/backups/haizhu")  # deploy/haizhu.env.example's BACKUP_DIR
HAIZHU_UID = 990  # a system user's id, as `adduser --system` gives


def nspawn() -> str | None:
    return shutil.which("systemd-nspawn")


def trial_drop_in(exposed: list[Path]) -> str:
    """This machine's Python and the caches `make venvs model embedding-model` built live
    under /root, which ProtectHome=yes hides; a real installation has them outside any
    home (README "Deployment"). The units' other settings are kept as shipped."""
    if not exposed:
        return ""
    return "[Service]\nProtectHome=tmpfs\nBindReadOnlyPaths=" + " ".join(str(p) for p in exposed) + "\n"


def outside_the_install(paths: list[Path]) -> list[Path]:
    """Where the checkout's links (venvs, models) and its Python really are, when under a home."""
    found: list[Path] = []
    for path in sorted(set(paths), key=lambda p: len(p.parts)):
        under_a_home = path.is_relative_to("/root") or path.is_relative_to("/home")
        if under_a_home and not any(path.is_relative_to(f) for f in found):
            found.append(path)
    return found


# The machine's systemd must see its services' processes come and go in a cgroup v2
# hierarchy: on this machine's hybrid one it cannot tell that a service whose children
# outlive its main process (the action server's Sanic manager) has stopped, and waits out
# TimeoutStopSec. Each machine gets a cgroup of its own there.
UNIFIED = Path("/sys/fs/cgroup/unified")


class SystemdMachine:
    """`with SystemdMachine(folder, env, per_instance) as machine:` boots it; leaving the block
    powers it off. `env` is /etc/haizhu/haizhu.env, `per_instance` maps "gateway-1" and so on
    to that instance's own settings."""

    def __init__(self, folder: Path, env: dict[str, str], per_instance: dict[str, dict[str, str]]) -> None:
        self.folder = folder
        self.root = folder / "root"
        self.env = env
        self.per_instance = per_instance
        self.console = folder / "console.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.cgroup = UNIFIED / f"haizhu-trial-{os.getpid()}-{folder.name}"
        self.leader: int | None = None

    # -- the machine's files -------------------------------------------------------------

    def _build(self) -> list[Path]:
        root = self.root
        for name in ("usr", "var", "tmp", "root", "opt/haizhu", "opt/shared", "dev", "proc", "sys", "run", "home"):
            (root / name).mkdir(parents=True, exist_ok=True)
        (root / "tmp").chmod(0o1777)
        for link, target in (("bin", "usr/bin"), ("sbin", "usr/sbin"), ("lib", "usr/lib"), ("lib64", "usr/lib64")):
            if Path("/" + link).is_symlink() and not (root / link).is_symlink():
                (root / link).symlink_to(target)
        etc = root / "etc"
        shutil.copytree("/etc", etc, symlinks=True, ignore_dangling_symlinks=True, dirs_exist_ok=True)
        (etc / "os-release").unlink(missing_ok=True)
        shutil.copy("/usr/lib/os-release", etc / "os-release")  # nspawn looks for it before /usr is mounted
        # a machine of its own, booted before: on a first boot systemd would enable every unit
        # Debian's presets name, the machine's PostgreSQL, Redis and the rest among them
        (etc / "machine-id").write_text(uuid.uuid4().hex + "\n", "utf-8")
        # the services this machine starts on its own run outside: none of them in the container
        for wants in (etc / "systemd" / "system").glob("*.wants"):
            shutil.rmtree(wants)
        taken = {line.split(":")[2] for line in (etc / "passwd").read_text("utf-8").splitlines() if line.count(":") > 2}
        assert str(HAIZHU_UID) not in taken, f"user id {HAIZHU_UID} is taken on this machine"
        with (etc / "passwd").open("a") as passwd:
            passwd.write(f"haizhu:x:{HAIZHU_UID}:{HAIZHU_UID}:Haizhu legal assistant:/nonexistent:/usr/sbin/nologin\n")
        with (etc / "group").open("a") as group:
            group.write(f"haizhu:x:{HAIZHU_UID}:\n")
        with (etc / "shadow").open("a") as shadow:
            shadow.write("haizhu:!:20000::::::\n")
        # README "Deployment": the units and the settings, as installed
        system = etc / "systemd" / "system"
        for unit in UNITS.iterdir():
            shutil.copy(unit, system / unit.name)
        # systemctl enable haizhu.target haizhu-backup.timer haizhu-purge.timer
        for target, unit in (("multi-user", "haizhu.target"), ("timers", "haizhu-backup.timer")):
            (system / f"{target}.target.wants").mkdir(exist_ok=True)
            (system / f"{target}.target.wants" / unit).symlink_to(f"/etc/systemd/system/{unit}")
        (system / "timers.target.wants" / "haizhu-purge.timer").symlink_to("/etc/systemd/system/haizhu-purge.timer")
        # what Debian's haproxy package made outside /etc and /usr: the empty folder it is shut in
        if Path("/var/lib/haproxy").is_dir():
            (root / "var" / "lib" / "haproxy" / "dev").mkdir(parents=True, exist_ok=True)  # for /dev/log
        # install -d -o haizhu -g haizhu -m 0700 /var/backups/haizhu
        backups = root / BACKUPS.relative_to("/")
        backups.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chown(backups, HAIZHU_UID, HAIZHU_UID)
        settings = etc / "haizhu"
        settings.mkdir(mode=0o750, exist_ok=True)
        for name, values in {"haizhu": self.env, **self.per_instance}.items():
            path = settings / f"{name}.env"
            path.write_text("".join(f"{key}={value}\n" for key, value in values.items()), "utf-8")
            path.chmod(0o600)  # deploy/haizhu.env.example: systemd reads it as root
        # every build product lives in the cache `make` filled (CACHE_DIR), linked from the checkout
        links = [ROOT / ".venv", ROOT / ".venv-rasa", ROOT / "models" / "current.tar.gz"]
        links.append(ROOT / "models" / "multilingual-e5-small")
        targets = [link.resolve().parent for link in links if link.is_symlink()]
        exposed = outside_the_install([*targets, Path(sys.base_prefix)])
        drop_in = trial_drop_in(exposed)
        if drop_in:
            for unit in ("rasa@", "actions@", "gateway@", "backup", "purge"):
                folder = system / f"haizhu-{unit}.service.d"
                folder.mkdir(exist_ok=True)
                (folder / "trial.conf").write_text(drop_in, "utf-8")
        return exposed

    # -- running it ----------------------------------------------------------------------

    def __enter__(self) -> SystemdMachine:
        exposed = self._build()
        shared = (ROOT.parent / "shared").resolve()
        binds = ["--bind-ro=/usr", f"--bind-ro={ROOT}:{INSTALL}", f"--bind-ro={shared}:{SHARED}"]
        binds += [f"--bind-ro={path}" for path in exposed]
        command = [nspawn() or "systemd-nspawn", "--quiet", "--register=no", "--keep-unit", "--console=read-only"]
        command += ["--machine=haizhu-trial", f"--directory={self.root}", *binds, "--boot"]
        # its own cgroup, in which the machine's systemd tracks its services (see UNIFIED)
        self.cgroup.mkdir(exist_ok=True)
        entered = f"echo $$ > {shlex.quote(str(self.cgroup / 'cgroup.procs'))} && exec {shlex.join(command)}"
        self.process = subprocess.Popen(
            ["sh", "-c", entered],
            stdin=subprocess.DEVNULL,
            stdout=self.console.open("wb"),
            stderr=subprocess.STDOUT,
            env={**os.environ, "SYSTEMD_NSPAWN_UNIFIED_HIERARCHY": "1"},
        )
        deadline = time.monotonic() + 60
        while self.leader is None:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the machine did not boot:\n{self.console.read_text('utf-8', 'replace')}")
            children = psutil.Process(self.process.pid).children()
            self.leader = next((c.pid for c in children if c.name() == "systemd"), None)
            time.sleep(0.2)
        return self

    def run(self, *argv: str, check: bool = True, timeout: float = 60) -> str:
        """A command inside the machine, as its root."""
        assert self.leader is not None
        done = subprocess.run(
            ["nsenter", f"--target={self.leader}", "--mount", "--uts", "--ipc", "--pid", "--", *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"{argv} failed ({done.returncode}): {done.stderr}{done.stdout}")
        return done.stdout

    def show(self, unit: str, *properties: str) -> dict[str, str]:
        out = self.run("systemctl", "show", unit, *(f"--property={p}" for p in properties))
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def journal(self, unit: str) -> str:
        return self.run("journalctl", "--no-pager", "--output=cat", f"--unit={unit}")

    def __exit__(self, *exc: object) -> None:
        if self.process is None:
            return
        if self.process.poll() is None and self.leader is not None:
            os.kill(self.leader, signal.SIGRTMIN + 4)  # systemd's "poweroff" signal
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        for folder, _, _ in os.walk(self.cgroup, topdown=False):  # the machine's systemd made sub-cgroups
            with contextlib.suppress(OSError):  # each is empty once every process of the machine has gone
                os.rmdir(folder)


def trial_settings(folder: Path, database: str) -> Settings:
    """A test stack's settings on this machine's PostgreSQL (`database`) and Redis (db 8 and
    9), which the machine's services reach on the shared loopback."""
    return stack_settings(
        folder,
        gateway_db_url=f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database}",
        tracker_store_url=f"postgresql://postgres@127.0.0.1:5432/{database}",
        lock_store_url="redis://127.0.0.1:6379/8",
        rate_limit_storage="redis://127.0.0.1:6379/9",
    )


def wait_for(check: Callable[[], bool], what: str, timeout_s: float = 120) -> None:
    """Until `check()` holds, polled every half second; `what` names the failure."""
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.5)


def installed_settings(
    settings: Settings,
    ports: list[tuple[int, int, int]] | None = None,
    internal: tuple[int, int] | None = None,
) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """`settings` as an installation writes them: /etc/haizhu/haizhu.env with the paths of
    /opt/haizhu and /opt/shared, and each instance's ports (Rasa, actions, gateway; @1
    first, by default the settings' own) in its own file. RASA_URL and ACTION_URL are where
    a real machine has its internal balancers (`internal`), or instance 1 without them."""
    shared = str((ROOT.parent / "shared").resolve())
    ports = ports or [(settings.rasa_port, settings.action_port, settings.gateway_port)]
    own = {"rasa": "RASA_PORT", "actions": "ACTION_PORT", "gateway": "GATEWAY_PORT"}
    env = {
        key: value.replace(str(ROOT), str(INSTALL)).replace(shared, str(SHARED))
        for key, value in settings.as_env().items()
        if key not in (*own.values(), "HAIZHU_VAR_DIR")  # each unit sets its own state folder
    }
    env["BACKUP_DIR"] = str(BACKUPS)
    rasa, actions = internal or ports[0][:2]
    env["RASA_URL"] = f"http://127.0.0.1:{rasa}"
    env["ACTION_URL"] = f"http://127.0.0.1:{actions}"
    per_instance = {
        f"{kind}-{n}": {key: str(port)}
        for n, instance in enumerate(ports, 1)
        for (kind, key), port in zip(own.items(), instance, strict=True)
    }
    return env, per_instance


TRIAL_CERTIFICATE = "/etc/haproxy/certs/haizhu.pem"  # where the shipped front reads its own


def trial_certificate(root: Path, ca_file: Path) -> None:
    """A certificate for 127.0.0.1 and its key, where HAProxy reads the front's (in the
    machine under `root`, root's alone, as an operator keeps a key); `ca_file` gets the
    certificate, for residents to trust. The bureau's own comes from its certificate
    authority; this one is made for the trial and lives a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "haizhu trial front")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM)
    ca_file.write_bytes(pem)
    target = root / TRIAL_CERTIFICATE.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.touch(mode=0o600)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    target.write_bytes(pem + key_pem)


def trial_haproxy_config(
    front: int, gateways: list[int], internal: tuple[int, int], ports: list[tuple[int, int]]
) -> str:
    """deploy/haproxy/haproxy.cfg as this one machine runs it: the residents' TLS front on a
    loopback port (its certificate from `trial_certificate`), machine 1's two gateways as its
    only servers (machine 2 does not exist), and free ports for what the file gives fixed ones
    (`ports`: each instance's Rasa and action server). Every other line is shipped as is,
    and each replaced text must be found, so that a change to the file is not tested past."""
    shipped = (ROOT / "deploy" / "haproxy" / "haproxy.cfg").read_text("utf-8")
    replaced = {
        "bind :443 ssl crt /etc/haproxy/certs/haizhu.pem": f"bind 127.0.0.1:{front} ssl crt {TRIAL_CERTIFICATE}",
        "10.0.0.21:8000": f"127.0.0.1:{gateways[0]}",
        "10.0.0.21:8001": f"127.0.0.1:{gateways[1]}",
        "bind 127.0.0.1:8081": f"bind 127.0.0.1:{internal[0]}",
        "bind 127.0.0.1:8082": f"bind 127.0.0.1:{internal[1]}",
        "127.0.0.1:5005 ": f"127.0.0.1:{ports[0][0]} ",
        "127.0.0.1:5006 ": f"127.0.0.1:{ports[1][0]} ",
        "127.0.0.1:5055 ": f"127.0.0.1:{ports[0][1]} ",
        "127.0.0.1:5056 ": f"127.0.0.1:{ports[1][1]} ",
    }
    for old, new in replaced.items():
        assert shipped.count(old) == 1, f"deploy/haproxy/haproxy.cfg no longer has {old!r} once"
        shipped = shipped.replace(old, new)
    lines = [line for line in shipped.splitlines() if "10.0.0.22:" not in line]
    assert len(lines) == len(shipped.splitlines()) - 2, "machine 2's two gateways"
    return "\n".join(lines) + "\n"
