"""One frozen settings object, resolved once from flag > env var > ini.

Every setting ``x`` has three spellings: the ini key ``dbsnap_x``, the flag
``--dbsnap-x`` and the environment variable ``DBSNAP_X``. This module knows
nothing of pytest: the plugin hands it three lookups.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from . import app_env, engines
from .app_env import EnvVar
from .daemon import LOCAL, Daemon, locate
from .errors import ConfigError

Kind = Literal["str", "list", "lines", "bool", "seconds", "count", "mib", "choice"]

TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off", "")


@dataclass(frozen=True)
class Setting:
    """How one setting is spelled, parsed and documented."""

    name: str
    kind: Kind
    default: str
    help: str
    choices: tuple[str, ...] = ()

    @property
    def ini(self) -> str:
        return f"dbsnap_{self.name}"

    @property
    def flag(self) -> str:
        return "--dbsnap-" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return f"DBSNAP_{self.name.upper()}"


SETTINGS: tuple[Setting, ...] = (
    Setting("image", "str", "postgres:17", "base image the database is seeded in"),
    Setting(
        "engine",
        "choice",
        "auto",
        "the database engine of dbsnap_image: auto (told by the image), postgres or mariadb",
        engines.CHOICES,
    ),
    Setting(
        "seed",
        "list",
        "",
        "SQL files, globs or folders applied in order (folders sorted by name)",
    ),
    Setting(
        "seed_command",
        "str",
        "",
        "shell command run after the SQL files, with DATABASE_URL and PG* (MariaDB: MYSQL_*) set",
    ),
    Setting("cache_key", "str", "", "extra text that invalidates the snapshot when it changes"),
    Setting("watch", "list", "", "globs of further files whose contents invalidate the snapshot"),
    Setting("dbname", "str", "test", "name of the seeded database"),
    Setting(
        "user",
        "str",
        "",
        "database superuser the tests connect as (default: postgres for PostgreSQL, root for "
        "MariaDB)",
    ),
    Setting(
        "project",
        "str",
        "",
        "name in the snapshot tag dbsnap/<project>:<key>; default: the rootdir's folder name and "
        "a hash of its path",
    ),
    Setting(
        "host",
        "str",
        "",
        "address tests connect to; default: the host of a tcp:// or ssh:// DOCKER_HOST (or "
        "Docker context), "
        "else 127.0.0.1",
    ),
    Setting(
        "publish",
        "str",
        "",
        "address the Docker host publishes database ports on; default 127.0.0.1 "
        "(a remote daemon needs an address reachable from here, such as 0.0.0.0)",
    ),
    Setting(
        "registry",
        "str",
        "",
        "registry repository snapshots are pulled from by key before building, "
        "e.g. registry.example.com/team/app-db",
    ),
    Setting("push", "bool", "false", "push a snapshot this session built to dbsnap_registry"),
    Setting(
        "on_pull_failure",
        "choice",
        "build",
        "when dbsnap_registry cannot give the snapshot (missing, unreachable, refused): "
        "build it here, or fail",
        ("build", "fail"),
    ),
    Setting("rebuild", "bool", "false", "build a new snapshot even when one exists"),
    Setting("keep", "bool", "false", "leave containers running and print how to connect"),
    Setting("startup_timeout", "seconds", "60", "seconds a container may take to accept queries"),
    Setting("lock_timeout", "seconds", "900", "seconds to wait for another process's build"),
    Setting(
        "scope",
        "choice",
        "function",
        "how long a test's pristine database lives: function, module or worker",
        ("function", "module", "worker"),
    ),
    Setting(
        "mode",
        "choice",
        "clone",
        "how a pristine database is made: clone (a copy inside the worker's container) "
        "or container (a fresh container from the snapshot)",
        ("clone", "container"),
    ),
    Setting("pool_size", "count", "2", "pristine databases each worker keeps ready"),
    Setting(
        "clone_strategy",
        "choice",
        "file_copy",
        "CREATE DATABASE strategy for copies: file_copy or wal_log",
        ("file_copy", "wal_log"),
    ),
    Setting(
        "storage",
        "choice",
        "auto",
        "where a worker's databases live: ram (a tmpfs: copies and writes at memory speed), "
        "disk (the container's storage), or auto (ram when a quarter of the Docker host's "
        "memory holds every worker's)",
        ("auto", "ram", "disk"),
    ),
    Setting(
        "ram_size",
        "mib",
        "",
        "MiB of RAM a worker's data folder may fill (default: the cluster, the pool's copies "
        "and 128 MiB more)",
    ),
    Setting(
        "reuse",
        "bool",
        "true",
        "hand a copy whose test provably wrote nothing to the next test instead of dropping it",
    ),
    Setting(
        "durable",
        "bool",
        "false",
        "keep fsync, synchronous_commit and full_page_writes on in test containers",
    ),
    Setting(
        "env",
        "lines",
        "",
        "NAME=TEMPLATE lines: variables set before conftests are imported, pointing at the "
        "worker's database ({host} {port} {user} {password} {dbname} {url} {url:DRIVER})",
    ),
    Setting(
        "cache_env",
        "list",
        "",
        "names of environment variables whose values enter the cache key (the seed reads them)",
    ),
    Setting(
        "sqlalchemy_engines",
        "list",
        "",
        "module:attribute of SQLAlchemy engines to dispose of whenever the database behind "
        "dbsnap_env is reset",
    ),
    Setting(
        "django",
        "bool",
        "false",
        "Django with pytest-django: migrate once into the snapshot, point the default "
        "connection at each worker's database, a pristine copy for every transactional test",
    ),
    Setting("disable", "bool", "false", "turn the plugin off"),
)

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
_OBJECT_PATH = re.compile(rf"{_IDENTIFIER}(?:\.{_IDENTIFIER})*:{_IDENTIFIER}(?:\.{_IDENTIFIER})*")

# One path component of a Docker repository name, as the daemon accepts it.
_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_NOT_NAME = re.compile(r"[^a-z0-9._-]+")
_SEPARATORS = re.compile(r"[._-]{2,}")


def _project(given: str, rootdir: Path) -> str:
    """The project name in snapshot tags: ``given`` if Docker accepts it, else an error.

    The default is the rootdir's folder name made valid, then a short hash of
    its path: folders called ``backend`` or ``app`` are common, and two
    repositories sharing a daemon under one name would prune each other's
    snapshots and reap each other's containers.
    """
    if not given:
        name = _NOT_NAME.sub("-", rootdir.name.lower())
        name = _SEPARATORS.sub(
            lambda m: m[0] if m[0] == "__" or "-" * len(m[0]) == m[0] else "-", name
        )
        name = name.strip("._-")[:60]
        where = hashlib.sha256(str(rootdir.resolve()).encode()).hexdigest()[:6]
        return f"{name}-{where}" if _COMPONENT.fullmatch(name) else f"project-{where}"
    given = given.strip().lower()
    if not _COMPONENT.fullmatch(given) or len(given) > 100:
        raise ConfigError(
            f"dbsnap_project={given!r} is not a name Docker accepts in an image tag: use "
            "lower-case letters and digits, separated by single '.', '_', '__' or dashes "
            "(e.g. shop-api)"
        )
    return given


@dataclass(frozen=True)
class Settings:
    """Every setting of pytest-dbsnap, resolved once per session."""

    image: str
    engine: str
    seed: tuple[str, ...]
    seed_command: str
    cache_key: str
    watch: tuple[str, ...]
    dbname: str
    user: str
    project: str
    host: str
    publish: str
    registry: str
    push: bool
    on_pull_failure: str
    rebuild: bool
    keep: bool
    startup_timeout: float
    lock_timeout: float
    scope: str
    mode: str
    pool_size: int
    storage: str
    ram_size: int
    clone_strategy: str
    reuse: bool
    durable: bool
    env: tuple[EnvVar, ...]
    cache_env: tuple[str, ...]
    sqlalchemy_engines: tuple[str, ...]
    django: bool
    disable: bool
    rootdir: Path
    daemon: Daemon = dataclasses.field(default_factory=lambda: Daemon(LOCAL))
    """The Docker daemon, as the Docker CLI finds it (``DOCKER_HOST``, its context)."""
    given: frozenset[str] = dataclasses.field(default=frozenset(), compare=False)
    """Names of the settings the user set (by flag, environment or ini)."""

    def replace(self, **changes: object) -> Settings:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def publish_address(self) -> str:
        """Where the daemon publishes ports: ``publish``, else ``host`` if the daemon is local."""
        if self.publish:
            return self.publish
        if remote_host(self.daemon.address):
            where = (
                f"the Docker context {self.daemon.context} ({self.daemon.address})"
                if self.daemon.context
                else f"DOCKER_HOST={self.daemon.address}"
            )
            raise ConfigError(
                f"{where} is another machine, where ports published "
                "on 127.0.0.1 cannot be reached from here; set DBSNAP_PUBLISH (ini "
                "dbsnap_publish) to an address of that machine, 0.0.0.0 for all, and mind "
                "that the databases are then reachable there"
            )
        return self.host  # a local daemon: where the tests connect


Lookup = Callable[[Setting], object]


def resolve(
    rootdir: Path,
    flag: Lookup,
    ini: Lookup,
    environ: Mapping[str, str],
) -> Settings:
    """Merge the three spellings of every setting into one :class:`Settings`.

    ``flag`` and ``ini`` return ``None`` when the user did not set the value.
    """
    values: dict[str, object] = {}
    given: set[str] = set()
    for setting in SETTINGS:
        raw = flag(setting)
        source = setting.flag
        if raw is None and setting.env in environ:
            raw, source = environ[setting.env], setting.env
        if raw is None:
            raw, source = ini(setting), setting.ini
        if raw is None:
            raw, source = setting.default, "default"
        else:
            given.add(setting.name)
        values[setting.name] = _parse(setting, raw, source)
    daemon = locate(environ)
    values["host"] = values["host"] or remote_host(daemon.address) or "127.0.0.1"
    values["registry"] = _registry(str(values["registry"]))
    if not values["registry"] and (values["push"] or values["on_pull_failure"] == "fail"):
        asked = "dbsnap_push" if values["push"] else "dbsnap_on_pull_failure=fail"
        raise ConfigError(
            f"{asked} needs a registry: set dbsnap_registry to a repository such as "
            "registry.example.com/team/app-db"
        )
    values["project"] = _project(str(values["project"]), rootdir)
    values["env"] = app_env.parse(values["env"])  # type: ignore[arg-type]
    for name in values["cache_env"]:  # type: ignore[attr-defined]
        if not _ENV_NAME.fullmatch(name):
            raise ConfigError(
                f"dbsnap_cache_env: {name!r} is not the name of an environment variable"
            )
    for path in values["sqlalchemy_engines"]:  # type: ignore[attr-defined]
        if not _OBJECT_PATH.fullmatch(path):
            raise ConfigError(
                f"dbsnap_sqlalchemy_engines: {path!r} is not module:attribute; write e.g. "
                "app.core.db:engine"
            )
    if not values["image"]:
        raise ConfigError(
            "dbsnap_image is empty: name a database image such as postgres:17 or mariadb:11.8 "
            "(ini dbsnap_image, flag --dbsnap-image or env DBSNAP_IMAGE)"
        )
    return Settings(
        rootdir=rootdir,
        daemon=daemon,
        given=frozenset(given),
        **values,  # type: ignore[arg-type]
    )


LOOPBACK = ("localhost", "127.0.0.1", "::1")


def remote_host(docker_host: str) -> str:
    """The host name of a ``tcp://`` or ``ssh://`` daemon address, unless it is this machine."""
    parts = urlsplit(docker_host)
    if parts.scheme not in ("tcp", "ssh", "http", "https"):
        return ""
    host = parts.hostname or ""
    return "" if host in LOOPBACK else host


_REPOSITORY = re.compile(r"[a-z0-9]+(?:[._-]+[a-z0-9]+)*(?:/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*")


def _registry(text: str) -> str:
    """Check that ``text`` names a repository (``host[:port]/path``) without a tag."""
    text = text.strip().rstrip("/")
    if not text:
        return ""
    if "@" in text:  # not echoed: it may be user:password@host
        raise ConfigError(
            "dbsnap_registry holds an '@': give a repository without credentials or digest, "
            "e.g. registry.example.com/team/app-db, and log in with `docker login`"
        )
    first, _, rest = text.partition("/")
    looks_like_host = "." in first or ":" in first or first == "localhost"
    path = rest if looks_like_host else text
    if not _REPOSITORY.fullmatch(path) or "@" in text:
        raise ConfigError(
            f"dbsnap_registry={text!r} is not a repository: write host[:port]/path in lower "
            "case without a tag, e.g. registry.example.com/team/app-db (the key becomes the tag)"
        )
    return text


def _parse(setting: Setting, raw: object, source: str) -> object:
    """``raw`` as ``setting`` wants it.

    Flags, environment variables and ini files give text (or a list of text);
    pytest 9's native ``[tool.pytest]`` table gives what TOML says: a bool, an
    int, a float, a string or a list.
    """
    if isinstance(raw, (list, tuple)) and not all(isinstance(item, str) for item in raw):
        raise ConfigError(f"{source}={raw!r} is not a list of strings: quote every entry")
    if setting.kind == "lines":
        if isinstance(raw, str):
            return tuple(raw.splitlines())
        if isinstance(raw, (list, tuple)):
            return tuple(raw)
        raise ConfigError(f"{source}={raw!r} is not text: write one NAME=TEMPLATE per line")
    if setting.kind == "list":
        if isinstance(raw, str):
            try:
                return tuple(shlex.split(raw))
            except ValueError as exc:
                raise ConfigError(
                    f"{source}: cannot split {raw!r} into paths ({exc}); quote paths with spaces"
                ) from None
        if isinstance(raw, (list, tuple)):
            return tuple(raw)
        raise ConfigError(f"{source}={raw!r} is not a list: write a string or a list of strings")
    if isinstance(raw, (list, tuple)):
        if setting.kind != "str":
            raise ConfigError(f"{source}={list(raw)!r} is a list: give one value")
        raw = " ".join(raw)
    if isinstance(raw, bool):
        if setting.kind != "bool":
            raise ConfigError(f"{source}={raw!r} is a boolean: {_wanted(setting)}")
        return raw
    if isinstance(raw, (int, float)):
        if setting.kind not in ("count", "seconds", "mib"):
            raise ConfigError(f"{source}={raw!r} is a number: {_wanted(setting)}")
        raw = repr(raw)
    text = str(raw).strip()
    if setting.kind == "bool":
        if text.lower() in TRUE:
            return True
        if text.lower() in FALSE:
            return False
        raise ConfigError(f"{source}={text!r} is not a boolean: {_wanted(setting)}")
    if setting.kind == "choice":
        if text not in setting.choices:
            raise ConfigError(f"{source}={text!r} is not valid: {_wanted(setting)}")
        return text
    if setting.kind == "count":
        if not text.isdigit() or int(text) < 1:
            raise ConfigError(f"{source}={text!r} is not a count: {_wanted(setting)}")
        return int(text)
    if setting.kind == "mib":
        if text in ("", "0"):
            return 0
        if not text.isdigit() or int(text) < 16:
            raise ConfigError(f"{source}={text!r} is not a size: {_wanted(setting)}")
        return int(text)
    if setting.kind == "seconds":
        try:
            seconds = float(text)
        except ValueError:
            seconds = -1.0
        if not seconds > 0:
            raise ConfigError(f"{source}={text!r} is not a number of seconds: {_wanted(setting)}")
        return seconds
    return text


def _wanted(setting: Setting) -> str:
    """What a valid value of ``setting`` looks like, for error messages."""
    if setting.kind == "bool":
        return f"use one of {', '.join(TRUE + FALSE[:-1])}"
    if setting.kind == "choice":
        return f"use one of {', '.join(setting.choices)}"
    if setting.kind == "count":
        return "use a whole number, 1 or more"
    if setting.kind == "seconds":
        return "use a positive number"
    if setting.kind == "mib":
        return "use a whole number of MiB, 16 or more (empty: computed)"
    return "use a string"
