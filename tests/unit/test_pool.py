from __future__ import annotations

import itertools
import threading
import time

import pytest

from pytest_dbsnap.pool import Pool, PoolError


class Factory:
    def __init__(self, fail_after: int | None = None) -> None:
        self.counter = itertools.count(1)
        self.alive: set[int] = set()
        self.lock = threading.Lock()
        self.fail_after = fail_after

    def make(self) -> int:
        n = next(self.counter)
        if self.fail_after is not None and n > self.fail_after:
            raise RuntimeError("disk full")
        with self.lock:
            self.alive.add(n)
        return n

    def destroy(self, n: int) -> None:
        with self.lock:
            self.alive.remove(n)


def wait_until(predicate, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline
        time.sleep(0.005)


def test_keeps_size_ready_and_never_more() -> None:
    factory = Factory()
    pool = Pool(name="p", make=factory.make, destroy=factory.destroy, size=3).start()
    wait_until(lambda: len(factory.alive) == 3)
    time.sleep(0.05)
    assert len(factory.alive) == 3
    items = [pool.acquire(5) for _ in range(5)]
    assert len(set(items)) == 5
    for item in items:
        pool.release(item)
    wait_until(lambda: len(factory.alive) == 3)
    pool.close()
    assert factory.alive == set()


def test_untouched_items_are_handed_out_again_and_touched_ones_destroyed() -> None:
    factory = Factory()
    touched: set[int] = set()
    pool = Pool(
        name="p",
        make=factory.make,
        destroy=factory.destroy,
        size=1,
        inspect=lambda n: n not in touched,
    ).start()
    first = pool.acquire(5)
    pool.release(first)
    wait_until(lambda: pool.reused == 1)
    assert pool.acquire(5) == first
    touched.add(first)
    pool.release(first)
    wait_until(lambda: first not in factory.alive)
    assert pool.acquire(5) != first
    pool.close()
    assert factory.alive == set()


def test_an_inspection_that_fails_destroys_the_item() -> None:
    factory = Factory()

    def broken(n: int) -> bool:
        raise OSError("connection refused")

    pool = Pool(name="p", make=factory.make, destroy=factory.destroy, size=1, inspect=broken)
    pool.start()
    first = pool.acquire(5)
    pool.release(first)
    wait_until(lambda: first not in factory.alive)
    pool.close()
    assert factory.alive == set()


def test_close_destroys_lent_and_used_items() -> None:
    factory = Factory()
    pool = Pool(name="p", make=factory.make, destroy=factory.destroy, size=2).start()
    lent = pool.acquire(5)
    pool.release(pool.acquire(5))
    pool.close()
    assert factory.alive == set()
    assert lent not in factory.alive


def test_kept_items_survive_close() -> None:
    factory = Factory()
    pool = Pool(name="p", make=factory.make, destroy=factory.destroy, size=1).start()
    item = pool.acquire(5)
    pool.keep(item)
    pool.close()
    assert factory.alive == {item}


def test_a_failing_make_reaches_the_next_acquire_and_cleans_up() -> None:
    factory = Factory(fail_after=0)
    pool = Pool(
        name="copies", make=factory.make, destroy=factory.destroy, size=2, retry_delays=()
    ).start()
    with pytest.raises(PoolError, match="copies: disk full"):
        pool.acquire(5)
    with pytest.raises(PoolError, match="disk full"):
        pool.close()
    assert factory.alive == set()


def test_a_failing_make_never_destroys_what_is_lent() -> None:
    """A test holds a copy; the next make fails for good: the copy stays the test's."""
    factory = Factory(fail_after=2)
    pool = Pool(
        name="copies", make=factory.make, destroy=factory.destroy, size=2, retry_delays=()
    ).start()
    held = [pool.acquire(5), pool.acquire(5)]  # both ready ones: the thread makes a third
    with pytest.raises(PoolError, match="disk full"):
        pool.acquire(5)
    assert set(held) <= factory.alive  # nothing lent was destroyed
    # What is given back is still handled: destroyed, and the failure stays.
    pool.release(held[0])
    wait_until(lambda: held[0] not in factory.alive)
    assert held[1] in factory.alive
    with pytest.raises(PoolError, match="disk full"):
        pool.acquire(1)
    with pytest.raises(PoolError):
        pool.close()
    assert factory.alive == set()


def test_make_is_retried_before_giving_up() -> None:
    attempts: list[int] = []
    factory = Factory()

    def flaky() -> int:
        attempts.append(1)
        if len(attempts) <= 2:
            raise OSError("connection reset")
        return factory.make()

    pool = Pool(
        name="p", make=flaky, destroy=factory.destroy, size=1, retry_delays=(0.01, 0.01)
    ).start()
    assert pool.acquire(5) == 1
    assert len(attempts) == 3
    pool.close()


def test_a_reused_copy_never_pushes_the_pool_past_its_size() -> None:
    """size 1: a test returns an untouched copy while another one is ready already."""
    factory = Factory()
    inspected = threading.Event()

    def untouched(n: int) -> bool:
        inspected.set()
        return True

    pool = Pool(
        name="p", make=factory.make, destroy=factory.destroy, size=1, inspect=untouched
    ).start()
    first = pool.acquire(5)
    wait_until(lambda: pool.ready == 1)  # the thread made the next one meanwhile
    pool.release(first)  # untouched, but the pool is full: dropped, not queued
    wait_until(inspected.is_set)
    wait_until(lambda: first not in factory.alive)
    assert pool.ready == 1
    assert pool.reused == 0
    pool.close()
    assert factory.alive == set()


def test_used_items_wait_to_be_destroyed_only_up_to_a_bound() -> None:
    """Tests faster than the thread: it makes the next item first, but never lets
    more than max_pending used ones pile up (they take room)."""
    factory = Factory()

    def slow_make() -> int:
        time.sleep(0.005)  # slower than the "tests" below
        return factory.make()

    pool = Pool(name="p", make=slow_make, destroy=factory.destroy, size=1, max_pending=2)
    pool.start()
    most_alive = 0
    for _ in range(30):
        pool.release(pool.acquire(5))
        most_alive = max(most_alive, len(factory.alive))
    pool.close()
    # ready (1) + lent (1) + pending (2) + the one being made
    assert most_alive <= 5
    assert factory.alive == set()
