"""MQTT payloads and topics, exactly as the contract in DESIGN.md/README says.

Receivers (police, parents' apps, the district hub) depend on these shapes:
every payload carries ``schema`` with a version, and ``id`` minted once so a
QoS 1 redelivery can be dropped by the receiver.
"""

from __future__ import annotations

import json
from typing import Any

from gate.config import Config
from gate.records import Alert, Event, OutboxMessage, Person, new_id, rfc3339

EVENT_SCHEMA = "campus-gate/event/1"
ALERT_SCHEMA = "campus-gate/alert/1"
NOTIFICATION_SCHEMA = "campus-gate/notification/1"
STATUS_SCHEMA = "campus-gate/status/1"


class Topics:
    def __init__(self, config: Config) -> None:
        root, site, gate = config.mqtt.root, config.site, config.gate
        self.site_root = f"{root}/{site}"
        self.gate_root = f"{root}/{site}/{gate}"

    @property
    def status(self) -> str:
        return f"{self.gate_root}/status"

    def event(self, kind: str) -> str:
        return f"{self.gate_root}/events/{kind}"

    def alert(self, kind: str) -> str:
        return f"{self.gate_root}/alerts/{kind}"

    def guardian(self, guardian_id: str) -> str:
        return f"{self.site_root}/guardians/{guardian_id}/notifications"

    def staff(self, staff_id: str) -> str:
        return f"{self.site_root}/staff/{staff_id}/notifications"

    def watchlist(self, name: str = "+") -> str:
        return f"{self.site_root}/watchlist/{name}"


def _envelope(config: Config, schema: str, msg_id: str, ts: str, kind: str,
              severity: str) -> dict[str, Any]:
    return {"schema": schema, "id": msg_id, "ts": ts, "site": config.site, "gate": config.gate,
            "type": kind, "severity": severity}


def person_fields(person: Person | None) -> dict[str, Any] | None:
    if person is None:
        return None
    return {"id": person.id, "name": person.name, "role": person.role, "class": person.class_name}


def _dump(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def event_message(config: Config, event: Event, person: Person | None) -> OutboxMessage:
    payload = _envelope(config, EVENT_SCHEMA, event.id, rfc3339(event.ts), event.type, "info")
    payload.update(lane=event.lane, direction=event.direction, method=event.method,
                   decision=event.decision, reason=event.reason, person=person_fields(person))
    return OutboxMessage(event.id, Topics(config).event(event.type), _dump(payload))


def alert_message(config: Config, alert: Alert, person: Person | None) -> OutboxMessage:
    payload = _envelope(config, ALERT_SCHEMA, alert.id, rfc3339(alert.ts), alert.type,
                        alert.severity)
    payload.update(lane=alert.lane, person=person_fields(person), snapshot=alert.snapshot,
                   **alert.details)
    return OutboxMessage(alert.id, Topics(config).alert(alert.type), _dump(payload))


def guardian_notification(config: Config, event: Event, child: Person,
                          guardian_id: str) -> OutboxMessage:
    """What a parent's phone gets: the child's name, the gate, the time, and nothing biometric."""
    msg_id = new_id()
    payload = _envelope(config, NOTIFICATION_SCHEMA, msg_id, rfc3339(event.ts), event.type,
                        "warning" if event.type == "early_departure" else "info")
    payload.update(child={"id": child.id, "name": child.name}, lane=event.lane,
                   event_id=event.id)
    return OutboxMessage(msg_id, Topics(config).guardian(guardian_id), _dump(payload))
