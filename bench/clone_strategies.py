"""Compare CREATE DATABASE strategies inside a container of a snapshot.

    python bench/clone_strategies.py dbsnap/bench-shop:2a9ca011e0a2 shop [--clones 10]

Starts the snapshot twice (durability off, then on), clones the seeded database
with WAL_LOG and FILE_COPY, and prints the median and worst time of each, and
their ratio. This is how dbsnap_clone_strategy's default was chosen.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time

import psycopg


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("snapshot")
    parser.add_argument("template")
    parser.add_argument("--clones", type=int, default=10)
    args = parser.parse_args()
    for durability in ("off", "on"):
        command = ["docker", "run", "-d", "--label", "dbsnap-bench=1", "-p", "127.0.0.1::5432"]
        command += [args.snapshot, "postgres"]
        for setting in ("fsync", "synchronous_commit", "full_page_writes"):
            command += ["-c", f"{setting}={durability}"]
        cid = subprocess.check_output(command, text=True).strip()
        try:
            port = subprocess.check_output(["docker", "port", cid, "5432/tcp"], text=True)
            # A snapshot accepts no password until one is set through the socket.
            password = "bench"
            set_password = ["docker", "exec", "-u", "postgres", cid, "psql", "-X", "-q", "-U"]
            set_password += ["postgres", "-d", "template1", "-c", "ALTER ROLE postgres PASSWORD"]
            set_password[-1] += f" '{password}'"
            for _ in range(200):
                if subprocess.run(set_password, capture_output=True, check=False).returncode == 0:
                    break
                time.sleep(0.1)
            dsn = (
                f"host=127.0.0.1 port={port.split(':')[-1].strip()} user=postgres "
                f"password={password} dbname=postgres"
            )
            conn = None
            for _ in range(200):
                try:
                    conn = psycopg.connect(dsn, autocommit=True)
                    break
                except psycopg.OperationalError:
                    time.sleep(0.1)
            assert conn is not None, "the snapshot's server did not answer"
            medians = {}
            for strategy in ("WAL_LOG", "FILE_COPY"):
                times = []
                for i in range(args.clones):
                    started = time.perf_counter()
                    conn.execute(
                        f'CREATE DATABASE "c{i}" TEMPLATE "{args.template}" STRATEGY {strategy}'
                    )
                    times.append(time.perf_counter() - started)
                for i in range(args.clones):
                    conn.execute(f'DROP DATABASE "c{i}" WITH (FORCE)')
                medians[strategy] = statistics.median(times)
                median_ms = medians[strategy] * 1000
                print(
                    f"durability {durability}: {strategy:9} median {median_ms:.0f} ms,"
                    f" worst {max(times) * 1000:.0f} ms"
                )
            ratio = medians["WAL_LOG"] / medians["FILE_COPY"]
            print(f"durability {durability}: WAL_LOG / FILE_COPY = {ratio:.2f}")
            conn.close()
        finally:
            subprocess.run(["docker", "rm", "-fv", cid], capture_output=True, check=False)


if __name__ == "__main__":
    main()
