"""What a machine pays to get a snapshot: seed it, pull it, load it, or find it.

    python bench/sharing.py --registry 127.0.0.1:5000 [--example examples/shop] [--rounds 3]

Runs the ``dbsnap`` command in the example's folder, side by side in each
round: ``build --rebuild`` (seeding), ``push``, ``pull`` after removing the
local snapshot (the base image stays, as on a CI machine that pulled it to
compute the key), ``save`` to .tar.gz, ``load`` after removing it again, and
``build`` when the snapshot is there (the command's own cost: pytest's
configuration and the key). Prints medians and their ratio to seeding.
The registry is on loopback here: a real one adds the network's time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docker

DBSNAP = str(Path(sys.executable).parent / "dbsnap")


def run(example: Path, *args: str, env: dict[str, str]) -> tuple[float, dict[str, object]]:
    started = time.monotonic()
    done = subprocess.run(
        [DBSNAP, "--json", *args], cwd=example, env=env, capture_output=True, text=True
    )
    seconds = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"dbsnap {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return seconds, json.loads(done.stdout)


def forget(client: docker.DockerClient, project: str) -> None:
    for image in client.images.list(filters={"label": "dbsnap.kind=snapshot"}):
        if any(tag.startswith(f"dbsnap/{project}:") for tag in image.tags):
            client.images.remove(image.id, force=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--registry", required=True, help="host:port of a registry")
    parser.add_argument("--example", type=Path, default=Path("examples/shop"))
    parser.add_argument("--image", default=os.environ.get("DBSNAP_IMAGE", "dbsnap-postgres:17"))
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    project = "bench-sharing"
    env = {
        **os.environ,
        "DBSNAP_IMAGE": args.image,
        "DBSNAP_PROJECT": project,
        "DBSNAP_REGISTRY": f"{args.registry}/dbsnap-bench/sharing",
    }
    client = docker.from_env()
    times: dict[str, list[float]] = {}
    sizes: list[int] = []
    with tempfile.TemporaryDirectory() as folder:
        archive = Path(folder) / "snapshot.tar.gz"
        for round_ in range(1, args.rounds + 1):
            steps = [
                ("seed (build --rebuild)", ("build", "--rebuild"), False),
                ("push", ("push",), False),
                ("pull", ("pull",), True),
                ("save .tar.gz", ("save", str(archive)), False),
                ("load .tar.gz", ("load", str(archive)), True),
                ("found (build, snapshot here)", ("build",), False),
            ]
            for name, command, fresh in steps:
                if fresh:
                    forget(client, project)
                seconds, data = run(args.example, *command, env=env)
                times.setdefault(name, []).append(seconds)
                if "bytes" in data:
                    sizes.append(int(data["bytes"]))  # type: ignore[call-overload]
            print(f"round {round_}: " + ", ".join(f"{k} {v[-1]:.1f}s" for k, v in times.items()))
    forget(client, project)
    seed = statistics.median(times["seed (build --rebuild)"])
    print(f"\n{args.example} on {args.image}, {args.rounds} rounds, medians:\n")
    print("| step | median | seeding / step |")
    print("| --- | --- | --- |")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"| {name} | {median:.2f} s | {seed / median:.1f}x |")
    if sizes:
        print(f"\n.tar.gz: {statistics.median(sizes) / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
