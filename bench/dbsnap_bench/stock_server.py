"""A plain PostgreSQL container for the stock baselines (what a project runs without us).

It has pytest-dbsnap's durability settings (``fsync``, ``synchronous_commit``,
``full_page_writes`` off), so that the comparison is of mechanisms, not of disks.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass

import docker
from docker.models.containers import Container


@dataclass(frozen=True)
class StockServer:
    container: Container
    port: int
    password: str

    def psql(self, statement: str) -> None:
        result = self.container.exec_run(
            ["psql", "-U", "postgres", "-c", statement], user="postgres"
        )
        if result.exit_code != 0:
            raise RuntimeError(f"{statement}: {result.output.decode(errors='replace')}")


@contextlib.contextmanager
def stock_server(image: str) -> Iterator[StockServer]:
    client = docker.from_env()
    password = secrets.token_urlsafe(12)
    volumes = client.images.get(image).attrs["Config"].get("Volumes") or {}
    container = client.containers.run(
        image,
        detach=True,
        environment={"POSTGRES_PASSWORD": password},
        command=["postgres", "-c", "fsync=off", "-c", "synchronous_commit=off",
                 "-c", "full_page_writes=off"],
        ports={"5432/tcp": ("127.0.0.1", None)},
        tmpfs=dict.fromkeys(volumes, ""),
        labels={"dbsnap-bench": "1"},
    )  # fmt: skip
    try:
        yield StockServer(container, _published(container), password)
    finally:
        container.remove(force=True, v=True)
        client.close()


def _published(container: Container) -> int:
    for _ in range(300):
        container.reload()
        mapping = container.attrs["NetworkSettings"]["Ports"].get("5432/tcp")
        if mapping and container.exec_run(["pg_isready", "-U", "postgres"]).exit_code == 0:
            return int(mapping[0]["HostPort"])
        time.sleep(0.1)
    raise RuntimeError("the stock PostgreSQL server did not start")
