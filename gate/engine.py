"""Decides at each lane who passes, and journals every decision before acting on it.

Order matters: the decision, its passage or alert, and the MQTT messages that
announce it are committed to SQLite first; only then does the relay move and
the live feed hear of it. A crash between the two loses a gate opening, never
a record.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from gate.actuator import Relay
from gate.config import Config
from gate.messages import alert_message, event_message, guardian_notification
from gate.records import Alert, Event, OutboxMessage, Person
from gate.store import Store
from rfid.reader import CardRead

log = logging.getLogger("gate.engine")


@dataclass(frozen=True)
class Decision:
    """What the engine decided and journalled; the live feed and the demo show these."""

    event: Event
    person: Person | None
    opened: bool
    alert: Alert | None = None


Listener = Callable[[Decision], None]


class Engine:
    def __init__(self, config: Config, store: Store, relays: dict[str, Relay]) -> None:
        self.config = config
        self.store = store
        self.relays = relays
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()
        self._lane_of_reader = {r.id: lane.id for lane in config.lanes for r in lane.readers}

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def on_card(self, read: CardRead) -> Decision:
        """A card presented at a lane reader: a lookup in the local database, never the network."""
        lane = self._lane_of_reader.get(read.reader, read.reader)
        with self._lock:
            person = self.store.person_for_card(read.card.keys())
            now = self.store.now()
            if person is None:
                event = Event(type="denied", ts=now, lane=lane, direction=read.direction,
                              method="card", decision="deny", reason="unknown_card",
                              details={"card": read.card.uid})
                alert = Alert(type="unknown_card", severity="warning", ts=now, lane=lane,
                              details={"card": read.card.uid, "reader": read.reader})
                decision = Decision(event, None, opened=False, alert=alert)
            else:
                kind = "arrival" if read.direction == "entry" else "departure"
                event = Event(type=kind, ts=now, lane=lane, direction=read.direction,
                              method="card", person_id=person.id, decision="open",
                              reason="valid_card")
                decision = Decision(event, person, opened=True)
            self._journal(decision)
        if decision.opened and lane in self.relays:
            self.relays[lane].pulse()
        self._announce(decision)
        return decision

    def _journal(self, decision: Decision) -> None:
        event, person = decision.event, decision.person
        messages: list[OutboxMessage] = [event_message(self.config, event, person)]
        if person is not None and person.role == "student" and event.type in ("arrival",
                                                                             "departure"):
            messages += [guardian_notification(self.config, event, person, g.id)
                         for g in self.store.guardians_of(person.id)]
        with self.store.transaction():
            self.store.record_event(event, messages)
            if decision.alert is not None:
                self.store.record_alert(decision.alert, [
                    alert_message(self.config, decision.alert, person)])

    def _announce(self, decision: Decision) -> None:
        for listener in self._listeners:
            try:
                listener(decision)
            except Exception:
                log.exception("decision listener failed")
