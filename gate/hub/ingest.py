"""What the hub keeps of a gate's message: pure functions, routing key and body in, a row out.

The routing key is what RabbitMQ authenticated (a gate may write only its own subtree), so the
site and gate come from it and a payload claiming another gate is rejected. Biometric fields
are dropped before anything is stored: the hub keeps who, where and when, never a face.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["event", "alert", "status"]

# Keys that would carry biometric data; removed at any depth of a stored payload. An alert's
# ``snapshot`` is a reference (file name or URL) the site chose to send the police, and stays.
BIOMETRIC_KEYS = frozenset({
    "encoding", "encodings", "embedding", "embeddings", "face_encoding", "descriptor",
    "face", "face_crop", "crop", "crops", "image", "images", "photo", "photos", "jpeg",
    "snapshot_jpeg", "snapshot_b64", "liveness_frames", "landmarks",
})
MAX_ID = 128


class Rejected(ValueError):
    """A message the hub cannot store; the reason is kept in the ``rejected`` table."""


@dataclass(frozen=True)
class Record:
    kind: Kind
    site: str
    gate: str
    id: str
    ts: dt.datetime
    type: str
    payload: dict[str, Any]

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.site, self.gate, self.id)


def strip_biometrics(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: strip_biometrics(v) for k, v in value.items() if k not in BIOMETRIC_KEYS}
    if isinstance(value, list):
        return [strip_biometrics(v) for v in value]
    return value


def parse_ts(value: Any) -> dt.datetime:
    if not isinstance(value, str):
        raise Rejected("ts missing")
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise Rejected(f"ts {value[:40]!r} is not RFC 3339") from None
    if moment.tzinfo is None:
        raise Rejected("ts has no offset")
    return moment


def parse(routing_key: str, body: bytes, root: str = "campus") -> Record | None:
    """The row for one message, or None for what the hub passes on but does not keep
    (guardian and staff notifications, watch lists, acknowledgements)."""
    parts = routing_key.split(".")
    if len(parts) < 4 or parts[0] != root:
        return None
    site, gate, section = parts[1], parts[2], parts[3]
    if section == "status" and len(parts) == 4:
        kind: Kind = "status"
    elif section == "events" and len(parts) == 5:
        kind = "event"
    elif section == "alerts" and len(parts) == 5:
        kind = "alert"
    else:
        return None
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Rejected("not JSON") from None
    if not isinstance(payload, dict):
        raise Rejected("not a JSON object")
    schema = payload.get("schema")
    if not isinstance(schema, str) or not schema.startswith(f"campus-gate/{kind}/"):
        raise Rejected(f"schema {str(schema)[:40]!r} does not fit {kind}")
    for field, expected in (("site", site), ("gate", gate)):
        if payload.get(field, expected) != expected:
            raise Rejected(f"{field} {str(payload.get(field))[:40]!r} differs from the topic")
    ts = parse_ts(payload.get("ts"))
    if kind == "status":
        state = payload.get("state")
        if state not in ("online", "offline"):
            raise Rejected("status state must be online or offline")
        return Record(kind, site, gate, "", ts, str(state), strip_biometrics(payload))
    msg_id = payload.get("id")
    if not isinstance(msg_id, str) or not msg_id or len(msg_id) > MAX_ID:
        raise Rejected("id missing or too long")
    msg_type = payload.get("type")
    if msg_type != parts[4]:
        raise Rejected("type differs from the topic")
    if kind == "alert" and payload.get("severity") not in ("info", "warning", "critical"):
        raise Rejected("severity must be info, warning or critical")
    return Record(kind, site, gate, msg_id, ts, str(msg_type), strip_biometrics(payload))
