"""MQTT payloads and topics, exactly as the contract in README ("MQTT contract") says.

Receivers (police, parents' apps, the district hub) depend on these shapes:
every payload carries ``schema`` with a version, and ``id`` minted once so a
QoS 1 redelivery can be dropped by the receiver.

Two promises are kept here, in one place, for every origin of a message:
- the envelope (``schema``, ``id``, ``ts``, ``site``, ``gate``, ``type``,
  ``severity``) and the standard fields are built from typed models and can never
  be overwritten by the details of what triggered an alert (a watch-list entry has a
  ``severity`` and a ``type`` of its own: those go under ``trigger``);
- national ID numbers are masked (first 6 and last 4 characters at most) wherever
  they appear in details, under any key, at any depth.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gate.config import Config
from gate.identity import mask
from gate.records import Alert, Event, OutboxMessage, Person, new_id, rfc3339
from gate.vocab import EventType

EVENT_SCHEMA = "campus-gate/event/1"
ALERT_SCHEMA = "campus-gate/alert/1"
NOTIFICATION_SCHEMA = "campus-gate/notification/1"
STATUS_SCHEMA = "campus-gate/status/1"

#: Keys whose values are identity document numbers, whatever their format.
_ID_KEYS = frozenset({"id_number", "id_no", "national_id", "document_number"})
#: A mainland resident identity number (15 or 18 characters) inside any text.
_RESIDENT_ID = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])")


class Topics:
    def __init__(self, config: Config) -> None:
        root, site, gate = config.mqtt.root, config.site, config.gate
        self.site_root = f"{root}/{site}"
        self.gate_root = f"{root}/{site}/{gate}"

    @property
    def status(self) -> str:
        return f"{self.gate_root}/status"

    @property
    def acks(self) -> str:
        return f"{self.gate_root}/acks"

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


class PersonRef(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)
    id: str
    name: str
    role: str
    class_: str = Field("", alias="class")


class Envelope(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)
    schema_: str = Field(alias="schema")
    id: str
    ts: str
    site: str
    gate: str
    type: str
    severity: str


class EventFields(BaseModel):
    lane: str | None
    direction: str | None
    method: str | None
    decision: str | None
    reason: str | None
    person: PersonRef | None


class AlertFields(BaseModel):
    lane: str | None
    person: PersonRef | None
    snapshot: str | None


class ChildRef(BaseModel):
    id: str
    name: str


class GuardianFields(BaseModel):
    child: ChildRef
    lane: str | None
    event_id: str


RESERVED = frozenset(Envelope.model_fields) | {"schema"} | frozenset(AlertFields.model_fields) \
    | {"trigger", "snapshot_jpeg"}


def redact(value: Any, key: str = "") -> Any:
    """A copy of ``value`` with every identity document number masked."""
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v, key) for v in value]
    if isinstance(value, str):
        if key in _ID_KEYS:
            return mask(value)
        return _RESIDENT_ID.sub(lambda m: mask(m.group(1)), value)
    return value


def person_fields(person: Person | None) -> dict[str, Any] | None:
    ref = _person_ref(person)
    return None if ref is None else ref.model_dump(by_alias=True)


def _person_ref(person: Person | None) -> PersonRef | None:
    if person is None:
        return None
    return PersonRef(id=person.id, name=person.name, role=person.role,
                     class_=person.class_name)


def _dump(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def _envelope(config: Config, schema: str, msg_id: str, ts: str, kind: str,
              severity: str) -> Envelope:
    return Envelope(schema_=schema, id=msg_id, ts=ts, site=config.site, gate=config.gate,
                    type=kind, severity=severity)


def alert_payload(config: Config, alert: Alert, person: Person | None) -> dict[str, Any]:
    """The alert as police and guard get it: details first, so nothing of theirs can
    replace a field of the alert; colliding keys are kept under ``trigger``."""
    details = redact(alert.details)
    safe = {k: v for k, v in details.items() if k not in RESERVED}
    trigger = {k: v for k, v in details.items() if k in RESERVED}
    payload: dict[str, Any] = {**safe}
    if trigger:
        payload["trigger"] = trigger
    mode = config.mqtt.snapshot
    payload.update(AlertFields(lane=alert.lane, person=_person_ref(person),
                               snapshot=None if mode == "none" else alert.snapshot
                               ).model_dump(by_alias=True))
    if mode == "inline" and alert.snapshot and alert.snapshot_jpeg:
        inline = base64.b64encode(alert.snapshot_jpeg).decode()
        if len(inline) <= config.mqtt.snapshot_max_bytes:
            payload["snapshot_jpeg"] = inline  # base64 JPEG, capped by snapshot_max_bytes
    payload.update(_envelope(config, ALERT_SCHEMA, alert.id, rfc3339(alert.ts), alert.type,
                             alert.severity).model_dump(by_alias=True))
    return payload


def event_message(config: Config, event: Event, person: Person | None) -> OutboxMessage:
    payload = _envelope(config, EVENT_SCHEMA, event.id, rfc3339(event.ts), event.type,
                        "info").model_dump(by_alias=True)
    payload.update(EventFields(lane=event.lane, direction=event.direction, method=event.method,
                               decision=event.decision, reason=event.reason,
                               person=_person_ref(person)).model_dump(by_alias=True))
    return OutboxMessage(event.id, Topics(config).event(event.type), _dump(payload))


def alert_message(config: Config, alert: Alert, person: Person | None) -> OutboxMessage:
    return OutboxMessage(alert.id, Topics(config).alert(alert.type),
                         _dump(alert_payload(config, alert, person)))


def guardian_notification(config: Config, event: Event, child: Person,
                          guardian_id: str, kind: str | None = None) -> OutboxMessage:
    """What a parent's phone gets: the child's name, the gate, the time, and nothing
    biometric (no photo, no snapshot, no other child)."""
    msg_id = new_id()
    kind = kind or event.type
    payload = _envelope(config, NOTIFICATION_SCHEMA, msg_id, rfc3339(event.ts), kind,
                        "warning" if kind == EventType.EARLY_DEPARTURE else "info"
                        ).model_dump(by_alias=True)
    payload.update(GuardianFields(child=ChildRef(id=child.id, name=child.name),
                                  lane=event.lane, event_id=event.id).model_dump())
    return OutboxMessage(msg_id, Topics(config).guardian(guardian_id), _dump(payload))


def staff_notification(config: Config, staff_id: str, kind: str, ts: str,
                       fields: dict[str, Any]) -> OutboxMessage:
    """A host's phone: a visitor waiting for approval, or overstaying."""
    msg_id = new_id()
    payload = {**redact({k: v for k, v in fields.items() if k not in RESERVED})}
    payload.update(_envelope(config, NOTIFICATION_SCHEMA, msg_id, ts, kind,
                             "warning" if kind == "visitor_overstay" else "info"
                             ).model_dump(by_alias=True))
    return OutboxMessage(msg_id, Topics(config).staff(staff_id), _dump(payload))
