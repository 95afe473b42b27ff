"""PostgreSQL in a container of the official image's interface (``postgres:17``)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import shlex
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from ..database import Database
from ..errors import ContainerError, DbsnapError, ImageError, SeedError
from .psql_errors import find_failure

if TYPE_CHECKING:
    from docker.models.containers import Container
    from docker.models.images import Image

    from ..docker import Docker, ExecResult
    from ..seed import SqlFile


# Run the image's own entrypoint under a shell that outlives the server, so the
# server can be stopped cleanly and its WAL trimmed before `docker commit`. A
# server that dies on its own still ends the container, with its exit status.
_STOPPING = "/tmp/dbsnap-stopping"
_KEEPALIVE = f'"$@" & wait $!; s=$?; [ -e {_STOPPING} ] || exit $s; while :; do sleep 3600; done'

# After a clean shutdown only the segment holding the shutdown checkpoint is
# needed; older segments and recycled future ones would bloat the layer.
_STOP_AND_TRIM = r"""
set -eu
touch {stopping}
pg_ctl stop -D "$PGDATA" -m fast -w -t 300 >/dev/null
control=$(pg_controldata -D "$PGDATA")
state=$(printf '%s\n' "$control" | sed -n 's/^Database cluster state: *//p')
[ "$state" = "shut down" ] || { echo "cluster state after stop: $state" >&2; exit 1; }
redo=$(printf '%s\n' "$control" | sed -n "s/^Latest checkpoint's REDO WAL file: *//p")
cd "$PGDATA/pg_wal"
for f in *; do
  case "$f" in
    ????????????????????????) [ "$f" = "$redo" ] || rm -f -- "$f" ;;
  esac
done
rm -f archive_status/*
du -sk "$PGDATA" | cut -f1
""".replace("{stopping}", _STOPPING)

# A worker's data folder in RAM: the image's entrypoint runs on a copy of the
# snapshot's cluster in a tmpfs, so every copy and every write is a memory copy.
_TO_RAM = 'cp -a "$DBSNAP_PGDATA_IMAGE" "$PGDATA" && exec "$@"'


@dataclass(frozen=True)
class Launch:
    """How a container from a snapshot is started: entrypoint, command, environment,
    and the tmpfs mounts it needs besides those over the image's volumes."""

    entrypoint: list[str] | None
    command: list[str]
    environment: dict[str, str]
    tmpfs: dict[str, str]
    ram_bytes: int = 0
    """The size bound of the RAM-backed data folder (0: on disk)."""


SEED_DIR = "/tmp"
PASSWORD_FILE = "/tmp/dbsnap-seed-password"


def _until(
    docker: Docker,
    container: Container,
    timeout: float,
    attempt: Callable[[], str],
    *,
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
                f"container {container.name} exited ({status}) before PostgreSQL was ready; "
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


def scram_verifier(password: str, iterations: int = 4096) -> str:
    """PostgreSQL's stored form of ``password`` for SCRAM-SHA-256 (RFC 5802, 7677).

    ``ALTER ROLE ... PASSWORD`` takes it as is, so the password itself never
    leaves this process. Our passwords are ASCII, which SASLprep leaves alone.
    """
    salt = os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


class PostgresEngine:
    """PostgreSQL through the official image's interface."""

    name = "postgres"
    port = 5432
    # The official images declare a VOLUME on their PGDATA (up to 17) or on
    # /var/lib/postgresql (18+); `docker commit` keeps nothing inside a volume.
    data_dir = "/var/lib/dbsnap/pgdata"
    # A test database need not survive a power cut, and seeding needs no
    # durability either: its data reaches the image through a clean shutdown.
    no_durability = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")
    seed_settings = no_durability

    def check_image(self, image: Image, ref: str) -> None:
        """Refuse an image that is not PostgreSQL's, or whose volumes would
        swallow the moved PGDATA."""
        config = image.attrs.get("Config", {})
        env = {e.partition("=")[0] for e in config.get("Env") or []}
        command = [*(config.get("Entrypoint") or []), *(config.get("Cmd") or [])]
        # The official images and those built FROM them (postgis, timescale...)
        # set PG_MAJOR; anything else must at least run postgres.
        if not env & {"PG_MAJOR", "PG_VERSION"} and "postgres" not in command:
            shown = " ".join(command) or "no command"
            raise ImageError(
                f"image {ref!r} does not look like PostgreSQL (no PG_MAJOR in its environment, "
                f"command: {shown}); set dbsnap_image to postgres:17 or an image built from it"
            )
        volumes = config.get("Volumes") or {}
        for volume in volumes:
            if self.data_dir == volume or self.data_dir.startswith(volume.rstrip("/") + "/"):
                raise ImageError(
                    f"image {ref!r} declares VOLUME {volume}, which holds {self.data_dir}; "
                    "use an image that does not declare a volume above it"
                )

    def seeding_container(
        self, image: Image, *, user: str, dbname: str
    ) -> tuple[dict[str, str], list[str], list[str]]:
        """Environment, entrypoint and command of the seeding container.

        Put the password into it with :meth:`give_seed_password` before it starts.
        """
        config = image.attrs.get("Config", {})
        entrypoint = list(config.get("Entrypoint") or [])
        command = list(config.get("Cmd") or ["postgres"])
        for setting in self.seed_settings:
            command += ["-c", setting]
        environment = {
            "PGDATA": self.data_dir,
            "POSTGRES_USER": user,
            "POSTGRES_DB": dbname,
            # A file, not the variable: `docker commit` keeps the seeding
            # container's environment in the image's history.
            "POSTGRES_PASSWORD_FILE": PASSWORD_FILE,
            # The snapshot keeps one WAL segment; at 1 MiB instead of 16 it
            # stops weighing more than a small seeded database.
            "POSTGRES_INITDB_ARGS": "--wal-segsize=1",
        }
        return environment, ["/bin/sh", "-c", _KEEPALIVE, "dbsnap-seed", *entrypoint], command

    def snapshot_config(self, image: Image) -> dict[str, Any]:
        """The image config a snapshot commits: the base's, with PGDATA moved."""
        config = image.attrs.get("Config", {})
        env = [e for e in config.get("Env") or [] if not e.startswith("PGDATA=")]
        # docker commit merges the container's environment in; blank the secret.
        env += [
            f"PGDATA={self.data_dir}",
            "POSTGRES_PASSWORD=",
            "POSTGRES_PASSWORD_FILE=",
            "POSTGRES_INITDB_ARGS=",
        ]
        return {
            "Entrypoint": config.get("Entrypoint"),
            "Cmd": config.get("Cmd") or ["postgres"],
            "Env": env,
        }

    def wait_ready(
        self, docker: Docker, container: Container, database: Database, timeout: float
    ) -> None:
        """Wait until a real query succeeds over TCP.

        docker-proxy accepts a connection before anything listens behind it, and
        the entrypoint's temporary init server listens on no TCP port, so only a
        query answered through the published port means the final server is up.
        """

        def query() -> str:
            try:
                with psycopg.connect(database.dsn, connect_timeout=3, autocommit=True) as conn:
                    conn.execute("SELECT 1")
            except psycopg.Error as exc:
                return str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            return ""

        _until(docker, container, timeout, query, delay=0.05, longest=0.5)

    def apply_sql(
        self,
        docker: Docker,
        container: Container,
        sql: SqlFile,
        index: int,
        *,
        user: str,
        dbname: str,
    ) -> None:
        """Run one SQL file with psql in the container; errors name file and line."""
        inside = f"{SEED_DIR}/dbsnap-seed-{index:04d}.sql"
        docker.put_file(container, inside, sql.content)
        result = docker.exec(
            container,
            [
                "psql",
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "--echo-errors",  # the failed statement, to place the error in the file
                "--no-password",
                "-U",
                user,
                "-d",
                dbname,
                "-f",
                inside,
            ],
            user="postgres",
            environment={"PGOPTIONS": "-c client_min_messages=warning"},
        )
        docker.exec(container, ["rm", "-f", inside])
        if result.exit_code == 0:
            return
        raise SeedError(
            self._describe_sql_error(result.output, inside, sql.display, result.exit_code)
        )

    @staticmethod
    def _describe_sql_error(output: str, inside: str, display: str, exit_code: int) -> str:
        failure = find_failure(output, inside)
        if failure is not None:
            return failure.describe(display)
        if exit_code in (126, 127):
            return (
                f"{display}: psql is missing from the image; use an image with the PostgreSQL "
                "client (the official postgres images have it)"
            )
        tail = "\n".join(output.splitlines()[-10:]) or "(no output)"
        return f"{display}: psql failed with exit code {exit_code}; its output:\n{tail}"

    def set_password(
        self, docker: Docker, container: Container, database: Database, timeout: float
    ) -> None:
        """Give ``database.user`` the password ``database.password``, through the socket.

        Only its SCRAM verifier goes into the container. Retried until the
        server, just started, accepts connections on its socket.
        """
        verifier = scram_verifier(database.password)
        statement = sql.SQL("ALTER ROLE {} PASSWORD {}").format(
            sql.Identifier(database.user), sql.Literal(verifier)
        )

        def alter() -> str:
            try:
                result = self._psql(docker, container, database.user, statement.as_string())
            except DbsnapError as exc:  # it stopped meanwhile: the wait says why
                return str(exc)
            if result.exit_code == 0:
                return ""
            return result.output.strip()[-200:] or f"psql exited with {result.exit_code}"

        _until(docker, container, timeout, alter, delay=0.02, longest=0.25)

    def give_seed_password(self, docker: Docker, container: Container, password: str) -> None:
        """Write the seeding password where the entrypoint reads it (before the start)."""
        # Readable by any user: images that run as postgres read it as postgres.
        docker.put_file(container, PASSWORD_FILE, password.encode())

    def forget_password(self, docker: Docker, container: Container, user: str) -> None:
        """Remove ``user``'s password, so the snapshot accepts no password at all."""
        statement = sql.SQL("ALTER ROLE {} PASSWORD NULL").format(sql.Identifier(user))
        docker.exec(container, ["rm", "-f", PASSWORD_FILE])
        result = self._psql(docker, container, user, statement.as_string())
        if result.exit_code != 0:
            raise SeedError(
                f"could not clear the seeding password in {container.name}: "
                f"{result.output.strip()[-300:]}; see the container's logs"
            )

    @staticmethod
    def _psql(docker: Docker, container: Container, user: str, statement: str) -> ExecResult:
        """Run one statement as ``user`` over the server's socket (trusted, as in the
        official images)."""
        return docker.exec(
            container,
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-U", user, "-d", "template1",
             "-c", statement],
            user="postgres",
        )  # fmt: skip

    def database_bytes(self, docker: Docker, container: Container, user: str, dbname: str) -> int:
        """The size of the seeded database (before the server stops)."""
        statement = sql.SQL("SELECT pg_database_size({})").format(sql.Literal(dbname))
        result = docker.exec(
            container,
            ["psql", "-X", "-At", "-U", user, "-d", "template1", "-c", statement.as_string()],
            user="postgres",
        )
        text = result.output.strip()
        return int(text) if result.exit_code == 0 and text.isdigit() else 0

    def stop_cleanly(self, docker: Docker, container: Container) -> int:
        """Shut the server down cleanly and drop WAL the snapshot does not need.

        Returns the size of the data folder left, in bytes.
        """
        result = docker.exec(
            container, ["sh", "-c", _STOP_AND_TRIM], user="postgres", environment={"LC_ALL": "C"}
        )
        if result.exit_code != 0:
            raise SeedError(
                f"PostgreSQL in {container.name} did not shut down cleanly: "
                f"{result.output.strip()[-300:]}; see the container's logs"
            )
        last = result.output.strip().splitlines()[-1:] or ["0"]
        return int(last[0]) * 1024 if last[0].isdigit() else 0

    def worker_launch(self, image: Image, settings: Sequence[str], ram_bytes: int) -> Launch:
        """How a container of the snapshot ``image`` starts, with ``settings`` (``-c``)
        and, when ``ram_bytes``, its data folder in a tmpfs of that size."""
        config = image.attrs.get("Config", {})
        command = list(config.get("Cmd") or ["postgres"])
        for setting in settings:
            command += ["-c", setting]
        if not ram_bytes:
            return Launch(None, command, {}, {})
        entrypoint = list(config.get("Entrypoint") or [])
        ram = f"{self.data_dir}-ram"
        return Launch(
            entrypoint=["/bin/sh", "-c", _TO_RAM, "dbsnap-ram", *entrypoint],
            command=command,
            environment={"PGDATA": f"{ram}/pgdata", "DBSNAP_PGDATA_IMAGE": self.data_dir},
            # mode 1777: images whose entrypoint runs as postgres copy into it too.
            tmpfs={ram: f"size={ram_bytes},mode=1777"},
            ram_bytes=ram_bytes,
        )

    @staticmethod
    def describe(database: Database) -> str:
        """How a person connects with psql (includes the password: for `keep`)."""
        env = f"PGPASSWORD={shlex.quote(database.password)}"
        return (
            f"{env} psql -h {database.host} -p {database.port} "
            f"-U {shlex.quote(database.user)} {shlex.quote(database.dbname)}"
        )
