"""One batch of gate messages into PostgreSQL in one transaction, each message at most once.

The caller acknowledges the batch to RabbitMQ only after :func:`write_batch` returns, so a
crash before the commit re-delivers everything and the ``ON CONFLICT (site, gate, id) DO
NOTHING`` keys make the second copy a no-op.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from gate.hub.ingest import Record
from gate.hub.schema import ensure_partitions, month_start

INSERT_EVENTS = """
WITH batch AS (
    SELECT * FROM unnest(%(site)s::text[], %(gate)s::text[], %(id)s::text[],
                         %(ts)s::timestamptz[], %(type)s::text[], %(lane)s::text[],
                         %(direction)s::text[], %(method)s::text[], %(decision)s::text[],
                         %(person_id)s::text[], %(person_role)s::text[], %(person_class)s::text[],
                         %(payload)s::jsonb[])
        AS b(site, gate, id, ts, type, lane, direction, method, decision, person_id,
             person_role, person_class, payload)
), fresh AS (
    INSERT INTO event_ids (site, gate, id, ts)
    SELECT site, gate, id, ts FROM batch
    ON CONFLICT (site, gate, id) DO NOTHING
    RETURNING site, gate, id
)
INSERT INTO events (site, gate, id, ts, type, lane, direction, method, decision, person_id,
                    person_role, person_class, payload)
SELECT b.site, b.gate, b.id, b.ts, b.type, b.lane, b.direction, b.method, b.decision,
       b.person_id, b.person_role, b.person_class, b.payload
FROM batch b JOIN fresh USING (site, gate, id)
"""

INSERT_ALERTS = """
INSERT INTO alerts (site, gate, id, ts, type, severity, lane, snapshot, payload)
SELECT * FROM unnest(%(site)s::text[], %(gate)s::text[], %(id)s::text[], %(ts)s::timestamptz[],
                     %(type)s::text[], %(severity)s::text[], %(lane)s::text[],
                     %(snapshot)s::text[], %(payload)s::jsonb[])
ON CONFLICT (site, gate, id) DO NOTHING
"""

UPSERT_STATUS = """
INSERT INTO gate_status AS g (site, gate, state, version, status_ts, last_seen, backlog)
VALUES (%s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (site, gate) DO UPDATE SET
    state = CASE WHEN g.status_ts IS NULL OR excluded.status_ts >= g.status_ts
                 THEN excluded.state ELSE g.state END,
    version = CASE WHEN g.status_ts IS NULL OR excluded.status_ts >= g.status_ts
                   THEN excluded.version ELSE g.version END,
    backlog = CASE WHEN g.status_ts IS NULL OR excluded.status_ts >= g.status_ts
                   THEN excluded.backlog ELSE g.backlog END,
    status_ts = greatest(g.status_ts, excluded.status_ts),
    last_seen = greatest(g.last_seen, excluded.last_seen)
"""

SEEN = """
INSERT INTO gate_status AS g (site, gate, last_seen) VALUES (%s, %s, %s)
ON CONFLICT (site, gate) DO UPDATE SET last_seen = greatest(g.last_seen, excluded.last_seen)
"""


@dataclass
class Batch:
    records: list[Record] = field(default_factory=list)
    rejected: list[tuple[str, str, str]] = field(default_factory=list)  # key, reason, body

    def __len__(self) -> int:
        return len(self.records) + len(self.rejected)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _person(payload: dict[str, Any], key: str) -> str | None:
    person = payload.get("person")
    return _text(person.get(key)) if isinstance(person, dict) else None


def _columns(records: Iterable[Record], names: dict[str, Any]) -> dict[str, list[Any]]:
    cols: dict[str, list[Any]] = {name: [] for name in names}
    for rec in records:
        for name, getter in names.items():
            cols[name].append(getter(rec))
    return cols


# what every event and alert row has: where it came from, what it is, and the message itself
_ENVELOPE: dict[str, Any] = {
    "site": lambda r: r.site, "gate": lambda r: r.gate, "id": lambda r: r.id,
    "ts": lambda r: r.ts, "type": lambda r: r.type,
    "lane": lambda r: _text(r.payload.get("lane")),
    "payload": lambda r: Jsonb(r.payload),
}
EVENT_COLUMNS: dict[str, Any] = {
    **_ENVELOPE,
    "direction": lambda r: _text(r.payload.get("direction")),
    "method": lambda r: _text(r.payload.get("method")),
    "decision": lambda r: _text(r.payload.get("decision")),
    "person_id": lambda r: _person(r.payload, "id"),
    "person_role": lambda r: _person(r.payload, "role"),
    "person_class": lambda r: _person(r.payload, "class"),
}
ALERT_COLUMNS: dict[str, Any] = {
    **_ENVELOPE,
    "severity": lambda r: str(r.payload.get("severity")),
    "snapshot": lambda r: _text(r.payload.get("snapshot")),
}


def _key(rec: Record) -> tuple[str, str, str]:
    # one lock order for every consumer, so two batches sharing redelivered keys cannot deadlock
    return rec.key


class Writer:
    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self._months: set[dt.date] = set()

    def prepare(self, now: dt.datetime) -> None:
        """Creates this month's and next month's partitions ahead, so the first batch of a
        month does not wait for DDL (measured: about a second of p99 on a busy machine)."""
        this = month_start(now.astimezone(dt.UTC))
        later = this + dt.timedelta(days=32)
        following = dt.date(later.year, later.month, 1)
        ensure_partitions(self.conn, {this, following})
        self._months |= {this, following}

    def write_batch(self, batch: Batch) -> None:
        """Commits the whole batch or nothing; duplicates (also within the batch) are no-ops."""
        events: dict[tuple[str, str, str], Record] = {}
        alerts: dict[tuple[str, str, str], Record] = {}
        statuses: list[Record] = []
        seen: dict[tuple[str, str], dt.datetime] = {}
        for rec in batch.records:
            if rec.kind == "event":
                events.setdefault(rec.key, rec)
            elif rec.kind == "alert":
                alerts.setdefault(rec.key, rec)
            else:
                statuses.append(rec)
            where = (rec.site, rec.gate)
            seen[where] = max(seen.get(where, rec.ts), rec.ts)
        months = {month_start(r.ts.astimezone(dt.UTC)) for r in events.values()} - self._months
        if months:
            ensure_partitions(self.conn, months)
            self._months |= months
        with self.conn.transaction(), self.conn.cursor() as cur:
            if events:
                rows = sorted(events.values(), key=_key)
                cur.execute(INSERT_EVENTS, _columns(rows, EVENT_COLUMNS))
            if alerts:
                rows = sorted(alerts.values(), key=_key)
                cur.execute(INSERT_ALERTS, _columns(rows, ALERT_COLUMNS))
            for rec in sorted(statuses, key=lambda r: r.ts):
                backlog = rec.payload.get("backlog")
                cur.execute(UPSERT_STATUS, (
                    rec.site, rec.gate, rec.type, _text(rec.payload.get("version")), rec.ts,
                    rec.ts, backlog if isinstance(backlog, int) else None))
            for (site, gate), moment in sorted(seen.items()):
                cur.execute(SEEN, (site, gate, moment))
            if batch.rejected:
                cur.executemany("INSERT INTO rejected (routing_key, reason, body)"
                                " VALUES (%s, %s, %s)", batch.rejected)
