"""Read-ahead in a background thread: order, errors and early close."""

from __future__ import annotations

import threading
import time

import pytest

from datasets_pipeline.engine.prefetch import ordered_map, prefetch


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


# --- ordered_map ----------------------------------------------------------------------------


def test_ordered_map_keeps_input_order_whatever_finishes_first():
    def slow_for_small(i: int) -> int:
        time.sleep(0.002 * (i % 5 == 0))
        return i * i

    for workers in (1, 2, 4):
        assert list(ordered_map(slow_for_small, range(200), workers)) == [i * i for i in range(200)]


def test_ordered_map_runs_in_parallel_and_at_most_ahead_items():
    started: list[int] = []
    running, peak = [0], [0]
    lock = threading.Lock()

    def work(i: int) -> int:
        with lock:
            started.append(i)
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.02)
        with lock:
            running[0] -= 1
        return i

    it = ordered_map(work, range(100), workers=3, ahead=4)
    assert next(it) == 0
    time.sleep(0.2)
    assert len(started) <= 4  # the consumed item and at most three more submitted
    assert list(it) == list(range(1, 100))
    assert peak[0] == 3


def test_ordered_map_raises_at_the_failing_item_and_cancels_the_rest():
    done: list[int] = []

    def work(i: int) -> int:
        if i == 3:
            raise ValueError("bad chunk 3")
        time.sleep(0.01)
        done.append(i)
        return i

    it = ordered_map(work, range(1000), workers=2)
    assert [next(it) for _ in range(3)] == [0, 1, 2]
    with pytest.raises(ValueError, match="bad chunk 3"):
        next(it)
    assert len(done) < 20
    with pytest.raises(ValueError, match="workers must be at least 1"):
        list(ordered_map(abs, [1], workers=0))
