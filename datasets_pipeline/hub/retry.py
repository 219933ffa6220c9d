"""Bounded retries with exponential backoff for Hub calls that fail transiently.

Retried: HTTP 408, 429 and 5xx answers (``Retry-After`` honoured, up to :data:`MAX_RETRY_AFTER`
seconds), dropped or refused connections and timeouts (``httpx2.TransportError``),
``LocalEntryNotFoundError`` raised because of one of those, and truncated downloads
(``OSError("Consistency check failed ...")``). Everything else is raised at once, in particular a
request the client itself refuses to send (``httpx2.LocalProtocolError``: an illegal header value,
such as a token holding a control character): no answer of the Hub can change that.

The time spent waiting between attempts is bounded twice: one wait by :data:`MAX_RETRY_AFTER`, and
the sum of all waits of one :class:`Retrier` (one step of a run) by ``max_total_wait``; a wait that
would go past the budget fails at once with :class:`RetryBudgetExceeded`.

Secrets (the Hub token) are masked in every text this module produces: :func:`scrub` replaces the
token in each form it can take in a message (as is, ``repr``-escaped, as a ``bytes`` repr, JSON- and
URL-encoded, and its runs of printable characters).
"""

from __future__ import annotations

import email.utils
import json
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, TypeVar
from urllib.parse import quote, quote_plus

import httpx2
from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, OfflineModeIsEnabled

from ..errors import RetryBudgetExceeded, TransientSourceError

T = TypeVar("T")
log = logging.getLogger("datasets_pipeline.hub")

RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
#: Longest ``Retry-After`` we wait for; longer requests are cut to this.
MAX_RETRY_AFTER = 600.0
#: Default bound on the total time one step spends waiting between retries (seconds).
MAX_TOTAL_WAIT = 600.0
#: Errors of a request the client refused to send: retrying cannot help.
LOCAL_REQUEST_ERRORS = (httpx2.LocalProtocolError, httpx2.UnsupportedProtocol)
#: Runs of a secret shorter than this are not masked on their own (too likely to be ordinary text).
_MIN_PIECE = 8


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
    if isinstance(exc, (OfflineModeIsEnabled, *LOCAL_REQUEST_ERRORS)):
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


def is_local_request_error(exc: BaseException) -> bool:
    """Whether the client refused to send the request (an illegal header or URL), anywhere in the chain."""
    return any(isinstance(item, LOCAL_REQUEST_ERRORS) or isinstance(item, UnicodeEncodeError) for item in _chain(exc))


def requested_wait(exc: BaseException) -> float | None:
    """Seconds the server asked to wait (``Retry-After``: seconds or an HTTP date), uncapped, if any."""
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
        return max(seconds, 0.0)
    return None


def retry_after(exc: BaseException) -> float | None:
    """Seconds the server asked to wait, capped at :data:`MAX_RETRY_AFTER`, if it asked."""
    asked = requested_wait(exc)
    return None if asked is None else min(asked, MAX_RETRY_AFTER)


def describe(exc: BaseException, secret: str | None = None) -> str:
    """``Type: message`` of an error (its first line), with ``secret`` masked."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    out = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return scrub(out, secret)


def safe_cause(exc: BaseException, secret: str | None) -> BaseException | None:
    """``exc`` to chain as a cause, or None when any error in its chain would show ``secret`` in any form."""
    if not secret:
        return exc
    for item in _chain(exc):
        texts = [str(item), repr(item.args)]
        if isinstance(item, UnicodeError):
            texts.append(repr(getattr(item, "object", "")))
        if any(scrub(text, secret) != text for text in texts):
            return None
    return exc


def secret_forms(secret: str | None) -> list[str]:
    """Every form ``secret`` can take in a message, longest first.

    The text itself, its ``repr``/``ascii`` escapes (``\\n``, ``\\x0b``), its ``bytes`` repr (how an
    HTTP client shows a header value), JSON and URL encodings, and each run of at least
    :data:`_MIN_PIECE` printable characters between the characters those forms escape.
    """
    if not secret:
        return []
    forms = {
        secret,
        repr(secret)[1:-1],
        ascii(secret)[1:-1],
        repr(secret.encode("utf-8", "backslashreplace"))[2:-1],
        json.dumps(secret)[1:-1],
        quote(secret, safe=""),
        quote_plus(secret, safe=""),
    }
    forms.update(piece for piece in re.split(r"[^\x21-\x7e]+", secret) if len(piece) >= _MIN_PIECE)
    return sorted((f for f in forms if f), key=len, reverse=True)


def scrub(text: str, secret: str | None) -> str:
    """``text`` with every form of ``secret`` (see :func:`secret_forms`) replaced by ``***``."""
    for form in secret_forms(secret):
        text = text.replace(form, "***")
    return text


@dataclass
class Retrier:
    """Calls a function until it succeeds, fails for good, or ``max_attempts`` are used up.

    Waits ``backoff * 2**(attempt-1)`` seconds (at most ``max_backoff``) between attempts, or
    what the server's ``Retry-After`` asks for (at most :data:`MAX_RETRY_AFTER`). All waits of
    this retrier together (every call, every thread: one step of a run) stay within
    ``max_total_wait`` seconds: a wait that would go past it, or a ``Retry-After`` asking for more
    than what is left, raises :class:`RetryBudgetExceeded` at once. ``sleep`` is injectable for tests.
    """

    max_attempts: int = 5
    backoff: float = 1.0
    max_backoff: float = 30.0
    sleep: Callable[[float], None] = default_sleep
    secret: str | None = field(default=None, repr=False)
    max_total_wait: float = MAX_TOTAL_WAIT
    waited: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.max_total_wait < 0:
            raise ValueError("max_total_wait must be at least 0")
        self._lock = threading.Lock()

    def wait_before(self, attempt: int, exc: BaseException) -> float:
        """Seconds to wait before attempt ``attempt + 1`` after ``exc``."""
        asked = retry_after(exc)
        if asked is not None:
            return asked
        return min(self.max_backoff, self.backoff * 2 ** (attempt - 1))

    def _reserve(self, wait: float, asked: float | None) -> float | None:
        """Book ``wait`` seconds against the budget; None when it (or ``asked``) does not fit."""
        with self._lock:
            needed = max(wait, asked or 0.0)
            if self.waited + needed > self.max_total_wait + 1e-9:
                return None
            self.waited += wait
            return self.max_total_wait - self.waited

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
                asked = requested_wait(exc)
                if self._reserve(wait, asked) is None:
                    raise self._over_budget(what, attempt, exc, wait, asked) from safe_cause(exc, self.secret)
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

    def _over_budget(
        self, what: str, attempt: int, exc: BaseException, wait: float, asked: float | None
    ) -> RetryBudgetExceeded:
        request = f"the server asked to wait {asked:.0f} s (Retry-After)" if asked is not None else f"the next wait is {wait:.0f} s"
        return RetryBudgetExceeded(
            f"{what} failed (attempt {attempt}, {describe(exc, self.secret)}) and {request}, but this step has "
            f"already waited {self.waited:.0f} s of its total retry wait of {self.max_total_wait:.0f} s; gave up "
            "instead of holding the Hub pool slot",
            hint="the Hub is rate-limiting or overloaded: retry later, or raise the budget with "
            "DATASETS_PIPELINE_HUB_MAX_WAIT (seconds)",
        )
