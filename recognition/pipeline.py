"""The per-frame face pipeline, tuned for a 2-core gate computer.

Full-frame HOG detection on 720p costs 330-570 ms and an encoding 80 ms
(MEASUREMENTS.md). So: detect on a downscaled region of interest, drop faces
that are too small or blurred, track faces across frames, and encode a track
only when it is new or due for a refresh with a better view. Most frames then
cost one small detection and no encoding.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from recognition.face_engine import Box, FaceEngine, Image
from recognition.gallery import Gallery, Identification, scaled_threshold
from recognition.liveness import Scorer, TrackLiveness, liveness_score
from recognition.quality import box_size, quality_weight, sharpness
from recognition.tracking import Tracker


@dataclass(frozen=True)
class PipelineSettings:
    detect_scale: float = 0.4
    roi: tuple[int, int, int, int] | None = None  # x, y, width, height
    min_face_px: int = 60
    min_sharpness: float = 15.0
    refresh_frames: int = 15  # re-encode a track this often if the view got better
    max_encodes_per_frame: int = 2
    identify_threshold: float = 0.53  # for a gallery of up to 10 people ...
    identify_margin: float = 0.04
    identify_threshold_per_decade: float = 0.05  # ... this much stricter per tenfold more
    liveness: bool = False  # score each new track's liveness (lanes with liveness != "off")
    liveness_frames: int = 3  # fused over this many first frames of a track
    # a live camera (recognition/worker.py) with no track and no motion detects this often
    idle_detect_seconds: float = 1.0

    def threshold_for(self, gallery: Gallery) -> float:
        return scaled_threshold(self.identify_threshold, len(gallery),
                                self.identify_threshold_per_decade)


@dataclass(frozen=True)
class FaceSighting:
    """A tracked face in one frame; carries the track's template so a card tap needs no encoding."""

    track_id: int
    box: Box
    ts: float
    person_id: str | None
    distance: float | None
    encoded_now: bool
    template: npt.NDArray[np.float32] | None
    size: int
    sharpness: float
    liveness: float | None = None  # probability the face is live, None: not checked (yet)


class FacePipeline:
    def __init__(self, engine: FaceEngine, gallery: Gallery,
                 settings: PipelineSettings = PipelineSettings(),
                 liveness_scorer: Scorer | None = None) -> None:
        self.engine = engine
        self.gallery = gallery
        self.settings = settings
        self.tracker = Tracker()
        self.frame_no = 0
        self.encodes = 0
        self._identity: dict[int, Identification] = {}
        self._scorer: Scorer = liveness_scorer or liveness_score
        self._liveness: dict[int, TrackLiveness] = {}

    def detect(self, rgb: Image) -> list[Box]:
        """Faces in full-frame coordinates, found on the scaled-down region of interest."""
        s = self.settings
        x0, y0 = 0, 0
        region = rgb
        if s.roi is not None:
            x0, y0, w, h = s.roi
            region = rgb[y0:y0 + h, x0:x0 + w]
        small = region
        if s.detect_scale < 1.0:
            small = cv2.resize(region, None, fx=s.detect_scale, fy=s.detect_scale,
                               interpolation=cv2.INTER_AREA)
        f = 1.0 / s.detect_scale
        boxes = []
        for top, right, bottom, left in self.engine.detect(np.ascontiguousarray(small)):
            boxes.append((int(top * f) + y0, int(right * f) + x0, int(bottom * f) + y0,
                          int(left * f) + x0))
        return boxes

    def process(self, rgb: Image, ts: float) -> list[FaceSighting]:
        s = self.settings
        self.frame_no += 1
        faces = []
        for box in self.detect(rgb):
            size = box_size(box)
            if size < s.min_face_px:
                continue
            sharp = sharpness(rgb, box)
            if sharp < s.min_sharpness:
                continue
            faces.append((box, size, sharp))
        tracks = self.tracker.update([f[0] for f in faces], ts)
        due = []
        for (box, size, sharp), track in zip(faces, tracks, strict=True):
            weight = quality_weight(size, sharp)
            new = track.encodings == 0
            refresh = (self.frame_no - track.last_encoded_frame >= s.refresh_frames
                       and weight > track.best_weight * 1.1)
            if new or refresh:
                due.append((weight, track, box))
        due.sort(key=lambda d: (d[1].encodings, -d[0]))  # new tracks first, then best views
        due = due[:s.max_encodes_per_frame]
        encoded_now = set()
        if due:
            vectors = self.engine.encode(rgb, [d[2] for d in due])
            for (weight, track, _box), vec in zip(due, vectors, strict=True):
                track.add_encoding(vec, weight)
                track.last_encoded_frame = self.frame_no
                self.encodes += 1
                template = track.template
                assert template is not None
                self._identity[track.id] = self.gallery.identify(
                    template, s.threshold_for(self.gallery), s.identify_margin)
                encoded_now.add(track.id)
        for stale in set(self._identity) - set(self.tracker.tracks):
            del self._identity[stale]
        for stale in set(self._liveness) - set(self.tracker.tracks):
            del self._liveness[stale]
        out = []
        for (box, size, sharp), track in zip(faces, tracks, strict=True):
            ident = self._identity.get(track.id)
            live = None
            if s.liveness:
                live = self._liveness.setdefault(
                    track.id, TrackLiveness(self._scorer, s.liveness_frames)).add(rgb, box)
            out.append(FaceSighting(
                track_id=track.id, box=box, ts=ts,
                person_id=ident.person_id if ident else None,
                distance=ident.distance if ident else None,
                encoded_now=track.id in encoded_now, template=track.template,
                size=size, sharpness=sharp, liveness=live))
        return out

    def set_gallery(self, gallery: Gallery) -> None:
        self.gallery = gallery
        self._identity.clear()
        for track in self.tracker.tracks.values():
            template = track.template
            if template is not None:
                self._identity[track.id] = gallery.identify(
                    template, self.settings.threshold_for(gallery), self.settings.identify_margin)
