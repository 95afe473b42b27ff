"""The only module that talks to the Docker SDK (docker-py).

It speaks to the daemon through docker-py's low-level API and hands the rest
of pytest-dbsnap plain values (:class:`ImageInfo`, :class:`ContainerInfo`,
:class:`ExecResult`), never docker-py's objects: the layers above can be
tested with fakes, and no call inspects more than it needs.

Everything pytest-dbsnap creates carries labels under :data:`LABEL_PREFIX`, so
cleanup can find its own objects and nothing else.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import io
import json
import socket
import tarfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Literal, TypeVar, cast

import docker
import docker.errors
import requests.exceptions

from .daemon import Daemon, environ_for
from .errors import (
    ContainerError,
    DbsnapError,
    DockerUnavailableError,
    ImageError,
    RegistryError,
    SnapshotNotFound,
)

LABEL_PREFIX = "dbsnap."

Progress = Callable[[int, int], None]
"""Called with bytes moved so far and the total expected (0 when unknown yet)."""


@dataclass(frozen=True)
class ImageInfo:
    """What the daemon tells of an image: its ID, tags, labels and run configuration."""

    id: str
    tags: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    entrypoint: tuple[str, ...] = ()
    command: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    """``NAME=value`` entries, as the image's config has them."""
    volumes: tuple[str, ...] = ()
    size: int = 0
    created: str = ""

    @property
    def env_names(self) -> frozenset[str]:
        return frozenset(entry.partition("=")[0] for entry in self.env)

    @property
    def shown(self) -> str:
        """A name for messages: the first tag, or the short ID."""
        return self.tags[0] if self.tags else self.id.removeprefix("sha256:")[:12]


@dataclass(frozen=True)
class ContainerInfo:
    """A container: its ID, name and labels, and its state when it was looked at."""

    id: str
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    status: str = "created"
    created: float = 0.0


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    output: str


F = TypeVar("F", bound=Callable[..., Any])


def _translated(action: str) -> Callable[[F], F]:
    """Turn whatever docker-py or requests raise in the call into a one-line error.

    ``action`` names what was being done; ``{0}``, ``{1}``... are the call's
    arguments (a container or image by its name).
    """

    def decorate(method: F) -> F:
        @functools.wraps(method)
        def call(self: Docker, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
                what = action.format(*(_shown(arg) for arg in args))
                raise daemon_error(what, exc) from None

        return cast("F", call)

    return decorate


def daemon_error(what: str, exc: BaseException) -> DbsnapError:
    """A one-line error for ``exc``, met while doing ``what``."""
    reason = _reason(exc)
    if isinstance(exc, docker.errors.APIError):
        return ContainerError(f"{what} failed: {reason}")
    return DockerUnavailableError(
        f"{what}: the Docker daemon did not answer ({reason}); check that it runs "
        "(`docker info`) and run again"
    )


def _shown(arg: object) -> str:
    if isinstance(arg, ContainerInfo):
        return arg.name
    if isinstance(arg, ImageInfo):
        return arg.shown
    return str(arg)


# Podman attaches the output too unless told not to: unread, it fills the socket
# and stalls the container's exit (as soon as the server writes a few pages).
_STDIN_ONLY = {"stdin": 1, "stream": 1, "stdout": 0, "stderr": 0}


class Lifeline:
    """Our end of a container's standard input, attached over the Docker API.

    A container created ``bound`` ends when this ends: when :meth:`release` is
    called, or when our process dies however it dies (the daemon closes the
    attachment, the container's input ends). This holds for a remote daemon
    too, where process IDs mean nothing.
    """

    def __init__(self, sock: Any) -> None:
        self._socket = sock

    def release(self) -> None:
        """End the attachment; nothing waits for the container to notice.

        docker-py hands the socket in a wrapper whose ``close`` leaves the
        connection open while other references live: shut the socket itself.
        """
        sock, self._socket = self._socket, None
        if sock is None:
            return
        raw = getattr(sock, "_sock", sock)
        with contextlib.suppress(OSError):
            raw.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            sock.close()
            raw.close()


class NameTaken(Exception):
    """A container with that name exists already (the daemon said 409)."""


def _tag(shown: str, podman: bool) -> str:
    """A tag as Docker shows it: Podman adds ``localhost/`` or ``docker.io/`` to names
    that have no registry."""
    for prefix in ("localhost/", "docker.io/library/", "docker.io/") if podman else ():
        if shown.startswith(prefix):
            return shown[len(prefix) :]
    return shown


def _image_info(attrs: Mapping[str, Any], podman: bool) -> ImageInfo:
    config = attrs.get("Config") or {}
    return ImageInfo(
        id=str(attrs["Id"]),
        tags=tuple(_tag(t, podman) for t in attrs.get("RepoTags") or () if t != "<none>:<none>"),
        labels=dict(config.get("Labels") or {}),
        entrypoint=tuple(config.get("Entrypoint") or ()),
        command=tuple(config.get("Cmd") or ()),
        env=tuple(config.get("Env") or ()),
        volumes=tuple(config.get("Volumes") or ()),
        size=int(attrs.get("Size") or 0),
        created=str(attrs.get("Created") or ""),
    )


def _container_info(attrs: Mapping[str, Any]) -> ContainerInfo:
    """From an inspect (``Name``, ``Config.Labels``, ``State.Status``) or a list entry."""
    if "Names" in attrs:  # a list entry
        return ContainerInfo(
            id=str(attrs["Id"]),
            name=str((attrs.get("Names") or ["?"])[0]).lstrip("/"),
            labels=dict(attrs.get("Labels") or {}),
            status=str(attrs.get("State", "")),
            created=float(attrs.get("Created") or 0),
        )
    state = attrs.get("State") or {}
    return ContainerInfo(
        id=str(attrs["Id"]),
        name=str(attrs.get("Name", "?")).lstrip("/"),
        labels=dict((attrs.get("Config") or {}).get("Labels") or {}),
        status=str(state.get("Status", "")),
    )


class Docker:
    """A thin, typed face over a docker-py client."""

    def __init__(self, client: docker.DockerClient, version: Mapping[str, Any]) -> None:
        self.client = client
        self.api = client.api
        self.version = version
        self.podman = self.server.startswith("Podman")
        """Podman's Docker-compatible API, which differs here and there (see the calls)."""
        self._volumes: dict[str, dict[str, str]] = {}

    @property
    def server(self) -> str:
        """What the daemon is: ``Docker Engine 20.10.24``, ``Podman Engine 4.3.1``."""
        for component in self.version.get("Components") or ():
            name = str(component.get("Name", ""))
            if "Engine" in name:
                name = "Docker Engine" if name == "Engine" else name
                return f"{name} {component.get('Version', '?')}"
        return f"Docker Engine {self.version.get('Version', '?')}"

    @classmethod
    def connect(cls, daemon: Daemon) -> Docker:
        """Connect to ``daemon`` (see :func:`~pytest_dbsnap.daemon.locate`) and ask its
        version (which proves it answers)."""
        if not daemon.address:
            raise DockerUnavailableError(
                f"the Docker context {daemon.context!r} (DOCKER_CONTEXT, or `docker context "
                "use`) is not known here; `docker context ls` lists the known ones"
            )
        try:
            client = docker.from_env(environment=environ_for(daemon))
            version = client.api.version()
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            reason = _reason(exc)
            hint = "start the Docker engine or set DOCKER_HOST to one that runs"
            if "ermission denied" in reason:
                hint = "add your user to the docker group or run with access to the socket"
            raise DockerUnavailableError(
                f"cannot reach the Docker daemon at {daemon.describe()} ({reason}); {hint}"
            ) from None
        return cls(client, version)

    def close(self) -> None:
        self.client.close()

    @_translated("asking the Docker daemon about its machine")
    def info(self) -> dict[str, Any]:
        """What the daemon says of itself and its machine (``docker info``)."""
        return dict(self.api.info())

    def memory_total(self) -> int:
        """Bytes of memory of the Docker host (0 when it does not say)."""
        return int(self.info().get("MemTotal") or 0)

    # Images -----------------------------------------------------------------

    @_translated("looking up image {0}")
    def find_image(self, ref: str) -> ImageInfo | None:
        try:
            return _image_info(self.api.inspect_image(ref), self.podman)  # type: ignore[no-untyped-call]
        except docker.errors.NotFound:
            return None

    @_translated("getting image {0}")
    def get_or_pull_image(self, ref: str) -> ImageInfo:
        """The local image ``ref``, pulled first when it is missing."""
        image = self.find_image(ref)
        if image is not None:
            return image
        try:
            self.api.pull(ref)  # docker-py splits a tag or a digest off itself
            found = self.find_image(ref)
        except docker.errors.DockerException as exc:
            raise ImageError(
                f"image {ref!r} is not on this Docker host and pulling it failed "
                f"({_reason(exc)}); pull or build it, or set dbsnap_image to an image you have"
            ) from None
        if found is None:
            raise ImageError(f"pulled {ref!r}, but no such image is here; try again")
        return found

    @_translated("removing image {0}")
    def remove_image(self, ref: str) -> None:
        """Remove an image, or only the tag ``ref`` when the image has others."""
        with contextlib.suppress(docker.errors.NotFound):
            self.api.remove_image(ref, noprune=False)

    @_translated("removing image {0}")
    def remove_unused_image(self, image: ImageInfo, tags: Sequence[str]) -> bool:
        """Untag ``tags`` of ``image``; the image goes with its last tag, unless in use.

        Whether it went (or was untagged): ``False`` when a container uses it.
        """
        try:
            for tag in tags:
                self.api.remove_image(tag, noprune=False)
            if not set(image.tags) - set(tags):
                self.api.remove_image(image.id, noprune=False)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            if exc.status_code == 409:
                return False
            raise
        return True

    @_translated("listing images")
    def images(self, labels: Mapping[str, str | None]) -> list[ImageInfo]:
        """Every image that carries all of ``labels``."""
        filters = [k if v is None else f"{k}={v}" for k, v in labels.items()]
        found = []
        # One filter for the daemon (Podman 4 finds nothing for two), the rest here.
        for summary in self.api.images(filters={"label": filters[:1]}):
            if not _carries(summary.get("Labels") or {}, labels):
                continue
            with contextlib.suppress(docker.errors.NotFound):  # removed meanwhile
                found.append(_image_info(self.api.inspect_image(summary["Id"]), self.podman))  # type: ignore[no-untyped-call]
        return found

    @_translated("tagging image {0} as {1}")
    def tag(self, image: ImageInfo, ref: str) -> None:
        repository, tag = _split(ref)
        self.api.tag(image.id, repository, tag)

    def pull(self, ref: str, progress: Progress) -> None:
        """Pull ``ref`` (repository:tag); :class:`SnapshotNotFound` when the registry lacks it."""
        self._transfer("pull", ref, progress)

    def in_registry(self, ref: str) -> bool | None:
        """Whether the registry has ``ref``, asked without pulling it; ``None`` when the
        daemon cannot ask (Podman's API has no ``/distribution``)."""
        if self.podman:
            return None
        try:
            self.api.inspect_distribution(ref)  # type: ignore[no-untyped-call]
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            status = exc.status_code if isinstance(exc, docker.errors.APIError) else None
            error = _transfer_error(f"looking {ref} up", _reason(exc), status)
            if isinstance(error, SnapshotNotFound):
                return False
            raise error from None
        return True

    def push(self, ref: str, progress: Progress) -> None:
        """Push ``ref`` (repository:tag)."""
        self._transfer("push", ref, progress)

    def _transfer(self, verb: Literal["pull", "push"], ref: str, progress: Progress) -> None:
        """Follow a pull or push of ``ref``, reporting bytes moved.

        For a pull, "not found" means the registry lacks ``ref``; for a push it
        is just another refusal.
        """
        repository, tag = _split(ref)
        request = self.api.pull if verb == "pull" else self.api.push
        what, missing = f"{verb}ing {ref}", verb == "pull"
        done: dict[str, int] = {}
        total: dict[str, int] = {}
        finished = (
            "Pushed",
            "Layer already exists",
            "Download complete",
            "Pull complete",
            "Already exists",
        )
        try:
            for event in request(repository, tag, stream=True, decode=True):
                if "error" in event:
                    raise _transfer_error(what, str(event["error"]), missing=missing)
                detail = event.get("progressDetail") or {}
                layer = str(event.get("id", ""))
                if layer and detail.get("total"):
                    done[layer] = int(detail.get("current", 0))
                    total[layer] = int(detail["total"])
                elif layer and event.get("status") in finished:
                    done[layer] = total.get(layer, 0)
                else:
                    continue
                progress(sum(done.values()), sum(total.values()))
        except docker.errors.APIError as exc:
            raise _transfer_error(what, _reason(exc), exc.status_code, missing=missing) from None
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            raise _transfer_error(what, _reason(exc), missing=False) from None

    def save(
        self, refs: Sequence[str], write: Callable[[bytes], object], progress: Progress
    ) -> None:
        """Stream the images ``refs`` as one ``docker save`` tar to ``write``.

        Layers the images share are written once.
        """
        api: Any = self.api
        images = [self.find_image(ref) for ref in refs]
        # Sizes count shared layers in each image; the largest is the closer guess.
        total = max((i.size for i in images if i is not None), default=0)
        written = 0
        try:
            # docker-py wraps only the one-image form of GET /images/get.
            response = api._get(api._url("/images/get"), params={"names": list(refs)}, stream=True)
            api._raise_for_status(response)
            for chunk in response.iter_content(chunk_size=1 << 20):
                write(chunk)
                written += len(chunk)
                progress(written, max(total, written))
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            raise ImageError(f"docker could not save {', '.join(refs)}: {_reason(exc)}") from None

    def load(self, source: BinaryIO, size: int, progress: Progress) -> list[str]:
        """Load a ``docker save`` tar (gzip is fine) from ``source``; the tags it held."""
        reader: BinaryIO = source
        if self.podman and source.read(2) == b"\x1f\x8b":  # Podman refuses gzip: unzip here
            source.seek(0)
            reader = cast("BinaryIO", gzip.GzipFile(fileobj=source, mode="rb"))
        else:
            source.seek(0)

        def chunks() -> Iterator[bytes]:
            while chunk := reader.read(1 << 20):
                progress(source.tell(), size)
                yield chunk

        try:
            events = self.api.load_image(chunks())  # type: ignore[no-untyped-call]
            tags: list[str] = []
            for event in events:
                if "error" in event:
                    raise ImageError(f"docker could not load the archive: {event['error']}")
                # "Loaded image: a", or Podman's "Loaded image(s): a,b" (several a line).
                said, colon, names = str(event.get("stream", "")).partition(":")
                if colon and said.strip() in ("Loaded image", "Loaded image(s)"):
                    tags += [_tag(n.strip(), self.podman) for n in names.split(",") if n.strip()]
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            raise ImageError(f"docker could not load the archive: {_reason(exc)}") from None
        return tags

    # Containers ---------------------------------------------------------------

    @_translated("creating a container")
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
        tmpfs: Mapping[str, str] | None = None,
        bound: bool = False,
    ) -> ContainerInfo:
        """Create (not start) a container; :class:`NameTaken` when the name is in use.

        ``publish`` maps a container port to the host address it is published
        on (the host port is the daemon's choice). ``tmpfs`` mounts come
        besides the one over each of the image's volumes. A ``bound``
        container's standard input is open, and closed when the first client
        attached to it (:meth:`attach_lifeline`) goes.
        """
        published = dict(publish or {})
        host_config = self.api.create_host_config(
            port_bindings={f"{port}/tcp": (host, None) for port, host in published.items()},
            tmpfs={**self._volumes_in_memory(image), **(tmpfs or {})},
        )
        try:
            created = self.api.create_container(
                image,
                name=name,
                labels=dict(labels),
                environment=dict(environment or {}),
                command=list(command) if command is not None else None,
                entrypoint=list(entrypoint) if entrypoint is not None else None,
                ports=list(published),
                host_config=host_config,
                # Not detached, docker-py sets StdinOnce with OpenStdin.
                detach=not bound,
                stdin_open=bound,
            )
        except docker.errors.APIError as exc:
            # Podman says 500, with the words.
            if exc.status_code == 409 or "already in use" in _reason(exc):
                raise NameTaken(name) from None
            raise ContainerError(
                f"cannot create container {name!r}: {_reason(exc)}{_hint(exc)}"
            ) from None
        return ContainerInfo(id=str(created["Id"]), name=name, labels=dict(labels))

    def _volumes_in_memory(self, image: str) -> dict[str, str]:
        """A tmpfs over every ``VOLUME`` of ``image``, so no anonymous volume is made.

        Our containers keep nothing in them (the data folder lives outside),
        and a volume is the one thing a daemon can leave behind on its own:
        one that restarts removes its auto-remove containers but not their
        volumes.
        """
        volumes = self._volumes.get(image)
        if volumes is None:
            found = self.find_image(image)
            volumes = self._volumes[image] = dict.fromkeys(found.volumes if found else (), "")
        return volumes

    @_translated("attaching to container {0}")
    def attach_lifeline(self, container: ContainerInfo) -> Lifeline:
        """Attach to the standard input of a ``bound`` container, before it starts."""
        return Lifeline(self.api.attach_socket(container.id, params=_STDIN_ONLY))

    @_translated("starting container {0}")
    def start(self, container: ContainerInfo) -> None:
        try:
            self.api.start(container.id)
        except docker.errors.APIError as exc:
            raise ContainerError(
                f"container {container.name} did not start: {_reason(exc)}{_hint(exc)}"
            ) from None

    @_translated("reading the ports of container {0}")
    def published_port(self, container: ContainerInfo, port: int) -> int:
        """The host port Docker chose for ``port``; waits briefly for the mapping."""
        deadline = time.monotonic() + 5
        while True:
            attrs = self.api.inspect_container(container.id)
            mapping = ((attrs.get("NetworkSettings") or {}).get("Ports") or {}).get(f"{port}/tcp")
            if mapping:
                return int(mapping[0]["HostPort"])
            status = str((attrs.get("State") or {}).get("Status", ""))
            if time.monotonic() > deadline or status != "running":
                raise ContainerError(
                    f"container {container.name} publishes no port for {port}/tcp "
                    f"(status {status}); last log lines:\n{self.logs_tail(container)}"
                )
            time.sleep(0.05)

    @_translated("inspecting container {0}")
    def status(self, container: ContainerInfo) -> str:
        try:
            attrs = self.api.inspect_container(container.id)
        except docker.errors.APIError as exc:
            if _gone(exc):
                return "removed"
            raise
        return str((attrs.get("State") or {}).get("Status", ""))

    def logs_tail(self, container: ContainerInfo, lines: int = 15) -> str:
        try:
            raw: bytes = self.api.logs(container.id, tail=lines)
        except (docker.errors.DockerException, requests.exceptions.RequestException):
            return "(no logs: the container is gone)"
        return raw.decode(errors="replace").rstrip() or "(no output)"

    @_translated("running a command in container {0}")
    def exec(
        self,
        container: ContainerInfo,
        command: Sequence[str],
        *,
        user: str = "",
        environment: Mapping[str, str] | None = None,
    ) -> ExecResult:
        started = self.api.exec_create(
            container.id, list(command), user=user, environment=dict(environment or {})
        )
        output: bytes = self.api.exec_start(started["Id"]) or b""
        exit_code = self.api.exec_inspect(started["Id"]).get("ExitCode")
        # An exit code the daemon does not know is no success.
        return ExecResult(
            -1 if exit_code is None else int(exit_code), output.decode("utf-8", "replace")
        )

    @_translated("copying {1} into container {0}")
    def put_file(self, container: ContainerInfo, path: str, data: bytes, *, owner: int = 0) -> None:
        """Write one file into the container (its folder must exist; it may be stopped)."""
        folder, _, name = path.rpartition("/")
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.uid = info.gid = owner
            tar.addfile(info, io.BytesIO(data))
        for attempt in range(3):
            try:
                copied = self.api.put_archive(container.id, folder or "/", buffer.getvalue())
                break
            except docker.errors.APIError as exc:
                # Podman's copier now and then loses the helper it feeds ("passing bulk
                # input to subprocess: write |1: broken pipe"); the same copy then works.
                if not (self.podman and "broken pipe" in str(exc)) or attempt == 2:
                    raise
        if not copied:
            raise ContainerError(f"cannot copy {path} into container {container.name}")

    @_translated("committing container {0}")
    def commit(
        self,
        container: ContainerInfo,
        *,
        repository: str,
        tag: str,
        conf: Mapping[str, Any],
    ) -> ImageInfo:
        if self.podman:  # Podman 4 ignores the config; it applies Dockerfile instructions
            committed = self.api.commit(
                container.id, repository=repository, tag=tag, changes=_changes(conf)
            )
        else:
            committed = self.api.commit(
                container.id, repository=repository, tag=tag, conf=dict(conf)
            )
        return _image_info(self.api.inspect_image(committed["Id"]), self.podman)  # type: ignore[no-untyped-call]

    @_translated("removing container {0}")
    def remove(self, container: ContainerInfo) -> None:
        """Remove a container and its anonymous volumes; gone already is fine."""
        self._remove(container.id)

    def remove_quietly(self, container: ContainerInfo) -> None:
        """Remove a container while another error is on its way: never raise over it.

        What is left behind (the daemon is gone, say) carries its session's
        labels, so a later session reaps it.
        """
        with contextlib.suppress(Exception):
            self.remove(container)

    @_translated("removing container {0}")
    def remove_by_id(self, container_id: str) -> None:
        self._remove(container_id)

    def _remove(self, container_id: str) -> None:
        try:
            self.api.remove_container(container_id, force=True, v=True)
        except docker.errors.APIError as exc:
            if not _gone(exc) and exc.status_code != 409:  # 409: removal in progress
                raise

    @_translated("starting the session sentinel")
    def start_sentinel(self, image: str, labels: Mapping[str, str]) -> tuple[str, Lifeline]:
        """Start a container that lives exactly as long as the returned lifeline.

        Its only process reads standard input; the daemon removes it when it ends.
        """
        config = {
            "Image": image,
            "Entrypoint": ["cat"],
            "Cmd": [],
            "OpenStdin": True,
            "StdinOnce": True,
            "AttachStdin": True,
            "Labels": dict(labels),
            # No network: it needs none, and it starts and goes quicker without.
            "HostConfig": {
                "AutoRemove": True,
                "NetworkMode": "none",
                "Tmpfs": self._volumes_in_memory(image),
            },
        }
        container_id = ""
        try:
            created = self.api.create_container_from_config(config, None)  # type: ignore[no-untyped-call]
            container_id = str(created["Id"])
            sock = self.api.attach_socket(container_id, params=_STDIN_ONLY)
            self.api.start(container_id)
        except docker.errors.APIError as exc:
            if container_id:
                with contextlib.suppress(Exception):
                    self._remove(container_id)
            raise ContainerError(
                f"cannot start the session sentinel from {image}: {_reason(exc)}{_hint(exc)}"
            ) from None
        return container_id, Lifeline(sock)

    @_translated("looking up container {0}")
    def get_container(self, name: str) -> ContainerInfo | None:
        try:
            return _container_info(self.api.inspect_container(name))
        except docker.errors.APIError as exc:
            if _gone(exc):
                return None
            raise

    @_translated("listing containers")
    def containers(self, labels: Mapping[str, str | None]) -> list[ContainerInfo]:
        """Every container (running or not) that carries all of ``labels``.

        One list call, no per-container inspect: containers may vanish meanwhile.
        """
        filters = [k if v is None else f"{k}={v}" for k, v in labels.items()]
        return [
            _container_info(c) for c in self.api.containers(all=True, filters={"label": filters})
        ]


def _carries(found: Mapping[str, str], wanted: Mapping[str, str | None]) -> bool:
    return all(k in found and (v is None or found[k] == v) for k, v in wanted.items())


def _gone(exc: docker.errors.APIError) -> bool:
    """Whether the container is gone (Podman may say so with a 500 while removing it)."""
    return exc.status_code == 404 or "no such container" in _reason(exc).lower()


def _hint(exc: docker.errors.APIError) -> str:
    """What to do about an error we recognize; "" for the others (their words say it)."""
    reason = _reason(exc)
    if "rlimit" in reason and "not permitted" in reason:
        return (
            "; the container runtime may not raise resource limits here (rootful Podman "
            "without CAP_SYS_RESOURCE): lower them in a containers.conf, "
            '[containers] default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"], named by '
            "CONTAINERS_CONF for the Podman service"
        )
    if "executable file not found" in reason:
        return "; the image lacks what the command runs: use an image of the engine it names"
    return ""


def _changes(conf: Mapping[str, Any]) -> list[str]:
    """``conf`` (labels, environment, command, entrypoint) as Dockerfile instructions.

    For Podman, which takes no config at commit. It reads values as written
    (no variables, no escapes), so a double quote in a label becomes a single one.
    """
    changes = [
        f'LABEL "{key}"="{str(value).replace(chr(34), chr(39))}"'
        for key, value in (conf.get("Labels") or {}).items()
    ]
    for entry in conf.get("Env") or ():
        name, _, value = entry.partition("=")
        changes.append(f'ENV {name}="{value}"')
    if conf.get("Cmd") is not None:
        changes.append(f"CMD {json.dumps(list(conf['Cmd']))}")
    if conf.get("Entrypoint") is not None:
        changes.append(f"ENTRYPOINT {json.dumps(list(conf['Entrypoint']))}")
    return changes


def _split(ref: str) -> tuple[str, str]:
    """``repository:tag`` as its two parts (the tag is empty when not given)."""
    repository, colon, tag = ref.rpartition(":")
    if not colon or "/" in tag:  # host:port/name without a tag
        return ref, ""
    return repository, tag


def _transfer_error(
    what: str, reason: str, status: int | None = None, *, missing: bool = True
) -> DbsnapError:
    """A one-line error for a failed push or pull; ``missing``: a 404 means "not there"."""
    lowered = reason.lower()
    if missing and (status == 404 or "manifest unknown" in lowered or "not found" in lowered):
        return SnapshotNotFound(f"{what}: the registry has no such image ({reason})")
    if any(word in lowered for word in ("unauthorized", "denied", "authentication", "credentials")):
        hint = "log in with `docker login` (docker-py reads ~/.docker/config.json)"
    else:
        hint = "check the registry address and that it is up and reachable from the Docker host"
    return RegistryError(f"{what} failed: {reason}; {hint}")


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
