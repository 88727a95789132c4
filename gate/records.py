"""The records the gate keeps: plain data shared by the engine, store, publisher and console."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from gate.vocab import Severity

Role = Literal["student", "staff"]


def new_id() -> str:
    """A message/record id; it is minted once and travels unchanged through every retry."""
    return str(uuid.uuid4())


def rfc3339(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("timestamps must carry a time zone")
    return moment.isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    role: Role = "student"
    class_name: str = ""
    face_consent: bool = False
    active: bool = True


@dataclass(frozen=True)
class Guardian:
    id: str
    name: str = ""
    phone: str = ""


@dataclass(frozen=True)
class Event:
    """A passage or decision at a lane (arrival, departure, denied, vehicle_in, ...)."""

    type: str
    ts: dt.datetime
    lane: str | None = None
    direction: str | None = None
    method: str | None = None
    person_id: str | None = None
    decision: str | None = None
    reason: str | None = None
    snapshot: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=new_id)


@dataclass(frozen=True)
class Alert:
    type: str
    severity: Severity
    ts: dt.datetime
    lane: str | None = None
    person_id: str | None = None
    snapshot: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=new_id)
    # The evidence JPEG in memory, for ``mqtt.snapshot = "inline"``; never stored in the row.
    snapshot_jpeg: bytes | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class OutboxMessage:
    """One MQTT publication waiting for the broker's acknowledgement."""

    msg_id: str
    topic: str
    payload: str
    qos: int = 1
    retain: bool = False
    seq: int = 0
