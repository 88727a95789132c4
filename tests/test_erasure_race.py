"""Erasure against the running gate: the camera still sees the pupil while the admin erases
them, and from the moment the erasure returns nothing is stored under their id, in the
service or from the recognition worker's sightings in flight."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gate.bench.scenes import FACES, cut_head, walking_frames
from recognition.face_engine import DlibFaceEngine
from recognition.worker import Sightings
from tests.ptys import wait_for
from tests.scenario import running_gate
from tests.test_camera import write_video

pytestmark = pytest.mark.slow


def _rows_with(store: object, person: str) -> dict[str, int]:
    q = store.query  # type: ignore[attr-defined]
    like = f"%{person}%"
    return {
        "events": q("SELECT COUNT(*) FROM events WHERE person_id = ? OR details LIKE ?",
                    (person, like))[0][0],
        "alerts": q("SELECT COUNT(*) FROM alerts WHERE person_id = ? OR details LIKE ?",
                    (person, like))[0][0],
        "snapshots": q("SELECT COUNT(*) FROM snapshots WHERE person_id = ?", (person,))[0][0],
        "encodings": q("SELECT COUNT(*) FROM face_encodings WHERE person_id = ?",
                       (person,))[0][0],
    }


def test_erasure_stops_capture_before_it_deletes(tmp_path: Path) -> None:
    obama = cut_head(DlibFaceEngine(), "test/obama1.jpg", "obama")
    video = write_video(tmp_path / "obama.avi", list(walking_frames([obama], 60)))
    with running_gate(tmp_path, FACES, video, evidence={"enabled": True}) as gate:
        service, store = gate.service, gate.service.store
        # the camera knows him: his face is seen and stored, with its snapshot
        wait_for(lambda: _rows_with(store, "obama")["events"] >= 1
                 and _rows_with(store, "obama")["snapshots"] >= 1, timeout=120,
                 what="obama's face seen and stored")
        result = service.erase_person("obama", "admin", "the parents asked")
        returned = time.monotonic()
        assert result["capture_stopped"]["workers_confirmed"] is True
        assert _rows_with(store, "obama") == {"events": 0, "alerts": 0, "snapshots": 0,
                                              "encodings": 0}
        # the camera goes on seeing the same face: now nobody's, in the worker too
        wait_for(lambda: (f := service.engine.evidence.face_at_reader("gate-cam", returned))
                 is not None and f.template is not None, timeout=60,
                 what="the same face delivered after the erasure")
        seen = service.engine.evidence.face_at_reader("gate-cam", returned)
        assert seen is not None and seen.person_id is None
        # sixty more frames with his face (more than two passes of the clip, new tracks and
        # encodings): every one is nobody's
        frames: list[Sightings] = []
        evidence = service.engine.evidence
        add = evidence.add

        def counted(sightings: Sightings) -> None:
            if any(f.template is not None for f in sightings.faces):
                frames.append(sightings)
            add(sightings)

        evidence.add = counted  # type: ignore[method-assign]
        wait_for(lambda: len(frames) >= 60, timeout=120, what="sixty more frames of the face")
        assert all(f.person_id is None for s in frames for f in s.faces)
        service.snapshots.drain()
        assert _rows_with(store, "obama") == {"events": 0, "alerts": 0, "snapshots": 0,
                                              "encodings": 0}
        indexed = {r[0] for r in store.query("SELECT id FROM snapshots")}
        on_disk = {p.name.split(".")[0] for p in service.snapshots.snapshots.root.rglob("*")
                   if p.is_file()}
        assert on_disk <= indexed, "a snapshot file left without its index row"
        audit = [r[0] for r in store.query("SELECT action FROM audit_log WHERE target = ?"
                                           " ORDER BY id", ("obama",))]
        assert audit[-2:] == ["person_erased", "erasure_reason"]
