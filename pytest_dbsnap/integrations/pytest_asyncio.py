"""pytest-asyncio's twins of the async fixtures: one per loop scope.

Registered as a plugin only when pytest-asyncio's is active; see
:mod:`pytest_dbsnap.async_fixtures` for why the fixtures have twins.
"""

from __future__ import annotations

from typing import Any

import pytest_asyncio

from ..async_fixtures import LOOP_SCOPES, TWINS, twin_name


def _twins() -> dict[str, Any]:
    made: dict[str, Any] = {}
    for public, make in TWINS.items():
        for scope in LOOP_SCOPES:
            name = twin_name(public, f"asyncio_{scope}")
            made[name] = pytest_asyncio.fixture(make(), loop_scope=scope, name=name)  # type: ignore[call-overload]
    return made


globals().update(_twins())
