"""Bounded retries with exponential backoff for Hub calls that fail transiently.

Retried: HTTP 408, 429 and 5xx answers (``Retry-After`` honoured, up to :data:`MAX_RETRY_AFTER`
seconds), dropped or refused connections and timeouts (``httpx2.TransportError``),
``LocalEntryNotFoundError`` raised because of one of those, and truncated downloads
(``OSError("Consistency check failed ...")``). Everything else is raised at once.
"""

from __future__ import annotations

import email.utils
import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, TypeVar

import httpx2
from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, OfflineModeIsEnabled

from ..errors import TransientSourceError

T = TypeVar("T")
log = logging.getLogger("datasets_pipeline.hub")

RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
#: Longest ``Retry-After`` we wait for; longer requests are cut to this.
MAX_RETRY_AFTER = 600.0


def default_sleep(seconds: float) -> None:
    """``time.sleep``, looked up at call time (so a patched ``time.sleep`` takes effect)."""
    time.sleep(seconds)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


def _own_transient(exc: BaseException) -> bool:
    if isinstance(exc, OfflineModeIsEnabled):
        return False
    if isinstance(exc, HfHubHTTPError):
        status = _status(exc)
        return status is not None and (status in RETRY_STATUS or status >= 500)
    if isinstance(exc, httpx2.TransportError):
        return True
    if isinstance(exc, OSError) and "Consistency check failed" in str(exc):
        return True
    return False


def is_transient(exc: BaseException) -> bool:
    """Whether retrying the call may succeed."""
    if isinstance(exc, LocalEntryNotFoundError):
        return any(_own_transient(cause) for cause in list(_chain(exc))[1:])
    return _own_transient(exc)


def retry_after(exc: BaseException) -> float | None:
    """Seconds the server asked to wait (``Retry-After``: seconds or an HTTP date), if any."""
    for item in _chain(exc):
        response = getattr(item, "response", None)
        headers = getattr(response, "headers", None)
        value = headers.get("Retry-After") if headers is not None else None
        if not value:
            continue
        value = value.strip()
        try:
            seconds = float(value)
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                continue
            seconds = when.timestamp() - time.time()
        return min(max(seconds, 0.0), MAX_RETRY_AFTER)
    return None


def describe(exc: BaseException, secret: str | None = None) -> str:
    """``Type: message`` of an error (its first line), with ``secret`` masked."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    out = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return scrub(out, secret)


def safe_cause(exc: BaseException, secret: str | None) -> BaseException | None:
    """``exc`` to chain as a cause, or None when any error in its chain would show ``secret``."""
    if secret and any(secret in str(item) or secret in repr(item.args) for item in _chain(exc)):
        return None
    return exc


def scrub(text: str, secret: str | None) -> str:
    """``text`` with every occurrence of ``secret`` replaced by ``***``."""
    return text.replace(secret, "***") if secret else text


@dataclass
class Retrier:
    """Calls a function until it succeeds, fails for good, or ``max_attempts`` are used up.

    Waits ``backoff * 2**(attempt-1)`` seconds (at most ``max_backoff``) between attempts, or
    what the server's ``Retry-After`` asks for. ``sleep`` is injectable for tests.
    """

    max_attempts: int = 5
    backoff: float = 1.0
    max_backoff: float = 30.0
    sleep: Callable[[float], None] = default_sleep
    secret: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def wait_before(self, attempt: int, exc: BaseException) -> float:
        """Seconds to wait before attempt ``attempt + 1`` after ``exc``."""
        asked = retry_after(exc)
        if asked is not None:
            return asked
        return min(self.max_backoff, self.backoff * 2 ** (attempt - 1))

    def call(self, fn: Callable[[], T], *, what: str) -> T:
        """``fn()``, retried on transient errors; then :class:`TransientSourceError` naming ``what``."""
        for attempt in range(1, self.max_attempts + 1):
            try:
                return fn()
            except Exception as exc:
                if not is_transient(exc):
                    raise
                last = exc
                if attempt == self.max_attempts:
                    break
                wait = self.wait_before(attempt, exc)
                log.warning(
                    "%s failed (attempt %d of %d, %s); retrying in %.1f s",
                    what,
                    attempt,
                    self.max_attempts,
                    describe(exc, self.secret),
                    wait,
                )
                self.sleep(wait)
        error = TransientSourceError(
            f"{what} kept failing after {self.max_attempts} attempts; last error: {describe(last, self.secret)}",
            hint="the Hub may be overloaded or the network unstable; retry later",
        )
        raise error from safe_cause(last, self.secret)
