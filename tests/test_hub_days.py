"""The district page's day: the site's local calendar day, tested at its edges on PostgreSQL.

The fixture day is a fixed date, so these tests give the same answer at any hour of the
machine's clock; the page's "now" is passed in, as the web app's injected clock passes it.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from gate.hub.auth import Db
from gate.hub.ingest import parse
from gate.hub.schema import migrate
from gate.hub.views import day_bounds, open_alerts, schools
from gate.hub.writer import Batch, Writer
from tests.hub_helpers import Postgres, postgres  # noqa: F401

TZ = ZoneInfo("Asia/Shanghai")
DAY = dt.date(2026, 3, 2)                    # a Monday; the day before is 1 March


def local(day: dt.date, hh: int, mm: int, ss: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hh, mm, ss), TZ)


BEFORE = DAY - dt.timedelta(days=1)


def test_day_bounds_are_local_midnights_whatever_the_offset_of_now() -> None:
    start, end = day_bounds(TZ, local(DAY, 0, 0))
    assert (start, end) == (local(DAY, 0, 0), local(DAY + dt.timedelta(days=1), 0, 0))
    # 23:59 local is 15:59 UTC the same date; 00:01 local is 16:01 UTC the date before
    assert day_bounds(TZ, local(BEFORE, 23, 59).astimezone(dt.UTC))[0] == local(BEFORE, 0, 0)
    assert day_bounds(TZ, local(DAY, 0, 1).astimezone(dt.UTC))[0] == local(DAY, 0, 0)
    assert day_bounds(TZ, local(DAY, 0, 0) - dt.timedelta(microseconds=1))[1] == local(DAY, 0, 0)


def test_a_day_with_a_dst_change_keeps_its_true_length() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    start, end = day_bounds(berlin, dt.datetime(2026, 3, 29, 12, tzinfo=berlin))
    assert end.astimezone(dt.UTC) - start.astimezone(dt.UTC) == dt.timedelta(hours=23)


def message(kind: str, type_: str, ts: dt.datetime, **extra: Any) -> tuple[str, bytes]:
    body = {"schema": f"campus-gate/{kind}/1", "id": str(uuid.uuid4()),
            "ts": ts.isoformat(timespec="milliseconds"), "site": "zqxx", "gate": "main",
            "type": type_, "severity": extra.pop("severity", "info"), **extra}
    section = {"event": "events", "alert": "alerts"}[kind]
    return f"campus.zqxx.main.{section}.{type_}", json.dumps(body).encode()


@pytest.fixture
def db(postgres: Postgres) -> Iterator[Db]:  # noqa: F811
    """A fresh hub database with arrivals and alerts around the local midnight of ``DAY``."""
    conn = psycopg.connect(postgres.new_database(), autocommit=True)
    migrate(conn)
    batch = Batch()
    for n, at in enumerate((local(BEFORE, 23, 59), local(DAY, 0, 0), local(DAY, 0, 1))):
        batch.records.append(parse(*message(  # type: ignore[arg-type]
            "event", "arrival", at, person={"id": f"p{n}", "role": "student"})))
    alerts: dict[str, str] = {}
    for name, at in (("late_night", local(BEFORE, 23, 55)), ("at_midnight", local(DAY, 0, 0)),
                     ("last_second", local(DAY, 23, 59, 59))):
        rec = parse(*message("alert", "tailgating", at, severity="critical"))
        assert rec is not None
        alerts[name] = rec.id
        batch.records.append(rec)
    Writer(conn).write_batch(batch)
    # raised at 23:55, acknowledged at 00:03 the next day: 8 minutes, within ack_minutes (10)
    conn.execute("INSERT INTO alert_acks (site, gate, alert_id, by_user, ts) VALUES"
                 " ('zqxx', 'main', %s, 'officer', %s)",
                 (alerts["late_night"], local(DAY, 0, 3)))
    try:
        yield Db(conn)
    finally:
        conn.close()


def counts(db: Db, now: dt.datetime) -> tuple[int, int, int, int]:
    (row,) = schools(db, TZ, 10, now)
    return row["arrivals"], row["raised"], row["acknowledged"], row["acknowledged_in_time"]


@pytest.mark.slow
def test_arrivals_and_alerts_count_on_the_local_day_they_happened(db: Db) -> None:
    # at 23:59 the day before: the 23:59 arrival and the 23:55 alert, acknowledged in time
    # (its acknowledgement came after midnight, but the alert belongs to the day it was raised)
    assert counts(db, local(BEFORE, 23, 59, 30)) == (1, 1, 1, 1)
    # from 00:00: the 00:00 and 00:01 arrivals, the 00:00 and 23:59:59 alerts, none acknowledged
    assert counts(db, local(DAY, 0, 0)) == (2, 2, 0, 0)
    assert counts(db, local(DAY, 0, 1)) == (2, 2, 0, 0)
    # the same instants given in UTC land on the same local days
    assert counts(db, local(DAY, 0, 1).astimezone(dt.UTC)) == (2, 2, 0, 0)
    assert counts(db, local(BEFORE, 23, 59).astimezone(dt.UTC)) == (1, 1, 1, 1)


@pytest.mark.slow
def test_open_alerts_look_back_from_the_clock_given(db: Db) -> None:
    seen = {a["ts"] for a in open_alerts(db, local(DAY, 0, 10), hours=24)}
    # the acknowledged 23:55 alert is closed; the open ones raised since 00:10 yesterday show
    assert len(seen) == 2
    assert open_alerts(db, local(DAY + dt.timedelta(days=2), 12, 0), hours=24) == []
