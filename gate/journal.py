"""The one way anything is recorded: rows and their outbox messages in one transaction,
then the fan-out.

Lanes, the visitor desk, absences, escalation, devices, fire and the console all
record through :meth:`Journal.record`, so every record gets the same payload rules
(gate/messages.py: typed envelopes, masked ID numbers), the same outbox and the same
live-feed fan-out. The order is fixed (docs/ARCHITECTURE.md, "The journal"):

1. build the outbox messages (pure);
2. one SQLite transaction: the entry's own state changes, the event, its alerts,
   audit rows and every outbox message;
3. after COMMIT only: the entry's action (a relay pulse), then listeners (the
   console's live feed, the MQTT sender's wake-up).

A relay therefore moves only after its decision is durable; the one exception, the
fire release, does not go through here first (gate/engine.py, ``set_fire_alarm``).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from gate.config import Config
from gate.messages import alert_message, event_message, guardian_notification, redact
from gate.records import Alert, Event, OutboxMessage, Person
from gate.store import Store
from gate.vocab import EventType

log = logging.getLogger("gate.journal")

Write = Callable[[sqlite3.Connection], None]


@dataclass(frozen=True)
class AuditRow:
    actor: str
    action: str
    target: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Entry:
    """Everything one happening records. ``writes`` are state changes of the same
    happening (a visit checked out, an alert marked escalated) that must commit or fail
    together with its rows; they run inside the transaction and touch only ``db``."""

    event: Event | None = None
    person: Person | None = None
    alerts: Sequence[Alert] = ()
    guardians: Sequence[str] = ()  # guardian ids to notify of the event
    notice: str | None = None  # what guardians are told, if not the event's type
    messages: Sequence[OutboxMessage] = ()  # other notifications (staff)
    audit: Sequence[AuditRow] = ()
    writes: Sequence[Write] = ()
    publish_event: bool = True


@dataclass(frozen=True)
class Decision:
    """What was journalled: the live feed, the demo and the console show these."""

    event: Event
    person: Person | None
    opened: bool
    alerts: tuple[Alert, ...] = ()
    journalled: bool = True  # False: the entry had no event row (``event`` is a stand-in)

    @property
    def alert(self) -> Alert | None:
        return self.alerts[0] if self.alerts else None


Listener = Callable[[Decision], None]


class JournalError(RuntimeError):
    """Misuse that would break "journal first"."""


class Journal:
    def __init__(self, config: Config, store: Store) -> None:
        self.config = config
        self.store = store
        self._listeners: list[Listener] = []
        self._listeners_lock = threading.Lock()

    def subscribe(self, listener: Listener) -> None:
        with self._listeners_lock:
            self._listeners.append(listener)

    def messages_for(self, entry: Entry) -> list[OutboxMessage]:
        out: list[OutboxMessage] = []
        if entry.event is not None and entry.publish_event:
            out.append(event_message(self.config, entry.event, entry.person))
        if entry.event is not None and entry.person is not None:
            out += [guardian_notification(self.config, entry.event, entry.person, g,
                                          entry.notice) for g in entry.guardians]
        out += [alert_message(self.config, a, entry.person) for a in entry.alerts]
        out += list(entry.messages)
        return out

    def record(self, entry: Entry, opened: bool = False,
               act: Callable[[], None] | None = None) -> Decision:
        """Commit the entry, then ``act`` (the relay), then tell the listeners.

        Raises what SQLite raises (a full disk): nothing was recorded, nothing acted on.
        """
        if self.store.in_transaction():
            raise JournalError("Journal.record inside an open transaction: its action would "
                               "run before the outer COMMIT")
        alerts = tuple(replace(a, details=redact(a.details)) for a in entry.alerts)
        entry = replace(entry, alerts=alerts)
        messages = self.messages_for(entry)
        self.store.write_entry(entry.event, alerts, messages,
                               [(a.actor, a.action, a.target, a.details) for a in entry.audit],
                               entry.writes)
        if act is not None:
            try:
                act()
            except Exception:
                log.exception("action after the journal failed (the record stands)")
        event = entry.event or Event(type=EventType.SYSTEM, ts=self.store.now(),
                                     decision="none", reason="record")
        decision = Decision(event, entry.person, opened, alerts, entry.event is not None)
        with self._listeners_lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(decision)
            except Exception:
                log.exception("journal listener failed")
        return decision
