"""Pristine databases prepared ahead of the test that needs them.

A :class:`Pool` keeps up to ``size`` ready items (database copies, or whole
containers), made by one background thread, so :meth:`Pool.acquire` only
takes one from a queue. Used items go back to the thread to be destroyed, or
straight back to the queue when the caller proved them untouched. Knows no
pytest and no Docker.

An item lent to a caller is the caller's until it gives it back or the pool
closes: a ``make`` that fails (after its retries) fails the callers that wait
for an item, with the cause, and touches nothing that is lent.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from .errors import DbsnapError

T = TypeVar("T")

RETRY_DELAYS: tuple[float, ...] = (0.2, 1.0)
"""Seconds to wait before each retry of a failed ``make``."""


class PoolError(DbsnapError):
    """The background thread could not prepare an item."""


class Pool(Generic[T]):
    """Ready items made ahead by a background thread; bounded; emptied by close()."""

    def __init__(
        self,
        *,
        name: str,
        make: Callable[[], T],
        destroy: Callable[[T], None],
        size: int,
        inspect: Callable[[T], bool] | None = None,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        max_pending: int = 2,
    ) -> None:
        """``max_pending``: how many used items may wait to be destroyed while the
        thread makes new ones first (used items take room: disk, or a RAM folder)."""
        self.name = name
        self._make = make
        self._destroy = destroy
        self._inspect = inspect
        self._size = max(1, size)
        self._retry_delays = tuple(retry_delays)
        self._max_pending = max(0, max_pending)
        self._cond = threading.Condition()
        self._ready: deque[T] = deque()
        self._used: deque[T] = deque()
        self._returned: deque[T] = deque()
        self._lent: list[T] = []
        self._kept: list[T] = []
        self._closing = False
        self._abandon = False
        self._failure: BaseException | None = None  # make gave up: no more items
        self._problem: BaseException | None = None  # a destroy failed
        self._thread = threading.Thread(target=self._run, name=f"dbsnap-{name}", daemon=True)
        self.made = 0
        self.destroyed = 0
        self.reused = 0

    def start(self) -> Pool[T]:
        self._thread.start()
        return self

    @property
    def ready(self) -> int:
        """How many items are ready now."""
        with self._cond:
            return len(self._ready)

    def acquire(self, timeout: float) -> T:
        """A ready item; waits for the thread only when none is ready yet."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._ready:
                if self._failure is not None:
                    raise PoolError(f"{self.name}: {self._failure}") from self._failure
                if self._closing:
                    raise PoolError(f"{self.name}: closed")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise PoolError(
                        f"{self.name}: no pristine database ready within {timeout:g}s; "
                        "raise dbsnap_startup_timeout"
                    )
                self._cond.wait(left)
            item = self._ready.popleft()
            self._lent.append(item)
            self._cond.notify_all()
            return item

    def take(self, timeout: float) -> T:
        """A ready item that becomes the caller's for good (never given back)."""
        item = self.acquire(timeout)
        with self._cond:
            self._lent.remove(item)
        return item

    def discard(self, item: T) -> None:
        """Destroy ``item`` in the background (it is not, or no longer, the pool's)."""
        with self._cond:
            if self._thread.is_alive() and not self._closing:
                self._used.append(item)
                self._cond.notify_all()
                return
        self._destroy_quietly(item)

    def release(self, item: T) -> None:
        """Give ``item`` back. The thread inspects it, when the pool has an
        ``inspect``: an untouched item is handed out again, any other destroyed."""
        with self._cond:
            if item not in self._lent:
                return  # the pool was closed and destroyed it already
            self._lent.remove(item)
            if self._thread.is_alive():
                queue = self._returned if self._inspect and not self._closing else self._used
                queue.append(item)
                self._cond.notify_all()
                return
        self._destroy_quietly(item)

    def keep(self, item: T) -> None:
        """Never destroy ``item`` (a failing test's database, with ``keep``)."""
        with self._cond:
            if item in self._lent:
                self._lent.remove(item)
                self._kept.append(item)

    def close(self, timeout: float = 120, *, destroy: bool = True) -> None:
        """Destroy every item not kept (the session is over), wait for the thread, and stop.

        ``destroy=False``: stop without destroying anything (the items go with
        what holds them, a container that is about to be removed).
        """
        with self._cond:
            self._closing = True
            self._abandon = not destroy
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)
        with self._cond:
            leftovers = [*self._ready, *self._used, *self._returned, *self._lent]
            for queue in (self._ready, self._used, self._returned):
                queue.clear()
            self._lent.clear()
        for item in leftovers if destroy else ():  # the thread did not finish: from here
            self._destroy_quietly(item)
        problem = self._problem or self._failure
        if problem is not None:
            raise PoolError(f"{self.name}: {problem}") from problem

    def _reuse_or_destroy(self, item: T) -> None:
        assert self._inspect is not None
        try:
            untouched = self._inspect(item)
        except Exception:
            untouched = False  # when in doubt, throw it away
        with self._cond:
            if untouched and not self._closing and len(self._ready) < self._size:
                self._ready.appendleft(item)
                self.reused += 1
            else:
                # Dropped later: making the next copy comes first when none is ready.
                self._used.append(item)
            self._cond.notify_all()

    def _destroy_quietly(self, item: T) -> None:
        try:
            self._destroy(item)
            self.destroyed += 1
        except Exception as exc:
            with self._cond:
                self._problem = self._problem or exc

    def _next_job(self) -> tuple[str, T | None]:
        with self._cond:
            while True:
                if self._closing and self._abandon:
                    return "stop", None
                if self._closing:
                    for queue in (self._ready, self._used, self._returned):
                        if queue:
                            return "destroy", queue.popleft()
                    return "stop", None
                # Inspecting a returned copy is cheaper than making one, and a
                # waiting test needs a copy more than the disk needs a drop.
                if self._returned:
                    return "inspect", self._returned.popleft()
                if self._used and (self._ready or len(self._used) > self._max_pending):
                    return "destroy", self._used.popleft()
                if len(self._ready) < self._size and self._failure is None:
                    return "make", None
                if self._used:
                    return "destroy", self._used.popleft()
                self._cond.wait()

    def _make_with_retries(self) -> T:
        for delay in self._retry_delays:
            try:
                return self._make()
            except Exception:
                with self._cond:
                    if self._cond.wait_for(lambda: self._closing, delay):
                        raise
        return self._make()

    def _run(self) -> None:
        while True:
            job, item = self._next_job()
            if job == "stop":
                return
            if job == "destroy":
                self._destroy_quietly(item)  # type: ignore[arg-type]
                continue
            if job == "inspect":
                self._reuse_or_destroy(item)  # type: ignore[arg-type]
                continue
            try:
                made = self._make_with_retries()
            except Exception as exc:
                with self._cond:
                    self._failure = exc  # waiting callers fail with it; lent items stay
                    self._cond.notify_all()
                continue
            self.made += 1
            with self._cond:
                (self._used if self._closing else self._ready).append(made)
                self._cond.notify_all()
