"""A pytest plugin for the benchmark: how long each test's teardown takes, and each reset.

``-p dbsnap_bench_teardowns`` with ``BENCH_TEARDOWNS=<file>``: one JSON line per
test (``teardown`` seconds: the fixtures' clean-up, and with pytest-dbsnap's
``dbsnap_env`` the reset too) and per reset of pytest-dbsnap (``reset``).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Generator
from typing import Any

import pytest


def _record(**fields: Any) -> None:
    with open(os.environ["BENCH_TEARDOWNS"], "a") as out:
        out.write(json.dumps(fields) + "\n")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None]:
    started = time.perf_counter()
    try:
        return (yield)
    finally:
        _record(test=item.nodeid, teardown=time.perf_counter() - started)


def pytest_configure(config: pytest.Config) -> None:
    try:
        from pytest_dbsnap.server import Server
    except ImportError:
        return
    real = Server.renew_shared

    def timed(self: Server) -> bool:
        started = time.perf_counter()
        replaced = real(self)
        _record(reset=time.perf_counter() - started, replaced=replaced)
        return replaced

    Server.renew_shared = timed  # type: ignore[method-assign]
