"""The core's pieces on their own: journal, payload rules, scheduler, supervisor, throttled logs.

Real SQLite files; no dlib; the clock is injected wherever time matters.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from pathlib import Path

import pytest

from gate.config import parse_config
from gate.journal import AuditRow, Entry, Journal, JournalError
from gate.log_throttle import Throttle
from gate.messages import alert_message, redact
from gate.records import Alert, Event, Person
from gate.scheduler import Scheduler
from gate.store import Store
from gate.supervisor import Supervisor
from gate.vocab import AlertType, EventType, Severity
from tests.conftest import TZ
from tests.ptys import wait_for

CONFIG = parse_config({"site": "zqxx", "gate": "main"})
NOW = dt.datetime(2026, 11, 23, 8, 0, tzinfo=TZ)


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def watch_alert(**details: object) -> Alert:
    return Alert(type=AlertType.WATCHLIST_FACE, severity=Severity.CRITICAL, ts=NOW, lane="L1",
                 details=dict(details))


def test_details_never_overwrite_the_envelope_and_id_numbers_are_masked() -> None:
    entry = {"list": "police", "entry_id": "P7", "name": "Zhang San",
             "id_number": "11010519491231002X", "severity": "info", "type": "person",
             "id": "forged", "schema": "x", "note": "seen with 11010519491231002X today"}
    payload = json.loads(alert_message(CONFIG, watch_alert(**entry), None).payload)
    assert payload["severity"] == "critical" and payload["type"] == "watchlist_face"
    assert payload["schema"] == "campus-gate/alert/1" and payload["id"] != "forged"
    assert payload["trigger"] == {"severity": "info", "type": "person", "id": "forged",
                                  "schema": "x"}
    text = json.dumps(payload, ensure_ascii=False)
    assert "11010519491231002X" not in text
    assert payload["id_number"] == "110105********002X"
    assert "110105********002X" in payload["note"]


def test_redact_reaches_every_depth() -> None:
    out = redact({"visitor": {"id_number": "A1234567"}, "rows": [{"x": "11010519491231002X"}]})
    assert out == {"visitor": {"id_number": "A1**4567"},
                   "rows": [{"x": "110105********002X"}]}


@pytest.fixture
def journal(store: Store) -> Journal:
    return Journal(CONFIG, store)


def test_entry_commits_rows_audit_outbox_and_state_together(store: Store,
                                                            journal: Journal) -> None:
    person = Person("S1", "Li Lei", face_consent=False)
    store.upsert_person(person)
    event = Event(type=EventType.ARRIVAL, ts=NOW, lane="L1", person_id="S1", decision="open")
    seen: list[str] = []
    journal.subscribe(lambda d: seen.append(d.event.id))

    def bad(_db: object) -> None:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        journal.record(Entry(event=event, person=person, writes=(bad,)))
    assert store.count("events") == 0 and store.pending_count() == 0 and seen == []

    acted: list[int] = []

    def act() -> None:  # the relay: runs after COMMIT, so the row is visible to others
        other = Store(store.data_dir, TZ)
        try:
            acted.append(other.count("events"))
        finally:
            other.close()

    d = journal.record(Entry(event=event, person=person, guardians=("G1",),
                             audit=(AuditRow("guard1", "manual_note"),)), opened=True, act=act)
    assert acted == [1] and seen == [event.id] and d.opened
    topics = [m.topic for m in store.pending_outbox()]
    assert topics == ["campus/zqxx/main/events/arrival",
                      "campus/zqxx/guardians/G1/notifications"]
    assert store.count("audit_log") == 1


def test_record_inside_an_open_transaction_is_refused(store: Store, journal: Journal) -> None:
    with store.transaction(), pytest.raises(JournalError):
        journal.record(Entry(alerts=[watch_alert()]))
    assert store.count("alerts") == 0


def test_alert_details_are_stored_masked(store: Store, journal: Journal) -> None:
    journal.record(Entry(alerts=[watch_alert(id_number="11010519491231002X")]))
    [row] = store.query("SELECT details FROM alerts")
    assert json.loads(row[0])["id_number"] == "110105********002X"


def test_scheduler_runs_due_jobs_in_order_with_an_injected_clock() -> None:
    clock = FakeClock()
    s = Scheduler(clock)
    ran: list[str] = []
    s.call_later(2, lambda: ran.append("b"))
    s.call_later(1, lambda: ran.append("a"))
    s.every(5, lambda: ran.append("tick"))
    s.call_later(0.5, lambda: 1 / 0)  # a failing job is logged, the others still run
    assert s.run_due() == 0
    clock.t += 2
    assert s.run_due() == 3 and ran == ["a", "b"]
    clock.t += 3
    s.run_due()
    clock.t += 5
    s.run_due()
    assert ran == ["a", "b", "tick", "tick"]


def test_supervisor_restarts_a_crashed_loop_and_reports_it() -> None:
    faults: list[tuple[str, str, bool]] = []
    runs: list[int] = []

    def loop(stop: threading.Event) -> None:
        runs.append(1)
        if len(runs) < 3:
            raise OSError("boom")
        stop.wait()

    sup = Supervisor(on_fault=lambda *a: faults.append(a))
    sup.add_loop("worker", "test", loop, critical=True, max_backoff_s=0.1)
    sup.start()
    try:
        wait_for(lambda: len(runs) == 3 and sup.alive(), timeout=10, what="restarts")
        assert [f[:1] for f in faults] == [("worker",), ("worker",)]
        assert "OSError: boom" in faults[0][1] and faults[0][2] is True
        row = sup.health.get("worker")
        assert row.restarts == 2 and row.up
    finally:
        sup.stop()


def test_device_changes_are_debounced_and_reported_once() -> None:
    state = {"up": True}
    told: list[tuple[str, bool]] = []
    sup = Supervisor(on_device=lambda name, kind, up, err, crit: told.append((name, up)),
                     debounce_s=1.0)
    sup.add_probe("reader L1-in", "reader", lambda: (state["up"], None if state["up"] else "gone"))
    sup.poll_probes(0.0)
    sup.poll_probes(1.5)
    assert told == []  # coming up at start is not news
    state["up"] = False
    sup.poll_probes(2.0)
    sup.poll_probes(2.5)
    assert told == []  # a blip shorter than the debounce
    sup.poll_probes(3.1)
    sup.poll_probes(4.0)
    assert told == [("reader L1-in", False)]
    state["up"] = True
    sup.poll_probes(5.0)
    sup.poll_probes(6.1)
    assert told == [("reader L1-in", False), ("reader L1-in", True)]


def test_repeated_log_lines_are_throttled_with_a_count(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    t = Throttle(logging.getLogger("test.throttle"), 30, clock)
    with caplog.at_level(logging.WARNING, "test.throttle"):
        written = [t.log(logging.WARNING, "r1", "bad frame %d", i) for i in range(236)]
        clock.t += 31
        t.log(logging.WARNING, "r1", "bad frame %d", 999)
    assert sum(written) == 1
    assert [r.getMessage() for r in caplog.records] == [
        "bad frame 0", "bad frame 999 (235 more like this in the last 30 s)"]


def test_config_numbers_must_be_numbers(tmp_path: Path) -> None:
    from gate.config import ConfigError, load_config

    bad = tmp_path / "gate.toml"
    bad.write_text('[mqtt]\nport = "1883"\n')
    with pytest.raises(ConfigError, match=r"mqtt\.port"):
        load_config(bad)
    good = tmp_path / "ok.toml"
    good.write_text('data_dir = "/tmp/x"\n[calendar]\nholidays = [2026-10-01]\n'
                    '[mqtt]\nport = 1883\n[fire_alarm]\nkind = "simulated"\npath = "/tmp/f"\n'
                    'on_input_lost = "hold"\n')
    assert load_config(good).fire_alarm.on_input_lost == "hold"
