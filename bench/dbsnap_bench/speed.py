"""How close pytest-dbsnap comes to the floor, each figure beside its floor or baseline.

- writes: 60 instant tests that each commit an UPDATE ÷ 60 that only read;
- clone: one pristine copy (``CREATE DATABASE ... TEMPLATE``) ÷ a raw copy of
  the database's files on the same storage, in RAM (what workers use by
  default) and on the container's overlay2 storage (the other floor);
- fixed: a warm ``-n 2`` session whose one test uses the database ÷ a ``-n 2``
  session of one plain test without the plugin;
- the example suite (``examples/shop``) at ``-n 2`` ÷ at ``-n 1``;
- memory: the peak RSS of a worker container (its cgroup's high-water mark,
  the RAM folder included) and of the pytest processes;
- the CPU floor of the example suite: the machine's busy CPU seconds during
  each run (``/proc/stat``: pytest, Docker and the servers alike) over its
  cores, the least wall time any schedule of that work could take.

All on the example's seed (151,012 rows, 25 MB), in one run, rounds interleaved.
"""

from __future__ import annotations

import math
import os
import re
import resource
import secrets
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import docker

from .processes import timed_run
from .ratios import Ratio
from .seeds import BENCH, SHOP
from .stats import Series

Log = Callable[[str], None]
PROJECT = "bench-speed"

WRITES = """
import pytest

@pytest.mark.parametrize("n", range(60))
def test_write(n, dbsnap_conn):
    dbsnap_conn.execute("UPDATE customers SET name = name || 'x' WHERE id = %s", [n + 1])
    dbsnap_conn.commit()
"""
READS = """
import pytest

@pytest.mark.parametrize("n", range(60))
def test_read(n, dbsnap_conn):
    dbsnap_conn.execute("SELECT name FROM customers WHERE id = %s", [n + 1]).fetchone()
"""
ONE_DB_TEST = "def test_db(dbsnap_conn):\n    dbsnap_conn.execute('SELECT 1')\n"
ONE_PLAIN_TEST = "def test_plain():\n    pass\n"


def _env(image: str, memory: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DBSNAP_", "PYTEST_"))}
    env.update({"DBSNAP_IMAGE": image, "DBSNAP_PROJECT": PROJECT, "BENCH_MEMORY": str(memory)})
    env["PYTHONPATH"] = str(BENCH / "baselines")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _pytest(where: Path, args: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one pytest process."""
    return timed_run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args], where, env
    )


def _busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (not idle, not waiting on I/O)."""
    try:
        fields = [int(f) for f in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except (OSError, ValueError):
        return math.nan
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def _pytest_busy(where: Path, args: list[str], env: dict[str, str], busy: Series) -> float:
    """:func:`_pytest`, the machine's busy CPU seconds meanwhile added to ``busy``."""
    before = _busy_seconds()
    wall = _pytest(where, args, env)
    busy.samples.append(_busy_seconds() - before)
    return wall


def _project(where: Path, tests: dict[str, str]) -> Path:
    shutil.copytree(SHOP.root / "db", where / "db")
    (where / "pytest.ini").write_text(
        "[pytest]\ndbsnap_seed = db/schema.sql db/seed/*.sql\ndbsnap_dbname = shop\n"
    )
    for name, text in tests.items():
        (where / name).write_text(text)
    return where


def run_speed(*, image: str, repeats: int, log: Log) -> tuple[list[Ratio], list[str]]:
    """The rows, and the memory figures as notes."""
    rows: list[Ratio] = []
    with tempfile.TemporaryDirectory(prefix="dbsnap-bench-speed-") as tmp:
        memory = Path(tmp) / "memory.txt"
        env = _env(image, memory)
        where = _project(
            Path(tmp) / "speed",
            {"test_writes.py": WRITES, "test_reads.py": READS, "test_one.py": ONE_DB_TEST},
        )
        plain = Path(tmp) / "plain"
        plain.mkdir()
        (plain / "test_plain.py").write_text(ONE_PLAIN_TEST)
        shop = Path(tmp) / "shop"
        shutil.copytree(SHOP.root, shop, ignore=shutil.ignore_patterns("__pycache__"))
        log("speed: warming the snapshots")
        _pytest(where, ["-p", "no:xdist", "test_one.py"], env)
        _pytest(shop, ["-p", "no:xdist", "tests/test_reads.py"], env)
        writes, reads, one_db, one_plain, shop1, shop2 = (Series() for _ in range(6))
        busy1, busy2 = Series(), Series()
        for round_ in range(repeats):
            for series, args, folder in (
                (writes, ["-p", "no:xdist", "test_writes.py"], where),
                (reads, ["-p", "no:xdist", "test_reads.py"], where),
                (one_db, ["-n", "2", "test_one.py"], where),
                (one_plain, ["-n", "2", "-p", "no:dbsnap"], plain),
            ):
                series.samples.append(_pytest(folder, args, env))
            for series, busy, workers in ((shop1, busy1, "1"), (shop2, busy2, "2")):
                args = ["-n", workers, "-p", "dbsnap_bench_memory"]
                series.samples.append(_pytest_busy(shop, args, env, busy))
            log(
                f"speed: round {round_ + 1}: writes {writes.samples[-1]:.2f} s, reads "
                f"{reads.samples[-1]:.2f} s, fixed {one_db.samples[-1]:.2f} s vs "
                f"{one_plain.samples[-1]:.2f} s, shop -n 1 {shop1.samples[-1]:.2f} s, "
                f"-n 2 {shop2.samples[-1]:.2f} s"
            )
        containers = [int(x) for x in memory.read_text().split()] if memory.exists() else []
    # The largest of every process this benchmark waited for (xdist workers too).
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    rows += [
        Ratio(
            "writes",
            "60 instant tests that each commit an UPDATE (shop seed, 1 process)",
            writes,
            "60 instant tests that only read",
            reads,
            target=1.5,
        ),
        Ratio(
            "fixed",
            "warm `-n 2` session whose one test uses the database",
            one_db,
            "`-n 2` session of one plain test, without the plugin",
            one_plain,
            target=2.0,
        ),
        Ratio(
            "shop_n2",
            "examples/shop (57 tests) at `-n 2`",
            shop2,
            "the same at `-n 1`",
            shop1,
            target=0.8,
        ),
    ]
    rows += clone_floors(image, repeats=max(5, repeats * 3), log=log)
    return rows, [*_memory(containers, rss), *_cpu_floor(shop1, busy1, shop2, busy2)]


def _cpu_floor(shop1: Series, busy1: Series, shop2: Series, busy2: Series) -> list[str]:
    """What the example's runs cost in CPU, and the least wall time that allows."""
    cores = os.cpu_count() or 1
    if not busy2.samples or math.isnan(busy2.median):
        return []
    floor = busy2.median / cores
    return [
        f"CPU of examples/shop (busy seconds of the whole machine, pytest, Docker and the "
        f"servers alike; median): {busy1.median:.1f} s at `-n 1` ({shop1.median:.2f} s wall), "
        f"{busy2.median:.1f} s at `-n 2` ({shop2.median:.2f} s wall). On {cores} cores no "
        f"schedule runs the `-n 2` work in less than {floor:.2f} s, "
        f"{floor / shop1.median:.2f} times the `-n 1` wall time."
    ]


def clone_floors(image: str, *, repeats: int, log: Log) -> list[Ratio]:
    """CREATE DATABASE beside a raw copy of the database's files, in RAM and on overlay2."""
    client = docker.from_env()
    snapshot = _speed_snapshot(client)
    results = []
    for storage, folder in (("RAM (tmpfs)", "/mnt/ram/pgdata"), ("overlay2", None)):
        clone, raw = _clone_and_copy(client, snapshot, folder, repeats)
        log(
            f"speed: {storage}: clone {statistics.median(clone) * 1000:.0f} ms, raw copy "
            f"{statistics.median(raw) * 1000:.0f} ms"
        )
        results.append(
            Ratio(
                f"clone_{'ram' if folder else 'overlay2'}",
                f"one pristine copy (CREATE DATABASE ... TEMPLATE, 25 MB), on {storage}",
                Series(clone),
                f"`cp -r` of the database's files on {storage}",
                Series(raw),
                target=2.0 if folder else None,
            )
        )
    return results


def _speed_snapshot(client: docker.DockerClient) -> str:
    # By tag: a snapshot of the same key built for another project is tagged for
    # this one too, and keeps its builder's project label.
    found = client.images.list(filters={"reference": f"dbsnap/{PROJECT}:*"})
    if not found:
        raise RuntimeError("the speed project's snapshot is missing (warm it first)")
    return str(found[0].id)


_CLONE_SCRIPT = r"""
set -eu
data=$1; n=$2
settings="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
pg_ctl -D "$data" -o "$settings -c listen_addresses=''" -w start >/dev/null
oid=$(psql -At -d postgres -c "SELECT oid FROM pg_database WHERE datname = 'shop'")
psql -q -d postgres -c "ALTER DATABASE shop WITH IS_TEMPLATE true" >/dev/null
i=0
while [ $i -lt $n ]; do
  i=$((i+1))
  s=$(date +%s%N); cp -r "$data/base/$oid" "$data/raw$i"; e=$(date +%s%N)
  echo "raw $(( (e-s)/1000 ))"
  rm -rf "$data/raw$i"
  s=$(date +%s%N)
  psql -q -d postgres -c "CREATE DATABASE c$i TEMPLATE shop STRATEGY FILE_COPY"
  e=$(date +%s%N)
  echo "clone $(( (e-s)/1000 ))"
  psql -q -d postgres -c "DROP DATABASE c$i"
done
pg_ctl -D "$data" -m fast -w stop >/dev/null
"""


def _clone_and_copy(
    client: docker.DockerClient, image: str, ram: str | None, repeats: int
) -> tuple[list[float], list[float]]:
    """(clone seconds, raw copy seconds), in a container of ``image``, data in ``ram`` or not.

    Each clone is timed through psql over the socket, as the raw copy is
    timed by date around cp: both include a process start (~2 ms).
    """
    volumes = client.images.get(image).attrs["Config"].get("Volumes") or {}
    tmpfs = dict.fromkeys(volumes, "")
    tmpfs["/mnt/ram"] = "size=1g,mode=1777"
    container = client.containers.run(
        image,
        entrypoint=["sleep", "infinity"],
        command=[],
        detach=True,
        tmpfs=tmpfs,
        labels={"dbsnap-bench": "1"},
        name=f"dbsnap-bench-clone-{secrets.token_hex(3)}",
    )
    try:
        data = "/var/lib/dbsnap/pgdata"
        if ram:
            container.exec_run(["cp", "-a", data, ram])
            data = ram
        result = container.exec_run(
            ["sh", "-c", _CLONE_SCRIPT, "clone", data, str(repeats)], user="postgres"
        )
        output = result.output.decode(errors="replace")
        if result.exit_code != 0:
            raise RuntimeError(f"the clone measurement failed: {output[-500:]}")
        clone = [int(m) / 1e6 for m in re.findall(r"^clone (\d+)$", output, re.M)]
        raw = [int(m) / 1e6 for m in re.findall(r"^raw (\d+)$", output, re.M)]
        return clone, raw
    finally:
        container.remove(force=True, v=True)


def _memory(containers: list[int], rss_kib: int) -> list[str]:
    """Peak memory of the examples/shop runs: worker containers and pytest processes."""
    notes = []
    if containers:
        notes.append(
            f"Peak memory of a worker container (cgroup high-water mark, its RAM folder "
            f"included), examples/shop: median {statistics.median(containers) / 2**20:.0f} MiB, "
            f"max {max(containers) / 2**20:.0f} MiB ({len(containers)} containers)"
        )
    if rss_kib:
        notes.append(
            f"Peak RSS of a pytest process (controller or worker) in these runs: "
            f"{rss_kib / 1024:.0f} MiB"
        )
    return notes
