"""The gate's vocabulary: one set of names shared by the rules, the store, the console and
the MQTT schema.

They are ``StrEnum``s so that a value is also the plain string that SQLite stores and
JSON carries: receivers of the MQTT contract never see an enum, and a typo in code is
caught by mypy instead of producing a new, silent event type.
"""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    ARRIVAL = "arrival"
    DEPARTURE = "departure"
    DENIED = "denied"
    VEHICLE_IN = "vehicle_in"
    VEHICLE_OUT = "vehicle_out"
    VEHICLE_DENIED = "vehicle_denied"
    VISITOR_IN = "visitor_in"
    VISITOR_OUT = "visitor_out"
    FACE_SEEN = "face_seen"
    ABSENT = "absent"
    EARLY_DEPARTURE = "early_departure"  # only as what a guardian is told
    MANUAL_OPEN = "manual_open"
    FIRE_ALARM_CLEARED = "fire_alarm_cleared"
    FIRE_RESET = "fire_reset"
    SYSTEM = "system"


#: Passages: a person or vehicle went through a lane (published under ``events/``).
PASSAGES = frozenset({EventType.ARRIVAL, EventType.DEPARTURE, EventType.VEHICLE_IN,
                      EventType.VEHICLE_OUT, EventType.VISITOR_IN, EventType.VISITOR_OUT})


class Verdict(StrEnum):
    OPEN = "open"
    DENY = "deny"
    GUARD = "guard"  # the guard decides (an unregistered vehicle)
    NONE = "none"  # nothing to open: a record only


class Method(StrEnum):
    CARD = "card"
    CARD_FACE = "card+face"
    FACE = "face"
    QR = "qr"
    PLATE = "plate"
    MANUAL = "manual"
    DESK = "desk"
    FIRE = "fire"
    SYSTEM = "system"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class AlertType(StrEnum):
    VISITOR_REGISTERED = "visitor_registered"
    VISITOR_FLAGGED = "visitor_flagged"
    VISITOR_OVERSTAY = "visitor_overstay"
    VISITOR_RESTRICTED_ZONE = "visitor_restricted_zone"
    WATCHLIST_FACE = "watchlist_face"
    WATCHLIST_PLATE = "watchlist_plate"
    WATCHLIST_REJECTED = "watchlist_rejected"
    CARD_FACE_MISMATCH = "card_face_mismatch"
    UNKNOWN_CARD = "unknown_card"
    UNKNOWN_PASS = "unknown_pass"
    ANTI_PASSBACK = "anti_passback"
    TAILGATING = "tailgating"
    LOITERING = "loitering"
    CIRCLING_VEHICLE = "circling_vehicle"
    INTRUSION = "intrusion"
    EARLY_DEPARTURE = "early_departure"
    SPOOF_ATTEMPT = "spoof_attempt"
    FIRE_ALARM = "fire_alarm"
    FIRE_INPUT_FAULT = "fire_input_fault"  # the input cannot be read: wiring, not a fire
    FIRE_INPUT_RESTORED = "fire_input_restored"
    DEVICE_OFFLINE = "device_offline"
    DEVICE_ONLINE = "device_online"
    SERVICE_FAULT = "service_fault"
    ALERT_ESCALATED = "alert_escalated"
    GATE_FORCED = "gate_forced"


class VisitorState(StrEnum):
    AWAITING_HOST = "awaiting_host"
    FLAGGED = "flagged"
    SCREENING_UNAVAILABLE = "screening_unavailable"
    REFUSED = "refused"
    APPROVED = "approved"
    DECLINED = "declined"
    ON_SITE = "on_site"
    CHECKED_OUT = "checked_out"


class Direction(StrEnum):
    ENTRY = "entry"
    EXIT = "exit"
