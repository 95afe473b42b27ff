"""What a seed is (SQL files, a shell command, Python hooks) and its cache key.

The cache key is a SHA-256 over everything that shaped the seeded state, so a
snapshot is reused exactly until one of its inputs changes.
"""

from __future__ import annotations

import glob
import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ConfigError

if TYPE_CHECKING:
    from .database import Database

# Bump when the snapshot's layout changes (data folder, labels, cleanup),
# so that snapshots made by an older plugin are not reused.
# 2: no password in the image; 3: the cluster's and the database's sizes in labels.
SNAPSHOT_FORMAT = "3"

SQL_SUFFIXES = (".sql",)
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class SqlFile:
    """A SQL file applied with the engine's client (psql, mariadb) in the seeding container.

    ``content`` is read once: the cache key hashes it and the seed applies it,
    so a file that changes meanwhile cannot give a snapshot another key's data.
    """

    path: Path
    display: str
    content: bytes = field(repr=False, compare=False)


@dataclass(frozen=True)
class ShellCommand:
    """A shell command run on this host against the seeding database."""

    command: str
    cwd: Path


@dataclass(frozen=True)
class PythonSeed:
    """A Python callable (a ``pytest_dbsnap_seed`` hook) given the seeding database."""

    name: str
    fingerprint: str
    run: Callable[[Database], None] = field(compare=False)


SeedStep = SqlFile | ShellCommand | PythonSeed


@dataclass(frozen=True)
class SeedPlan:
    """The ordered seed steps plus the further inputs of the cache key."""

    steps: tuple[SeedStep, ...] = ()
    watched: tuple[Path, ...] = ()
    extra: tuple[str, ...] = ()
    rootdir: Path = Path()

    def summary(self) -> str:
        """A short human line naming the inputs, for labels and `dbsnap ls`."""
        sql = [s.display for s in self.steps if isinstance(s, SqlFile)]
        parts = []
        if sql:
            shown = ", ".join(sql[:3]) + (f" (+{len(sql) - 3} more)" if len(sql) > 3 else "")
            parts.append(f"sql: {shown}")
        parts += [f"command: {s.command[:60]}" for s in self.steps if isinstance(s, ShellCommand)]
        parts += [f"hook: {s.name}" for s in self.steps if isinstance(s, PythonSeed)]
        if self.watched:
            parts.append(f"watch: {len(self.watched)} files")
        if self.extra:
            parts.append("cache_key")
        return "; ".join(parts) or "empty database"


def expand_seed(entries: Sequence[str], rootdir: Path) -> tuple[SqlFile, ...]:
    """Turn the ``seed`` setting into SQL files, in the order given.

    A folder contributes its ``*.sql`` files sorted by name; a glob its matches
    sorted by path. A missing path or an empty glob is a :class:`ConfigError`.
    """
    files: list[SqlFile] = []
    for entry in entries:
        for path in _expand(entry, rootdir, "dbsnap_seed", SQL_SUFFIXES):
            files.append(SqlFile(path, _display(path, rootdir), _read(path, "dbsnap_seed")))
    return tuple(files)


def expand_watch(entries: Sequence[str], rootdir: Path) -> tuple[Path, ...]:
    """Every file the ``watch`` globs name, sorted and without repeats."""
    found: set[Path] = set()
    for entry in entries:
        found.update(_expand(entry, rootdir, "dbsnap_watch", None))
    return tuple(sorted(found))


def _expand(
    entry: str, rootdir: Path, setting: str, suffixes: tuple[str, ...] | None
) -> list[Path]:
    pattern = Path(entry).expanduser()
    if not pattern.is_absolute():
        pattern = rootdir / pattern
    if _GLOB_CHARS & set(entry):
        matches = sorted(Path(p) for p in glob.glob(str(pattern), recursive=True))
        matches = [m for m in matches if m.is_file()]
        if not matches:
            raise ConfigError(
                f"{setting}: the glob {entry!r} matches no file under {rootdir}; "
                "fix the pattern or remove it"
            )
        return [m.resolve() for m in matches]
    if pattern.is_dir():
        inside = sorted(
            p
            for p in pattern.rglob("*")
            if p.is_file() and (suffixes is None or p.suffix in suffixes)
        )
        if not inside:
            wanted = " or ".join(suffixes) if suffixes else "any"
            raise ConfigError(
                f"{setting}: the folder {entry!r} holds no {wanted} file; add files or remove it"
            )
        return [p.resolve() for p in inside]
    if not pattern.is_file():
        raise ConfigError(
            f"{setting}: {entry!r} does not exist (looked in {pattern.parent}); "
            "fix the path, relative to the folder of your pytest config"
        )
    return [pattern.resolve()]


def _read(path: Path, setting: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"{setting}: cannot read {path}: {exc.strerror}; fix its permissions"
        ) from None


def _display(path: Path, rootdir: Path) -> str:
    try:
        return path.relative_to(rootdir.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def cache_key(
    plan: SeedPlan,
    *,
    engine: str,
    base_image_id: str,
    dbname: str,
    user: str,
) -> str:
    """SHA-256 (hex) over every input that shapes the seeded database."""
    digest = hashlib.sha256()

    def feed(label: str, data: bytes | str) -> None:
        raw = data.encode() if isinstance(data, str) else data
        digest.update(f"{label}:{len(raw)}:".encode())
        digest.update(raw)

    feed("format", SNAPSHOT_FORMAT)
    feed("engine", engine)
    feed("base", base_image_id)
    feed("dbname", dbname)
    feed("user", user)
    for step in plan.steps:
        if isinstance(step, SqlFile):
            feed("sql", step.display)
            feed("sql-content", step.content)
        elif isinstance(step, ShellCommand):
            feed("command", step.command)
        else:
            feed("hook", step.name)
            feed("hook-source", step.fingerprint)
    for path in plan.watched:
        feed("watch", _display(path, plan.rootdir))
        feed("watch-content", _read(path, "dbsnap_watch"))
    for text in plan.extra:
        feed("extra", text)
    return digest.hexdigest()


def flatten_extra(values: Iterable[object]) -> tuple[str, ...]:
    """Hook results (str, list of str, or None) as a flat tuple of strings."""
    out: list[str] = []
    for value in values:
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            out.extend(str(v) for v in value)
        else:
            out.append(str(value))
    return tuple(out)
