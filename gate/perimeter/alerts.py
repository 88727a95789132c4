"""The records perimeter workers send to the service: plain, picklable dataclasses."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

from gate import vocab
from gate.records import Alert, new_id, rfc3339

AlertType = Literal["loitering", "circling_vehicle", "intrusion", "watchlist_face",
                    "watchlist_plate"]
ObjectKind = Literal["person", "vehicle", "two_wheeler"]
Severity = Literal["info", "warning", "critical"]
SEVERITY: dict[str, Severity] = {"loitering": "warning", "circling_vehicle": "warning",
                                 "intrusion": "critical", "watchlist_face": "critical",
                                 "watchlist_plate": "critical"}


@dataclass(frozen=True)
class PerimeterAlert:
    """One incident. Updates of the same incident keep ``id`` and raise ``revision``, so the
    journal can replace the row (and the police see one alert whose dwell grows), not a flood.

    ``rule`` says which rule fired: ``loiter``, ``revisits``, ``no_stopping``, ``armed``,
    ``track_reentry``, ``plate_passes`` or ``watchlist``. ``path`` is the track's ground
    points (frame pixels), oldest first; ``snapshot_jpeg`` is the frame with the zone and that
    path drawn.
    """

    type: AlertType
    rule: str
    ts: dt.datetime
    first_ts: dt.datetime
    dwell_s: float
    camera: str | None = None
    zone: str | None = None
    track: int | None = None
    object: ObjectKind | None = None
    plate: str | None = None
    cameras: tuple[str, ...] = ()
    passes: int | None = None
    watch_id: str | None = None  # watchlist_face: the watch-list entry that matched
    revision: int = 0
    final: bool = False
    path: tuple[tuple[float, float], ...] = ()
    snapshot_jpeg: bytes | None = field(default=None, repr=False)
    id: str = field(default_factory=new_id)

    @property
    def severity(self) -> Severity:
        return SEVERITY[self.type]

    def details(self) -> dict[str, Any]:
        """The alert's own fields for a journal row or a payload (no image bytes)."""
        out: dict[str, Any] = {"rule": self.rule, "camera": self.camera, "zone": self.zone,
                               "track": self.track, "object": self.object,
                               "dwell_s": round(self.dwell_s, 1),
                               "first_ts": rfc3339(self.first_ts), "revision": self.revision,
                               "final": self.final}
        if self.plate is not None:
            out.update(plate=self.plate, cameras=list(self.cameras), passes=self.passes)
        if self.watch_id is not None:
            out["watch_id"] = self.watch_id
        return out

    def to_json(self) -> dict[str, Any]:
        """The ``gate perimeter analyse --json`` line."""
        return {"type": self.type, "id": self.id, "ts": rfc3339(self.ts),
                "severity": self.severity, **self.details(),
                "snapshot_bytes": len(self.snapshot_jpeg or b"")}

    def to_record(self, snapshot: str | None = None) -> Alert:
        """A ``gate.records.Alert`` for the journal; ``snapshot`` is where the JPEG was stored."""
        return Alert(type=vocab.AlertType(self.type), severity=vocab.Severity(self.severity),
                     ts=self.ts, snapshot=snapshot, details=self.details(), id=self.id)


@dataclass(frozen=True)
class TrackSummary:
    """A finished track (``analyse --tracks``): ``dwell_s`` is seconds spent in each zone."""

    camera: str
    track: int
    object: ObjectKind
    first_ts: dt.datetime
    last_ts: dt.datetime
    zones: tuple[str, ...]
    dwell_s: dict[str, float]

    def to_json(self) -> dict[str, Any]:
        return {"track": self.track, "class": self.object, "camera": self.camera,
                "first_ts": rfc3339(self.first_ts), "last_ts": rfc3339(self.last_ts),
                "zones": list(self.zones),
                "dwell_s": {k: round(v, 1) for k, v in self.dwell_s.items()}}


@dataclass(frozen=True)
class PerimeterHealth:
    """What a worker reports every few seconds: a perimeter camera that cannot keep up drops
    frames (``camera_fps`` minus ``processed_fps``) rather than falling behind."""

    camera: str
    connected: bool
    camera_fps: float
    processed_fps: float
    detect_fps: float  # frames that motion gating let through to the detector
    dropped: int
    live_tracks: int
    nice: int  # the worker's scheduling niceness (above 0: below the gate lane)
    last_error: str | None = None
    ended: bool = False  # the source was a video file and it played to its end
