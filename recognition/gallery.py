"""Face galleries: 1:N identification and 1:1 verification over one float32 matrix.

Plain "nearest encoding under 0.6" accepts about half of never-enrolled
people as somebody once a few dozen are enrolled (MEASUREMENTS.md). So 1:N
scores each *identity* by its closest encoding, demands a stricter threshold
than 1:1 (stricter still as the gallery grows: every enrolled person is one
more chance for a stranger to look alike), and demands a margin over the
second-best identity. Every answer carries its distances, so thresholds can
be tuned per site (``gate faces evaluate``).

Search speed: over 50,000 encodings the search is one matrix-vector product
that reads 25 MB, so it is bound by memory, not arithmetic. Multi-threaded
BLAS only adds tail latency there (p99 8 ms against 0.7 ms single-threaded on
a loaded 2-core machine), and fresh temporaries per call add page faults: the
gallery keeps per-thread buffers and runs BLAS on one thread.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from recognition.face_engine import Vectors

_blas_limited = False


def _one_blas_thread() -> None:
    """BLAS on one thread for this process (see the module docstring); once."""
    global _blas_limited
    if _blas_limited:
        return
    _blas_limited = True
    try:
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - a dependency; searches stay correct without it
        return
    threadpool_limits(limits=1, user_api="blas")


def scaled_threshold(base: float, identities: int, per_decade: float, reference: int = 10
                     ) -> float:
    """The 1:N threshold for a gallery of ``identities`` people.

    ``base`` holds for ``reference`` people; each tenfold more people takes ``per_decade``
    off (a stranger gets one more chance to look like somebody per enrolled person)."""
    if identities <= reference or per_decade <= 0:
        return base
    return base - per_decade * math.log10(identities / reference)


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


class _Buffers(threading.local):
    dots: npt.NDArray[np.float32] | None = None
    scores: npt.NDArray[np.float32] | None = None


class Gallery:
    """Immutable: the service swaps in a new gallery when enrolments change."""

    def __init__(self, labels: Sequence[str], encodings: Vectors) -> None:
        if len(labels) != len(encodings):
            raise ValueError("one label per encoding")
        _one_blas_thread()
        order = np.argsort(np.asarray(labels, dtype=object), kind="stable")
        sorted_labels = [labels[i] for i in order]
        matrix = np.asarray(encodings, dtype=np.float32)
        self.matrix: Vectors = np.ascontiguousarray(
            matrix.reshape(len(labels), matrix.shape[-1] if matrix.ndim > 1 else -1)[order])
        self._sqnorm = np.ascontiguousarray(np.einsum("ij,ij->i", self.matrix, self.matrix),
                                            dtype=np.float32)
        self.identities: list[str] = []
        starts: list[int] = []
        for i, label in enumerate(sorted_labels):
            if not self.identities or self.identities[-1] != label:
                self.identities.append(label)
                starts.append(i)
        self._starts = np.asarray(starts, dtype=np.intp)
        self._one_row_each = len(starts) == len(sorted_labels)
        ends = [*starts[1:], len(sorted_labels)] if starts else []
        self._rows = {p: (s, e) for p, s, e in zip(self.identities, starts, ends, strict=True)}
        self._buffers = _Buffers()

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

    def photos_per_identity(self) -> float:
        return self.size / max(1, len(self.identities))

    def _squared_scores(self, probe: Vectors) -> tuple[npt.NDArray[np.float32], float]:
        """Per identity, the smallest ``|row|^2 - 2 row.p`` (add ``|p|^2`` for the squared
        distance), in this thread's buffers: no allocation proportional to the gallery."""
        b = self._buffers
        if b.dots is None:
            b.dots = np.empty(self.size, dtype=np.float32)
            b.scores = np.empty(len(self.identities), dtype=np.float32)
        dots = b.dots
        p = np.asarray(probe, dtype=np.float32)
        np.matmul(self.matrix, p, out=dots)
        dots *= -2.0
        dots += self._sqnorm
        pp = float(np.dot(p, p))
        if self._one_row_each:
            return dots, pp
        scores = b.scores
        assert scores is not None
        np.minimum.reduceat(dots, self._starts, out=scores)
        return scores, pp

    def distances(self, probe: Vectors) -> npt.NDArray[np.float32]:
        """Euclidean distance to every stored encoding (a new array: for tools, not the gate)."""
        p = np.asarray(probe, dtype=np.float32)
        sq = self._sqnorm - 2.0 * (self.matrix @ p) + float(p @ p)
        out: npt.NDArray[np.float32] = np.sqrt(np.maximum(sq, 0.0))
        return out

    def identity_distances(self, probe: Vectors) -> npt.NDArray[np.float32]:
        """Per identity, the distance of its closest encoding (order of ``identities``)."""
        scores, pp = self._squared_scores(probe)
        out: npt.NDArray[np.float32] = np.sqrt(np.maximum(scores + pp, 0.0))
        return out

    def top(self, probe: Vectors, k: int = 3) -> tuple[Candidate, ...]:
        if not self.identities:
            return ()
        scores, pp = self._squared_scores(probe)
        k = min(k, len(scores))
        picked: list[tuple[int, float]] = []
        for _ in range(k):  # k passes of argmin: no sort, no index array of the gallery's size
            i = int(np.argmin(scores))
            picked.append((i, float(scores[i])))
            scores[i] = np.inf
        for i, value in picked:  # restore (``dots`` is rebuilt per call, but scores may be it)
            scores[i] = value
        return tuple(Candidate(self.identities[i], math.sqrt(max(value + pp, 0.0)))
                     for i, value in picked)

    def identify(self, probe: Vectors, threshold: float, margin: float, k: int = 3
                 ) -> Identification:
        candidates = self.top(probe, max(k, 2))
        if not candidates:
            return Identification(None, None, (), "gallery empty")
        best = candidates[0]
        if best.distance >= threshold:
            return Identification(None, best.distance, candidates[:k],
                                  f"nearest {best.distance:.3f} >= threshold {threshold:.3f}")
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
