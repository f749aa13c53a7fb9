"""When a request's work may run on the event loop thread instead of a pool thread.

Both servers take requests on one event loop thread and run the work (a model call, and for
REST the JSON around it) on a thread pool, so that a slow call never stalls the loop. Handing
work to a pool thread and back costs two thread wake-ups: 0.4-0.8 ms a request on 2 busy
cores, more than a small model's whole call. So a request that is the only one in flight runs
its work on the loop thread when the last request of the same kind (same model, signature and
input shapes; for REST the same URL and body length) took less than INLINE_CALL_SECONDS: a
request arriving meanwhile waits at most about that long. A kind never timed, a slower one,
and every request while others are in flight go to the pool.
"""
from __future__ import annotations

from collections.abc import Hashable

INLINE_CALL_SECONDS = 0.005
_KINDS_KEPT = 4096  # durations remembered; the table starts afresh when full


class InlineCalls:
    """One server's requests in flight and the last duration of each kind of request. Used on
    its event loop thread only, so it needs no lock."""

    def __init__(self) -> None:
        self.in_flight = 0  # requests between arrival and answer
        self._seconds: dict[Hashable, float] = {}

    def inline(self, kind: Hashable, limit: float | None = None) -> bool:
        """Whether this request, counted in `in_flight`, runs on the loop thread (`limit`:
        a tighter bound than INLINE_CALL_SECONDS)."""
        limit = INLINE_CALL_SECONDS if limit is None else min(limit, INLINE_CALL_SECONDS)
        return self.in_flight == 1 and self._seconds.get(kind, limit) < limit

    def record(self, kind: Hashable, seconds: float) -> None:
        if len(self._seconds) >= _KINDS_KEPT:
            self._seconds.clear()
        self._seconds[kind] = seconds
