"""Prometheus metrics: what the school's IT and the district watch after the installer has left.

One registry per service (not prometheus-client's global one), so tests and a second
service in one process never share counters. The core calls the small ``observe_*``/``set_*``
functions at the points where things happen; figures the database already knows (outbox
backlog, unacknowledged alerts) are read from the store at scrape time instead of being
mirrored, so they can never drift from the truth. ``/metrics`` is served by the console behind
its own bearer token (``[console] metrics_token``): the figures reveal the school's rhythm.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Header, HTTPException, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    generate_latest,
)

from gate import __version__

if TYPE_CHECKING:
    from gate.store import Store

# A card tap is decided in tens of milliseconds; a face wait adds up to face_wait_ms (0.8 s).
DECISION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0)
# One frame's detection + encoding on a 2-core gate computer: 50 ms to a few seconds.
RECOGNITION_BUCKETS = (0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0)
_LABEL = re.compile(r"[^A-Za-z0-9_.:-]")


def _label(value: str) -> str:
    """Label values come from config ids and verdict names; cap them so a bug cannot explode
    the series count."""
    return _LABEL.sub("_", value)[:64] or "unknown"


class GateMetrics:
    """Every metric of one gate service, in its own registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry or CollectorRegistry(auto_describe=True)
        self.decisions = Counter("gate_decisions", "Lane decisions, by verdict.",
                                 ["verdict"], registry=r)
        self.decision_seconds = Histogram(
            "gate_decision_seconds", "Card tap (or plate, or face) to decision, seconds.",
            buckets=DECISION_BUCKETS, registry=r)
        self.recognition_seconds = Histogram(
            "gate_recognition_seconds", "Recognition of one frame, seconds, per camera.",
            ["camera"], buckets=RECOGNITION_BUCKETS, registry=r)
        self.recognition_queue = Gauge(
            "gate_recognition_queue_depth", "Frames waiting for a recognition worker.",
            ["camera"], registry=r)
        self.frames_dropped = Counter(
            "gate_frames_dropped", "Camera frames skipped because recognition was busy.",
            ["camera"], registry=r)
        self.broker_connected = Gauge(
            "gate_broker_connected", "1 while the MQTT client is connected to the broker.",
            registry=r)
        self.device_up = Gauge(
            "gate_device_up", "1 when the device works (reader open, camera delivering, ...).",
            ["kind", "device"], registry=r)
        self.outbox_backlog = Gauge(
            "gate_outbox_backlog", "MQTT messages recorded but not yet acknowledged by the broker.",
            registry=r)
        self.outbox_oldest_age = Gauge(
            "gate_outbox_oldest_age_seconds",
            "Age of the oldest unacknowledged MQTT message (0 when none).", registry=r)
        self.alerts_unacknowledged = Gauge(
            "gate_alerts_unacknowledged", "Alerts nobody has acknowledged yet, by severity.",
            ["severity"], registry=r)
        self.clock_jumps = Counter(
            "gate_clock_jumps", "Wall-clock steps noticed (NTP corrections, RTC resets).",
            registry=r)
        self.build = Info("gate_build", "Version of campus-gate.", registry=r)
        self.build.info({"version": __version__})
        self._refreshers: list[Callable[[], None]] = []
        self._store_refresher: Callable[[], None] | None = None
        self._lock = threading.Lock()

    # Hooks the core calls ------------------------------------------------------------

    def observe_decision(self, verdict: str, seconds: float) -> None:
        self.decisions.labels(_label(verdict)).inc()
        self.decision_seconds.observe(max(0.0, seconds))

    def observe_recognition(self, camera: str, seconds: float) -> None:
        self.recognition_seconds.labels(_label(camera)).observe(max(0.0, seconds))

    def set_queue_depth(self, camera: str, depth: int) -> None:
        self.recognition_queue.labels(_label(camera)).set(depth)

    def count_dropped_frames(self, camera: str, n: int = 1) -> None:
        if n > 0:
            self.frames_dropped.labels(_label(camera)).inc(n)

    def set_broker_connected(self, connected: bool) -> None:
        self.broker_connected.set(1 if connected else 0)

    def set_device_up(self, kind: str, device: str, up: bool) -> None:
        self.device_up.labels(_label(kind), _label(device)).set(1 if up else 0)

    def count_clock_jump(self) -> None:
        self.clock_jumps.inc()

    # Figures read at scrape time --------------------------------------------------------

    def watch_store(self, store: Store) -> None:
        """Read the outbox backlog and unacknowledged alerts from ``store`` at each scrape.
        One store per process: a newer one (a restarted service) replaces the last."""
        self._store_refresher = lambda: self.refresh_from_store(store)

    def add_refresher(self, refresh: Callable[[], None]) -> None:
        self._refreshers.append(refresh)

    def refresh_from_store(self, store: Store, now: dt.datetime | None = None) -> None:
        row = store.query("SELECT COUNT(*), MIN(created_at) FROM outbox WHERE sent_at IS NULL")[0]
        self.outbox_backlog.set(int(row[0]))
        age = 0.0
        if row[1]:
            oldest = dt.datetime.fromisoformat(str(row[1]))
            age = max(0.0, ((now or dt.datetime.now(dt.UTC)) - oldest).total_seconds())
        self.outbox_oldest_age.set(age)
        counts = {sev: 0 for sev in ("info", "warning", "critical")}
        for severity, n in store.query("SELECT severity, COUNT(*) FROM alerts WHERE"
                                       " acknowledged_at IS NULL GROUP BY severity"):
            counts[str(severity)] = int(n)
        for severity, n in counts.items():
            self.alerts_unacknowledged.labels(_label(severity)).set(n)

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes, after refreshing store-derived figures."""
        with self._lock:
            watched = self._store_refresher
            for refresh in [*self._refreshers, *([watched] if watched else [])]:
                refresh()
            return generate_latest(self.registry)


METRICS = GateMetrics()
"""The service's metrics; the module functions below record into it."""


def observe_decision(verdict: str, seconds: float) -> None:
    METRICS.observe_decision(verdict, seconds)


def observe_recognition(camera: str, seconds: float) -> None:
    METRICS.observe_recognition(camera, seconds)


def set_queue_depth(camera: str, depth: int) -> None:
    METRICS.set_queue_depth(camera, depth)


def count_dropped_frames(camera: str, n: int = 1) -> None:
    METRICS.count_dropped_frames(camera, n)


def set_broker_connected(connected: bool) -> None:
    METRICS.set_broker_connected(connected)


def set_device_up(kind: str, device: str, up: bool) -> None:
    METRICS.set_device_up(kind, device, up)


def count_clock_jump() -> None:
    METRICS.count_clock_jump()


def watch_store(store: Store) -> None:
    METRICS.watch_store(store)


def metrics_router(token: str | None, metrics: GateMetrics | None = None) -> APIRouter:
    """``GET /metrics`` behind ``Authorization: Bearer <token>``.

    Without a configured token the endpoint does not exist (404): metrics are opt-in, and a
    console reachable from the school network must not hand them out to anyone.
    """
    router = APIRouter()
    source = metrics or METRICS
    expected = f"Bearer {token}".encode() if token else None

    @router.get("/metrics", include_in_schema=False)
    def scrape(authorization: Annotated[str | None, Header()] = None) -> Response:
        if expected is None:
            raise HTTPException(status_code=404, detail="metrics are off ([console] "
                                                        "metrics_token is not set)")
        if authorization is None or not hmac.compare_digest(authorization.encode(), expected):
            raise HTTPException(status_code=401, detail="bearer token required",
                                headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
        return Response(source.exposition(), media_type=CONTENT_TYPE_LATEST,
                        headers={"Cache-Control": "no-store"})

    return router
