"""PostgreSQL in a container of the official image's interface (``postgres:17``).

psycopg is imported only where a connection is made, so that choosing this
engine (or building a :class:`~pytest_dbsnap.database.Database`) costs nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import shlex
from typing import TYPE_CHECKING, Any

from ..errors import ContainerError, SeedError
from . import Client, Launch, Sealed
from .lifecycle import (
    SEED_PASSWORD,
    STOPPING,
    give_seed_password,
    in_ram,
    keepalive,
    refuse_volumes_over,
    retry_until_done,
    run_seed_file,
    seed_file,
    until_ready,
    when_up,
)
from .psql_errors import find_failure
from .sql_failure import unplaced

if TYPE_CHECKING:
    import psycopg

    from ..config import Settings
    from ..database import Database
    from ..docker import ContainerInfo, Docker, ExecResult, ImageInfo
    from ..seed import SqlFile
    from .postgres_admin import PostgresAdmin, Strategy


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
""".replace("{stopping}", STOPPING)


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


def _sql(
    template: str, *, identifiers: tuple[str, ...] = (), literals: tuple[str, ...] = ()
) -> str:
    """A statement with its identifiers and literals quoted as psycopg quotes them."""
    from psycopg import sql

    parts = [sql.Identifier(i) for i in identifiers] + [sql.Literal(v) for v in literals]
    return sql.SQL(template).format(*parts).as_string()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class PostgresClient:
    """How people reach a PostgreSQL database: libpq conninfo, ``postgresql://``, ``PG*``."""

    scheme = "postgresql"
    sync_driver = "psycopg"
    async_drivers: tuple[str, ...] = ("asyncpg", "psycopg")
    async_connection = True
    # PGHOST, PGSSLMODE, PGSERVICE... would point libpq elsewhere.
    stray_variables: tuple[str, ...] = ("PG",)

    def dsn(self, database: Database) -> str:
        """libpq conninfo of exactly ``database``.

        It also pins what the host's ``PGSSLMODE``, ``PGTARGETSESSIONATTRS``
        and ``PGOPTIONS`` would otherwise change (libpq reads them for every
        keyword not given): a test database has no TLS and no replicas.
        """
        from psycopg.conninfo import make_conninfo

        return make_conninfo(
            host=database.host,
            port=str(database.port),
            user=database.user,
            password=database.password,
            dbname=database.dbname,
            sslmode="prefer",
            target_session_attrs="any",
            options="",
        )

    def environment(self, database: Database) -> dict[str, str]:
        """``DATABASE_URL`` and the libpq ``PG*`` variables."""
        return {
            "DATABASE_URL": database.url,
            "PGHOST": database.host,
            "PGPORT": str(database.port),
            "PGUSER": database.user,
            "PGPASSWORD": database.password,
            "PGDATABASE": database.dbname,
        }

    def connect(self, database: Database, **kwargs: Any) -> psycopg.Connection[Any]:
        """A psycopg 3 connection."""
        import psycopg

        return psycopg.connect(self.dsn(database), **kwargs)

    async def connect_async(
        self, database: Database, **kwargs: Any
    ) -> psycopg.AsyncConnection[Any]:
        """A psycopg 3 ``AsyncConnection``."""
        import psycopg

        return await psycopg.AsyncConnection.connect(self.dsn(database), **kwargs)

    def describe(self, database: Database) -> str:
        """A ``psql`` command line (with the password: for ``keep``)."""
        return (
            f"PGPASSWORD={shlex.quote(database.password)} psql -h {database.host} "
            f"-p {database.port} -U {shlex.quote(database.user)} {shlex.quote(database.dbname)}"
        )


class PostgresEngine:
    """PostgreSQL through the official image's interface."""

    name = "postgres"
    title = "PostgreSQL"
    port = 5432
    default_user = "postgres"
    client: Client = PostgresClient()
    copies = True
    # The official images declare a VOLUME on their PGDATA (up to 17) or on
    # /var/lib/postgresql (18+); `docker commit` keeps nothing inside a volume.
    data_dir = "/var/lib/dbsnap/pgdata"
    # A test database need not survive a power cut, and seeding needs no
    # durability either: its data reaches the image through a clean shutdown.
    no_durability = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")
    seed_settings = no_durability

    def recognizes(self, image: ImageInfo) -> bool:
        # The official images and those built FROM them (postgis, timescale...)
        # set PG_MAJOR; anything else must at least run postgres.
        return bool(image.env_names & {"PG_MAJOR", "PG_VERSION"}) or "postgres" in (
            *image.entrypoint,
            *image.command,
        )

    def check_image(self, image: ImageInfo, ref: str) -> None:
        """Refuse an image whose volumes would swallow the moved PGDATA."""
        refuse_volumes_over(image, ref, self.data_dir)

    def seeding(self, image: ImageInfo, *, user: str, dbname: str) -> Launch:
        command = list(image.command or ["postgres"])
        for setting in self.seed_settings:
            command += ["-c", setting]
        environment = {
            "PGDATA": self.data_dir,
            "POSTGRES_USER": user,
            "POSTGRES_DB": dbname,
            # A file, not the variable: `docker commit` keeps the seeding
            # container's environment in the image's history.
            "POSTGRES_PASSWORD_FILE": SEED_PASSWORD,
            # The snapshot keeps one WAL segment; at 1 MiB instead of 16 it
            # stops weighing more than a small seeded database. initdb need not
            # flush the new cluster to disk: it reaches the image through the
            # page cache, after a clean shutdown (a build 0.27 s quicker here).
            "POSTGRES_INITDB_ARGS": "--wal-segsize=1 --no-sync",
        }
        return Launch(keepalive(image.entrypoint), command, environment)

    def snapshot_config(self, image: ImageInfo) -> dict[str, Any]:
        """The base's config, with PGDATA moved."""
        env = [e for e in image.env if not e.startswith("PGDATA=")]
        # docker commit merges the container's environment in; blank the secret.
        env += [
            f"PGDATA={self.data_dir}",
            "POSTGRES_PASSWORD=",
            "POSTGRES_PASSWORD_FILE=",
            "POSTGRES_INITDB_ARGS=",
        ]
        return {
            "Entrypoint": list(image.entrypoint) or None,
            "Cmd": list(image.command or ["postgres"]),
            "Env": env,
        }

    def wait_ready(
        self, docker: Docker, container: ContainerInfo, database: Database, timeout: float
    ) -> None:
        """Wait until a real query succeeds over TCP.

        docker-proxy accepts a connection before anything listens behind it, and
        the entrypoint's temporary init server listens on no TCP port, so only a
        server answering through the published port means the final one is up.
        """
        import psycopg

        def query() -> str:
            try:
                with psycopg.connect(database.dsn, connect_timeout=3, autocommit=True) as conn:
                    conn.execute("SELECT 1")
            except psycopg.Error as exc:
                refused = "authentication" in str(exc)
                if isinstance(exc, psycopg.OperationalError) and refused:
                    # The server is up, and says no: waiting will not change its mind.
                    raise ContainerError(
                        f"container {container.name} refused {database.user}'s password "
                        f"({_first_line(exc)}); if the snapshot was made by an older "
                        "pytest-dbsnap or another tool, rebuild it (--dbsnap-rebuild)"
                    ) from None
                return _first_line(exc) if str(exc).strip() else repr(exc)
            return ""

        # Polling over TCP costs little (an exec costs a process in the container).
        until_ready(docker, container, timeout, query, title=self.title, delay=0.02, longest=0.1)

    def apply_sql(
        self, docker: Docker, container: ContainerInfo, sql: SqlFile, index: int, database: Database
    ) -> None:
        """Run one SQL file with psql in the container; errors name file and line."""
        result = run_seed_file(
            docker,
            container,
            sql.content,
            index,
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1",
             "--echo-errors",  # the failed statement, to place the error in the file
             "--no-password", "-U", database.user, "-d", database.dbname, "-f", seed_file(index)],
            user="postgres",
            environment={"PGOPTIONS": "-c client_min_messages=warning"},
        )  # fmt: skip
        if result.exit_code != 0:
            failure = find_failure(result.output, seed_file(index))
            raise SeedError(
                failure.describe(sql.display)
                if failure is not None
                else unplaced(sql.display, "psql", result.exit_code, result.output, "postgres")
            )

    def set_password(
        self, docker: Docker, container: ContainerInfo, database: Database, timeout: float
    ) -> None:
        """Give ``database.user`` the password ``database.password``, through the socket.

        Only its SCRAM verifier goes into the container. One exec, issued as
        the container starts, runs psql until the server takes it (see
        :func:`~.lifecycle.when_up`).
        """
        statement = _sql(
            "ALTER ROLE {} PASSWORD {}",
            identifiers=(database.user,),
            literals=(scram_verifier(database.password),),
        )

        retry_until_done(
            docker,
            container,
            timeout,
            lambda: docker.exec(
                container,
                # psql's exit status 2: no connection (no socket yet, or starting up).
                when_up(["psql", *self._psql_args(database.user, statement)], "2 *", timeout),
                user="postgres",
            ),
            title=self.title,
            tool="psql",
        )

    def give_seed_password(self, docker: Docker, container: ContainerInfo, password: str) -> None:
        give_seed_password(docker, container, password)

    def seal(self, docker: Docker, container: ContainerInfo, database: Database) -> Sealed:
        """Take the seeding password away (the snapshot accepts none), measure the
        database, stop the server cleanly and drop WAL the snapshot does not need."""
        docker.exec(container, ["rm", "-f", SEED_PASSWORD])
        forget = _sql("ALTER ROLE {} PASSWORD NULL", identifiers=(database.user,))
        result = self._psql(docker, container, database.user, forget)
        if result.exit_code != 0:
            raise SeedError(
                f"could not clear the seeding password in {container.name}: "
                f"{result.output.strip()[-300:]}; see the container's logs"
            )
        size = _sql("SELECT pg_database_size({})", literals=(database.dbname,))
        result = self._psql(docker, container, database.user, size, "-At")
        text = result.output.strip()
        database_bytes = int(text) if result.exit_code == 0 and text.isdigit() else 0
        result = docker.exec(
            container, ["sh", "-c", _STOP_AND_TRIM], user="postgres", environment={"LC_ALL": "C"}
        )
        if result.exit_code != 0:
            raise SeedError(
                f"PostgreSQL in {container.name} did not shut down cleanly: "
                f"{result.output.strip()[-300:]}; see the container's logs"
            )
        last = result.output.strip().splitlines()[-1:] or ["0"]
        cluster_bytes = int(last[0]) * 1024 if last[0].isdigit() else 0
        return Sealed(cluster_bytes=cluster_bytes, database_bytes=database_bytes)

    @staticmethod
    def _psql(
        docker: Docker, container: ContainerInfo, user: str, statement: str, *flags: str
    ) -> ExecResult:
        """Run one statement as ``user`` over the server's socket (trusted, as in the
        official images)."""
        return docker.exec(
            container,
            ["psql", *PostgresEngine._psql_args(user, statement, *flags)],
            user="postgres",
        )

    @staticmethod
    def _psql_args(user: str, statement: str, *flags: str) -> list[str]:
        return ["-X", "-q", *flags, "-v", "ON_ERROR_STOP=1", "-U", user, "-d", "template1",
                "-c", statement]  # fmt: skip

    def launch(self, snapshot: ImageInfo, *, durable: bool, ram_bytes: int) -> Launch:
        command = list(snapshot.command or ["postgres"])
        for setting in () if durable else self.no_durability:
            command += ["-c", setting]
        if not ram_bytes:
            return Launch(None, command)
        entrypoint, folder, tmpfs = in_ram(snapshot.entrypoint, self.data_dir, ram_bytes, "pgdata")
        return Launch(entrypoint, command, {"PGDATA": folder}, tmpfs, ram_bytes)

    def admin(self, server: Database, settings: Settings) -> PostgresAdmin:
        from .postgres_admin import PostgresAdmin

        strategy: Strategy = "wal_log" if settings.clone_strategy == "wal_log" else "file_copy"
        return PostgresAdmin.connect(server, avoid=settings.dbname, strategy=strategy)
