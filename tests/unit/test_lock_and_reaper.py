"""The build lock and the reaper, on a fake Docker daemon.

docker.py hands the layers above plain values, so a fake that keeps
containers and images in dicts is honest for what these two decide: who
builds, who waits, whose containers go. The real daemon's side is in
tests/docker (test_races.py, test_crashes.py).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from pytest_dbsnap.config import resolve
from pytest_dbsnap.docker import ContainerInfo, ImageInfo, NameTaken
from pytest_dbsnap.engines import named
from pytest_dbsnap.reaper import STARTING_GRACE, reap
from pytest_dbsnap.seed import SeedPlan
from pytest_dbsnap.snapshot import Target, _build_once

KEY = "ab" * 32
TAG = f"dbsnap/shop:{KEY[:12]}"


class FakeDocker:
    """Containers and images in dicts; ``images_after`` lookups before the snapshot shows."""

    def __init__(self, images_after: int = 0) -> None:
        self.containers_by_name: dict[str, ContainerInfo] = {}
        self.images_after = images_after
        self.lookups = 0
        self.removed: list[str] = []
        self.started: list[str] = []
        self.listing_hook: Any = None

    def add(self, name: str, labels: Mapping[str, str], status: str = "running") -> None:
        self.containers_by_name[name] = ContainerInfo(
            id=f"id-{name}", name=name, labels=dict(labels), status=status, created=time.time()
        )

    def create(self, *, name: str, labels: Mapping[str, str], **_: Any) -> ContainerInfo:
        if name in self.containers_by_name:
            raise NameTaken(name)
        self.add(name, labels, status="created")
        return self.containers_by_name[name]

    def start(self, container: ContainerInfo) -> None:
        self.started.append(container.name)
        raise AssertionError("nothing may be seeded: the snapshot is there")

    def get_container(self, name: str) -> ContainerInfo | None:
        return self.containers_by_name.get(name)

    def containers(self, labels: Mapping[str, str | None]) -> list[ContainerInfo]:
        found = [
            c
            for c in self.containers_by_name.values()
            if all(k in c.labels and (v is None or c.labels[k] == v) for k, v in labels.items())
        ]
        if self.listing_hook is not None:
            hook, self.listing_hook = self.listing_hook, None
            hook()
        return found

    def remove(self, container: ContainerInfo) -> None:
        self.remove_by_id(container.id)

    def remove_quietly(self, container: ContainerInfo) -> None:
        self.remove(container)

    def remove_by_id(self, container_id: str) -> None:
        for name, c in list(self.containers_by_name.items()):
            if c.id == container_id:
                del self.containers_by_name[name]
                self.removed.append(name)

    def find_image(self, ref: str) -> ImageInfo | None:
        self.lookups += 1
        if ref == TAG and self.lookups > self.images_after:
            return ImageInfo("sha256:snap", tags=(TAG,), labels={"dbsnap.key": KEY})
        return None

    def images(self, labels: Mapping[str, str | None]) -> list[ImageInfo]:
        return []


def target() -> Target:
    return Target(key=KEY, tag=TAG, base=ImageInfo("sha256:base"), engine=named("postgres"),
                  user="postgres")  # fmt: skip


def settings(tmp_path: Path) -> Any:
    values = {"project": "shop", "lock_timeout": "30"}
    return resolve(tmp_path, lambda s: values.get(s.name), lambda s: None, {})


def build_once(docker: FakeDocker, tmp_path: Path, session: str) -> tuple[Any, list[str]]:
    """The snapshot ``_build_once`` gives ``session``, and what it logged."""
    logged: list[str] = []
    snapshot = _build_once(
        docker,  # type: ignore[arg-type]
        settings(tmp_path),
        SeedPlan(),
        target(),
        session,
        logged.append,
    )
    return snapshot, logged


def lock_of(session: str) -> dict[str, str]:
    return {"dbsnap.kind": "seed", "dbsnap.project": "shop", "dbsnap.session": session}


def sentinel_of(session: str) -> dict[str, str]:
    return {"dbsnap.kind": "sentinel", "dbsnap.project": "shop", "dbsnap.session": session}


def test_a_waiter_takes_the_snapshot_its_live_holder_built(tmp_path: Path) -> None:
    docker = FakeDocker(images_after=3)
    docker.add(f"dbsnap-seed-{KEY[:12]}", lock_of("builder"))
    docker.add("sentinel-builder", sentinel_of("builder"))
    snapshot, logged = build_once(docker, tmp_path, "waiter")
    assert snapshot.image_id == "sha256:snap"
    assert not snapshot.built
    assert logged == [f"another process is building {TAG}; waiting for it"]
    assert docker.removed == []
    assert docker.started == []


def test_a_dead_holders_lock_is_taken_and_the_snapshot_looked_for_again(tmp_path: Path) -> None:
    """The holder tagged the snapshot and died before removing its container: the
    lock is taken over, and the snapshot is found under it; nothing is seeded."""
    docker = FakeDocker()  # (the look before the lock, in ensure_snapshot, missed it)
    docker.add(f"dbsnap-seed-{KEY[:12]}", lock_of("gone"))
    snapshot, logged = build_once(docker, tmp_path, "taker")
    assert snapshot.image_id == "sha256:snap"
    assert f"the process building {TAG} is gone; building it here" in logged
    assert docker.started == []
    assert docker.containers_by_name == {}  # our lock went too


def test_the_reaper_removes_dead_sessions_and_spares_live_ones() -> None:
    docker = FakeDocker()
    docker.add("sentinel-a", sentinel_of("alive"))
    docker.add("worker-a", {**lock_of("alive"), "dbsnap.kind": "worker"})
    docker.add("worker-b", {**lock_of("dead"), "dbsnap.kind": "worker"})
    docker.add("kept-c", {**lock_of("kept"), "dbsnap.kind": "kept"})
    docker.add("worker-c", {**lock_of("kept"), "dbsnap.kind": "worker"})
    docker.add("other", {**lock_of("dead"), "dbsnap.project": "another"})
    assert reap(docker, "shop") == ["worker-b"]  # type: ignore[arg-type]
    assert sorted(docker.containers_by_name) == [
        "kept-c", "other", "sentinel-a", "worker-a", "worker-c"
    ]  # fmt: skip


def test_the_reaper_spares_a_session_that_starts_between_its_two_lists() -> None:
    docker = FakeDocker()
    # Right after the reaper lists containers, a session starts its sentinel and
    # its first container: the container list did not see them, the sentinel list does.
    docker.listing_hook = lambda: (
        docker.add("sentinel-new", sentinel_of("new")),
        docker.add("worker-new", {**lock_of("new"), "dbsnap.kind": "worker"}),
    )
    assert reap(docker, "shop") == []  # type: ignore[arg-type]
    assert "worker-new" in docker.containers_by_name


@pytest.mark.parametrize("status", ["exited", "dead"])
def test_a_stopped_sentinel_is_a_dead_session(status: str) -> None:
    docker = FakeDocker()
    docker.add("sentinel-x", sentinel_of("x"), status=status)
    docker.add("worker-x", {**lock_of("x"), "dbsnap.kind": "worker"})
    assert sorted(reap(docker, "shop")) == ["sentinel-x", "worker-x"]  # type: ignore[arg-type]


def bound_worker_of(session: str) -> dict[str, str]:
    return {**lock_of(session), "dbsnap.kind": "worker", "dbsnap.bound": "stdin"}


@pytest.mark.parametrize("status", ["running", "created"])
def test_a_bound_container_proves_its_session_alive_without_a_sentinel(status: str) -> None:
    """A warm session starts no sentinel: its database containers, bound to their
    processes, speak for it (one just created, not yet started, too)."""
    docker = FakeDocker()
    docker.add("gw0", bound_worker_of("warm"), status=status)
    docker.add("gw1-pool", {**lock_of("warm"), "dbsnap.kind": "worker"}, status="created")
    assert reap(docker, "shop") == []  # type: ignore[arg-type]
    assert sorted(docker.containers_by_name) == ["gw0", "gw1-pool"]


@pytest.mark.parametrize("status", ["exited", "dead"])
def test_a_bound_container_whose_process_died_is_reaped(status: str) -> None:
    """Its input ended with its process, and the container with it."""
    docker = FakeDocker()
    docker.add("gw0", bound_worker_of("gone"), status=status)
    docker.add("gw1", bound_worker_of("gone"), status=status)
    assert sorted(reap(docker, "shop")) == ["gw0", "gw1"]  # type: ignore[arg-type]


def test_a_bound_container_created_long_ago_and_never_started_is_reaped() -> None:
    """A process killed between create and start leaves a created container: alive
    for the grace of a start, dead after it."""
    docker = FakeDocker()
    docker.add("gw0", bound_worker_of("stuck"), status="created")
    stuck = docker.containers_by_name["gw0"]
    docker.containers_by_name["gw0"] = ContainerInfo(
        id=stuck.id, name=stuck.name, labels=stuck.labels, status="created",
        created=time.time() - STARTING_GRACE - 1,
    )  # fmt: skip
    assert reap(docker, "shop") == ["gw0"]  # type: ignore[arg-type]
