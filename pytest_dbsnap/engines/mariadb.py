"""MariaDB in a container of the official image's interface (``mariadb:11.8``).

MariaDB cannot copy a database inside one server cheaply, so it has no
:class:`~pytest_dbsnap.engines.Admin`: every pristine database is a container
of the snapshot's own, started ahead by a pool. What a container starts from
was shut down slowly (``innodb_fast_shutdown=0``), so it starts without
recovery.

No driver is imported here until a connection is made (PyMySQL, the
``pytest-dbsnap[mariadb]`` extra).
"""

from __future__ import annotations

import hashlib
import re
import shlex
import socket
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, ImageError, SeedError
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
)
from .mariadb_errors import find_failure
from .sql_failure import unplaced

if TYPE_CHECKING:
    from ..config import Settings
    from ..database import Database
    from ..docker import ContainerInfo, Docker, ExecResult, ImageInfo
    from ..seed import SqlFile


# The redo log of a snapshot: 16 MiB (the least beside the default log buffer)
# instead of 96 keeps the layer near the data's size. Seeding writes with the
# default; the log shrinks before the shutdown, and containers keep its size.
_LOG_BYTES = 16 << 20

# Measured after a slow shutdown, which leaves the data files complete.
_STOP = r"""
set -eu
touch {stopping}
pidfile=$(mariadb --protocol=socket -uroot -N -B -e 'SELECT @@pid_file')
mariadb --protocol=socket -uroot -e 'SET GLOBAL innodb_fast_shutdown = 0'
mariadb-admin --protocol=socket -uroot shutdown
# A slow shutdown purges and merges everything: give it five minutes, as for PostgreSQL.
i=0
while [ -e "$pidfile" ]; do
  i=$((i + 1)); [ $i -lt 6000 ] || { echo "still shutting down after 300s" >&2; exit 1; }
  sleep 0.05
done
rm -f "$1/ib_buffer_pool"
du -sk "$1" | cut -f1
""".replace("{stopping}", STOPPING)


def native_password_hash(password: str) -> str:
    """MariaDB's stored form of ``password`` for ``mysql_native_password``.

    ``IDENTIFIED BY PASSWORD`` takes it as is, so the password itself never
    enters the container.
    """
    return "*" + hashlib.sha1(hashlib.sha1(password.encode()).digest()).hexdigest().upper()


def _literal(text: str) -> str:
    """A MariaDB string literal (in the default SQL mode)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def _account(user: str) -> str:
    return f"{_literal(user)}@'%'"


class MariaDBClient:
    """How people reach a MariaDB database: ``mysql://``, ``MYSQL_*``, PyMySQL."""

    scheme = "mysql"
    sync_driver = "pymysql"
    async_drivers: tuple[str, ...] = ("asyncmy", "aiomysql")
    async_connection = False
    # MYSQL_HOST, MYSQL_PWD... would point the mariadb client elsewhere.
    stray_variables: tuple[str, ...] = ("MYSQL_",)

    def dsn(self, database: Database) -> str:
        """The URL (MariaDB has no conninfo string; frameworks take the URL)."""
        return database.url

    def environment(self, database: Database) -> dict[str, str]:
        """``DATABASE_URL``, what the ``mariadb`` client reads (``MYSQL_HOST``,
        ``MYSQL_TCP_PORT``, ``MYSQL_PWD``), and the ``MYSQL_*`` names applications use."""
        return {
            "DATABASE_URL": database.url,
            "MYSQL_HOST": database.host,
            "MYSQL_TCP_PORT": str(database.port),
            "MYSQL_PWD": database.password,
            "MYSQL_PORT": str(database.port),
            "MYSQL_USER": database.user,
            "MYSQL_PASSWORD": database.password,
            "MYSQL_DATABASE": database.dbname,
        }

    def connect(self, database: Database, **kwargs: Any) -> Any:
        """A PyMySQL connection (``pip install 'pytest-dbsnap[mariadb]'``)."""
        try:
            import pymysql
        except ImportError:
            raise ConfigError(
                "connecting to MariaDB needs PyMySQL: pip install 'pytest-dbsnap[mariadb]' "
                "(or connect with your own driver to dbsnap_db.host, .port, .user, .password)"
            ) from None
        return pymysql.connect(
            host=database.host,
            port=database.port,
            user=database.user,
            password=database.password,
            database=database.dbname,
            **kwargs,
        )

    async def connect_async(self, database: Database, **kwargs: Any) -> Any:
        raise ConfigError(
            "dbsnap_aconn is PostgreSQL's (psycopg); with MariaDB use dbsnap_async_engine, or "
            "your async driver on dbsnap_db.host, .port, .user, .password"
        )

    def describe(self, database: Database) -> str:
        """A ``mariadb`` command line (with the password: for ``keep``)."""
        return (
            f"mariadb -h {database.host} -P {database.port} -u {shlex.quote(database.user)} "
            f"--password={shlex.quote(database.password)} {shlex.quote(database.dbname)}"
        )


class MariaDBEngine:
    """MariaDB through the official image's interface."""

    name = "mariadb"
    title = "MariaDB"
    port = 3306
    default_user = "root"
    client: Client = MariaDBClient()
    copies = False
    # The official image declares VOLUME /var/lib/mysql; `docker commit` keeps
    # nothing inside a volume, so the data folder moves (an argument of the server).
    data_dir = "/var/lib/dbsnap/mysql"
    # A test database need not survive a power cut; seeding needs no
    # durability either: its data reaches the image through a clean shutdown.
    no_durability = ("--innodb-flush-log-at-trx-commit=0", "--innodb-doublewrite=0")
    seed_settings = no_durability

    def recognizes(self, image: ImageInfo) -> bool:
        return "MARIADB_VERSION" in image.env_names or any(
            part.rpartition("/")[2] == "mariadbd" for part in (*image.entrypoint, *image.command)
        )

    def check_image(self, image: ImageInfo, ref: str) -> None:
        """Refuse an image whose volumes would swallow the moved data folder, or a
        MariaDB before 10.9 (its redo log cannot shrink before the commit)."""
        refuse_volumes_over(image, ref, self.data_dir)
        version = dict(e.partition("=")[::2] for e in image.env).get("MARIADB_VERSION", "")
        found = re.search(r"(?:^|:)(\d+)\.(\d+)\.", version)
        if found and (int(found[1]), int(found[2])) < (10, 9):
            raise ImageError(
                f"image {ref!r} runs MariaDB {found[1]}.{found[2]}; pytest-dbsnap needs 10.9 or "
                "later (10.11, 11.4 and 11.8 are the maintained ones): set dbsnap_image to one"
            )

    def _command(self, image: ImageInfo) -> list[str]:
        """The server's command: its data folder moved out of the volume, and its undo
        logs in the system tablespace (3 undo tablespaces of 10 MiB each would weigh
        more than most seeds; the value is the data folder's for good)."""
        return [
            *(image.command or ["mariadbd"]),
            f"--datadir={self.data_dir}",
            "--innodb-undo-tablespaces=0",
        ]

    def seeding(self, image: ImageInfo, *, user: str, dbname: str) -> Launch:
        environment = {
            # A file, not the variable: `docker commit` keeps the seeding
            # container's environment in the image's history.
            "MARIADB_ROOT_PASSWORD_FILE": SEED_PASSWORD,
            "MARIADB_DATABASE": dbname,
        }
        if user != "root":
            environment |= {"MARIADB_USER": user, "MARIADB_PASSWORD_FILE": SEED_PASSWORD}
        command = [*self._command(image), *self.seed_settings]
        return Launch(keepalive(image.entrypoint), command, environment)

    def snapshot_config(self, image: ImageInfo) -> dict[str, Any]:
        """The base's config, with the data folder moved."""
        # docker commit merges the container's environment in; blank the seed's.
        env = [
            *image.env,
            "MARIADB_ROOT_PASSWORD_FILE=",
            "MARIADB_PASSWORD_FILE=",
            "MARIADB_DATABASE=",
            "MARIADB_USER=",
        ]
        return {
            "Entrypoint": list(image.entrypoint) or None,
            # Its redo log stays the size the snapshot's has.
            "Cmd": [*self._command(image), f"--innodb-log-file-size={_LOG_BYTES}"],
            "Env": env,
        }

    def give_seed_password(self, docker: Docker, container: ContainerInfo, password: str) -> None:
        give_seed_password(docker, container, password)

    def wait_ready(
        self, docker: Docker, container: ContainerInfo, database: Database, timeout: float
    ) -> None:
        """Wait until the server greets a TCP connection through the published port.

        docker-proxy accepts a connection before anything listens behind it, and
        the entrypoint's temporary server listens on no TCP port; the server's
        first packet (its handshake) comes only from the final server, and
        needs no driver to read.
        """

        def greeted() -> str:
            try:
                with socket.create_connection((database.host, database.port), timeout=3) as conn:
                    packet = conn.recv(5)
            except OSError as exc:
                return str(exc) or type(exc).__name__
            # A packet of length, sequence 0, then protocol version 10; an error
            # packet (0xff) while the server refuses connections.
            if len(packet) == 5 and packet[4] == 10:
                return ""
            return "no handshake from the server yet"

        until_ready(docker, container, timeout, greeted, title=self.title, delay=0.02, longest=0.1)

    def _client(
        self,
        docker: Docker,
        container: ContainerInfo,
        statement: str,
        *,
        password: str = "",
        flags: tuple[str, ...] = (),
    ) -> ExecResult:
        """Run one statement as root over the server's socket (with ``password`` while
        seeding; afterwards root@localhost is the socket's own)."""
        return docker.exec(
            container,
            ["mariadb", "--protocol=socket", "-uroot", "--batch", *flags, "-e", statement],
            environment={"MYSQL_PWD": password} if password else None,
        )

    def apply_sql(
        self, docker: Docker, container: ContainerInfo, sql: SqlFile, index: int, database: Database
    ) -> None:
        """Run one SQL file with the ``mariadb`` client in the container, as root, in
        ``database``; an error names the file and the line."""
        result = run_seed_file(
            docker,
            container,
            sql.content,
            index,
            ["sh", "-c", 'exec mariadb --protocol=socket -uroot --database="$1" <"$2"', "sh",
             database.dbname, seed_file(index)],
            environment={"MYSQL_PWD": database.password},
        )  # fmt: skip
        if result.exit_code != 0:
            failure = find_failure(result.output)
            raise SeedError(
                failure.describe(sql.display)
                if failure is not None
                else unplaced(sql.display, "mariadb", result.exit_code, result.output, "mariadb")
            )

    def seal(self, docker: Docker, container: ContainerInfo, database: Database) -> Sealed:
        """Take every password away (root inside the container keeps the socket; the
        TCP accounts are locked until a container gives them its own), measure the
        database, and shut the server down slowly and cleanly."""
        docker.exec(container, ["rm", "-f", SEED_PASSWORD])
        size = self._client(
            docker,
            container,
            "SELECT COALESCE(SUM(data_length + index_length), 0) FROM information_schema.tables"
            f" WHERE table_schema = {_literal(database.dbname)}",
            password=database.password,
            flags=("-N",),
        )
        text = size.output.strip()
        database_bytes = int(text) if size.exit_code == 0 and text.isdigit() else 0
        accounts = ", ".join(sorted({_account("root"), _account(database.user)}))
        lock = self._client(
            docker,
            container,
            f"ALTER USER IF EXISTS {accounts} ACCOUNT LOCK;"
            " ALTER USER root@localhost IDENTIFIED VIA unix_socket",
            password=database.password,
        )
        if lock.exit_code != 0:
            raise SeedError(
                f"could not take the seeding password away in {container.name}: "
                f"{lock.output.strip()[-300:]}; see the container's logs"
            )
        shrink = self._client(docker, container, f"SET GLOBAL innodb_log_file_size = {_LOG_BYTES}")
        if shrink.exit_code != 0:
            raise SeedError(
                f"could not shrink the redo log in {container.name}: "
                f"{shrink.output.strip()[-300:]}; see the container's logs"
            )
        stop = docker.exec(container, ["sh", "-c", _STOP, "sh", self.data_dir])
        last = stop.output.strip().splitlines()[-1:] or [""]
        if stop.exit_code != 0 or not last[0].isdigit():
            raise SeedError(
                f"MariaDB in {container.name} did not shut down cleanly: "
                f"{stop.output.strip()[-300:]}; see the container's logs"
            )
        return Sealed(cluster_bytes=int(last[0]) * 1024, database_bytes=database_bytes)

    def launch(self, snapshot: ImageInfo, *, durable: bool, ram_bytes: int) -> Launch:
        command = [*snapshot.command, *(() if durable else self.no_durability)]
        if not ram_bytes:
            return Launch(None, command)
        entrypoint, folder, tmpfs = in_ram(snapshot.entrypoint, self.data_dir, ram_bytes, "mysql")
        # The last --datadir wins.
        return Launch(entrypoint, [*command, f"--datadir={folder}"], {}, tmpfs, ram_bytes)

    def set_password(
        self, docker: Docker, container: ContainerInfo, database: Database, timeout: float
    ) -> None:
        """Give ``database.user`` the password ``database.password`` and unlock it,
        through the server's socket; only its hash goes into the container.

        The server is waited for over TCP first (cheap to ask; an exec costs a
        process in the container), so the statement normally takes one try.
        Unlike PostgreSQL's, the exec is not issued as the container starts
        (:func:`~.lifecycle.when_up`): this server takes a second to start, and
        the client's attempts meanwhile cost it more than the round trip saves
        (a start took 1.54 s against 1.28 s, medians of 14 here).
        """
        self.wait_ready(docker, container, database, timeout)
        statement = (
            f"ALTER USER {_account(database.user)} IDENTIFIED BY PASSWORD "
            f"{_literal(native_password_hash(database.password))} ACCOUNT UNLOCK"
        )

        retry_until_done(
            docker,
            container,
            timeout,
            lambda: self._client(docker, container, statement),
            title=self.title,
            tool="mariadb",
        )

    def admin(self, server: Database, settings: Settings) -> None:
        return None
