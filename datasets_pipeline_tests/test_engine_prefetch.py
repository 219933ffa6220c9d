"""Read-ahead in a background thread: order, errors and early close."""

from __future__ import annotations

import threading
import time

import pytest

from datasets_pipeline.engine.prefetch import prefetch


def test_yields_every_item_in_order():
    assert list(prefetch(iter(range(1000)), depth=3)) == list(range(1000))


def test_produces_at_most_depth_items_ahead():
    produced: list[int] = []

    def source():
        for i in range(100):
            produced.append(i)
            yield i

    it = prefetch(source(), depth=2)
    assert next(it) == 0
    time.sleep(0.3)
    assert len(produced) <= 4  # the consumed item, two queued, one blocked on the full queue
    it.close()


def test_producer_errors_surface_at_their_position():
    def source():
        yield 1
        yield 2
        raise ValueError("bad row 3")

    it = prefetch(source())
    assert next(it) == 1 and next(it) == 2
    with pytest.raises(ValueError, match="bad row 3"):
        next(it)


def test_closing_early_stops_the_producer():
    def endless():
        i = 0
        while True:
            yield i
            i += 1

    before = threading.active_count()
    it = prefetch(endless(), depth=1)
    assert [next(it) for _ in range(5)] == [0, 1, 2, 3, 4]
    it.close()
    assert threading.active_count() == before
