"""The session's cleanup jobs: run at once, the last in the calling thread, every error kept."""

from __future__ import annotations

import threading

from pytest_dbsnap.session import side_by_side


def test_no_jobs_no_problems() -> None:
    assert side_by_side([]) == []


def test_a_single_job_runs_in_the_calling_thread() -> None:
    ran: list[threading.Thread] = []
    assert side_by_side([lambda: ran.append(threading.current_thread())]) == []
    assert ran == [threading.current_thread()]


def test_jobs_run_at_once_and_every_error_is_kept_in_job_order() -> None:
    started = threading.Barrier(3, timeout=5)  # each waits for the others: all run at once
    threads: list[threading.Thread] = []

    def job(name: str, fails: bool) -> None:
        threads.append(threading.current_thread())
        started.wait()
        if fails:
            raise RuntimeError(f"{name} failed")

    problems = side_by_side(
        [lambda: job("first", True), lambda: job("second", False), lambda: job("last", True)]
    )
    assert problems == ["cleaning up: first failed", "cleaning up: last failed"]
    assert threading.current_thread() in threads
    assert len(set(threads)) == 3
