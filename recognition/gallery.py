"""Face galleries: 1:N identification and 1:1 verification over one float32 matrix.

Plain "nearest encoding under 0.6" accepts about half of never-enrolled
people as somebody once a few dozen are enrolled (MEASUREMENTS.md). So 1:N
scores each *identity* by its closest encoding, demands a stricter threshold
than 1:1, and demands a margin over the second-best identity. Every answer
carries its distances, so thresholds can be tuned per site.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from recognition.face_engine import Vectors


@dataclass(frozen=True)
class Candidate:
    person_id: str
    distance: float


@dataclass(frozen=True)
class Identification:
    """The decision and the evidence: the best identities with their distances."""

    person_id: str | None
    distance: float | None
    candidates: tuple[Candidate, ...]
    reason: str

    @property
    def accepted(self) -> bool:
        return self.person_id is not None


@dataclass(frozen=True)
class Verification:
    match: bool
    distance: float | None
    enrolled: bool


class Gallery:
    """Immutable: the service swaps in a new gallery when enrolments change."""

    def __init__(self, labels: Sequence[str], encodings: Vectors) -> None:
        if len(labels) != len(encodings):
            raise ValueError("one label per encoding")
        order = np.argsort(np.asarray(labels, dtype=object), kind="stable")
        sorted_labels = [labels[i] for i in order]
        matrix = np.asarray(encodings, dtype=np.float32)
        self.matrix: Vectors = np.ascontiguousarray(
            matrix.reshape(len(labels), matrix.shape[-1] if matrix.ndim > 1 else -1)[order])
        self._sqnorm = np.einsum("ij,ij->i", self.matrix, self.matrix)
        self.identities: list[str] = []
        starts: list[int] = []
        for i, label in enumerate(sorted_labels):
            if not self.identities or self.identities[-1] != label:
                self.identities.append(label)
                starts.append(i)
        self._starts = np.asarray(starts, dtype=np.intp)
        ends = [*starts[1:], len(sorted_labels)] if starts else []
        self._rows = {p: (s, e) for p, s, e in zip(self.identities, starts, ends, strict=True)}

    @classmethod
    def from_rows(cls, rows: Sequence[tuple[str, bytes]]) -> Gallery:
        if not rows:
            return cls([], np.empty((0, 128), dtype=np.float32))
        labels = [r[0] for r in rows]
        return cls(labels, np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows]))

    def __len__(self) -> int:
        return len(self.identities)

    @property
    def size(self) -> int:
        return int(self.matrix.shape[0])

    def distances(self, probe: Vectors) -> npt.NDArray[np.float32]:
        """Euclidean distance to every stored encoding (one matrix-vector product)."""
        p = np.asarray(probe, dtype=np.float32)
        sq = self._sqnorm - 2.0 * (self.matrix @ p) + float(p @ p)
        out: npt.NDArray[np.float32] = np.sqrt(np.maximum(sq, 0.0))
        return out

    def identity_distances(self, probe: Vectors) -> npt.NDArray[np.float32]:
        """Per identity, the distance of its closest encoding (order of ``identities``)."""
        scores: npt.NDArray[np.float32] = np.minimum.reduceat(self.distances(probe), self._starts)
        return scores

    def top(self, probe: Vectors, k: int = 3) -> tuple[Candidate, ...]:
        if not self.identities:
            return ()
        scores = self.identity_distances(probe)
        k = min(k, len(scores))
        best = np.argpartition(scores, k - 1)[:k]
        best = best[np.argsort(scores[best])]
        return tuple(Candidate(self.identities[i], float(scores[i])) for i in best)

    def identify(self, probe: Vectors, threshold: float, margin: float, k: int = 3
                 ) -> Identification:
        candidates = self.top(probe, max(k, 2))
        if not candidates:
            return Identification(None, None, (), "gallery empty")
        best = candidates[0]
        if best.distance >= threshold:
            return Identification(None, best.distance, candidates[:k],
                                  f"nearest {best.distance:.3f} >= threshold {threshold}")
        if len(candidates) > 1 and candidates[1].distance - best.distance < margin:
            return Identification(None, best.distance, candidates[:k],
                                  f"ambiguous: {candidates[1].person_id} only "
                                  f"{candidates[1].distance - best.distance:.3f} further")
        return Identification(best.person_id, best.distance, candidates[:k], "match")

    def verify(self, person_id: str, probe: Vectors, threshold: float) -> Verification:
        """1:1: is this the face of the card's holder?"""
        rows = self._rows.get(person_id)
        if rows is None:
            return Verification(False, None, enrolled=False)
        start, end = rows
        p = np.asarray(probe, dtype=np.float32)
        sub = self.matrix[start:end]
        sq = self._sqnorm[start:end] - 2.0 * (sub @ p) + float(p @ p)
        distance = float(np.sqrt(max(float(sq.min()), 0.0)))
        return Verification(distance < threshold, distance, enrolled=True)
