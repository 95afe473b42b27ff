"""A pytest plugin for the benchmark: the peak memory of this process's database container.

``-p dbsnap_bench_memory`` with ``BENCH_MEMORY=<file>``: one line per process
that started a container, its cgroup's high-water mark in bytes (the RAM
folder included), read when the session's fixtures end, before the container
is removed: from its cgroup when this machine runs the daemon (the daemon's
own stats take a second).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session", autouse=True)
def _bench_container_memory(_dbsnap_server: Any) -> Iterator[None]:
    yield
    instance = _dbsnap_server.instance
    if instance is None:
        return
    peak = _cgroup_peak(instance.container.id)
    if peak is None:
        # The daemon's stats wait about a second for a second sample: only when
        # the cgroup is not readable here (a remote daemon).
        api = _dbsnap_server.session.docker().api
        memory = api.stats(instance.container.id, stream=False).get("memory_stats") or {}
        peak = memory.get("max_usage") or memory.get("usage") or 0
    with open(os.environ["BENCH_MEMORY"], "a") as out:
        out.write(f"{peak}\n")


def _cgroup_peak(container_id: str) -> int | None:
    """The container's memory high-water mark from its cgroup (v1 or v2), if readable."""
    for path in (
        f"/sys/fs/cgroup/memory/docker/{container_id}/memory.max_usage_in_bytes",
        f"/sys/fs/cgroup/system.slice/docker-{container_id}.scope/memory.peak",
        f"/sys/fs/cgroup/docker/{container_id}/memory.peak",
    ):
        try:
            return int(Path(path).read_text())
        except (OSError, ValueError):
            continue
    return None
