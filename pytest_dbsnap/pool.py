"""Pristine databases prepared ahead of the test that needs them.

A :class:`Pool` keeps up to ``size`` ready items (database copies, or whole
containers), made by one background thread, so :meth:`Pool.acquire` only
takes one from a queue. Used items go back to the thread to be destroyed, or
straight back to the queue when the caller proved them untouched. Knows no
pytest and no Docker.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

from .errors import DbsnapError

T = TypeVar("T")


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
        on_thread_exit: Callable[[], None] = lambda: None,
    ) -> None:
        self.name = name
        self._make = make
        self._destroy = destroy
        self._inspect = inspect
        self._size = max(1, size)
        self._on_thread_exit = on_thread_exit
        self._cond = threading.Condition()
        self._ready: deque[T] = deque()
        self._used: deque[T] = deque()
        self._returned: deque[T] = deque()
        self._lent: list[T] = []
        self._kept: list[T] = []
        self._closing = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"dbsnap-{name}", daemon=True)
        self.made = 0
        self.destroyed = 0
        self.reused = 0

    def start(self) -> Pool[T]:
        self._thread.start()
        return self

    def acquire(self, timeout: float) -> T:
        """A ready item; waits for the thread only when none is ready yet."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._ready:
                if self._closing:
                    cause = self._error
                    raise PoolError(f"{self.name}: {cause or 'closed'}") from cause
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

    def close(self, timeout: float = 120) -> None:
        """Destroy every item not kept, wait for the thread, and stop."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)
        with self._cond:
            leftovers = [*self._ready, *self._used, *self._returned, *self._lent]
            for queue in (self._ready, self._used, self._returned):
                queue.clear()
            self._lent.clear()
        for item in leftovers:  # the thread died early: clean up from here
            self._destroy_quietly(item)
        if self._error is not None and not isinstance(self._error, PoolError):
            raise PoolError(f"{self.name}: {self._error}") from self._error

    def _reuse_or_destroy(self, item: T) -> None:
        assert self._inspect is not None
        try:
            untouched = self._inspect(item)
        except Exception:
            untouched = False  # when in doubt, throw it away
        with self._cond:
            if untouched and not self._closing:
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
                self._error = self._error or exc

    def _next_job(self) -> tuple[str, T | None]:
        with self._cond:
            while True:
                if self._closing:
                    for queue in (self._ready, self._used, self._returned):
                        if queue:
                            return "destroy", queue.popleft()
                    if self._lent:
                        return "destroy", self._lent.pop()
                    return "stop", None
                # Inspecting a returned copy is cheaper than making one, and a
                # waiting test needs a copy more than the disk needs a drop.
                if self._returned:
                    return "inspect", self._returned.popleft()
                if self._used and self._ready:
                    return "destroy", self._used.popleft()
                if len(self._ready) < self._size:
                    return "make", None
                if self._used:
                    return "destroy", self._used.popleft()
                self._cond.wait()

    def _run(self) -> None:
        try:
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
                    made = self._make()
                except Exception as exc:
                    with self._cond:
                        self._error = exc
                        self._closing = True
                        self._cond.notify_all()
                    continue
                self.made += 1
                with self._cond:
                    (self._used if self._closing else self._ready).append(made)
                    self._cond.notify_all()
        finally:
            self._on_thread_exit()
