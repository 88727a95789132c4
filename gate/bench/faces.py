"""Face benchmarks, each against the plain way of using face_recognition in the same run."""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gate.bench import Figure, percentile, timings_ms
from gate.bench.scenes import PROBES, TRAIN, cut_head, photo, variations, walking_frames
from gate.config import Config, FacesConfig
from gate.faces import pipeline_settings
from recognition.face_engine import (
    Box,
    DlibFaceEngine,
    FaceEngine,
    Vectors,
    import_face_recognition,
)
from recognition.gallery import Gallery
from recognition.pipeline import FacePipeline

PLAIN_TOLERANCE = 0.6  # face_recognition's default
face_recognition = import_face_recognition()


@dataclass
class Accuracy:
    """Counts over a labelled probe set, for our rule and for the plain one."""

    enrolled: int = 0
    identified: int = 0
    wrong: int = 0
    strangers: int = 0
    strangers_accepted: int = 0
    plain_identified: int = 0
    plain_strangers_accepted: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def identification_rate(self) -> float:
        return 100.0 * self.identified / max(1, self.enrolled)

    @property
    def stranger_acceptance(self) -> float:
        return 100.0 * self.strangers_accepted / max(1, self.strangers)


def _plain_match(gallery: Gallery, probe: Vectors) -> str | None:
    """The plain rule: the nearest encoding under 0.6, whoever it is (the nearest encoding
    belongs to the identity with the smallest per-identity distance)."""
    if not gallery.size:
        return None
    d = gallery.identity_distances(probe)
    i = int(np.argmin(d))
    return gallery.identities[i] if d[i] < PLAIN_TOLERANCE else None


def probe_encodings(engine: FaceEngine, quick: bool) -> list[tuple[str, str | None, Vectors]]:
    """(probe name, true label or None for a stranger, encoding) of every labelled probe face.

    Each face is followed through the variation's geometry; a face the detector misses in a
    variation counts as not identified (the gate would not see it either), with an empty vector.
    """
    out: list[tuple[str, str | None, Vectors]] = []
    for rel, labels in PROBES:
        original = photo(rel)
        faces = sorted(engine.detect(original, upsample=1), key=lambda b: b[3])
        assert len(faces) == len(labels), rel
        centres = np.array([[(b[1] + b[3]) / 2, (b[0] + b[2]) / 2, 1.0] for b in faces])
        for name, rgb, where in variations(original, quick):
            boxes = engine.detect(rgb, upsample=1)
            found: list[tuple[str | None, Box]] = []
            for label, (x, y) in zip(labels, centres @ np.asarray(where).T, strict=True):
                hit = [b for b in boxes if b[3] <= x <= b[1] and b[0] <= y <= b[2]]
                if hit:
                    found.append((label, hit[0]))
                else:
                    out.append((f"{rel}:{name}:missed", label, np.zeros(0, np.float32)))
            vectors = engine.encode(rgb, [b for _, b in found])
            out += [(f"{rel}:{name}", label, v)
                    for (label, _), v in zip(found, vectors, strict=True)]
    return out


def train_encodings(engine: FaceEngine) -> list[tuple[str, Vectors]]:
    rows = []
    for person, files in TRAIN.items():
        for rel in files:
            rgb = photo(rel)
            boxes = engine.detect(rgb, upsample=1)
            assert len(boxes) == 1, rel
            rows.append((person, engine.encode(rgb, boxes)[0]))
    return rows


def evaluate(engine: FaceEngine, faces: FacesConfig, quick: bool) -> Accuracy:
    """Identification of enrolled people, and leave-one-person-out acceptance of strangers."""
    train = train_encodings(engine)
    probes = probe_encodings(engine, quick)
    full = Gallery([p for p, _ in train], np.stack([v for _, v in train]))
    acc = Accuracy()

    def run(gallery: Gallery, name: str, truth: str | None, vec: Vectors) -> None:
        enrolled = truth is not None and truth in gallery.identities
        if enrolled:
            acc.enrolled += 1
        else:
            acc.strangers += 1
        if vec.size == 0:
            if enrolled:
                acc.misses.append(name)
            return
        got = gallery.identify(vec, faces.identify_threshold, faces.identify_margin).person_id
        plain = _plain_match(gallery, vec)
        if enrolled:
            acc.identified += got == truth
            acc.wrong += got is not None and got != truth
            acc.plain_identified += plain == truth
            if got != truth:
                acc.misses.append(name)
        else:
            acc.strangers_accepted += got is not None
            acc.plain_strangers_accepted += plain is not None

    for name, truth, vec in probes:
        run(full, name, truth, vec)
    for left_out in TRAIN:  # everybody once as a never-enrolled person
        rest = [(p, v) for p, v in train if p != left_out]
        gallery = Gallery([p for p, _ in rest], np.stack([v for _, v in rest]))
        for name, truth, vec in probes:
            if truth == left_out:
                run(gallery, name, None, vec)
        for person, vec in train:
            if person == left_out:
                run(gallery, f"train:{person}", None, vec)
    return acc


def _search_figures(quick: bool, faces: FacesConfig) -> list[Figure]:
    rng = np.random.default_rng(1)
    n = 50_000
    matrix = rng.normal(0, 0.09, (n, 128)).astype(np.float32)
    labels = [f"P{i:05d}" for i in range(n)]
    gallery = Gallery(labels, matrix)
    probes = matrix[rng.integers(0, n, 200)] + rng.normal(0, 0.02, (200, 128)).astype(np.float32)
    it = iter(np.tile(probes, (10, 1)))
    ours = timings_ms(lambda: gallery.identify(next(it), faces.identify_threshold,
                                               faces.identify_margin),
                      repeat=300 if quick else 1000, warmup=10)
    as_list = list(matrix.astype(np.float64))
    plain = timings_ms(lambda: face_recognition.compare_faces(as_list, probes[0]),
                       repeat=10 if quick else 30)
    return [Figure("faces.search_50k_p99_ms", percentile(ours, 99), "ms",
                   percentile(plain, 99)),
            Figure("faces.search_50k_p50_ms", statistics.median(ours), "ms",
                   statistics.median(plain))]


def _frame_figures(engine: DlibFaceEngine, quick: bool, faces: FacesConfig) -> list[Figure]:
    rgb = photo("obama-720p.jpg")
    assert rgb.shape[:2] == (720, 1280)
    gallery = Gallery.from_rows([])
    settings = pipeline_settings(Config(faces=faces))
    found: list[int] = []

    def ours() -> None:
        sightings = FacePipeline(engine, gallery, settings).process(rgb, 0.0)  # a new track
        found.append(sum(s.encoded_now for s in sightings))

    def plain() -> None:
        boxes = face_recognition.face_locations(rgb)
        face_recognition.face_encodings(rgb, boxes)

    n = 5 if quick else 15
    t_ours = statistics.median(timings_ms(ours, n))
    t_plain = statistics.median(timings_ms(plain, 3 if quick else 7))
    if not all(found):
        raise RuntimeError("the pipeline missed the face in obama-720p.jpg")
    return [Figure("faces.frame_720p_ms", t_ours, "ms", t_plain)]


def _stream_figures(engine: DlibFaceEngine, quick: bool, faces: FacesConfig) -> list[Figure]:
    heads = [cut_head(engine, "test/obama1.jpg", "obama"),
             cut_head(engine, "test/johnsnow_test1.jpg", "kit_harington"),
             cut_head(engine, "test/alex_lacamoire1.jpg", "alex_lacamoire")]
    n = 50 if quick else 150  # 2 or 6 seconds of a 25 fps stream
    frames = [f for k in (1, 2, 3) for f in walking_frames(heads[:k], n // 3)]
    train = train_encodings(engine)
    gallery = Gallery([p for p, _ in train], np.stack([v for _, v in train]))
    settings = pipeline_settings(Config(faces=faces))
    pipeline = FacePipeline(engine, gallery, settings)
    start = time.perf_counter()
    for i, frame in enumerate(frames):
        pipeline.process(frame, i / 25)
    ours_ms = (time.perf_counter() - start) * 1000 / len(frames)
    sample = frames[:: max(1, len(frames) // (3 if quick else 6))]
    start = time.perf_counter()
    for frame in sample:
        face_recognition.face_encodings(frame, face_recognition.face_locations(frame))
    plain_ms = (time.perf_counter() - start) * 1000 / len(sample)
    # One process is one core (dlib is single-threaded here): fps per core = 1000 / ms.
    return [Figure("faces.stream_720p_ms_per_frame", ours_ms, "ms", plain_ms),
            Figure("faces.stream_720p_fps_per_core", 1000 / ours_ms, "fps"),
            Figure("faces.stream_encodes_per_frame", pipeline.encodes / len(frames), "encodes")]


def split_dir(source: Path, target: Path, enrolled: int, strangers: int,
              max_other: int | None = None) -> Path:
    """A ``gate faces evaluate`` folder from a development set: the first ``enrolled``
    identities (sorted) stay known, the next ``strangers`` identities and the set's own
    strangers/ become never-enrolled people (symbolic links: no photo is copied)."""
    people = sorted(d for d in (source / "known").iterdir() if d.is_dir())
    (target / "known").mkdir(parents=True)
    (target / "strangers").mkdir()
    for person in people[:enrolled]:
        (target / "known" / person.name).symlink_to(person)
    others = [p for d in people[enrolled:enrolled + strangers] for p in sorted(d.iterdir())]
    if (source / "strangers").is_dir():
        others += sorted((source / "strangers").iterdir())[:max_other]
    for i, picture in enumerate(others):
        (target / "strangers" / f"{i:04d}{picture.suffix}").symlink_to(picture)
    return target


def real_accuracy(faces: FacesConfig, quick: bool) -> list[Figure]:
    """Identification and stranger acceptance on the development photos, when present; the
    baseline is the plain rule (nearest encoding under 0.6) on the same encodings."""
    from gate.bench.devdata import dev_set
    from gate.evaluate_faces import decide, run

    source = dev_set("faces_dev")
    if source is None:
        return []
    with tempfile.TemporaryDirectory() as tmp:
        folder = split_dir(source, Path(tmp) / "split", 4 if quick else 10, 2 if quick else 10,
                           10 if quick else None)
        rows, summary = run(folder, faces)
    probes = [r for r in rows if r.role == "probe"]
    strangers = [r for r in rows if r.role == "stranger"]
    plain_ident = sum(decide(r, PLAIN_TOLERANCE, 0.0) == r.truth for r in probes)
    plain_acc = sum(decide(r, PLAIN_TOLERANCE, 0.0) is not None for r in strangers)
    return [
        Figure("faces.real_identified_pct", 100.0 * summary["identified"], "%",
               100.0 * plain_ident / max(1, len(probes))),
        Figure("faces.real_strangers_accepted_pct", 100.0 * summary["strangers_accepted"], "%",
               100.0 * plain_acc / max(1, len(strangers))),
    ]


def run(quick: bool) -> list[Figure]:
    faces = FacesConfig()
    engine = DlibFaceEngine()
    figures = _search_figures(quick, faces)
    figures += _frame_figures(engine, quick, faces)
    figures += _stream_figures(engine, quick, faces)
    figures += real_accuracy(faces, quick)  # never accuracy from generated variations alone
    return figures
