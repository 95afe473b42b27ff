"""The ``dbsnap`` command: build, list, prune and move snapshots outside a test run.

It reads the configuration the way a test run does, by running pytest itself
with collection replaced by the command: the same ini file, environment
variables, flags, ``conftest.py`` seed hooks and plugins, hence the same cache
key as ``pytest``.

Exit status: 0 done, 1 failed, 2 bad usage or configuration, 3 no such
snapshot (not on this Docker host, or not in the registry), 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import pytest

from .docker import LABEL_PREFIX
from .doctor import examine
from .errors import ConfigError, DbsnapError, ImageError, SnapshotNotFound
from .fixtures import STATE
from .progress import Meter, size_text
from .reaper import reap, release_kept
from .snapshot import identify, local_tag, share_snapshot
from .transfer import (
    load_snapshots,
    pull_snapshot,
    push_snapshot,
    remote_ref,
    save_snapshot,
    snapshots_of,
)

if TYPE_CHECKING:
    from .docker import ImageInfo
    from .session import Session

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_INTERRUPTED = 130

KEY = f"{LABEL_PREFIX}key"


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``dbsnap``; returns the exit status."""
    given = list(sys.argv[1:] if argv is None else argv)
    pytest_args: list[str] = []
    if "--" in given:
        split = given.index("--")
        given, pytest_args = given[:split], given[split + 1 :]
    try:
        args = _parser().parse_args(given)
    except SystemExit as exc:  # argparse has said why on stderr
        if exc.code and "--json" in given:
            print(json.dumps({"error": "bad usage (see stderr)", "exit_status": EXIT_USAGE}))
        raise
    out = Output(json_mode=args.json)
    if args.directory:
        try:
            os.chdir(args.directory)
        except OSError as exc:
            return out.fail(EXIT_USAGE, f"cannot change to {args.directory}: {exc.strerror}")
    command = Command(args, out)
    # No terminal reporter (our output is our own), no test run, no xdist workers.
    quiet = ["-p", "no:terminal", "-p", "no:cacheprovider"]
    last = ["-n", "0"] if importlib.util.find_spec("xdist") is not None else []
    status = pytest.main([*quiet, *pytest_args, *last], plugins=[command])
    if command.status is not None:
        return command.status
    if status == pytest.ExitCode.INTERRUPTED:
        code = EXIT_INTERRUPTED
    else:
        # pytest has printed why (a usage error: a bad setting, an unknown flag).
        code = EXIT_USAGE if status == pytest.ExitCode.USAGE_ERROR else EXIT_FAILED
    if out.json_mode:
        print(json.dumps({"error": "see stderr", "exit_status": code}))
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dbsnap",
        usage="dbsnap [-C DIR] [--json] COMMAND ... [-- PYTEST_ARGS]",
        description="Build, list, prune and share pytest-dbsnap snapshots. Reads the same "
        "configuration as pytest (ini file, DBSNAP_* variables); arguments after -- go to pytest.",
        epilog="exit status: 0 done, 1 failed, 2 bad usage or configuration, "
        "3 no such snapshot, 130 interrupted",
    )
    parser.add_argument("-C", dest="directory", metavar="DIR", help="run as if started in DIR")
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    # --json is accepted after the command too; SUPPRESS keeps a later default from hiding it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print one JSON document on stdout",
    )
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", prog="dbsnap"
    )

    build = commands.add_parser(
        "build", parents=[common], help="seed and commit the snapshot; print its tag"
    )
    build.add_argument("--rebuild", action="store_true", help="build even when one exists")
    build.add_argument("--push", action="store_true", help="push it to dbsnap_registry")

    ls = commands.add_parser(
        "ls", parents=[common], help="list snapshots; * marks the current configuration's"
    )
    ls.add_argument("--all", action="store_true", help="every project's, not only this one's")

    prune = commands.add_parser(
        "prune", parents=[common], help="remove old snapshots and what dead sessions left behind"
    )
    prune.add_argument(
        "--keep", type=int, default=0, metavar="N", help="also keep the N newest other snapshots"
    )
    prune.add_argument(
        "--older-than",
        type=_age,
        metavar="AGE",
        help="remove only snapshots older than AGE (30m, 12h, 7d)",
    )
    prune.add_argument(
        "--kept", action="store_true", help="also remove containers left by dbsnap_keep"
    )
    prune.add_argument("--dry-run", action="store_true", help="only say what would go")

    push = commands.add_parser("push", parents=[common], help="push a snapshot to dbsnap_registry")
    push.add_argument("ref", nargs="?", help="tag or key prefix (default: the current one)")

    pull = commands.add_parser(
        "pull", parents=[common], help="pull the current snapshot from dbsnap_registry"
    )
    pull.add_argument("key", nargs="?", help="key (12 hex or more) instead of the current one")

    save = commands.add_parser(
        "save", parents=[common], help="write a snapshot to a tar file (.tar.gz: gzipped)"
    )
    save.add_argument("file", type=Path)
    save.add_argument("ref", nargs="?", help="tag or key prefix (default: the current one)")

    commands.add_parser(
        "doctor",
        parents=[common],
        help="check the daemon, storage, base image, registry, disk and leftovers; each "
        "problem with its fix",
    )

    load = commands.add_parser(
        "load", parents=[common], help="load snapshots from a file written by save"
    )
    load.add_argument("file", type=Path)
    return parser


def _age(text: str) -> float:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not an age: write 30m, 12h or 7d")
    unit = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[match[2]]
    return float(match[1]) * unit


class Output:
    """Results on stdout (text or one JSON document); notes and progress on stderr."""

    def __init__(
        self, json_mode: bool, stdout: TextIO | None = None, stderr: TextIO | None = None
    ) -> None:
        self.json_mode = json_mode
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.meter = Meter(
            lambda text: print(f"  {text}", file=self.stderr, flush=True),
            self.stderr if self.stderr.isatty() else None,
        )

    def note(self, line: str) -> None:
        self.meter.finish()
        print(f"dbsnap: {line}", file=self.stderr, flush=True)

    def result(self, text: str, data: dict[str, Any]) -> None:
        self.meter.finish()
        if self.json_mode:
            print(json.dumps(data, indent=2, sort_keys=True), file=self.stdout)
        elif text:
            print(text, file=self.stdout)

    def fail(self, status: int, message: str) -> int:
        self.meter.finish()
        print(f"dbsnap: error: {message}", file=self.stderr, flush=True)
        if self.json_mode:
            print(json.dumps({"error": message, "exit_status": status}), file=self.stdout)
        return status


class Command:
    """A pytest plugin that runs one ``dbsnap`` command in place of collecting tests."""

    def __init__(self, args: argparse.Namespace, out: Output) -> None:
        self.args = args
        self.out = out
        self.status: int | None = None

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection(self, session: pytest.Session) -> bool:
        state = session.config.stash.get(STATE, None)
        if state is None:
            self.status = self.out.fail(
                EXIT_USAGE, "pytest-dbsnap is disabled here (dbsnap_disable); unset it first"
            )
            return True
        dbsnap = state.session()
        dbsnap.log = self.out.note
        dbsnap.progress = self.out.meter
        handler = HANDLERS[self.args.command]
        try:
            # A seed hook's print() must not spoil the result on stdout.
            with contextlib.redirect_stdout(sys.stderr):
                status = handler(dbsnap, self.args, self.out)
            self.status = EXIT_OK if status is None else status
        except SnapshotNotFound as exc:
            self.status = self.out.fail(EXIT_NOT_FOUND, str(exc))
        except ConfigError as exc:
            self.status = self.out.fail(EXIT_USAGE, str(exc))
        except DbsnapError as exc:
            self.status = self.out.fail(EXIT_FAILED, str(exc))
        except Exception as exc:  # a bug, or an error docker-py let through
            self.status = self.out.fail(EXIT_FAILED, f"{type(exc).__name__}: {exc}")
        return True


# Commands ---------------------------------------------------------------------


def build(session: Session, args: argparse.Namespace, out: Output) -> None:
    registry = _registry(session) if args.push or session.settings.push else ""
    # The build stage builds: dbsnap_on_pull_failure=fail is for test shards.
    settings = session.settings.replace(
        rebuild=session.settings.rebuild or args.rebuild, on_pull_failure="build"
    )
    docker = session.docker()
    if registry and not settings.rebuild:
        # A pipeline's first stage: when the registry has the snapshot already,
        # neither build nor pull it here.
        target = identify(docker, settings, session.plan())
        ref = remote_ref(registry, target.key)
        if not snapshots_of(docker, target.key):
            there = docker.in_registry(ref)  # None: this daemon cannot ask (Podman)
            if there:
                out.note(f"{ref} is in the registry already; nothing built, pulled or pushed")
                data = {"tag": target.tag, "key": target.key, "built": False, "in_registry": ref}
                out.result(target.tag, data)
                return
            if there is False:
                settings = settings.replace(registry="")  # not there: no use pulling
    session.settings = settings
    snapshot = session.ensure_snapshot()
    pushed = ""
    if registry:
        pushed = share_snapshot(docker, snapshot, registry, log=out.note, progress=out.meter)
    if snapshot.built:
        t = snapshot.timings
        out.note(
            f"built {snapshot.tag} in {sum(t.get(k, 0) for k in ('start', 'seed', 'commit')):.1f}s"
        )
    elif snapshot.pulled_from:
        out.note(f"pulled {snapshot.pulled_from}; nothing seeded")
    else:
        out.note(f"{snapshot.tag} exists; nothing seeded")
    out.result(
        snapshot.tag,
        {
            "tag": snapshot.tag,
            "key": snapshot.key,
            "image_id": snapshot.image_id,
            "built": snapshot.built,
            "pulled_from": snapshot.pulled_from or None,
            "pushed_to": pushed or None,
            "timings": snapshot.timings,
        },
    )


def ls(session: Session, args: argparse.Namespace, out: Output) -> None:
    docker = session.docker()
    try:
        current = identify(docker, session.settings, session.plan(), pull=False).key
    except ImageError as exc:
        current = ""
        out.note(f"{exc}; no snapshot is marked current")
    rows = [row.as_dict(current) for row in _snapshots(session, every_project=args.all)]
    lines = [f"  {'TAG':<40} {'KEY':<12} {'LAYER':>9} {'SIZE':>9} {'AGE':>5}  INPUTS"]
    for row in rows:
        mark = "*" if row["current"] else " "
        layer = size_text(row["layer_bytes"]) if row["layer_bytes"] is not None else "?"
        lines.append(
            f"{mark} {row['tag']:<40} {row['key'][:12]:<12} {layer:>9} "
            f"{size_text(row['size_bytes']):>9} {_duration(row['age_seconds']):>5}  {row['inputs']}"
        )
    out.result("\n".join(lines), {"current_key": current or None, "snapshots": rows})


def prune(session: Session, args: argparse.Namespace, out: Output) -> None:
    docker = session.docker()
    settings = session.settings
    # Never pulls: a prune that cannot tell the current snapshot removes nothing.
    current = identify(docker, settings, session.plan(), pull=False).key
    others = [s for s in _snapshots(session, every_project=False) if s.key != current]
    removed: list[str] = []
    in_use: list[str] = []
    for rank, snap in enumerate(others):
        young = args.older_than is not None and snap.age < args.older_than
        if rank < args.keep or young:
            continue
        ours = [t for t in snap.image.tags if t.startswith(local_tag(settings.project, ""))]
        if args.dry_run or docker.remove_unused_image(snap.image, ours):
            removed.append(snap.tag)
        else:
            in_use.append(snap.tag)
    leaked = reap(docker, settings.project, dry_run=args.dry_run)
    kept = release_kept(docker, settings.project, dry_run=args.dry_run) if args.kept else []
    verb = "would remove" if args.dry_run else "removed"
    lines = [f"{verb} snapshot {tag}" for tag in removed]
    lines += [f"kept snapshot {tag}: a container uses it" for tag in in_use]
    lines += [f"{verb} container {name} of a dead session" for name in leaked]
    lines += [f"{verb} container {name} left by dbsnap_keep" for name in kept]
    lines.append(
        f"{verb} {len(removed)} snapshot(s), {len(leaked) + len(kept)} container(s); "
        f"kept the current snapshot ({current[:12]}) and {len(others) - len(removed)} other(s)"
    )
    out.result(
        "\n".join(lines),
        {
            "dry_run": args.dry_run,
            "current_key": current,
            "removed_snapshots": removed,
            "in_use_snapshots": in_use,
            "removed_containers": leaked + kept,
        },
    )


def push(session: Session, args: argparse.Namespace, out: Output) -> None:
    registry = _registry(session)
    snap = _resolve(session, args.ref)
    out.note(f"pushing {snap.tag} to {registry}")
    ref = push_snapshot(session.docker(), snap.image, registry, snap.key, out.meter)
    out.note(f"pushed {ref}")
    out.result(ref, {"tag": snap.tag, "key": snap.key, "pushed_to": ref})


def pull(session: Session, args: argparse.Namespace, out: Output) -> None:
    registry = _registry(session)
    docker = session.docker()
    if args.key:
        key = args.key.lower()
        if not re.fullmatch(r"[0-9a-f]{12,64}", key):
            raise ConfigError(f"{args.key!r} is not a key: give 12 to 64 hex digits")
    else:
        key = identify(docker, session.settings, session.plan()).key
    tag = local_tag(session.settings.project, key)
    out.note(f"pulling {registry}:{key[:12]}")
    started = time.monotonic()
    image = pull_snapshot(docker, registry, key, tag, out.meter)
    out.note(f"pulled {tag} in {time.monotonic() - started:.1f}s")
    out.result(tag, {"tag": tag, "key": image.labels.get(KEY, key), "image_id": image.id})


def save(session: Session, args: argparse.Namespace, out: Output) -> None:
    snap = _resolve(session, args.ref)
    path: Path = args.file
    out.note(f"saving {snap.tag} to {path}")
    save_snapshot(session.docker(), snap.image, snap.tag, path, out.meter)
    size = path.stat().st_size
    out.note(f"wrote {size_text(size)}")
    out.result(str(path), {"tag": snap.tag, "key": snap.key, "file": str(path), "bytes": size})


def load(session: Session, args: argparse.Namespace, out: Output) -> None:
    out.note(f"loading {args.file}")
    images = load_snapshots(session.docker(), args.file, out.meter)
    found = [
        {"tags": list(image.tags), "key": image.labels.get(KEY, ""), "image_id": image.id}
        for image in images
    ]
    out.result("\n".join(tag for image in images for tag in image.tags), {"snapshots": found})


def doctor(session: Session, args: argparse.Namespace, out: Output) -> int:
    checks = list(examine(session.settings, session.docker))
    broken = [c for c in checks if c.status == "fail"]
    out.result(
        "\n".join(check.line() for check in checks),
        {"checks": [vars(check) for check in checks], "ok": not broken},
    )
    return EXIT_FAILED if broken else EXIT_OK


HANDLERS: dict[str, Callable[[Session, argparse.Namespace, Output], int | None]] = {
    "doctor": doctor,
    "build": build,
    "ls": ls,
    "prune": prune,
    "push": push,
    "pull": pull,
    "save": save,
    "load": load,
}


# Helpers ----------------------------------------------------------------------


@dataclass(frozen=True)
class Listed:
    """A snapshot image on this Docker host, as ``ls`` and ``prune`` see it."""

    image: ImageInfo
    tag: str
    key: str
    age: float
    layer_bytes: int | None

    def as_dict(self, current: str) -> dict[str, Any]:
        labels = self.image.labels
        return {
            "tag": self.tag,
            "tags": list(self.image.tags),
            "key": self.key,
            "image_id": self.image.id,
            "project": labels.get(f"{LABEL_PREFIX}project", ""),
            "size_bytes": self.image.size,
            "layer_bytes": self.layer_bytes,
            "created": labels.get(f"{LABEL_PREFIX}created", ""),
            "age_seconds": round(self.age),
            "inputs": labels.get(f"{LABEL_PREFIX}inputs", ""),
            "base": labels.get(f"{LABEL_PREFIX}base", ""),
            "current": bool(current) and self.key == current,
        }


def _snapshots(session: Session, *, every_project: bool) -> list[Listed]:
    """This project's snapshots (or every one), newest first."""
    docker = session.docker()
    project = session.settings.project
    mine = local_tag(project, "")
    bases: dict[str, ImageInfo | None] = {}
    listed = []
    for image in docker.images({f"{LABEL_PREFIX}kind": "snapshot"}):
        labels = image.labels
        tags = list(image.tags)
        ours = [t for t in tags if t.startswith(mine)]
        if not tags and labels.get(f"{LABEL_PREFIX}project") == project:
            ours = ["<untagged>"]
        if not every_project and not ours:
            continue
        base_id = labels.get(f"{LABEL_PREFIX}base", "").rpartition("@")[2]
        if base_id not in bases:
            bases[base_id] = docker.find_image(base_id) if base_id else None
        base = bases[base_id]
        size = image.size
        listed.append(
            Listed(
                image=image,
                tag=(ours or tags or ["<untagged>"])[0],
                key=labels.get(KEY, ""),
                age=time.time() - _created(image),
                layer_bytes=size - base.size if base else None,
            )
        )
    return sorted(listed, key=lambda s: s.age)


def _created(image: ImageInfo) -> float:
    text = image.labels.get(f"{LABEL_PREFIX}created") or image.created
    try:
        return (
            datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")
            .replace(tzinfo=timezone.utc)
            .timestamp()
        )
    except ValueError:
        return time.time()


def _resolve(session: Session, ref: str | None) -> Listed:
    """The snapshot named by a tag or key prefix, or the current configuration's."""
    snapshots = _snapshots(session, every_project=True)
    if ref is None:
        docker = session.docker()
        key = identify(docker, session.settings, session.plan()).key
        found = [s for s in snapshots if s.key == key]
        if not found:
            raise SnapshotNotFound(
                f"no snapshot of the current configuration (key {key[:12]}) on this Docker host; "
                "run `dbsnap build` (or `dbsnap pull`) first"
            )
        return found[0]
    found = [
        s for s in snapshots if ref in s.image.tags or (len(ref) >= 4 and s.key.startswith(ref))
    ]
    if len({s.key for s in found}) > 1:
        raise ConfigError(f"{ref!r} names {len(found)} snapshots; give more of the key or the tag")
    if not found:
        raise SnapshotNotFound(
            f"no snapshot tagged {ref!r} or with a key starting so; see `dbsnap ls --all`"
        )
    return found[0]


def _registry(session: Session) -> str:
    if not session.settings.registry:
        raise ConfigError(
            "no registry configured: set dbsnap_registry (ini), DBSNAP_REGISTRY or "
            "--dbsnap-registry to a repository such as registry.example.com/team/app-db"
        )
    return session.settings.registry


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"
