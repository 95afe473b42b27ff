"""``dbsnap doctor``: what a run needs, checked one by one, each failure with its fix.

Knows no pytest. Every check gives one :class:`Check`; a check that cannot run
because an earlier one failed says so instead of failing again.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

from .config import Settings
from .docker import Docker
from .errors import DbsnapError, SnapshotNotFound
from .reaper import reap
from .transfer import remote_ref

Status = Literal["ok", "warn", "fail", "skip"]
GIB = 1 << 30


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    text: str

    def line(self) -> str:
        return f"{self.status:<4}  {self.name}: {self.text}"


def examine(settings: Settings, connect: Callable[[], Docker]) -> Iterator[Check]:
    """Every check, in order."""
    try:
        docker = connect()
    except DbsnapError as exc:
        yield Check("daemon", "fail", str(exc))
        for name in ("storage", "base image", "registry", "free disk", "dead sessions"):
            yield Check(name, "skip", "the daemon does not answer")
        return
    info = docker.info()
    yield Check("daemon", "ok", f"{settings.daemon.describe()}, {docker.server}")
    yield _storage(str(info.get("Driver", "?")))
    yield _base_image(docker, settings)
    yield _registry(docker, settings)
    yield _free_disk(settings, str(info.get("DockerRootDir", "")))
    yield _dead_sessions(docker, settings)


def _storage(driver: str) -> Check:
    if driver in ("overlay2", "overlay", "btrfs", "zfs", "xfs"):
        return Check("storage", "ok", f"{driver}: snapshots are layers shared by every container")
    return Check(
        "storage",
        "warn",
        f"{driver}: every container copies the whole image (slow starts, much disk); "
        "configure the daemon's storage-driver as overlay2",
    )


def _base_image(docker: Docker, settings: Settings) -> Check:
    ref = settings.image
    image = docker.find_image(ref)
    if image is not None:
        return Check("base image", "ok", f"{ref} is here ({image.id[7:19]})")
    try:
        pullable, why = docker.in_registry(ref), "its registry does not have it"
    except DbsnapError as exc:
        pullable, why = False, str(exc)
    if pullable is None:
        return Check(
            "base image",
            "warn",
            f"{ref} is not here, and this daemon cannot tell whether it can be pulled "
            f"without pulling it; pull it now ({docker.server})",
        )
    if pullable:
        return Check("base image", "ok", f"{ref} is not here; it will be pulled at the first run")
    return Check(
        "base image",
        "fail",
        f"{ref} is not here and cannot be pulled ({why}); pull it, build it, or set "
        "dbsnap_image to an image you have (offline, pytest-dbsnap's repository builds "
        "PostgreSQL and MariaDB images from Debian's packages: images/*/build)",
    )


def _registry(docker: Docker, settings: Settings) -> Check:
    if not settings.registry:
        return Check("registry", "skip", "no dbsnap_registry configured")
    probe = remote_ref(settings.registry, "0" * 12)
    try:
        answered = docker.in_registry(probe)
    except SnapshotNotFound:
        answered = False
    except DbsnapError as exc:
        return Check("registry", "fail", str(exc))
    if answered is None:
        return Check(
            "registry", "skip", f"{docker.server} cannot ask a registry without pulling from it"
        )
    return Check("registry", "ok", f"{settings.registry} answers, and lets us in")


def _free_disk(settings: Settings, root: str) -> Check:
    if not settings.daemon.address.startswith("unix://") or not root:
        return Check("free disk", "skip", "the daemon's disk is not this machine's")
    try:
        free = shutil.disk_usage(root).free
    except OSError:
        return Check("free disk", "skip", f"cannot read {root} from here")
    shown = f"{free / GIB:.1f} GiB free in {root}"
    if free < GIB:
        return Check("free disk", "fail", f"{shown}; free some (docker system prune, dbsnap prune)")
    if free < 5 * GIB:
        return Check("free disk", "warn", f"{shown}; snapshots and their containers need room")
    return Check("free disk", "ok", shown)


def _dead_sessions(docker: Docker, settings: Settings) -> Check:
    left = reap(docker, settings.project, dry_run=True)
    if not left:
        return Check(
            "dead sessions", "ok", f"no container left by a dead session of {settings.project}"
        )
    return Check(
        "dead sessions",
        "warn",
        f"{len(left)} container(s) left by dead sessions of {settings.project} "
        f"({', '.join(left[:3])}{'...' if len(left) > 3 else ''}); the next session removes "
        "them, or run `dbsnap prune` now",
    )
