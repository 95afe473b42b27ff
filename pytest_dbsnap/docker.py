"""The only module that talks to the Docker SDK (docker-py).

Everything pytest-dbsnap creates carries labels under :data:`LABEL_PREFIX`, so
cleanup can find its own objects and nothing else.
"""

from __future__ import annotations

import contextlib
import io
import os
import tarfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import docker
import docker.errors
from docker.models.containers import Container
from docker.models.images import Image

from .errors import ContainerError, DockerUnavailableError, ImageError

LABEL_PREFIX = "dbsnap."


class NameTaken(Exception):
    """A container with that name exists already (the daemon said 409)."""


@dataclass(frozen=True)
class ContainerInfo:
    """What one list call tells of a container."""

    id: str
    name: str
    labels: dict[str, str]
    status: str
    created: float


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    output: str


class Docker:
    """A thin, typed face over a docker-py client."""

    def __init__(self, client: docker.DockerClient) -> None:
        self.client = client

    @classmethod
    def connect(cls) -> Docker:
        """Connect as the Docker CLI would (``DOCKER_HOST`` and friends) and ping."""
        where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        try:
            client = docker.from_env()
            client.ping()
        except docker.errors.DockerException as exc:
            reason = _reason(exc)
            hint = "start the Docker engine or set DOCKER_HOST to one that runs"
            if "ermission denied" in reason:
                hint = "add your user to the docker group or run with access to the socket"
            raise DockerUnavailableError(
                f"cannot reach the Docker daemon at {where} ({reason}); {hint}"
            ) from None
        return cls(client)

    def close(self) -> None:
        self.client.close()

    # Images -----------------------------------------------------------------

    def find_image(self, ref: str) -> Image | None:
        try:
            return self.client.images.get(ref)
        except docker.errors.ImageNotFound:
            return None

    def get_or_pull_image(self, ref: str) -> Image:
        """The local image ``ref``, pulled first when it is missing."""
        image = self.find_image(ref)
        if image is not None:
            return image
        try:
            return self.client.images.pull(ref)
        except docker.errors.DockerException as exc:
            raise ImageError(
                f"image {ref!r} is not on this Docker host and pulling it failed "
                f"({_reason(exc)}); pull or build it, or set dbsnap_image to an image you have"
            ) from None

    def remove_image(self, ref: str) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            self.client.images.remove(ref, noprune=False)

    # Containers ---------------------------------------------------------------

    def create(
        self,
        *,
        name: str,
        image: str,
        labels: Mapping[str, str],
        environment: Mapping[str, str] | None = None,
        command: Sequence[str] | None = None,
        entrypoint: Sequence[str] | None = None,
        publish: Mapping[int, str] | None = None,
    ) -> Container:
        """Create (not start) a container; :class:`NameTaken` when the name is in use."""
        ports: dict[str, Any] = {
            f"{port}/tcp": (host, None) for port, host in (publish or {}).items()
        }
        try:
            return self.client.containers.create(
                image,
                name=name,
                labels=dict(labels),
                environment=dict(environment or {}),
                command=list(command) if command is not None else None,
                entrypoint=list(entrypoint) if entrypoint is not None else None,
                ports=ports,
                detach=True,
            )
        except docker.errors.APIError as exc:
            if exc.status_code == 409:
                raise NameTaken(name) from None
            raise ContainerError(f"cannot create container {name!r}: {_reason(exc)}") from None

    def start(self, container: Container) -> None:
        try:
            container.start()
        except docker.errors.APIError as exc:
            raise ContainerError(
                f"container {container.name} did not start: {_reason(exc)}"
            ) from None

    def published_port(self, container: Container, port: int) -> int:
        """The host port Docker chose for ``port``; waits briefly for the mapping."""
        deadline = time.monotonic() + 5
        while True:
            container.reload()
            mapping = (container.attrs["NetworkSettings"]["Ports"] or {}).get(f"{port}/tcp")
            if mapping:
                return int(mapping[0]["HostPort"])
            if time.monotonic() > deadline or container.status != "running":
                raise ContainerError(
                    f"container {container.name} publishes no port for {port}/tcp "
                    f"(status {container.status}); last log lines:\n{self.logs_tail(container)}"
                )
            time.sleep(0.05)

    def status(self, container: Container) -> str:
        try:
            container.reload()
        except docker.errors.NotFound:
            return "removed"
        return str(container.status)

    def logs_tail(self, container: Container, lines: int = 15) -> str:
        try:
            raw: bytes = container.logs(tail=lines)
        except docker.errors.DockerException:
            return "(no logs: the container is gone)"
        return raw.decode(errors="replace").rstrip() or "(no output)"

    def exec(
        self,
        container: Container,
        command: Sequence[str],
        *,
        user: str = "",
        environment: Mapping[str, str] | None = None,
    ) -> ExecResult:
        result = container.exec_run(
            list(command), user=user, environment=dict(environment or {}), demux=False
        )
        output = cast("bytes", result.output or b"")
        return ExecResult(int(result.exit_code or 0), output.decode(errors="replace"))

    def put_file(self, container: Container, path: str, data: bytes, *, owner: int = 0) -> None:
        """Write one file into the container (its folder must exist)."""
        folder, _, name = path.rpartition("/")
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.uid = info.gid = owner
            tar.addfile(info, io.BytesIO(data))
        if not container.put_archive(folder or "/", buffer.getvalue()):
            raise ContainerError(f"cannot copy {path} into container {container.name}")

    def commit(
        self,
        container: Container,
        *,
        repository: str,
        tag: str,
        conf: Mapping[str, Any],
    ) -> Image:
        return container.commit(repository=repository, tag=tag, conf=dict(conf))

    def remove(self, container: Container) -> None:
        """Remove a container and its anonymous volumes; gone already is fine."""
        try:
            container.remove(force=True, v=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            if exc.status_code != 409:  # 409: removal already in progress
                raise

    def start_sentinel(self, image: str, labels: Mapping[str, str]) -> tuple[str, Any]:
        """Start a container that lives exactly as long as the returned socket.

        Its only process reads standard input, which we attach to; the daemon
        closes that input when our connection drops, and removes the container.
        """
        api = self.client.api
        # docker-py's create_container has no StdinOnce, so the config is raw.
        config = {
            "Image": image,
            "Entrypoint": ["cat"],
            "Cmd": [],
            "OpenStdin": True,
            "StdinOnce": True,
            "AttachStdin": True,
            "Labels": dict(labels),
            "HostConfig": {"AutoRemove": True},
        }
        container_id = ""
        try:
            created = api.create_container_from_config(config, None)  # type: ignore[no-untyped-call]
            container_id = str(created["Id"])
            sock = api.attach_socket(container_id, params={"stdin": 1, "stream": 1})
            api.start(container_id)
        except docker.errors.APIError as exc:
            if container_id:
                self.remove_by_id(container_id)
            raise ContainerError(
                f"cannot start the session sentinel from {image}: {_reason(exc)}; "
                "dbsnap_image must be a PostgreSQL image with a shell"
            ) from None
        return container_id, sock

    def remove_by_id(self, container_id: str) -> None:
        try:
            self.client.api.remove_container(container_id, force=True, v=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            if exc.status_code != 409:
                raise

    def get_container(self, name: str) -> Container | None:
        try:
            return self.client.containers.get(name)
        except docker.errors.NotFound:
            return None

    def containers(self, labels: Mapping[str, str | None]) -> list[ContainerInfo]:
        """Every container (running or not) that carries all of ``labels``.

        One list call, no per-container inspect: containers may vanish meanwhile.
        """
        filters = [k if v is None else f"{k}={v}" for k, v in labels.items()]
        found = self.client.containers.list(all=True, filters={"label": filters}, sparse=True)
        return [
            ContainerInfo(
                id=str(c.id),
                name=str((c.attrs.get("Names") or ["?"])[0]).lstrip("/"),
                labels=dict(c.attrs.get("Labels") or {}),
                status=str(c.attrs.get("State", "")),
                created=float(c.attrs.get("Created") or 0),
            )
            for c in found
        ]


def _reason(exc: BaseException) -> str:
    if isinstance(exc, docker.errors.APIError):
        explanation = exc.explanation
        if isinstance(explanation, bytes):
            explanation = explanation.decode(errors="replace")
        return str(explanation or exc).strip()
    text = str(exc).strip()
    # docker-py wraps requests' errors in long reprs; the tail says the cause.
    for marker in ("Permission denied", "No such file or directory", "Connection refused"):
        if marker in text:
            return marker
    return text.splitlines()[0][:200] if text else type(exc).__name__
