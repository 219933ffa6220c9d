"""Fault injection rules and the log of received requests."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

#: Fault kinds that change a response.
STATUS, DROP, DELAY = "status", "drop", "delay"
TRUNCATE, TRUNCATE_AFTER, SHORT = "truncate", "truncate_after", "short"
CORRUPT, IGNORE_RANGE, STALL = "corrupt", "ignore_range", "stall"
#: Kinds that act on a response body: they never match HEAD requests.
BODY_KINDS = frozenset({TRUNCATE, TRUNCATE_AFTER, SHORT, CORRUPT, IGNORE_RANGE, STALL})
KINDS = BODY_KINDS | {STATUS, DROP, DELAY}


@dataclass(eq=False)
class Fault:
    """A rule that changes the server's answer to matching requests.

    ``path`` is a regex searched in the raw (still percent-encoded) request path,
    ``query`` one searched in the raw query string; ``method`` None matches any
    method. The fault fires ``times`` times (None = always) after letting ``skip``
    matching requests through; ``hits`` counts how often it fired.

    Kinds:
      - ``status``: answer ``status`` with ``headers`` and ``body`` (default: a JSON
        error naming the status, or the ``X-Error-Message`` header).
      - ``drop``: close the connection before sending anything.
      - ``truncate``: send the full ``Content-Length``, write ``nbytes`` of the body
        (default half) and shut the socket down.
      - ``truncate_after``: the same with ``nbytes`` (default 0) bytes written.
      - ``short``: send only ``nbytes`` (default half) of the body with a matching
        ``Content-Length``.
      - ``corrupt``: same size, ``nbytes`` (default 1) bytes flipped from the middle on.
      - ``ignore_range``: answer 200 with the whole body whatever the ``Range``.
      - ``stall``: send the full ``Content-Length``, write ``nbytes`` of the body (default
        half), then wait ``delay`` seconds before shutting the socket down (a transfer that
        hangs mid-body, e.g. to kill the client there).
      - ``delay``: wait ``delay`` seconds, then answer normally (or apply the next
        matching fault).
    Body kinds never match HEAD requests.
    """

    path: str = ".*"
    method: str | None = None
    kind: str = STATUS
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    times: int | None = 1
    body: bytes | None = None
    nbytes: int | None = None
    delay: float = 0.0
    query: str | None = None
    skip: int = 0
    hits: int = field(default=0, init=False)
    seen: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {sorted(KINDS)}")
        self._path_re = re.compile(self.path)
        self._query_re = re.compile(self.query) if self.query is not None else None

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.hits >= self.times

    def matches(self, method: str, path: str, query: str) -> bool:
        if self.method is not None and self.method.upper() != method:
            return False
        if self.kind in BODY_KINDS and method == "HEAD":
            return False
        if self._query_re is not None and not self._query_re.search(query):
            return False
        return self._path_re.search(path) is not None


@dataclass
class RecordedRequest:
    """A request as it arrived. ``status`` is filled in when the answer is sent
    (None for a dropped connection); ``fault`` is the Fault applied, if any."""

    method: str
    path: str  # raw, percent-encoded, without the query string
    query: dict[str, list[str]]
    range: str | None
    headers: dict[str, str]  # lower-cased names
    status: int | None = None
    fault: Fault | None = None

    @property
    def fault_kind(self) -> str | None:
        return self.fault.kind if self.fault is not None else None


class FaultSet:
    """The active faults, matched in the order they were added (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def all(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, method: str, path: str, query: str) -> tuple[list[Fault], Fault | None]:
        """Fire the faults for a request: every matching ``delay`` and the first other match."""
        delays: list[Fault] = []
        with self._lock:
            for fault in self._faults:
                if fault.exhausted or not fault.matches(method, path, query):
                    continue
                fault.seen += 1
                if fault.seen <= fault.skip:
                    continue
                fault.hits += 1
                if fault.kind != DELAY:
                    return delays, fault
                delays.append(fault)
        return delays, None

