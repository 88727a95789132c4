"""Figures of an ingest run, from the rows themselves: counts, once-only, rate and latency.

``ts`` is the gate's clock at publication and ``stored_at`` the database clock at insertion;
on one machine they are the same clock, so their difference is the gate-to-row latency.
"""

from __future__ import annotations

from typing import Any

import psycopg

FIGURES = """
SELECT count(*),
       count(DISTINCT (site, gate, id)),
       coalesce(percentile_cont(0.5) WITHIN GROUP (
           ORDER BY extract(epoch FROM stored_at - ts)), 0) * 1000,
       coalesce(percentile_cont(0.99) WITHIN GROUP (
           ORDER BY extract(epoch FROM stored_at - ts)), 0) * 1000,
       coalesce(extract(epoch FROM max(stored_at) - min(ts)), 0)
FROM events
"""


def ingest_figures(conn: psycopg.Connection[Any]) -> dict[str, float]:
    row = conn.execute(FIGURES).fetchone()
    assert row is not None
    rows, distinct, p50, p99, span = (float(v) for v in row)
    return {"events": rows, "distinct": distinct, "latency_p50_ms": round(p50, 1),
            "latency_p99_ms": round(p99, 1), "span_s": round(span, 2),
            "events_per_s": round(rows / span, 1) if span > 0 else 0.0}
