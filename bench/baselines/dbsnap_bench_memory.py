"""A pytest plugin for the benchmark: the peak memory of this process's database container.

``-p dbsnap_bench_memory`` with ``BENCH_MEMORY=<file>``: one line per process
that started a container, its cgroup's high-water mark in bytes (the RAM
folder included), read just before the container is removed.
"""

from __future__ import annotations

import os

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    from pytest_dbsnap.fixtures import STATE

    state = session.config.stash.get(STATE, None)
    if state is None or not state.has_runtime:
        return
    instance = state.runtime().instance
    if instance is None:
        return
    stats = instance.container.stats(stream=False)
    memory = stats.get("memory_stats") or {}
    peak = memory.get("max_usage") or memory.get("usage") or 0
    with open(os.environ["BENCH_MEMORY"], "a") as out:
        out.write(f"{peak}\n")
