"""Read ahead: produce the next record batches in a background thread while the consumer writes.

Parquet decoding and Arrow IPC writing both release the GIL, so overlapping them uses two cores.
Memory stays bounded by ``depth`` batches waiting in the queue plus the one being produced.
"""

from __future__ import annotations

import queue
import threading
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")

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
