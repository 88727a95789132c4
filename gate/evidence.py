"""What the lane cameras saw in the last few seconds, for the engine to correlate with card taps.

Recognition workers deliver sightings continuously; the engine asks "which face
was at this reader when the card was tapped?" and, when none was encoded yet
(the cold case), waits briefly for the worker to deliver one.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from dataclasses import replace

from gate.rules import TrackSeen
from gate.snapshots import Shot
from recognition.pipeline import FaceSighting
from recognition.worker import Sightings


class FaceEvidence:
    def __init__(self, horizon_s: float = 15.0) -> None:
        self.horizon_s = horizon_s
        self._frames: dict[str, deque[Sightings]] = {}
        self._cond = threading.Condition()
        # The evidence JPEGs of each track's latest encoding (the frame its template is from).
        self._shots: OrderedDict[tuple[str, int], Shot] = OrderedDict()

    def add(self, sightings: Sightings) -> None:
        shots = [(t, Shot(sightings.scene_jpeg, jpeg, sightings.camera_id, "face",
                          sightings.ts)) for t, jpeg in sightings.crops]
        with self._cond:
            for track_id, shot in shots:
                self._shots[(sightings.camera_id, track_id)] = shot
                self._shots.move_to_end((sightings.camera_id, track_id))
            while len(self._shots) > 512:
                self._shots.popitem(last=False)
            frames = self._frames.setdefault(sightings.camera_id, deque())
            frames.append(sightings)
            while frames and sightings.ts - frames[0].ts > self.horizon_s:
                frames.popleft()
            self._cond.notify_all()

    def forget(self, person_id: str) -> int:
        """An erased person's recent sightings and their evidence JPEGs leave memory now, not
        when they age out; returns how many faces went."""
        gone = 0
        with self._cond:
            for camera, frames in self._frames.items():
                kept: deque[Sightings] = deque()
                for frame in frames:
                    tracks = {f.track_id for f in frame.faces if f.person_id == person_id}
                    if tracks:
                        gone += len(tracks)
                        for track in tracks:
                            self._shots.pop((camera, track), None)
                        frame = without_tracks(frame, tracks)
                    kept.append(frame)
                self._frames[camera] = kept
        return gone

    def face_at_reader(self, camera: str, since: float) -> FaceSighting | None:
        """The face closest to the camera (largest) in the newest frame since ``since`` that
        shows an encoded face."""
        with self._cond:
            for frame in reversed(self._frames.get(camera, ())):
                if frame.ts < since:
                    return None
                faces = [f for f in frame.faces if f.template is not None]
                if faces:
                    return max(faces, key=lambda f: f.size)
        return None

    def wait_face(self, camera: str, since: float, timeout: float) -> FaceSighting | None:
        """The cold path: wait up to ``timeout`` for an encoded face to arrive."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                face = self.face_at_reader(camera, since)
                remaining = deadline - time.monotonic()
                if face is not None or remaining <= 0:
                    return face
                self._cond.wait(remaining)

    def tracks_between(self, camera: str, start: float, end: float) -> list[TrackSeen]:
        """Each face track the camera saw between ``start`` and ``end``: its frames, its
        identity and its latest template, for the tailgating rule to tell people apart
        (rules.people_crossing)."""
        seen: dict[int, TrackSeen] = {}
        with self._cond:
            frames = [f for f in self._frames.get(camera, ()) if start <= f.ts <= end]
        for frame in frames:
            for face in frame.faces:
                old = seen.get(face.track_id)
                template = (tuple(float(x) for x in face.template)
                            if face.template is not None else old.template if old else None)
                seen[face.track_id] = TrackSeen(
                    face.track_id, old.first if old else frame.ts, frame.ts,
                    (old.frames if old else 0) + 1,
                    face.person_id or (old.person_id if old else None), template)
        return list(seen.values())

    def last_seen(self, camera: str) -> float | None:
        with self._cond:
            frames = self._frames.get(camera)
            return frames[-1].ts if frames else None

    def shot_for(self, camera: str, track_id: int) -> Shot | None:
        """The JPEGs of the frame this track's template was last encoded from."""
        with self._cond:
            return self._shots.get((camera, track_id))

    def latest_shot(self, camera: str, since: float) -> Shot | None:
        """The newest evidence of a camera since ``since`` (an alert with no face of its own:
        tailgating, an unknown card at a camera lane)."""
        with self._cond:
            for (cam, _track), shot in reversed(self._shots.items()):
                if cam == camera and shot.ts >= since:
                    return shot
        return None


def without_tracks(sightings: Sightings, tracks: set[int]) -> Sightings:
    """The same frame without these face tracks and their crops (the scene JPEG goes too when
    it would show nobody else: it was taken for them)."""
    faces = tuple(f for f in sightings.faces if f.track_id not in tracks)
    crops = tuple(c for c in sightings.crops if c[0] not in tracks)
    return replace(sightings, faces=faces, crops=crops,
                   scene_jpeg=sightings.scene_jpeg if crops else None)
