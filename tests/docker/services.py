"""Services some tests start for themselves: a registry and a second, empty Docker daemon.

Both listen on loopback only and are torn down with the session.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _wait(what: str, ready: object, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        with contextlib.suppress(Exception):
            if ready():  # type: ignore[operator]
                return
        time.sleep(0.2)
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    _stop(process)
    pytest.fail(f"{what} did not start:\n{tail}", pytrace=False)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def registry(folder: Path, htpasswd: str = "") -> Iterator[str]:
    """A Docker registry (Debian's docker-registry) on 127.0.0.1; yields host:port.

    With ``htpasswd`` (``user:bcrypt-hash`` lines) it wants those credentials.
    """
    binary = shutil.which("docker-registry")
    if binary is None:
        pytest.fail("these tests need Debian's docker-registry package; see .ci/run", pytrace=False)
    address = f"127.0.0.1:{free_port()}"
    config = folder / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log: {level: warn}\n"
        f"storage: {{filesystem: {{rootdirectory: {folder / 'data'}}}}}\n"
        f"http: {{addr: {address}}}\n"
    )
    if htpasswd:
        (folder / "htpasswd").write_text(htpasswd)
        with open(config, "a") as out:
            out.write(f"auth: {{htpasswd: {{realm: dbsnap-tests, path: {folder / 'htpasswd'}}}}}\n")
    log = folder / "registry.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([binary, "serve", str(config)], stdout=out, stderr=out)
    import urllib.request

    _wait(
        "docker-registry",
        lambda: (
            urllib.request.urlopen(f"http://{address}/v2/", timeout=1).status == 200
            if not htpasswd
            else _refuses(f"http://{address}/v2/")
        ),
        process,
        log,
    )
    try:
        yield address
    finally:
        _stop(process)


def _refuses(url: str) -> bool:
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(url, timeout=1)
    except urllib.error.HTTPError as exc:
        return exc.code == 401
    return False


def bcrypt_line(user: str, password: str) -> str:
    """An htpasswd line; skips the test where this Python has no bcrypt at hand."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt  # glibc's libxcrypt does bcrypt; gone from Python 3.13
    except ImportError:
        pytest.skip("no bcrypt for an htpasswd file: this Python has no crypt module")
    hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))
    if not hashed or not hashed.startswith("$2"):
        pytest.skip("this system's crypt does not do bcrypt")
    return f"{user}:{hashed}\n"


@dataclass
class Daemon:
    """A second Docker daemon, empty at start."""

    unix: str
    tcp: str
    command: list[str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def client(self) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.unix)

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(self.command, stdout=out, stderr=out)
        _wait("a second dockerd", lambda: self.client().ping(), self.process, self.log)

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process)

    def restart(self) -> None:
        """Stop the daemon as a service manager would (SIGTERM), and start it again."""
        self.stop()
        self.start()


@contextlib.contextmanager
def second_daemon(folder: Path) -> Iterator[Daemon]:
    """A private dockerd with its own storage and bridge, on a socket and tcp://127.0.0.2.

    It needs root, as dockerd does. Its containers reach the host through
    docker-proxy (no iptables rules, so it cannot disturb the main daemon's).
    """
    binary = shutil.which("dockerd")
    if binary is None or os.geteuid() != 0:
        pytest.skip("a second Docker daemon needs dockerd and root")
    bridge = f"dbsnap{os.getpid() % 100000}"
    subnet = f"10.{200 + os.getpid() % 50}.{os.getpid() % 250}"
    for command in (
        ["ip", "link", "add", bridge, "type", "bridge"],
        ["ip", "addr", "add", f"{subnet}.1/24", "dev", bridge],
        ["ip", "link", "set", bridge, "up"],
    ):
        subprocess.run(command, check=True)
    unix = f"unix://{folder}/docker.sock"
    tcp = f"tcp://127.0.0.2:{free_port('127.0.0.2')}"
    command = [
        binary,
        "--data-root", str(folder / "root"),
        "--exec-root", str(folder / "exec"),
        "--pidfile", str(folder / "dockerd.pid"),
        "-H", unix,
        "-H", tcp,
        "-b", bridge,
        "--iptables=false",
        "--ip6tables=false",
    ]  # fmt: skip
    daemon = Daemon(unix, tcp, command, folder / "dockerd.log")
    daemon.start()
    try:
        yield daemon
    finally:
        with contextlib.suppress(Exception):
            client = daemon.client()
            for container in client.containers.list(all=True):
                container.remove(force=True, v=True)
        daemon.stop()
        subprocess.run(["ip", "link", "delete", bridge], check=False)
        shutil.rmtree(folder, ignore_errors=True)
