"""PostgreSQL schema of the hub: numbered SQL migrations and monthly event partitions.

Several hub processes start at once (competing consumers), so migrating and creating a
partition both run under a PostgreSQL advisory lock: the second process waits, then finds
the work done.
"""

from __future__ import annotations

import datetime as dt
import re
from importlib import resources

import psycopg

MIGRATION_LOCK = 0x6A7562   # arbitrary, fixed: "hub"
PARTITION_LOCK = 0x6A7563
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def migrations() -> list[tuple[int, str, str]]:
    """(version, file name, SQL) of every shipped migration, in order."""
    found = []
    for entry in resources.files("gate.hub").joinpath("migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def migrate(conn: psycopg.Connection[object]) -> list[int]:
    """Brings the schema up to date; returns the versions applied now."""
    applied: list[int] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version int PRIMARY KEY,"
                     " name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())")
        row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
        current = int(row[0]) if row else 0   # type: ignore[index]
        for version, name, sql in migrations():
            if version <= current:
                continue
            conn.execute(sql.encode())
            conn.execute("INSERT INTO schema_version (version, name) VALUES (%s, %s)",
                         (version, name))
            applied.append(version)
    return applied


def month_start(moment: dt.datetime) -> dt.date:
    return dt.date(moment.year, moment.month, 1)


def partition_name(month: dt.date) -> str:
    return f"events_{month.year:04d}_{month.month:02d}"


def ensure_partitions(conn: psycopg.Connection[object], months: set[dt.date]) -> None:
    """Creates the monthly partitions of ``events`` that do not exist yet.

    Month bounds are taken in UTC, so a partition holds one calendar month of UTC time.
    """
    if not months:
        return
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (PARTITION_LOCK,))
        for month in sorted(months):
            nxt = dt.date(month.year + (month.month == 12), month.month % 12 + 1, 1)
            bounds = f"FROM ('{month.isoformat()} 00:00+00') TO ('{nxt.isoformat()} 00:00+00')"
            conn.execute(f"CREATE TABLE IF NOT EXISTS {partition_name(month)} PARTITION OF events"
                         f" FOR VALUES {bounds}".encode())


def drop_months_before(conn: psycopg.Connection[object], cutoff: dt.date) -> list[str]:
    """Retention: drops whole monthly partitions of ``events`` that end on or before the
    first day of ``cutoff``'s month (cheap, no row-by-row delete), and the once-only keys of
    those events. Returns the partitions dropped."""
    first = dt.date(cutoff.year, cutoff.month, 1)
    dropped = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (PARTITION_LOCK,))
        rows = conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'events'").fetchall()
        for name in sorted(str(row[0]) for row in rows):  # type: ignore[index]
            match = re.fullmatch(r"events_(\d{4})_(\d{2})", name)
            if match and dt.date(int(match.group(1)), int(match.group(2)), 1) < first:
                conn.execute(f"DROP TABLE {name}".encode())
                dropped.append(name)
        conn.execute("DELETE FROM event_ids WHERE ts < %s",
                     (dt.datetime(first.year, first.month, 1, tzinfo=dt.UTC),))
    return dropped
