"""What every engine does alike with a server in a container: keep it across its clean
stop, wait for it, copy its data folder to RAM, refuse volumes over it.

Knows no engine: each passes its own attempt, title and paths.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import ContainerError, DbsnapError, ImageError

if TYPE_CHECKING:
    from ..docker import ContainerInfo, Docker, ExecResult, ImageInfo

STOPPING = "/tmp/dbsnap-stopping"
"""Created before a clean stop, so that :func:`keepalive` keeps the container."""

# The image's own entrypoint runs under a shell that outlives the server, so the
# server can be stopped cleanly (and its files trimmed) before `docker commit`.
# A server that dies on its own still ends the container, with its exit status.
_KEEPALIVE = f'"$@" & wait $!; s=$?; [ -e {STOPPING} ] || exit $s; while :; do sleep 3600; done'


def keepalive(entrypoint: Sequence[str]) -> list[str]:
    """An entrypoint that runs ``entrypoint`` and its command, and stays after a clean stop."""
    return ["/bin/sh", "-c", _KEEPALIVE, "dbsnap-seed", *entrypoint]


def until_ready(
    docker: Docker,
    container: ContainerInfo,
    timeout: float,
    attempt: Callable[[], str],
    *,
    title: str,
    delay: float,
    longest: float,
) -> None:
    """Retry ``attempt`` (it returns its error, empty on success) while the server starts.

    Fails at once, with the container's last log lines, when the container
    exits; after ``timeout`` seconds with the last error.
    """
    deadline = time.monotonic() + timeout
    while error := attempt():
        status = docker.status(container)
        if status not in ("running", "created"):
            raise ContainerError(
                f"container {container.name} exited ({status}) before {title} was ready; "
                f"check the image and its settings. Last log lines:\n{docker.logs_tail(container)}"
            )
        if time.monotonic() > deadline:
            raise ContainerError(
                f"container {container.name} did not accept queries within {timeout:g}s "
                f"(last error: {error}); raise dbsnap_startup_timeout or check the image. "
                f"Last log lines:\n{docker.logs_tail(container)}"
            )
        time.sleep(delay)
        delay = min(delay * 1.5, longest)


# Runs the server in the background, its input moved to descriptor 3 for `cat`:
# when that input ends (our lifeline is gone), the server is killed, and the
# container ends with it; when the server ends first, so does the container.
# (A background list's input is /dev/null unless redirected, hence the move.)
_BOUND = (
    'exec 3<&0 </dev/null; "$@" 3<&- & server=$!; '
    '{ cat <&3 >/dev/null; kill -9 "$server"; } 2>/dev/null & wait "$server"'
)


def bound(entrypoint: Sequence[str]) -> list[str]:
    """An entrypoint that runs ``entrypoint`` and its command for as long as the
    container's standard input is open (see :class:`~pytest_dbsnap.docker.Lifeline`)."""
    return ["/bin/sh", "-c", _BOUND, "dbsnap-bound", *entrypoint]


def in_ram(
    entrypoint: Sequence[str], image_dir: str, ram_bytes: int, name: str
) -> tuple[list[str], str, dict[str, str]]:
    """A data folder in RAM: an entrypoint that copies the snapshot's ``image_dir`` into
    a tmpfs of ``ram_bytes``, then runs ``entrypoint``; the folder (``name`` in the
    tmpfs) and the tmpfs mount. Every copy and every write is then a memory copy."""
    mount = f"{image_dir}-ram"
    folder = f"{mount}/{name}"
    copy = 'cp -a "$1" "$2" && shift 2 && exec "$@"'
    return (
        ["/bin/sh", "-c", copy, "dbsnap-ram", image_dir, folder, *entrypoint],
        folder,
        # mode 1777: entrypoints that drop to the server's user copy into it too.
        {mount: f"size={ram_bytes},mode=1777"},
    )


def seed_file(index: int) -> str:
    """Where the ``index``-th seed file is copied in the seeding container."""
    return f"/tmp/dbsnap-seed-{index:04d}.sql"


def run_seed_file(
    docker: Docker,
    container: ContainerInfo,
    content: bytes,
    index: int,
    command: Sequence[str],
    **options: Any,
) -> ExecResult:
    """Copy a seed file in (at :func:`seed_file`), run ``command`` on it, remove it."""
    inside = seed_file(index)
    docker.put_file(container, inside, content)
    try:
        return docker.exec(container, command, **options)
    finally:
        docker.exec(container, ["rm", "-f", inside])


# Runs a client until the server takes it: again every 20 ms, at most $1 times,
# while "<exit status> <output>" matches the pattern $2 of a server not up yet;
# the last attempt's output is the result.
_WHEN_UP = """
tries=$1 not_up=$2; shift 2
while :; do
  out=$("$@" 2>&1) && exit 0
  status=$?
  case "$status $out" in $not_up) ;; *) break ;; esac
  [ "$tries" -gt 0 ] || break
  tries=$((tries - 1))
  sleep 0.02
done
printf '%s\\n' "$out"
exit "$status"
"""


def when_up(command: Sequence[str], not_up: str, timeout: float) -> list[str]:
    """``command``, a client of the server through its socket, run again every 20 ms
    within ``timeout`` while the server is not up yet: while ``"<exit status>
    <output>"`` matches the shell pattern ``not_up``.

    One exec of it can be issued as the container starts: the exec's round
    trip to the daemon then overlaps the server's start instead of following it.
    """
    tries = str(max(1, int(timeout / 0.02)))
    return ["/bin/sh", "-c", _WHEN_UP, "dbsnap-when-up", tries, not_up, *command]


def retry_until_done(
    docker: Docker,
    container: ContainerInfo,
    timeout: float,
    run: Callable[[], ExecResult],
    *,
    title: str,
    tool: str,
) -> None:
    """Run a command in a container just started until it succeeds (the server takes
    connections on its socket), as :func:`until_ready` waits."""

    def attempt() -> str:
        try:
            result = run()
        except DbsnapError as exc:  # it stopped meanwhile: the wait says why
            return str(exc)
        if result.exit_code == 0:
            return ""
        return result.output.strip()[-200:] or f"{tool} exited with {result.exit_code}"

    until_ready(docker, container, timeout, attempt, title=title, delay=0.02, longest=0.25)


def refuse_volumes_over(image: ImageInfo, ref: str, data_dir: str) -> None:
    """Refuse an image that declares a volume holding ``data_dir``: the snapshot's data
    folder is moved out of the image's volumes because `docker commit` keeps nothing in
    them."""
    for volume in image.volumes:
        if data_dir == volume or data_dir.startswith(volume.rstrip("/") + "/"):
            raise ImageError(
                f"image {ref!r} declares VOLUME {volume}, which holds {data_dir}; "
                "use an image that does not declare a volume above it"
            )


SEED_PASSWORD = "/tmp/dbsnap-seed-password"
"""Where the seeding password waits for the entrypoint (its ``*_FILE`` variable): a
file, not a variable, which `docker commit` would keep in the image's history."""


def give_seed_password(docker: Docker, container: ContainerInfo, password: str) -> None:
    """Write the seeding password before the container starts; readable by the
    entrypoint, whichever user it runs as."""
    docker.put_file(container, SEED_PASSWORD, password.encode())
