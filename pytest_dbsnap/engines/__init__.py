"""Database engines: everything that differs between PostgreSQL, MariaDB and the next one.

The rest of pytest-dbsnap depends on the protocols here, never on an engine's
module. An :class:`Engine` knows its image's interface: how a container is
configured for seeding, when its server is ready, how a seed file is applied,
how the server is sealed (clean shutdown, no password) before ``docker
commit``, and how containers from the snapshot start. A :class:`Client` knows
how people reach a database of that engine (URLs, variables, a DB-API
connection), without importing a driver until asked.

An engine that can copy a database inside one server cheaply gives an
:class:`Admin`; then every test gets a copy of a template in its worker's
container. One that cannot (MariaDB) gives every test a container of its own,
started ahead by a pool.

Importing this package imports no driver and no Docker SDK.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import ImageError

if TYPE_CHECKING:
    from ..config import Settings
    from ..database import Database
    from ..docker import ContainerInfo, Docker, ImageInfo
    from ..seed import SqlFile


@dataclass(frozen=True)
class Launch:
    """How a container starts: entrypoint, command, environment, and the tmpfs
    mounts it needs besides those over the image's volumes."""

    entrypoint: list[str] | None
    command: list[str]
    environment: dict[str, str] = field(default_factory=dict)
    tmpfs: dict[str, str] = field(default_factory=dict)
    ram_bytes: int = 0
    """The size bound of the RAM-backed data folder (0: on disk)."""
    image_entrypoint: list[str] = field(default_factory=list)
    """The snapshot's own entrypoint (what ``entrypoint`` None stands for)."""


@dataclass(frozen=True)
class Sealed:
    """What sealing a seeded server before the commit measured."""

    cluster_bytes: int
    """The size of the whole data folder."""
    database_bytes: int
    """The size of the seeded database."""


class Client(Protocol):
    """How people reach a database of one engine; imports its driver only when connecting."""

    scheme: str
    """The URL scheme without a driver (``postgresql``, ``mysql``)."""
    sync_driver: str
    """The SQLAlchemy driver of the ``dbsnap_engine`` fixture (``psycopg``, ``pymysql``)."""
    async_drivers: tuple[str, ...]
    """The async SQLAlchemy drivers of ``dbsnap_async_engine``, the first one installed
    wins (each is also its module's name)."""
    async_connection: bool
    """Whether :meth:`connect_async` gives a connection (``dbsnap_aconn``)."""
    stray_variables: tuple[str, ...]
    """Prefixes of the host's variables that would redirect the engine's tools (``PG``):
    the seed command runs without them."""

    def dsn(self, database: Database) -> str: ...

    def environment(self, database: Database) -> dict[str, str]: ...

    def connect(self, database: Database, **kwargs: Any) -> Any: ...

    async def connect_async(self, database: Database, **kwargs: Any) -> Any: ...

    def describe(self, database: Database) -> str:
        """A command line a person runs to connect (it holds the password: for ``keep``)."""
        ...


class Admin(Protocol):
    """Administration of one server that copies databases inside it (a template's copies)."""

    @property
    def reuse_problem(self) -> str:
        """Why a copy cannot be proven untouched on this server ("" when it can)."""
        ...

    def close(self) -> None: ...

    def ping(self) -> None:
        """One round trip; :class:`~pytest_dbsnap.errors.ContainerError` when the server is
        gone."""
        ...

    def make_template(self, dbname: str, template: str) -> None:
        """Turn the seeded ``dbname`` into ``template``, closed to connections."""
        ...

    def clone(self, template: str, name: str) -> None: ...

    def replace(self, name: str, copy: str, trash: str) -> None:
        """Put database ``copy`` in the place of ``name``; the old one becomes ``trash``."""
        ...

    def drop(self, name: str) -> None: ...

    def disconnect(self, name: str) -> None:
        """End every connection to ``name`` and wait until they are gone."""
        ...

    def write_marks(self, name: str) -> object:
        """Evidence of writes to ``name``: equal marks mean nothing was written."""
        ...

    def untouched(self, name: str, pristine: object) -> bool:
        """Whether ``name`` still has the marks ``pristine``."""
        ...


class Engine(Protocol):
    """One database engine through its official image's interface."""

    name: str
    """Its name in settings, labels and the cache key (``postgres``, ``mariadb``)."""
    title: str
    """Its name for people (``PostgreSQL``)."""
    port: int
    default_user: str
    client: Client

    def recognizes(self, image: ImageInfo) -> bool:
        """Whether ``image`` runs this engine (its environment, entrypoint and command)."""
        ...

    def check_image(self, image: ImageInfo, ref: str) -> None:
        """Refuse an image that cannot be used (an :class:`ImageError` naming what to do)."""
        ...

    def seeding(self, image: ImageInfo, *, user: str, dbname: str) -> Launch:
        """How the seeding container starts (its password goes in with
        :meth:`give_seed_password`, before the start)."""
        ...

    def give_seed_password(
        self, docker: Docker, container: ContainerInfo, password: str
    ) -> None: ...

    def wait_ready(
        self, docker: Docker, container: ContainerInfo, database: Database, timeout: float
    ) -> None:
        """Wait until the final server answers through the published port."""
        ...

    def apply_sql(
        self, docker: Docker, container: ContainerInfo, sql: SqlFile, index: int, database: Database
    ) -> None:
        """Run one SQL file with the engine's client in the container; errors name file and
        line."""
        ...

    def seal(self, docker: Docker, container: ContainerInfo, database: Database) -> Sealed:
        """Before the commit: take every password away, measure, shut the server down
        cleanly and drop what the snapshot does not need."""
        ...

    def snapshot_config(self, image: ImageInfo) -> dict[str, Any]:
        """The image config a snapshot of ``image`` commits (entrypoint, command, env)."""
        ...

    def launch(self, snapshot: ImageInfo, *, durable: bool, ram_bytes: int) -> Launch:
        """How containers of the snapshot start: durability off unless ``durable``, the
        data folder in a tmpfs of ``ram_bytes`` (0: on disk)."""
        ...

    def set_password(
        self, docker: Docker, container: ContainerInfo, database: Database, timeout: float
    ) -> None:
        """Give ``database.user`` the password ``database.password`` in a container just
        started, through the server's socket, before its port is used."""
        ...

    def admin(self, server: Database, settings: Settings) -> Admin | None:
        """An :class:`Admin` of ``server``, or ``None`` when this engine copies no database
        inside one server (then every pristine database is a container)."""
        ...

    @property
    def copies(self) -> bool:
        """Whether :meth:`admin` gives an :class:`Admin`."""
        ...


@functools.cache
def _engines() -> tuple[Engine, ...]:
    from .mariadb import MariaDBEngine
    from .postgres import PostgresEngine

    return (PostgresEngine(), MariaDBEngine())


CHOICES = ("auto", "postgres", "mariadb")
"""What ``dbsnap_engine`` takes."""


def named(name: str) -> Engine:
    """The engine called ``name`` (as a snapshot's label or ``dbsnap_engine`` says)."""
    for engine in _engines():
        if engine.name == name:
            return engine
    raise ImageError(
        f"no engine {name!r}: dbsnap_engine takes {', '.join(CHOICES)}; a snapshot of another "
        "engine needs a newer pytest-dbsnap"
    )


def client(name: str) -> Client:
    """How people reach a database of the engine ``name``."""
    return named(name).client


def guess(setting: str, image_ref: str) -> Engine:
    """The engine without asking Docker: the setting, else by the image's name.

    Only for placeholders (``--collect-only`` with ``dbsnap_env``), never for a
    database: :func:`choose` decides that from the image itself.
    """
    if setting != "auto":
        return named(setting)
    repository = image_ref.rpartition("/")[2].partition(":")[0].partition("@")[0]
    for engine in _engines():
        if engine.name in repository:
            return engine
    return _engines()[0]


# Images that run MySQL: recognized, to say so, not supported.
_MYSQL_ENV = frozenset({"MYSQL_MAJOR", "MYSQL_VERSION", "MYSQL_SHELL_VERSION"})


def choose(image: ImageInfo, ref: str, setting: str) -> Engine:
    """The engine of ``image`` (``dbsnap_image``), or the one ``dbsnap_engine`` names.

    A guess that the image contradicts is an :class:`ImageError` naming the setting.
    """
    shown = " ".join([*image.entrypoint, *image.command]) or "no command"
    if setting != "auto":
        engine = named(setting)
        if not engine.recognizes(image):
            raise ImageError(
                f"dbsnap_engine={setting} but image {ref!r} does not look like {engine.title} "
                f"(command: {shown}); set dbsnap_engine to the engine the image runs, or "
                "dbsnap_image to an image of that engine"
            )
    else:
        found = [e for e in _engines() if e.recognizes(image)]
        if len(found) != 1:
            if not found and (_MYSQL_ENV & image.env_names or "mysqld" in image.command):
                raise ImageError(
                    f"image {ref!r} runs MySQL, which pytest-dbsnap does not support yet "
                    "(MariaDB and PostgreSQL it does); use a mariadb image"
                )
            which = "does not look like any engine" if not found else "looks like several"
            raise ImageError(
                f"image {ref!r} {which} that pytest-dbsnap knows (command: {shown}); set "
                f"dbsnap_engine to {' or '.join(CHOICES[1:])}, or dbsnap_image to such an image"
            )
        engine = found[0]
    engine.check_image(image, ref)
    return engine
