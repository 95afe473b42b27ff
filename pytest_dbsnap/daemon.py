"""Which Docker daemon to use, as the Docker CLI chooses it.

``DOCKER_HOST`` first; else the context ``DOCKER_CONTEXT`` names, else the
current context of the CLI's configuration (``docker context use``); else the
local socket. Reads two small JSON files and imports no Docker SDK, so the
settings can know where the daemon is (a remote one changes the defaults of
``dbsnap_host`` and ``dbsnap_publish``) without a cost at start.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

LOCAL = "unix:///var/run/docker.sock"


@dataclass(frozen=True)
class Daemon:
    """Where the daemon is, and what said so."""

    address: str
    context: str = ""
    """The Docker CLI context it came from ("" for ``DOCKER_HOST`` or the default)."""
    tls: str = ""
    """The context's TLS folder (``ca.pem``, ``cert.pem``, ``key.pem``), if it has one."""
    verify: bool = True

    def describe(self) -> str:
        how = f"context {self.context}" if self.context else "DOCKER_HOST"
        if not self.context and self.address == LOCAL:
            how = "the default socket"
        return f"{self.address} ({how})"


def locate(environ: Mapping[str, str]) -> Daemon:
    """The daemon the Docker CLI would use in ``environ``."""
    given = environ.get("DOCKER_HOST", "")
    if given:
        return Daemon(given)
    config_dir = Path(environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
    name = environ.get("DOCKER_CONTEXT", "") or _current_context(config_dir)
    if name and name != "default":
        digest = hashlib.sha256(name.encode()).hexdigest()
        meta = _read(config_dir / "contexts" / "meta" / digest / "meta.json")
        endpoints = meta.get("Endpoints")
        endpoint = endpoints.get("docker") if isinstance(endpoints, dict) else None
        endpoint = endpoint if isinstance(endpoint, dict) else {}
        if not endpoint.get("Host"):
            return Daemon("", name)  # the CLI refuses it too: connecting says so
        tls = config_dir / "contexts" / "tls" / digest / "docker"
        return Daemon(
            str(endpoint["Host"]),
            name,
            tls=str(tls) if tls.is_dir() else "",
            verify=not endpoint.get("SkipTLSVerify"),
        )
    return Daemon(LOCAL)


def _current_context(config_dir: Path) -> str:
    return str(_read(config_dir / "config.json").get("currentContext") or "")


def _read(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def environ_for(daemon: Daemon) -> dict[str, str]:
    """The variables under which docker-py's ``from_env`` reaches ``daemon``."""
    env = {**os.environ, "DOCKER_HOST": daemon.address}
    if daemon.context and daemon.tls:
        env["DOCKER_CERT_PATH"] = daemon.tls
        env["DOCKER_TLS_VERIFY"] = "1" if daemon.verify else ""
    return env
