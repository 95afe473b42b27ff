#!/usr/bin/env python3
"""Side by side: the speed rows of the working tree against a git revision's.

    python bench/ab.py REV [--rounds N] [--rows fixed,writes,shop]

For deciding whether a change to the plugin pays, on a noisy machine: each
round runs every row once with each tree, in alternating order, and the report
gives medians and minimums. The revision is checked out into a temporary git
worktree, put first on ``PYTHONPATH`` for its runs (the working tree is the one
installed). Rows, as in ``bench/run.py``'s speed section:

- ``fixed``: a warm ``-n 2`` session whose one test uses the database, beside a
  ``-n 2`` session of one plain test without the plugin (run once per round);
- ``writes``: 60 instant tests that each commit an UPDATE, and 60 that only
  read (one process);
- ``shop``: ``examples/shop`` at ``-n 1`` and ``-n 2``.

Differences under a tenth of a second need many rounds here: the same
revision's median of ``fixed`` was 2.11 s in one run of 12 rounds and 1.95 s in
the next, of 20. Both trees run with bytecode (``PYTHONDONTWRITEBYTECODE``
lifted): a worktree without it compiles the plugin in every process, and two
changes that looked 0.14 to 0.24 s quicker against such worktrees were no
quicker against a revision with its bytecode.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH / "baselines")]

from dbsnap_bench import speed  # noqa: E402
from dbsnap_bench.seeds import REPO, SHOP  # noqa: E402


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python bench/ab.py",
        description="The speed rows of the working tree against a git revision's, side by side.",
    )
    p.add_argument("rev", help="the git revision to compare the working tree with")
    p.add_argument("--rounds", type=int, default=10, help="rounds (default 10)")
    p.add_argument(
        "--rows", default="fixed,writes", help="of fixed, writes, shop (default: the first two)"
    )
    p.add_argument("--image", default="dbsnap-postgres:17", help="base PostgreSQL image")
    return p.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse(argv)
    rows = args.rows.split(",")
    with tempfile.TemporaryDirectory(prefix="dbsnap-ab-") as tmp:
        folder = Path(tmp)
        other = folder / "rev"
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "add", "--detach", str(other), args.rev],
            check=True,
            capture_output=True,
        )
        try:
            compare(folder, other, args.rev, rows, args.rounds, args.image)
        finally:
            subprocess.run(
                ["git", "-C", str(REPO), "worktree", "remove", "--force", str(other)], check=False
            )
    return 0


def compare(folder: Path, other: Path, rev: str, rows: list[str], rounds: int, image: str) -> None:
    env = speed._env(image, folder / "memory.txt")
    # Both trees with bytecode: a worktree without it would compile the plugin
    # in every process of every run, and lose by that alone.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    envs = {"working tree": env, rev: {**env, "PYTHONPATH": f"{other}:{env['PYTHONPATH']}"}}
    project = speed._project(
        folder / "speed",
        {"test_one.py": speed.ONE_DB_TEST, "test_writes.py": speed.WRITES,
         "test_reads.py": speed.READS},
    )  # fmt: skip
    plain = folder / "plain"
    plain.mkdir()
    (plain / "test_plain.py").write_text(speed.ONE_PLAIN_TEST)
    shop = folder / "shop"
    shutil.copytree(SHOP.root, shop, ignore=shutil.ignore_patterns("__pycache__"))
    runs: dict[str, tuple[Path, list[str]]] = {
        "fixed": (project, ["-n", "2", "test_one.py"]),
        "writes": (project, ["-p", "no:xdist", "test_writes.py"]),
        "reads": (project, ["-p", "no:xdist", "test_reads.py"]),
        "shop -n 1": (shop, ["-n", "1"]),
        "shop -n 2": (shop, ["-n", "2"]),
    }
    wanted = {*rows, *(["reads"] if "writes" in rows else [])}
    chosen = [name for name in runs if name.split()[0] in wanted]
    samples: dict[tuple[str, str], list[float]] = {}
    pytest = speed._pytest
    for name in envs:  # warm the snapshots and the bytecode
        pytest(project, ["-p", "no:xdist", "test_one.py"], envs[name])
        if "shop" in rows:
            pytest(shop, ["-p", "no:xdist", "tests/test_reads.py"], envs[name])
    order = list(envs)
    for round_ in range(rounds):
        for name in order if round_ % 2 == 0 else order[::-1]:
            for row in chosen:
                where, argv = runs[row]
                samples.setdefault((row, name), []).append(pytest(where, argv, envs[name]))
        if "fixed" in rows:
            samples.setdefault(("plain -n 2", ""), []).append(
                pytest(plain, ["-n", "2", "-p", "no:dbsnap"], env)
            )
        print(f"round {round_ + 1}/{rounds} done", file=sys.stderr, flush=True)
    print(f"{'row':14s} {'tree':>14s} {'median':>8s} {'min':>8s}")
    for (row, name), values in sorted(samples.items()):
        print(f"{row:14s} {name or '-':>14s} {statistics.median(values):8.3f} {min(values):8.3f}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
