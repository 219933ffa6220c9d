"""Read ahead: produce the next record batches in background threads while the consumer writes.

Parquet decoding, Arrow ``take`` and Arrow IPC writing all release the GIL, so overlapping them
uses every core. Memory stays bounded by the items produced ahead (``depth``) plus the ones being
produced.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_DONE = object()


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def prefetch(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """Yield ``items`` in order, producing up to ``depth`` of them ahead in a background thread.

    An exception raised by the producer is re-raised in the consumer at the same position; closing
    the returned generator early stops the producer after its current item.
    """
    if depth < 1:
        raise ValueError("depth must be at least 1")
    slots: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        slots.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            slots.put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            slots.put(_Failure(exc))

    thread = threading.Thread(target=produce, name="prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = slots.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                slots.get_nowait()
            except queue.Empty:
                pass
            thread.join(timeout=0.05)


def ordered_map(fn: Callable[[T], R], items: Iterable[T], workers: int, ahead: int | None = None) -> Iterator[R]:
    """``map(fn, items)`` computed by ``workers`` threads, yielded in input order.

    At most ``ahead`` results (default ``workers + 1``) are computed or waiting at any time, so
    memory stays bounded however long ``items`` is. An exception raised by ``fn`` is re-raised at
    its item's position; closing the generator early cancels what has not started.
    """
    if workers < 1:
        raise ValueError("workers must be at least 1")
    ahead = workers + 1 if ahead is None else ahead
    if ahead < 1:
        raise ValueError("ahead must be at least 1")
    if workers == 1:
        yield from map(fn, items)
        return
    pending: deque[Future] = deque()
    pool = ThreadPoolExecutor(workers, thread_name_prefix="ordered-map")
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True)
