"""What the district page shows, as SQL over the hub's tables (one function per panel)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from gate.hub.auth import Db

# Not incidents: they do not count as alerts raised in the closed-loop figures.
NOT_INCIDENTS = ("device_online", "alert_escalated")


def utc_now() -> dt.datetime:
    """The hub's clock; the web app takes another (tests pin the site's local day with it)."""
    return dt.datetime.now(dt.UTC)


def day_bounds(tz: ZoneInfo, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The site's local calendar day that holds ``now``, as [start, end).

    A school's day runs from local midnight to local midnight (README "District hub"), so an
    alert raised at 23:55 counts on the day it was raised even when it is acknowledged after
    midnight. Built through the calendar date, so a day with a DST change keeps its true length.
    """
    day = now.astimezone(tz).date()
    start = dt.datetime.combine(day, dt.time(), tz)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tz)
    return start, end


def gates(db: Db, now: dt.datetime) -> list[dict[str, Any]]:
    out = []
    for site, gate, state, version, last_seen, backlog in db.rows(
            "SELECT site, gate, state, version, last_seen, backlog FROM gate_status"
            " ORDER BY site, gate"):
        out.append({"site": site, "gate": gate, "state": state or "unknown",
                    "version": version, "last_seen": last_seen.isoformat(),
                    "silent_s": round((now - last_seen).total_seconds()), "backlog": backlog})
    return out


def schools(db: Db, tz: ZoneInfo, ack_minutes: int, now: dt.datetime) -> list[dict[str, Any]]:
    """Per school (site): the arrivals and the closed loop of the alerts of the site's local
    day that holds ``now``; an alert belongs to the day it was raised, wherever its
    acknowledgement falls."""
    start, end = day_bounds(tz, now)
    arrivals = {site: (n, people) for site, n, people in db.rows(
        "SELECT site, count(*), count(DISTINCT person_id) FROM events WHERE type = 'arrival'"
        " AND ts >= %s AND ts < %s GROUP BY site", (start, end))}
    loop = {row[0]: row[1:] for row in db.rows(
        "SELECT a.site,"
        " count(*) FILTER (WHERE a.type <> ALL(%(skip)s)),"
        " count(k.alert_id) FILTER (WHERE a.type <> ALL(%(skip)s)),"
        " count(k.alert_id) FILTER (WHERE a.type <> ALL(%(skip)s)"
        "   AND k.ts <= a.ts + make_interval(mins => %(mins)s)),"
        " count(*) FILTER (WHERE a.type = 'alert_escalated')"
        " FROM alerts a LEFT JOIN alert_acks k"
        "   ON k.site = a.site AND k.gate = a.gate AND k.alert_id = a.id"
        " WHERE a.ts >= %(start)s AND a.ts < %(end)s AND a.severity <> 'info'"
        " GROUP BY a.site",
        {"skip": list(NOT_INCIDENTS), "mins": ack_minutes, "start": start, "end": end})}
    sites = sorted({r[0] for r in db.rows("SELECT DISTINCT site FROM gate_status")}
                   | set(arrivals) | set(loop))
    out = []
    for site in sites:
        n, people = arrivals.get(site, (0, 0))
        raised, acked, in_time, escalated = loop.get(site, (0, 0, 0, 0))
        out.append({"site": site, "arrivals": n, "pupils": people, "raised": raised,
                    "acknowledged": acked, "acknowledged_in_time": in_time,
                    "escalated": escalated,
                    "rate": round(in_time / raised, 3) if raised else None})
    return out


def open_alerts(db: Db, now: dt.datetime, hours: int = 24,
                limit: int = 200) -> list[dict[str, Any]]:
    since = now - dt.timedelta(hours=hours)
    out = []
    for site, gate, msg_id, ts, kind, severity, lane, snapshot, payload in db.rows(
            "SELECT a.site, a.gate, a.id, a.ts, a.type, a.severity, a.lane, a.snapshot,"
            " a.payload FROM alerts a LEFT JOIN alert_acks k"
            "   ON k.site = a.site AND k.gate = a.gate AND k.alert_id = a.id"
            " WHERE k.alert_id IS NULL AND a.ts >= %s AND a.severity <> 'info'"
            " AND a.type <> ALL(%s) ORDER BY a.ts DESC LIMIT %s",
            (since, list(NOT_INCIDENTS), limit)):
        person = payload.get("person") if isinstance(payload.get("person"), dict) else None
        out.append({"site": site, "gate": gate, "id": msg_id, "ts": ts.isoformat(),
                    "type": kind, "severity": severity, "lane": lane, "snapshot": snapshot,
                    "person": person.get("name") if person else None,
                    "plate": payload.get("plate")})
    return out
