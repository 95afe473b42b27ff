"""A pytest plugin for the benchmark: the peak memory of this process's database container.

``-p dbsnap_bench_memory`` with ``BENCH_MEMORY=<file>``: one line per process
that started a container, its cgroup's high-water mark in bytes (the RAM
folder included), read when the session's fixtures end, before the container
is removed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session", autouse=True)
def _bench_container_memory(_dbsnap_server: Any) -> Iterator[None]:
    yield
    instance = _dbsnap_server.instance
    if instance is None:
        return
    api = _dbsnap_server.session.docker().api
    memory = api.stats(instance.container.id, stream=False).get("memory_stats") or {}
    peak = memory.get("max_usage") or memory.get("usage") or 0
    with open(os.environ["BENCH_MEMORY"], "a") as out:
        out.write(f"{peak}\n")
