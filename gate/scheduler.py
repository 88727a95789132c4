"""Timed work on one thread: follow-ups (tailgating windows, a face that no card
followed) and periodic jobs (escalation, overstays, retention, absences).

One thread with a heap instead of a ``threading.Timer`` thread per event: a morning
rush schedules thousands of follow-ups, and each job runs with no lock held, in due
order, where the supervisor can see it (gate/supervisor.py restarts the loop if a
bug kills it; a failing job is logged and the loop goes on).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger("gate.scheduler")

Job = Callable[[], object]


@dataclass(order=True)
class _Due:
    at: float
    seq: int
    job: Job = field(compare=False)
    name: str = field(compare=False)
    every: float | None = field(compare=False, default=None)


class Scheduler:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._heap: list[_Due] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self.beat = clock()

    def call_later(self, delay: float, job: Job, name: str = "") -> None:
        self._push(_Due(self._clock() + delay, next(self._seq), job, name or job.__name__))

    def every(self, interval: float, job: Job, name: str = "", first: float | None = None
              ) -> None:
        delay = interval if first is None else first
        self._push(_Due(self._clock() + delay, next(self._seq), job, name or job.__name__,
                        interval))

    def _push(self, due: _Due) -> None:
        with self._cond:
            heapq.heappush(self._heap, due)
            self._cond.notify()

    def run_due(self) -> int:
        """Run every job that is due now; returns how many ran (tests call this directly
        with a fake clock)."""
        ran = 0
        while True:
            with self._cond:
                if not self._heap or self._heap[0].at > self._clock():
                    return ran
                due = heapq.heappop(self._heap)
                if due.every is not None:
                    heapq.heappush(self._heap, _Due(self._clock() + due.every, next(self._seq),
                                                    due.job, due.name, due.every))
            try:
                due.job()
            except Exception:
                log.exception("scheduled job %s failed", due.name)
            ran += 1

    def run(self, stop: threading.Event) -> None:
        """The loop (run by the supervisor until ``stop``)."""
        while not stop.is_set():
            self.beat = self._clock()
            self.run_due()
            with self._cond:
                wait = 0.5 if not self._heap else min(0.5, max(0.0, self._heap[0].at
                                                                - self._clock()))
                self._cond.wait(wait)
